//! Scoring predicted tags against a corpus the way conlleval does (the dev set after every
//! epoch, the test set at the end of a run, `ner eval`), and writing them in the corpus's
//! scheme.

use ner_core::corpus::Corpus;
use ner_core::metrics::{Evaluator, Report};
use ner_core::scheme::{convert, Tag};
use ner_core::{TagScheme, TagSet};

/// The report of the predicted tag `paths` (in the model's tag indices, one per sentence of
/// `corpus`) against the corpus's gold tags.
pub fn score(corpus: &Corpus, paths: &[Vec<usize>], tags: &TagSet) -> Report {
    let mut ev = Evaluator::new();
    for (s, p) in corpus.sentences.iter().zip(paths) {
        let gold: Vec<Tag<&str>> = s
            .tags
            .first()
            .map(|g| {
                g.iter()
                    .map(|t| named(*t, |l| corpus.labels.name(l)))
                    .collect()
            })
            .unwrap_or_default();
        let pred = in_scheme(p, tags, corpus.scheme);
        let pred: Vec<Tag<&str>> = pred
            .into_iter()
            .map(|t| named(t, |l| tags.labels().name(l)))
            .collect();
        // Gold labels the model never saw simply never match: they count as errors.
        ev.add_tags(&gold, &pred);
    }
    ev.report()
}

/// The document of every sentence: as the file's `-DOCSTART-` lines divide them; in a file
/// without document boundaries (every sentence in document 0) each sentence is a document of
/// its own, since neighbouring sentences there need not be related (WikiANN's are not).
pub fn documents(corpus: &Corpus) -> Vec<usize> {
    if corpus.sentences.iter().all(|s| s.document == 0) {
        return (0..corpus.sentences.len()).collect();
    }
    corpus.sentences.iter().map(|s| s.document).collect()
}

/// Predicted tag indices as typed tags of `scheme` (the scheme of the file they are compared
/// with or written to).
pub fn in_scheme(pred: &[usize], tags: &TagSet, scheme: TagScheme) -> Vec<Tag> {
    let typed: Vec<Tag> = pred.iter().map(|&i| tags.tag(i)).collect();
    convert(&typed, scheme)
}

/// Predicted tag indices as strings of `scheme`.
pub fn render_tags(pred: &[usize], tags: &TagSet, scheme: TagScheme) -> Vec<String> {
    in_scheme(pred, tags, scheme)
        .into_iter()
        .map(|t| scheme.render(t, |l| tags.labels().name(*l).to_owned()))
        .collect()
}

fn named<'a>(t: Tag, name: impl Fn(ner_core::LabelId) -> &'a str) -> Tag<&'a str> {
    match t.label {
        Some(l) => Tag::new(t.prefix, name(l)),
        None => Tag::O,
    }
}
