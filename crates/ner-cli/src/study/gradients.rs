//! `ner study gradients`: gradient flow through time in untrained and trained encoders.

use crate::data::{read_corpus, ColumnArgs};
use crate::plot::line_chart;
use anyhow::{bail, Context, Result};
use ner_model::checkpoint;
use ner_model::diagnostics;
use ner_model::{CellKind, Device};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

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
    /// The cells to measure, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "rnn,gru,lstm,peephole,cifg"
    )]
    cells: Vec<CellKind>,
    /// Random seed of the untrained encoders and their inputs.
    #[arg(long, default_value_t = 1)]
    seed: i64,
    #[command(flatten)]
    columns: ColumnArgs,
}

pub fn run(args: GradientsArgs) -> Result<()> {
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
    for (kind, rows) in [("untrained", &untrained), ("trained", &trained)] {
        if !rows.is_empty() {
            line_chart(
                &args.out.join(format!("gradients_{kind}.svg")),
                &format!("Gradient reaching the input: {kind} encoders"),
                "distance T - t",
                "mean ||dL/dx_t||",
                rows,
                true,
            )?;
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&summary(&untrained, &trained))?
    );
    Ok(())
}

type Series = (String, Vec<(f64, f64)>);

/// Each encoder's gradient norm at a few distances, by name.
fn summary(untrained: &[Series], trained: &[Series]) -> BTreeMap<String, serde_json::Value> {
    let mut summary = BTreeMap::new();
    for (kind, rows) in [("untrained", untrained), ("trained", trained)] {
        for (name, pts) in rows.iter() {
            let at = |d: usize| pts.get(d).map_or(f64::NAN, |p| p.1);
            summary.insert(format!("{name} ({kind})"), serde_json::json!({"d0": at(0), "d5": at(5), "d20": at(20), "d50": at(50), "d100": at(100)}));
        }
    }
    summary
}

/// Appends a profile to the CSV and returns it as a plot series.
pub(super) fn record(
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
