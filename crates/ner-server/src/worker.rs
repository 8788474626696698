//! The model's own thread and its batcher.
//!
//! The model is built inside a dedicated OS thread (tensors never cross threads) and fed by a
//! bounded queue. The batcher takes the first waiting job, then keeps taking jobs until the
//! batch holds `max_batch_tokens` tokens or `max_batch_wait` has passed; jobs whose client has
//! gone (their reply channel is closed) are dropped unprocessed. Each job is answered over its
//! own oneshot channel. A panic inside the model fails that batch's requests, not the thread.

use crate::metrics::Metrics;
use crate::model::{ModelFactory, ModelInfo, NerModel, SentenceTags, TagOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// One request's sentences, waiting for the model.
pub struct Job {
    pub sentences: Vec<Vec<String>>,
    pub options: TagOptions,
    pub reply: oneshot::Sender<Result<Vec<SentenceTags>, String>>,
}

impl Job {
    fn tokens(&self) -> usize {
        self.sentences.iter().map(Vec::len).sum()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    pub queue_size: usize,
    pub max_batch_tokens: usize,
    pub max_batch_wait: Duration,
}

/// The handle the HTTP side holds.
#[derive(Clone)]
pub struct Worker {
    tx: SyncSender<Job>,
    ready: Arc<AtomicBool>,
    alive: Arc<AtomicBool>,
    depth: Arc<AtomicUsize>,
    info: Arc<OnceLock<ModelInfo>>,
    load_error: Arc<OnceLock<String>>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// Requests admitted and being prepared, not yet queued.
    incoming: Arc<AtomicUsize>,
}

/// Counts a request as incoming until it is queued (or given up).
pub struct Incoming(Arc<AtomicUsize>);

impl Drop for Incoming {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits for the model thread to end, without keeping its queue open.
pub struct Joiner {
    alive: Arc<AtomicBool>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Joiner {
    /// Waits up to `timeout` for the model thread to finish (it does once every handle to the
    /// queue is gone), so that the model is freed before the process exits.
    pub fn wait(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while self.alive.load(Ordering::SeqCst) {
            if start.elapsed() >= timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(h) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = h.join();
        }
        true
    }
}

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum SubmitError {
    Full,
    Stopped,
}

impl Worker {
    /// Starts the thread; the model is built there by `factory`.
    pub fn spawn(
        factory: ModelFactory,
        cfg: BatchConfig,
        metrics: Metrics,
    ) -> std::io::Result<Worker> {
        let (tx, rx) = sync_channel::<Job>(cfg.queue_size.max(1));
        let w = Worker {
            tx,
            ready: Arc::new(AtomicBool::new(false)),
            alive: Arc::new(AtomicBool::new(true)),
            depth: Arc::new(AtomicUsize::new(0)),
            info: Arc::new(OnceLock::new()),
            load_error: Arc::new(OnceLock::new()),
            thread: Arc::new(Mutex::new(None)),
            incoming: Arc::new(AtomicUsize::new(0)),
        };
        let inner = w.clone_inner();
        let handle = std::thread::Builder::new()
            .name("ner-model".into())
            .spawn(move || {
                let (ready, alive, depth, info, load_error, incoming) = inner;
                let model = match catch_unwind(AssertUnwindSafe(factory)) {
                    Ok(Ok(m)) => m,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "the model could not be loaded");
                        let _ = load_error.set(e);
                        alive.store(false, Ordering::SeqCst);
                        return;
                    }
                    Err(_) => {
                        let _ = load_error.set("the model loader panicked".into());
                        alive.store(false, Ordering::SeqCst);
                        return;
                    }
                };
                let _ = info.set(model.info());
                ready.store(true, Ordering::SeqCst);
                run(model, rx, cfg, &depth, &incoming, &metrics);
                ready.store(false, Ordering::SeqCst);
                alive.store(false, Ordering::SeqCst);
            })?;
        if let Ok(mut t) = w.thread.lock() {
            *t = Some(handle);
        }
        Ok(w)
    }

    #[allow(clippy::type_complexity)]
    fn clone_inner(
        &self,
    ) -> (
        Arc<AtomicBool>,
        Arc<AtomicBool>,
        Arc<AtomicUsize>,
        Arc<OnceLock<ModelInfo>>,
        Arc<OnceLock<String>>,
        Arc<AtomicUsize>,
    ) {
        (
            self.ready.clone(),
            self.alive.clone(),
            self.depth.clone(),
            self.info.clone(),
            self.load_error.clone(),
            self.incoming.clone(),
        )
    }

    /// Marks a request as on its way to the queue; the batcher waits for such requests.
    pub fn incoming(&self) -> Incoming {
        self.incoming.fetch_add(1, Ordering::SeqCst);
        Incoming(self.incoming.clone())
    }

    /// A handle that can wait for the thread's end.
    pub fn joiner(&self) -> Joiner {
        Joiner {
            alive: self.alive.clone(),
            thread: self.thread.clone(),
        }
    }

    /// Queues a job without waiting; a full queue is refused at once.
    pub fn submit(&self, job: Job) -> Result<(), SubmitError> {
        self.depth.fetch_add(1, Ordering::SeqCst);
        match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.depth.fetch_sub(1, Ordering::SeqCst);
                Err(match e {
                    TrySendError::Full(_) => SubmitError::Full,
                    TrySendError::Disconnected(_) => SubmitError::Stopped,
                })
            }
        }
    }

    /// The model is loaded and the thread runs.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && self.alive.load(Ordering::SeqCst)
    }

    pub fn info(&self) -> Option<&ModelInfo> {
        self.info.get()
    }

    pub fn load_error(&self) -> Option<&str> {
        self.load_error.get().map(String::as_str)
    }

    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::SeqCst)
    }

    /// Waits until the model is loaded (or failed to load), up to `timeout`.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.is_ready() {
                return true;
            }
            if !self.alive.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.is_ready()
    }
}

fn run(
    mut model: Box<dyn NerModel>,
    rx: Receiver<Job>,
    cfg: BatchConfig,
    depth: &AtomicUsize,
    incoming: &AtomicUsize,
    metrics: &Metrics,
) {
    let take = |job: Job, batch: &mut Vec<Job>, tokens: &mut usize| {
        depth.fetch_sub(1, Ordering::SeqCst);
        if job.reply.is_closed() {
            metrics.dropped_jobs.inc();
            return;
        }
        *tokens += job.tokens();
        batch.push(job);
    };
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::new();
        let mut tokens = 0;
        take(first, &mut batch, &mut tokens);
        // Take what is queued now; wait (at most `max_batch_wait`) only while admitted requests
        // are still being tokenised, so that a lone request never waits for company.
        let deadline = Instant::now() + cfg.max_batch_wait;
        while tokens < cfg.max_batch_tokens {
            if let Ok(job) = rx.try_recv() {
                take(job, &mut batch, &mut tokens);
                continue;
            }
            let now = Instant::now();
            if incoming.load(Ordering::SeqCst) == 0 || now >= deadline {
                break;
            }
            match rx.recv_timeout((deadline - now).min(Duration::from_micros(200))) {
                Ok(job) => take(job, &mut batch, &mut tokens),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        // Jobs with the same options are tagged together.
        batch.sort_by_key(|j| j.options.nbest);
        while !batch.is_empty() {
            let opts = batch[0].options;
            let n = batch.iter().take_while(|j| j.options == opts).count();
            let group: Vec<Job> = batch.drain(..n).collect();
            process(model.as_mut(), group, opts, metrics);
        }
    }
}

fn process(model: &mut dyn NerModel, jobs: Vec<Job>, opts: TagOptions, metrics: &Metrics) {
    let mut replies = Vec::with_capacity(jobs.len());
    let mut sentences = Vec::new();
    for job in jobs {
        replies.push((job.reply, job.sentences.len()));
        sentences.extend(job.sentences);
    }
    let tokens: usize = sentences.iter().map(Vec::len).sum();
    metrics.batch_sentences.observe(sentences.len() as f64);
    metrics.batch_tokens.observe(tokens as f64);
    metrics.tokens.inc_by(tokens as u64);
    let result = catch_unwind(AssertUnwindSafe(|| model.tag(&sentences, opts)));
    let mut results = match result {
        Ok(Ok(r)) if r.len() == sentences.len() => Ok(r.into_iter()),
        Ok(Ok(r)) => Err(format!(
            "the model returned {} results for {} sentences",
            r.len(),
            sentences.len()
        )),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the model panicked".to_owned()),
    };
    if let Err(e) = &results {
        tracing::error!(error = %e, "tagging failed");
    }
    for (reply, n) in replies {
        let answer = match &mut results {
            Ok(it) => Ok(it.by_ref().take(n).collect()),
            Err(e) => Err(e.clone()),
        };
        let _ = reply.send(answer);
    }
}
