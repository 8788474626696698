//! Packing a libtorch model's weights for the native kernels, once, at load.

use super::gemm::Matrix;
use super::recurrent::Direction;
use crate::cells::Recurrent;
use crate::config::CellKind;
use crate::error::Result;
use tch::{Device, Kind, Tensor};

/// A tensor's values as `f32`, row-major.
pub fn values(t: &Tensor) -> Result<Vec<f32>> {
    let flat = t
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous()
        .reshape([-1]);
    Ok(Vec::<f32>::try_from(flat)?)
}

/// An embedding table: `rows` vectors of `dim` values.
#[derive(Debug, Clone)]
pub struct Table {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Table {
    pub fn from_tensor(t: &Tensor) -> Result<Table> {
        let dim = t.size().get(1).copied().unwrap_or(0) as usize;
        Ok(Table {
            dim,
            data: values(t)?,
        })
    }

    /// Row `id`; ids past the table (never produced by the vocabulary) read as zeros.
    pub fn row(&self, id: i64) -> Option<&[f32]> {
        let at = usize::try_from(id).ok()? * self.dim;
        self.data.get(at..at + self.dim)
    }
}

/// One direction of a recurrent layer.
pub fn direction(r: &Recurrent) -> Result<Direction> {
    let hidden = r.hidden() as usize;
    let w_ih = values(&r.w_ih)?;
    let w_hh = values(&r.w_hh)?;
    let gh = r.w_ih.size()[0] as usize;
    let input = r.w_ih.size()[1] as usize;
    let (b_ih, b_hh) = (values(&r.b_ih)?, values(&r.b_hh)?);
    let b_x = match r.kind() {
        CellKind::Gru => b_ih,
        _ => b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
    };
    Ok(Direction {
        kind: r.kind(),
        hidden,
        w_ih: Matrix::from_torch(&w_ih, gh, input),
        w_hh: Matrix::from_torch(&w_hh, gh, hidden),
        b_x,
        b_hh,
        peep: r.peep.as_ref().map(values).transpose()?.unwrap_or_default(),
        arch: pulp::Arch::new(),
    })
}
