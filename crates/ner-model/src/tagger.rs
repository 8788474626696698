//! libtorch's [`Network`] for ner-tagger's one [`Tagger`]: a loaded model on the thread that
//! created it, batched, windowed and decoded exactly as the native network is (the same
//! `Tagger`), so that the two can be compared; it also runs on CUDA devices. [`Inference`]
//! runs a model that is being trained, borrowed, through the same batching.

use crate::batch::Batch;
use crate::checkpoint::{self, LoadedModel};
use crate::error::Result;
use crate::model::BiLstmCrf;
use crate::threading::{EncoderThreading, Threading};
use crate::transformer::Bert;
use crate::vocab::Encoded;
use ner_core::viterbi::Viterbi;
use ner_tagger::batching;
use ner_tagger::tagger::{Native, Parts};
use ner_tagger::{Network, Tagger, TaggerOptions};
use std::path::Path;
use tch::{Device, Kind};

/// How libtorch's tagger runs: the tagger's options, the device, and how two or more CPU
/// threads are used.
#[derive(Debug, Clone)]
pub struct TorchOptions {
    /// Batch size and threads (`None`: libtorch's count on the creating thread).
    pub tagger: TaggerOptions,
    /// Where the model runs.
    pub device: Device,
    /// How two or more threads are used on the CPU.
    pub threading: EncoderThreading,
}

impl Default for TorchOptions {
    fn default() -> Self {
        TorchOptions {
            tagger: TaggerOptions::default(),
            device: Device::Cpu,
            threading: EncoderThreading::default(),
        }
    }
}

/// ner-tagger's [`Tagger`] over libtorch's network and transformer.
pub type TorchTagger = Tagger<TorchNet, Bert>;

/// Loads the model in `dir` onto `opts.device`.
pub fn load(dir: &Path, opts: TorchOptions) -> Result<TorchTagger> {
    let loaded = checkpoint::load(dir, opts.device)?;
    let version = ner_tagger::weights::file_version(&dir.join(ner_tagger::directory::WEIGHTS))?;
    from_loaded(loaded, version, opts)
}

/// The tagger of a model already in memory; `version` names its weights.
pub fn from_loaded(
    mut loaded: LoadedModel,
    version: String,
    opts: TorchOptions,
) -> Result<TorchTagger> {
    let threads = opts.tagger.threads.map(|t| t as i32);
    let threading = Threading::new(threads, opts.threading);
    let parts = Parts {
        vocab: loaded.vocab.clone(),
        tags: loaded.model.tags.clone(),
        config: loaded.model.config.clone(),
        meta: loaded.meta.clone(),
        transitions: loaded.model.crf.transitions()?,
        version,
        threads: threading.threads().max(1) as usize,
    };
    let contextual = loaded.contextual.take();
    let net = TorchNet {
        loaded,
        device: opts.device,
        threading,
    };
    Ok(parts.tagger(net, contextual, opts.tagger.batch_size))
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

impl TorchNet {
    /// The loaded model (its transformer is the runner's).
    pub fn model(&self) -> &LoadedModel {
        &self.loaded
    }

    /// How it uses the CPU's threads.
    pub fn threading(&self) -> &Threading {
        &self.threading
    }
}

impl Network for TorchNet {
    fn tags(&self) -> usize {
        self.loaded.model.tags.len()
    }
    fn emissions(&mut self, batch: &[&Encoded], out: &mut [Vec<f32>]) -> ner_tagger::Result<()> {
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
    fn tags(&self) -> usize {
        self.model.tags.len()
    }
    fn emissions(&mut self, batch: &[&Encoded], out: &mut [Vec<f32>]) -> ner_tagger::Result<()> {
        self.run(batch, out)
            .map_err(|e| ner_tagger::Error::Network(Box::new(e)))
    }
}

impl Torch<'_, '_> {
    fn run(&mut self, batch: &[&Encoded], out: &mut [Vec<f32>]) -> Result<()> {
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
            }
            None => {
                let mut torch = Torch {
                    model,
                    device: self.device,
                    threading: self.threading,
                };
                batching::for_each_in_context(&mut torch, data, documents, context, size, f)?;
            }
        }
        Ok(())
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
