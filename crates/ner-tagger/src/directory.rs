//! Model directories: `model.safetensors`, `config.json`, `vocab.json`, `labels.json`,
//! `meta.json`, and for a model with subword vectors `tokenizer.json` and
//! `subword.safetensors`.
//!
//! Reading validates every file and names what is wrong: a missing file, an unknown format
//! version, labels that do not fit the scheme, a vocabulary that does not fit the
//! configuration. The weights themselves are read by whoever runs the network: the native
//! tagger ([`crate::tagger`]) or ner-model's libtorch model, from the same files.

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::vocab::Vocab;
use crate::weights::Table;
use ner_core::{LabelSet, TagScheme, TagSet};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The model-directory format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The weights' file.
pub const WEIGHTS: &str = "model.safetensors";
/// The configuration's file.
pub const CONFIG: &str = "config.json";
/// The vocabulary's file.
pub const VOCAB: &str = "vocab.json";
/// The labels' file.
pub const LABELS: &str = "labels.json";
/// The metadata's file.
pub const META: &str = "meta.json";

/// `labels.json`: the model's tag scheme and entity types, in index order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// The scheme the model tags in.
    pub scheme: TagScheme,
    /// The entity types, in index order.
    pub labels: Vec<String>,
}

/// `meta.json`: format version, provenance and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The directory format's version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// A short model name, shown by the server.
    pub name: String,
    /// UTC creation time, RFC 3339.
    pub created: String,
    /// The release that wrote it.
    pub ner_version: String,
    /// Training data and settings (free-form).
    #[serde(default)]
    pub training: serde_json::Value,
    /// Evaluation results (free-form).
    #[serde(default)]
    pub metrics: serde_json::Value,
}

impl Meta {
    /// Metadata of a model named `name`, created now.
    pub fn new(name: impl Into<String>) -> Self {
        Meta {
            format_version: FORMAT_VERSION,
            name: name.into(),
            created: utc_now(),
            ner_version: crate::VERSION.to_owned(),
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

/// A model directory's files but its weights, read and validated.
#[derive(Debug)]
pub struct ModelFiles {
    /// The directory.
    pub dir: PathBuf,
    /// The architecture.
    pub config: ModelConfig,
    /// The vocabulary, with the subword tokenizer attached when the model has one.
    pub vocab: Vocab,
    /// The tag set.
    pub tags: TagSet,
    /// `meta.json`.
    pub meta: Meta,
    /// The frozen subword table, when the model has subword vectors.
    pub subword: Option<Table>,
}

impl ModelFiles {
    /// Reads and validates everything in `dir` but `model.safetensors` (which must exist).
    pub fn read(dir: &Path) -> Result<ModelFiles> {
        if !dir.is_dir() {
            return Err(Error::checkpoint(
                dir,
                "not a model directory (it does not exist or is not a directory)",
            ));
        }
        let meta: Meta = read_json(dir, META, "model metadata")?;
        if meta.format_version != FORMAT_VERSION {
            return Err(Error::FormatVersion {
                path: dir.join(META),
                found: meta.format_version,
                supported: FORMAT_VERSION,
            });
        }
        let config: ModelConfig = read_json(dir, CONFIG, "the model configuration")?;
        config
            .validate()
            .map_err(|m| Error::checkpoint(dir.join(CONFIG), m))?;
        let labels: Labels = read_json(dir, LABELS, "the label list")?;
        let tags = tag_set(&labels, &dir.join(LABELS))?;
        let mut vocab: Vocab = read_json(dir, VOCAB, "the vocabulary")?;
        vocab.reindex();
        vocab
            .validate()
            .map_err(|m| Error::checkpoint(dir.join(VOCAB), m))?;
        if !dir.join(WEIGHTS).exists() {
            return Err(Error::MissingFile {
                dir: dir.to_owned(),
                file: WEIGHTS,
            });
        }
        let subword = match usize::try_from(config.subword_dim).unwrap_or(0) {
            0 => None,
            dim => {
                let (tokenizer, table) = crate::subword::load(dir, Some(dim))?;
                vocab.set_subword(Some(tokenizer));
                Some(table)
            }
        };
        Ok(ModelFiles {
            dir: dir.to_owned(),
            config,
            vocab,
            tags,
            meta,
            subword,
        })
    }

    /// The path of the weights file.
    pub fn weights(&self) -> PathBuf {
        self.dir.join(WEIGHTS)
    }
}

/// Reads `file` of `dir` as JSON; `what` names it in messages.
pub fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &'static str,
    what: &'static str,
) -> Result<T> {
    let path = dir.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::MissingFile {
                dir: dir.to_owned(),
                file,
            })
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    serde_json::from_str(&text).map_err(|source| Error::Json { path, what, source })
}

/// Builds the tag set of a `labels.json`, checking that it fits its scheme.
pub fn tag_set(labels: &Labels, path: &Path) -> Result<TagSet> {
    let bad = |message: String| Error::checkpoint(path, message);
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

/// Whether `dir` holds every file of a model.
pub fn is_model_dir(dir: &Path) -> bool {
    [WEIGHTS, CONFIG, VOCAB, LABELS, META]
        .iter()
        .all(|f| dir.join(f).is_file())
}
