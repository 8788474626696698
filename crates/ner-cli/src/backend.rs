//! What runs the network: the native tagger (ner-tagger, plain Rust), or libtorch (ner-model)
//! in the build with the `torch` feature, which also trains. Both read the same model
//! directories and give the same results; the CLI and the server see one [`Tagger`].

use anyhow::Result;
use ner_core::{TagSet, Tagged};
use ner_tagger::directory::Meta;
use ner_tagger::{EncoderThreading, ModelConfig, TagRequest};
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
    pub threads: Option<i32>,
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
            batch_size: 64,
            threads: None,
            device: "cpu".into(),
            backend: Backend::Native,
            threading: EncoderThreading::Auto,
        }
    }
}

/// A loaded model on one of the backends.
#[derive(Debug)]
pub enum Tagger {
    Native(Box<ner_tagger::Tagger>),
    #[cfg(feature = "torch")]
    Torch(Box<ner_model::Tagger>),
}

impl Tagger {
    pub fn load(dir: &Path, opts: &Options) -> Result<Tagger> {
        if opts.backend == Backend::Native && opts.device == "cpu" {
            let native = ner_tagger::TaggerOptions {
                batch_size: opts.batch_size,
                threads: opts.threads.map(|t| t.max(1) as usize),
            };
            return Ok(Tagger::Native(Box::new(ner_tagger::Tagger::load(
                dir, native,
            )?)));
        }
        torch(dir, opts)
    }

    pub fn tag_set(&self) -> &TagSet {
        match self {
            Tagger::Native(t) => t.tag_set(),
            #[cfg(feature = "torch")]
            Tagger::Torch(t) => t.tag_set(),
        }
    }

    pub fn config(&self) -> &ModelConfig {
        match self {
            Tagger::Native(t) => t.config(),
            #[cfg(feature = "torch")]
            Tagger::Torch(t) => &t.model().model.config,
        }
    }

    pub fn meta(&self) -> &Meta {
        match self {
            Tagger::Native(t) => t.meta(),
            #[cfg(feature = "torch")]
            Tagger::Torch(t) => &t.model().meta,
        }
    }

    /// The native first-layer memo's hits and misses so far (`None` on libtorch).
    pub fn memo_counts(&self) -> Option<(u64, u64)> {
        match self {
            Tagger::Native(t) => Some(t.memo_counts()),
            #[cfg(feature = "torch")]
            Tagger::Torch(_) => None,
        }
    }

    /// Tags sentences, each a document of its own.
    pub fn tag<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        req: TagRequest,
    ) -> Result<Vec<Tagged>> {
        let documents: Vec<usize> = (0..sentences.len()).collect();
        self.tag_documents(sentences, &documents, req)
    }

    /// Tags sentences of documents (`documents[i]` for sentence `i`, consecutive).
    pub fn tag_documents<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        documents: &[usize],
        req: TagRequest,
    ) -> Result<Vec<Tagged>> {
        Ok(match self {
            Tagger::Native(t) => t.tag_documents(sentences, documents, req)?,
            #[cfg(feature = "torch")]
            Tagger::Torch(t) => t.tag_documents(sentences, documents, req)?,
        })
    }

    /// The best tag path of every sentence of documents.
    pub fn best_paths<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        documents: &[usize],
    ) -> Result<Vec<Vec<usize>>> {
        Ok(match self {
            Tagger::Native(t) => t.best_paths(sentences, documents)?,
            #[cfg(feature = "torch")]
            Tagger::Torch(t) => t.best_paths(sentences, documents)?,
        })
    }
}

#[cfg(feature = "torch")]
fn torch(dir: &Path, opts: &Options) -> Result<Tagger> {
    let options = ner_model::TaggerOptions {
        batch_size: opts.batch_size,
        threads: opts.threads,
        device: crate::device::parse_device(&opts.device)?,
        threading: opts.threading,
    };
    Ok(Tagger::Torch(Box::new(ner_model::Tagger::load(
        dir, options,
    )?)))
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
