//! The torch backend's `Tagger`: a loaded model on libtorch, on the thread that created it,
//! tagging batches of tokenised sentences as ner-tagger's native tagger does (the same
//! batching, document windows and decoding), so that the two can be compared; it also runs
//! on CUDA devices.

use crate::batch::Batch;
use crate::checkpoint::{self, LoadedModel};
use crate::error::{ModelError, Result};
use crate::model::BiLstmCrf;
use crate::threading::{EncoderThreading, Threading};
use crate::vocab::Encoded;
use ner_core::viterbi::Viterbi;
use ner_core::{TagSet, Tagged};
use ner_tagger::batching::{self, Network};
use ner_tagger::tagger::Native;
pub use ner_tagger::TagRequest;
use ner_tagger::{Codec, Emissions, Piece, Runner};
use std::path::Path;
use std::sync::Arc;
use tch::{Device, Kind};

/// How the tagger runs.
#[derive(Debug, Clone)]
pub struct TaggerOptions {
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// libtorch intra-op threads in all (`None`: libtorch's count on the creating thread).
    pub threads: Option<i32>,
    pub device: Device,
    /// How two or more threads are used on the CPU.
    pub threading: EncoderThreading,
}

impl Default for TaggerOptions {
    fn default() -> Self {
        TaggerOptions {
            batch_size: 64,
            threads: None,
            device: Device::Cpu,
            threading: EncoderThreading::Auto,
        }
    }
}

/// A loaded model on libtorch: the shared [`Codec`] and a [`Runner`] of libtorch's network.
pub struct Tagger {
    codec: Arc<Codec>,
    runner: Runner<TorchNet, crate::transformer::Bert>,
}

impl std::fmt::Debug for Tagger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tagger")
            .field("model", &self.runner.net.loaded)
            .field("threading", &self.runner.net.threading)
            .finish_non_exhaustive()
    }
}

impl Tagger {
    /// Loads the model in `dir` onto `opts.device`.
    pub fn load(dir: &Path, opts: TaggerOptions) -> Result<Self> {
        let loaded = checkpoint::load(dir, opts.device)?;
        Self::from_loaded(loaded, opts)
    }

    /// A tagger of a model already in memory.
    pub fn from_loaded(mut loaded: LoadedModel, opts: TaggerOptions) -> Result<Self> {
        let transitions = loaded.model.crf.transitions()?;
        let contextual = loaded.contextual.take();
        let pieces = contextual.as_ref().map(|c| c.word_pieces().clone());
        let codec = Codec::new(
            loaded.vocab.clone(),
            loaded.model.tags.clone(),
            transitions,
            pieces,
        );
        let runner = Runner {
            context_tokens: loaded.model.config.context_tokens,
            batch_size: opts.batch_size,
            contextual,
            net: TorchNet {
                loaded,
                device: opts.device,
                threading: Threading::new(opts.threads, opts.threading),
            },
        };
        Ok(Tagger {
            codec: Arc::new(codec),
            runner,
        })
    }

    /// The request side (encoding, decoding) and the network side, apart.
    pub fn split(self) -> (Arc<Codec>, Runner<TorchNet, crate::transformer::Bert>) {
        (self.codec, self.runner)
    }

    /// The loaded model (its transformer is the runner's).
    pub fn model(&self) -> &LoadedModel {
        &self.runner.net.loaded
    }

    pub fn tag_set(&self) -> &TagSet {
        self.codec.tag_set()
    }

    pub fn threading(&self) -> &Threading {
        &self.runner.net.threading
    }

    /// Tags sentences, each a document of its own; results in input order.
    pub fn tag<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        req: TagRequest,
    ) -> Result<Vec<Tagged>> {
        let documents: Vec<usize> = (0..sentences.len()).collect();
        self.tag_documents(sentences, &documents, req)
    }

    /// Tags sentences of documents (`documents[i]` for sentence `i`, consecutive), as
    /// [`ner_tagger::Tagger::tag_documents`] does.
    pub fn tag_documents<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        documents: &[usize],
        req: TagRequest,
    ) -> Result<Vec<Tagged>> {
        let em = self.emissions(sentences, documents)?;
        let parallel = self.runner.net.threading.threads() >= 2;
        Ok(self.codec.decode(&em, req, parallel))
    }

    /// The best tag path of every sentence of documents.
    pub fn best_paths<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        documents: &[usize],
    ) -> Result<Vec<Vec<usize>>> {
        let em = self.emissions(sentences, documents)?;
        Ok(self.codec.best_paths(&em))
    }

    /// Sentences of documents as network input.
    pub fn encode<S: AsRef<str> + Sync>(&self, sentences: &[Vec<S>], documents: &[usize]) -> Piece {
        self.codec.encode(sentences, documents.to_vec(), false)
    }

    /// Every sentence's emissions.
    pub fn emissions<S: AsRef<str> + Sync>(
        &mut self,
        sentences: &[Vec<S>],
        documents: &[usize],
    ) -> Result<Emissions> {
        let piece = self.encode(sentences, documents);
        self.runner.run(piece)
    }
}

/// libtorch's network over a loaded model, owned: the runner of the torch [`Tagger`].
pub struct TorchNet {
    loaded: LoadedModel,
    device: Device,
    threading: Threading,
}

impl std::fmt::Debug for TorchNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorchNet")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Network for TorchNet {
    type Error = ModelError;
    fn tags(&self) -> usize {
        self.loaded.model.tags.len()
    }
    fn emissions(&mut self, batch: &[&Encoded], out: &mut [Vec<f32>]) -> Result<()> {
        let mut torch = Torch {
            model: &self.loaded.model,
            device: self.device,
            threading: Some(&mut self.threading),
        };
        torch.emissions(batch, out)
    }
}

/// libtorch's model as a [`Network`] for ner-tagger's batching.
struct Torch<'a, 'b> {
    model: &'a BiLstmCrf,
    device: Device,
    threading: Option<&'b mut Threading>,
}

impl Network for Torch<'_, '_> {
    type Error = ModelError;
    fn tags(&self) -> usize {
        self.model.tags.len()
    }
    fn emissions(&mut self, batch: &[&Encoded], out: &mut [Vec<f32>]) -> Result<()> {
        let helper = match (&mut self.threading, self.device) {
            (Some(t), Device::Cpu) => t.prepare(batch.len()),
            _ => None,
        };
        let b = Batch::new(batch, self.device);
        let em = tch::no_grad(|| self.model.emissions_with(&b, false, helper));
        let (t_max, k) = (b.max_len() as usize, self.tags());
        let flat =
            Vec::<f32>::try_from(em.to_device(Device::Cpu).to_kind(Kind::Float).reshape([-1]))?;
        for (row, (o, e)) in out.iter_mut().zip(batch).enumerate() {
            o.clear();
            o.extend_from_slice(&flat[row * t_max * k..(row * t_max + e.len()) * k]);
        }
        Ok(())
    }
}

/// How a batch of sentences goes through the network.
#[derive(Debug)]
pub struct Inference<'a> {
    /// Sentences per forward pass.
    pub batch_size: usize,
    pub device: Device,
    /// `None`: on the calling thread with libtorch's thread count as it is.
    pub threading: Option<&'a mut Threading>,
    /// Run natively (ner-tagger's forward pass over this model's packed weights) rather than
    /// through libtorch.
    pub native: Option<&'a mut Native>,
}

impl Inference<'_> {
    /// On the calling thread, in batches of `batch_size`, leaving libtorch's threads alone.
    pub fn plain(batch_size: usize, device: Device) -> Inference<'static> {
        Inference {
            batch_size,
            device,
            threading: None,
            native: None,
        }
    }

    /// Runs the model over `data` in batches sorted by length (to limit padding), under
    /// `no_grad`, and calls `f(index, emissions)` with each non-empty sentence's emissions
    /// `[len][K]`.
    pub fn for_each_emissions(
        self,
        model: &BiLstmCrf,
        data: &[Encoded],
        f: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        let documents: Vec<usize> = (0..data.len()).collect();
        self.run(model, data, &documents, 0, f)
    }

    /// [`Inference::for_each_emissions`] over sentences of documents (`documents[i]` for
    /// sentence `i`, consecutive): a model with document context reads each window of a
    /// document's sentences as one sequence (see [`crate::context`]); `f` still gets each
    /// sentence's own emissions.
    pub fn for_each_in_context(
        self,
        model: &BiLstmCrf,
        data: &[Encoded],
        documents: &[usize],
        f: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        let context = model.config.context_tokens;
        self.run(model, data, documents, context, f)
    }

    fn run(
        self,
        model: &BiLstmCrf,
        data: &[Encoded],
        documents: &[usize],
        context: usize,
        f: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        let size = self.batch_size;
        let data: Vec<&Encoded> = data.iter().collect();
        let data = &data[..];
        match self.native {
            Some(native) => {
                batching::for_each_in_context(native, data, documents, context, size, f)?;
                Ok(())
            }
            None => {
                let mut torch = Torch {
                    model,
                    device: self.device,
                    threading: self.threading,
                };
                batching::for_each_in_context(&mut torch, data, documents, context, size, f)
            }
        }
    }

    /// The best tag path of every sentence, in input order (`documents` as for
    /// [`Inference::for_each_in_context`]).
    pub fn best_paths(
        self,
        model: &BiLstmCrf,
        data: &[Encoded],
        documents: &[usize],
    ) -> Result<Vec<Vec<usize>>> {
        let tr = model.crf.transitions()?;
        let mut viterbi = Viterbi::new();
        let mut out = vec![Vec::new(); data.len()];
        self.for_each_in_context(model, data, documents, |i, em| {
            viterbi.decode(&tr, em, &mut out[i]);
        })?;
        Ok(out)
    }
}
