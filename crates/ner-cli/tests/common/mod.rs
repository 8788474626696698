//! Helpers shared by the CLI and end-to-end tests (included with `mod common`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn ner() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ner"));
    c.env("NER_LOG", "warn")
        .env_remove("NER_MODEL")
        .env_remove("NER_PORT")
        .env_remove("PORT");
    // Tests may run in parallel: keep each libtorch process on one thread.
    c.env("OMP_NUM_THREADS", "1");
    c
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the ner binary runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `--train`, `--dev` (the English fixture) and `--out DIR` for `ner train`.
pub fn fixture_data(out: impl AsRef<Path>) -> Vec<std::ffi::OsString> {
    vec![
        "--train".into(),
        fixture("en-train.conll").into(),
        "--dev".into(),
        fixture("en-dev.conll").into(),
        "--out".into(),
        out.as_ref().as_os_str().to_owned(),
    ]
}

/// Trains a small model on the English fixture into `dir` (a few seconds).
pub fn train_fixture_model(dir: &Path, epochs: u32) {
    run_ok(
        ner()
            .args([
                "train",
                "--quiet",
                "--scratch",
                "--threads",
                "1",
                "--epochs",
                &epochs.to_string(),
            ])
            .args(fixture_data(dir))
            .args([
                "--hidden",
                "32",
                "--word-dim",
                "32",
                "--lr",
                "0.05",
                "--batch-size",
                "8",
            ]),
    );
}

/// The default English model shipped in `models/`.
pub fn shipped_model() -> PathBuf {
    let p = repo().join("models/en-conll03");
    assert!(
        p.join("model.safetensors").exists(),
        "the shipped model {} is missing",
        p.display()
    );
    p
}

/// Starts `ner serve --port 0` with the shipped model and `extra` flags; returns the child and
/// the address it reports.
pub fn spawn_server(extra: &[&str]) -> (std::process::Child, String) {
    let (child, addr, _) = start_server(extra, "warn");
    (child, addr)
}

/// [`spawn_server`] logging at level info, and the server's log lines as they come.
pub fn spawn_server_logged(extra: &[&str]) -> (std::process::Child, String, Log) {
    start_server(extra, "info")
}

/// A server's log lines.
pub type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

fn start_server(extra: &[&str], level: &str) -> (std::process::Child, String, Log) {
    use std::io::BufRead;
    let mut child = ner()
        .env("NER_LOG", level)
        .args(["serve", "--port", "0", "--threads", "1", "--model"])
        .arg(shipped_model())
        .args(extra)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ner serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the server reports its address");
    (child, addr, log)
}
