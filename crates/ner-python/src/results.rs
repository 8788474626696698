//! What Python receives: entities, tokens and n-best labelings, as `POST /ner` returns them.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// An entity: `text` is exactly `the_text[start:end]`; `score` is the CRF's probability that
/// exactly these words carry this label.
#[pyclass(frozen, eq, module = "bilstm_crf_ner", get_all)]
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub text: String,
    pub label: String,
    pub start: usize,
    pub end: usize,
    pub score: f64,
}

#[pymethods]
impl Entity {
    /// The entity as the server's JSON has it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("text", &self.text)?;
        d.set_item("label", &self.label)?;
        d.set_item("start", self.start)?;
        d.set_item("end", self.end)?;
        d.set_item("score", self.score)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Entity(text={:?}, label={:?}, start={}, end={}, score={:.4})",
            self.text, self.label, self.start, self.end, self.score
        )
    }
}

impl From<ner_core::document::Entity> for Entity {
    fn from(e: ner_core::document::Entity) -> Self {
        Entity {
            text: e.text,
            label: e.label,
            start: e.start,
            end: e.end,
            score: e.score,
        }
    }
}

/// A word with its tag and the tag's probability.
#[pyclass(frozen, eq, module = "bilstm_crf_ner", get_all)]
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub tag: String,
    pub score: f64,
}

#[pymethods]
impl Token {
    fn __repr__(&self) -> String {
        format!(
            "Token(text={:?}, start={}, end={}, tag={:?}, score={:.4})",
            self.text, self.start, self.end, self.tag, self.score
        )
    }
}

/// One labeling of a sentence (a tag per token) and its probability.
#[pyclass(frozen, eq, module = "bilstm_crf_ner", get_all)]
#[derive(Debug, Clone, PartialEq)]
pub struct Labeling {
    pub tags: Vec<String>,
    pub probability: f64,
}

#[pymethods]
impl Labeling {
    fn __repr__(&self) -> String {
        format!(
            "Labeling(tags={:?}, probability={:.4})",
            self.tags, self.probability
        )
    }
}

/// The k best labelings of one sentence of a text, with the sentence's offsets.
#[pyclass(frozen, eq, module = "bilstm_crf_ner", get_all)]
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceNbest {
    pub sentence: usize,
    pub start: usize,
    pub end: usize,
    pub labelings: Vec<Labeling>,
}

#[pymethods]
impl SentenceNbest {
    fn __repr__(&self) -> String {
        format!(
            "SentenceNbest(sentence={}, start={}, end={}, labelings=[{} labelings])",
            self.sentence,
            self.start,
            self.end,
            self.labelings.len()
        )
    }
}

/// One text's entities, and its tokens and n-best labelings when asked for (else None).
#[pyclass(frozen, module = "bilstm_crf_ner", get_all)]
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub entities: Vec<Entity>,
    pub tokens: Option<Vec<Token>>,
    pub nbest: Option<Vec<SentenceNbest>>,
}

#[pymethods]
impl Analysis {
    fn __repr__(&self) -> String {
        format!(
            "Analysis(entities=[{}], tokens={}, nbest={})",
            self.entities
                .iter()
                .map(Entity::__repr__)
                .collect::<Vec<_>>()
                .join(", "),
            self.tokens
                .as_ref()
                .map_or("None".into(), |t| format!("[{} tokens]", t.len())),
            self.nbest
                .as_ref()
                .map_or("None".into(), |n| format!("[{} sentences]", n.len())),
        )
    }
}

impl From<ner_core::results::TokenResult> for Token {
    fn from(t: ner_core::results::TokenResult) -> Self {
        Token {
            text: t.text,
            start: t.start,
            end: t.end,
            tag: t.tag,
            score: t.score,
        }
    }
}

impl From<ner_core::results::Labeling> for Labeling {
    fn from(l: ner_core::results::Labeling) -> Self {
        Labeling {
            tags: l.tags,
            probability: l.probability,
        }
    }
}

impl From<ner_core::results::SentenceNbest> for SentenceNbest {
    fn from(n: ner_core::results::SentenceNbest) -> Self {
        SentenceNbest {
            sentence: n.sentence,
            start: n.start,
            end: n.end,
            labelings: n.labelings.into_iter().map(Labeling::from).collect(),
        }
    }
}

/// The one builder's answer ([`ner_core::results::build`]) as Python objects.
impl From<ner_core::results::TextResult> for Analysis {
    fn from(r: ner_core::results::TextResult) -> Self {
        fn all<A, B: From<A>>(v: Vec<A>) -> Vec<B> {
            v.into_iter().map(B::from).collect()
        }
        Analysis {
            entities: all(r.entities),
            tokens: r.tokens.map(all),
            nbest: r.nbest.map(all),
        }
    }
}
