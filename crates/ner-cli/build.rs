include!("../build-support/libtorch_rpath.rs");

fn main() {
    // Only the build with libtorch links it.
    if std::env::var_os("CARGO_FEATURE_TORCH").is_some() {
        emit_libtorch_rpath();
    }
    emit_version();
}

/// `ner --version`: the crate's version and the commit it was built from. The commit comes
/// from NER_COMMIT (image builds, which have no `.git`), else from git, else "unknown".
fn emit_version() {
    println!("cargo:rerun-if-env-changed=NER_COMMIT");
    let git = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.git");
    for f in ["HEAD", "packed-refs"] {
        println!("cargo:rerun-if-changed={}", git.join(f).display());
    }
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        if let Some(r) = head.strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed={}", git.join(r.trim()).display());
        }
    }
    let commit = std::env::var("NER_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".into());
    let version = env!("CARGO_PKG_VERSION");
    println!("cargo:rustc-env=NER_VERSION={version} (commit {commit})");
    println!("cargo:rustc-env=NER_COMMIT={commit}");
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}
