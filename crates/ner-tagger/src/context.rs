//! Document context: the encoder reads consecutive sentences of one document as one sequence,
//! so that a name tagged in one sentence informs the next (a model-config switch,
//! [`ModelConfig::context_tokens`](crate::ModelConfig::context_tokens)).
//!
//! Sentences are packed greedily, in order, into windows of at most `max_tokens` tokens that
//! never cross a document boundary (a longer sentence is a window of its own), so memory and
//! time stay bounded however long the document. Each sentence is still scored and decoded on
//! its own: the window only widens what the BiLSTM sees. A document of one sentence is thus
//! read exactly as that sentence alone.

use crate::vocab::{Encoded, Soft};
use std::ops::Range;

/// Consecutive runs of sentences (indices into `lens`) that share a document and fit in
/// `max_tokens`; every sentence is in exactly one window, in order. `documents[i]` is the
/// document of sentence `i`; `max_tokens == 0` gives one window per sentence.
pub fn windows(lens: &[usize], documents: &[usize], max_tokens: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut tokens = 0;
    for (i, &len) in lens.iter().enumerate() {
        let joins = match out.last() {
            Some(w) => {
                max_tokens > 0
                    && documents.get(w.start) == documents.get(i)
                    && tokens + len <= max_tokens
            }
            None => false,
        };
        if joins {
            if let Some(w) = out.last_mut() {
                w.end = i + 1;
            }
            tokens += len;
        } else {
            out.push(i..i + 1);
            tokens = len;
        }
    }
    out
}

/// The sentences of a window as one sequence; [`Encoded::parts`] records their lengths so
/// that scores can be split back per sentence. Features stay per sentence (a bigram at a
/// sentence's edge pairs with the boundary, as it does alone). Gold tags are kept when every
/// part has them.
pub fn concat(parts: &[&Encoded]) -> Encoded {
    let with_tags = parts.iter().all(|e| e.tags.is_some());
    let mut out = Encoded::default();
    for e in parts {
        out.words.extend_from_slice(&e.words);
        out.chars.extend(e.chars.iter().cloned());
        out.casing.extend_from_slice(&e.casing);
        out.pieces.extend(e.pieces.iter().cloned());
        out.bigrams.extend_from_slice(&e.bigrams);
        out.transformer.extend(e.transformer.iter().cloned());
        out.contextual.extend_from_slice(&e.contextual);
        out.lexicon.extend(e.lexicon.iter().cloned());
        out.parts.push(e.len());
    }
    if with_tags {
        out.tags = Some(
            parts
                .iter()
                .flat_map(|e| e.tags.iter().flatten().copied())
                .collect(),
        );
    }
    if parts.iter().all(|e| e.soft.is_some()) {
        let mut soft = Soft::default();
        for s in parts.iter().filter_map(|e| e.soft.as_ref()) {
            soft.unary.extend_from_slice(&s.unary);
            soft.pairs.extend_from_slice(&s.pairs);
        }
        out.soft = Some(soft);
    }
    out
}

/// Where each part of an encoded sequence starts and how long it is.
pub fn part_ranges(e: &Encoded) -> Vec<Range<usize>> {
    let whole = [e.len()];
    let parts = if e.parts.is_empty() {
        &whole[..]
    } else {
        &e.parts
    };
    let mut start = 0;
    parts
        .iter()
        .map(|&n| {
            start += n;
            start - n..start
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_pack_sentences_of_one_document_up_to_the_budget() {
        let lens = [3, 4, 2, 9, 1, 1];
        let docs = [0, 0, 0, 0, 1, 1];
        assert_eq!(windows(&lens, &docs, 8), [0..2, 2..3, 3..4, 4..6]);
        // Without a budget every sentence is alone; a huge one keeps documents apart.
        assert_eq!(
            windows(&lens, &docs, 0),
            [0..1, 1..2, 2..3, 3..4, 4..5, 5..6]
        );
        assert_eq!(windows(&lens, &docs, 1000), [0..4, 4..6]);
        assert!(windows(&[], &[], 5).is_empty());
    }

    #[test]
    fn concat_keeps_each_part_and_its_features() {
        let a = Encoded {
            words: vec![5, 6],
            chars: vec![vec![1], vec![2]],
            casing: vec![1, 2],
            bigrams: vec![[10, 11], [11, 12]],
            tags: Some(vec![0, 1]),
            ..Encoded::default()
        };
        let b = Encoded {
            words: vec![7],
            chars: vec![vec![3]],
            casing: vec![3],
            bigrams: vec![[20, 21]],
            tags: Some(vec![2]),
            ..Encoded::default()
        };
        let w = concat(&[&a, &b]);
        assert_eq!(w.words, [5, 6, 7]);
        assert_eq!(w.tags, Some(vec![0, 1, 2]));
        assert_eq!(w.parts, [2, 1]);
        assert_eq!(w.bigrams, [[10, 11], [11, 12], [20, 21]]);
        assert_eq!(part_ranges(&w), [0..2, 2..3]);
        assert_eq!(part_ranges(&a), vec![(0..2)]);
    }
}
