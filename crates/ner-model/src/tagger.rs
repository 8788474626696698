//! The `Tagger` used by the CLI and the server: owns a loaded model on the thread that created
//! it, takes batches of tokenised sentences, and returns tags, scores, confidences and n-best.
//!
//! Sentences are sorted by length and cut into batches to limit padding; the model runs under
//! `no_grad`; decoding (Viterbi, forward-backward) runs in plain Rust on the emissions.

use crate::batch::Batch;
use crate::checkpoint::{self, LoadedModel};
use crate::error::Result;
use crate::model::BiLstmCrf;
use crate::vocab::Encoded;
use ner_core::crf::ForwardBackward;
use ner_core::scheme::{decode_spans, Prefix, Tag};
use ner_core::viterbi::{Transitions, Viterbi};
use ner_core::{LabelId, TagSet};
use std::path::Path;
use tch::{Device, Kind};

/// How the tagger runs.
#[derive(Debug, Clone)]
pub struct TaggerOptions {
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// libtorch intra-op threads (`None`: libtorch's default).
    pub threads: Option<i32>,
    pub device: Device,
    /// How two or more threads are used on the CPU.
    pub threading: EncoderThreading,
}

/// How the tagger spreads a batch over two or more CPU threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncoderThreading {
    /// The encoder's two directions on two threads for batches of at most 4 sentences,
    /// libtorch's intra-op threads inside each operation for larger ones: the fastest for a
    /// process that has the cores to itself (evaluation, `ner predict`).
    #[default]
    Auto,
    /// Always the two directions on two threads, one libtorch thread each. Under a server's
    /// load this wins: libtorch's idle intra-op threads spin for work between operations and
    /// take the cycles the HTTP side needs.
    Directions,
    /// Always libtorch's intra-op threads.
    IntraOp,
}

impl std::str::FromStr for EncoderThreading {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "directions" => Ok(Self::Directions),
            "intra-op" => Ok(Self::IntraOp),
            _ => Err(format!(
                "unknown encoder threading {s:?}: expected auto, directions or intra-op"
            )),
        }
    }
}

impl Default for TaggerOptions {
    fn default() -> Self {
        TaggerOptions {
            batch_size: 64,
            threads: None,
            device: Device::Cpu,
            threading: EncoderThreading::Auto,
        }
    }
}

/// Thread arrangement at inference. Tiny matrix products gain nothing from libtorch's
/// intra-op threads (they lose: the threads' hand-off costs more than the work), while the two
/// directions of the encoder are independent: so small batches run one direction per thread,
/// one libtorch thread each, and large batches use all threads inside each operation.
static THREADS: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(1);

/// Batches of at most this many sentences run their directions in parallel.
const SMALL_BATCH: usize = 4;

/// The largest batch whose directions run in parallel (from [`EncoderThreading`]).
static PARALLEL_UP_TO: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(SMALL_BATCH);

fn configure_threads(threads: Option<i32>, threading: EncoderThreading) {
    let n = threads.unwrap_or_else(tch::get_num_threads).max(1);
    THREADS.store(n, std::sync::atomic::Ordering::Relaxed);
    let up_to = match threading {
        EncoderThreading::Auto => SMALL_BATCH,
        EncoderThreading::Directions => usize::MAX,
        EncoderThreading::IntraOp => 0,
    };
    PARALLEL_UP_TO.store(up_to, std::sync::atomic::Ordering::Relaxed);
    ARRANGED.store(0, std::sync::atomic::Ordering::Relaxed);
    arrange_for(1);
}

/// The arrangement in force: 0 none yet, 1 parallel directions, 2 intra-op threads.
static ARRANGED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

fn arrange_for(batch: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    let n = THREADS.load(Relaxed);
    let want = if n >= 2 && batch <= PARALLEL_UP_TO.load(Relaxed) {
        1
    } else {
        2
    };
    if ARRANGED.swap(want, Relaxed) == want {
        return;
    }
    if want == 1 {
        tch::set_num_threads((n / 2).max(1));
        crate::cells::set_parallel_directions((n / 2).max(1));
    } else {
        tch::set_num_threads(n);
        crate::cells::set_parallel_directions(0);
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

/// An entity over token positions `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEntity {
    pub start: usize,
    pub end: usize,
    pub label: LabelId,
    /// The probability that exactly these tokens carry this label (1.0 when not computed).
    pub probability: f64,
}

/// The result for one sentence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tagged {
    /// Tag indices of the model's [`TagSet`].
    pub tags: Vec<usize>,
    /// The best path's score.
    pub score: f32,
    /// The marginal probability of each chosen tag (empty when not computed).
    pub token_probabilities: Vec<f64>,
    pub entities: Vec<TokenEntity>,
    /// The k best labelings with their probabilities.
    pub nbest: Vec<(Vec<usize>, f64)>,
}

pub struct Tagger {
    loaded: LoadedModel,
    transitions: Transitions,
    viterbi: Viterbi,
    opts: TaggerOptions,
}

impl std::fmt::Debug for Tagger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tagger")
            .field("model", &self.loaded)
            .finish_non_exhaustive()
    }
}

impl Tagger {
    pub fn load(dir: &Path, opts: TaggerOptions) -> Result<Self> {
        configure_threads(opts.threads, opts.threading);
        let loaded = checkpoint::load(dir, opts.device)?;
        Self::from_loaded(loaded, opts)
    }

    pub fn from_loaded(loaded: LoadedModel, opts: TaggerOptions) -> Result<Self> {
        let transitions = loaded.model.crf.transitions()?;
        Ok(Tagger {
            loaded,
            transitions,
            viterbi: Viterbi::new(),
            opts,
        })
    }

    pub fn model(&self) -> &LoadedModel {
        &self.loaded
    }

    pub fn tag_set(&self) -> &TagSet {
        &self.loaded.model.tags
    }

    /// Tags sentences (each a slice of tokens); results come back in input order. Empty
    /// sentences get empty results.
    pub fn tag<S: AsRef<str>>(
        &mut self,
        sentences: &[Vec<S>],
        req: TagRequest,
    ) -> Result<Vec<Tagged>> {
        let encoded: Vec<_> = sentences
            .iter()
            .map(|s| self.loaded.vocab.encode(s))
            .collect();
        let mut out: Vec<Tagged> = vec![Tagged::default(); sentences.len()];
        let Tagger {
            loaded,
            transitions,
            viterbi,
            opts,
        } = self;
        let tags = &loaded.model.tags;
        for_each_emissions(
            &loaded.model,
            &encoded,
            opts.batch_size,
            opts.device,
            |i, em| {
                out[i] = decode(viterbi, transitions, tags, em, req);
            },
        )?;
        Ok(out)
    }

    /// Decodes one sentence's emissions `[len][K]`.
    pub fn decode(&mut self, em: &[f32], req: TagRequest) -> Tagged {
        decode(
            &mut self.viterbi,
            &self.transitions,
            &self.loaded.model.tags,
            em,
            req,
        )
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
    let mut result = Tagged {
        tags,
        score,
        ..Tagged::default()
    };
    let fb = (req.probabilities || req.nbest > 0).then(|| ForwardBackward::new(transitions, em));
    for s in spans {
        let label = *s.label();
        let probability = match &fb {
            Some(fb) if req.probabilities => {
                let cont: Vec<usize> = ts.index(Tag::new(Prefix::I, label)).into_iter().collect();
                let cont = if ts.scheme() == ner_core::TagScheme::Bio {
                    cont
                } else {
                    Vec::new()
                };
                fb.segment_probability(
                    transitions,
                    em,
                    s.start(),
                    &result.tags[s.start()..s.end()],
                    &cont,
                )
            }
            _ => 1.0,
        };
        result.entities.push(TokenEntity {
            start: s.start(),
            end: s.end(),
            label,
            probability,
        });
    }
    if let Some(fb) = &fb {
        if req.probabilities {
            result.token_probabilities = result
                .tags
                .iter()
                .enumerate()
                .map(|(t, &j)| fb.marginal(t, j))
                .collect();
        }
        if req.nbest > 0 {
            let log_z = fb.log_partition();
            result.nbest = viterbi
                .nbest(transitions, em, req.nbest)
                .into_iter()
                .map(|(p, s)| (p, (s as f64 - log_z).exp()))
                .collect();
        }
    }
    result
}

/// Runs the model over `data` in batches of `batch_size` sentences sorted by length (to limit
/// padding), under `no_grad`, and calls `f(index, emissions)` with each non-empty sentence's
/// emissions `[len][K]`.
pub fn for_each_emissions(
    model: &BiLstmCrf,
    data: &[Encoded],
    batch_size: usize,
    device: Device,
    mut f: impl FnMut(usize, &[f32]),
) -> Result<()> {
    let k = model.tags.len();
    let mut order: Vec<usize> = (0..data.len()).filter(|&i| !data[i].is_empty()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(data[i].len()));
    for chunk in order.chunks(batch_size.max(1)) {
        if device == Device::Cpu {
            arrange_for(chunk.len());
        }
        let items: Vec<_> = chunk.iter().map(|&i| &data[i]).collect();
        let batch = Batch::new(&items, device);
        let em = tch::no_grad(|| model.emissions(&batch, false));
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
