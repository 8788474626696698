//! The models `ner serve` serves: the directories and names given on the command line, and
//! the factory that loads one (on the chosen backend) and hands its two halves to the server;
//! hot reload uses the same.

use crate::backend::{self, InferenceArgs};
use ner_server::model::{Halves, ModelFactory, WorkerError};
use ner_server::{Loader, ModelSpec};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Builds the model in `dir` on the thread that calls the factory.
pub fn factory(dir: &Path, opts: InferenceArgs) -> ModelFactory {
    let dir = dir.to_owned();
    Box::new(move || {
        let tagger = backend::load(&dir, &opts).map_err(WorkerError::load)?;
        let (codec, runner) = tagger.split();
        Ok(Halves {
            codec,
            network: Box::new(runner),
        })
    })
}
/// What hot reload uses to load a directory.
pub fn loader(opts: InferenceArgs) -> Loader {
    Arc::new(move |dir: &Path| factory(dir, opts.clone()))
}

/// The models to start, the first the default.
pub fn specs(dirs: &[(String, PathBuf)], opts: &InferenceArgs) -> Vec<ModelSpec> {
    dirs.iter()
        .map(|(name, dir)| ModelSpec {
            name: name.clone(),
            dir: Some(dir.clone()),
            factory: factory(dir, opts.clone()),
        })
        .collect()
}
