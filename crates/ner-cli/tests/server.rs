//! End-to-end: the real `ner serve` binary with the shipped model, on port 0, over TCP.

mod common;
use common::*;
use ner_core::offsets::{slice, OffsetUnit};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let (child, addr) = spawn_server(extra);
        Server {
            child,
            addr: addr.parse().unwrap(),
        }
    }

    /// A complete HTTP/1.1 exchange: (status, body).
    fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        request(self.addr, method, path, body)
    }

    fn ner(&self, body: serde_json::Value) -> serde_json::Value {
        let (s, b) = self.request("POST", "/ner", &body.to_string()).unwrap();
        assert_eq!(s, 200, "{b}");
        serde_json::from_str(&b).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("incomplete response: {text:?}"),
        )
    })?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(rest.len());
    if rest.len() < len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "truncated body",
        ));
    }
    Ok((status, rest.to_owned()))
}

/// A small deterministic generator for random Unicode texts.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "Angela Merkel",
            "Paris",
            "the United Nations",
            " ",
            ", ",
            ". ",
            "said",
            "Ünïcödé",
            "👩‍👩‍👧",
            "❤️",
            "e\u{301}",
            "中文",
            "東京",
            "שלום",
            "مرحبا",
            "\u{0}",
            "\t",
            "\n",
            "U.S.",
            "don't",
            "New York",
            "Reuters",
            "1996-08-22",
            "\u{200D}",
            "👍🏽",
        ];
        let n = self.next() % 25;
        (0..n)
            .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
            .collect()
    }
}

#[test]
fn realistic_sentences_offsets_and_batches() {
    let srv = Server::start(&[]);
    let (s, b) = srv.request("GET", "/ready", "").unwrap();
    assert_eq!(s, 200, "{b}");
    let v = srv.ner(serde_json::json!({"text": "German Chancellor Angela Merkel met Emmanuel Macron in Paris on Monday, Reuters reported."}));
    let got: Vec<(String, String)> = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["text"].as_str().unwrap().to_owned(),
                e["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        ("Angela Merkel", "PER"),
        ("Emmanuel Macron", "PER"),
        ("Paris", "LOC"),
        ("Reuters", "ORG"),
    ] {
        assert!(
            got.iter().any(|(t, l)| t == want.0 && l == want.1),
            "{want:?} not in {got:?}"
        );
    }
    assert!(got.iter().any(|(t, _)| t == "German"), "{got:?}");

    // Random Unicode: every entity's text is the original text sliced by its offsets.
    let mut rng = Lcg(7);
    let texts: Vec<String> = (0..60).map(|_| rng.text()).collect();
    for unit in OffsetUnit::ALL {
        let name = serde_json::to_value(unit).unwrap();
        let v = srv.ner(serde_json::json!({"texts": texts, "offsets": name, "tokens": true}));
        for (t, r) in texts.iter().zip(v["results"].as_array().unwrap()) {
            for e in r["entities"]
                .as_array()
                .unwrap()
                .iter()
                .chain(r["tokens"].as_array().unwrap())
            {
                let (a, b) = (
                    e["start"].as_u64().unwrap() as usize,
                    e["end"].as_u64().unwrap() as usize,
                );
                assert_eq!(
                    slice(t, a, b, unit),
                    e["text"].as_str(),
                    "{unit:?} in {t:?}"
                );
            }
        }
    }

    // Batched equals one by one.
    let batch = srv.ner(serde_json::json!({"texts": texts}));
    for (t, r) in texts.iter().zip(batch["results"].as_array().unwrap()) {
        let alone = srv.ner(serde_json::json!({"text": t}));
        let (a, b) = (
            r["entities"].as_array().unwrap(),
            alone["entities"].as_array().unwrap(),
        );
        assert_eq!(a.len(), b.len(), "{t:?}");
        for (x, y) in a.iter().zip(b) {
            assert_eq!(
                (&x["text"], &x["label"], &x["start"]),
                (&y["text"], &y["label"], &y["start"])
            );
            assert!((x["score"].as_f64().unwrap() - y["score"].as_f64().unwrap()).abs() < 1e-4);
        }
    }
}

#[test]
fn two_hundred_concurrent_clients() {
    let srv = Server::start(&[]);
    let addr = srv.addr;
    let handles: Vec<_> = (0..200)
        .map(|i| {
            std::thread::spawn(move || {
                let text = format!("Client {i} says Angela Merkel visited Berlin {i} times.");
                let (s, b) = request(
                    addr,
                    "POST",
                    "/ner",
                    &serde_json::json!({"text": text}).to_string(),
                )
                .unwrap();
                assert_eq!(s, 200, "{b}");
                let v: serde_json::Value = serde_json::from_str(&b).unwrap();
                for e in v["entities"].as_array().unwrap() {
                    let (a, z) = (
                        e["start"].as_u64().unwrap() as usize,
                        e["end"].as_u64().unwrap() as usize,
                    );
                    assert_eq!(
                        slice(&text, a, z, OffsetUnit::Char),
                        e["text"].as_str(),
                        "answer of another client?"
                    );
                }
                v["entities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["text"] == "Berlin")
            })
        })
        .collect();
    let found = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&b| b)
        .count();
    assert!(found >= 190, "only {found} of 200 answers found Berlin");
}

#[test]
fn sigterm_during_load_loses_no_accepted_request() {
    let mut srv = Server::start(&[]);
    let addr = srv.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..16)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut refused) = (0, 0);
                let start = Instant::now();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) && start.elapsed() < Duration::from_secs(20) {
                    let body = serde_json::json!({"text": format!("Request {i}: Angela Merkel visited Paris and Berlin.")}).to_string();
                    match request(addr, "POST", "/ner", &body) {
                        Ok((200, _)) => ok += 1,
                        Ok((s, b)) => panic!("status {s}: {b}"),
                        // Not accepted (refused or reset before any byte came back).
                        Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset) => {
                            refused += 1;
                            break;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && e.to_string().contains("incomplete response: \"\"") => {
                            refused += 1;
                            break;
                        }
                        Err(e) => panic!("an accepted request was lost: {e}"),
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    let pid = srv.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = srv.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(25),
            "the server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let results: Vec<(u32, u32)> = clients.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(status.success(), "exit status {status:?}");
    let ok: u32 = results.iter().map(|r| r.0).sum();
    assert!(
        ok > 16,
        "too few requests completed before the signal: {ok}"
    );
}

#[test]
fn an_idle_server_with_three_models_stops_within_a_second_of_sigterm() {
    let model = shipped_model();
    let (b, c) = (
        format!("b={}", model.display()),
        format!("c={}", model.display()),
    );
    let (mut child, addr, log) = spawn_server_logged(&["--model", &b, "--model", &c]);
    let addr: SocketAddr = addr.parse().unwrap();
    for name in ["en-conll03", "b", "c"] {
        let body = serde_json::json!({"text": "Angela Merkel visited Paris.", "model": name});
        assert_eq!(
            request(addr, "POST", "/ner", &body.to_string()).unwrap().0,
            200
        );
    }
    let pid = child.id().to_string();
    let t0 = Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let took = t0.elapsed();
    eprintln!("exit {took:?} after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    std::thread::sleep(Duration::from_millis(100));
    let log = log.lock().unwrap().join("\n");
    assert_eq!(
        log.matches("model_thread_stopped=true").count(),
        3,
        "every model thread is joined: {log}"
    );
    assert!(took < Duration::from_secs(1), "{took:?} to exit: {log}");
}

#[test]
fn two_real_models_answer_in_their_languages() {
    let zh = format!("zh={}", repo().join("models/zh-resume").display());
    let server = Server::start(&["--model", &zh]);
    // The first model (the shipped English one) is the default.
    let en = server.ner(serde_json::json!({"text": "Angela Merkel visited Paris on Monday."}));
    let labels: Vec<&str> = en["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["PER", "LOC"], "{en}");
    assert_eq!(en["model"], "en-conll03");
    let text = "张三，男，1980年出生，毕业于北京大学，现任华为技术有限公司高级工程师。";
    let out = server.ner(serde_json::json!({"text": text, "model": "zh"}));
    assert_eq!(out["model"], "zh-resume");
    let entities = out["entities"].as_array().unwrap();
    let labels: Vec<&str> = entities
        .iter()
        .map(|e| e["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"NAME") && labels.contains(&"ORG"), "{out}");
    for e in entities {
        let (start, end) = (
            e["start"].as_u64().unwrap() as usize,
            e["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            slice(text, start, end, OffsetUnit::Char),
            e["text"].as_str(),
            "{e}"
        );
    }
    let (status, body) = server
        .request("POST", "/ner", r#"{"text": "x", "model": "fr"}"#)
        .unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("en-conll03, zh"), "{body}");
}

#[test]
fn sighup_reloads_under_load_and_a_broken_directory_is_refused() {
    let server = Server::start(&["--admin-key", "sekrit"]);
    let addr = server.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut done = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || done < 5 {
                    let body = format!(r#"{{"text": "Angela Merkel met client {c} in Paris."}}"#);
                    let (status, b) = request(addr, "POST", "/ner", &body).unwrap();
                    assert_eq!(status, 200, "{b}");
                    assert!(b.contains("\"Angela Merkel\""), "{b}");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let pid = server.child.id().to_string();
    let before = request(addr, "GET", "/models", "").unwrap().1;
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(400));
        assert!(std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success());
    }
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(answered > 8 * 5, "{answered}");
    let after = request(addr, "GET", "/models", "").unwrap().1;
    let loaded = |s: &str| {
        serde_json::from_str::<serde_json::Value>(s).unwrap()["models"][0]["loaded_unix"].clone()
    };
    assert!(
        loaded(&after).as_u64() > loaded(&before).as_u64(),
        "SIGHUP reloaded nothing: {before} {after}"
    );

    // A directory that is not a model is refused with the reason, and the old model answers.
    let mut s = TcpStream::connect(addr).unwrap();
    let body = r#"{"path": "/nonexistent/model"}"#;
    write!(s, "POST /admin/models/en-conll03 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer sekrit\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 422"), "{raw}");
    assert!(
        raw.contains("reload_refused") && raw.contains("/nonexistent/model"),
        "{raw}"
    );
    let out = server.ner(serde_json::json!({"text": "Angela Merkel visited Paris."}));
    assert_eq!(out["entities"][0]["text"], "Angela Merkel");
}
