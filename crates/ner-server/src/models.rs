//! The models one server holds, by name: each on its own model thread and batcher
//! ([`Worker`]); the first is the default, used when a request names none.
//!
//! A model can be replaced while the server runs ([`Models::reload`]): the new one is loaded
//! on fresh threads and must answer a smoke sentence before it takes the old one's place.
//! Requests that already hold the old worker finish on it (its threads end when the last of
//! them is done); new requests go to the new one. Nothing is dropped or answered twice.

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::{DecodeOptions, ModelFactory};
use crate::worker::{BatchConfig, Job, Worker};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Builds the factory of the model in a directory (the binary knows how; tests fake it).
pub type Loader = Arc<dyn Fn(&Path) -> ModelFactory + Send + Sync>;

/// The worker a model name points at now, and since when.
#[derive(Clone)]
pub struct Current {
    pub worker: Worker,
    pub loaded: SystemTime,
    /// The directory it was loaded from, when known (SIGHUP reloads from there).
    pub dir: Option<PathBuf>,
}

/// One served model.
pub struct Served {
    /// The name requests use (`"model": NAME`); empty: the model's own name, once loaded.
    pub name: String,
    current: RwLock<Current>,
}

impl Served {
    pub fn new(name: String, worker: Worker, dir: Option<PathBuf>) -> Served {
        let current = Current {
            worker,
            loaded: SystemTime::now(),
            dir,
        };
        Served {
            name,
            current: RwLock::new(current),
        }
    }

    /// The worker that takes new requests (a handle: a request keeps it to the end).
    pub fn current(&self) -> Current {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn worker(&self) -> Worker {
        self.current().worker
    }

    /// The name requests use.
    pub fn name(&self) -> String {
        if self.name.is_empty() {
            self.worker()
                .info()
                .map(|i| i.name.clone())
                .unwrap_or_default()
        } else {
            self.name.clone()
        }
    }

    fn replace(&self, next: Current) {
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
    }
}

/// Every served model, the default first.
#[derive(Clone)]
pub struct Models(Arc<Vec<Served>>);

/// What a reload needs besides the model.
pub struct ReloadContext<'a> {
    pub loader: &'a Loader,
    pub batch: BatchConfig,
    pub metrics: Metrics,
    pub load_timeout: Duration,
}

/// The sentence a new model must tag before it serves.
const SMOKE: &[&str] = &["Smoke", "test", "sentence", "from", "Paris", "."];

impl Models {
    /// `served` must not be empty.
    pub fn new(served: Vec<Served>) -> Models {
        Models(Arc::new(served))
    }

    pub fn default_model(&self) -> &Served {
        &self.0[0]
    }

    pub fn all(&self) -> &[Served] {
        &self.0
    }

    /// The model called `name`, or the default for `None`; an unknown name is a 404 that
    /// lists the names.
    pub fn get(&self, name: Option<&str>) -> Result<&Served, ApiError> {
        let Some(name) = name else {
            return Ok(self.default_model());
        };
        self.0
            .iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| ApiError::UnknownModel {
                name: name.to_owned(),
                known: self.names(),
            })
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(Served::name).collect()
    }

    /// Loads the model in `dir` (default: where `name` was loaded from) on fresh threads,
    /// checks it with a smoke sentence, and makes it serve `name`. On failure the old model
    /// keeps serving and the reason comes back.
    pub async fn reload(
        &self,
        name: &str,
        dir: Option<PathBuf>,
        cx: ReloadContext<'_>,
    ) -> Result<Current, ApiError> {
        let served = self.get(Some(name))?;
        let refused = |why: String| ApiError::ReloadRefused(format!("model {name:?}: {why}"));
        let dir = dir
            .or_else(|| served.current().dir)
            .ok_or_else(|| refused("no directory to load from: give \"path\"".into()))?;
        let worker = Worker::spawn((cx.loader)(&dir), cx.batch, cx.metrics)
            .map_err(|e| refused(format!("cannot start its threads: {e}")))?;
        worker
            .wait_ready(cx.load_timeout)
            .await
            .map_err(|e| refused(format!("{} could not be loaded: {e}", dir.display())))?;
        smoke(&worker).await.map_err(|e| {
            refused(format!(
                "{} loaded but failed its smoke test: {e}",
                dir.display()
            ))
        })?;
        let next = Current {
            worker,
            loaded: SystemTime::now(),
            dir: Some(dir),
        };
        served.replace(next.clone());
        Ok(next)
    }
}

/// Tags [`SMOKE`] on `worker`: encoded, run through the network, decoded.
async fn smoke(worker: &Worker) -> Result<(), String> {
    let codec = worker.codec().ok_or("the model is not loaded")?;
    let piece = codec.encode(&[SMOKE.to_vec()], vec![0]);
    let (job, rx) = Job::new(piece, worker.incoming());
    worker.submit(job).map_err(|e| format!("{e:?}"))?;
    let forwarded = match rx.await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => return Err(crate::model::chain(&e)),
        Err(_) => return Err("the model thread stopped".into()),
    };
    let tagged = codec.decode(&forwarded.emissions, DecodeOptions::scored(0));
    match &tagged[..] {
        [one] if one.tags.len() == SMOKE.len() => Ok(()),
        [one] => Err(format!("{} tags for {} words", one.tags.len(), SMOKE.len())),
        more => Err(format!("{} results for one sentence", more.len())),
    }
}
