//! The library's training run: a run stopped after epoch k and resumed ends with weights
//! bit-identical to an uninterrupted run with the same seed (SGD with momentum, Adam and Nadam, with
//! the weight average), and the observer sees every epoch once.

use ner_model::training::{
    metrics, Continuation, DataConfig, EpochReport, Observer, OptimizerKind, Run, RunConfig,
    Silent, TrainOptions,
};
use ner_model::{Device, ModelConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::Tensor;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

fn config(optimizer: OptimizerKind) -> RunConfig {
    RunConfig {
        model: ModelConfig {
            word_dim: 12,
            char_dim: 6,
            char_filters: 8,
            hidden: 10,
            word_dropout: 0.1,
            ..Default::default()
        },
        train: TrainOptions {
            epochs: 3,
            batch_size: 8,
            optimizer,
            patience: 0,
            seed: 7,
            ema: 0.99,
            ..Default::default()
        },
        data: DataConfig {
            train: fixture("en-train.conll"),
            dev: fixture("en-dev.conll"),
            test: None,
            columns: Default::default(),
        },
        inputs: Default::default(),
        name: None,
        eval_batch_size: 16,
    }
}

/// Stops the run after `after` finished epochs; records the epochs it saw.
struct StopAfter {
    after: usize,
    seen: Vec<usize>,
}

impl Observer for StopAfter {
    fn epoch_finished(&mut self, r: &EpochReport<'_>) {
        self.seen.push(r.epoch);
    }
    fn should_stop(&self) -> bool {
        self.seen.len() >= self.after
    }
}

/// libtorch's random generator is one per process: runs in parallel test threads would draw
/// from it in turns, so the tests of this file take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn tensors(path: &Path) -> BTreeMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect()
}

fn assert_bit_identical(a: &Path, b: &Path) {
    let (ta, tb) = (tensors(a), tensors(b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (name, x) in &ta {
        assert!(x.equal(&tb[name]), "{name} differs between {a:?} and {b:?}");
    }
}

#[test]
fn a_resumed_run_ends_bit_identical_to_an_uninterrupted_one() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    for optimizer in [
        OptimizerKind::Sgd,
        OptimizerKind::Adam,
        OptimizerKind::Nadam,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
        let c = config(optimizer);
        let r = Run::start(c.clone(), &whole, Device::Cpu, &mut Silent)
            .unwrap()
            .fit(&mut Silent)
            .unwrap();
        assert_eq!((r.epochs_done, r.interrupted), (3, false));

        let mut stop = StopAfter {
            after: 1,
            seen: Vec::new(),
        };
        let r = Run::start(c, &split, Device::Cpu, &mut stop)
            .unwrap()
            .fit(&mut stop)
            .unwrap();
        assert_eq!((r.epochs_done, r.interrupted), (1, true));
        let mut rest = StopAfter {
            after: usize::MAX,
            seen: Vec::new(),
        };
        let r = Run::resume(&split, Device::Cpu, &mut rest)
            .unwrap()
            .fit(&mut rest)
            .unwrap();
        assert_eq!(
            (r.epochs_done, r.interrupted, rest.seen),
            (3, false, vec![2, 3])
        );

        assert_same_run(&whole, &split, 3);
    }
}

/// The two run directories hold bit-identical checkpoints after epoch `epoch`, the same best
/// model and the same dev F1 at every epoch.
fn assert_same_run(a: &Path, b: &Path, epoch: usize) {
    let ck = |d: &Path| d.join(format!(".checkpoint/epoch-{epoch}"));
    for f in [
        "model.safetensors",
        "average.safetensors",
        "optimizer.safetensors",
    ] {
        assert_bit_identical(&ck(a).join(f), &ck(b).join(f));
    }
    assert_bit_identical(&a.join("model.safetensors"), &b.join("model.safetensors"));
    let f1s = |d: &Path| -> Vec<f64> {
        std::fs::read_to_string(d.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["dev"]["f1"]
                    .as_f64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(f1s(a), f1s(b));
}

#[test]
fn a_finished_run_continued_to_more_epochs_equals_a_longer_run() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    let tmp = tempfile::tempdir().unwrap();
    let (whole, short) = (tmp.path().join("whole"), tmp.path().join("short"));
    let mut c = config(OptimizerKind::Nadam);
    c.train.lr_decay = Some(0.2);
    Run::start(c.clone(), &whole, Device::Cpu, &mut Silent)
        .unwrap()
        .fit(&mut Silent)
        .unwrap();
    c.train.epochs = 2;
    let fit = |cont: Continuation| {
        let mut seen = StopAfter {
            after: usize::MAX,
            seen: Vec::new(),
        };
        let r = Run::resume_with(&short, cont, Device::Cpu, &mut seen)?.fit(&mut seen)?;
        Ok::<_, ner_model::TrainError>((r.epochs_done, seen.seen))
    };
    Run::start(c, &short, Device::Cpu, &mut Silent)
        .unwrap()
        .fit(&mut Silent)
        .unwrap();
    // Finished at its limit: resuming as it is trains nothing...
    assert_eq!(fit(Continuation::default()).unwrap(), (2, vec![]));
    // ...a higher limit continues it, and it ends as the longer run did.
    let more = Continuation {
        epochs: Some(3),
        patience: None,
    };
    assert_eq!(fit(more).unwrap(), (3, vec![3]));
    assert_same_run(&whole, &short, 3);
    let stored = ner_model::training::files::read_config(&short).unwrap();
    assert_eq!(stored.train.epochs, 3);
    // A limit below the completed epochs is refused, and run.json is left as it was.
    let fewer = Continuation {
        epochs: Some(1),
        patience: None,
    };
    let err = fit(fewer).unwrap_err().to_string();
    assert!(err.contains("has completed 3 epochs"), "{err}");
    assert_eq!(
        ner_model::training::files::read_config(&short)
            .unwrap()
            .train
            .epochs,
        3
    );
}

#[test]
fn a_second_start_in_the_same_directory_is_refused() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut c = config(OptimizerKind::Sgd);
    c.train.epochs = 1;
    Run::start(c.clone(), &dir, Device::Cpu, &mut Silent)
        .unwrap()
        .fit(&mut Silent)
        .unwrap();
    let err = Run::start(c, &dir, Device::Cpu, &mut Silent)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already holds a model or a run"), "{err}");
    // Resuming a finished run trains nothing more.
    let r = Run::resume(&dir, Device::Cpu, &mut Silent)
        .unwrap()
        .fit(&mut Silent)
        .unwrap();
    assert_eq!(r.epochs_done, 1);
}

#[test]
fn a_run_killed_before_its_first_checkpoint_restarts_with_clean_metrics() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let c = config(OptimizerKind::Sgd);
    drop(Run::start(c, &dir, Device::Cpu, &mut Silent).unwrap());
    // Killed after the first epoch's metrics line was written, before its checkpoint.
    let stale = metrics::EpochLine {
        epoch: 1,
        train_loss: 9.0,
        lr: 0.1,
        train_seconds: 1.0,
        eval_seconds: 1.0,
        tokens_per_second: 1.0,
        dev: metrics::DevScores {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            per_type: Default::default(),
        },
        best: true,
    };
    let line = serde_json::to_string(&stale).unwrap() + "\n";
    std::fs::write(dir.join("metrics.jsonl"), line).unwrap();
    Run::resume(&dir, Device::Cpu, &mut Silent)
        .unwrap()
        .fit(&mut Silent)
        .unwrap();
    let lines = metrics::read(&dir).unwrap();
    let epochs: Vec<usize> = lines.iter().map(|l| l.epoch).collect();
    assert_eq!(epochs, [1, 2, 3]);
    assert_ne!(lines[0], stale, "the stale line of epoch 1 was replaced");
}
