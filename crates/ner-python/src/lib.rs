//! `bilstm_crf_ner._native`: the tagger of ner-tagger for Python. Texts are tokenised,
//! encoded, run through the network and decoded exactly as `ner serve` does it, so that the
//! entities are the server's; the GIL is released while a batch is tagged.

mod results;
mod tagging;

use ner_core::document::DEFAULT_MAX_SENTENCE_TOKENS;
use ner_core::results::ResultOptions;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use results::{Analysis, Entity, Labeling, SentenceNbest, Token};
use std::path::PathBuf;
use tagging::{options, Texts};

create_exception!(
    _native,
    ModelError,
    PyException,
    "A model could not be loaded or could not tag: the message says which file and why."
);

/// A loaded model. Thread-safe: calls from several Python threads run their tokenisation and
/// decoding side by side and take turns on the network.
#[pyclass(frozen, module = "bilstm_crf_ner")]
struct Tagger(tagging::Model);

#[pymethods]
impl Tagger {
    /// Loads the model directory at `path`, or the installed model package of that name
    /// (`threads`: the CPU threads it may use, the machine's cores when None;
    /// `max_sentence_tokens`: longer sentences are cut, as the server's `--max-sentence-tokens`).
    #[staticmethod]
    #[pyo3(signature = (path, threads = None, max_sentence_tokens = DEFAULT_MAX_SENTENCE_TOKENS))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        threads: Option<usize>,
        max_sentence_tokens: usize,
    ) -> PyResult<Self> {
        if threads == Some(0) || max_sentence_tokens == 0 {
            return Err(PyValueError::new_err(
                "threads and max_sentence_tokens must be at least 1",
            ));
        }
        let path = resolve(py, path)?;
        let loaded = py.detach(|| tagging::Model::load(&path, threads, max_sentence_tokens));
        match loaded {
            Ok(model) => Ok(Tagger(model)),
            Err(e) if !path.exists() => Err(PyFileNotFoundError::new_err(e.to_string())),
            Err(e) => Err(ModelError::new_err(e.to_string())),
        }
    }

    /// The model's name (as `ner serve` reports it).
    #[getter]
    fn name(&self) -> String {
        self.0.name().to_owned()
    }

    /// The entity labels the model knows.
    #[getter]
    fn labels(&self) -> Vec<String> {
        self.0.labels()
    }

    /// The entities of one text, with Python string offsets.
    #[pyo3(signature = (text, *, min_score = None))]
    fn tag(&self, py: Python<'_>, text: String, min_score: Option<f64>) -> PyResult<Vec<Entity>> {
        let opts = options(false, 0, min_score)?;
        let mut out = self.run(py, vec![text], opts)?;
        Ok(out.pop().map(|a| a.entities).unwrap_or_default())
    }

    /// The entities of each text, in order.
    #[pyo3(signature = (texts, *, min_score = None))]
    fn tag_batch(
        &self,
        py: Python<'_>,
        texts: Vec<String>,
        min_score: Option<f64>,
    ) -> PyResult<Vec<Vec<Entity>>> {
        let opts = options(false, 0, min_score)?;
        let out = self.run(py, texts, opts)?;
        Ok(out.into_iter().map(|a| a.entities).collect())
    }

    /// One text's entities and, on request, its tokens and the k best labelings of each
    /// sentence: what `POST /ner` answers with `tokens` and `nbest`.
    #[pyo3(signature = (text, *, tokens = false, nbest = 0, min_score = None))]
    fn analyze(
        &self,
        py: Python<'_>,
        text: String,
        tokens: bool,
        nbest: usize,
        min_score: Option<f64>,
    ) -> PyResult<Analysis> {
        let opts = options(tokens, nbest, min_score)?;
        let mut out = self.run(py, vec![text], opts)?;
        out.pop()
            .ok_or_else(|| ModelError::new_err("the tagger returned no result"))
    }

    /// `analyze` for several texts, in order.
    #[pyo3(signature = (texts, *, tokens = false, nbest = 0, min_score = None))]
    fn analyze_batch(
        &self,
        py: Python<'_>,
        texts: Vec<String>,
        tokens: bool,
        nbest: usize,
        min_score: Option<f64>,
    ) -> PyResult<Vec<Analysis>> {
        let opts = options(tokens, nbest, min_score)?;
        self.run(py, texts, opts)
    }

    fn __repr__(&self) -> String {
        format!(
            "Tagger(name={:?}, labels={:?})",
            self.0.name(),
            self.0.labels()
        )
    }
}

/// `path` itself when it exists or names a path; otherwise the directory of the installed
/// model package of that name, if there is one (`bilstm_crf_ner._models`).
fn resolve(py: Python<'_>, path: PathBuf) -> PyResult<PathBuf> {
    let name = path.to_string_lossy().into_owned();
    if path.exists() || name.contains(['/', '\\']) {
        return Ok(path);
    }
    let found: Option<String> = py
        .import("bilstm_crf_ner._models")?
        .call_method1("find", (&name,))?
        .extract()?;
    match found {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => {
            let installed: Vec<String> = py
                .import("bilstm_crf_ner._models")?
                .call_method0("installed")?
                .extract()?;
            Err(PyFileNotFoundError::new_err(format!(
                "{name}: no such model directory, and no installed model package of that name \
                 (installed: {}); give a model directory's path, or install a model package \
                 (scripts/python-model-package.py)",
                match installed.is_empty() {
                    true => "none".to_owned(),
                    false => installed.join(", "),
                }
            )))
        }
    }
}

impl Tagger {
    /// Tags `texts` without the GIL.
    fn run(
        &self,
        py: Python<'_>,
        texts: Vec<String>,
        opts: ResultOptions,
    ) -> PyResult<Vec<Analysis>> {
        let model = &self.0;
        py.detach(|| model.tag(&Texts(texts), opts))
            .map_err(|e| ModelError::new_err(e.to_string()))
    }
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Tagger>()?;
    m.add_class::<Entity>()?;
    m.add_class::<Token>()?;
    m.add_class::<Labeling>()?;
    m.add_class::<SentenceNbest>()?;
    m.add_class::<Analysis>()?;
    m.add("ModelError", m.py().get_type::<ModelError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_NBEST", tagging::MAX_NBEST)?;
    m.add("DEFAULT_MAX_SENTENCE_TOKENS", DEFAULT_MAX_SENTENCE_TOKENS)?;
    Ok(())
}
