//! The recipes a run starts from when the user names no architecture: what the shipped models
//! were trained with, so that a user's own corpus gets the tuned recipe without knowing it.
//!
//! - [`Recipe::Word`] (word-tokenised corpora), the architecture and inputs of
//!   `models/en-conll03`: frozen subword vectors of MiniLM's word pieces taken from the shipped
//!   English model's directory (no download), word embeddings started from them, word dropout
//!   0.25, a weight average, BIOES inside the model, document context of 128 tokens; SGD for
//!   40 epochs, patience 8, as an earlier release trained (the shipped model's Nadam schedule
//!   and 256-token windows are measured on CoNLL-2003 alone, and the WikiANN figures in `docs/`
//!   use this recipe).
//! - [`Recipe::Char`] (`--tokenization char`), the recipe of `models/zh-resume` less its
//!   lexicon, which needs a dictionary file (`--lexicon FILE --lexicon-dim 50` adds it):
//!   characters and character bigrams, no character encoder, case kept, a weight average,
//!   BIOES; 40 epochs, patience 12; SGD, as the releases before the current one trained (its
//!   Nadam schedule is measured on Resume NER alone).
//! - [`Recipe::Plain`]: the library's plain defaults (`ner train --scratch`).

use super::config::InputConfig;
use super::options::TrainOptions;
use crate::config::ModelConfig;
use ner_core::tokenize::Mode;
use ner_core::TagScheme;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The shipped model whose subword vectors the word recipe uses.
pub const SHIPPED_ENGLISH: &str = "en-conll03";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipe {
    Plain,
    Word,
    Char,
}

/// A starting configuration: architecture, optimisation and pretrained inputs.
#[derive(Debug, Clone, Default)]
pub struct Base {
    pub model: ModelConfig,
    pub train: TrainOptions,
    pub inputs: InputConfig,
}

impl Recipe {
    /// The recipe for a corpus tokenised as `mode`.
    pub fn for_mode(mode: Mode) -> Recipe {
        match mode {
            Mode::Char => Recipe::Char,
            _ => Recipe::Word,
        }
    }

    /// The recipe's configuration. `subword`: a model directory with `subword.safetensors`
    /// (the word recipe trains without subword vectors when it is `None`). `documents`: whether
    /// the training file has `-DOCSTART-` documents (then a batch is 2 windows of up to 128
    /// tokens, otherwise 10 sentences: about the same number of tokens per step).
    pub fn base(self, subword: Option<&Path>, documents: bool) -> Base {
        match self {
            Recipe::Plain => Base::default(),
            Recipe::Word => word(subword, documents),
            Recipe::Char => char(),
        }
    }
}

fn word(subword: Option<&Path>, documents: bool) -> Base {
    let mut b = Base::default();
    b.model.word_dropout = 0.25;
    b.model.scheme = TagScheme::Bioes;
    b.model.context_tokens = 128;
    b.train.epochs = 40;
    b.train.ema = 0.999;
    b.train.batch_size = if documents { 2 } else { 10 };
    if let Some(dir) = subword {
        b.model.word_dim = 128;
        b.inputs.subword_model = Some(dir.to_owned());
        b.inputs.subword_dim = 128;
        b.inputs.init_words_from_subword = true;
    }
    b
}

fn char() -> Base {
    let mut b = Base::default();
    b.model.tokenization = Mode::Char;
    b.model.scheme = TagScheme::Bioes;
    b.model.char_encoder = crate::config::CharEncoderKind::None;
    b.model.lowercase = false;
    b.model.bigram_dim = 50;
    b.train.epochs = 40;
    b.train.patience = 12;
    b.train.ema = 0.999;
    b
}

/// The shipped English model directory holding the subword vectors: `$NER_RECIPE_MODEL`, else
/// `models/en-conll03` beside the binary (`target/release/ner` in a checkout, `/app/bin/ner`
/// in the image) or under the working directory.
pub fn shipped_subword_model() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("NER_RECIPE_MODEL") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok();
    let beside = exe.as_deref().and_then(Path::parent).map(|bin| {
        [bin.join("../models"), bin.join("../../models")].map(|m| m.join(SHIPPED_ENGLISH))
    });
    beside
        .into_iter()
        .flatten()
        .chain([PathBuf::from("models").join(SHIPPED_ENGLISH)])
        .find(|d| d.join(crate::subword::TABLE_FILE).is_file())
        .map(|d| d.canonicalize().unwrap_or(d))
}

/// Whether a CoNLL file has `-DOCSTART-` document markers (read up to its first).
pub fn has_documents(path: &Path) -> std::io::Result<bool> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    for line in file.split(b'\n') {
        if line?.trim_ascii_start().starts_with(b"-DOCSTART-") {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_differ_from_the_plain_defaults_where_documented() {
        let plain = Recipe::Plain.base(None, false);
        let w = Recipe::Word.base(Some(Path::new("m")), true);
        assert_eq!(w.inputs.subword_model.as_deref(), Some(Path::new("m")));
        assert!(w.inputs.init_words_from_subword);
        assert_eq!((w.model.word_dim, w.train.batch_size), (128, 2));
        assert_eq!(Recipe::Word.base(None, false).train.batch_size, 10);
        assert_eq!(
            Recipe::Word.base(None, false).model.word_dim,
            plain.model.word_dim
        );
        let c = Recipe::for_mode(Mode::Char).base(None, false);
        assert_eq!((c.model.bigram_dim, c.model.tokenization), (50, Mode::Char));
        assert_eq!(plain.model, ModelConfig::default());
    }

    #[test]
    fn document_markers_are_found_anywhere_in_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (with, without) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&with, "EU B-ORG\n\n-DOCSTART- -X- O O\n\nx O\n").unwrap();
        std::fs::write(&without, "EU B-ORG\n\nx O\n").unwrap();
        assert!(has_documents(&with).unwrap());
        assert!(!has_documents(&without).unwrap());
        assert!(has_documents(&dir.path().join("missing")).is_err());
    }
}
