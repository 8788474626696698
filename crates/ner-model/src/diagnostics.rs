//! Gradient flow through time: how much a loss at the last position of a sequence depends on
//! the input at each earlier position, `|| dL / dx_t ||` against the distance `T - 1 - t`.
//!
//! The loss is a fixed random readout of the last output, `L = w · h_T`. A plain tanh RNN's
//! curve is expected to fall off exponentially with the distance (vanishing gradients); the
//! gated cells' cell state is expected to carry it much further.

use crate::batch::Batch;
use crate::cells::Recurrent;
use crate::checkpoint::LoadedModel;
use crate::config::CellKind;
use crate::error::{Result, TrainError};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Mean over the batch of `|| dL/dx_t ||` for inputs `[B, T, D]`; index `k` of the result is
/// the distance `T - 1 - t`.
pub fn gradient_profile(cell: &Recurrent, inputs: &Tensor, readout: &Tensor) -> Result<Vec<f64>> {
    let x = inputs.detach().set_requires_grad(true);
    let h = cell.forward(&x, true);
    let t_len = x.size()[1];
    let loss = (h.select(1, t_len - 1) * readout).sum(Kind::Float);
    let g = Tensor::run_backward(&[loss], &[&x], false, false)
        .into_iter()
        .next()
        .ok_or_else(|| TrainError::data("no gradient"))?;
    let norms = g
        .square()
        .sum_dim_intlist([2].as_slice(), false, Kind::Float)
        .sqrt()
        .mean_dim([0].as_slice(), false, Kind::Float);
    let v: Vec<f32> = Vec::try_from(norms)?;
    Ok(v.into_iter().rev().map(f64::from).collect())
}

/// The profile of a freshly initialised cell of `size` inputs and hidden units on standard
/// normal inputs.
pub fn untrained_profile(
    kind: CellKind,
    size: i64,
    length: i64,
    samples: i64,
    seed: i64,
) -> Result<Vec<f64>> {
    tch::manual_seed(seed);
    let vs = VarStore::new(Device::Cpu);
    let r = Recurrent::new(vs.root() / "cell", kind, size, size);
    let x = Tensor::randn([samples, length, size], (Kind::Float, Device::Cpu));
    let w = Tensor::randn([size], (Kind::Float, Device::Cpu));
    gradient_profile(&r, &x, &w)
}

/// The profile of a trained model's encoder (the forward direction of its first layer) on the
/// model's own features of real text: `tokens` cut into `samples` sequences of `length`.
pub fn trained_profile(
    m: &LoadedModel,
    tokens: &[&str],
    length: i64,
    samples: i64,
    seed: i64,
) -> Result<Vec<f64>> {
    let need = (samples * length) as usize;
    if tokens.len() < need || length < 1 {
        return Err(TrainError::data(format!(
            "{} tokens given; {need} are needed",
            tokens.len()
        )));
    }
    let seqs: Vec<&[&str]> = tokens[..need].chunks(length as usize).collect();
    let enc: Vec<_> = seqs.iter().map(|s| m.vocab.encode(s)).collect();
    let refs: Vec<_> = enc.iter().collect();
    let batch = Batch::new(&refs, Device::Cpu);
    let x = tch::no_grad(|| m.model.features(&batch, false));
    let layer = m
        .model
        .encoder
        .layers
        .first()
        .ok_or_else(|| TrainError::data("the model has no encoder layer"))?;
    tch::manual_seed(seed);
    let w = Tensor::randn([layer.fwd.hidden()], (Kind::Float, Device::Cpu));
    gradient_profile(&layer.fwd, &x, &w)
}
