//! `ner train` without architecture flags starts from the shipped models' recipe (the subword
//! vectors of models/en-conll03 for word-tokenised corpora, character bigrams for
//! `--tokenization char`); `--scratch` starts from the plain defaults; flags override either.

mod common;
use common::*;
use std::path::Path;

/// Trains one epoch into `out` with `extra` flags and returns the stored run configuration.
fn run_config(out: &Path, data: [&str; 2], extra: &[&str]) -> serde_json::Value {
    run_ok(
        ner()
            .args(["train", "--quiet", "--threads", "1", "--epochs", "1"])
            .arg("--train")
            .arg(fixture(data[0]))
            .arg("--dev")
            .arg(fixture(data[1]))
            .arg("--out")
            .arg(out)
            .args(extra),
    );
    let text = std::fs::read_to_string(out.join("run.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

const EN: [&str; 2] = ["en-train.conll", "en-dev.conll"];

#[test]
fn word_corpora_get_the_english_recipe_with_the_shipped_subword_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let c = run_config(&tmp.path().join("r"), EN, &[]);
    let subword = c["inputs"]["subword_model"]
        .as_str()
        .expect("subword vectors");
    assert!(
        Path::new(subword).ends_with("models/en-conll03"),
        "{subword}"
    );
    assert_eq!(c["inputs"]["init_words_from_subword"], true);
    let m = &c["model"];
    assert_eq!(
        (
            &m["word_dim"],
            &m["word_dropout"],
            &m["scheme"],
            &m["context_tokens"]
        ),
        (&128.into(), &0.25.into(), &"bioes".into(), &128.into())
    );
    assert_eq!(c["train"]["ema"], 0.999);
    // The fixture has -DOCSTART- documents: batches of 2 windows.
    assert_eq!(c["train"]["batch_size"], 2);
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r/config.json")).unwrap())
            .unwrap();
    assert_eq!(model["subword_dim"], 128, "the model was trained with them");
}

#[test]
fn flags_override_the_recipe_and_scratch_turns_it_off() {
    let tmp = tempfile::tempdir().unwrap();
    let c = run_config(
        &tmp.path().join("f"),
        EN,
        &["--word-dim", "40", "--ema", "0"],
    );
    assert_eq!(c["model"]["word_dim"], 40);
    assert_eq!(c["train"]["ema"], 0.0);
    assert_eq!(
        c["inputs"]["init_words_from_subword"], false,
        "word vectors of 40 cannot start from subword vectors of 128"
    );
    assert!(c["inputs"]["subword_model"].is_string());
    let s = run_config(&tmp.path().join("s"), EN, &["--scratch"]);
    assert!(s["inputs"]["subword_model"].is_null());
    assert_eq!(s["model"]["word_dropout"], 0.0);
    assert_eq!(s["model"]["context_tokens"], 0);
    assert_eq!(s["train"]["batch_size"], 10);
}

#[test]
fn char_corpora_get_the_chinese_recipe() {
    let tmp = tempfile::tempdir().unwrap();
    let data = ["zh-train.bmes", "zh-dev.bmes"];
    let c = run_config(&tmp.path().join("z"), data, &["--tokenization", "char"]);
    let m = &c["model"];
    assert_eq!(
        (&m["bigram_dim"], &m["char_encoder"]),
        (&50.into(), &"none".into())
    );
    assert_eq!(m["lowercase"], false);
    assert!(c["inputs"]["subword_model"].is_null());
}

#[test]
fn keep_labels_needs_a_base_model() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ner()
        .args(["train", "--keep-labels"])
        .args(fixture_data(tmp.path().join("k")))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--init-from"), "{err}");
}

#[test]
fn init_from_takes_the_base_architecture_and_the_recipes_optimisation() {
    let tmp = tempfile::tempdir().unwrap();
    let base = shipped_model();
    let c = run_config(
        &tmp.path().join("i"),
        EN,
        &["--init-from", base.to_str().unwrap()],
    );
    assert_eq!(
        (&c["train"]["ema"], &c["train"]["batch_size"]),
        (&0.999.into(), &2.into())
    );
    let shipped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("config.json")).unwrap()).unwrap();
    assert_eq!(c["model"]["hidden"], shipped["hidden"]);
    assert!(
        c["inputs"]["subword_model"].is_null(),
        "the base model brings its own"
    );
}
