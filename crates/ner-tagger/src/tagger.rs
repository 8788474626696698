//! The `Tagger` that the CLI and the Python module use: a model directory read straight into
//! packed weights, and batches of tokenised sentences tagged with scores, confidences and
//! n-best. It is a [`Codec`] (encoding and decoding, shareable) and a [`Runner`] of the native
//! network ([`crate::native`]), which the server takes apart ([`Tagger::split`]).

use crate::batching::Network;
use crate::bert::{self, Tuned, TUNED_PREFIX};
use crate::codec::{Codec, Emissions, Piece};
use crate::contextual::{self, Contextual};
use crate::directory::{Meta, ModelFiles};
use crate::error::{Error, Result};
use crate::native::{NativeModel, Sizes, Workspace};
use crate::runner::Runner;
use crate::vocab::Encoded;
use crate::weights::Weights;
use crate::ModelConfig;
use ner_core::viterbi::Transitions;
use ner_core::{TagSet, Tagged};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

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
            batch_size: 64,
            threads: None,
        }
    }
}

/// The most labelings a [`TagRequest`] may ask for: the server's `nbest` limit and the Python
/// module's.
pub const MAX_NBEST: usize = 20;

/// What to compute besides the best tags.
#[derive(Debug, Clone, Copy, Default)]
pub struct TagRequest {
    /// Per-token and per-entity probabilities (forward-backward).
    pub probabilities: bool,
    /// The k best labelings with their probabilities (0: none).
    pub nbest: usize,
}

/// A native model with its buffers: the [`Network`] of the native tagger.
#[derive(Debug)]
pub struct Native {
    pub model: NativeModel,
    pub workspace: Workspace,
    pub tags: usize,
    /// Run the two directions of a layer on two threads.
    pub parallel: bool,
}

impl Network for Native {
    type Error = Error;
    fn tags(&self) -> usize {
        self.tags
    }
    fn emissions(&mut self, batch: &[&Encoded], out: &mut [Vec<f32>]) -> Result<()> {
        self.model
            .emissions(batch, self.parallel, &mut self.workspace, out);
        Ok(())
    }
}

/// A loaded model, ready to tag.
#[derive(Debug)]
pub struct Tagger {
    codec: Arc<Codec>,
    runner: Runner<Native>,
    config: ModelConfig,
    meta: Meta,
    threads: usize,
}

impl Tagger {
    /// Reads the model in `dir`.
    pub fn load(dir: &Path, opts: TaggerOptions) -> Result<Tagger> {
        let files = ModelFiles::read(dir)?;
        let weights = Weights::read(&files.weights())?;
        Self::from_parts(files, weights, opts)
    }

    /// A tagger of `files` with the weights `w` (read from its `model.safetensors`, or given
    /// by a model in memory).
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
        w.finish()?;
        let threads = opts
            .threads
            .unwrap_or_else(crate::threading::default_threads)
            .max(1);
        let contextual = load_contextual(&files, tuned, threads)?;
        let pieces = contextual.as_ref().map(|c| c.word_pieces().clone());
        let native = Native {
            model,
            workspace: Workspace::default(),
            tags: k,
            parallel: threads >= 2,
        };
        let runner = Runner {
            net: native,
            contextual,
            context_tokens: files.config.context_tokens,
            batch_size: opts.batch_size,
        };
        Ok(Tagger {
            codec: Arc::new(Codec::new(files.vocab, files.tags, transitions, pieces)),
            runner,
            config: files.config,
            meta: files.meta,
            threads,
        })
    }

    /// The request side (encoding, decoding) and the network side, apart: the server shares
    /// the first among request tasks and keeps the second on the model's thread.
    pub fn split(self) -> (Arc<Codec>, Runner<Native>) {
        (self.codec, self.runner)
    }

    pub fn codec(&self) -> &Arc<Codec> {
        &self.codec
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub fn tag_set(&self) -> &TagSet {
        self.codec.tag_set()
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn transitions(&self) -> &Transitions {
        self.codec.transitions()
    }

    /// The first-layer memo's hits and misses so far (see [`crate::native`]).
    pub fn memo_counts(&self) -> (u64, u64) {
        self.runner.net.workspace.memo_counts()
    }

    /// Tags sentences (each a slice of tokens), each a document of its own; results come
    /// back in input order. Empty sentences get empty results.
    pub fn tag<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        req: TagRequest,
    ) -> Result<Vec<Tagged>> {
        let documents: Vec<usize> = (0..sentences.len()).collect();
        self.tag_documents(sentences, &documents, req)
    }

    /// Tags sentences of documents: `documents[i]` names the document of sentence `i`, and a
    /// document's sentences are consecutive. A model with document context reads them
    /// together; others tag each sentence alone.
    pub fn tag_documents<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        documents: &[usize],
        req: TagRequest,
    ) -> Result<Vec<Tagged>> {
        let em = self.emissions(sentences, documents)?;
        Ok(self.codec.decode(&em, req, self.threads >= 2))
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
        self.codec
            .encode(sentences, documents.to_vec(), self.threads >= 2)
    }

    /// Runs the network (and the transformer) over one piece.
    pub fn forward(&mut self, piece: Piece) -> Result<Emissions> {
        self.runner.run(piece)
    }
}

/// The CRF's transitions, checked against the tag set.
fn crf_transitions(w: &mut Weights, tags: &TagSet) -> Result<Transitions> {
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

/// The transformer of a model with contextual features (with its fine-tuned layers), checked
/// against its config.
fn load_contextual(files: &ModelFiles, tuned: Tuned, threads: usize) -> Result<Option<Contextual>> {
    let config = &files.config;
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
