//! Packing a model's weights for the native kernels, once, at load: each part takes its
//! tensors by name, with the shape the configuration gives (see [`crate::weights`]).

use super::gemm::Matrix;
use super::recurrent::Direction;
use crate::config::CellKind;
use crate::error::Result;
use crate::weights::Weights;

/// The number of gate blocks of a cell's weights.
pub(crate) fn gates(kind: CellKind) -> usize {
    match kind {
        CellKind::Lstm | CellKind::Peephole => 4,
        CellKind::Gru | CellKind::Cifg => 3,
        CellKind::Rnn => 1,
    }
}

/// One direction of a recurrent layer under `prefix` (`encoder.l0.fwd`): `w_ih [G·H, I]`,
/// `w_hh [G·H, H]`, `b_ih`, `b_hh [G·H]` and, for the peephole cell, `peep [3·H]`.
pub(crate) fn direction(
    w: &mut Weights,
    prefix: &str,
    kind: CellKind,
    input: usize,
    hidden: usize,
) -> Result<Direction> {
    let gh = gates(kind) * hidden;
    let mut take = |name: &str, shape: &[usize]| w.take(&format!("{prefix}.{name}"), shape);
    let w_ih = take("w_ih", &[gh, input])?.data;
    let w_hh = take("w_hh", &[gh, hidden])?.data;
    let b_ih = take("b_ih", &[gh])?.data;
    let b_hh = take("b_hh", &[gh])?.data;
    let peep = match kind {
        CellKind::Peephole => take("peep", &[3 * hidden])?.data,
        _ => Vec::new(),
    };
    let b_x = match kind {
        CellKind::Gru => b_ih,
        _ => b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
    };
    Ok(Direction {
        kind,
        hidden,
        w_ih: Matrix::from_torch(&w_ih, gh, input),
        w_hh: Matrix::from_torch(&w_hh, gh, hidden),
        b_x,
        b_hh,
        peep,
        arch: pulp::Arch::new(),
    })
}
