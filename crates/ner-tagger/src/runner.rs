//! The network's side of tagging: a [`Runner`] owns the network (and the transformer of a model
//! with contextual features) and turns pieces of encoded sentences into emissions. It holds
//! buffers and is not shared: the server keeps it on the model's own thread.

use crate::batching;
use crate::bert::Bert;
use crate::contextual::{Contextual, Encoder};
use crate::contract::{Emissions, Network, NetworkHalf, Piece};
use crate::vocab::Encoded;
use crate::Result;

/// A network, its transformer, and how sentences are batched for it: the network half of the
/// model contract.
#[derive(Debug)]
pub struct Runner<N, E = Bert> {
    pub(crate) net: N,
    contextual: Option<Contextual<E>>,
    /// Windows of a document's sentences up to this many tokens (0: sentences alone).
    context_tokens: usize,
    /// Sequences per forward pass.
    batch_size: usize,
    /// The memo's counts when they were last taken ([`NetworkHalf::take_memo_counts`]).
    reported: (u64, u64),
}

impl<N: Network, E: Encoder> Runner<N, E> {
    /// `net` (with the transformer of a model with contextual features), reading windows of
    /// up to `context_tokens` of a document's sentences, `batch_size` sequences at a time.
    pub fn new(
        net: N,
        contextual: Option<Contextual<E>>,
        context_tokens: usize,
        batch_size: usize,
    ) -> Self {
        let reported = net.memo_counts().unwrap_or_default();
        Runner {
            net,
            contextual,
            context_tokens,
            batch_size,
            reported,
        }
    }

    /// The network.
    pub fn network(&self) -> &N {
        &self.net
    }

    /// The emissions of each piece's sentences, one [`Emissions`] per piece. Pieces run
    /// together (sorted by length across pieces); documents never cross pieces.
    pub fn forward(&mut self, pieces: &mut [Piece]) -> Result<Vec<Emissions>> {
        let documents = global_documents(pieces)?;
        if let Some(c) = &self.contextual {
            let words: Vec<&[Vec<i64>]> = sentences(pieces).map(|e| &e.transformer[..]).collect();
            let features = c.features_of(&words, &documents, self.context_tokens > 0)?;
            let all = pieces.iter_mut().flat_map(|p| p.sentences.iter_mut());
            for (e, f) in all.zip(features) {
                e.contextual = f;
            }
        }
        let k = self.net.tags();
        let mut out: Vec<Emissions> = pieces
            .iter()
            .map(|p| Emissions::zeroed(k, p.sentences.iter().map(Encoded::len)))
            .collect();
        let owner: Vec<(usize, usize)> = pieces
            .iter()
            .enumerate()
            .flat_map(|(p, piece)| (0..piece.sentences.len()).map(move |s| (p, s)))
            .collect();
        let data: Vec<&Encoded> = sentences(pieces).collect();
        let (context, size) = (self.context_tokens, self.batch_size);
        batching::for_each_in_context(&mut self.net, &data, &documents, context, size, |i, em| {
            let (p, s) = owner[i];
            out[p].sentence_mut(s).copy_from_slice(em);
        })?;
        Ok(out)
    }

    /// The emissions of one piece's sentences.
    pub fn run(&mut self, piece: Piece) -> Result<Emissions> {
        let mut pieces = [piece];
        Ok(self.forward(&mut pieces)?.pop().unwrap_or_default())
    }
}

impl<N: Network + 'static, E: Encoder + 'static> Runner<N, E> {
    /// The same runner over a boxed network and transformer.
    pub fn boxed(self) -> Runner<Box<dyn Network>, Box<dyn Encoder>> {
        Runner {
            net: Box::new(self.net),
            contextual: self.contextual.map(Contextual::boxed),
            context_tokens: self.context_tokens,
            batch_size: self.batch_size,
            reported: self.reported,
        }
    }
}

impl<N: Network, E: Encoder> NetworkHalf for Runner<N, E> {
    fn forward(&mut self, pieces: &mut [Piece]) -> Result<Vec<Emissions>> {
        Runner::forward(self, pieces)
    }

    fn take_memo_counts(&mut self) -> Option<(u64, u64)> {
        let now = self.net.memo_counts()?;
        let before = std::mem::replace(&mut self.reported, now);
        Some((now.0 - before.0, now.1 - before.1))
    }
}

fn sentences(pieces: &[Piece]) -> impl Iterator<Item = &Encoded> {
    pieces.iter().flat_map(|p| &p.sentences)
}

/// Each sentence's document, numbered across pieces so that no two pieces share one.
fn global_documents(pieces: &[Piece]) -> crate::Result<Vec<usize>> {
    let mut out = Vec::with_capacity(pieces.iter().map(|p| p.sentences.len()).sum());
    let mut next = 0;
    for p in pieces {
        if p.documents.len() != p.sentences.len() {
            return Err(crate::Error::Data(format!(
                "a piece of {} sentences names {} documents",
                p.sentences.len(),
                p.documents.len()
            )));
        }
        let base = next;
        for &d in &p.documents {
            out.push(base + d);
            next = next.max(base + d + 1);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(n: usize, documents: Vec<usize>) -> Piece {
        Piece {
            sentences: vec![Encoded::default(); n],
            documents,
        }
    }

    #[test]
    fn documents_are_numbered_apart_across_pieces() {
        let pieces = [
            piece(3, vec![0, 0, 1]),
            piece(2, vec![0, 1]),
            piece(1, vec![0]),
        ];
        assert_eq!(global_documents(&pieces).unwrap(), [0, 0, 1, 2, 3, 4]);
        assert!(global_documents(&[piece(2, vec![0])]).is_err());
    }
}
