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
use crate::error::{ModelError, Result};
use crate::model::BiLstmCrf;
use crate::vocab::Vocab;
use ner_core::{LabelSet, TagScheme, TagSet};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// The model-directory format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

pub const WEIGHTS: &str = "model.safetensors";
pub const CONFIG: &str = "config.json";
pub const VOCAB: &str = "vocab.json";
pub const LABELS: &str = "labels.json";
pub const META: &str = "meta.json";

/// `labels.json`: the model's tag scheme and entity types, in index order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub scheme: TagScheme,
    pub labels: Vec<String>,
}

/// `meta.json`: format version, provenance and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub format_version: u32,
    /// A short model name, shown by the server.
    pub name: String,
    /// UTC creation time, RFC 3339.
    pub created: String,
    pub ner_version: String,
    /// Training data and settings (free-form).
    #[serde(default)]
    pub training: serde_json::Value,
    /// Evaluation results (free-form).
    #[serde(default)]
    pub metrics: serde_json::Value,
}

impl Meta {
    pub fn new(name: impl Into<String>) -> Self {
        Meta {
            format_version: FORMAT_VERSION,
            name: name.into(),
            created: utc_now(),
            ner_version: env!("CARGO_PKG_VERSION").to_owned(),
            training: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
        }
    }
}

/// The current UTC time as `YYYY-MM-DDThh:mm:ssZ`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

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

fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &'static str,
    what: &'static str,
) -> Result<T> {
    let path = dir.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelError::MissingFile {
                dir: dir.to_owned(),
                file,
            })
        }
        Err(e) => return Err(ModelError::io(path, e)),
    };
    serde_json::from_str(&text).map_err(|source| ModelError::Json { path, what, source })
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| ModelError::Json {
        path: path.to_owned(),
        what: "writing",
        source,
    })?;
    std::fs::write(path, text + "\n").map_err(|e| ModelError::io(path, e))
}

/// Builds the tag set of a `labels.json`, checking that it fits its scheme.
pub fn tag_set(labels: &Labels, path: &Path) -> Result<TagSet> {
    let bad = |message: String| ModelError::Checkpoint {
        path: path.to_owned(),
        message,
    };
    if !matches!(labels.scheme, TagScheme::Bio | TagScheme::Bioes) {
        return Err(bad(format!(
            "the model's tag scheme must be bio or bioes, found {}",
            labels.scheme
        )));
    }
    if labels.labels.is_empty() {
        return Err(bad("the model has no entity labels".into()));
    }
    for l in &labels.labels {
        if l.is_empty()
            || l == "O"
            || l.chars().any(char::is_whitespace)
            || ner_core::scheme::parse_tag(l).is_ok()
        {
            return Err(bad(format!(
                "label {l:?} does not fit the {} scheme: labels are bare types such as PER, without B-/I- prefixes or spaces",
                labels.scheme
            )));
        }
    }
    let set = LabelSet::frozen_from(&labels.labels);
    if set.len() != labels.labels.len() {
        return Err(bad("labels.json lists a label twice".into()));
    }
    Ok(TagSet::new(labels.scheme, set))
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
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let staging = dir.join(format!(".staging-{stamp}"));
    let result = (|| -> Result<()> {
        std::fs::create_dir(&staging).map_err(|e| ModelError::io(&staging, e))?;
        vs.save(staging.join(WEIGHTS))?;
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
                .map_err(|e| ModelError::io(&p, e))?;
        }
        for &f in &files {
            std::fs::rename(staging.join(f), dir.join(f))
                .map_err(|e| ModelError::io(dir.join(f), e))?;
        }
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result.map_err(|e| ModelError::Save {
        what: "the model",
        dir: dir.to_owned(),
        cause: Box::new(e),
    })
}

/// Replaces `meta.json` of the model in `dir` (through a temporary file and a rename).
pub fn write_meta(dir: &Path, meta: &Meta) -> Result<()> {
    let tmp = dir.join(format!("{META}.tmp"));
    write_json(&tmp, meta)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| ModelError::io(&tmp, e))?;
    std::fs::rename(&tmp, dir.join(META)).map_err(|e| ModelError::io(dir.join(META), e))
}

/// Reads and validates a model directory onto `device`.
pub fn load(dir: &Path, device: Device) -> Result<LoadedModel> {
    if !dir.is_dir() {
        return Err(ModelError::Checkpoint {
            path: dir.to_owned(),
            message: "not a model directory (it does not exist or is not a directory)".into(),
        });
    }
    let meta: Meta = read_json(dir, META, "model metadata")?;
    if meta.format_version != FORMAT_VERSION {
        return Err(ModelError::FormatVersion {
            path: dir.join(META),
            found: meta.format_version,
            supported: FORMAT_VERSION,
        });
    }
    let config: ModelConfig = read_json(dir, CONFIG, "the model configuration")?;
    config.validate().map_err(|m| ModelError::Checkpoint {
        path: dir.join(CONFIG),
        message: m,
    })?;
    let labels: Labels = read_json(dir, LABELS, "the label list")?;
    let tags = tag_set(&labels, &dir.join(LABELS))?;
    let mut vocab: Vocab = read_json(dir, VOCAB, "the vocabulary")?;
    vocab.reindex();
    vocab.validate().map_err(|m| ModelError::Checkpoint {
        path: dir.join(VOCAB),
        message: m,
    })?;
    let weights = dir.join(WEIGHTS);
    if !weights.exists() {
        return Err(ModelError::MissingFile {
            dir: dir.to_owned(),
            file: WEIGHTS,
        });
    }
    let subword = if config.subword_dim > 0 {
        let sw = crate::subword::Subword::load(dir)?;
        if sw.dim() != config.subword_dim {
            return Err(ModelError::Checkpoint {
                path: dir.join(crate::subword::TABLE_FILE),
                message: format!(
                    "subword table has {} dimensions, config.json says {}",
                    sw.dim(),
                    config.subword_dim
                ),
            });
        }
        vocab.set_subword(Some(sw.tokenizer().clone()));
        Some(sw.table)
    } else {
        None
    };
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
    load_weights(&vs, &weights)?;
    if let Some(table) = subword {
        model.set_subword_table(table, device);
    }
    let contextual = load_contextual(&config, device)?;
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
    let c = Contextual::load(
        &contextual::locate(source)?,
        &config.contextual_layers,
        device,
    )?;
    if c.dim() as i64 != config.contextual_dim {
        return Err(ModelError::Data(format!(
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
    let bad = |message: String| ModelError::Checkpoint {
        path: path.clone(),
        message,
    };
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

/// Whether `dir` holds every file of a model.
pub fn is_model_dir(dir: &Path) -> bool {
    [WEIGHTS, CONFIG, VOCAB, LABELS, META]
        .iter()
        .all(|f| dir.join(f).is_file())
}
