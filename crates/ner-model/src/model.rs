//! The BiLSTM-CRF: word embeddings, a character encoder and casing features, a bidirectional
//! recurrent encoder, a linear layer to tag scores, and a CRF.
//!
//! Variable names (the keys of `model.safetensors`): `word_emb`, `char/emb`, `char/conv` or
//! `char/lstm/{fwd,bwd}`, `casing`, `encoder/l{n}/{fwd,bwd}/{w_ih,w_hh,b_ih,b_hh,peep}`,
//! `bigram_emb`, `proj`, `crf/{start,end,trans}`.

use crate::batch::Batch;
use crate::cells::{permute_time, reverse_index, BiLayer, Encoder};
use crate::config::{CellKind, CharEncoderKind, DropoutKind, ModelConfig};
use crate::contextual::Contextual;
use crate::crf::Crf;
use crate::finetune::Tuning;
use crate::threading::Helper;
use crate::vocab::{CASING_CLASSES, UNK};
use ner_core::TagSet;
use tch::nn::{self, Init, Module};
use tch::{Kind, Tensor};

#[derive(Debug)]
pub(crate) enum CharEncoder {
    Cnn {
        emb: nn::Embedding,
        conv: nn::Conv1D,
    },
    Lstm {
        emb: nn::Embedding,
        lstm: BiLayer,
    },
}

#[derive(Debug)]
pub struct BiLstmCrf {
    pub config: ModelConfig,
    pub tags: TagSet,
    pub word_emb: nn::Embedding,
    pub(crate) char_enc: Option<CharEncoder>,
    pub(crate) casing_emb: Option<nn::Embedding>,
    pub(crate) bigram_emb: Option<nn::Embedding>,
    pub(crate) lexicon_emb: Option<nn::Embedding>,
    pub encoder: Encoder,
    pub(crate) proj: nn::Linear,
    pub crf: Crf,
    /// Frozen subword vectors `[V, D]` (not a variable: stored in `subword.safetensors`).
    pub subword_table: Option<Tensor>,
    /// The scalar mix of the contextual layers: a weight per layer (softmax-normalised) and a
    /// scale, as in ELMo (Peters et al. 2018).
    pub(crate) mix: Option<ScalarMix>,
    /// The transformer, when the model fine-tunes it.
    pub tuning: Option<Tuning>,
}

#[derive(Debug)]
pub(crate) struct ScalarMix {
    pub(crate) weights: Tensor,
    pub(crate) gamma: Tensor,
}

impl ScalarMix {
    fn new(p: nn::Path, layers: usize) -> ScalarMix {
        ScalarMix {
            weights: p.zeros("weights", &[layers as i64]),
            gamma: p.ones("gamma", &[1]),
        }
    }

    /// `x [B, T, layers * dim]` mixed to `[B, T, dim]`.
    fn forward(&self, x: &Tensor) -> Tensor {
        let s = x.size();
        let l = self.weights.size()[0];
        let w = self.weights.softmax(0, Kind::Float).view([1, 1, l, 1]);
        (x.view([s[0], s[1], l, -1]) * w).sum_dim_intlist([2].as_slice(), false, Kind::Float)
            * &self.gamma
    }
}

/// `ids` with each id where `eligible` holds replaced by `to` with probability `p` (word
/// dropout to `<unk>`, lexicon dropout to `<unseen>`).
fn drop_ids(ids: &Tensor, p: f64, eligible: &Tensor, to: i64) -> Tensor {
    let r = Tensor::rand(ids.size(), (Kind::Float, ids.device()));
    ids.masked_fill(&r.lt(p).logical_and(eligible), to)
}

/// `ids` with each matched word (not padding or `<none>`) replaced by `unseen` with
/// probability `p`.
pub fn drop_lexicon_words(ids: &Tensor, p: f64, unseen: i64) -> Tensor {
    drop_ids(ids, p, &ids.gt(crate::lexicon::NONE), unseen)
}

/// An embedding table initialised uniformly in `±sqrt(3 / dim)` (unit variance per row).
fn embedding(p: nn::Path, n: i64, dim: i64) -> nn::Embedding {
    let b = (3.0 / dim as f64).sqrt();
    let config = nn::EmbeddingConfig {
        ws_init: Init::Uniform { lo: -b, up: b },
        ..Default::default()
    };
    nn::embedding(p, n, dim, config)
}

impl CharEncoder {
    /// The configured character encoder under `p` (`char/`), if any.
    fn new(p: nn::Path, config: &ModelConfig, num_chars: i64) -> Option<CharEncoder> {
        let emb = || embedding(&p / "emb", num_chars, config.char_dim);
        match config.char_encoder {
            CharEncoderKind::Cnn => Some(CharEncoder::Cnn {
                emb: emb(),
                conv: nn::conv1d(
                    &p / "conv",
                    config.char_dim,
                    config.char_filters,
                    config.char_kernel,
                    nn::ConvConfig {
                        padding: config.char_kernel / 2,
                        ..Default::default()
                    },
                ),
            }),
            CharEncoderKind::Lstm => Some(CharEncoder::Lstm {
                emb: emb(),
                lstm: BiLayer::new(
                    &p / "lstm",
                    CellKind::Lstm,
                    config.char_dim,
                    config.char_hidden,
                ),
            }),
            CharEncoderKind::None => None,
        }
    }
}

impl BiLstmCrf {
    /// A freshly initialised model for `num_words` words, `num_chars` characters and
    /// `num_bigrams` bigrams (used only when `config.bigram_dim > 0`) and `num_lexicon`
    /// lexicon words (used only when `config.lexicon_dim > 0`).
    pub fn new(
        root: &nn::Path,
        config: &ModelConfig,
        tags: &TagSet,
        num_words: i64,
        num_chars: i64,
        num_bigrams: i64,
        num_lexicon: i64,
    ) -> Self {
        let word_emb = embedding(root / "word_emb", num_words, config.word_dim);
        let char_enc = CharEncoder::new(root / "char", config, num_chars);
        let casing_emb = (config.casing_dim > 0)
            .then(|| embedding(root / "casing", CASING_CLASSES, config.casing_dim));
        let bigram_emb = (config.bigram_dim > 0)
            .then(|| embedding(root / "bigram_emb", num_bigrams.max(2), config.bigram_dim));
        let lexicon_emb = (config.lexicon_dim > 0)
            .then(|| embedding(root / "lexicon_emb", num_lexicon.max(2), config.lexicon_dim));
        let encoder = Encoder::new(
            root / "encoder",
            config.cell,
            config.input_dim(),
            config.hidden,
            config.layers,
        );
        encoder.set_forget_bias(config.forget_bias);
        let proj = nn::linear(
            root / "proj",
            2 * config.hidden,
            tags.len() as i64,
            Default::default(),
        );
        let crf = Crf::new(root / "crf", tags);
        BiLstmCrf {
            config: config.clone(),
            tags: tags.clone(),
            word_emb,
            char_enc,
            casing_emb,
            bigram_emb,
            lexicon_emb,
            encoder,
            proj,
            crf,
            subword_table: None,
            mix: (!config.contextual_layers.is_empty())
                .then(|| ScalarMix::new(root / "mix", config.contextual_layers.len())),
            tuning: None,
        }
    }

    /// Makes the top `config.finetune_layers` layers of `c`'s transformer variables of
    /// `root` (nothing when that is 0); `c` then computes features with them.
    pub fn finetune(&mut self, root: &nn::Path, c: &mut Contextual) {
        if self.config.finetune_layers > 0 {
            self.tuning = Some(Tuning::new(root, c, self.config.finetune_layers));
        }
    }

    /// Attaches the frozen subword table (its width must be `config.subword_dim`).
    pub fn set_subword_table(&mut self, table: Tensor, device: tch::Device) {
        self.subword_table = Some(table.to_kind(Kind::Float).to_device(device));
    }

    /// Dropout by the model's own train flag.
    pub fn dropout(&self, x: &Tensor, train: bool) -> Tensor {
        let p = self.config.dropout;
        if !train || p == 0.0 {
            return x.shallow_clone();
        }
        match self.config.dropout_kind {
            DropoutKind::Standard => x.dropout(p, true),
            DropoutKind::Locked => {
                let s = x.size();
                let mask = Tensor::empty([s[0], 1, s[2]], (x.kind(), x.device()))
                    .bernoulli_float_(1.0 - p)
                    / (1.0 - p);
                x * mask
            }
        }
    }

    fn char_features(&self, batch: &Batch, train: bool) -> Option<Tensor> {
        let enc = self.char_enc.as_ref()?;
        let s = batch.chars.size();
        let (b, t, l) = (s[0], s[1], s[2]);
        let flat = batch.chars.view([b * t, l]);
        let device = batch.chars.device();
        let lens = Tensor::from_slice(&batch.char_lengths).to_device(device);
        let has_chars = lens.gt(0).unsqueeze(1);
        let out = match enc {
            CharEncoder::Cnn { emb, conv } => {
                // Padding characters embed to zeros, exactly like the convolution's own zero
                // padding, so a word's features do not depend on the longest word of its batch.
                let valid = flat.ne(0).unsqueeze(1); // [N, 1, L]
                let x = emb.forward(&flat).transpose(1, 2) * valid.to_kind(Kind::Float); // [N, C, L]
                let y = conv.forward(&x); // [N, F, L]
                let y = y.masked_fill(&valid.logical_not(), f64::NEG_INFINITY);
                let (m, _) = y.max_dim(2, false);
                m.where_self(&has_chars, &m.zeros_like())
            }
            CharEncoder::Lstm { emb, lstm } => {
                let x = emb.forward(&flat); // [N, L, C]
                let rev = reverse_index(&batch.char_lengths, l).to_device(device);
                let f = lstm.fwd.forward(&x, train);
                let bk = lstm.bwd.forward(&permute_time(&x, &rev), train);
                let last = (&lens - 1).clamp_min(0).view([-1, 1, 1]);
                let h = lstm.fwd.hidden();
                let pick = |o: &Tensor| {
                    o.gather(1, &last.expand([-1, 1, h], false), false)
                        .squeeze_dim(1)
                };
                let both = Tensor::cat(&[pick(&f), pick(&bk)], 1);
                both.where_self(&has_chars, &both.zeros_like())
            }
        };
        Some(out.view([b, t, -1]))
    }

    /// The SoftLexicon feature `[B, T, 4 * lexicon_dim]`: each set's weighted mean. In
    /// training, lexicon dropout replaces matched words by `<unseen>`, the table's last entry
    /// when the model keeps the whole dictionary (see [`crate::lexicon`]).
    fn lexicon_features(&self, e: &nn::Embedding, batch: &Batch, train: bool) -> Tensor {
        let s = batch.words.size();
        let width = crate::lexicon::SETS as i64 * self.config.lexicon_dim;
        match &batch.lexicon {
            Some((ids, weights)) => {
                let p = self.config.lexicon_dropout;
                let ids = match train && p > 0.0 {
                    true => drop_lexicon_words(ids, p, e.ws.size()[0] - 1),
                    false => ids.shallow_clone(),
                };
                (e.forward(&ids) * weights.unsqueeze(4))
                    .sum_dim_intlist([3].as_slice(), false, Kind::Float)
                    .view([s[0], s[1], width])
            }
            // Encoded without a lexicon: no features (zeros).
            None => Tensor::zeros([s[0], s[1], width], (Kind::Float, batch.words.device())),
        }
    }

    /// The embeddings of each word's two character bigrams, `[B, T, 2 * bigram_dim]`.
    fn bigram_features(&self, e: &nn::Embedding, batch: &Batch) -> Tensor {
        let s = batch.words.size();
        let ids = match &batch.bigrams {
            Some(ids) => ids.shallow_clone(),
            // Encoded without a bigram vocabulary: every bigram unknown.
            None => Tensor::full([s[0], s[1], 2], UNK, (Kind::Int64, batch.words.device())),
        };
        e.forward(&ids)
            .view([s[0], s[1], 2 * self.config.bigram_dim])
    }

    /// The mean of each word's subword vectors, `[B, T, subword_dim]` (zeros without them).
    fn subword_features(&self, batch: &Batch) -> Tensor {
        let s = batch.words.size();
        let (Some(table), Some((ids, counts))) = (&self.subword_table, &batch.pieces) else {
            return Tensor::zeros(
                [s[0], s[1], self.config.subword_dim],
                (Kind::Float, batch.words.device()),
            );
        };
        let p = ids.size()[2];
        let d = table.size()[1];
        let v = table
            .index_select(0, &ids.reshape([-1]))
            .view([s[0], s[1], p, d]);
        let valid = Tensor::arange(p, (Kind::Int64, ids.device()))
            .view([1, 1, p])
            .lt_tensor(&counts.unsqueeze(2))
            .to_kind(Kind::Float)
            .unsqueeze(3);
        (v * &valid).sum_dim_intlist([2].as_slice(), false, Kind::Float)
            / counts.clamp_min(1).to_kind(Kind::Float).unsqueeze(2)
    }

    /// The word features `[B, T, input_dim]`, before dropout.
    pub fn features(&self, batch: &Batch, train: bool) -> Tensor {
        let mut words = batch.words.shallow_clone();
        if train && self.config.word_dropout > 0.0 {
            words = drop_ids(&words, self.config.word_dropout, &words.ne(0), UNK);
        }
        let mut feats = vec![self.word_emb.forward(&words)];
        if let Some(c) = self.char_features(batch, train) {
            feats.push(c);
        }
        if let Some(e) = &self.casing_emb {
            feats.push(e.forward(&batch.casing));
        }
        if let Some(e) = &self.bigram_emb {
            feats.push(self.bigram_features(e, batch));
        }
        if let Some(e) = &self.lexicon_emb {
            feats.push(self.lexicon_features(e, batch, train));
        }
        if self.config.subword_dim > 0 {
            feats.push(self.subword_features(batch));
        }
        if let Some(mix) = &self.mix {
            let s = batch.words.size();
            feats.push(
                match (&batch.contextual, &batch.transformer, &self.tuning) {
                    (Some(x), _, _) => mix.forward(x),
                    (None, Some(p), Some(t)) => mix.forward(&t.features(p, s[0], s[1])),
                    _ => Tensor::zeros(
                        [s[0], s[1], self.config.contextual_dim],
                        (Kind::Float, batch.words.device()),
                    ),
                },
            );
        }
        Tensor::cat(&feats, 2)
    }

    /// Encoder states from features `x [B, T, D]`: `[B, T, 2H]`, with dropout on the input,
    /// between layers and on the output when `train`.
    /// With a `helper`, inference runs the two directions on two threads.
    pub fn encode(&self, x: &Tensor, rev: &Tensor, train: bool, helper: Option<&Helper>) -> Tensor {
        let x = self.dropout(x, train);
        let h = self
            .encoder
            .forward(&x, rev, train, helper, |h| self.dropout(h, train));
        self.dropout(&h, train)
    }

    /// Tag scores `[B, T, K]`.
    pub fn emissions(&self, batch: &Batch, train: bool) -> Tensor {
        self.emissions_with(batch, train, None)
    }

    /// Tag scores `[B, T, K]`, the directions on two threads when a `helper` is given.
    pub fn emissions_with(&self, batch: &Batch, train: bool, helper: Option<&Helper>) -> Tensor {
        let x = self.features(batch, train);
        let h = self.encode(&x, &batch.rev, train, helper);
        self.project(&h)
    }

    /// Tag scores from encoder states.
    pub fn project(&self, h: &Tensor) -> Tensor {
        self.proj.forward(h)
    }

    /// Mean negative log-likelihood over the batch's sentences (needs gold tags). With a
    /// teacher's posterior in the batch and `teacher_weight` w > 0, the cross-entropy against
    /// the mixture `w · teacher + (1 - w) · gold` (Hinton et al. 2015, for a CRF): `log Z`
    /// minus the mixture's expected score, which for a one-hot teacher is the likelihood.
    pub fn loss(&self, batch: &Batch, train: bool, teacher_weight: f64) -> Option<Tensor> {
        let tags = batch.tags.as_ref()?;
        let em = self.emissions(batch, train);
        // Windows of several sentences: each sentence is scored on its own, as it is decoded.
        let per_sentence = |x: &Tensor| match &batch.sentences {
            Some(s) => s.gather(x),
            None => x.shallow_clone(),
        };
        let mask = batch.sentences.as_ref().map_or(&batch.mask, |s| &s.mask);
        let (em, tags) = (per_sentence(&em), per_sentence(tags));
        let log_z = self.crf.log_partition(&em, mask);
        let gold = self.crf.path_score(&em, &tags, mask);
        let target = match &batch.soft {
            Some((unary, pairs)) if teacher_weight > 0.0 => {
                let teacher = self
                    .crf
                    .expected_score(&em, &per_sentence(unary), pairs, mask);
                teacher * teacher_weight + gold * (1.0 - teacher_weight)
            }
            _ => gold,
        };
        Some((log_z - target).mean(Kind::Float))
    }
}

/// Variables of the encoder and inputs (everything but the projection and the CRF): what
/// starting from another model keeps and what fine-tuning's gradient clipping groups.
pub fn is_encoder(name: &str) -> bool {
    !(name.starts_with("proj.") || name.starts_with("crf."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_dropout_replaces_matched_words_only() {
        let ids = Tensor::from_slice(&[0i64, 1, 2, 7, 2, 1, 0, 5]).view([1, 2, 4]);
        let all = drop_lexicon_words(&ids, 1.0, 9);
        let want = [0i64, 1, 9, 9, 9, 1, 0, 9];
        assert_eq!(Vec::<i64>::try_from(all.view([-1])).unwrap(), want);
        // At rate 0.5, about half of 20,000 matched words; padding and <none> never.
        tch::manual_seed(3);
        let ids = Tensor::from_slice(&[0i64, 1, 2, 3]).repeat([10_000]);
        let got = Vec::<i64>::try_from(drop_lexicon_words(&ids, 0.5, 9)).unwrap();
        let dropped = got.iter().filter(|&&i| i == 9).count();
        assert!((9_500..10_500).contains(&dropped), "{dropped}");
        assert!(got.chunks(4).all(|c| c[0] == 0 && c[1] == 1));
    }
}
