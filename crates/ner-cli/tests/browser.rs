//! The demo page in a real browser: headless Chromium loads `/?text=...` from a running server
//! and the highlighted entities with their labels must appear; a screenshot is saved under
//! `target/`. scripts/test.sh installs Chromium; this test installs nothing, and without a
//! browser it fails and says how to install one: a page that was never loaded is not a tested
//! page.

mod common;
use common::*;
use std::process::Command;

fn find_chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_owned)
}

/// The browser's command; the test fails when there is none.
fn chromium() -> String {
    find_chromium().unwrap_or_else(|| {
        panic!("Chromium is needed to test the demo page: run `apt-get install chromium` as root (scripts/test.sh does), then the tests again")
    })
}

fn browser_args(url: &str, profile: &std::path::Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=15000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("--user-data-dir={}", profile.display()),
        url.to_owned(),
    ])
    .collect()
}

#[test]
fn demo_page_highlights_entities_in_chromium() {
    let browser = chromium();
    let (mut child, addr) = spawn_server(&[]);
    let text = "Angela Merkel met Emmanuel Macron in Paris, Reuters reported.";
    let url = format!(
        "http://{addr}/?text={}",
        text.replace(' ', "%20").replace(',', "%2C")
    );
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(&browser)
        .args(browser_args(&url, profile.path()))
        .arg("--dump-dom")
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let shot = repo().join("target/demo-screenshot.png");
    let s = Command::new(&browser)
        .args(browser_args(&url, profile.path()))
        .args([
            "--window-size=1000,800".to_owned(),
            format!("--screenshot={}", shot.display()),
        ])
        .output()
        .unwrap();
    let phone = repo().join("target/demo-screenshot-phone.png");
    let _ = Command::new(&browser)
        .args(browser_args(&url, profile.path()))
        .args([
            "--window-size=390,844".to_owned(),
            format!("--screenshot={}", phone.display()),
        ])
        .output();
    let _ = child.kill();
    let _ = child.wait();
    for (entity, label) in [("Angela Merkel", "PER"), ("Paris", "LOC")] {
        let needle = format!("data-label=\"{label}\"");
        let found = dom.match_indices(&needle).any(|(i, _)| {
            let tail = &dom[i..(i + 400).min(dom.len())];
            tail.contains(&format!(
                "<span class=\"txt\">{entity}</span><span class=\"lbl\">{label}</span>"
            ))
        });
        assert!(
            found,
            "{entity} is not highlighted as {label} in the page:\n{dom}"
        );
    }
    assert!(
        dom.contains("<td>Angela Merkel</td><td>PER</td>"),
        "the entity table is missing:\n{dom}"
    );
    assert!(
        s.status.success() && shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&s.stderr)
    );
    eprintln!("screenshots: {} and {}", shot.display(), phone.display());
}

#[test]
fn demo_page_reports_api_errors_in_plain_words() {
    let browser = chromium();
    // A server whose text limit is tiny: the page must show the API's message.
    let (mut child, addr) = spawn_server(&["--max-text-chars", "5"]);
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/?text=Angela%20Merkel%20visited%20Paris");
    let out = Command::new(&browser)
        .args(browser_args(&url, profile.path()))
        .arg("--dump-dom")
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("Could not analyse the text") && dom.contains("more than the limit of 5"),
        "{dom}"
    );
}
