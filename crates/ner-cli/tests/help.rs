//! Every flag of every command says what it does in `--help`.

mod common;
use common::{ner, run_ok};

#[test]
fn every_flag_has_help_text() {
    let commands: &[&[&str]] = &[
        &["train"],
        &["eval"],
        &["predict"],
        &["score"],
        &["serve"],
        &["bench"],
        &["health"],
        &["study", "cells"],
        &["study", "gradients"],
        &["study", "memory"],
    ];
    let mut missing = Vec::new();
    for cmd in commands {
        let out = run_ok(ner().args(*cmd).arg("--help"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            // Flag lines: `--name ...` or `-x, --name ...` (not the `- value: ...` lists).
            let short = t.len() > 3
                && t.starts_with('-')
                && t[1..2].chars().all(char::is_alphanumeric)
                && t[2..].starts_with(", --");
            if !t.starts_with("--") && !short {
                continue;
            }
            let name = t
                .split([' ', ','])
                .find(|w| w.starts_with("--"))
                .unwrap_or(t);
            if name == "--help" || name == "--version" {
                continue;
            }
            // The description follows on the same line, or on the next one (not only defaults).
            let same = t
                .split_once("  ")
                .map(|(_, d)| d.trim())
                .filter(|d| !d.is_empty() && !d.starts_with('['));
            let next = lines
                .get(i + 1)
                .map(|l| l.trim())
                .filter(|d| !d.is_empty() && !d.starts_with('[') && !d.starts_with('-'));
            if same.is_none() && next.is_none() {
                missing.push(format!("ner {} {name}", cmd.join(" ")));
            }
        }
    }
    assert!(missing.is_empty(), "flags without help text: {missing:?}");
}
