//! `ner study`: the cell-variant study and the gradient-flow diagnostic.
//!
//! `cells` trains the same configuration with each recurrent cell over several seeds by
//! calling `ner train`'s own run function (no second training loop), resumes where an
//! interrupted study stopped, and writes a Markdown and a JSON table and a plot of dev F1 per
//! epoch. `gradients` measures how the gradient of a loss at the last position reaches the
//! inputs at each earlier position.

use crate::data::{read_corpus, ColumnArgs};
use crate::plot::line_chart;
use crate::train::{self, has_checkpoint, run_single, stop_requested};
use anyhow::{bail, Context, Result};
use ner_model::checkpoint;
use ner_model::diagnostics;
use ner_model::{CellKind, Device, TagRequest, Tagger, TaggerOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, clap::Subcommand)]
pub enum Study {
    /// Train every cell over several seeds and compare them.
    Cells(Box<CellsArgs>),
    /// Gradient norm of a last-position loss with respect to each earlier input.
    Gradients(GradientsArgs),
}

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

#[derive(Debug, clap::Args)]
pub struct GradientsArgs {
    /// Output directory for gradients.csv and gradients.svg.
    #[arg(long)]
    out: PathBuf,
    /// Sequence length (the largest distance measured is length - 1).
    #[arg(long, default_value_t = 120)]
    length: i64,
    /// Random sequences averaged over.
    #[arg(long, default_value_t = 64)]
    samples: i64,
    /// Input and hidden size of the untrained encoders.
    #[arg(long, default_value_t = 100)]
    hidden: i64,
    /// A `ner study cells` output directory: its best model of each cell is measured as the
    /// trained encoder (the forward direction of its first layer), on inputs from `--data`.
    #[arg(long)]
    trained: Option<PathBuf>,
    /// CoNLL file whose sentences, concatenated, are the trained encoders' inputs.
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "rnn,gru,lstm,peephole,cifg"
    )]
    cells: Vec<CellKind>,
    #[arg(long, default_value_t = 1)]
    seed: i64,
    #[command(flatten)]
    columns: ColumnArgs,
}

pub fn run(study: Study) -> Result<()> {
    match study {
        Study::Cells(a) => cells(*a),
        Study::Gradients(a) => gradients(a),
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

fn read_metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn cells(args: CellsArgs) -> Result<()> {
    let base = args.train;
    let out = base.out.clone().context("--out is required")?;
    let seeds = base.seeds.max(1);
    let first_seed = base.optim.seed.unwrap_or(1);
    train::install_ctrl_c();
    if let Some(n) = base.threads {
        ner_model::set_threads(n);
    }
    std::fs::create_dir_all(&out)?;
    let mut rows = Vec::new();
    for &cell in &args.cells {
        let mut dev = Vec::new();
        let mut test = Vec::new();
        let mut secs = Vec::new();
        let mut curves: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut best_dir = None;
        let mut best_dev = f64::MIN;
        for s in 0..seeds {
            let seed = first_seed + s as u64;
            let dir = out.join(cell.name()).join(format!("seed-{seed}"));
            let done = dir.join("study-done.json");
            let result: serde_json::Value = if done.exists() {
                serde_json::from_str(&std::fs::read_to_string(&done)?)?
            } else {
                let mut a = base.clone();
                a.model.cell = Some(cell);
                a.optim.seed = Some(seed);
                a.seeds = 1;
                a.resume = has_checkpoint(&dir).then(|| dir.clone());
                eprintln!(
                    "== {cell} seed {seed} -> {}{}",
                    dir.display(),
                    if a.resume.is_some() {
                        " (resuming)"
                    } else {
                        ""
                    }
                );
                let r = run_single(&a, &dir)?;
                if stop_requested() {
                    bail!("interrupted; run the same command again to continue the study");
                }
                let v = serde_json::json!({"dev_f1": r.dev_f1, "test_f1": r.test_f1});
                std::fs::write(&done, v.to_string())?;
                v
            };
            let d = result["dev_f1"].as_f64().unwrap_or(f64::NAN);
            dev.push(d);
            if let Some(t) = result["test_f1"].as_f64() {
                test.push(t);
            }
            let m = read_metrics(&dir);
            secs.extend(m.iter().filter_map(|e| e["train_seconds"].as_f64()));
            curves.push(
                m.iter()
                    .map(|e| {
                        (
                            e["epoch"].as_f64().unwrap_or(0.0),
                            e["dev"]["f1"].as_f64().unwrap_or(0.0),
                        )
                    })
                    .collect(),
            );
            if d > best_dev {
                best_dev = d;
                best_dir = Some(dir);
            }
        }
        let best_dir = best_dir.context("no run")?;
        // Parameters and inference speed of the best seed's model.
        let dev_corpus = read_corpus(
            base.dev.as_ref().context("--dev is required")?,
            &base.columns,
        )?;
        let mut tagger = Tagger::load(
            &best_dir,
            TaggerOptions {
                batch_size: 64,
                threads: base.threads,
                device: Device::Cpu,
                ..Default::default()
            },
        )?;
        let params: usize = tagger
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
        tagger.tag(&sents, TagRequest::default())?;
        let tps = ntok as f64 / t0.elapsed().as_secs_f64();
        let n_epochs = curves.iter().map(Vec::len).max().unwrap_or(0);
        let mean_curve: Vec<(f64, f64)> = (0..n_epochs)
            .filter_map(|i| {
                let v: Vec<f64> = curves
                    .iter()
                    .filter_map(|c| c.get(i).map(|p| p.1))
                    .collect();
                (!v.is_empty()).then(|| ((i + 1) as f64, mean_sd(&v).0))
            })
            .collect();
        let (dm, ds) = mean_sd(&dev);
        let (tm, ts) = mean_sd(&test);
        rows.push(serde_json::json!({
            "cell": cell.name(), "seeds": dev.len(), "dev_f1_mean": dm, "dev_f1_std": ds,
            "test_f1_mean": tm, "test_f1_std": ts, "dev_f1": dev, "test_f1": test,
            "parameters": params, "train_seconds_per_epoch": mean_sd(&secs).0,
            "inference_tokens_per_second": tps, "dev_curve": mean_curve,
        }));
    }
    let json_path = out.join("cells.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&rows)? + "\n")?;
    let mut md = String::from("| cell | seeds | dev F1 | test F1 | parameters | train s/epoch | inference tokens/s |\n|---|---|---|---|---|---|---|\n");
    for r in &rows {
        md += &format!(
            "| {} | {} | {:.2} ± {:.2} | {:.2} ± {:.2} | {} | {:.1} | {:.0} |\n",
            r["cell"].as_str().unwrap_or(""),
            r["seeds"],
            r["dev_f1_mean"].as_f64().unwrap_or(f64::NAN),
            r["dev_f1_std"].as_f64().unwrap_or(f64::NAN),
            r["test_f1_mean"].as_f64().unwrap_or(f64::NAN),
            r["test_f1_std"].as_f64().unwrap_or(f64::NAN),
            r["parameters"],
            r["train_seconds_per_epoch"].as_f64().unwrap_or(f64::NAN),
            r["inference_tokens_per_second"]
                .as_f64()
                .unwrap_or(f64::NAN),
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

fn gradients(args: GradientsArgs) -> Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let mut csv = String::from("cell,encoder,distance,grad_norm\n");
    let mut untrained = Vec::new();
    let mut trained = Vec::new();
    let corpus = match (&args.trained, &args.data) {
        (Some(_), Some(d)) => Some(read_corpus(d, &args.columns)?),
        (Some(_), None) => bail!("--data is needed with --trained"),
        _ => None,
    };
    let tokens: Vec<&str> = corpus
        .iter()
        .flat_map(|c| {
            c.sentences
                .iter()
                .flat_map(|s| s.tokens.iter().map(String::as_str))
        })
        .collect();
    for &cell in &args.cells {
        let prof = diagnostics::untrained_profile(
            cell,
            args.hidden,
            args.length,
            args.samples,
            args.seed,
        )?;
        untrained.push(record(&mut csv, cell, "untrained", &prof));
        if let Some(dir) = &args.trained {
            let loaded = checkpoint::load(&best_model_of(dir, cell)?, Device::Cpu)?;
            let prof = diagnostics::trained_profile(
                &loaded,
                &tokens,
                args.length,
                args.samples,
                args.seed,
            )?;
            trained.push(record(&mut csv, cell, "trained", &prof));
        }
    }
    let mut f = std::fs::File::create(args.out.join("gradients.csv"))?;
    f.write_all(csv.as_bytes())?;
    line_chart(
        &args.out.join("gradients_untrained.svg"),
        "Gradient reaching the input: untrained encoders",
        "distance T - t",
        "mean ||dL/dx_t||",
        &untrained,
        true,
    )?;
    if !trained.is_empty() {
        line_chart(
            &args.out.join("gradients_trained.svg"),
            "Gradient reaching the input: trained encoders",
            "distance T - t",
            "mean ||dL/dx_t||",
            &trained,
            true,
        )?;
    }
    let mut summary = BTreeMap::new();
    for (kind, rows) in [("untrained", &untrained), ("trained", &trained)] {
        for (name, pts) in rows.iter() {
            let at = |d: usize| pts.get(d).map_or(f64::NAN, |p| p.1);
            summary.insert(format!("{name} ({kind})"), serde_json::json!({"d0": at(0), "d5": at(5), "d20": at(20), "d50": at(50), "d100": at(100)}));
        }
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// Appends a profile to the CSV and returns it as a plot series.
fn record(
    csv: &mut String,
    cell: CellKind,
    encoder: &str,
    prof: &[f64],
) -> (String, Vec<(f64, f64)>) {
    for (d, g) in prof.iter().enumerate() {
        csv.push_str(&format!("{},{encoder},{d},{g:e}\n", cell.name()));
    }
    let points = prof
        .iter()
        .enumerate()
        .map(|(d, g)| (d as f64, *g))
        .collect();
    (cell.name().to_owned(), points)
}

fn best_model_of(study: &Path, cell: CellKind) -> Result<PathBuf> {
    let dir = study.join(cell.name());
    let mut best = None;
    for e in std::fs::read_dir(&dir)
        .with_context(|| format!("{} has no runs of {cell}", dir.display()))?
    {
        let p = e?.path();
        let done = p.join("study-done.json");
        if let Ok(t) = std::fs::read_to_string(&done) {
            let v: serde_json::Value = serde_json::from_str(&t)?;
            let f = v["dev_f1"].as_f64().unwrap_or(f64::MIN);
            if best.as_ref().is_none_or(|(bf, _)| f > *bf) {
                best = Some((f, p));
            }
        }
    }
    best.map(|b| b.1)
        .with_context(|| format!("no finished run of {cell} in {}", dir.display()))
}
