//! The resolved configuration of a training run: the architecture, the optimisation, the data
//! and the pretrained inputs. A run writes it to `run.json` in its directory when it starts,
//! and `--resume` reads it back from there (never from a command line).

use super::options::TrainOptions;
use crate::config::ModelConfig;
use ner_core::conll::{Column, ReaderOptions};
use ner_core::TagScheme;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub model: ModelConfig,
    pub train: TrainOptions,
    pub data: DataConfig,
    #[serde(default)]
    pub inputs: InputConfig,
    /// Model name recorded in meta.json (default: the output directory's name).
    #[serde(default)]
    pub name: Option<String>,
    /// Sentences per batch when evaluating.
    #[serde(default = "default_eval_batch_size")]
    pub eval_batch_size: usize,
}

fn default_eval_batch_size() -> usize {
    64
}

/// The corpora of a run and how to read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub train: PathBuf,
    /// For model selection and early stopping.
    pub dev: PathBuf,
    /// Evaluated once, with the best model, at the end.
    #[serde(default)]
    pub test: Option<PathBuf>,
    #[serde(default)]
    pub columns: Columns,
}

/// Which columns hold tokens and tags, and the files' scheme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Columns {
    pub token: Column,
    pub tag: Column,
    /// Lines starting with this prefix are skipped.
    pub comment_prefix: Option<String>,
    /// The files' tag scheme (detected when absent).
    pub scheme: Option<TagScheme>,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            token: Column::FIRST,
            tag: Column::LAST,
            comment_prefix: None,
            scheme: None,
        }
    }
}

impl Columns {
    pub fn reader_options(&self) -> ReaderOptions {
        ReaderOptions {
            token_column: self.token,
            tag_columns: vec![self.tag],
            comment_prefix: self.comment_prefix.clone(),
            keep_lines: false,
        }
    }
}

/// Pretrained inputs that initialise or feed the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputConfig {
    /// Word vectors (GloVe / word2vec / fastText text, optionally .gz).
    pub pretrained: Option<PathBuf>,
    /// Keep up to this many pretrained words that the training data lacks.
    pub pretrained_extra: usize,
    /// A BERT-style model directory whose word-piece vectors, mean-pooled per word, become a
    /// frozen input feature.
    pub subword_model: Option<PathBuf>,
    /// PCA dimension of the subword vectors (0: keep all).
    pub subword_dim: usize,
    /// Name of the embedding tensor (default: the one ending in word_embeddings.weight).
    pub subword_table: Option<String>,
    /// Start every word embedding from its pooled subword vector.
    pub init_words_from_subword: bool,
    /// Start from this trained model directory (see [`super::init_from`]): its architecture,
    /// vocabulary (extended), embeddings and encoders; the projection and CRF are rebuilt for
    /// the training data's labels, keeping the rows of the labels both share.
    pub init_from: Option<PathBuf>,
    /// With `init_from`: tokens the training corpus marks `O` take the base model's confident
    /// predictions of the labels the corpus lacks as targets (see
    /// [`super::keep_labels`]), so that those labels are not forgotten.
    pub keep_labels: bool,
    /// The probability a base prediction needs to become a pseudo-label.
    pub keep_labels_threshold: f64,
    /// A word list (`word [frequency ...]` per line, such as jieba's `dict.txt`) for the
    /// SoftLexicon features of `lexicon_dim`.
    pub lexicon: Option<PathBuf>,
    /// A BERT-style model directory (a Hugging Face folder, or a name under the cache's
    /// `transformers/`) whose hidden states give contextual word features.
    pub contextual_model: Option<PathBuf>,
    /// The hidden states used (0: the embedding output, 1: the first layer, ...).
    pub contextual_layers: Vec<usize>,
    /// A trained model whose CRF posterior on every training sentence joins the training
    /// target (see [`super::teacher`]); it must have the tags the training data gives.
    pub teacher: Option<PathBuf>,
    /// With `teacher`: sentences without labels (the token column of a CoNLL file, or one
    /// token per line), tagged by the teacher and trained on as training sentences.
    pub unlabelled: Option<PathBuf>,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            pretrained: None,
            pretrained_extra: 0,
            subword_model: None,
            subword_dim: 128,
            subword_table: None,
            init_words_from_subword: false,
            init_from: None,
            keep_labels: false,
            keep_labels_threshold: 0.9,
            lexicon: None,
            contextual_model: None,
            contextual_layers: vec![1, 2, 3, 4],
            teacher: None,
            unlabelled: None,
        }
    }
}

impl RunConfig {
    /// Makes every path absolute, so that the run resumes from any working directory.
    pub fn absolute_paths(mut self) -> Self {
        let abs = |p: &mut PathBuf| {
            if let Ok(a) = std::path::absolute(&*p) {
                *p = a;
            }
        };
        abs(&mut self.data.train);
        abs(&mut self.data.dev);
        self.data.test.as_mut().map(abs);
        self.inputs.pretrained.as_mut().map(abs);
        self.inputs.subword_model.as_mut().map(abs);
        self.inputs.lexicon.as_mut().map(abs);
        self.inputs.init_from.as_mut().map(abs);
        self.inputs.teacher.as_mut().map(abs);
        self.inputs.unlabelled.as_mut().map(abs);
        self
    }

    /// Checks ranges of every part; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.model.validate()?;
        self.train.validate()?;
        if self.eval_batch_size == 0 {
            return Err("eval_batch_size must be positive".into());
        }
        if self.inputs.lexicon.is_some() != (self.model.lexicon_dim > 0) {
            return Err(
                "a lexicon (--lexicon FILE) and lexicon_dim (--lexicon-dim N) go together".into(),
            );
        }
        if self.model.lexicon_dropout > 0.0 && self.model.lexicon_dim == 0 {
            return Err("lexicon_dropout needs a lexicon (--lexicon FILE --lexicon-dim N)".into());
        }
        if self.inputs.contextual_model.is_some() && self.inputs.contextual_layers.is_empty() {
            return Err("contextual_layers must name at least one layer".into());
        }
        let transformer = self.inputs.contextual_model.is_some() || self.inputs.init_from.is_some();
        if self.model.finetune_layers > 0 && !transformer {
            return Err("finetune_layers needs contextual features to fine-tune (--contextual-model, or --init-from a model that has them)".into());
        }
        if let (Some(&top), true) = (
            self.inputs.contextual_layers.iter().max(),
            self.inputs.contextual_model.is_some(),
        ) {
            if self.model.finetune_layers > top {
                return Err(format!(
                    "finetune_layers is {}, but the contextual features use transformer layers up to {top}",
                    self.model.finetune_layers
                ));
            }
        }
        if self.inputs.keep_labels && self.inputs.init_from.is_none() {
            return Err("keep_labels needs a base model (--init-from DIR)".into());
        }
        if !(0.0..=1.0).contains(&self.inputs.keep_labels_threshold) {
            return Err(format!(
                "keep_labels_threshold must be in [0, 1], got {}",
                self.inputs.keep_labels_threshold
            ));
        }
        if self.inputs.unlabelled.is_some() && self.inputs.teacher.is_none() {
            return Err("unlabelled sentences need a teacher to tag them (--teacher DIR)".into());
        }
        if self.inputs.init_words_from_subword && self.inputs.subword_model.is_none() {
            return Err("init_words_from_subword needs a subword model (--subword-model)".into());
        }
        Ok(())
    }
}
