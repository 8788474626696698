//! Errors of the model crate. Each keeps its source; messages say what and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Tch(#[from] tch::TchError),
    /// Reading a model directory, or anything the tagging crate does.
    #[error(transparent)]
    Tagger(#[from] ner_tagger::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON for {what}: {source}")]
    Json {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{dir}: missing model file {file}; a model directory holds model.safetensors, config.json, vocab.json, labels.json and meta.json")]
    MissingFile { dir: PathBuf, file: &'static str },
    #[error("{path}: model format version {found} is not supported (this build reads version {supported}); retrain or use a matching release")]
    FormatVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("{path}:{line}: {message}")]
    Vectors {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Corpus(#[from] ner_core::corpus::CorpusError),
    /// The cause is part of the message (not a `source`), so that it is printed once.
    #[error("cannot save {what} into {dir}: {cause} (is the disk full?); what {dir} held before is unchanged")]
    Save {
        what: &'static str,
        dir: PathBuf,
        cause: Box<ModelError>,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Data(String),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }
}
