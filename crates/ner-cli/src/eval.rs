//! `ner eval`: the conlleval-style report of a model on a CoNLL file.

use crate::data::{read_corpus, ColumnArgs};
use crate::device::parse_device;
use anyhow::{Context, Result};
use ner_core::conll::write_sentence;
use ner_model::tagger::{Inference, Native};
use ner_model::threading::Threading;
use ner_model::training::evaluate::{corpus_features, evaluate, render_tags};
use ner_model::{checkpoint, Backend, EncoderThreading};
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
    /// libtorch intra-op threads.
    #[arg(long)]
    threads: Option<i32>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// What runs the network: native (default) or torch (libtorch, the reference).
    #[arg(long, env = "NER_BACKEND", default_value = "native")]
    backend: Backend,
}

pub fn run(args: Args) -> Result<()> {
    let device = parse_device(&args.device)?;
    let corpus = read_corpus(&args.file, &args.columns)?;
    let model = checkpoint::load(&args.model, device)?;
    let mut threading = Threading::new(args.threads, EncoderThreading::Auto);
    let mut native = Native::for_backend(&model.model, args.backend, device)?;
    let inference = Inference {
        batch_size: args.batch_size,
        device,
        threading: Some(&mut threading),
        native: native.as_mut(),
    };
    let features = corpus_features(model.contextual.as_ref(), &model.model.config, &corpus)?;
    let (report, predictions) = evaluate(&model.model, &model.vocab, &corpus, features, inference)?;
    if let Some(out) = &args.write_predictions {
        let f = std::fs::File::create(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        let mut w = BufWriter::new(f);
        for (s, p) in corpus.sentences.iter().zip(&predictions) {
            let pred = render_tags(p, &model.model.tags, corpus.scheme);
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
