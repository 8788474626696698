//! Errors of reading and running a model. Each keeps its source; messages say what and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
/// Why a model could not be read or run.
pub enum Error {
    #[error("{path}: {source}")]
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        #[source]
        /// Why.
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON for {what}: {source}")]
    /// A file that is not the JSON it should be.
    Json {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
        #[source]
        /// Why it does not parse.
        source: serde_json::Error,
    },
    #[error("{dir}: missing model file {file}; a model directory holds model.safetensors, config.json, vocab.json, labels.json and meta.json")]
    /// A model directory without one of its files.
    MissingFile {
        /// The directory.
        dir: PathBuf,
        /// The file it lacks.
        file: &'static str,
    },
    #[error("{path}: model format version {found} is not supported (this build reads version {supported}); retrain or use a matching release")]
    /// A model directory of another format version.
    FormatVersion {
        /// The file that says so.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    #[error("{path}: {message}")]
    /// A model file that is present but wrong.
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Bad data or a bad request: the message says what and where.
    #[error("{0}")]
    Data(String),
    /// The network failed (libtorch's, for example), with its own error as the source.
    #[error("the network failed: {0}")]
    Network(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A file that could not be read or written.
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
