//! How sentences go through a network: sorted by length and cut into batches (to limit
//! padding), and for a model with document context, joined into windows of a document's
//! sentences (see [`crate::context`]) whose emissions are cut back per sentence.
//!
//! The network is anything that gives a batch's emissions: the native forward pass here, or
//! libtorch's model in ner-model, which is tested against it through this same path.

use crate::context;
use crate::contract::Network;
use crate::vocab::Encoded;
use crate::Result;

/// Runs `net` over `data` in batches of `batch_size` sorted by length and calls
/// `f(index, emissions)` with each non-empty sentence's emissions `[len][K]`.
pub fn for_each_emissions<N: Network>(
    net: &mut N,
    data: &[&Encoded],
    batch_size: usize,
    mut f: impl FnMut(usize, &[f32]),
) -> Result<()> {
    let mut order: Vec<usize> = (0..data.len()).filter(|&i| !data[i].is_empty()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(data[i].len()));
    let mut out: Vec<Vec<f32>> = Vec::new();
    for chunk in order.chunks(batch_size.max(1)) {
        let items: Vec<&Encoded> = chunk.iter().map(|&i| data[i]).collect();
        out.resize_with(chunk.len(), Vec::new);
        net.emissions(&items, &mut out[..chunk.len()])?;
        for (row, &i) in chunk.iter().enumerate() {
            f(i, &out[row]);
        }
    }
    Ok(())
}

/// [`for_each_emissions`] over sentences of documents (`documents[i]` for sentence `i`,
/// consecutive): with `context_tokens` above 0 each window of a document's sentences runs as
/// one sequence; `f` still gets each sentence's own emissions.
pub fn for_each_in_context<N: Network>(
    net: &mut N,
    data: &[&Encoded],
    documents: &[usize],
    context_tokens: usize,
    batch_size: usize,
    mut f: impl FnMut(usize, &[f32]),
) -> Result<()> {
    if context_tokens == 0 {
        return for_each_emissions(net, data, batch_size, f);
    }
    let lens: Vec<usize> = data.iter().map(|e| e.len()).collect();
    let windows = context::windows(&lens, documents, context_tokens);
    let joined: Vec<Encoded> = windows
        .iter()
        .map(|w| context::concat(&data[w.clone()]))
        .collect();
    let joined: Vec<&Encoded> = joined.iter().collect();
    let k = net.tags();
    for_each_emissions(net, &joined, batch_size, |w, em| {
        let mut at = 0;
        for i in windows[w].clone() {
            if lens[i] > 0 {
                f(i, &em[at * k..(at + lens[i]) * k]);
            }
            at += lens[i];
        }
    })
}
