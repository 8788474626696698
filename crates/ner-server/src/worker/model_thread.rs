//! The thread that owns the network: builds the model, then runs the batches the queue hands
//! over through the network, and nothing else.

use super::batcher::Handoff;
use super::{Forwarded, Health, Job};
use crate::metrics::{Metrics, ModelMetrics};
use crate::model::{Emissions, Halves, ModelFactory, NetworkHalf, RequestHalf, WorkerError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

pub(super) fn spawn(
    factory: ModelFactory,
    mut batches: mpsc::Receiver<Handoff>,
    health: watch::Sender<Health>,
    codec: Arc<OnceLock<Arc<dyn RequestHalf>>>,
    metrics: Metrics,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("ner-model".into())
        .spawn(move || {
            let mut loaded = match build(factory) {
                Ok(m) => m,
                Err(e) => {
                    let why = crate::model::chain(&e);
                    tracing::error!(error = %why, "the model could not be loaded");
                    let _ = health.send(Health::Failed(why));
                    return;
                }
            };
            let metrics = metrics.for_model(&loaded.codec.info().name);
            let _ = codec.set(loaded.codec);
            let _ = health.send(Health::Ready);
            while let Some((jobs, permit)) = batches.blocking_recv() {
                run_batch(loaded.network.as_mut(), jobs, &metrics);
                drop(permit);
            }
            drop(loaded.network);
            let _ = health.send(Health::Stopped);
        })
}

fn build(factory: ModelFactory) -> Result<Halves, WorkerError> {
    match catch_unwind(AssertUnwindSafe(factory)) {
        Ok(r) => r,
        Err(_) => Err(WorkerError::load("the model loader panicked")),
    }
}

/// Runs a batch of jobs through the network as one; jobs whose client left while the batch
/// waited are dropped. Every job gets its own emissions, or the batch's error.
pub(super) fn run_batch(network: &mut dyn NetworkHalf, mut jobs: Vec<Job>, metrics: &ModelMetrics) {
    jobs.retain(|j| {
        let keep = !j.reply.is_closed();
        if !keep {
            metrics.dropped_jobs.inc();
        }
        keep
    });
    let started = Instant::now();
    let mut pieces: Vec<_> = jobs
        .iter_mut()
        .map(|j| std::mem::take(&mut j.piece))
        .collect();
    let sentences: Vec<usize> = pieces.iter().map(|p| p.sentences.len()).collect();
    let tokens: usize = pieces.iter().map(|p| p.tokens()).sum();
    metrics
        .batch_sentences
        .observe(sentences.iter().sum::<usize>() as f64);
    metrics.batch_tokens.observe(tokens as f64);
    metrics.tokens.inc_by(tokens as u64);
    let result = catch_unwind(AssertUnwindSafe(|| network.forward(&mut pieces)));
    if let Some((hits, misses)) = network.take_memo_counts() {
        metrics.memo_hits.inc_by(hits);
        metrics.memo_misses.inc_by(misses);
    }
    let result = match result {
        Ok(Ok(out)) => checked(out, &sentences),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(WorkerError::Panicked),
    };
    if let Err(e) = &result {
        tracing::error!(error = %crate::model::chain(e), "the network failed");
    }
    let network_time = started.elapsed();
    let mut answers = result.map(Vec::into_iter);
    for job in jobs {
        let answer = match &mut answers {
            Ok(it) => it
                .next()
                .ok_or(WorkerError::Panicked)
                .map(|emissions| Forwarded {
                    emissions,
                    queue: started.saturating_duration_since(job.queued),
                    network: network_time,
                }),
            Err(e) => Err(e.clone()),
        };
        let _ = job.reply.send(answer);
    }
}

/// The network's answer, if it has one emissions buffer per piece with one entry per sentence.
fn checked(out: Vec<Emissions>, sentences: &[usize]) -> Result<Vec<Emissions>, WorkerError> {
    let expected: usize = sentences.iter().sum();
    if out.len() != sentences.len() || out.iter().zip(sentences).any(|(e, &n)| e.len() != n) {
        let got = out.iter().map(Emissions::len).sum();
        return Err(WorkerError::WrongCount { expected, got });
    }
    Ok(out)
}
