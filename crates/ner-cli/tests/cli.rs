//! `ner train`, `eval`, `predict` and `score` on the project's own small fixtures.

mod common;
use common::*;
use ner_core::offsets::{slice, OffsetUnit};
use ner_core::scheme::{convert, parse_tag, Prefix, Tag};
use ner_core::TagScheme;
use std::io::Write;
use std::process::Stdio;

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn train_eval_predict_score() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    train_fixture_model(&model, 4);
    for f in [
        "model.safetensors",
        "config.json",
        "vocab.json",
        "labels.json",
        "meta.json",
        "metrics.jsonl",
        "loss.svg",
        "dev_f1.svg",
        "per_type_f1.svg",
    ] {
        assert!(model.join(f).exists(), "{f} missing");
    }
    let metrics = std::fs::read_to_string(model.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 4);

    // The IOB1 test file scores exactly like its BIO conversion.
    let iob1 = fixture("en-test-iob1.conll");
    let bio = tmp.path().join("test-bio.conll");
    let text = std::fs::read_to_string(&iob1).unwrap();
    let mut out = String::new();
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().filter(|l| !l.is_empty()).collect();
        let tags: Vec<Tag<&str>> = lines
            .iter()
            .map(|l| {
                let t = l.rsplit(' ').next().unwrap();
                let (p, ty) = parse_tag(t).unwrap();
                if p == Prefix::O {
                    Tag::O
                } else {
                    Tag::new(p, ty)
                }
            })
            .collect();
        let conv = convert(&tags, TagScheme::Bio);
        for (l, t) in lines.iter().zip(conv) {
            let (head, _) = l.rsplit_once(' ').unwrap();
            out.push_str(&format!(
                "{head} {}\n",
                TagScheme::Bio.render(t, |x| x.to_string())
            ));
        }
        out.push('\n');
    }
    std::fs::write(&bio, out).unwrap();
    let preds = tmp.path().join("pred.conll");
    let e1 = json(&run_ok(
        ner()
            .args(["eval", "--json", "--model"])
            .arg(&model)
            .arg(&iob1)
            .arg("--write-predictions")
            .arg(&preds),
    ));
    let e2 = json(&run_ok(
        ner()
            .args(["eval", "--json", "--model"])
            .arg(&model)
            .arg(&bio)
            .args(["--compare", "torch"]),
    ));
    // The native tagger and libtorch tag every token of the file alike.
    assert_eq!(e2["compared_with"], "torch");
    assert_eq!(e2["differing_tags"], 0);
    assert_eq!(
        e1["overall"], e2["overall"],
        "IOB1 and BIO versions score differently"
    );
    assert!(
        e1["overall"]["f1"].as_f64().unwrap() > 50.0,
        "the fixture model learned nothing: {}",
        e1["overall"]
    );
    // `ner score` on the written predictions gives the same numbers.
    let s = json(&run_ok(ner().args(["score", "--json"]).arg(&preds)));
    assert_eq!(s["overall"], e1["overall"]);
    let text_report = String::from_utf8(run_ok(ner().arg("score").arg(&preds)).stdout).unwrap();
    assert!(text_report.starts_with("processed "), "{text_report}");

    // predict: raw text and JSONL, offsets slice the input in every unit.
    let input = "Maria Garcia visited Tokyo on Monday .\nShares of Toyota rose 5 percent in Oslo trading . Ünïcödé 😀 Wei Chen said so .\n\n";
    for unit in OffsetUnit::ALL {
        let name = format!("{unit:?}").to_lowercase();
        let mut child = ner()
            .args(["predict", "--offsets", &name, "--model"])
            .arg(&model)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines.len(),
            3,
            "one output line per input line, empty ones included"
        );
        let mut found = 0;
        for v in &lines {
            let text = v["text"].as_str().unwrap();
            for e in v["entities"].as_array().unwrap() {
                let (a, b) = (
                    e["start"].as_u64().unwrap() as usize,
                    e["end"].as_u64().unwrap() as usize,
                );
                assert_eq!(slice(text, a, b, unit), e["text"].as_str());
                found += 1;
            }
        }
        assert!(
            found >= 3,
            "expected the fixture model to find names: {lines:?}"
        );
    }
    let jsonl = tmp.path().join("in.jsonl");
    std::fs::write(
        &jsonl,
        "{\"id\": 1, \"text\": \"John Smith visited Paris .\"}\n",
    )
    .unwrap();
    let out = run_ok(
        ner()
            .args(["predict", "--format", "jsonl", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&jsonl),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], 1);
    let conll_out = run_ok(
        ner()
            .args(["predict", "--format", "conll", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(fixture("en-dev.conll")),
    );
    let text = String::from_utf8(conll_out.stdout).unwrap();
    // Each output line is the input line with the predicted tag appended.
    let first = text.lines().next().unwrap();
    let input_first = std::fs::read_to_string(fixture("en-dev.conll"))
        .unwrap()
        .lines()
        .find(|l| !l.is_empty() && !l.starts_with("-DOCSTART-"))
        .unwrap()
        .to_owned();
    assert!(
        first.starts_with(&format!("{input_first} ")),
        "{first} does not extend {input_first}"
    );
    assert_eq!(
        text.split("\n\n").filter(|b| !b.trim().is_empty()).count(),
        60,
        "one output sentence per input sentence"
    );
    // A label the model never saw counts as an error and does not crash the run.
    let unseen = tmp.path().join("unseen.conll");
    std::fs::write(
        &unseen,
        "John NN O B-PER\nSmith NN O I-PER\nbought NN O O\nWidgets NN O B-PRODUCT\n\n",
    )
    .unwrap();
    let e = json(&run_ok(
        ner()
            .args(["eval", "--json", "--model"])
            .arg(&model)
            .arg(&unseen),
    ));
    assert_eq!(e["per_type"]["PRODUCT"]["correct"], 0, "{e}");
    assert_eq!(e["per_type"]["PRODUCT"]["gold"], 1, "{e}");
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"id\": 1}\n").unwrap();
    let out = ner()
        .args(["predict", "--format", "jsonl", "--model"])
        .arg(&model)
        .arg("--input")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("bad.jsonl:1: the object has no string field \"text\""));
}

#[test]
fn interrupted_training_resumes_from_its_last_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // A global flag before the subcommand: resume reads the stored configuration, not argv.
    let child = ner()
        .args([
            "--log-format",
            "text",
            "train",
            "--quiet",
            "--threads",
            "1",
            "--epochs",
            "40",
            "--patience",
            "0",
            "--hidden",
            "16",
            "--word-dim",
            "16",
            "--ema",
            "0.99",
        ])
        .args(fixture_data(&dir))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let metrics = dir.join("metrics.jsonl");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&metrics).map_or(0, |m| m.lines().count()) < 2 {
        assert!(start.elapsed().as_secs() < 120, "training made no progress");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Ctrl-C: stop cleanly, keeping the best model and the checkpoint.
    assert!(std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "interrupted: exits 130 after saving; {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
    let done = std::fs::read_to_string(&metrics).unwrap().lines().count();
    assert!(done < 40);
    // The weight average is kept beside the checkpoint and resumed with it.
    let latest = std::fs::read_to_string(dir.join(".checkpoint/latest")).unwrap();
    assert!(dir
        .join(".checkpoint")
        .join(latest.trim())
        .join("average.safetensors")
        .is_file());
    run_ok(ner().arg("train").arg("--resume").arg(&dir));
    assert_eq!(
        metric_epochs(&dir),
        (1..=40).collect::<Vec<_>>(),
        "every epoch exactly once, in order"
    );
    // The finished run continues to a higher limit; a flag the stored run fixes is refused.
    let fixed = ner()
        .args(["train", "--resume"])
        .arg(&dir)
        .args(["--lr", "0.5"])
        .output()
        .unwrap();
    assert!(!fixed.status.success());
    run_ok(
        ner()
            .arg("train")
            .arg("--resume")
            .arg(&dir)
            .args(["--epochs", "42"]),
    );
    assert_eq!(metric_epochs(&dir), (1..=42).collect::<Vec<_>>());
    // A finished run cannot be started again over itself.
    let again = ner()
        .args(["train", "--epochs", "1"])
        .args(fixture_data(&dir))
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds"));
}

#[test]
fn broken_files_stop_training_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    for (file, needle) in [
        (
            "broken-columns.conll",
            "broken-columns.conll:3: found 3 columns, but the first token line (line 1) has 4",
        ),
        (
            "broken-tag.conll",
            "broken-tag.conll:2: tag \"Q-ORG\" has an unknown prefix",
        ),
        ("broken-utf8.conll", "broken-utf8.conll:2: invalid UTF-8"),
    ] {
        let out_dir = tmp.path().join(file);
        let out = ner()
            .args(["train", "--epochs", "1"])
            .arg("--train")
            .arg(fixture("en-train.conll"))
            .arg("--dev")
            .arg(fixture(file))
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(needle), "{file}: {err}");
        assert!(!out_dir.exists(), "{file}: a model directory was created");
    }
}

#[test]
fn chinese_character_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("zh");
    run_ok(
        ner()
            .args([
                "train",
                "--quiet",
                "--threads",
                "1",
                "--epochs",
                "6",
                "--tokenization",
                "char",
                "--model-scheme",
                "bioes",
                "--hidden",
                "32",
                "--word-dim",
                "32",
                "--lr",
                "0.05",
                "--bigram-dim",
                "8",
            ])
            .arg("--train")
            .arg(fixture("zh-train.bmes"))
            .arg("--dev")
            .arg(fixture("zh-dev.bmes"))
            .arg("--out")
            .arg(&dir),
    );
    let e = json(&run_ok(
        ner()
            .args(["eval", "--json", "--model"])
            .arg(&dir)
            .arg(fixture("zh-dev.bmes")),
    ));
    assert!(e["overall"]["f1"].as_f64().unwrap() > 50.0, "{e}");
    let mut child = ner()
        .arg("predict")
        .arg("--model")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("王芳，现任北京大学教授。\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let texts: Vec<&str> = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"王芳") || texts.contains(&"北京大学"),
        "{v}"
    );
}

#[test]
fn study_commands_on_small_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("grad");
    run_ok(
        ner()
            .args([
                "study",
                "gradients",
                "--length",
                "30",
                "--samples",
                "8",
                "--hidden",
                "16",
                "--out",
            ])
            .arg(&g),
    );
    let csv = std::fs::read_to_string(g.join("gradients.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 5 * 30);
    assert!(g.join("gradients_untrained.svg").exists());
    let at = |cell: &str, dist: usize| -> f64 {
        csv.lines()
            .find(|l| l.starts_with(&format!("{cell},untrained,{dist},")))
            .and_then(|l| l.rsplit(',').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    // The tanh RNN loses its gradient faster than the LSTM.
    assert!(
        at("rnn", 20) / at("rnn", 0) < at("lstm", 20) / at("lstm", 0),
        "{csv}"
    );

    let out = tmp.path().join("cells");
    let study = |out: &std::path::Path| {
        run_ok(
            ner()
                .args([
                    "study",
                    "cells",
                    "--cells",
                    "rnn,cifg",
                    "--seeds",
                    "2",
                    "--epochs",
                    "1",
                    "--quiet",
                    "--threads",
                    "1",
                    "--hidden",
                    "16",
                    "--word-dim",
                    "16",
                ])
                .args(fixture_data(out)),
        )
    };
    study(&out);
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("cells.json")).unwrap()).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["cell"], "cifg");
    assert_eq!(rows[1]["seeds"], 2);
    assert!(rows[0]["parameters"].as_u64().unwrap() > 0);
    assert!(out.join("cells.md").exists() && out.join("cells_dev_f1.svg").exists());
    // A second run finds every run done and trains nothing again.
    let before = std::fs::metadata(out.join("rnn/seed-1/metrics.jsonl"))
        .unwrap()
        .modified()
        .unwrap();
    study(&out);
    assert_eq!(
        before,
        std::fs::metadata(out.join("rnn/seed-1/metrics.jsonl"))
            .unwrap()
            .modified()
            .unwrap()
    );
    // Training the trained encoders' gradients uses the study's best models.
    run_ok(
        ner()
            .args([
                "study",
                "gradients",
                "--cells",
                "rnn,cifg",
                "--length",
                "10",
                "--samples",
                "4",
                "--hidden",
                "8",
                "--out",
            ])
            .arg(&g)
            .arg("--trained")
            .arg(&out)
            .arg("--data")
            .arg(fixture("en-dev.conll")),
    );
    assert!(g.join("gradients_trained.svg").exists());
}

/// Epoch numbers of a run's metrics.jsonl, in order.
fn metric_epochs(dir: &std::path::Path) -> Vec<u64> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn sigkill_at_any_moment_leaves_a_loadable_model_and_a_resumable_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let flags = [
        "--quiet",
        "--threads",
        "1",
        "--epochs",
        "8",
        "--patience",
        "0",
        "--hidden",
        "16",
        "--word-dim",
        "16",
        "--ema",
        "0.99",
    ];
    // A fixed sequence of kill delays (ms) spread over the run's epochs and saves.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..6 {
        let mut cmd = ner();
        cmd.arg("train");
        if dir.join("run.json").is_file() {
            cmd.arg("--resume").arg(&dir);
        } else {
            cmd.args(flags).args(fixture_data(&dir));
        }
        let mut child = cmd.stderr(Stdio::null()).spawn().unwrap();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = 150 + (seed >> 33) % 1200;
        std::thread::sleep(std::time::Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        // Whatever the moment: a best model present is loadable, a checkpoint present is whole.
        let eval = |model: &std::path::Path| {
            run_ok(
                ner()
                    .args(["eval", "--model"])
                    .arg(model)
                    .arg(fixture("en-dev.conll")),
            );
        };
        if dir.join("meta.json").is_file() {
            eval(&dir);
        }
        if let Ok(latest) = std::fs::read_to_string(dir.join(".checkpoint/latest")) {
            let ck = dir.join(".checkpoint").join(latest.trim());
            eval(&ck);
            assert!(ck.join("state.json").is_file() && ck.join("optimizer.safetensors").is_file());
        }
        let epochs = metric_epochs(&dir);
        assert_eq!(
            epochs,
            (1..=epochs.len() as u64).collect::<Vec<_>>(),
            "round {round}"
        );
    }
    // On a loaded machine every round may have been killed before the run recorded itself:
    // then the run starts here, as a user would start it again.
    let mut last = ner();
    last.arg("train");
    match dir.join("run.json").is_file() {
        true => last.arg("--resume").arg(&dir),
        false => last.args(flags).args(fixture_data(&dir)),
    };
    run_ok(&mut last);
    assert_eq!(metric_epochs(&dir), (1..=8).collect::<Vec<_>>());
    assert!(dir.join("meta.json").is_file());
}

#[test]
fn memory_study_learns_a_short_dependency_and_recognises_chance_at_a_long_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("memory");
    let mut args: Vec<std::ffi::OsString> = vec![
        "study".into(),
        "memory".into(),
        "--out".into(),
        out.clone().into(),
    ];
    for a in [
        "--cells",
        "lstm",
        "--distances",
        "2,60",
        "--seeds",
        "1",
        "--steps",
        "200",
        "--hidden",
        "12",
        "--word-dim",
        "12",
        "--train-sentences",
        "400",
        "--test-sentences",
        "400",
        "--no-bias-ablation",
        "--profile-distance",
        "2",
        "--threads",
        "1",
    ] {
        args.push(a.into());
    }
    run_ok(ner().args(&args));
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("memory.json")).unwrap()).unwrap();
    let at = |d: u64| rows.iter().find(|r| r["distance"] == d).unwrap().clone();
    let near = at(2);
    assert!(near["accuracy_mean"].as_f64().unwrap() > 0.9, "{near}");
    assert_eq!(near["at_chance"], false);
    // 60 steps back is beyond what this tiny budget can teach: a coin flip, and said so.
    let far = at(60);
    assert!(
        (0.4..0.6).contains(&far["accuracy_mean"].as_f64().unwrap()),
        "{far}"
    );
    assert_eq!(far["at_chance"], true, "{far}");
    for f in [
        "memory.md",
        "memory_accuracy.svg",
        "memory_gradients_trained.svg",
        "memory_gradients_untrained.svg",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // Finished runs are reused: the second command trains nothing and agrees.
    let done = out.join("runs/lstm/T2/seed-1/done.json");
    let before = std::fs::metadata(&done).unwrap().modified().unwrap();
    run_ok(ner().args(&args));
    assert_eq!(
        std::fs::metadata(&done).unwrap().modified().unwrap(),
        before
    );
    let again: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("memory.json")).unwrap()).unwrap();
    assert_eq!(again, rows);
}
