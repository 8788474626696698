//! How a tagger spreads a batch over CPU threads.
//!
//! The native forward pass runs the two directions of each recurrent layer on two threads
//! (rayon's `join`) when it has two or more; the transformer of contextual features splits its
//! matrix products. libtorch's backend (ner-model) reads [`EncoderThreading`] to choose between
//! its intra-op threads and the two directions.

/// How the tagger spreads a batch over two or more CPU threads (libtorch's backend; the native
/// one always runs the directions side by side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum EncoderThreading {
    /// The encoder's two directions on two threads for batches of at most 4 sentences, libtorch's intra-op threads inside each operation for larger
    /// ones: the fastest for a process that has the cores to itself (evaluation, `ner predict`).
    #[default]
    Auto,
    /// Always the two directions on two threads, one libtorch thread each. Under a server's
    /// load this wins: libtorch's idle intra-op threads spin for work between operations and
    /// take the cycles the HTTP side needs.
    Directions,
    /// Always libtorch's intra-op threads.
    IntraOp,
}

/// Batches of at most this many sentences run their directions in parallel under `Auto`.
pub const SMALL_BATCH: usize = 4;

/// The threads a tagger uses when none are given: the machine's cores, as libtorch counts them.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
