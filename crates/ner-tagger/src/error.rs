//! Errors of reading and running a model. Each keeps its source; messages say what and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    /// Bad data or a bad request: the message says what and where.
    #[error("{0}")]
    Data(String),
    /// The network failed (libtorch's, for example), with its own error as the source.
    #[error("the network failed: {0}")]
    Network(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A model file that is present but wrong.
    pub fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.into(),
            message: message.into(),
        }
    }
}
