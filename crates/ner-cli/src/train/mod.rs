//! `ner train`: resolves the flags into a run configuration and hands it to the library's
//! training run, drawing its progress, plots and (with `--seeds`) the mean and standard
//! deviation over seeds. `--resume DIR` continues a run from the configuration it stored.

pub mod args;
mod progress;

pub use args::Args;
pub use progress::{install_ctrl_c, stop_requested, Progress};

use crate::device::parse_device;
use anyhow::{Context, Result};
use ner_model::training::{Continuation, Run, RunConfig, RunResult};
use ner_model::Device;
use std::path::Path;

/// A run stopped by Ctrl-C after saving its checkpoint: `ner` exits with 130, as a shell
/// does for SIGINT, so that scripts see the run is unfinished.
#[derive(Debug, thiserror::Error)]
#[error("interrupted; the checkpoint is saved, and --resume continues the run")]
pub struct Interrupted;

/// `Err(Interrupted)` when Ctrl-C stopped the run.
fn finished(interrupted: bool) -> Result<()> {
    match interrupted || stop_requested() {
        true => Err(Interrupted.into()),
        false => Ok(()),
    }
}

pub fn run(args: Args) -> Result<()> {
    install_ctrl_c();
    if let Some(n) = args.threads {
        ner_model::set_threads(n);
    }
    let device = parse_device(&args.device)?;
    let mut progress = Progress::new(args.quiet);
    if let Some(dir) = &args.resume {
        progress.plot_into(dir.clone());
        let continuation = Continuation {
            epochs: args.optim.epochs,
            patience: args.optim.patience,
        };
        let mut run = Run::resume_with(dir, continuation, device, &mut progress)?;
        return finished(run.fit(&mut progress)?.interrupted);
    }
    let config = args.resolve()?;
    let out = args.out.clone().context("--out is required")?;
    if args.seeds > 1 {
        return run_seeds(config, &out, args.seeds, device, &mut progress);
    }
    progress.plot_into(out.clone());
    let mut run = Run::start(config, &out, device, &mut progress)?;
    finished(run.fit(&mut progress)?.interrupted)
}

/// Trains one run into `out`, or continues it when `out` holds a checkpoint (a finished run
/// is only scored again).
pub fn train_one(
    config: RunConfig,
    out: &Path,
    device: Device,
    progress: &mut Progress,
) -> Result<RunResult> {
    progress.plot_into(out.to_owned());
    let mut run = if ner_model::training::checkpoint::exists(out) {
        Run::resume(out, device, progress)?
    } else {
        Run::start(config, out, device, progress)?
    };
    Ok(run.fit(progress)?)
}

/// Trains `seeds` runs into `OUT/seed-N` and reports mean and standard deviation.
fn run_seeds(
    config: RunConfig,
    out: &Path,
    seeds: usize,
    device: Device,
    progress: &mut Progress,
) -> Result<()> {
    let mut rows = Vec::new();
    for i in 0..seeds {
        let mut c = config.clone();
        c.train.seed = config.train.seed + i as u64;
        let dir = out.join(format!("seed-{}", c.train.seed));
        eprintln!("== seed {} -> {}", c.train.seed, dir.display());
        let seed = c.train.seed;
        let r = train_one(c, &dir, device, progress)?;
        rows.push((seed, r));
        if stop_requested() {
            break;
        }
    }
    let stat = |f: &dyn Fn(&RunResult) -> Option<f64>| {
        let v: Vec<f64> = rows.iter().filter_map(|(_, r)| f(r)).collect();
        let (mean, sd) = crate::stats::mean_sd(&v);
        serde_json::json!({"mean": mean, "std": sd, "n": v.len(), "values": v})
    };
    let summary = serde_json::json!({
        "seeds": rows.iter().map(|(s, _)| s).collect::<Vec<_>>(),
        "dev_f1": stat(&|r| Some(r.dev_f1)),
        "test_f1": stat(&|r| r.test.as_ref().map(|t| t.overall.f1)),
    });
    std::fs::write(
        out.join("seeds.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    finished(false)
}
