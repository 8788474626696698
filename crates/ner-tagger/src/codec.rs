//! The two ends of tagging that need no network: encoding words into the model's ids, and
//! decoding the network's emissions into tags, entities, probabilities and n-best. A [`Codec`]
//! is shared (`Send + Sync`): the server runs it on each request's own task, so the thread
//! that owns the network ([`crate::runner::Runner`]) runs the network alone.

use crate::contextual::WordPieces;
use crate::contract::{DecodeOptions, Emissions, ModelInfo, Piece, RequestHalf};
use crate::vocab::{Encoded, Vocab};
use ner_core::crf::ForwardBackward;
use ner_core::scheme::{decode_spans, Prefix, Tag};
use ner_core::viterbi::{Transitions, Viterbi};
use ner_core::{Scored, TagScheme, TagSet, Tagged};
use rayon::prelude::*;

/// A model's vocabulary, its facts (with its tag set), CRF transitions and, with contextual
/// features, its transformer's word pieces: the request half of the model contract.
#[derive(Debug)]
pub struct Codec {
    vocab: Vocab,
    info: ModelInfo,
    transitions: Transitions,
    pieces: Option<WordPieces>,
    /// Encode and decode a tagger's batches on two threads (rayon).
    parallel: bool,
}

impl Codec {
    /// The request half of a model; `parallel` spreads a [`crate::Tagger`]'s batches over two
    /// threads (the server's request tasks, already one per request, never do).
    pub fn new(
        vocab: Vocab,
        info: ModelInfo,
        transitions: Transitions,
        pieces: Option<WordPieces>,
        parallel: bool,
    ) -> Codec {
        Codec {
            vocab,
            info,
            transitions,
            pieces,
            parallel,
        }
    }

    /// The model's vocabularies.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The model's static facts.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The model's tags.
    pub fn tag_set(&self) -> &TagSet {
        &self.info.tags
    }

    /// The CRF's transitions.
    pub fn transitions(&self) -> &Transitions {
        &self.transitions
    }

    /// One sentence's ids (with its transformer pieces when the model has them).
    pub fn encode_sentence<S: AsRef<str>>(&self, words: &[S]) -> Encoded {
        let mut e = self.vocab.encode(words);
        if let Some(p) = &self.pieces {
            e.transformer = p.sentence(words);
        }
        e
    }

    /// Sentences of documents (`documents` as in [`Piece`]).
    pub fn encode<W: AsRef<[S]> + Sync, S: AsRef<str>>(
        &self,
        sentences: &[W],
        documents: Vec<usize>,
    ) -> Piece {
        self.encode_on(sentences, documents, self.parallel)
    }

    fn encode_on<W: AsRef<[S]> + Sync, S: AsRef<str>>(
        &self,
        sentences: &[W],
        documents: Vec<usize>,
        parallel: bool,
    ) -> Piece {
        let one = |s: &W| self.encode_sentence(s.as_ref());
        let sentences = match parallel && sentences.len() > 1 {
            true => sentences.par_iter().map(one).collect(),
            false => sentences.iter().map(one).collect(),
        };
        Piece {
            sentences,
            documents,
        }
    }

    /// Every sentence's result (an empty sentence gets an empty one); each decodes on its own.
    pub fn decode(&self, em: &Emissions, options: DecodeOptions) -> Vec<Tagged> {
        self.decode_on(em, options, self.parallel)
    }

    fn decode_on(&self, em: &Emissions, options: DecodeOptions, parallel: bool) -> Vec<Tagged> {
        let one = |v: &mut Viterbi, i: usize| match em.offsets[i] == em.offsets[i + 1] {
            true => Tagged::default(),
            false => self.decode_sentence(v, em.sentence(i), options),
        };
        match parallel && em.len() > 1 {
            true => (0..em.len())
                .into_par_iter()
                .map_init(Viterbi::new, one)
                .collect(),
            false => {
                let mut v = Viterbi::new();
                (0..em.len()).map(|i| one(&mut v, i)).collect()
            }
        }
    }

    /// The best tag path of every sentence (empty for an empty one).
    pub fn best_paths(&self, em: &Emissions) -> Vec<Vec<usize>> {
        let mut v = Viterbi::new();
        (0..em.len())
            .map(|i| {
                let mut path = Vec::new();
                if em.offsets[i] < em.offsets[i + 1] {
                    v.decode(&self.transitions, em.sentence(i), &mut path);
                }
                path
            })
            .collect()
    }

    /// One sentence's emissions `[len][K]`: best path, entities and, on request,
    /// probabilities and n-best.
    pub fn decode_sentence(
        &self,
        viterbi: &mut Viterbi,
        em: &[f32],
        options: DecodeOptions,
    ) -> Tagged {
        decode(viterbi, &self.transitions, &self.info.tags, em, options)
    }
}

/// On the request's own task, one sentence after another: request tasks already run side by
/// side, one per request.
impl RequestHalf for Codec {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn encode(&self, sentences: &[Vec<&str>], documents: Vec<usize>) -> Piece {
        self.encode_on(sentences, documents, false)
    }

    fn decode(&self, emissions: &Emissions, options: DecodeOptions) -> Vec<Tagged> {
        self.decode_on(emissions, options, false)
    }
}

/// Decodes one sentence's emissions `[len][K]` with `transitions` over the tag set `ts`.
pub fn decode(
    viterbi: &mut Viterbi,
    transitions: &Transitions,
    ts: &TagSet,
    em: &[f32],
    req: DecodeOptions,
) -> Tagged {
    let mut tags = Vec::new();
    let score = viterbi.decode(transitions, em, &mut tags);
    let typed: Vec<Tag> = tags.iter().map(|&t| ts.tag(t)).collect();
    let fb = (req.probabilities || req.nbest > 0).then(|| ForwardBackward::new(transitions, em));
    let probs = fb.as_ref().filter(|_| req.probabilities);
    let entities = decode_spans(&typed)
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
