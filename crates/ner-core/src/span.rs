//! A labelled, non-empty half-open range `[start, end)`, and the result of tagging a sentence.
//!
//! [`Span`] is the one entity type from the decoder to the JSON edge: tag decoding returns it
//! over token positions, the tagger and the server's model trait carry it (with the model's
//! confidence, as [`Scored`]), and the document layer turns it into text offsets. Its fields
//! are private so that `start < end` always holds; labels stay typed ids until the edge
//! renders them once.

use crate::label::LabelId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
/// A labelled range of tokens, never empty or inverted.
pub struct Span<L = LabelId> {
    start: usize,
    end: usize,
    label: L,
}

impl<L> Span<L> {
    /// A span, or `None` when it would be empty or inverted (`start >= end`).
    pub fn new(start: usize, end: usize, label: L) -> Option<Self> {
        (start < end).then_some(Span { start, end, label })
    }

    pub(crate) fn new_unchecked(start: usize, end: usize, label: L) -> Self {
        debug_assert!(start < end);
        Span { start, end, label }
    }

    /// The first token.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Just past the last token.
    pub fn end(&self) -> usize {
        self.end
    }

    /// The positions it covers (at least one).
    pub fn width(&self) -> usize {
        self.end - self.start
    }

    /// The label.
    pub fn label(&self) -> &L {
        &self.label
    }
}

/// A span with the model's probability that exactly these tokens carry this label.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The entity.
    pub span: Span,
    /// In `[0, 1]`; 1.0 when not computed.
    pub probability: f64,
}

/// What a model says about one sentence, in the model's own ids (tag indices of its
/// [`TagSet`](crate::TagSet), label ids of its label set).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tagged {
    /// One tag index per token.
    pub tags: Vec<usize>,
    /// The best path's score.
    pub score: f32,
    /// The marginal probability of each chosen tag (empty when not computed).
    pub token_probabilities: Vec<f64>,
    /// The entities with their probabilities.
    pub entities: Vec<Scored>,
    /// The k best labelings (tag indices) with their probabilities, best first.
    pub nbest: Vec<(Vec<usize>, f64)>,
}

#[cfg(test)]
mod tests {
    use super::Span;

    #[test]
    fn refuses_empty_and_inverted_ranges() {
        assert!(Span::new(3, 2, "X").is_none());
        assert!(Span::new(4, 4, "X").is_none());
        let s = Span::new(2, 5, "X").unwrap();
        assert_eq!((s.start(), s.end(), s.width(), *s.label()), (2, 5, 3, "X"));
    }
}
