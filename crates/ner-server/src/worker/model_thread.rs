//! The thread that owns the model: builds it, then tags the batches the queue hands over.

use super::batcher::Handoff;
use super::{Health, Job};
use crate::metrics::{Metrics, ModelMetrics};
use crate::model::{ModelError, ModelFactory, ModelInfo, NerModel, TagOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, watch};

pub(super) fn spawn(
    factory: ModelFactory,
    mut batches: mpsc::Receiver<Handoff>,
    health: watch::Sender<Health>,
    info: Arc<OnceLock<ModelInfo>>,
    metrics: Metrics,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("ner-model".into())
        .spawn(move || {
            let mut model = match build(factory) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "the model could not be loaded");
                    let _ = health.send(Health::Failed(e.to_string()));
                    return;
                }
            };
            let own = model.info();
            let metrics = metrics.for_model(&own.name);
            let _ = info.set(own);
            let _ = health.send(Health::Ready);
            while let Some((jobs, permit)) = batches.blocking_recv() {
                run_batch(model.as_mut(), jobs, &metrics);
                drop(permit);
            }
            drop(model);
            let _ = health.send(Health::Stopped);
        })
}

fn build(factory: ModelFactory) -> Result<Box<dyn NerModel>, ModelError> {
    match catch_unwind(AssertUnwindSafe(factory)) {
        Ok(r) => r,
        Err(_) => Err(ModelError::Load("the model loader panicked".into())),
    }
}

/// Tags a batch; jobs with the same options are tagged together. Jobs whose client left while
/// the batch waited are dropped.
pub(super) fn run_batch(model: &mut dyn NerModel, mut jobs: Vec<Job>, metrics: &ModelMetrics) {
    jobs.retain(|j| {
        let keep = !j.reply.is_closed();
        if !keep {
            metrics.dropped_jobs.inc();
        }
        keep
    });
    jobs.sort_by_key(|j| j.options.nbest);
    while !jobs.is_empty() {
        let opts = jobs[0].options;
        let n = jobs.iter().take_while(|j| j.options == opts).count();
        let group: Vec<Job> = jobs.drain(..n).collect();
        process(model, group, opts, metrics);
    }
}

fn process(model: &mut dyn NerModel, jobs: Vec<Job>, opts: TagOptions, metrics: &ModelMetrics) {
    let mut replies = Vec::with_capacity(jobs.len());
    let mut sentences = Vec::new();
    let mut documents = Vec::new();
    let mut next = 0;
    for job in jobs {
        replies.push((job.reply, job.sentences.len()));
        let whole = [job.sentences.len()];
        let counts = if job.documents.iter().sum::<usize>() == job.sentences.len() {
            &job.documents[..]
        } else {
            &whole[..]
        };
        for &n in counts {
            documents.resize(documents.len() + n, next);
            next += 1;
        }
        sentences.extend(job.sentences);
    }
    let tokens: usize = sentences.iter().map(Vec::len).sum();
    metrics.batch_sentences.observe(sentences.len() as f64);
    metrics.batch_tokens.observe(tokens as f64);
    metrics.tokens.inc_by(tokens as u64);
    let result = catch_unwind(AssertUnwindSafe(|| model.tag(&sentences, &documents, opts)));
    if let Some((hits, misses)) = model.take_memo_counts() {
        metrics.memo_hits.inc_by(hits);
        metrics.memo_misses.inc_by(misses);
    }
    let mut results = match result {
        Ok(Ok(r)) if r.len() == sentences.len() => Ok(r.into_iter()),
        Ok(Ok(r)) => Err(ModelError::WrongCount {
            expected: sentences.len(),
            got: r.len(),
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ModelError::Panicked),
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
