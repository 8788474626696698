//! `ner bench`: model speed on CoNLL-like sentences, for scripts/bench-model.sh. Prints one
//! JSON object per measurement. The weights do not matter for speed: a freshly initialised
//! model of the default configuration (or `--model DIR`) is used.

use crate::data::{read_corpus, ColumnArgs};
use anyhow::Result;
use ner_core::LabelSet;
use ner_core::TagSet;
use ner_model::checkpoint;
use ner_model::train::{training_example, TrainOptions, Trainer};
use ner_model::vocab::Vocab;
use ner_model::{Device, ModelConfig, TagRequest, Tagger, TaggerOptions};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Training file (vocabulary, and sentences for the training measurements).
    #[arg(long)]
    train: PathBuf,
    /// Test file whose sentences are tagged.
    #[arg(long)]
    test: PathBuf,
    /// Measure this model instead of a fresh default one.
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, default_value = "1,8,32,128", value_delimiter = ',')]
    batch_sizes: Vec<usize>,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Threads for inference.
    #[arg(long, default_value_t = 2)]
    threads: i32,
    /// Threads for training.
    #[arg(long, default_value_t = 1)]
    train_threads: i32,
    /// Also time one full training epoch at batch 10.
    #[arg(long)]
    epoch: bool,
    #[command(flatten)]
    columns: ColumnArgs,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn emit(v: serde_json::Value) {
    println!("{v}");
}

pub fn run(args: Args) -> Result<()> {
    let train = read_corpus(&args.train, &args.columns)?;
    let test = read_corpus(&args.test, &args.columns)?;
    let config = ModelConfig::default();
    let labels = LabelSet::frozen_from(["LOC", "MISC", "ORG", "PER"]);
    let tags = TagSet::new(config.scheme, labels);
    let vocab = Vocab::build(
        train
            .sentences
            .iter()
            .flat_map(|s| s.tokens.iter().map(String::as_str)),
        &config,
        1,
    );
    let opts = TrainOptions {
        batch_size: 32,
        ..Default::default()
    };
    let mut trainer = Trainer::new(&config, vocab, &tags, opts, Device::Cpu, |_| Ok(()))?;
    let dir = tempfile_dir()?;
    let model_dir = match &args.model {
        Some(m) => m.clone(),
        None => {
            checkpoint::save(
                &dir,
                &trainer.vs,
                &trainer.model,
                &trainer.vocab,
                &checkpoint::Meta::new("bench"),
            )?;
            dir.clone()
        }
    };
    ner_model::set_threads(args.threads);
    let sentences: Vec<Vec<&str>> = test
        .sentences
        .iter()
        .map(|s| s.tokens.iter().map(String::as_str).collect())
        .collect();
    let ntok: usize = sentences.iter().map(Vec::len).sum();
    let mut tagger = Tagger::load(
        &model_dir,
        TaggerOptions {
            batch_size: 1,
            threads: Some(args.threads),
            device: Device::Cpu,
            ..Default::default()
        },
    )?;
    emit(
        serde_json::json!({"what": "setup", "sentences": sentences.len(), "tokens": ntok, "threads": args.threads,
        "params": trainer.vs.trainable_variables().iter().map(|t| t.numel()).sum::<usize>()}),
    );
    for &bs in &args.batch_sizes {
        let mut tg = Tagger::load(
            &model_dir,
            TaggerOptions {
                batch_size: bs,
                threads: Some(args.threads),
                device: Device::Cpu,
                ..Default::default()
            },
        )?;
        let req = TagRequest::default();
        // Warm-up, then the median of the repeats; batch 1 tags sentence by sentence as a
        // client would.
        let chunk = if bs == 1 { 1 } else { sentences.len() };
        let run = |tg: &mut Tagger, s: &[Vec<&str>]| -> Result<()> {
            for c in s.chunks(chunk) {
                tg.tag(c, req)?;
            }
            Ok(())
        };
        run(&mut tg, &sentences[..256.min(sentences.len())])?;
        let mut times = Vec::new();
        for _ in 0..args.repeats {
            let t0 = Instant::now();
            run(&mut tg, &sentences)?;
            times.push(t0.elapsed().as_secs_f64());
        }
        let t = median(times);
        emit(
            serde_json::json!({"what": "inference", "batch": bs, "seconds": t, "tokens_per_s": ntok as f64 / t, "sentences_per_s": sentences.len() as f64 / t}),
        );
    }
    // Latency of one 15-token sentence.
    let s15: Vec<&str> =
        "The European Commission said on Thursday it disagreed with German advice to consumers ."
            .split(' ')
            .take(15)
            .collect();
    let one = vec![s15];
    for _ in 0..20 {
        tagger.tag(&one, TagRequest::default())?;
    }
    let mut lat = Vec::new();
    for _ in 0..300 {
        let t0 = Instant::now();
        tagger.tag(&one, TagRequest::default())?;
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    let p99 = lat[lat.len() * 99 / 100];
    emit(serde_json::json!({"what": "latency_15_tokens", "median_ms": median(lat), "p99_ms": p99}));
    // Training step at batch 32.
    ner_model::set_threads(args.train_threads);
    let examples = train
        .sentences
        .iter()
        .take(32 * 40)
        .map(|s| training_example(s, &trainer.vocab, &tags))
        .collect::<Result<Vec<_>, _>>()?;
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    let stats = trainer.epoch(1, &examples, &stop, |_, _, _, _| {})?;
    let steps = examples.len().div_ceil(32);
    emit(
        serde_json::json!({"what": "train_step_batch32", "threads": args.train_threads, "ms_per_step": t0.elapsed().as_secs_f64() * 1e3 / steps as f64, "tokens_per_s": stats.tokens as f64 / stats.seconds}),
    );
    if args.epoch {
        let all = train
            .sentences
            .iter()
            .map(|s| training_example(s, &trainer.vocab, &tags))
            .collect::<Result<Vec<_>, _>>()?;
        let mut t10 = Trainer::new(
            &config,
            trainer.vocab.clone(),
            &tags,
            TrainOptions::default(),
            Device::Cpu,
            |_| Ok(()),
        )?;
        let stats = t10.epoch(1, &all, &stop, |_, _, _, _| {})?;
        emit(
            serde_json::json!({"what": "train_epoch_batch10", "threads": args.train_threads, "seconds": stats.seconds, "tokens_per_s": stats.tokens as f64 / stats.seconds}),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("ner-bench-{}", std::process::id()));
    Ok(d)
}
