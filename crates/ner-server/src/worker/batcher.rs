//! The queue task: gathers jobs into batches while the model works, and hands a batch over
//! the moment the model is free. It runs on its own thread with a small runtime, so the
//! worker can be started with or without the caller's.

use super::{BatchConfig, Job};
use crate::metrics::Metrics;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// A batch on its way to the model, with the permit that marks the model busy until dropped.
pub(super) type Handoff = (Vec<Job>, OwnedSemaphorePermit);

/// Longest single wait for a request that is still being tokenised.
const POLL: Duration = Duration::from_micros(200);

pub(super) fn spawn(
    jobs: mpsc::Receiver<Job>,
    to_model: mpsc::Sender<Handoff>,
    idle: Arc<Semaphore>,
    cfg: BatchConfig,
    incoming: Arc<AtomicUsize>,
    metrics: Metrics,
) -> std::io::Result<JoinHandle<()>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    std::thread::Builder::new()
        .name("ner-batcher".into())
        .spawn(move || {
            let b = Batcher {
                jobs,
                idle,
                cfg,
                incoming,
                metrics,
            };
            rt.block_on(b.run(to_model));
        })
}

struct Batcher {
    jobs: mpsc::Receiver<Job>,
    idle: Arc<Semaphore>,
    cfg: BatchConfig,
    incoming: Arc<AtomicUsize>,
    metrics: Metrics,
}

/// A batch being gathered.
struct Pending {
    jobs: Vec<Job>,
    tokens: usize,
}

impl Batcher {
    async fn run(mut self, to_model: mpsc::Sender<Handoff>) {
        while let Some(first) = self.jobs.recv().await {
            let mut batch = Pending {
                jobs: Vec::new(),
                tokens: 0,
            };
            self.push(&mut batch, first);
            let Some(permit) = self.gather_while_busy(&mut batch).await else {
                break;
            };
            self.wait_for_incoming(&mut batch).await;
            if batch.jobs.is_empty() {
                continue;
            }
            if to_model.send((batch.jobs, permit)).await.is_err() {
                break;
            }
        }
    }

    /// Adds a job, or drops it when its client has gone.
    fn push(&self, batch: &mut Pending, mut job: Job) {
        job.admitted = None;
        if job.reply.is_closed() {
            self.metrics.dropped_jobs.inc();
            return;
        }
        batch.tokens += job.tokens();
        batch.jobs.push(job);
    }

    fn full(&self, batch: &Pending) -> bool {
        batch.tokens >= self.cfg.max_batch_tokens
    }

    /// Takes every job already queued, up to the token budget.
    fn drain(&mut self, batch: &mut Pending) {
        while !self.full(batch) {
            match self.jobs.try_recv() {
                Ok(job) => self.push(batch, job),
                Err(_) => break,
            }
        }
    }

    /// Keeps adding jobs until the model is free (or the batch full); returns the model.
    async fn gather_while_busy(&mut self, batch: &mut Pending) -> Option<OwnedSemaphorePermit> {
        loop {
            self.drain(batch);
            if self.full(batch) {
                return self.idle.clone().acquire_owned().await.ok();
            }
            tokio::select! {
                biased;
                permit = self.idle.clone().acquire_owned() => return permit.ok(),
                job = self.jobs.recv() => match job {
                    Some(job) => self.push(batch, job),
                    None => return self.idle.clone().acquire_owned().await.ok(),
                },
            }
        }
    }

    /// With the model free: waits at most `max_batch_wait`, and only while admitted requests
    /// are still being tokenised.
    async fn wait_for_incoming(&mut self, batch: &mut Pending) {
        let deadline = Instant::now() + self.cfg.max_batch_wait();
        self.drain(batch);
        while !self.full(batch) && self.incoming.load(Ordering::SeqCst) > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match tokio::time::timeout((deadline - now).min(POLL), self.jobs.recv()).await {
                Ok(Some(job)) => self.push(batch, job),
                Ok(None) => break,
                Err(_) => {}
            }
            self.drain(batch);
        }
    }
}
