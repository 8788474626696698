//! `ner eval`: the conlleval-style report of a model on a CoNLL file.

use crate::backend::{self, Backend, InferenceArgs};
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
    /// How the model runs.
    #[command(flatten)]
    inference: InferenceArgs,
    /// Also tag with this backend and report how many tags differ (e.g. `--compare torch`).
    #[arg(long, value_enum, value_name = "BACKEND")]
    compare: Option<Backend>,
}

pub fn run(args: Args) -> Result<()> {
    let corpus = read_corpus(&args.file, &args.columns)?;
    let opts = args.inference.clone();
    let mut tagger = backend::load(&args.model, &opts)?;
    let sentences: Vec<Vec<&str>> = corpus
        .sentences
        .iter()
        .map(|s| s.tokens.iter().map(String::as_str).collect())
        .collect();
    let predictions = tagger.best_paths(&sentences, &documents(&corpus))?;
    let differing = match args.compare {
        Some(backend) => {
            let other = InferenceArgs { backend, ..opts };
            let theirs =
                backend::load(&args.model, &other)?.best_paths(&sentences, &documents(&corpus))?;
            Some(differing_tags(&predictions, &theirs))
        }
        None => None,
    };
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
    let tokens: usize = sentences.iter().map(Vec::len).sum();
    if args.json {
        let mut v = report.to_json();
        if let (Some(n), Some(b)) = (differing, args.compare) {
            v["compared_with"] = b.name().into();
            v["differing_tags"] = n.into();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", report.conlleval_text());
        if let (Some(n), Some(b)) = (differing, args.compare) {
            println!(
                "tags differing from the {} backend: {n} of {tokens}",
                b.name()
            );
        }
    }
    Ok(())
}

/// The number of positions where two taggings of the same sentences differ.
fn differing_tags(a: &[Vec<usize>], b: &[Vec<usize>]) -> usize {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let common = x.iter().zip(y).filter(|(p, q)| p != q).count();
            common + x.len().abs_diff(y.len())
        })
        .sum()
}
