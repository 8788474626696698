//! A labelled half-open range `[start, end)`.
//!
//! The same type describes entities over token positions (from tag decoding) and over text
//! offsets (what the service returns). Its fields are private so that `start <= end` always holds.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span<L> {
    start: usize,
    end: usize,
    label: L,
}

impl<L> Span<L> {
    /// A span, or `None` when `start > end`.
    pub fn new(start: usize, end: usize, label: L) -> Option<Self> {
        (start <= end).then_some(Span { start, end, label })
    }

    pub(crate) fn new_unchecked(start: usize, end: usize, label: L) -> Self {
        debug_assert!(start <= end);
        Span { start, end, label }
    }

    pub fn start(&self) -> usize {
        self.start
    }

    pub fn end(&self) -> usize {
        self.end
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn label(&self) -> &L {
        &self.label
    }

    pub fn map_label<M>(self, f: impl FnOnce(L) -> M) -> Span<M> {
        Span {
            start: self.start,
            end: self.end,
            label: f(self.label),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Span;

    #[test]
    fn refuses_inverted_ranges() {
        assert!(Span::new(3, 2, "X").is_none());
        let s = Span::new(2, 5, "X").unwrap();
        assert_eq!((s.start(), s.end(), s.len(), *s.label()), (2, 5, 3, "X"));
        assert!(Span::new(4, 4, ()).unwrap().is_empty());
    }
}
