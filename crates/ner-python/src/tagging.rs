//! Texts to results, in the server's steps: tokenise and cut into sentences, encode, run the
//! network, decode, and build the entities by slicing each text (offsets in characters, which
//! are Python's string indices).

use crate::results::{Analysis, Entity, Labeling, SentenceNbest, Token};
use ner_core::document::{sentences_of, Document};
use ner_core::offsets::OffsetUnit;
use ner_core::scheme::TagSet;
use ner_core::tokenize::Mode;
use ner_core::Tagged;
use ner_tagger::tagger::Native;
use ner_tagger::{Codec, Runner, TagRequest, TaggerOptions};
use pyo3::exceptions::PyValueError;
use pyo3::PyResult;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

pub use ner_tagger::MAX_NBEST;

/// What to return beside the entities.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    tokens: bool,
    nbest: usize,
    min_score: Option<f64>,
}

impl Options {
    /// Checked as the server checks them, with its messages.
    pub fn new(tokens: bool, nbest: usize, min_score: Option<f64>) -> PyResult<Self> {
        if nbest > MAX_NBEST {
            return Err(PyValueError::new_err(format!(
                "nbest: at most {MAX_NBEST}, got {nbest}"
            )));
        }
        if let Some(m) = min_score.filter(|m| !(0.0..=1.0).contains(m)) {
            return Err(PyValueError::new_err(format!(
                "min_score: must be between 0 and 1, got {m}"
            )));
        }
        Ok(Options {
            tokens,
            nbest,
            min_score,
        })
    }
}

/// The texts of one call.
pub struct Texts(pub Vec<String>);

/// A loaded model: the codec shared by every calling thread, the network taken in turns.
pub struct Model {
    codec: Arc<Codec>,
    runner: Mutex<Runner<Native>>,
    tags: TagSet,
    mode: Mode,
    name: String,
    max_sentence_tokens: usize,
    parallel: bool,
}

impl Model {
    pub fn load(
        dir: &Path,
        threads: Option<usize>,
        max_sentence_tokens: usize,
    ) -> ner_tagger::Result<Self> {
        let opts = TaggerOptions {
            threads,
            ..TaggerOptions::default()
        };
        let tagger = ner_tagger::Tagger::load(dir, opts)?;
        let (tags, mode) = (tagger.tag_set().clone(), tagger.config().tokenization);
        let (name, parallel) = (tagger.meta().name.clone(), tagger.threads() >= 2);
        let (codec, runner) = tagger.split();
        Ok(Model {
            codec,
            runner: Mutex::new(runner),
            tags,
            mode,
            name,
            max_sentence_tokens,
            parallel,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn labels(&self) -> Vec<String> {
        self.tags.labels().names().to_vec()
    }

    /// Every text's results, in order.
    pub fn tag(&self, texts: &Texts, opts: Options) -> ner_tagger::Result<Vec<Analysis>> {
        let docs: Vec<Document> = texts
            .0
            .iter()
            .map(|t| Document::new(t, self.mode, self.max_sentence_tokens))
            .collect();
        let (sentences, documents) = sentences_of(&docs);
        let tagged = match sentences.is_empty() {
            true => Vec::new(),
            false => self.run(&sentences, documents, opts.nbest)?,
        };
        let mut at = 0;
        let mut out = Vec::with_capacity(docs.len());
        for doc in &docs {
            let n = doc.num_sentences();
            let part = tagged.get(at..at + n).unwrap_or_default();
            at += n;
            out.push(self.analysis(doc, part, opts));
        }
        Ok(out)
    }

    /// Encodes, runs and decodes the sentences (each naming its document).
    fn run(
        &self,
        sentences: &[Vec<&str>],
        documents: Vec<usize>,
        nbest: usize,
    ) -> ner_tagger::Result<Vec<Tagged>> {
        let piece = self.codec.encode(sentences, documents, self.parallel);
        let emissions = self
            .runner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .run(piece)?;
        let req = TagRequest {
            probabilities: true,
            nbest,
        };
        Ok(self.codec.decode(&emissions, req, self.parallel))
    }

    fn analysis(&self, doc: &Document, tagged: &[Tagged], opts: Options) -> Analysis {
        let keep = |e: &ner_core::Scored| opts.min_score.is_none_or(|m| e.probability >= m);
        let entities = doc.entities(tagged, self.tags.labels(), keep, OffsetUnit::Char);
        Analysis {
            entities: entities.into_iter().map(Entity::from).collect(),
            tokens: opts.tokens.then(|| self.tokens(doc, tagged)),
            nbest: (opts.nbest > 0).then(|| self.nbest(doc, tagged)),
        }
    }

    /// Every word with its tag and the tag's probability.
    fn tokens(&self, doc: &Document, tagged: &[Tagged]) -> Vec<Token> {
        doc.tagged_tokens(tagged, OffsetUnit::Char)
            .into_iter()
            .map(|t| Token {
                text: t.text.to_owned(),
                start: t.start,
                end: t.end,
                tag: t.tag.map_or_else(|| "O".into(), |k| self.tags.name(k)),
                score: t.score,
            })
            .collect()
    }

    /// The k best labelings of every sentence, with the sentence's offsets.
    fn nbest(&self, doc: &Document, tagged: &[Tagged]) -> Vec<SentenceNbest> {
        let labeling = |(tags, p): &(Vec<usize>, f64)| Labeling {
            tags: tags.iter().map(|&k| self.tags.name(k)).collect(),
            probability: *p,
        };
        tagged
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (start, end) = doc.sentence_span(i, OffsetUnit::Char);
                SentenceNbest {
                    sentence: i,
                    start,
                    end,
                    labelings: t.nbest.iter().map(labeling).collect(),
                }
            })
            .collect()
    }
}
