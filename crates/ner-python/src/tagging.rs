//! Texts to results, in the server's steps: tokenise and cut into sentences, encode, run the
//! network, decode, and build the answers with ner-core's one builder (offsets in characters,
//! which are Python's string indices).

use crate::results::Analysis;
use ner_core::document::{sentences_of, Document};
use ner_core::offsets::OffsetUnit;
use ner_core::results::{self, ResultOptions};
use ner_core::scheme::TagSet;
use ner_core::tokenize::Mode;
use ner_core::Tagged;
use ner_tagger::tagger::Native;
use ner_tagger::{Codec, DecodeOptions, Runner, TaggerOptions};
use pyo3::exceptions::PyValueError;
use pyo3::PyResult;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

pub use ner_core::results::MAX_NBEST;

/// What to return beside the entities, checked by the one validation the server uses too.
pub fn options(tokens: bool, nbest: usize, min_score: Option<f64>) -> PyResult<ResultOptions> {
    ResultOptions::new(tokens, nbest, min_score, OffsetUnit::Char)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The texts of one call.
pub struct Texts(pub Vec<String>);

/// Why a call could not be answered.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// A loaded model: the codec shared by every calling thread, the network taken in turns.
pub struct Model {
    codec: Arc<Codec>,
    runner: Mutex<Runner<Native>>,
    tags: TagSet,
    mode: Mode,
    name: String,
    max_sentence_tokens: usize,
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
        let name = tagger.meta().name.clone();
        let (codec, runner) = tagger.split();
        Ok(Model {
            codec,
            runner: Mutex::new(runner),
            tags,
            mode,
            name,
            max_sentence_tokens,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn labels(&self) -> Vec<String> {
        self.tags.labels().names().to_vec()
    }

    /// Every text's results, in order.
    pub fn tag(&self, texts: &Texts, opts: ResultOptions) -> Result<Vec<Analysis>, Failure> {
        let docs: Vec<Document> = texts
            .0
            .iter()
            .map(|t| Document::new(t, self.mode, self.max_sentence_tokens))
            .collect();
        let (sentences, documents) = sentences_of(&docs);
        let tagged = match sentences.is_empty() {
            true => Vec::new(),
            false => self.run(&sentences, documents, opts.nbest())?,
        };
        let answers = results::build(&docs, &tagged, &self.tags, &opts)?;
        Ok(answers.into_iter().map(Analysis::from).collect())
    }

    /// Encodes, runs and decodes the sentences (each naming its document).
    fn run(
        &self,
        sentences: &[Vec<&str>],
        documents: Vec<usize>,
        nbest: usize,
    ) -> ner_tagger::Result<Vec<Tagged>> {
        let piece = self.codec.encode(sentences, documents);
        let emissions = self
            .runner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .run(piece)?;
        Ok(self.codec.decode(&emissions, DecodeOptions::scored(nbest)))
    }
}
