//! `ner bench`: model speed on CoNLL-like sentences, for scripts/bench-model.sh. Prints one
//! JSON object per measurement. The weights do not matter for speed: a freshly initialised
//! model of the default configuration (or `--model DIR`) is used. Training is timed through
//! the library's training run, as `ner train` runs it.

use crate::backend::{self, Backend, InferenceArgs, Tagger};
use crate::data::{read_corpus, ColumnArgs};
use anyhow::Result;
use ner_core::corpus::Corpus;
use ner_tagger::DecodeOptions;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The backends measured by default: both where libtorch is built in.
#[cfg(feature = "torch")]
const BACKENDS: &str = "native,torch";
#[cfg(not(feature = "torch"))]
const BACKENDS: &str = "native";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Training file (vocabulary, and sentences for the training measurements).
    #[arg(long)]
    train: PathBuf,
    /// Test file whose sentences are tagged.
    #[arg(long)]
    test: PathBuf,
    /// Measure this model instead of a fresh default one (which needs the `torch` build).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Batch sizes of the inference measurements (each in turn replaces --batch-size).
    #[arg(long, default_value = "1,8,32,128", value_delimiter = ',')]
    batch_sizes: Vec<usize>,
    /// Timed passes over the test set per batch size (the median is reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Threads for training.
    #[arg(long, default_value_t = 1)]
    train_threads: i32,
    /// Also time one full training epoch at batch 10.
    #[arg(long)]
    epoch: bool,
    /// Inference backends to measure, side by side (each in turn replaces --backend).
    #[arg(long, value_enum, value_delimiter = ',', default_value = BACKENDS)]
    backends: Vec<Backend>,
    /// How the model runs (threads, device, ...).
    #[command(flatten)]
    inference: InferenceArgs,
    #[command(flatten)]
    columns: ColumnArgs,
}

impl Args {
    /// Threads for inference: --threads, else the machine's cores.
    fn threads(&self) -> usize {
        self.inference
            .threads
            .unwrap_or_else(ner_tagger::threading::default_threads)
            .max(1)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn emit(v: serde_json::Value) {
    println!("{v}");
}

#[cfg(feature = "torch")]
use ner_model::training::{Corpora, DataConfig, Run, RunConfig, Silent, TrainOptions};

/// A training run of the default configuration whose vocabulary is all of `train` and whose
/// epochs cover its first `take` sentences.
#[cfg(feature = "torch")]
fn bench_run(train: &Corpus, take: usize, batch_size: usize, out: &Path) -> Result<Run> {
    let config = RunConfig {
        model: ner_model::ModelConfig::default(),
        train: TrainOptions {
            batch_size,
            ..Default::default()
        },
        data: DataConfig {
            train: train.path.clone(),
            dev: train.path.clone(),
            test: None,
            columns: Default::default(),
        },
        inputs: Default::default(),
        name: Some("bench".into()),
        eval_batch_size: 64,
    };
    let data = Corpora {
        dev: train.clone(),
        train: train.clone(),
        test: None,
        unlabelled_scores: Vec::new(),
    };
    let mut run = Run::prepare(config, data, out, ner_model::Device::Cpu, &mut Silent)?;
    run.limit_examples(take);
    Ok(run)
}

pub fn run(args: Args) -> Result<()> {
    let train = read_corpus(&args.train, &args.columns)?;
    let test = read_corpus(&args.test, &args.columns)?;
    let dir = std::env::temp_dir().join(format!("ner-bench-{}", std::process::id()));
    let result = measure(&args, &train, &test, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(args: &Args, train: &Corpus, test: &Corpus, dir: &Path) -> Result<()> {
    let model_dir = match &args.model {
        Some(m) => m.clone(),
        None => fresh_model(train, dir)?,
    };
    let threads = args.threads();
    #[cfg(feature = "torch")]
    ner_model::set_threads(threads as i32);
    let sentences: Vec<Vec<&str>> = test
        .sentences
        .iter()
        .map(|s| s.tokens.iter().map(String::as_str).collect())
        .collect();
    let ntok: usize = sentences.iter().map(Vec::len).sum();
    emit(
        serde_json::json!({"what": "setup", "sentences": sentences.len(), "tokens": ntok, "threads": threads}),
    );
    for &backend in &args.backends {
        for &bs in &args.batch_sizes {
            inference(args, backend, &model_dir, &sentences, bs, ntok)?;
        }
        latency(args, backend, &model_dir)?;
    }
    training(args, train, dir)
}

/// A freshly initialised model of the default configuration, saved in `dir`.
#[cfg(feature = "torch")]
fn fresh_model(train: &Corpus, dir: &Path) -> Result<PathBuf> {
    use ner_model::checkpoint;
    let run = bench_run(train, train.sentences.len(), 32, dir)?;
    let t = run.trainer();
    checkpoint::save(
        dir,
        &t.vs,
        &t.model,
        &t.vocab,
        &checkpoint::Meta::new("bench"),
    )?;
    Ok(dir.to_owned())
}

#[cfg(not(feature = "torch"))]
fn fresh_model(_train: &Corpus, _dir: &Path) -> Result<PathBuf> {
    Err(crate::backend::needs_torch("ner bench without --model"))
}

fn tagger(args: &Args, backend: Backend, model_dir: &Path, batch_size: usize) -> Result<Tagger> {
    let opts = InferenceArgs {
        batch_size,
        backend,
        threads: Some(args.threads()),
        ..args.inference.clone()
    };
    backend::load(model_dir, &opts)
}

/// Tokens/s over the test set at one batch size (batch 1 tags sentence by sentence, as a
/// client would): a warm-up, then the median of the repeats.
fn inference(
    args: &Args,
    backend: Backend,
    model_dir: &Path,
    sentences: &[Vec<&str>],
    bs: usize,
    ntok: usize,
) -> Result<()> {
    let mut tg = tagger(args, backend, model_dir, bs)?;
    let chunk = if bs == 1 { 1 } else { sentences.len() };
    let run = |tg: &mut Tagger, s: &[Vec<&str>]| -> Result<()> {
        for c in s.chunks(chunk) {
            tg.tag(c, DecodeOptions::default())?;
        }
        Ok(())
    };
    run(&mut tg, &sentences[..256.min(sentences.len())])?;
    let mut times = Vec::new();
    let before = tg.memo_counts();
    for _ in 0..args.repeats {
        let t0 = Instant::now();
        run(&mut tg, sentences)?;
        times.push(t0.elapsed().as_secs_f64());
    }
    let t = median(times);
    // The share of the timed tokens whose first-layer projection the native memo held.
    let memo_hits = match (before, tg.memo_counts()) {
        (Some((h0, m0)), Some((h1, m1))) if h1 + m1 > h0 + m0 => {
            Some((h1 - h0) as f64 / (h1 + m1 - h0 - m0) as f64)
        }
        _ => None,
    };
    emit(
        serde_json::json!({"what": "inference", "backend": backend.name(), "batch": bs, "seconds": t, "tokens_per_s": ntok as f64 / t, "sentences_per_s": sentences.len() as f64 / t, "memo_hits": memo_hits}),
    );
    Ok(())
}

/// Latency of one 15-token sentence.
fn latency(args: &Args, backend: Backend, model_dir: &Path) -> Result<()> {
    let mut tg = tagger(args, backend, model_dir, 1)?;
    let s15: Vec<&str> =
        "The European Commission said on Thursday it disagreed with German advice to consumers ."
            .split(' ')
            .take(15)
            .collect();
    let one = vec![s15];
    for _ in 0..20 {
        tg.tag(&one, DecodeOptions::default())?;
    }
    let mut lat = Vec::new();
    for _ in 0..300 {
        let t0 = Instant::now();
        tg.tag(&one, DecodeOptions::default())?;
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    let p99 = lat[lat.len() * 99 / 100];
    emit(
        serde_json::json!({"what": "latency_15_tokens", "backend": backend.name(), "median_ms": median(lat), "p99_ms": p99}),
    );
    Ok(())
}

/// Without libtorch there is no training to time.
#[cfg(not(feature = "torch"))]
fn training(_args: &Args, _train: &Corpus, _dir: &Path) -> Result<()> {
    Ok(())
}

/// A training step at batch 32 (over 40 batches) and, with `--epoch`, a whole epoch at
/// batch 10, through the library's training run.
#[cfg(feature = "torch")]
fn training(args: &Args, train: &Corpus, dir: &Path) -> Result<()> {
    ner_model::set_threads(args.train_threads);
    let mut run = bench_run(train, 32 * 40, 32, dir)?;
    let stats = run.train_epoch(1, &mut Silent)?;
    let steps = stats.sentences.div_ceil(32);
    emit(
        serde_json::json!({"what": "train_step_batch32", "threads": args.train_threads, "ms_per_step": stats.seconds * 1e3 / steps as f64, "tokens_per_s": stats.tokens as f64 / stats.seconds}),
    );
    if args.epoch {
        let mut run = bench_run(train, train.sentences.len(), 10, dir)?;
        let stats = run.train_epoch(1, &mut Silent)?;
        emit(
            serde_json::json!({"what": "train_epoch_batch10", "threads": args.train_threads, "seconds": stats.seconds, "tokens_per_s": stats.tokens as f64 / stats.seconds}),
        );
    }
    Ok(())
}
