//! What runs the network: the native forward pass (ner-tagger, plain Rust), or libtorch
//! (ner-model) in the build with the `torch` feature, which also trains. The CLI chooses one
//! and hands its network to ner-tagger's one [`Tagger`]: both read the same model directories
//! and give the same results.

use anyhow::Result;
use ner_core::document::DEFAULT_MAX_SENTENCE_TOKENS;
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

/// The inference settings of every command that tags (serve, predict, eval, bench), declared
/// once and flattened into each.
#[derive(Debug, Clone, clap::Args)]
pub struct InferenceArgs {
    /// Sentences per forward pass.
    #[arg(long, env = "NER_BATCH_SIZE", alias = "model-batch-size", default_value_t = ner_tagger::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Threads in all (default: the machine's cores): with 2 or more the native network runs
    /// a layer's two directions side by side and the transformer splits its products; the
    /// torch backend gives them to libtorch.
    #[arg(long, env = "NER_THREADS")]
    pub threads: Option<usize>,
    /// cpu, cuda or cuda:N (anything but cpu runs libtorch).
    #[arg(long, env = "NER_DEVICE", default_value = "cpu")]
    pub device: String,
    /// What runs the network: native (plain Rust, packed weights; the default) or torch
    /// (libtorch, the reference; the training build only).
    #[arg(long, env = "NER_BACKEND", value_enum, default_value = "native")]
    pub backend: Backend,
    /// Sentences of raw text are cut into pieces of at most this many tokens.
    #[arg(long, env = "NER_MAX_SENTENCE_TOKENS", default_value_t = DEFAULT_MAX_SENTENCE_TOKENS)]
    pub max_sentence_tokens: usize,
    /// How the torch backend uses two or more threads: directions (the encoder's two
    /// directions on two threads; best under a server's load, where libtorch's spinning
    /// intra-op threads take the cycles the HTTP side needs), intra-op, or auto (directions
    /// for small batches). Default: directions for `ner serve`, auto for the others.
    #[arg(
        long,
        env = "NER_ENCODER_THREADING",
        alias = "encoder-threading",
        value_enum
    )]
    pub threading: Option<EncoderThreading>,
}

impl Default for InferenceArgs {
    fn default() -> Self {
        InferenceArgs {
            batch_size: ner_tagger::DEFAULT_BATCH_SIZE,
            threads: None,
            device: "cpu".into(),
            backend: Backend::Native,
            max_sentence_tokens: DEFAULT_MAX_SENTENCE_TOKENS,
            threading: None,
        }
    }
}

impl InferenceArgs {
    /// The same settings with the threading a command uses when none was given.
    pub fn threading_or(mut self, default: EncoderThreading) -> Self {
        self.threading = Some(self.threading.unwrap_or(default));
        self
    }

    fn tagger_options(&self) -> TaggerOptions {
        TaggerOptions {
            batch_size: self.batch_size,
            threads: self.threads,
        }
    }
}

/// ner-tagger's one tagger, over the network of whichever backend was chosen.
pub type Tagger = ner_tagger::Tagger<Box<dyn Network>, Box<dyn Encoder>>;

/// Loads the model in `dir` on the backend `opts` names.
pub fn load(dir: &Path, opts: &InferenceArgs) -> Result<Tagger> {
    if opts.backend == Backend::Native && opts.device == "cpu" {
        return Ok(ner_tagger::Tagger::load(dir, opts.tagger_options())?.boxed());
    }
    torch(dir, opts)
}

#[cfg(feature = "torch")]
fn torch(dir: &Path, opts: &InferenceArgs) -> Result<Tagger> {
    let options = ner_model::TorchOptions {
        tagger: opts.tagger_options(),
        device: crate::device::parse_device(&opts.device)?,
        threading: opts.threading.unwrap_or_default(),
    };
    Ok(ner_model::tagger::load(dir, options)?.boxed())
}

#[cfg(not(feature = "torch"))]
fn torch(_dir: &Path, opts: &InferenceArgs) -> Result<Tagger> {
    if opts.device != "cpu" {
        return Err(needs_torch(&format!("--device {}", opts.device)));
    }
    match opts.backend {
        Backend::Torch => Err(needs_torch("--backend torch")),
        Backend::Native => anyhow::bail!("the native backend runs on the CPU only"),
    }
}
