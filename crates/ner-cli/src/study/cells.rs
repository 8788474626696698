//! `ner study cells`: every cell over several seeds on the same data.

use crate::plot::line_chart;
use crate::stats::mean_sd;
use crate::train::{self, install_ctrl_c, stop_requested, train_one, Progress};
use anyhow::{bail, Context, Result};
use ner_model::training::metrics::{self, EpochLine};
use ner_model::training::RunConfig;
use ner_model::{CellKind, DecodeOptions, Device, TorchOptions};
use ner_tagger::TaggerOptions;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct CellsArgs {
    /// Cells to compare.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "rnn,gru,lstm,peephole,cifg"
    )]
    cells: Vec<CellKind>,
    /// The training options every run shares (`--train`, `--dev`, `--test`, `--out`, `--epochs`,
    /// `--seeds`, architecture and optimiser flags).
    #[command(flatten)]
    train: train::Args,
}

pub fn run(args: CellsArgs) -> Result<()> {
    let base = args.train.resolve()?;
    let out = args.train.out.clone().context("--out is required")?;
    install_ctrl_c();
    if let Some(n) = args.train.threads {
        ner_model::set_threads(n);
    }
    std::fs::create_dir_all(&out)?;
    let seeds = args.train.seeds.max(1);
    let mut rows = Vec::new();
    for &cell in &args.cells {
        let runs = (0..seeds)
            .map(|s| {
                cell_run(
                    &base,
                    cell,
                    base.train.seed + s as u64,
                    &out,
                    args.train.quiet,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        rows.push(cell_row(cell, &runs, &base, args.train.threads)?);
    }
    write_tables(&out, &rows)
}

/// One finished run of a study: its directory, result and per-epoch metrics.
struct CellRun {
    dir: PathBuf,
    dev_f1: f64,
    test_f1: Option<f64>,
    metrics: Vec<EpochLine>,
}

/// Trains (or resumes, or reuses) one cell's run with one seed.
fn cell_run(
    base: &RunConfig,
    cell: CellKind,
    seed: u64,
    out: &Path,
    quiet: bool,
) -> Result<CellRun> {
    let dir = out.join(cell.name()).join(format!("seed-{seed}"));
    let done = dir.join("study-done.json");
    let result: serde_json::Value = if done.exists() {
        serde_json::from_str(&std::fs::read_to_string(&done)?)?
    } else {
        let mut c = base.clone();
        c.model.cell = cell;
        c.train.seed = seed;
        eprintln!("== {cell} seed {seed} -> {}", dir.display());
        let r = train_one(c, &dir, Device::Cpu, &mut Progress::new(quiet))?;
        if stop_requested() || r.interrupted {
            bail!("interrupted; run the same command again to continue the study");
        }
        let test = r.test.as_ref().map(|t| t.overall.f1);
        let v = serde_json::json!({"dev_f1": r.dev_f1, "test_f1": test});
        std::fs::write(&done, v.to_string())?;
        v
    };
    Ok(CellRun {
        dev_f1: result["dev_f1"].as_f64().unwrap_or(f64::NAN),
        test_f1: result["test_f1"].as_f64(),
        metrics: metrics::read(&dir)?,
        dir,
    })
}

/// A cell's row of the table: F1 over seeds, size and speed of its best run's model.
fn cell_row(
    cell: CellKind,
    runs: &[CellRun],
    base: &RunConfig,
    threads: Option<i32>,
) -> Result<serde_json::Value> {
    let best = runs
        .iter()
        .max_by(|a, b| a.dev_f1.total_cmp(&b.dev_f1))
        .context("no run")?;
    let dev_corpus = ner_core::corpus::Corpus::read(
        &base.data.dev,
        base.data.columns.reader_options(),
        base.data.columns.scheme,
    )?;
    let opts = TorchOptions {
        tagger: TaggerOptions {
            batch_size: ner_tagger::DEFAULT_BATCH_SIZE,
            threads: threads.map(|t| t.max(1) as usize),
        },
        ..TorchOptions::default()
    };
    let mut tagger = ner_model::tagger::load(&best.dir, opts)?;
    let params: usize = tagger
        .network()
        .model()
        .vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel())
        .sum();
    let sents: Vec<Vec<&str>> = dev_corpus
        .sentences
        .iter()
        .map(|s| s.tokens.iter().map(String::as_str).collect())
        .collect();
    let ntok: usize = sents.iter().map(Vec::len).sum();
    let t0 = Instant::now();
    tagger.tag(&sents, DecodeOptions::default())?;
    let tps = ntok as f64 / t0.elapsed().as_secs_f64();
    let dev: Vec<f64> = runs.iter().map(|r| r.dev_f1).collect();
    let test: Vec<f64> = runs.iter().filter_map(|r| r.test_f1).collect();
    let secs: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.metrics.iter().map(|e| e.train_seconds))
        .collect();
    let (dm, ds) = mean_sd(&dev);
    let (tm, ts) = mean_sd(&test);
    Ok(serde_json::json!({
        "cell": cell.name(), "seeds": dev.len(), "dev_f1_mean": dm, "dev_f1_std": ds,
        "test_f1_mean": tm, "test_f1_std": ts, "dev_f1": dev, "test_f1": test,
        "parameters": params, "train_seconds_per_epoch": mean_sd(&secs).0,
        "inference_tokens_per_second": tps, "dev_curve": mean_curve(runs),
    }))
}

/// Dev F1 per epoch, averaged over the runs that reached the epoch.
fn mean_curve(runs: &[CellRun]) -> Vec<(f64, f64)> {
    let n_epochs = runs.iter().map(|r| r.metrics.len()).max().unwrap_or(0);
    (0..n_epochs)
        .filter_map(|i| {
            let v: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.metrics.get(i).map(|e| e.dev.f1))
                .collect();
            (!v.is_empty()).then(|| ((i + 1) as f64, mean_sd(&v).0))
        })
        .collect()
}

/// cells.json, cells.md and the dev-F1 plot.
fn write_tables(out: &Path, rows: &[serde_json::Value]) -> Result<()> {
    std::fs::write(
        out.join("cells.json"),
        serde_json::to_string_pretty(rows)? + "\n",
    )?;
    let mut md = String::from("| cell | seeds | dev F1 | test F1 | parameters | train s/epoch | inference tokens/s |\n|---|---|---|---|---|---|---|\n");
    let f = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    for r in rows {
        md += &format!(
            "| {} | {} | {:.2} ± {:.2} | {:.2} ± {:.2} | {} | {:.1} | {:.0} |\n",
            r["cell"].as_str().unwrap_or(""),
            r["seeds"],
            f(r, "dev_f1_mean"),
            f(r, "dev_f1_std"),
            f(r, "test_f1_mean"),
            f(r, "test_f1_std"),
            r["parameters"],
            f(r, "train_seconds_per_epoch"),
            f(r, "inference_tokens_per_second"),
        );
    }
    std::fs::write(out.join("cells.md"), &md)?;
    let series: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            let pts = r["dev_curve"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
                        .collect()
                })
                .unwrap_or_default();
            (r["cell"].as_str().unwrap_or("").to_owned(), pts)
        })
        .collect();
    line_chart(
        &out.join("cells_dev_f1.svg"),
        "Dev F1 per epoch (mean over seeds)",
        "epoch",
        "dev F1 (%)",
        &series,
        false,
    )?;
    print!("{md}");
    Ok(())
}
