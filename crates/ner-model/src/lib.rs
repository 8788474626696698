//! The BiLSTM-CRF on libtorch. This is the only crate of the workspace that touches `tch`.
//! What inference needs alone (the model-directory format, the configuration, vocabularies,
//! the native forward pass, decoding) lives in ner-tagger, re-exported here under the same
//! names; this crate adds the libtorch network that trains them.
//!
//! - [`cells`] — the recurrent cells (lstm, gru, rnn, peephole, cifg) and the encoder;
//! - [`crf`] — the CRF's likelihood on libtorch;
//! - [`model`] — the network; [`native`] — its weights packed for ner-tagger's forward pass;
//! - [`batch`] — padding; [`transformer`] — the transformer on libtorch, the reference;
//!   [`finetune`] — training its top layers with the model;
//! - [`checkpoint`] — model directories written atomically and read into libtorch;
//! - [`tagger`] — libtorch's network for ner-tagger's one `Tagger`, with its [`threading`];
//! - [`training`] — a training run: epochs, selection, checkpoints, resume, observers.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod batch;
pub mod cells;
pub mod checkpoint;
pub mod contextual;
pub mod crf;
pub mod diagnostics;
pub mod error;
pub mod finetune;
pub mod model;
pub mod native;
pub mod pretrained;
pub mod subword;
pub mod tagger;
pub mod threading;
pub mod training;
pub mod transformer;

pub use ner_tagger::{config, context, lexicon, vocab};
pub use ner_tagger::{DecodeOptions, VERSION};

pub use config::{CellKind, ModelConfig};
pub use error::{Result, TrainError};
pub use tagger::{TorchNet, TorchOptions, TorchTagger};
pub use threading::EncoderThreading;

pub use tch::Device;

/// Sets libtorch's intra-op thread count for the calling thread (and the threads it starts).
pub fn set_threads(n: i32) {
    tch::set_num_threads(n.max(1));
}

/// Whether libtorch can use a CUDA device here.
pub fn cuda_available() -> bool {
    tch::Cuda::is_available()
}

/// The number of CUDA devices libtorch sees.
pub fn cuda_device_count() -> usize {
    tch::Cuda::device_count().max(0) as usize
}
