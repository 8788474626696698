//! The training scripts' shell helpers (`scripts/lib/train-args.sh`), run by bash with a stand-in
//! for the `ner` binary that records how it was called.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A stand-in for `ner` in `dir` that appends its arguments to `dir/calls`; returns its path.
fn fake_ner(dir: &Path) -> PathBuf {
    let fake = dir.join("ner");
    let calls = dir.join("calls");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", calls.display()),
    )
    .unwrap();
    fake
}

/// The calls `fake_ner` recorded in `dir`.
fn calls(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("calls")).unwrap();
    text.lines().map(String::from).collect()
}

/// Runs `body` in bash after sourcing the helpers; returns its standard output.
fn bash(body: &str) -> String {
    let helpers = repo().join("scripts/lib/train-args.sh");
    let script = format!("set -euo pipefail\nsource {}\n{body}", helpers.display());
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "bash failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_users_flags_replace_the_scripts_own() {
    let out = bash(
        r#"ARGS=(--epochs 40 --quiet --seed 1 --lr 0.015)
NER_SWITCHES="--quiet"
ner_override ARGS --seed 2 --lr=0.01
printf '%s\n' "${ARGS[@]}""#,
    );
    assert_eq!(out, "--epochs\n40\n--quiet\n");
}

/// A resumed run is given again what the run does not store: without `--threads 1` it took
/// every core and, beside another training, ran several times slower.
#[test]
fn a_resumed_run_gets_the_threads_device_and_quiet_again() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("run.json"), "{}").unwrap();
    let fake = fake_ner(dir.path());
    let body = format!(
        "chmod +x {fake}\nner_train_or_resume {fake} {out} TEST --scratch --train T \
         --threads 1 --epochs 40 --device cpu --quiet 2>/dev/null",
        fake = fake.display(),
        out = out.display(),
    );
    bash(&body);
    let o = out.display();
    assert_eq!(
        calls(dir.path()),
        [
            format!("train --resume {o} --threads 1 --device cpu --quiet"),
            format!("eval --model {o} TEST"),
        ]
    );
}

#[test]
fn a_new_run_gets_all_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_ner(dir.path());
    let out = dir.path().join("run");
    let body = format!(
        "chmod +x {fake}\nner_train_or_resume {fake} {out} TEST --train T --threads 1",
        fake = fake.display(),
        out = out.display(),
    );
    bash(&body);
    assert_eq!(calls(dir.path())[0], "train --train T --threads 1");
}

/// Runs `scripts/train-conll.sh` with `args`; returns its exit code and standard error.
fn train_conll(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new("bash")
        .arg(repo().join("scripts/train-conll.sh"))
        .args(args)
        .env_remove("NER_TRANSFER_FILE")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The transfer set belongs to the fast model's recipe; the refusals come before any set-up.
#[test]
fn train_conll_refuses_a_transfer_set_it_cannot_use() {
    let (code, err) = train_conll(&["--model", "accurate", "--unlabelled", "x.txt"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("use them with --model fast"), "{err}");
    let (code, err) = train_conll(&["--teacher", "models/en-conll03-ctx"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--teacher goes with --unlabelled FILE"),
        "{err}"
    );
    let (code, err) = train_conll(&["--unlabelled", "/nonexistent/transfer.txt"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("missing /nonexistent/transfer.txt"), "{err}");
}
