//! The default `ner` build is the serving build: no crate of it links libtorch, and the
//! `torch` feature is what brings libtorch in (so that this check can fail).

use std::process::Command;

fn tree(features: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree", "-p", "ner-cli", "--edges", "normal", "--prefix", "none",
        ])
        .args(["--offline", "--locked"])
        .args(features)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_default_build_has_no_libtorch_and_the_torch_feature_adds_it() {
    let default = tree(&[]);
    assert!(default.contains("ner-tagger"), "{default}");
    for c in ["torch-sys", "tch ", "ner-model"] {
        assert!(!default.contains(c), "the default build depends on {c}");
    }
    let torch = tree(&["--features", "torch"]);
    assert!(torch.contains("torch-sys"), "{torch}");
}
