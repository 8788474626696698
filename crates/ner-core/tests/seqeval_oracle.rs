//! Metrics against an independent reference: the Python package `seqeval` (default mode,
//! which follows conlleval), on random tag sequences including ill-formed ones.
//!
//! The test runs `$NER_PYTHON` (set by scripts/setup.sh to the project's Python environment)
//! or `python3`; scripts/test.sh installs `seqeval` there. This test installs nothing: without
//! seqeval it fails and names the command that installs it, since a reference that cannot run
//! is not a passed test.

use ner_core::metrics::Evaluator;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::process::Command;

const SCRIPT: &str = r#"
import json, sys
from seqeval.metrics import classification_report, accuracy_score
data = json.load(open(sys.argv[1]))
rep = classification_report(data["gold"], data["pred"], output_dict=True, zero_division=0)
out = {k: {m: float(v[m]) for m in ("precision", "recall", "f1-score", "support")} for k, v in rep.items()}
out["accuracy"] = float(accuracy_score(data["gold"], data["pred"]))
print(json.dumps(out))
"#;

fn python() -> String {
    std::env::var("NER_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn ensure_seqeval(py: &str) {
    let ok = Command::new(py)
        .args(["-c", "import seqeval"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "seqeval is not importable by {py}: run `{py} -m pip install seqeval==1.2.2` (scripts/test.sh does), or set NER_PYTHON to a Python that has it"
    );
}

fn random_sentence(rng: &mut StdRng, len: usize) -> Vec<String> {
    const TYPES: [&str; 3] = ["PER", "LOC", "ORG"];
    const PREFIXES: [&str; 4] = ["B", "I", "E", "S"];
    (0..len)
        .map(|_| {
            if rng.random_bool(0.45) {
                "O".to_owned()
            } else {
                format!(
                    "{}-{}",
                    PREFIXES[rng.random_range(0..PREFIXES.len())],
                    TYPES[rng.random_range(0..TYPES.len())]
                )
            }
        })
        .collect()
}

#[test]
fn metrics_equal_seqeval() {
    let py = python();
    ensure_seqeval(&py);
    let mut rng = StdRng::seed_from_u64(20261126);
    for round in 0..6 {
        // Half the rounds use only B/I/O tags (conlleval's own domain), half add E and S.
        let mut gold = Vec::new();
        let mut pred = Vec::new();
        for _ in 0..300 {
            let len = rng.random_range(1..12);
            let mut g = random_sentence(&mut rng, len);
            let mut p: Vec<String> = g
                .iter()
                .map(|t| {
                    if rng.random_bool(0.3) {
                        random_sentence(&mut rng, 1).remove(0)
                    } else {
                        t.clone()
                    }
                })
                .collect();
            if round % 2 == 0 {
                for t in g.iter_mut().chain(p.iter_mut()) {
                    if t.starts_with("E-") || t.starts_with("S-") {
                        *t = format!("I-{}", &t[2..]);
                    }
                }
            }
            gold.push(g);
            pred.push(p);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.json");
        std::fs::write(
            &path,
            serde_json::json!({"gold": gold, "pred": pred}).to_string(),
        )
        .unwrap();
        let out = Command::new(&py)
            .args(["-c", SCRIPT])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "seqeval failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reference: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

        let mut ev = Evaluator::new();
        for (g, p) in gold.iter().zip(&pred) {
            let g: Vec<&str> = g.iter().map(String::as_str).collect();
            let p: Vec<&str> = p.iter().map(String::as_str).collect();
            ev.add(&g, &p).unwrap();
        }
        let ours = ev.report();
        let close = |a: f64, b: f64, what: &str| {
            assert!(
                (a - b).abs() < 1e-9,
                "round {round} {what}: ours {a} vs seqeval {b}"
            );
        };
        let r = |k: &str, m: &str| reference[k][m].as_f64().unwrap() * 100.0;
        close(
            ours.overall.precision,
            r("micro avg", "precision"),
            "micro precision",
        );
        close(
            ours.overall.recall,
            r("micro avg", "recall"),
            "micro recall",
        );
        close(ours.overall.f1, r("micro avg", "f1-score"), "micro f1");
        close(
            ours.macro_avg.precision,
            r("macro avg", "precision"),
            "macro precision",
        );
        close(
            ours.macro_avg.recall,
            r("macro avg", "recall"),
            "macro recall",
        );
        close(ours.macro_avg.f1, r("macro avg", "f1-score"), "macro f1");
        close(
            ours.accuracy,
            reference["accuracy"].as_f64().unwrap() * 100.0,
            "accuracy",
        );
        for (name, t) in &ours.per_type {
            close(
                t.prf.precision,
                r(name, "precision"),
                &format!("{name} precision"),
            );
            close(t.prf.recall, r(name, "recall"), &format!("{name} recall"));
            close(t.prf.f1, r(name, "f1-score"), &format!("{name} f1"));
            assert_eq!(
                t.counts.gold as f64,
                reference[name]["support"].as_f64().unwrap()
            );
        }
    }
}
