//! Tagging with a trained BiLSTM-CRF in plain Rust, without libtorch: everything a model
//! directory needs at inference, and nothing of training.
//!
//! - [`directory`] — a model directory's files, read and validated;
//! - [`weights`] — safetensors tensors as `f32`, taken by name and shape;
//! - [`config`] — the architecture as one serde config;
//! - [`vocab`] — word and character vocabularies, casing, bigram and subword inputs;
//!   [`lexicon`] — SoftLexicon sets; [`context`] — windows of a document's sentences;
//! - [`native`] — the forward pass over packed weights, with its memo; [`bert`] and
//!   [`contextual`] — the transformer of contextual features;
//! - [`batching`] — batches sorted by length, document windows;
//! - [`contract`] — the model contract: the request half and the network half, and the
//!   [`Network`] that any backend implements;
//! - [`codec`] — encoding words into ids and decoding emissions into entities, probabilities
//!   and n-best (the request half); [`runner`] — the network over encoded pieces (the model
//!   thread's half); [`tagger`] — the [`Tagger`], both together, generic over its network.
//!
//! ner-model (libtorch) trains the models this crate reads, from the same types, and tests the
//! native forward pass against its own.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod batching;
pub mod bert;
pub mod codec;
pub mod config;
pub mod context;
pub mod contextual;
pub mod contract;
pub mod directory;
pub mod error;
pub mod evaluation;
pub mod lexicon;
pub mod native;
pub mod runner;
pub mod subword;
pub mod tagger;
pub mod threading;
pub mod vocab;
pub mod weights;

pub use codec::Codec;
pub use config::{CellKind, ModelConfig};
pub use contract::{
    DecodeOptions, Emissions, Halves, ModelInfo, Network, NetworkHalf, Piece, RequestHalf,
};
pub use error::{Error, Result};
pub use runner::Runner;
pub use tagger::{Tagger, TaggerOptions, DEFAULT_BATCH_SIZE};
pub use threading::EncoderThreading;

/// The version of this release, written into the models it trains.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
