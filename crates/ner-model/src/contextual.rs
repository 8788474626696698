//! Contextual word features on libtorch: ner-tagger's sequencing and pooling (see
//! [`ner_tagger::contextual`]) over the transformer of [`crate::transformer`], on the training
//! device. Training and the torch backend use it; the native tagger runs the same features
//! through ner-tagger's own transformer, and a test compares the two.

use crate::error::Result;
use crate::transformer::Bert;
use std::path::Path;
use tch::Device;

pub use ner_tagger::contextual::{
    attach, layout_of, locate, Encoder, Layout, WordPieces, MAX_SEQUENCE, TRANSFORMERS,
};

/// The transformer of contextual features on libtorch.
pub type Contextual = ner_tagger::contextual::Contextual<Bert>;

/// Loads the transformer of `dir` onto `device`, up to the highest of `layers`.
pub fn load(dir: &Path, layers: &[usize], device: Device) -> Result<Contextual> {
    let upto = layers.iter().copied().max().unwrap_or(0);
    let bert = Bert::load(dir, upto, device)?;
    Ok(Contextual::with_encoder(bert, dir, layers)?)
}
