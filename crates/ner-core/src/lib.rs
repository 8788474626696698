//! Everything about text and tags that the model, the trainer and the server share, in plain
//! Rust (no libtorch, no async runtime):
//!
//! - [`conll`] — streaming CoNLL reading and writing with file-and-line errors;
//! - [`scheme`] — IOB1, BIO, BIOES and BMES tags, conlleval's chunk decoding, conversions;
//! - [`label`] — typed labels, frozen for serving;
//! - [`span`] — labelled ranges that cannot be empty or inverted, and a tagged sentence;
//! - [`corpus`] — a tagged CoNLL file in memory, its tags parsed once into typed tags;
//! - [`metrics`] — entity-level P/R/F1 counted exactly as conlleval counts;
//! - [`tokenize`] and [`offsets`]: raw text to words with offsets in chars, bytes or UTF-16;
//! - [`viterbi`] — best and k-best CRF paths with the scheme's forbidden moves excluded.
//! - [`results`] — a batch's decoded sentences as each text's answer: entities, tokens, n-best.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod conll;
pub mod corpus;
pub mod crf;
pub mod document;
pub mod label;
pub mod metrics;
pub mod offsets;
pub mod results;
pub mod scheme;
pub mod span;
pub mod tokenize;
pub mod unicode;
pub mod viterbi;

pub use label::{LabelId, LabelSet};
pub use scheme::{Prefix, Tag, TagScheme, TagSet};
pub use span::{Scored, Span, Tagged};
