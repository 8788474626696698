//! The BiLSTM-CRF on libtorch. This is the only crate of the workspace that touches `tch`.
//!
//! - [`config`] — the architecture as one serde config;
//! - [`vocab`] — word and character vocabularies, casing features;
//! - [`cells`] — the recurrent cells (lstm, gru, rnn, peephole, cifg) and the encoder;
//! - [`crf`] — the CRF's likelihood on libtorch;
//! - [`model`] — the network;
//! - [`batch`] — padding;
//! - [`checkpoint`] — model directories, validated and written atomically;
//! - [`tagger`] — inference for the CLI and the server;
//! - [`train`] — the training loop.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod batch;
pub mod cells;
pub mod checkpoint;
pub mod config;
pub mod crf;
pub mod diagnostics;
pub mod error;
pub mod model;
pub mod pretrained;
pub mod subword;
pub mod tagger;
pub mod train;
pub mod vocab;

pub use config::{CellKind, ModelConfig};
pub use error::{ModelError, Result};
pub use tagger::{EncoderThreading, TagRequest, Tagged, Tagger, TaggerOptions};

/// libtorch's current intra-op thread count.
pub fn libtorch_threads() -> i32 {
    tch::get_num_threads()
}

pub use tch::Device;

/// Sets libtorch's intra-op thread count (process-wide).
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
