//! `ner eval`: the conlleval-style report of a model on a CoNLL file.

use crate::backend::{Backend, Options, Tagger};
use crate::data::{read_corpus, ColumnArgs};
use anyhow::{Context, Result};
use ner_core::conll::write_sentence;
use ner_tagger::evaluation::{documents, render_tags, score};
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
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Threads (default: the machine's cores).
    #[arg(long)]
    threads: Option<i32>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// What runs the network: native (default) or torch (libtorch, the reference).
    #[arg(long, env = "NER_BACKEND", value_enum, default_value = "native")]
    backend: Backend,
}

pub fn run(args: Args) -> Result<()> {
    let corpus = read_corpus(&args.file, &args.columns)?;
    let opts = Options {
        batch_size: args.batch_size,
        threads: args.threads,
        device: args.device.clone(),
        backend: args.backend,
        ..Default::default()
    };
    let mut tagger = Tagger::load(&args.model, &opts)?;
    let sentences: Vec<&Vec<String>> = corpus.sentences.iter().map(|s| &s.tokens).collect();
    let sentences: Vec<Vec<&str>> = sentences
        .iter()
        .map(|t| t.iter().map(String::as_str).collect())
        .collect();
    let predictions = tagger.best_paths(&sentences, &documents(&corpus))?;
    let tags = tagger.tag_set();
    let report = score(&corpus, &predictions, tags);
    if let Some(out) = &args.write_predictions {
        let f = std::fs::File::create(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        let mut w = BufWriter::new(f);
        for (s, p) in corpus.sentences.iter().zip(&predictions) {
            let pred = render_tags(p, tags, corpus.scheme);
            write_sentence(&mut w, &s.tokens, &[&s.raw_tags[0], &pred])?;
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
