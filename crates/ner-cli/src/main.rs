//! The `ner` command. This is the one crate that uses `anyhow`: library errors are typed and
//! turned into messages here.

mod data;
mod eval;
mod evaluate;
mod plot;
mod predict;
mod score;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Named-entity recognition with a BiLSTM-CRF: train, evaluate, tag and serve.
#[derive(Debug, Parser)]
#[command(name = "ner", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score a CoNLL file whose last two columns are gold and predicted tags (conlleval's input).
    Score(score::Args),
    /// Train a model on CoNLL files.
    Train(Box<train::Args>),
    /// Evaluate a model on a CoNLL file (conlleval's report).
    Eval(eval::Args),
    /// Tag raw text, JSONL or CoNLL tokens.
    Predict(predict::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Score(a) => score::run(a),
        Command::Train(a) => train::run(*a),
        Command::Eval(a) => eval::run(a),
        Command::Predict(a) => predict::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
