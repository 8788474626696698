//! `ner eval`: the conlleval-style report of a model on a CoNLL file.

use crate::data::{read_corpus, ColumnArgs};
use crate::evaluate::evaluate;
use crate::train::parse_device;
use anyhow::{Context, Result};
use ner_core::conll::write_sentence;
use ner_model::checkpoint;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory.
    #[arg(long)]
    model: PathBuf,
    /// CoNLL file with gold tags.
    file: PathBuf,
    #[command(flatten)]
    columns: ColumnArgs,
    /// Print JSON instead of conlleval's text report.
    #[arg(long)]
    json: bool,
    /// Write the file back with a predicted-tag column (conlleval's input layout).
    #[arg(long, value_name = "OUT")]
    write_predictions: Option<PathBuf>,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    #[arg(long)]
    threads: Option<i32>,
    #[arg(long, default_value = "cpu")]
    device: String,
}

pub fn run(args: Args) -> Result<()> {
    if let Some(n) = args.threads {
        ner_model::set_threads(n);
    }
    let device = parse_device(&args.device)?;
    let corpus = read_corpus(&args.file, &args.columns)?;
    let model = checkpoint::load(&args.model, device)?;
    let (report, predictions) =
        evaluate(&model.model, &model.vocab, &corpus, args.batch_size, device)?;
    if let Some(out) = &args.write_predictions {
        let f = std::fs::File::create(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        let mut w = BufWriter::new(f);
        for (s, p) in corpus.sentences.iter().zip(&predictions) {
            write_sentence(&mut w, &s.tokens, &[&s.tags[0], p])?;
        }
        w.flush()?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.conlleval_text());
    }
    Ok(())
}
