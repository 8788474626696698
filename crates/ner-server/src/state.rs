//! What every handler shares, and how it starts: a model thread per model, the metrics, the
//! admission semaphore.

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::model::ModelFactory;
use crate::models::{Loader, Models, Served};
use crate::worker::Worker;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServerConfig>,
    pub models: Models,
    pub metrics: Metrics,
    pub concurrency: Arc<Semaphore>,
    pub(crate) request_ids: Arc<AtomicU64>,
    pub loader: Option<Loader>,
}

impl AppState {
    pub fn new(config: ServerConfig, models: Models, metrics: Metrics) -> Self {
        AppState {
            concurrency: Arc::new(Semaphore::new(config.concurrency_limit.max(1))),
            config: Arc::new(config),
            models,
            metrics,
            request_ids: Arc::new(AtomicU64::new(1)),
            loader: None,
        }
    }

    /// The default model's worker.
    pub fn worker(&self) -> Worker {
        self.models.default_model().worker()
    }

    /// Lets `POST /admin/models/NAME` and SIGHUP load models from directories.
    pub fn with_loader(mut self, loader: Loader) -> Self {
        self.loader = Some(loader);
        self
    }
}

/// A model to serve: its name (empty: the model's own), where it comes from, and how to load
/// it.
pub struct ModelSpec {
    pub name: String,
    pub dir: Option<PathBuf>,
    pub factory: ModelFactory,
}

/// Starts the model thread and returns the state the router needs.
pub fn start(config: ServerConfig, factory: ModelFactory) -> std::io::Result<AppState> {
    let spec = ModelSpec {
        name: String::new(),
        dir: None,
        factory,
    };
    start_named(config, vec![spec])
}

/// Starts a model thread for each model; the first is the default. `models` must not be
/// empty.
pub fn start_named(config: ServerConfig, models: Vec<ModelSpec>) -> std::io::Result<AppState> {
    let metrics = Metrics::new();
    let mut served = Vec::with_capacity(models.len());
    for m in models {
        let worker = Worker::spawn(m.factory, config.batch, metrics.clone())?;
        served.push(Served::new(m.name, worker, m.dir));
    }
    if served.is_empty() {
        return Err(std::io::Error::other("no model to serve"));
    }
    Ok(AppState::new(config, Models::new(served), metrics))
}
