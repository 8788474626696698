//! The model's own thread and the queue that feeds it, as text-embeddings-inference arranges
//! them. The queue carries encoded pieces ([`Piece`]: ids, no strings) and the thread answers
//! with their emissions; encoding and decoding happen on the request's side.
//!
//! Requests are queued on a bounded channel (full → 429). A batching task on its own thread
//! takes the first waiting job and keeps adding jobs while the model is busy with the previous
//! batch, until the batch holds `max_batch_tokens` tokens; once the model is free it waits at
//! most `max_batch_wait`, and only while admitted requests are still being tokenised, so that a
//! lone request never waits for company. Jobs whose client has gone (their reply channel is
//! closed) are dropped unprocessed. The model is built inside a dedicated OS thread (tensors
//! never cross threads) and answers each job over its own oneshot channel; a panic inside the
//! model fails that batch's requests, not the thread. Readiness and the end of the thread are
//! published on a `watch` channel.

mod batcher;
mod model_thread;
#[cfg(test)]
mod tests;

pub use crate::config::BatchConfig;
use crate::metrics::Metrics;
use crate::model::{Emissions, ModelFactory, ModelInfo, Piece, RequestHalf, WorkerError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

/// One request's encoded sentences, waiting for the network.
pub struct Job {
    pub piece: Piece,
    pub reply: oneshot::Sender<Result<Forwarded, WorkerError>>,
    /// The request's place among the admitted ones, released when the batcher takes the job.
    pub admitted: Option<Incoming>,
    /// When it was queued.
    pub queued: Instant,
}

impl Job {
    /// A job of `piece`, queued now, and the receiver of its answer.
    pub fn new(
        piece: Piece,
        admitted: Incoming,
    ) -> (Job, oneshot::Receiver<Result<Forwarded, WorkerError>>) {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            piece,
            reply,
            admitted: Some(admitted),
            queued: Instant::now(),
        };
        (job, rx)
    }

    fn tokens(&self) -> usize {
        self.piece.tokens()
    }
}

/// The network's answer to a job, and how long the job waited and ran.
#[derive(Debug)]
pub struct Forwarded {
    pub emissions: Emissions,
    /// From queueing to the start of its batch.
    pub queue: Duration,
    /// Its batch's forward pass.
    pub network: Duration,
}

/// Where the model thread is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Loading,
    Ready,
    /// The model could not be built; the reason.
    Failed(String),
    /// The thread has ended (every handle to the queue was dropped).
    Stopped,
}

/// The handle the HTTP side holds.
#[derive(Clone)]
pub struct Worker {
    tx: mpsc::Sender<Job>,
    queue_size: usize,
    health: watch::Receiver<Health>,
    codec: Arc<OnceLock<Arc<dyn RequestHalf>>>,
    /// Requests admitted and being prepared, not yet queued.
    incoming: Arc<AtomicUsize>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// Counts a request as incoming until the batcher takes its job (or it is given up).
pub struct Incoming(Arc<AtomicUsize>);

impl Drop for Incoming {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum SubmitError {
    Full,
    Stopped,
}

impl Worker {
    /// Starts the batching thread and the model thread; the model is built there by `factory`.
    pub fn spawn(
        factory: ModelFactory,
        cfg: BatchConfig,
        metrics: Metrics,
    ) -> std::io::Result<Worker> {
        let (tx, jobs) = mpsc::channel::<Job>(cfg.queue_size.max(1));
        // One batch waits for the model while the next is gathered.
        let (to_model, batches) = mpsc::channel(1);
        let idle = Arc::new(Semaphore::new(1));
        let (health_tx, health) = watch::channel(Health::Loading);
        let codec = Arc::new(OnceLock::new());
        let incoming = Arc::new(AtomicUsize::new(0));
        let model =
            model_thread::spawn(factory, batches, health_tx, codec.clone(), metrics.clone())?;
        let batching = batcher::spawn(jobs, to_model, idle, cfg, incoming.clone(), metrics)?;
        Ok(Worker {
            tx,
            queue_size: cfg.queue_size.max(1),
            health,
            codec,
            incoming,
            threads: Arc::new(Mutex::new(vec![batching, model])),
        })
    }

    /// Marks a request as on its way to the queue; the batcher waits for such requests.
    pub fn incoming(&self) -> Incoming {
        self.incoming.fetch_add(1, Ordering::SeqCst);
        Incoming(self.incoming.clone())
    }

    /// A handle that can wait for the threads' end.
    pub fn joiner(&self) -> Joiner {
        Joiner {
            health: self.health.clone(),
            threads: self.threads.clone(),
        }
    }

    /// Queues a job without waiting; a full queue is refused at once.
    pub fn submit(&self, job: Job) -> Result<(), SubmitError> {
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SubmitError::Full,
            mpsc::error::TrySendError::Closed(_) => SubmitError::Stopped,
        })
    }

    pub fn health(&self) -> Health {
        self.health.borrow().clone()
    }

    /// The model is loaded and the thread runs.
    pub fn is_ready(&self) -> bool {
        *self.health.borrow() == Health::Ready
    }

    pub fn info(&self) -> Option<&ModelInfo> {
        self.codec.get().map(|c| c.info())
    }

    /// The model's request side, once it is loaded.
    pub fn codec(&self) -> Option<&Arc<dyn RequestHalf>> {
        self.codec.get()
    }

    /// Jobs waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.queue_size - self.tx.capacity()
    }

    /// Waits until the model is loaded, up to `timeout`; the reason when it is not.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let mut health = self.health.clone();
        let settled = tokio::time::timeout(timeout, async {
            health
                .wait_for(|h| *h != Health::Loading)
                .await
                .map(|h| h.clone())
        })
        .await;
        match settled {
            Err(_) => Err(format!("the model did not load within {timeout:?}")),
            Ok(Err(_)) => Err("the model thread ended".into()),
            Ok(Ok(Health::Ready)) => Ok(()),
            Ok(Ok(Health::Failed(why))) => Err(why),
            Ok(Ok(other)) => Err(format!("the model thread is {other:?}")),
        }
    }
}

/// Waits for the model thread to end, without keeping its queue open.
pub struct Joiner {
    health: watch::Receiver<Health>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Joiner {
    /// Waits up to `timeout` for the threads to finish (they do once every handle to the queue
    /// is gone), so that the model is freed before the process exits.
    pub async fn wait(mut self, timeout: Duration) -> bool {
        let ended = self
            .health
            .wait_for(|h| matches!(h, Health::Stopped | Health::Failed(_)));
        if tokio::time::timeout(timeout, ended).await.is_err() {
            return false;
        }
        let threads: Vec<_> = self
            .threads
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await
        .is_ok()
    }
}
