//! The one `Tagger`: a model's request half (the [`Codec`], shareable) and its network half (a
//! [`Runner`] over any [`Network`]) together, tagging batches of tokenised sentences with
//! scores, confidences and n-best. The native network ([`Native`]) is loaded here; ner-model
//! supplies libtorch's network and transformer for the same `Tagger`. The server takes it apart
//! ([`Tagger::split`]).

use crate::bert::{self, Bert, Tuned, TUNED_PREFIX};
use crate::codec::Codec;
use crate::contextual::{self, Contextual, Encoder};
use crate::contract::{DecodeOptions, Emissions, ModelInfo, Network, Piece};
use crate::directory::{Meta, ModelFiles};
use crate::error::{Error, Result};
use crate::native::{NativeModel, Sizes, Workspace};
use crate::runner::Runner;
use crate::vocab::{Encoded, Vocab};
use crate::weights::Weights;
use crate::ModelConfig;
use ner_core::viterbi::Transitions;
use ner_core::{TagSet, Tagged};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Sentences per forward pass unless told otherwise: the default of every command and of the
/// Python module.
pub const DEFAULT_BATCH_SIZE: usize = 64;

/// How the tagger runs.
#[derive(Debug, Clone)]
pub struct TaggerOptions {
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// Threads in all (`None`: the machine's cores).
    pub threads: Option<usize>,
}

impl Default for TaggerOptions {
    fn default() -> Self {
        TaggerOptions {
            batch_size: DEFAULT_BATCH_SIZE,
            threads: None,
        }
    }
}

impl TaggerOptions {
    /// The threads to use: as given, else the machine's cores; at least one.
    pub fn resolved_threads(&self) -> usize {
        self.threads
            .unwrap_or_else(crate::threading::default_threads)
            .max(1)
    }
}

/// A native model with its buffers: the [`Network`] of the native tagger.
#[derive(Debug)]
pub struct Native {
    model: NativeModel,
    workspace: Workspace,
    tags: usize,
    /// Run the two directions of a layer on two threads.
    parallel: bool,
}

impl Native {
    /// The native network of `model`, with `tags` tags, on two threads when `parallel`.
    pub fn new(model: NativeModel, tags: usize, parallel: bool) -> Self {
        Native {
            model,
            workspace: Workspace::default(),
            tags,
            parallel,
        }
    }

    /// The same network with these buffers (a memo of another size, say).
    pub fn with_workspace(self, workspace: Workspace) -> Self {
        Native { workspace, ..self }
    }
}

impl Network for Native {
    fn tags(&self) -> usize {
        self.tags
    }
    fn emissions(&mut self, batch: &[&Encoded], out: &mut [Vec<f32>]) -> Result<()> {
        self.model
            .emissions(batch, self.parallel, &mut self.workspace, out);
        Ok(())
    }
    fn memo_counts(&self) -> Option<(u64, u64)> {
        Some(self.workspace.memo_counts())
    }
}

/// A loaded model, ready to tag: the native network by default, or any other [`Network`] and
/// transformer ([`Encoder`]).
#[derive(Debug)]
pub struct Tagger<N = Native, E = Bert> {
    codec: Arc<Codec>,
    runner: Runner<N, E>,
    config: ModelConfig,
    meta: Meta,
    threads: usize,
}

impl Tagger {
    /// Reads the model in `dir` into the native network.
    pub fn load(dir: &Path, opts: TaggerOptions) -> Result<Tagger> {
        let files = ModelFiles::read(dir)?;
        let weights = Weights::read(&files.weights())?;
        Self::from_parts(files, weights, opts)
    }

    /// A native tagger of `files` with the weights `w` (read from its `model.safetensors`, or
    /// given by a model in memory).
    pub fn from_parts(
        mut files: ModelFiles,
        mut w: Weights,
        opts: TaggerOptions,
    ) -> Result<Tagger> {
        let k = files.tags.len();
        let transitions = crf_transitions(&mut w, &files.tags)?;
        let v = &files.vocab;
        let sizes = Sizes {
            words: v.num_words(),
            chars: v.num_chars(),
            bigrams: v.num_bigrams(),
            lexicon: v.num_lexicon(),
            tags: k,
        };
        let model = NativeModel::new(&mut w, &files.config, sizes, files.subword.take())?;
        let tuned = tuned_layers(&mut w, &files.config)?;
        let version = w.version();
        w.finish()?;
        let threads = opts.resolved_threads();
        let contextual = load_contextual(&files.config, tuned, threads)?;
        let net = Native::new(model, k, threads >= 2);
        let parts = Parts {
            vocab: files.vocab,
            tags: files.tags,
            config: files.config,
            meta: files.meta,
            transitions,
            version,
            threads,
        };
        Ok(parts.tagger(net, contextual, opts.batch_size))
    }
}

/// What a [`Tagger`] is built of besides its network: what a model directory says and its
/// CRF's transitions. ner-model builds libtorch's tagger from the same.
#[derive(Debug)]
pub struct Parts {
    /// The vocabularies.
    pub vocab: Vocab,
    /// The tag set.
    pub tags: TagSet,
    /// The architecture.
    pub config: ModelConfig,
    /// `meta.json`.
    pub meta: Meta,
    /// The CRF's transitions.
    pub transitions: Transitions,
    /// A content hash of the weights.
    pub version: String,
    /// Threads in all.
    pub threads: usize,
}

impl Parts {
    /// The tagger of these parts over `net`, with its transformer when the model has one.
    pub fn tagger<N: Network, E: Encoder>(
        self,
        net: N,
        contextual: Option<Contextual<E>>,
        batch_size: usize,
    ) -> Tagger<N, E> {
        let pieces = contextual.as_ref().map(|c| c.word_pieces().clone());
        let info = ModelInfo::new(&self.meta, &self.config, self.tags, self.version);
        let runner = Runner::new(net, contextual, self.config.context_tokens, batch_size);
        let parallel = self.threads >= 2;
        Tagger {
            codec: Arc::new(Codec::new(
                self.vocab,
                info,
                self.transitions,
                pieces,
                parallel,
            )),
            runner,
            config: self.config,
            meta: self.meta,
            threads: self.threads,
        }
    }
}

impl<N: Network, E: Encoder> Tagger<N, E> {
    /// The request half (encoding, decoding) and the network half, apart: the server shares
    /// the first among request tasks and keeps the second on the model's thread.
    pub fn split(self) -> (Arc<Codec>, Runner<N, E>) {
        (self.codec, self.runner)
    }

    /// The request half.
    pub fn codec(&self) -> &Arc<Codec> {
        &self.codec
    }

    /// The network this tagger runs.
    pub fn network(&self) -> &N {
        &self.runner.net
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The model's `meta.json`.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The model's static facts.
    pub fn info(&self) -> &ModelInfo {
        self.codec.info()
    }

    /// The model's tags.
    pub fn tag_set(&self) -> &TagSet {
        self.codec.tag_set()
    }

    /// Threads in all.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The CRF's transitions.
    pub fn transitions(&self) -> &Transitions {
        self.codec.transitions()
    }

    /// The network's first-layer memo hits and misses so far (`None` without a memo).
    pub fn memo_counts(&self) -> Option<(u64, u64)> {
        self.runner.net.memo_counts()
    }

    /// Tags sentences (each a slice of tokens), each a document of its own; results come
    /// back in input order. Empty sentences get empty results.
    pub fn tag<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        options: DecodeOptions,
    ) -> Result<Vec<Tagged>> {
        let documents: Vec<usize> = (0..sentences.len()).collect();
        self.tag_documents(sentences, &documents, options)
    }

    /// Tags sentences of documents: `documents[i]` names the document of sentence `i`, and a
    /// document's sentences are consecutive. A model with document context reads them
    /// together; others tag each sentence alone.
    pub fn tag_documents<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        documents: &[usize],
        options: DecodeOptions,
    ) -> Result<Vec<Tagged>> {
        let em = self.emissions(sentences, documents)?;
        Ok(self.codec.decode(&em, options))
    }

    /// The best tag path of every sentence (empty for an empty one), in input order:
    /// `documents` as for [`Tagger::tag_documents`].
    pub fn best_paths<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        documents: &[usize],
    ) -> Result<Vec<Vec<usize>>> {
        let em = self.emissions(sentences, documents)?;
        Ok(self.codec.best_paths(&em))
    }

    /// Every sentence's emissions: encoded, then run through the network.
    pub fn emissions<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        documents: &[usize],
    ) -> Result<Emissions> {
        let piece = self.encode(sentences, documents);
        self.forward(piece)
    }

    /// Sentences of documents as network input.
    pub fn encode<S: AsRef<str> + Sync>(&self, sentences: &[Vec<S>], documents: &[usize]) -> Piece {
        self.codec.encode(sentences, documents.to_vec())
    }

    /// Runs the network (and the transformer) over one piece.
    pub fn forward(&mut self, piece: Piece) -> Result<Emissions> {
        self.runner.run(piece)
    }
}

impl<N: Network + 'static, E: Encoder + 'static> Tagger<N, E> {
    /// The same tagger over a boxed network and transformer, so that a caller can choose the
    /// backend at run time and hold one type.
    pub fn boxed(self) -> Tagger<Box<dyn Network>, Box<dyn Encoder>> {
        let Tagger {
            codec,
            runner,
            config,
            meta,
            threads,
        } = self;
        Tagger {
            codec,
            runner: runner.boxed(),
            config,
            meta,
            threads,
        }
    }
}

/// The CRF's transitions, checked against the tag set.
pub fn crf_transitions(w: &mut Weights, tags: &TagSet) -> Result<Transitions> {
    let k = tags.len();
    let mut crf =
        |name: &str, shape: &[usize]| w.take(&format!("crf.{name}"), shape).map(|t| t.data);
    let (start, end, trans) = (
        crf("start", &[k])?,
        crf("end", &[k])?,
        crf("trans", &[k, k])?,
    );
    Transitions::new(k, &start, &end, &trans, Some(tags))
        .ok_or_else(|| w.bad("the CRF's transitions do not fit the tag set".into()))
}

/// The transformer layers a fine-tuned model stores (see [`ModelConfig::finetune_layers`]).
/// Every tensor of those layers must be there, and no other.
fn tuned_layers(w: &mut Weights, config: &ModelConfig) -> Result<Tuned> {
    if config.contextual_layers.is_empty() {
        return Ok(Tuned::default());
    }
    let upto = config.contextual_layers.iter().copied().max().unwrap_or(0);
    let mut tensors = w.take_prefixed(TUNED_PREFIX);
    let mut kept = HashMap::new();
    for i in bert::tuned_layers(upto, config.finetune_layers) {
        for name in bert::layer_tensor_names(i) {
            let t = tensors.remove(&name).ok_or_else(|| {
                w.bad(format!(
                    "tensor \"{TUNED_PREFIX}{name}\" is missing: config.json says the top {} transformer layers were fine-tuned",
                    config.finetune_layers
                ))
            })?;
            kept.insert(name, t);
        }
    }
    if let Some(name) = tensors.keys().min() {
        return Err(w.bad(format!(
            "unexpected tensor \"{TUNED_PREFIX}{name}\": config.json fine-tunes the top {} transformer layers of {upto}",
            config.finetune_layers
        )));
    }
    Ok(Tuned {
        origin: Some(w.path().to_owned()),
        tensors: kept,
    })
}

/// The native transformer of a model with contextual features (with its fine-tuned layers),
/// checked against its config.
fn load_contextual(
    config: &ModelConfig,
    tuned: Tuned,
    threads: usize,
) -> Result<Option<Contextual>> {
    if config.contextual_layers.is_empty() {
        return Ok(None);
    }
    let source = config.contextual_source.as_deref().unwrap_or_default();
    let dir = contextual::locate(source)?;
    let mut c = Contextual::load_tuned(&dir, &config.contextual_layers, tuned)?;
    if c.dim() as i64 != config.contextual_dim {
        return Err(Error::Data(format!(
            "the transformer {source:?} gives {}-wide features, the model was trained on {}",
            c.dim(),
            config.contextual_dim
        )));
    }
    c.set_threads(threads);
    Ok(Some(c))
}
