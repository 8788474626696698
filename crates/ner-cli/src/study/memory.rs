//! `ner study memory`: how far back can each trained cell remember?
//!
//! For every cell, distance `T` and seed, the real model (word embeddings, the cell, the CRF)
//! is trained through the library's training run on the synthetic task of
//! [`super::memory_task`] with a fixed budget of steps, and scored on held-out names: the
//! share tagged with the type their trigger `T` steps earlier decides. One extra LSTM run per
//! distance starts its forget-gate bias at 0 instead of 1. Finished runs are reused when the
//! command runs again. Writes `memory.json`, `memory.md`, `memory_accuracy.svg` (accuracy
//! against `T`, the spread over seeds as bars) and the gradient profiles of the trained
//! encoders beside untrained ones.

use super::gradients::record;
use super::memory_task::{self, NameScore};
use crate::plot::{band_chart, line_chart, Band};
use crate::stats::mean_sd;
use crate::train::{install_ctrl_c, stop_requested, Progress};
use anyhow::{bail, Result};
use ner_model::config::CharEncoderKind;
use ner_model::training::{
    Corpora, DataConfig, OptimizerKind, Run, RunConfig, Silent, TrainOptions,
};
use ner_model::{
    checkpoint, diagnostics, CellKind, DecodeOptions, Device, ModelConfig, TorchOptions,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct MemoryArgs {
    /// Output directory (runs, tables, plots).
    #[arg(long)]
    out: PathBuf,
    /// Cells to compare.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "rnn,gru,lstm,peephole,cifg"
    )]
    cells: Vec<CellKind>,
    /// Distances T between the trigger and the name.
    #[arg(long, value_delimiter = ',', default_value = "2,5,10,20,50,100,200")]
    distances: Vec<usize>,
    /// Seeds per cell and distance (seed, seed+1, ...).
    #[arg(long, default_value_t = 3)]
    seeds: usize,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Training steps (batches) per run: the same budget for every cell and distance.
    #[arg(long, default_value_t = 1500)]
    steps: usize,
    /// Sentences per batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Training sentences (the steps cycle over them).
    #[arg(long, default_value_t = 800)]
    train_sentences: usize,
    /// Held-out sentences whose names are scored.
    #[arg(long, default_value_t = 400)]
    test_sentences: usize,
    /// Encoder hidden size per direction.
    #[arg(long, default_value_t = 32)]
    hidden: i64,
    /// Word embedding size.
    #[arg(long, default_value_t = 32)]
    word_dim: i64,
    /// sgd or adam.
    #[arg(long, default_value = "adam")]
    optimizer: OptimizerKind,
    /// Learning rate (default: 0.003 for Adam, 0.015 for SGD).
    #[arg(long)]
    lr: Option<f64>,
    /// Skip the extra LSTM runs whose forget-gate bias starts at 0.
    #[arg(long)]
    no_bias_ablation: bool,
    /// Distance whose trained models give the gradient profiles (the nearest one run).
    #[arg(long, default_value_t = 50)]
    profile_distance: usize,
    /// libtorch intra-op threads.
    #[arg(long)]
    threads: Option<i32>,
    /// Show each run's progress.
    #[arg(long)]
    verbose: bool,
}

/// One variant of the study: a cell, with the usual forget-gate bias or with 0.
#[derive(Debug, Clone, Copy)]
struct Variant {
    cell: CellKind,
    forget_bias: f64,
}

impl Variant {
    fn name(&self) -> String {
        if self.forget_bias == 1.0 {
            self.cell.name().to_owned()
        } else {
            format!("{} (forget bias {})", self.cell, self.forget_bias)
        }
    }

    fn dir_name(&self) -> String {
        if self.forget_bias == 1.0 {
            self.cell.name().to_owned()
        } else {
            format!("{}-bias{}", self.cell, self.forget_bias)
        }
    }
}

pub fn run(args: MemoryArgs) -> Result<()> {
    install_ctrl_c();
    if let Some(n) = args.threads {
        ner_model::set_threads(n);
    }
    if args.distances.is_empty() || args.cells.is_empty() || args.seeds == 0 {
        bail!("give at least one cell, one distance and one seed");
    }
    std::fs::create_dir_all(&args.out)?;
    let started = Instant::now();
    let mut rows = Vec::new();
    for v in variants(&args) {
        let seeds = if v.forget_bias == 1.0 { args.seeds } else { 1 };
        for &d in &args.distances {
            let scores = (0..seeds)
                .map(|s| run_one(&args, v, d, args.seed + s as u64))
                .collect::<Result<Vec<_>>>()?;
            rows.push(row(v, d, &scores));
        }
    }
    write_results(&args, &rows)?;
    profiles(&args)?;
    eprintln!(
        "memory study done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn variants(args: &MemoryArgs) -> Vec<Variant> {
    let mut v: Vec<Variant> = args
        .cells
        .iter()
        .map(|&cell| Variant {
            cell,
            forget_bias: 1.0,
        })
        .collect();
    if !args.no_bias_ablation && args.cells.contains(&CellKind::Lstm) {
        v.push(Variant {
            cell: CellKind::Lstm,
            forget_bias: 0.0,
        });
    }
    v
}

/// A finished run's result (`done.json`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Done {
    names: usize,
    right_type: usize,
    found: usize,
    dev_f1: f64,
    seconds: f64,
}

fn run_dir(args: &MemoryArgs, v: Variant, distance: usize, seed: u64) -> PathBuf {
    args.out
        .join("runs")
        .join(v.dir_name())
        .join(format!("T{distance}"))
        .join(format!("seed-{seed}"))
}

/// Trains one run (or reuses it when it finished before) and scores its names.
fn run_one(args: &MemoryArgs, v: Variant, distance: usize, seed: u64) -> Result<Done> {
    let dir = run_dir(args, v, distance, seed);
    let done = dir.join("done.json");
    if let Ok(text) = std::fs::read_to_string(&done) {
        return Ok(serde_json::from_str(&text)?);
    }
    // An unfinished run is started again from scratch.
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("== {} T={distance} seed {seed}", v.name());
    let t0 = Instant::now();
    let data = Corpora {
        train: memory_task::corpus(distance, args.train_sentences, seed),
        dev: memory_task::corpus(distance, args.test_sentences / 2, seed + 1_000),
        test: None,
        unlabelled_scores: Vec::new(),
    };
    let config = run_config(args, v, distance, seed);
    let mut progress = Progress::new(!args.verbose);
    let result = if args.verbose {
        Run::prepare(config, data, &dir, Device::Cpu, &mut progress)?.fit(&mut progress)?
    } else {
        Run::prepare(config, data, &dir, Device::Cpu, &mut Silent)?.fit(&mut Quiet)?
    };
    if stop_requested() || result.interrupted {
        bail!("interrupted; run the same command again to continue the study");
    }
    let test = memory_task::corpus(distance, args.test_sentences, seed + 2_000);
    let score = score_names(&dir, &test, args.threads)?;
    let d = Done {
        names: score.names,
        right_type: score.right_type,
        found: score.found,
        dev_f1: result.dev_f1,
        seconds: t0.elapsed().as_secs_f64(),
    };
    std::fs::write(&done, serde_json::to_string_pretty(&d)? + "\n")?;
    Ok(d)
}

/// Reports nothing but honours Ctrl-C.
struct Quiet;

impl ner_model::training::Observer for Quiet {
    fn should_stop(&self) -> bool {
        stop_requested()
    }
}

fn run_config(args: &MemoryArgs, v: Variant, distance: usize, seed: u64) -> RunConfig {
    let per_epoch = args.train_sentences.div_ceil(args.batch_size.max(1)).max(1);
    let lr = args.lr.or(match args.optimizer {
        OptimizerKind::Adam | OptimizerKind::Nadam => Some(0.003),
        OptimizerKind::Sgd => None,
    });
    RunConfig {
        model: ModelConfig {
            word_dim: args.word_dim,
            lowercase: false,
            char_encoder: CharEncoderKind::None,
            casing_dim: 0,
            cell: v.cell,
            forget_bias: v.forget_bias,
            hidden: args.hidden,
            dropout: 0.0,
            ..Default::default()
        },
        train: TrainOptions {
            epochs: args.steps.div_ceil(per_epoch).max(1),
            batch_size: args.batch_size,
            optimizer: args.optimizer,
            lr,
            patience: 0,
            seed,
            ..Default::default()
        },
        data: DataConfig {
            train: PathBuf::from(format!("synthetic:T={distance}")),
            dev: PathBuf::from(format!("synthetic:T={distance}")),
            test: None,
            columns: Default::default(),
        },
        inputs: Default::default(),
        name: Some(format!("memory-{}-T{distance}", v.dir_name())),
        eval_batch_size: 64,
    }
}

/// The best model of a run, on held-out names.
fn score_names(
    dir: &Path,
    test: &ner_core::corpus::Corpus,
    threads: Option<i32>,
) -> Result<NameScore> {
    let mut opts = TorchOptions::default();
    opts.tagger.threads = threads.map(|t| t.max(1) as usize);
    let mut tagger = ner_model::tagger::load(dir, opts)?;
    let sentences: Vec<&[String]> = test.sentences.iter().map(|s| s.tokens.as_slice()).collect();
    let owned: Vec<Vec<&str>> = sentences
        .iter()
        .map(|s| s.iter().map(String::as_str).collect())
        .collect();
    let tagged = tagger.tag(&owned, DecodeOptions::default())?;
    Ok(memory_task::score(test, &tagged, tagger.tag_set()))
}

/// One line of the table: a variant at a distance, over its seeds.
fn row(v: Variant, distance: usize, runs: &[Done]) -> serde_json::Value {
    let acc: Vec<f64> = runs
        .iter()
        .map(|d| d.right_type as f64 / d.names.max(1) as f64)
        .collect();
    let found: Vec<f64> = runs
        .iter()
        .map(|d| d.found as f64 / d.names.max(1) as f64)
        .collect();
    let pooled = NameScore {
        names: runs.iter().map(|d| d.names).sum(),
        right_type: runs.iter().map(|d| d.right_type).sum(),
        found: runs.iter().map(|d| d.found).sum(),
    };
    let (mean, sd) = mean_sd(&acc);
    let min = acc.iter().copied().fold(f64::INFINITY, f64::min);
    let max = acc.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    serde_json::json!({
        "variant": v.name(), "cell": v.cell.name(), "forget_bias": v.forget_bias,
        "distance": distance, "seeds": runs.len(), "accuracy": acc, "accuracy_mean": mean,
        "accuracy_sd": sd, "accuracy_min": min, "accuracy_max": max,
        "found_mean": mean_sd(&found).0, "at_chance": pooled.at_chance(),
        "seconds": runs.iter().map(|d| d.seconds).sum::<f64>(),
    })
}

/// `memory.json`, `memory.md` and `memory_accuracy.svg`.
fn write_results(args: &MemoryArgs, rows: &[serde_json::Value]) -> Result<()> {
    let out = &args.out;
    std::fs::write(
        out.join("memory.json"),
        serde_json::to_string_pretty(rows)? + "\n",
    )?;
    let md = table(args, rows);
    std::fs::write(out.join("memory.md"), &md)?;
    print!("{md}");
    let mut bands: Vec<Band> = Vec::new();
    for r in rows {
        let name = r["variant"].as_str().unwrap_or("").to_owned();
        if bands.last().is_none_or(|b| b.name != name) {
            bands.push(Band {
                name: name.clone(),
                points: Vec::new(),
            });
        }
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        if let Some(b) = bands.last_mut() {
            b.points.push((
                f("distance"),
                f("accuracy_mean"),
                f("accuracy_min"),
                f("accuracy_max"),
            ));
        }
    }
    band_chart(
        &out.join("memory_accuracy.svg"),
        "Names typed by a trigger T steps back (mean, min-max over seeds)",
        "distance T (log scale)",
        "accuracy on the names",
        &bands,
    )
}

/// Accuracy per variant and distance: mean ± sd over seeds; `≈` marks chance level (within
/// the 99% interval of a fair coin over all the names of the seeds).
fn table(args: &MemoryArgs, rows: &[serde_json::Value]) -> String {
    let mut md = String::from("| cell |");
    for d in &args.distances {
        md += &format!(" T={d} |");
    }
    md += "\n|---|";
    md += &"---|".repeat(args.distances.len());
    let mut current = String::new();
    for r in rows {
        let name = r["variant"].as_str().unwrap_or("");
        if name != current {
            md += &format!("\n| {name} |");
            current = name.to_owned();
        }
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        let chance = if r["at_chance"].as_bool() == Some(true) {
            "≈ "
        } else {
            ""
        };
        md += &format!(
            " {chance}{:.3} ± {:.3} |",
            f("accuracy_mean"),
            f("accuracy_sd")
        );
    }
    md + "\n"
}

/// Gradient profiles of the trained encoders (first seed, at the distance nearest
/// `--profile-distance`) beside untrained ones, on the task's own text.
fn profiles(args: &MemoryArgs) -> Result<()> {
    let d = args
        .distances
        .iter()
        .copied()
        .min_by_key(|&d| d.abs_diff(args.profile_distance))
        .unwrap_or(args.profile_distance);
    let (length, samples) = (120i64, 32i64);
    let text = memory_task::corpus(
        d,
        (length * samples) as usize / (d + 2) + 8,
        args.seed + 3_000,
    );
    let tokens: Vec<&str> = text
        .sentences
        .iter()
        .flat_map(|s| s.tokens.iter().map(String::as_str))
        .collect();
    let mut csv = String::from("cell,encoder,distance,grad_norm\n");
    let (mut trained, mut untrained) = (Vec::new(), Vec::new());
    for &cell in &args.cells {
        let v = Variant {
            cell,
            forget_bias: 1.0,
        };
        let model = checkpoint::load(&run_dir(args, v, d, args.seed), Device::Cpu)?;
        let prof =
            diagnostics::trained_profile(&model, &tokens, length, samples, args.seed as i64)?;
        trained.push(record(&mut csv, cell, &format!("trained T={d}"), &prof));
        let prof =
            diagnostics::untrained_profile(cell, args.hidden, length, samples, args.seed as i64)?;
        untrained.push(record(&mut csv, cell, "untrained", &prof));
    }
    std::fs::write(args.out.join("memory_gradients.csv"), csv)?;
    for (name, series, what) in [
        ("trained", &trained, format!("trained on the task at T={d}")),
        ("untrained", &untrained, "untrained".to_owned()),
    ] {
        line_chart(
            &args.out.join(format!("memory_gradients_{name}.svg")),
            &format!("Gradient reaching the input: {what}"),
            "distance T - t",
            "mean ||dL/dx_t||",
            series,
            true,
        )?;
    }
    Ok(())
}
