//! `ner-fuzz`: sends generated requests to a running server over loopback and checks every
//! answer (see [`check`]): never a 5xx, never a hang past the time limit, a JSON error on
//! every 4xx, entity offsets that slice the text; and the server alive at the end.
//! `scripts/fuzz-server.sh` starts a server and runs it.

mod check;
mod request;
mod text;

use anyhow::{bail, Result};
use clap::Parser;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Fuzzes a running ner server with generated requests and checks every answer")]
struct Args {
    /// The server, host:port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Requests to send in all.
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Seed of the generator (each client thread derives its own).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Client threads.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// An answer must come within this many milliseconds (set it above the server's body
    /// time limit: truncated bodies wait for it).
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
}

/// Counts and the first failures, shared by the clients.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, usize>,
    failures: Vec<String>,
    failed: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let threads: Vec<_> = (0..args.clients.max(1))
        .map(|c| {
            let (next, tally, addr) = (next.clone(), tally.clone(), args.addr.clone());
            let (n, timeout) = (args.requests, Duration::from_millis(args.timeout_ms));
            let mut rng =
                StdRng::seed_from_u64(args.seed.wrapping_mul(1000).wrapping_add(c as u64));
            std::thread::spawn(move || {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let outcome = one(&addr, &mut rng, timeout);
                    record(&tally, outcome);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let alive = health(&args.addr);
    let tally = tally.lock().unwrap_or_else(|e| e.into_inner());
    report(&tally, args.requests, start.elapsed(), alive)
}

/// Sends one generated request; its status, or what was wrong.
fn one(addr: &str, rng: &mut StdRng, timeout: Duration) -> Result<u16, String> {
    let req = request::request(rng);
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    // A server may answer (413, 400) before it has read everything: read the answer anyway.
    let _ = s.write_all(&req.bytes);
    let resp = check::read(&mut s).map_err(|e| {
        let head = String::from_utf8_lossy(&req.bytes[..req.bytes.len().min(200)]).into_owned();
        format!("no answer ({e:#}) to {head:?}")
    })?;
    check::check(&resp, req.valid.as_ref()).map_err(|e| format!("{e:#}"))?;
    if req.truncated && resp.status == 200 {
        return Err("a truncated body was answered 200".into());
    }
    Ok(resp.status)
}

fn record(tally: &Mutex<Tally>, outcome: Result<u16, String>) {
    let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
    match outcome {
        Ok(status) => *t.statuses.entry(status).or_default() += 1,
        Err(e) => {
            t.failed += 1;
            if t.failures.len() < 20 {
                t.failures.push(e);
            }
        }
    }
}

fn health(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    s.write_all(b"GET /health HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n")
        .is_ok()
        && check::read(&mut s).is_ok_and(|r| r.status == 200)
}

fn report(t: &Tally, requests: usize, took: Duration, alive: bool) -> Result<()> {
    let secs = took.as_secs_f64();
    println!(
        "requests: {requests} in {secs:.1} s ({:.0}/s)",
        requests as f64 / secs
    );
    println!("statuses: {:?}", t.statuses);
    println!("failures: {}", t.failed);
    for f in &t.failures {
        println!("  {}", f.chars().take(400).collect::<String>());
    }
    println!("server alive at the end: {alive}");
    if t.failed > 0 || !alive {
        bail!(
            "the fuzzer found {} bad answers (alive at the end: {alive})",
            t.failed
        );
    }
    Ok(())
}
