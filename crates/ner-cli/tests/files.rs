//! Crash-safe files: `predict --output` appears whole or not at all, and a write that fails
//! half-way through training (the file-size limit of `ulimit -f`, which makes writes fail as a
//! full disk does) stops the run with a clear error, leaving the previous model and checkpoint
//! intact and resumable.

mod common;
use common::{fixture, fixture_data, ner, run_ok, shipped_model};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn predict_output_appears_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let predict = |input: &Path, output: &Path| {
        let mut c = ner();
        c.args(["predict", "--format", "conll", "--threads", "1", "--model"])
            .arg(shipped_model())
            .arg("--input")
            .arg(input)
            .arg("--output")
            .arg(output);
        c
    };
    let out = dir.path().join("dev.conll");
    run_ok(&mut predict(&fixture("en-dev.conll"), &out));
    let stdout = run_ok(
        ner()
            .args(["predict", "--format", "conll", "--threads", "1", "--model"])
            .arg(shipped_model())
            .arg("--input")
            .arg(fixture("en-dev.conll")),
    )
    .stdout;
    assert_eq!(std::fs::read(&out).unwrap(), stdout);
    // A run that fails half-way (invalid UTF-8 further down) leaves an older file alone and no
    // temporary file behind.
    std::fs::write(&out, "old\n").unwrap();
    let failed = predict(&fixture("broken-utf8.conll"), &out)
        .output()
        .unwrap();
    assert!(!failed.status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old\n");
    assert_eq!(files_in(dir.path()), ["dev.conll"]);
}

#[test]
fn a_killed_predict_leaves_nothing_under_the_final_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let mut child = ner()
        .args(["predict", "--threads", "1", "--chunk", "1", "--model"])
        .arg(shipped_model())
        .arg("--output")
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "John Smith visited Paris .").unwrap();
    stdin.flush().unwrap();
    // Wait for the temporary file, then kill the process before its input ends.
    let start = Instant::now();
    while files_in(dir.path()).is_empty() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "a partial {} was left", out.display());
}

/// `ner` under a file-size limit of `kib` KiB, with SIGXFSZ ignored so that a write past the
/// limit fails with an error (EFBIG) as a write to a full disk does (ENOSPC).
fn limited(kib: u64) -> Command {
    let mut c = Command::new("sh");
    c.args([
        "-c",
        &format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""),
    ])
    .arg(env!("CARGO_BIN_EXE_ner"))
    .env("NER_LOG", "warn")
    .env("OMP_NUM_THREADS", "1");
    c
}

#[test]
fn a_failed_write_during_training_keeps_the_previous_model_and_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    // Train until the first checkpoint exists, then interrupt (Ctrl-C): an unfinished run.
    let mut child = ner()
        .args([
            "train",
            "--quiet",
            "--threads",
            "1",
            "--epochs",
            "200",
            "--hidden",
            "16",
        ])
        .args(["--word-dim", "16", "--patience", "3"])
        .args(fixture_data(&run))
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !run.join(".checkpoint/latest").exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id().to_string();
    run_ok(Command::new("kill").args(["-INT", &pid]));
    assert_eq!(
        child.wait().unwrap().code(),
        Some(130),
        "an interrupted run exits with 130 after saving"
    );
    let latest = std::fs::read_to_string(run.join(".checkpoint/latest")).unwrap();
    let weights = std::fs::read(run.join("model.safetensors")).unwrap();
    let eval = |cmd: &mut Command| {
        run_ok(
            cmd.arg("eval")
                .arg("--model")
                .arg(&run)
                .arg(fixture("en-dev.conll")),
        )
        .stdout
    };
    let before = eval(&mut ner());

    // Resume with writes limited to 8 KiB per file: the next checkpoint or model cannot be
    // written. The run stops with an error that names the file; nothing it had is damaged.
    let failed = limited(8)
        .arg("train")
        .arg("--resume")
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "the run went on: {stderr}");
    assert!(
        stderr.contains(&*run.to_string_lossy()) && stderr.contains("large"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(run.join(".checkpoint/latest")).unwrap(),
        latest
    );
    assert_eq!(
        std::fs::read(run.join("model.safetensors")).unwrap(),
        weights
    );
    assert_eq!(eval(&mut ner()), before);

    // With room again, the run resumes from the same checkpoint and finishes (early stopping
    // with patience 3 ends it).
    let resumed = run_ok(ner().args(["train", "--quiet", "--resume"]).arg(&run));
    let said = String::from_utf8_lossy(&resumed.stderr);
    let epoch = latest.trim().trim_start_matches("epoch-");
    assert!(
        said.contains(&format!("resuming after epoch {epoch}")),
        "{said}"
    );
    eval(&mut ner());
}
