//! The documentation stays honest: it describes the software and its measurements, never how
//! it was developed; every relative link resolves; the performance page is what the committed
//! benchmark results give.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every file under `dir` (recursively) whose name ends with one of `suffixes`.
fn files(dir: &Path, suffixes: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, suffixes, out);
        } else if suffixes.iter().any(|s| p.to_string_lossy().ends_with(s)) {
            out.push(p);
        }
    }
}

/// The Markdown a user reads: README, CHANGELOG, docs/, the model cards, docker/ and
/// benchmarks/.
fn markdown() -> Vec<PathBuf> {
    let root = repo();
    let mut out = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    for dir in ["docs", "models", "docker", "benchmarks"] {
        files(&root.join(dir), &[".md"], &mut out);
    }
    out
}

/// Phrases that tell how the software was developed rather than what it is.
const HISTORY: &[&str] = &[
    "session",
    "we tried",
    "we have found",
    "have found no",
    "target is missed",
    "target was missed",
    "target is met",
    "target was met",
    "missed the target",
    "met the target",
    "this round",
    "last round",
    "next round",
    "round of development",
    "rounds of development",
    "development round",
];

#[test]
fn no_document_or_script_tells_how_the_software_was_developed() {
    let root = repo();
    let mut checked = markdown();
    files(&root.join("scripts"), &[".sh", ".py"], &mut checked);
    let mut found = Vec::new();
    for path in &checked {
        let text = std::fs::read_to_string(path).unwrap().to_lowercase();
        for (i, line) in text.lines().enumerate() {
            for phrase in HISTORY {
                if line.contains(phrase) {
                    found.push(format!("{}:{}: \"{phrase}\"", path.display(), i + 1));
                }
            }
        }
    }
    assert!(checked.len() > 20, "too few files found: {checked:?}");
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The targets of the Markdown links `[text](target)` in `text`, without external ones.
fn relative_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let end = rest.find(')').unwrap_or(rest.len());
        let target = rest[..end].split_whitespace().next().unwrap_or("");
        let external = ["http://", "https://", "mailto:"]
            .iter()
            .any(|s| target.starts_with(s));
        if !target.is_empty() && !external {
            out.push(target.to_owned());
        }
    }
    out
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings.
fn anchors(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    let mut count = 0;
    for md in markdown() {
        let text = std::fs::read_to_string(&md).unwrap();
        for link in relative_links(&text) {
            count += 1;
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = match file {
                "" => md.clone(),
                f => md.parent().unwrap().join(f),
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", md.display()));
            } else if !anchor.is_empty()
                && target.extension().is_some_and(|e| e == "md")
                && !anchors(&target).contains(anchor)
            {
                broken.push(format!("{}: {link} (no such heading)", md.display()));
            }
        }
    }
    assert!(count > 20, "too few links found ({count})");
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_link_checker_sees_links_and_anchors() {
    let text = "see [a](docs/a.md#b-c), [b](https://x.org) and [c](#top \"title\")";
    assert_eq!(relative_links(text), ["docs/a.md#b-c", "#top"]);
    assert_eq!(
        slug(" 3. How far back (`ner study memory`)?"),
        "3-how-far-back-ner-study-memory"
    );
}

#[test]
fn the_performance_page_is_what_the_benchmark_results_give() {
    let python = std::env::var("NER_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(repo().join("scripts/performance-doc.py"))
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
