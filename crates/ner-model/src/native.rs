//! A libtorch model's weights packed for ner-tagger's native forward pass, through the same
//! names and shapes as `model.safetensors`: what the differential tests compare.

use crate::error::Result;
use crate::model::BiLstmCrf;
use crate::vocab::Vocab;
use ner_tagger::native::{NativeModel, Sizes, Table};
use ner_tagger::weights::{Tensor as Values, Weights};
use std::collections::HashMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

pub use ner_tagger::native::Workspace;
pub use ner_tagger::tagger::Native;

/// A tensor's values as `f32`, row-major, with its shape.
pub fn values(t: &Tensor) -> Result<Values> {
    let flat = t
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous()
        .reshape([-1]);
    Ok(Values {
        shape: t.size().iter().map(|&d| d as usize).collect(),
        data: Vec::<f32>::try_from(flat)?,
    })
}

/// The variables of `vs` by name, as `model.safetensors` stores them.
pub fn weights(vs: &VarStore) -> Result<Weights> {
    let tensors = vs
        .variables()
        .iter()
        .map(|(n, t)| Ok((n.clone(), values(t)?)))
        .collect::<Result<HashMap<_, _>>>()?;
    Ok(Weights::from_tensors(
        Path::new("(model in memory)"),
        tensors,
    ))
}

/// `model` (whose variables are in `vs`) packed for the native forward pass, with the CRF's
/// variables left out.
pub fn pack(vs: &VarStore, model: &BiLstmCrf, vocab: &Vocab) -> Result<NativeModel> {
    let mut w = weights(vs)?;
    w.skip("crf.");
    let sizes = Sizes {
        words: vocab.num_words(),
        chars: vocab.num_chars(),
        bigrams: vocab.num_bigrams(),
        lexicon: vocab.num_lexicon(),
        tags: model.tags.len(),
    };
    let subword = match &model.subword_table {
        Some(t) => {
            let v = values(t)?;
            let dim = v.shape.get(1).copied().unwrap_or(0);
            Some(Table { dim, data: v.data })
        }
        None => None,
    };
    let native = NativeModel::new(&mut w, &model.config, sizes, subword)?;
    w.finish()?;
    Ok(native)
}

/// [`pack`] with fresh buffers, as the native tagger runs it.
pub fn native(vs: &VarStore, model: &BiLstmCrf, vocab: &Vocab, parallel: bool) -> Result<Native> {
    Ok(Native::new(
        pack(vs, model, vocab)?,
        model.tags.len(),
        parallel,
    ))
}
