//! `ner study`: the cell-variant study, the gradient-flow diagnostic, and the memory study.
//!
//! `cells` trains the same configuration with each recurrent cell over several seeds through
//! the library's training run, resumes where an interrupted study stopped, and writes a
//! Markdown and a JSON table and a plot of dev F1 per epoch. `gradients` measures how the
//! gradient of a loss at the last position reaches the inputs at each earlier position.
//! `memory` trains each cell on a synthetic task whose tags depend on a token T steps back.

mod cells;
mod gradients;
mod memory;
mod memory_task;

pub use cells::CellsArgs;
pub use gradients::GradientsArgs;
pub use memory::MemoryArgs;

use anyhow::Result;

#[derive(Debug, clap::Subcommand)]
pub enum Study {
    /// Train every cell over several seeds and compare them.
    Cells(Box<CellsArgs>),
    /// Gradient norm of a last-position loss with respect to each earlier input.
    Gradients(GradientsArgs),
    /// How far back each trained cell can remember: a synthetic task whose tags depend on a
    /// token T steps earlier.
    Memory(Box<MemoryArgs>),
}

pub fn run(study: Study) -> Result<()> {
    match study {
        Study::Cells(a) => cells::run(*a),
        Study::Gradients(a) => gradients::run(a),
        Study::Memory(a) => memory::run(*a),
    }
}
