//! Prometheus metrics: requests by route and status, latency histograms, the time of each
//! stage of a request (encode, queue, network, decode), queue depth, batch sizes and tokens
//! processed.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    /// Seconds per stage of `POST /ner`: encode, queue, network, decode.
    pub stages: HistogramVec,
    pub queue_depth: IntGauge,
    pub batch_sentences: HistogramVec,
    pub batch_tokens: HistogramVec,
    pub tokens: IntCounterVec,
    pub memo: IntCounterVec,
    pub dropped_jobs: IntCounter,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    match r {
        Ok(t) => t,
        // Only reachable with invalid metric names, which are constants here.
        Err(e) => unreachable!("invalid metric definition: {e}"),
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// What a model thread records, labelled with its model's name.
#[derive(Clone)]
pub struct ModelMetrics {
    pub batch_sentences: Histogram,
    pub batch_tokens: Histogram,
    pub tokens: IntCounter,
    pub memo_hits: IntCounter,
    pub memo_misses: IntCounter,
    pub dropped_jobs: IntCounter,
}

fn histograms(name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    must(HistogramVec::new(opts, labels))
}

fn counters(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    must(IntCounterVec::new(Opts::new(name, help), labels))
}

const LATENCY: [f64; 13] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];
const STAGE: [f64; 12] = [
    0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5,
];
const SENTENCES: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
const TOKENS: [f64; 8] = [16.0, 64.0, 256.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0];

impl Metrics {
    pub fn new() -> Self {
        let m = Metrics {
            registry: Registry::new(),
            requests: counters("ner_requests_total", "HTTP requests by route and status", &["route", "status"]),
            latency: histograms("ner_request_duration_seconds", "HTTP request latency by route", &LATENCY, &["route"]),
            stages: histograms(
                "ner_stage_duration_seconds",
                "time of each stage of POST /ner: encode and decode on the request's side, queue (waiting for the model thread) and network (the batch's forward pass)",
                &STAGE,
                &["stage"],
            ),
            queue_depth: must(IntGauge::new("ner_queue_depth", "requests waiting for the model")),
            batch_sentences: histograms("ner_batch_sentences", "sentences per model batch", &SENTENCES, &["model"]),
            batch_tokens: histograms("ner_batch_tokens", "tokens per model batch", &TOKENS, &["model"]),
            tokens: counters("ner_tokens_total", "tokens tagged, by model", &["model"]),
            memo: counters(
                "ner_memo_lookups_total",
                "tokens looked up in the native first-layer memo, by model and result (hit, miss)",
                &["model", "result"],
            ),
            dropped_jobs: must(IntCounter::new(
                "ner_dropped_jobs_total",
                "queued requests skipped because their client had gone",
            )),
        };
        m.register();
        m
    }

    fn register(&self) {
        let all: [Box<dyn prometheus::core::Collector>; 9] = [
            Box::new(self.requests.clone()),
            Box::new(self.latency.clone()),
            Box::new(self.stages.clone()),
            Box::new(self.queue_depth.clone()),
            Box::new(self.batch_sentences.clone()),
            Box::new(self.batch_tokens.clone()),
            Box::new(self.tokens.clone()),
            Box::new(self.memo.clone()),
            Box::new(self.dropped_jobs.clone()),
        ];
        for c in all {
            must(self.registry.register(c));
        }
    }

    /// The per-model series of the model called `name`.
    pub fn for_model(&self, name: &str) -> ModelMetrics {
        ModelMetrics {
            batch_sentences: self.batch_sentences.with_label_values(&[name]),
            batch_tokens: self.batch_tokens.with_label_values(&[name]),
            tokens: self.tokens.with_label_values(&[name]),
            memo_hits: self.memo.with_label_values(&[name, "hit"]),
            memo_misses: self.memo.with_label_values(&[name, "miss"]),
            dropped_jobs: self.dropped_jobs.clone(),
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
