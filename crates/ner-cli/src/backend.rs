//! What runs the network: the native forward pass (ner-tagger, plain Rust), or libtorch
//! (ner-model) in the build with the `torch` feature, which also trains. The CLI chooses one
//! and hands its network to ner-tagger's one [`Tagger`]: both read the same model directories
//! and give the same results.

use anyhow::Result;
use ner_tagger::contextual::Encoder;
use ner_tagger::{EncoderThreading, Network, TaggerOptions};
use std::path::Path;

/// What the build without libtorch says when asked for something only the other has.
#[cfg_attr(feature = "torch", allow(dead_code))]
pub fn needs_torch(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} needs libtorch, and this `ner` was built without it: build the training binary with `cargo build --release --features torch` (scripts/setup.sh --torch installs libtorch and does that)"
    )
}

/// What runs the network at inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Backend {
    /// The native forward pass: packed weights, no libtorch.
    #[default]
    Native,
    /// libtorch, as in training: the reference (the `torch` build only).
    Torch,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::Torch => "torch",
        }
    }
}

/// How a tagger runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// Threads in all (`None`: the machine's cores).
    pub threads: Option<usize>,
    /// cpu, cuda or cuda:N (anything but cpu runs libtorch).
    pub device: String,
    pub backend: Backend,
    /// How libtorch's backend uses two or more threads.
    #[cfg_attr(not(feature = "torch"), allow(dead_code))]
    pub threading: EncoderThreading,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_size: ner_tagger::DEFAULT_BATCH_SIZE,
            threads: None,
            device: "cpu".into(),
            backend: Backend::Native,
            threading: EncoderThreading::Auto,
        }
    }
}

/// ner-tagger's one tagger, over the network of whichever backend was chosen.
pub type Tagger = ner_tagger::Tagger<Box<dyn Network>, Box<dyn Encoder>>;

/// Loads the model in `dir` on the backend `opts` names.
pub fn load(dir: &Path, opts: &Options) -> Result<Tagger> {
    if opts.backend == Backend::Native && opts.device == "cpu" {
        let native = TaggerOptions {
            batch_size: opts.batch_size,
            threads: opts.threads,
        };
        return Ok(ner_tagger::Tagger::load(dir, native)?.boxed());
    }
    torch(dir, opts)
}

#[cfg(feature = "torch")]
fn torch(dir: &Path, opts: &Options) -> Result<Tagger> {
    let options = ner_model::TorchOptions {
        tagger: TaggerOptions {
            batch_size: opts.batch_size,
            threads: opts.threads,
        },
        device: crate::device::parse_device(&opts.device)?,
        threading: opts.threading,
    };
    Ok(ner_model::tagger::load(dir, options)?.boxed())
}

#[cfg(not(feature = "torch"))]
fn torch(_dir: &Path, opts: &Options) -> Result<Tagger> {
    if opts.device != "cpu" {
        return Err(needs_torch(&format!("--device {}", opts.device)));
    }
    match opts.backend {
        Backend::Torch => Err(needs_torch("--backend torch")),
        Backend::Native => anyhow::bail!("the native backend runs on the CPU only"),
    }
}
