//! The model's architecture, all of it in one serde config (`config.json` of a model directory).

use ner_core::tokenize::Mode;
use ner_core::TagScheme;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The recurrent cell of the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    /// Long short-term memory (Hochreiter & Schmidhuber 1997), libtorch's fused kernel.
    #[default]
    Lstm,
    /// Gated recurrent unit (Cho et al. 2014), libtorch's fused kernel.
    Gru,
    /// Plain tanh recurrence (Elman), libtorch's fused kernel.
    Rnn,
    /// LSTM whose gates also read the cell state (Gers & Schmidhuber 2000); explicit cell.
    Peephole,
    /// LSTM with coupled input and forget gates, `i = 1 - f` (Greff et al. 2015); explicit cell.
    Cifg,
}

impl CellKind {
    /// Every cell.
    pub const ALL: [CellKind; 5] = [
        CellKind::Rnn,
        CellKind::Gru,
        CellKind::Lstm,
        CellKind::Peephole,
        CellKind::Cifg,
    ];

    /// The cell's name, as flags spell it.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
            CellKind::Rnn => "rnn",
            CellKind::Peephole => "peephole",
            CellKind::Cifg => "cifg",
        }
    }
}

impl fmt::Display for CellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The character-level word encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum CharEncoderKind {
    /// Convolution and max-pooling over characters (Ma & Hovy 2016).
    #[default]
    Cnn,
    /// Bidirectional LSTM over characters, final states (Lample et al. 2016).
    Lstm,
    /// No character features.
    None,
}

/// Dropout flavour for embeddings and encoder outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum DropoutKind {
    /// A new mask for every element.
    #[default]
    Standard,
    /// One mask per sentence shared by all time steps (variational, Gal & Ghahramani 2016).
    #[serde(alias = "variational")]
    #[cfg_attr(feature = "clap", value(alias = "variational"))]
    Locked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
/// The architecture of a model, as `config.json` stores it.
pub struct ModelConfig {
    /// Word embedding size.
    pub word_dim: i64,
    /// Look words up lower-cased (casing is then carried by the casing feature).
    pub lowercase: bool,
    /// Replace every digit by `0` before lookup.
    pub normalize_digits: bool,
    /// Probability of replacing a word by the unknown word during training.
    pub word_dropout: f64,
    /// How characters are encoded.
    pub char_encoder: CharEncoderKind,
    /// Width of a character embedding.
    pub char_dim: i64,
    /// CNN filters (output size of the char encoder for `cnn`).
    pub char_filters: i64,
    /// Width of the character CNN's kernel.
    pub char_kernel: i64,
    /// Hidden size per direction of the char BiLSTM.
    pub char_hidden: i64,
    /// Longer words are truncated to this many characters for the char encoder.
    pub max_word_chars: usize,
    /// Size of the casing feature embedding; 0 turns it off.
    pub casing_dim: i64,
    /// Size of the frozen pretrained subword vectors (0: none); see [`crate::subword`].
    pub subword_dim: i64,
    /// Where the subword vectors came from (informational).
    pub subword_source: Option<String>,
    /// Size of the token-bigram embedding (0: none). Each token gets the embeddings of the
    /// bigrams it forms with its left and its right neighbour (`2 * bigram_dim` features), as
    /// the character bigrams of Chinese NER baselines (Zhang & Yang 2018).
    pub bigram_dim: i64,
    /// Size of the lexicon word embedding of SoftLexicon features (0: none); each token gets
    /// four of them (`4 * lexicon_dim` features), see [`crate::lexicon`].
    pub lexicon_dim: i64,
    /// Probability of replacing a matched lexicon word by `<unseen>` during training; above 0,
    /// the model keeps the whole dictionary, its words that training never matched sharing
    /// `<unseen>` (see [`crate::lexicon`]).
    pub lexicon_dropout: f64,
    /// The recurrent cell.
    pub cell: CellKind,
    /// Initial bias of the forget gate (LSTM family; cifg's coupled gate): 1 by default
    /// (Jozefowicz et al. 2015), so that the cell starts out remembering.
    pub forget_bias: f64,
    /// Hidden size per direction.
    pub hidden: i64,
    /// Recurrent layers.
    pub layers: i64,
    /// Dropout rate.
    pub dropout: f64,
    /// How dropout masks are drawn.
    pub dropout_kind: DropoutKind,
    /// Contextual word features: the hidden states of these transformer layers (0: its
    /// embedding output), mean-pooled per word and mixed by learned scalar weights (empty:
    /// none); see [`crate::contextual`].
    pub contextual_layers: Vec<usize>,
    /// Width of one layer's contextual features (the transformer's hidden size).
    pub contextual_dim: i64,
    /// The transformer the contextual features come from (see [`crate::contextual`]).
    pub contextual_source: Option<String>,
    /// Fine-tuning: the top this many of the transformer's layers that the features use
    /// (layers `max(contextual_layers) - n + 1 ..= max`) are trained with the tagger and
    /// stored in `model.safetensors` in half precision, as `transformer.<Hugging Face name>`;
    /// 0 keeps the transformer frozen.
    #[serde(skip_serializing_if = "is_zero")]
    pub finetune_layers: usize,
    /// Document context: the encoder reads consecutive sentences of one document (up to this
    /// many tokens, never across documents) as one sequence; 0 reads each sentence alone.
    /// Scores and decoding stay per sentence (see [`crate::context`]).
    pub context_tokens: usize,
    /// The tag scheme inside the model (BIO or BIOES), whatever the files use.
    pub scheme: TagScheme,
    /// How raw text is tokenised at serving time.
    pub tokenization: Mode,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            word_dim: 100,
            lowercase: true,
            normalize_digits: false,
            word_dropout: 0.0,
            char_encoder: CharEncoderKind::Cnn,
            char_dim: 30,
            char_filters: 50,
            char_kernel: 3,
            char_hidden: 25,
            max_word_chars: 30,
            casing_dim: 8,
            subword_dim: 0,
            subword_source: None,
            bigram_dim: 0,
            lexicon_dim: 0,
            lexicon_dropout: 0.0,
            cell: CellKind::Lstm,
            forget_bias: 1.0,
            hidden: 200,
            layers: 1,
            dropout: 0.5,
            dropout_kind: DropoutKind::Standard,
            context_tokens: 0,
            contextual_layers: Vec::new(),
            contextual_dim: 0,
            contextual_source: None,
            finetune_layers: 0,
            scheme: TagScheme::Bio,
            tokenization: Mode::Word,
        }
    }
}

impl ModelConfig {
    /// Checks ranges; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let mut positive = vec![
            ("word_dim", self.word_dim),
            ("hidden", self.hidden),
            ("layers", self.layers),
        ];
        if self.char_encoder != CharEncoderKind::None {
            positive.extend([
                ("char_dim", self.char_dim),
                ("char_filters", self.char_filters),
                ("char_kernel", self.char_kernel),
                ("char_hidden", self.char_hidden),
                (
                    "max_word_chars",
                    i64::try_from(self.max_word_chars).unwrap_or(i64::MAX),
                ),
            ]);
        }
        if let Some((name, v)) = positive.into_iter().find(|(_, v)| *v <= 0) {
            return Err(format!("{name} must be positive, got {v}"));
        }
        let optional = [
            ("subword_dim", self.subword_dim),
            ("bigram_dim", self.bigram_dim),
            ("casing_dim", self.casing_dim),
        ];
        if let Some((name, v)) = optional.into_iter().find(|(_, v)| *v < 0) {
            return Err(format!("{name} must be 0 or more, got {v}"));
        }
        if !self.forget_bias.is_finite() {
            return Err(format!(
                "forget_bias must be a finite number, got {}",
                self.forget_bias
            ));
        }
        self.validate_rates()?;
        let top = self.contextual_layers.iter().copied().max().unwrap_or(0);
        // Before a run's inputs are resolved, the layers are not known yet (the run checks).
        if self.finetune_layers > top && !self.contextual_layers.is_empty() {
            return Err(format!(
                "finetune_layers is {}, but the contextual features use transformer layers up to {top}: fine-tune at most {top}",
                self.finetune_layers
            ));
        }
        if !matches!(self.scheme, TagScheme::Bio | TagScheme::Bioes) {
            return Err(format!(
                "the model's scheme must be bio or bioes (files in {} are converted), got {}",
                self.scheme, self.scheme
            ));
        }
        Ok(())
    }

    /// The dropout rates are probabilities below 1.
    fn validate_rates(&self) -> Result<(), String> {
        for (name, p) in [
            ("dropout", self.dropout),
            ("word_dropout", self.word_dropout),
            ("lexicon_dropout", self.lexicon_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{name} must be in [0, 1), got {p}"));
            }
        }
        Ok(())
    }

    /// The size of a word's input feature vector.
    pub fn input_dim(&self) -> i64 {
        self.word_dim
            + self.char_features()
            + self.casing_dim
            + self.subword_dim
            + 2 * self.bigram_dim
            + crate::lexicon::SETS as i64 * self.lexicon_dim
            + self.contextual_features()
    }

    /// The width of the character encoder's output.
    pub fn char_features(&self) -> i64 {
        match self.char_encoder {
            CharEncoderKind::Cnn => self.char_filters,
            CharEncoderKind::Lstm => 2 * self.char_hidden,
            CharEncoderKind::None => 0,
        }
    }

    /// The width of the mixed contextual features (0 without them).
    pub fn contextual_features(&self) -> i64 {
        if self.contextual_layers.is_empty() {
            0
        } else {
            self.contextual_dim
        }
    }
}
