//! Model directories: `model.safetensors`, `config.json`, `vocab.json`, `labels.json`,
//! `meta.json`.
//!
//! Loading validates every file and names what is wrong: a missing file, an unknown format
//! version, labels that do not fit the scheme, a corrupted safetensors file, a missing,
//! unexpected or wrongly shaped tensor. Saving is atomic: everything is written into a
//! temporary directory beside the target, which is then renamed into place, so an interrupted
//! save never leaves a half model.

use crate::config::ModelConfig;
use crate::contextual::{self, Contextual};
use crate::error::{Result, TrainError};
use crate::model::BiLstmCrf;
use crate::vocab::Vocab;
use ner_tagger::bert::TUNED_PREFIX;
use ner_tagger::directory::ModelFiles;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::{Device, Tensor};

pub use ner_tagger::directory::{
    is_model_dir, read_json, tag_set, utc_now, Labels, Meta, CONFIG, FORMAT_VERSION, LABELS, META,
    VOCAB, WEIGHTS,
};

/// A model with everything needed to use it.
pub struct LoadedModel {
    pub vs: VarStore,
    pub model: BiLstmCrf,
    pub vocab: Vocab,
    pub meta: Meta,
    /// The transformer of a model with contextual features.
    pub contextual: Option<Contextual>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|source| TrainError::json(path.to_owned(), "writing", source))?;
    std::fs::write(path, text + "\n").map_err(|e| TrainError::io(path, e))
}

/// Writes a model into `dir` (created if needed), replacing the model files of an earlier save
/// and leaving other files (metrics, plots) alone.
///
/// Every file is first written and synced in a staging directory inside `dir`, then renamed
/// into place, weights before metadata; a rename is atomic, so an interrupted save leaves
/// either the old or the new version of each file and never a truncated one. The files of one
/// training run share their configuration, vocabulary and labels, so every mix is a loadable
/// model.
pub fn save(
    dir: &Path,
    vs: &VarStore,
    model: &BiLstmCrf,
    vocab: &Vocab,
    meta: &Meta,
) -> Result<()> {
    save_as(dir, vs, model, vocab, meta, Precision::Shipped)
}

/// How the fine-tuned transformer layers are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// In half precision (what a model directory ships; they are read back widened).
    Shipped,
    /// As trained, in single precision (a run's checkpoint, which must resume exactly).
    Exact,
}

/// [`save`], with the fine-tuned transformer layers stored at `precision`.
pub fn save_as(
    dir: &Path,
    vs: &VarStore,
    model: &BiLstmCrf,
    vocab: &Vocab,
    meta: &Meta,
    precision: Precision,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let staging = dir.join(format!(".staging-{stamp}"));
    let result = (|| -> Result<()> {
        std::fs::create_dir(&staging).map_err(|e| TrainError::io(&staging, e))?;
        write_weights(vs, &staging.join(WEIGHTS), precision)?;
        write_json(&staging.join(CONFIG), &model.config)?;
        write_json(&staging.join(VOCAB), vocab)?;
        let labels = Labels {
            scheme: model.tags.scheme(),
            labels: model.tags.labels().names().to_vec(),
        };
        write_json(&staging.join(LABELS), &labels)?;
        write_json(&staging.join(META), meta)?;
        let mut files = vec![CONFIG, VOCAB, LABELS, WEIGHTS, META];
        if let (Some(tok), Some(table)) = (vocab.subword(), &model.subword_table) {
            crate::subword::save_parts(&staging, tok, table)?;
            files.splice(
                0..0,
                [crate::subword::TOKENIZER_FILE, crate::subword::TABLE_FILE],
            );
        }
        for &f in &files {
            let p = staging.join(f);
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| TrainError::io(&p, e))?;
        }
        for &f in &files {
            std::fs::rename(staging.join(f), dir.join(f))
                .map_err(|e| TrainError::io(dir.join(f), e))?;
        }
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result.map_err(|e| TrainError::Save {
        what: "the model",
        dir: dir.to_owned(),
        cause: Box::new(e),
    })
}

/// Writes every variable of `vs`, the fine-tuned transformer's at `precision`.
fn write_weights(vs: &VarStore, path: &Path, precision: Precision) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, t) in named.iter_mut() {
        if precision == Precision::Shipped && name.starts_with(TUNED_PREFIX) {
            *t = t.to_kind(tch::Kind::Half);
        }
    }
    Tensor::write_safetensors(&named, path)
        .map_err(|e| TrainError::checkpoint(path.to_owned(), format!("writing the weights: {e}")))
}

/// Replaces `meta.json` of the model in `dir` (through a temporary file and a rename).
pub fn write_meta(dir: &Path, meta: &Meta) -> Result<()> {
    let tmp = dir.join(format!("{META}.tmp"));
    write_json(&tmp, meta)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| TrainError::io(&tmp, e))?;
    std::fs::rename(&tmp, dir.join(META)).map_err(|e| TrainError::io(dir.join(META), e))
}

/// Reads and validates a model directory onto `device`.
pub fn load(dir: &Path, device: Device) -> Result<LoadedModel> {
    let files = ModelFiles::read(dir)?;
    let weights = files.weights();
    let ModelFiles {
        config,
        vocab,
        tags,
        meta,
        subword,
        ..
    } = files;
    let vs = VarStore::new(device);
    let mut model = BiLstmCrf::new(
        &vs.root(),
        &config,
        &tags,
        vocab.num_words() as i64,
        vocab.num_chars() as i64,
        vocab.num_bigrams() as i64,
        vocab.num_lexicon() as i64,
    );
    let mut contextual = load_contextual(&config, device)?;
    if let Some(c) = contextual.as_mut() {
        model.finetune(&vs.root(), c);
    }
    load_weights(&vs, &weights)?;
    if let Some(table) = subword {
        let t = Tensor::from_slice(&table.data).view([-1, table.dim as i64]);
        model.set_subword_table(t, device);
    }
    Ok(LoadedModel {
        vs,
        model,
        vocab,
        meta,
        contextual,
    })
}

/// The transformer of a model with contextual features, checked against its config.
pub fn load_contextual(config: &ModelConfig, device: Device) -> Result<Option<Contextual>> {
    if config.contextual_layers.is_empty() {
        return Ok(None);
    }
    let source = config.contextual_source.as_deref().unwrap_or_default();
    let c = contextual::load(
        &contextual::locate(source)?,
        &config.contextual_layers,
        device,
    )?;
    if c.dim() as i64 != config.contextual_dim {
        return Err(TrainError::data(format!(
            "the transformer {source:?} gives {}-wide features, the model was trained on {}",
            c.dim(),
            config.contextual_dim
        )));
    }
    Ok(Some(c))
}

/// Copies tensors from a safetensors file into `vs` after checking that names and shapes match
/// exactly (libtorch would silently broadcast some mismatches).
pub fn load_weights(vs: &VarStore, path: &PathBuf) -> Result<()> {
    let bad = |message: String| TrainError::checkpoint(path.clone(), message);
    let stored: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| bad(format!("corrupted or unreadable safetensors file: {e}")))?
        .into_iter()
        .collect();
    let mut vars = vs.variables();
    let mut names: Vec<&String> = stored.keys().collect();
    names.sort();
    for n in names {
        if !vars.contains_key(n) {
            return Err(bad(format!(
                "unexpected tensor {n:?}: the weights do not belong to this configuration"
            )));
        }
    }
    for (name, var) in vars.iter_mut() {
        let src = stored.get(name).ok_or_else(|| {
            bad(format!(
                "tensor {name:?} is missing: the weights do not belong to this configuration"
            ))
        })?;
        if src.size() != var.size() {
            return Err(bad(format!(
                "tensor {name:?} has shape {:?}, the configuration needs {:?}",
                src.size(),
                var.size()
            )));
        }
        tch::no_grad(|| var.f_copy_(&src.to_kind(var.kind()).to_device(var.device())))?;
    }
    Ok(())
}
