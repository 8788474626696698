//! `--teacher DIR`: knowledge distillation into the model being trained. A trained model (the
//! teacher, run by the native tagger) gives every training sentence its CRF posterior: token
//! marginals and expected transition counts, by forward-backward over its scores divided by a
//! temperature. The loss then trains against the mix of that posterior and the gold path (see
//! `BiLstmCrf::loss`): a teacher with contextual features passes on what it knows of each
//! sentence, not only its best path.
//!
//! `--unlabelled FILE` adds sentences without labels, whose gold path is the teacher's best:
//! the transfer set through which distillation into BiLSTMs keeps most of a transformer's
//! accuracy (Mukherjee & Awadallah 2020). The teacher reads a corpus a stretch of whole
//! documents at a time, so that its memory does not grow with the corpus.

use super::evaluate::documents;
use crate::error::{Result, TrainError};
use crate::vocab::Soft;
use ner_core::corpus::Corpus;
use ner_core::crf::ForwardBackward;
use ner_core::scheme::{encode_spans, Tag};
use ner_core::viterbi::{Transitions, Viterbi};
use ner_core::{Span, TagSet};
use ner_tagger::{Tagger, TaggerOptions};
use std::path::Path;

/// Tokens the teacher reads at a time (more, to finish a document).
const CHUNK_TOKENS: usize = 4096;

/// A loaded teacher.
pub struct Teacher {
    tagger: Tagger,
}

impl Teacher {
    /// Loads the teacher in `dir`, to run on as many threads as the training (libtorch's
    /// setting, `--threads`).
    pub fn load(dir: &Path) -> Result<Teacher> {
        let opts = TaggerOptions {
            threads: Some(tch::get_num_threads().max(1) as usize),
            ..TaggerOptions::default()
        };
        let tagger = Tagger::load(dir, opts)?;
        Ok(Teacher { tagger })
    }

    /// The teacher's posterior of every sentence of `corpus` at `temperature`, in the
    /// indices of the student's `tags` (which must be the teacher's: same scheme and labels,
    /// in any order). The last `known.len()` sentences' scores are `known` (what
    /// [`join_unlabelled`] kept of its pass), so the teacher reads only the others.
    pub fn posteriors(
        &mut self,
        corpus: &Corpus,
        tags: &TagSet,
        temperature: f64,
        known: &[Vec<f32>],
    ) -> Result<Vec<Soft>> {
        let from = self.index_map(tags)?;
        let tr = scaled(self.tagger.transitions(), temperature)?;
        let soft = |em: &[f32]| posterior(&tr, em, temperature, &from);
        let read = corpus.sentences.len().saturating_sub(known.len());
        let mut out = Vec::with_capacity(corpus.sentences.len());
        self.for_each_emissions(corpus, read, |em| out.push(soft(em)))?;
        out.extend(known.iter().map(|em| soft(em)));
        Ok(out)
    }

    /// For each of the student's `tags`, the teacher's index of the same tag.
    fn index_map(&self, tags: &TagSet) -> Result<Vec<usize>> {
        let theirs = self.tagger.tag_set();
        let map: Option<Vec<usize>> = (0..tags.len())
            .map(|i| {
                let t = tags.tag(i);
                let mapped = match t.label.map(|l| tags.labels().name(l)) {
                    None => Some(Tag::O),
                    Some(name) => theirs.labels().get(name).map(|l| Tag::new(t.prefix, l)),
                };
                mapped.and_then(|t| theirs.index(t))
            })
            .collect();
        match map {
            Some(map) if theirs.len() == tags.len() => Ok(map),
            _ => Err(TrainError::Config(format!(
                "the teacher tags {} ({} scheme), the model being trained {} ({} scheme): train \
                 on data with the teacher's labels, with --model-scheme {}",
                theirs.labels().names().join(" "),
                theirs.scheme(),
                tags.labels().names().join(" "),
                tags.scheme(),
                theirs.scheme()
            ))),
        }
    }

    /// Sets every sentence's first tag column to the teacher's best path, in `corpus`'s
    /// labels and scheme (the labels the teacher has and `corpus` lacks are left out).
    /// Returns the teacher's scores of each sentence (in its own tag order).
    pub fn label(&mut self, corpus: &mut Corpus) -> Result<Vec<Vec<f32>>> {
        let theirs = self.tagger.tag_set().clone();
        let tr = self.tagger.transitions().clone();
        let mut paths = Vec::with_capacity(corpus.sentences.len());
        let mut scores = Vec::with_capacity(corpus.sentences.len());
        let mut viterbi = Viterbi::new();
        self.for_each_emissions(corpus, corpus.sentences.len(), |em| {
            let mut path = Vec::new();
            viterbi.decode(&tr, em, &mut path);
            paths.push(path);
            scores.push(em.to_vec());
        })?;
        for (s, path) in corpus.sentences.iter_mut().zip(paths) {
            let tags: Vec<Tag> = path.iter().map(|&j| theirs.tag(j)).collect();
            let spans: Vec<Span> = ner_core::scheme::decode_spans(&tags)
                .into_iter()
                .filter_map(|sp| {
                    let label = corpus.labels.get(theirs.labels().name(*sp.label()))?;
                    Span::new(sp.start(), sp.end(), label)
                })
                .collect();
            let typed = encode_spans(&spans, s.len(), corpus.scheme);
            let name = |l: &_| corpus.labels.name(*l).to_owned();
            s.raw_tags = vec![typed
                .iter()
                .map(|t| corpus.scheme.render(*t, name))
                .collect()];
            s.tags = vec![typed];
        }
        Ok(scores)
    }

    /// Calls `f(emissions)` for each of the first `until` sentences of `corpus` in order
    /// (`until` must end a document), running the teacher over stretches of whole documents of
    /// about [`CHUNK_TOKENS`] tokens, so that its memory does not grow with the corpus (a
    /// transformer's hidden states are large).
    fn for_each_emissions(
        &mut self,
        corpus: &Corpus,
        until: usize,
        mut f: impl FnMut(&[f32]),
    ) -> Result<()> {
        let docs = documents(corpus);
        let mut start = 0;
        while start < until {
            let mut end = start;
            let mut tokens = 0;
            while end < until && (tokens < CHUNK_TOKENS || docs[end] == docs[end - 1]) {
                tokens += corpus.sentences[end].len();
                end += 1;
            }
            let words: Vec<Vec<&str>> = corpus.sentences[start..end]
                .iter()
                .map(|s| s.tokens.iter().map(String::as_str).collect())
                .collect();
            let em = self.tagger.emissions(&words, &docs[start..end])?;
            for i in 0..em.len() {
                f(em.sentence(i));
            }
            start = end;
        }
        Ok(())
    }
}

/// `tr` with every score divided by `temperature` (forbidden moves stay forbidden).
fn scaled(tr: &Transitions, temperature: f64) -> Result<Transitions> {
    let div = |xs: &[f32]| -> Vec<f32> {
        xs.iter()
            .map(|x| (*x as f64 / temperature) as f32)
            .collect()
    };
    Transitions::new(
        tr.num_tags(),
        &div(tr.start()),
        &div(tr.end()),
        &div(tr.trans()),
        None,
    )
    .ok_or_else(|| TrainError::Config("the teacher's CRF does not match its tags".into()))
}

/// The posterior of one sentence whose teacher scores are `em` (teacher's tag order; `tr`
/// already scaled): marginals and expected transition counts in the student's order, whose
/// tag `i` is the teacher's `from[i]`.
fn posterior(tr: &Transitions, em: &[f32], temperature: f64, from: &[usize]) -> Soft {
    let k = from.len();
    let e: Vec<f32> = em
        .iter()
        .map(|x| (*x as f64 / temperature) as f32)
        .collect();
    let fb = ForwardBackward::new(tr, &e);
    let counts = fb.expected_transitions(tr, &e);
    Soft {
        unary: (0..e.len())
            .map(|x| fb.marginal(x / k, from[x % k]) as f32)
            .collect(),
        pairs: (0..k * k)
            .map(|x| counts[from[x / k] * k + from[x % k]] as f32)
            .collect(),
    }
}

/// Appends the sentences of `unlabelled` to `train`, labelled with the teacher's best paths,
/// their documents after `train`'s (a file without `-DOCSTART-` lines: each sentence alone).
/// Returns the teacher's scores of each added sentence, for [`Teacher::posteriors`].
pub fn join_unlabelled(
    train: &mut Corpus,
    mut unlabelled: Corpus,
    teacher: &mut Teacher,
) -> Result<Vec<Vec<f32>>> {
    unlabelled.labels = train.labels.clone();
    unlabelled.scheme = train.scheme;
    let scores = teacher.label(&mut unlabelled)?;
    // Written out, so that a training file without documents keeps its sentences apart.
    let own = documents(train);
    for (s, d) in train.sentences.iter_mut().zip(own) {
        s.document = d;
    }
    let first = train
        .sentences
        .iter()
        .map(|s| s.document + 1)
        .max()
        .unwrap_or(0);
    let docs = documents(&unlabelled);
    for (mut s, d) in unlabelled.sentences.into_iter().zip(docs) {
        s.document = first + d;
        train.sentences.push(s);
    }
    Ok(scores)
}
