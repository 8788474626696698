//! `ner score`: a drop-in for conlleval.

use anyhow::{Context, Result};
use ner_core::conll::{Column, Reader, ReaderOptions};
use ner_core::metrics::Evaluator;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// CoNLL file (`-` for standard input): token first, gold and predicted tags last.
    file: PathBuf,
    /// Print JSON instead of conlleval's text report.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let opts = ReaderOptions {
        token_column: Column::FIRST,
        tag_columns: vec![Column::FromEnd(1), Column::LAST],
        comment_prefix: None,
        keep_lines: false,
    };
    let input: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        Box::new(BufReader::new(f))
    };
    let mut reader = Reader::new(input, args.file.display().to_string(), opts);
    let mut ev = Evaluator::new();
    for sentence in reader.by_ref() {
        let s = sentence?;
        ev.add(&s.tag_strs(0), &s.tag_strs(1))
            .with_context(|| format!("{}:{}", args.file.display(), s.line))?;
    }
    // conlleval counts every -DOCSTART- line as one correctly tagged token.
    ev.add_trivial_tokens(reader.stats().docstarts);
    let report = ev.report();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.conlleval_text());
    }
    Ok(())
}
