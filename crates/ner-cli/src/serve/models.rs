//! The models `ner serve` serves: the BiLSTM-CRF as the server's two halves (the codec on the
//! request side, the network on the model thread), the directories and names given on the
//! command line, and the loader that hot reload uses.

use crate::backend::{Options, Tagger};
use ner_core::Tagged;
use ner_server::model::TagOptions;
use ner_server::model::{Emissions, Loaded, ModelError, ModelFactory, ModelInfo, Network, Piece};
use ner_server::{Loader, ModelSpec};
use ner_tagger::{Runner, TagRequest};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The request side of the BiLSTM-CRF: ner-tagger's codec, with the facts `/info` shows.
struct Codec {
    codec: Arc<ner_tagger::Codec>,
    info: ModelInfo,
}

impl ner_server::model::Codec for Codec {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn encode(&self, sentences: &[Vec<&str>], documents: Vec<usize>) -> Piece {
        self.codec.encode(sentences, documents, false)
    }

    fn decode(&self, emissions: &Emissions, options: TagOptions) -> Vec<Tagged> {
        let req = TagRequest {
            probabilities: true,
            nbest: options.nbest,
        };
        self.codec.decode(emissions, req, false)
    }
}

/// The network side: the native runner, with the memo's counts at the last report.
struct Native {
    runner: Runner<ner_tagger::tagger::Native>,
    reported: (u64, u64),
}

impl Network for Native {
    fn forward(&mut self, pieces: &mut [Piece]) -> Result<Vec<Emissions>, ModelError> {
        self.runner
            .forward(pieces)
            .map_err(|e| ModelError::Tagging(e.to_string()))
    }

    fn take_memo_counts(&mut self) -> Option<(u64, u64)> {
        let now = self.runner.net.workspace.memo_counts();
        let before = std::mem::replace(&mut self.reported, now);
        Some((now.0 - before.0, now.1 - before.1))
    }
}

/// The network side on libtorch.
#[cfg(feature = "torch")]
struct Torch(Runner<ner_model::tagger::TorchNet, ner_model::transformer::Bert>);

#[cfg(feature = "torch")]
impl Network for Torch {
    fn forward(&mut self, pieces: &mut [Piece]) -> Result<Vec<Emissions>, ModelError> {
        self.0
            .forward(pieces)
            .map_err(|e| ModelError::Tagging(e.to_string()))
    }
}

/// The facts `/info` and `/models` show of a loaded model.
fn model_info(tagger: &Tagger, version: String) -> ModelInfo {
    let (meta, config) = (tagger.meta(), tagger.config());
    ModelInfo {
        name: meta.name.clone(),
        tags: tagger.tag_set().clone(),
        tokenization: config.tokenization,
        config: serde_json::to_value(config).unwrap_or_default(),
        metrics: meta.metrics.clone(),
        version,
    }
}

/// A loaded tagger, taken apart into the server's two halves.
fn halves(tagger: Tagger, version: String) -> Loaded {
    let info = model_info(&tagger, version);
    let (codec, network): (_, Box<dyn Network>) = match tagger {
        Tagger::Native(t) => {
            let (codec, runner) = t.split();
            let reported = runner.net.workspace.memo_counts();
            (codec, Box::new(Native { runner, reported }))
        }
        #[cfg(feature = "torch")]
        Tagger::Torch(t) => {
            let (codec, runner) = t.split();
            (codec, Box::new(Torch(runner)))
        }
    };
    Loaded {
        codec: Arc::new(Codec { codec, info }),
        network,
    }
}

/// The model shipped in `models/`, next to the binary's repository or the working directory.
fn default_model() -> PathBuf {
    let candidates = [
        PathBuf::from("models/en-conll03"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/en-conll03"),
    ];
    candidates
        .iter()
        .find(|p| p.join("meta.json").exists())
        .cloned()
        .unwrap_or_else(|| candidates[0].clone())
}

/// The models to serve as (name, directory): `--model`, else `NER_MODEL`, else the shipped
/// English model.
pub fn model_dirs(given: &[String]) -> Vec<(String, PathBuf)> {
    if given.is_empty() {
        let dir = std::env::var_os("NER_MODEL").map_or_else(default_model, PathBuf::from);
        return vec![(own_name(&dir), dir)];
    }
    given
        .iter()
        .map(|m| match m.split_once('=') {
            Some((name, dir)) if !name.is_empty() && !name.contains('/') => {
                (name.to_owned(), PathBuf::from(dir))
            }
            _ => (own_name(Path::new(m)), PathBuf::from(m)),
        })
        .collect()
}

/// The name in a model directory's `meta.json` (empty when unreadable: the server then uses
/// the name the loaded model reports).
fn own_name(dir: &Path) -> String {
    std::fs::read(dir.join("meta.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["name"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// FNV-1a (64 bits) of the weights file, in hex: the model's version as `/models` shows it.
fn weights_hash(dir: &Path) -> String {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap_or_default();
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// Builds the model in `dir` on the thread that calls the factory.
pub fn factory(dir: &Path, opts: Options) -> ModelFactory {
    let dir = dir.to_owned();
    Box::new(move || {
        let tagger = Tagger::load(&dir, &opts).map_err(|e| ModelError::Load(format!("{e:#}")))?;
        Ok(halves(tagger, weights_hash(&dir)))
    })
}

/// What hot reload uses to load a directory.
pub fn loader(opts: Options) -> Loader {
    Arc::new(move |dir: &Path| factory(dir, opts.clone()))
}

/// The models to start, the first the default.
pub fn specs(dirs: &[(String, PathBuf)], opts: &Options) -> Vec<ModelSpec> {
    dirs.iter()
        .map(|(name, dir)| ModelSpec {
            name: name.clone(),
            dir: Some(dir.clone()),
            factory: factory(dir, opts.clone()),
        })
        .collect()
}
