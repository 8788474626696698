//! The `Tagger` that the CLI, the server and the Python module use: a model directory read
//! straight into packed weights, and batches of tokenised sentences tagged with scores,
//! confidences and n-best. The network runs natively ([`crate::native`]); decoding (Viterbi,
//! forward-backward, n-best) runs on the emissions ([`decode`]).

use crate::batching::{self, Network};
use crate::contextual::{self, Contextual};
use crate::directory::ModelFiles;
use crate::error::{Error, Result};
use crate::native::{NativeModel, Sizes, Workspace};
use crate::vocab::Encoded;
use crate::weights::Weights;
use ner_core::crf::ForwardBackward;
use ner_core::scheme::{decode_spans, Prefix, Tag};
use ner_core::viterbi::{Transitions, Viterbi};
use ner_core::{Scored, TagScheme, TagSet, Tagged};
use rayon::prelude::*;
use std::path::Path;

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
    files: ModelFiles,
    contextual: Option<Contextual>,
    native: Native,
    transitions: Transitions,
    viterbi: Viterbi,
    batch_size: usize,
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
        let crf = |w: &mut Weights, name: &str, shape: &[usize]| {
            w.take(&format!("crf.{name}"), shape).map(|t| t.data)
        };
        let (start, end, trans) = (
            crf(&mut w, "start", &[k])?,
            crf(&mut w, "end", &[k])?,
            crf(&mut w, "trans", &[k, k])?,
        );
        let transitions = Transitions::new(k, &start, &end, &trans, Some(&files.tags))
            .ok_or_else(|| w.bad("the CRF's transitions do not fit the tag set".into()))?;
        let v = &files.vocab;
        let sizes = Sizes {
            words: v.num_words(),
            chars: v.num_chars(),
            bigrams: v.num_bigrams(),
            lexicon: v.num_lexicon(),
            tags: k,
        };
        let model = NativeModel::new(&mut w, &files.config, sizes, files.subword.take())?;
        w.finish()?;
        let threads = opts
            .threads
            .unwrap_or_else(crate::threading::default_threads)
            .max(1);
        let contextual = load_contextual(&files, threads)?;
        Ok(Tagger {
            contextual,
            native: Native {
                model,
                workspace: Workspace::default(),
                tags: k,
                parallel: threads >= 2,
            },
            transitions,
            viterbi: Viterbi::new(),
            batch_size: opts.batch_size,
            threads,
            files,
        })
    }

    /// The model's files: configuration, vocabulary, tags, metadata.
    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    pub fn tag_set(&self) -> &TagSet {
        &self.files.tags
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn transitions(&self) -> &Transitions {
        &self.transitions
    }

    /// The first-layer memo's hits and misses so far (see [`crate::native`]).
    pub fn memo_counts(&self) -> (u64, u64) {
        self.native.workspace.memo_counts()
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
        let encoded = self.encode(sentences, documents)?;
        let mut emissions: Vec<Vec<f32>> = vec![Vec::new(); sentences.len()];
        self.for_each_in_context(&encoded, documents, |i, em| emissions[i] = em.to_vec())?;
        let parallel = self.threads >= 2;
        let (tr, tags) = (&self.transitions, &self.files.tags);
        Ok(decode_each(
            &mut self.viterbi,
            tr,
            tags,
            &emissions,
            req,
            parallel,
        ))
    }

    /// Sentences as model inputs, with their contextual features when the model has them.
    pub fn encode<S: AsRef<str> + Sync>(
        &self,
        sentences: &[Vec<S>],
        documents: &[usize],
    ) -> Result<Vec<Encoded>> {
        let vocab = &self.files.vocab;
        let mut encoded: Vec<Encoded> = match self.threads >= 2 && sentences.len() > 1 {
            true => sentences.par_iter().map(|s| vocab.encode(s)).collect(),
            false => sentences.iter().map(|s| vocab.encode(s)).collect(),
        };
        if let Some(c) = &self.contextual {
            let in_context = self.files.config.context_tokens > 0;
            contextual::attach(&mut encoded, c.features(sentences, documents, in_context)?);
        }
        Ok(encoded)
    }

    /// The best tag path of every sentence (empty for an empty one), in input order:
    /// `documents` as for [`Tagger::tag_documents`].
    pub fn best_paths<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        documents: &[usize],
    ) -> Result<Vec<Vec<usize>>> {
        let encoded = self.encode(sentences, documents)?;
        let mut out = vec![Vec::new(); sentences.len()];
        let (mut viterbi, tr) = (Viterbi::new(), self.transitions.clone());
        self.for_each_in_context(&encoded, documents, |i, em| {
            viterbi.decode(&tr, em, &mut out[i]);
        })?;
        Ok(out)
    }

    /// The emissions of encoded sentences of documents (see
    /// [`batching::for_each_in_context`]): `f(index, emissions)` for each non-empty one.
    pub fn for_each_in_context(
        &mut self,
        data: &[Encoded],
        documents: &[usize],
        f: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        let context = self.files.config.context_tokens;
        batching::for_each_in_context(
            &mut self.native,
            data,
            documents,
            context,
            self.batch_size,
            f,
        )
    }
}

/// The transformer of a model with contextual features, checked against its config.
fn load_contextual(files: &ModelFiles, threads: usize) -> Result<Option<Contextual>> {
    let config = &files.config;
    if config.contextual_layers.is_empty() {
        return Ok(None);
    }
    let source = config.contextual_source.as_deref().unwrap_or_default();
    let mut c = Contextual::load(&contextual::locate(source)?, &config.contextual_layers)?;
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

/// Decodes each sentence's emissions (an empty one gives an empty result). Each sentence
/// decodes on its own: on two threads when `parallel`, since the network's serial parts leave
/// the second core idle in between.
pub fn decode_each(
    viterbi: &mut Viterbi,
    transitions: &Transitions,
    tags: &TagSet,
    emissions: &[Vec<f32>],
    req: TagRequest,
    parallel: bool,
) -> Vec<Tagged> {
    let one = |v: &mut Viterbi, em: &Vec<f32>| match em.is_empty() {
        true => Tagged::default(),
        false => decode(v, transitions, tags, em, req),
    };
    match parallel && emissions.len() > 1 {
        true => emissions.par_iter().map_init(Viterbi::new, one).collect(),
        false => emissions.iter().map(|em| one(viterbi, em)).collect(),
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
