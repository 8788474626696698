//! Times the transformer of contextual features alone: `cargo run --release --example
//! bert_speed -- DIR [BATCH] [PIECES] [THREADS]` (DIR: a BERT directory such as
//! `~/.cache/ner/transformers/all-MiniLM-L6-v2`). Prints pieces per second.

use ner_tagger::bert::Bert;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .ok_or("usage: bert_speed DIR [BATCH] [PIECES] [THREADS]")?;
    let arg = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (b, p, threads) = (arg(2, 16), arg(3, 24), arg(4, 2));
    let bert = Bert::load(std::path::Path::new(dir), 4)?;
    let ids: Vec<i64> = (0..b * p).map(|i| (i * 37 % 20000) as i64 + 1000).collect();
    let mask = vec![true; b * p];
    bert.forward(&ids, &mask, b, threads);
    let t0 = Instant::now();
    let n = 20;
    for _ in 0..n {
        bert.forward(&ids, &mask, b, threads);
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "{b} x {p} pieces, {threads} threads: {:.0} pieces/s",
        (n * b * p) as f64 / s
    );
    Ok(())
}
