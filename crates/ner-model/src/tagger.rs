//! The `Tagger` used by the CLI and the server: owns a loaded model on the thread that created
//! it, takes batches of tokenised sentences, and returns tags, scores, confidences and n-best.
//!
//! Sentences are sorted by length and cut into batches to limit padding; the model runs under
//! `no_grad`; decoding (Viterbi, forward-backward) runs in plain Rust on the emissions.

use crate::batch::Batch;
use crate::checkpoint::{self, LoadedModel};
use crate::context;
use crate::contextual;
use crate::error::Result;
use crate::model::BiLstmCrf;
use crate::native::{NativeModel, Workspace};
use crate::threading::{EncoderThreading, Threading};
use crate::vocab::Encoded;
use ner_core::crf::ForwardBackward;
use ner_core::scheme::{decode_spans, Prefix, Tag};
use ner_core::viterbi::{Transitions, Viterbi};
use ner_core::{Scored, TagScheme, TagSet, Tagged};
use rayon::prelude::*;
use std::path::Path;
use tch::{Device, Kind};

/// How the tagger runs.
#[derive(Debug, Clone)]
pub struct TaggerOptions {
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// libtorch intra-op threads in all (`None`: libtorch's count on the creating thread).
    pub threads: Option<i32>,
    pub device: Device,
    /// How two or more threads are used on the CPU.
    pub threading: EncoderThreading,
    /// What runs the network (CUDA devices always use libtorch).
    pub backend: Backend,
}

impl Default for TaggerOptions {
    fn default() -> Self {
        TaggerOptions {
            batch_size: 64,
            threads: None,
            device: Device::Cpu,
            threading: EncoderThreading::Auto,
            backend: Backend::default(),
        }
    }
}

/// What runs the network at inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The native forward pass ([`crate::native`]): packed weights, no libtorch dispatch.
    #[default]
    Native,
    /// libtorch, as in training: the reference.
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

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "native" => Ok(Self::Native),
            "torch" => Ok(Self::Torch),
            _ => Err(format!("unknown backend {s:?}: expected native or torch")),
        }
    }
}

/// A native model with its buffers, when the tagger runs natively.
#[derive(Debug)]
pub struct Native {
    pub model: NativeModel,
    pub workspace: Workspace,
}

impl Native {
    /// The native model when `backend` asks for it and the device is the CPU (CUDA always runs
    /// libtorch).
    pub fn for_backend(
        model: &BiLstmCrf,
        backend: Backend,
        device: Device,
    ) -> Result<Option<Native>> {
        (backend == Backend::Native && device == Device::Cpu)
            .then(|| Native::new(model))
            .transpose()
    }

    pub fn new(model: &BiLstmCrf) -> Result<Native> {
        Ok(Native {
            model: NativeModel::new(model)?,
            workspace: Workspace::default(),
        })
    }
}

/// What to compute besides the best tags.
#[derive(Debug, Clone, Copy, Default)]
pub struct TagRequest {
    /// Per-token and per-entity probabilities (forward-backward).
    pub probabilities: bool,
    /// The k best labelings with their probabilities (0: none).
    pub nbest: usize,
}

pub struct Tagger {
    loaded: LoadedModel,
    transitions: Transitions,
    viterbi: Viterbi,
    batch_size: usize,
    device: Device,
    threading: Threading,
    native: Option<Native>,
}

impl std::fmt::Debug for Tagger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tagger")
            .field("model", &self.loaded)
            .field("threading", &self.threading)
            .finish_non_exhaustive()
    }
}

impl Tagger {
    pub fn load(dir: &Path, opts: TaggerOptions) -> Result<Self> {
        let loaded = checkpoint::load(dir, opts.device)?;
        Self::from_loaded(loaded, opts)
    }

    pub fn from_loaded(loaded: LoadedModel, opts: TaggerOptions) -> Result<Self> {
        let transitions = loaded.model.crf.transitions()?;
        let native = Native::for_backend(&loaded.model, opts.backend, opts.device)?;
        Ok(Tagger {
            loaded,
            transitions,
            viterbi: Viterbi::new(),
            batch_size: opts.batch_size,
            device: opts.device,
            threading: Threading::new(opts.threads, opts.threading),
            native,
        })
    }

    pub fn model(&self) -> &LoadedModel {
        &self.loaded
    }

    pub fn tag_set(&self) -> &TagSet {
        &self.loaded.model.tags
    }

    pub fn threading(&self) -> &Threading {
        &self.threading
    }

    /// The native first-layer memo's hits and misses so far (`None` on libtorch), see
    /// [`crate::native`].
    pub fn memo_counts(&self) -> Option<(u64, u64)> {
        self.native.as_ref().map(|n| n.workspace.memo_counts())
    }

    /// The backend that runs the network.
    pub fn backend(&self) -> Backend {
        if self.native.is_some() {
            Backend::Native
        } else {
            Backend::Torch
        }
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
        let vocab = &self.loaded.vocab;
        let mut encoded: Vec<Encoded> = match self.threading.threads() >= 2 && sentences.len() > 1 {
            true => sentences.par_iter().map(|s| vocab.encode(s)).collect(),
            false => sentences.iter().map(|s| vocab.encode(s)).collect(),
        };
        if let Some(c) = &self.loaded.contextual {
            let in_context = self.loaded.model.config.context_tokens > 0;
            contextual::attach(&mut encoded, c.features(sentences, documents, in_context)?);
        }
        let mut emissions: Vec<Vec<f32>> = vec![Vec::new(); sentences.len()];
        let Tagger {
            loaded,
            transitions,
            viterbi,
            batch_size,
            device,
            threading,
            native,
        } = self;
        let parallel = threading.threads() >= 2;
        let run = Inference {
            batch_size: *batch_size,
            device: *device,
            threading: Some(threading),
            native: native.as_mut(),
        };
        run.for_each_in_context(&loaded.model, &encoded, documents, |i, em| {
            emissions[i] = em.to_vec();
        })?;
        let tags = &loaded.model.tags;
        let one = |v: &mut Viterbi, em: &Vec<f32>| match em.is_empty() {
            true => Tagged::default(),
            false => decode(v, transitions, tags, em, req),
        };
        // Each sentence decodes on its own: on two threads when the tagger has them, since the
        // network's serial parts leave the second core idle in between.
        Ok(match parallel && emissions.len() > 1 {
            true => emissions.par_iter().map_init(Viterbi::new, one).collect(),
            false => emissions.iter().map(|em| one(viterbi, em)).collect(),
        })
    }
}

/// Decodes one sentence's emissions `[len][K]`: best path, entities and, on request,
/// probabilities and n-best.
pub fn decode(
    viterbi: &mut Viterbi,
    transitions: &Transitions,
    ts: &TagSet,
    em: &[f32],
    req: TagRequest,
) -> Tagged {
    let mut tags = Vec::new();
    let score = viterbi.decode(transitions, em, &mut tags);
    let typed: Vec<Tag> = tags.iter().map(|&t| ts.tag(t)).collect();
    let spans = decode_spans(&typed);
    let fb = (req.probabilities || req.nbest > 0).then(|| ForwardBackward::new(transitions, em));
    let probs = fb.as_ref().filter(|_| req.probabilities);
    let entities = spans
        .into_iter()
        .map(|span| {
            let probability = probs.map_or(1.0, |fb| {
                let s = &tags[span.start()..span.end()];
                fb.segment_probability(transitions, em, span.start(), s, &continuations(ts, &span))
            });
            Scored { span, probability }
        })
        .collect();
    let token_probabilities = probs.map_or_else(Vec::new, |fb| {
        tags.iter()
            .enumerate()
            .map(|(t, &j)| fb.marginal(t, j))
            .collect()
    });
    let nbest = match &fb {
        Some(fb) if req.nbest > 0 => {
            let log_z = fb.log_partition();
            viterbi
                .nbest(transitions, em, req.nbest)
                .into_iter()
                .map(|(p, s)| (p, (s as f64 - log_z).exp()))
                .collect()
        }
        _ => Vec::new(),
    };
    Tagged {
        tags,
        score,
        token_probabilities,
        entities,
        nbest,
    }
}

/// The tags that would extend a span past its end: `I-X` in BIO, none in BIOES (whose spans
/// end with `E-` or `S-`).
fn continuations(ts: &TagSet, span: &ner_core::Span) -> Vec<usize> {
    if ts.scheme() != TagScheme::Bio {
        return Vec::new();
    }
    ts.index(Tag::new(Prefix::I, *span.label()))
        .into_iter()
        .collect()
}

/// How a batch of sentences goes through the network.
#[derive(Debug)]
pub struct Inference<'a> {
    /// Sentences per forward pass.
    pub batch_size: usize,
    pub device: Device,
    /// `None`: on the calling thread with libtorch's thread count as it is.
    pub threading: Option<&'a mut Threading>,
    /// Run natively rather than through libtorch.
    pub native: Option<&'a mut Native>,
}

impl Inference<'_> {
    /// On the calling thread, in batches of `batch_size`, leaving libtorch's threads alone.
    pub fn plain(batch_size: usize, device: Device) -> Inference<'static> {
        Inference {
            batch_size,
            device,
            threading: None,
            native: None,
        }
    }

    /// Runs the model over `data` in batches sorted by length (to limit padding), under
    /// `no_grad`, and calls `f(index, emissions)` with each non-empty sentence's emissions
    /// `[len][K]`.
    pub fn for_each_emissions(
        mut self,
        model: &BiLstmCrf,
        data: &[Encoded],
        mut f: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        let k = model.tags.len();
        let mut order: Vec<usize> = (0..data.len()).filter(|&i| !data[i].is_empty()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(data[i].len()));
        if let Some(native) = self.native.take() {
            let parallel = self.threading.as_ref().is_some_and(|t| t.threads() >= 2);
            for_each_native(native, parallel, data, &order, self.batch_size, f);
            return Ok(());
        }
        for chunk in order.chunks(self.batch_size.max(1)) {
            let helper = match (&mut self.threading, self.device) {
                (Some(t), Device::Cpu) => t.prepare(chunk.len()),
                _ => None,
            };
            let items: Vec<_> = chunk.iter().map(|&i| &data[i]).collect();
            let batch = Batch::new(&items, self.device);
            let em = tch::no_grad(|| model.emissions_with(&batch, false, helper));
            let t_max = batch.max_len() as usize;
            let flat =
                Vec::<f32>::try_from(em.to_device(Device::Cpu).to_kind(Kind::Float).reshape([-1]))?;
            for (row, &i) in chunk.iter().enumerate() {
                let start = row * t_max * k;
                f(i, &flat[start..start + data[i].len() * k]);
            }
        }
        Ok(())
    }

    /// [`Inference::for_each_emissions`] over sentences of documents (`documents[i]` for
    /// sentence `i`, consecutive): a model with document context reads each window of a
    /// document's sentences as one sequence (see [`crate::context`]); `f` still gets each
    /// sentence's own emissions.
    pub fn for_each_in_context(
        self,
        model: &BiLstmCrf,
        data: &[Encoded],
        documents: &[usize],
        mut f: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        let budget = model.config.context_tokens;
        if budget == 0 {
            return self.for_each_emissions(model, data, f);
        }
        let lens: Vec<usize> = data.iter().map(Encoded::len).collect();
        let windows = context::windows(&lens, documents, budget);
        let joined: Vec<Encoded> = windows
            .iter()
            .map(|w| context::concat(&data[w.clone()].iter().collect::<Vec<_>>()))
            .collect();
        let k = model.tags.len();
        self.for_each_emissions(model, &joined, |w, em| {
            let mut at = 0;
            for i in windows[w].clone() {
                if lens[i] > 0 {
                    f(i, &em[at * k..(at + lens[i]) * k]);
                }
                at += lens[i];
            }
        })
    }

    /// The best tag path of every sentence, in input order (`documents` as for
    /// [`Inference::for_each_in_context`]).
    pub fn best_paths(
        self,
        model: &BiLstmCrf,
        data: &[Encoded],
        documents: &[usize],
    ) -> Result<Vec<Vec<usize>>> {
        let tr = model.crf.transitions()?;
        let mut viterbi = Viterbi::new();
        let mut out = vec![Vec::new(); data.len()];
        self.for_each_in_context(model, data, documents, |i, em| {
            viterbi.decode(&tr, em, &mut out[i]);
        })?;
        Ok(out)
    }
}

/// The native path of [`Inference::for_each_emissions`], over `order` (longest first).
fn for_each_native(
    native: &mut Native,
    parallel: bool,
    data: &[Encoded],
    order: &[usize],
    batch_size: usize,
    mut f: impl FnMut(usize, &[f32]),
) {
    let mut out: Vec<Vec<f32>> = Vec::new();
    for chunk in order.chunks(batch_size.max(1)) {
        let items: Vec<&Encoded> = chunk.iter().map(|&i| &data[i]).collect();
        out.resize_with(chunk.len(), Vec::new);
        native
            .model
            .emissions(&items, parallel, &mut native.workspace, &mut out);
        for (row, &i) in chunk.iter().enumerate() {
            f(i, &out[row]);
        }
    }
}
