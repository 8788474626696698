//! How a training run looks in the terminal: a progress bar per epoch, one line per epoch,
//! the test report, plots of the run after every epoch, and Ctrl-C (finish the batch, keep
//! the best model and the checkpoint; a second Ctrl-C exits at once).

use crate::plot;
use indicatif::{ProgressBar, ProgressStyle};
use ner_core::metrics::Report;
use ner_model::training::{BatchProgress, EpochReport, Observer};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the Ctrl-C handler: a signal handler can only reach process state.
static STOP: AtomicBool = AtomicBool::new(false);

pub fn install_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond interrupt: exiting now");
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: stopping after this batch; the best model is kept (Ctrl-C again to quit at once)");
    });
}

/// Whether a stop was requested (Ctrl-C).
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The terminal observer of a run.
pub struct Progress {
    quiet: bool,
    bar: ProgressBar,
    /// Where plots go (the run directory), once known.
    plots: Option<PathBuf>,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Progress {
            quiet,
            bar: ProgressBar::hidden(),
            plots: None,
        }
    }

    /// Draws plots of the run in `dir` after every epoch.
    pub fn plot_into(&mut self, dir: PathBuf) {
        self.plots = Some(dir);
    }
}

impl Observer for Progress {
    fn info(&mut self, message: &str) {
        eprintln!("{message}");
    }

    fn warning(&mut self, message: &str) {
        eprintln!("warning: {message}");
    }

    fn epoch_started(&mut self, epoch: usize, epochs: usize, sentences: usize) {
        self.bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(sentences as u64)
        };
        self.bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        self.bar.set_prefix(format!("{epoch}/{epochs}"));
    }

    fn batch_done(&mut self, p: &BatchProgress) {
        self.bar.set_position(p.sentences_done as u64);
        let rate = p.tokens as f64 / p.seconds.max(1e-9);
        self.bar
            .set_message(format!("loss {:.3} {rate:.0} tok/s", p.mean_loss));
    }

    fn epoch_finished(&mut self, r: &EpochReport<'_>) {
        self.bar.finish_and_clear();
        let (s, o) = (&r.stats, &r.dev.overall);
        eprintln!(
            "epoch {:3} loss {:8.4} lr {:.5} train {:6.1}s ({:.0} tok/s) dev P {:.2} R {:.2} F1 {:.2}{}",
            r.epoch,
            s.loss,
            s.lr,
            s.seconds,
            s.tokens as f64 / s.seconds.max(1e-9),
            o.precision,
            o.recall,
            o.f1,
            if r.improved { "  *best*" } else { "" }
        );
        if let Some(dir) = &self.plots {
            if let Err(e) = plot::plot_run(dir) {
                eprintln!("warning: could not draw plots: {e:#}");
            }
        }
    }

    fn test_evaluated(&mut self, report: &Report) {
        println!("test:\n{}", report.conlleval_text());
    }

    fn should_stop(&self) -> bool {
        stop_requested()
    }
}
