//! Errors of training and of libtorch's model. Each keeps its source; messages say what and
//! where. What reading and running a model can fail with is ner-tagger's error, wrapped
//! ([`TrainError::Tagger`]), not copied.

pub use ner_tagger::Error as TaggerError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Tch(#[from] tch::TchError),
    /// Reading a model directory, or anything the tagging crate does.
    #[error(transparent)]
    Tagger(#[from] ner_tagger::Error),
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
        cause: Box<TrainError>,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

impl TrainError {
    /// A file that could not be read or written (ner-tagger's error, which this one wraps).
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TaggerError::io(path, source).into()
    }

    /// A model or checkpoint file that is present but wrong.
    pub(crate) fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        TaggerError::checkpoint(path, message).into()
    }

    /// A file that is not the JSON it should be.
    pub(crate) fn json(
        path: impl Into<PathBuf>,
        what: &'static str,
        source: serde_json::Error,
    ) -> Self {
        let path = path.into();
        TaggerError::Json { path, what, source }.into()
    }

    /// Bad data: the message says what and where.
    pub(crate) fn data(message: impl Into<String>) -> Self {
        TaggerError::Data(message.into()).into()
    }
}
