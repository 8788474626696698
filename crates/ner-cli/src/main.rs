//! The `ner` command. This is the one crate that uses `anyhow`: library errors are typed and
//! turned into messages here.

mod backend;
mod bench;
mod data;
#[cfg(feature = "torch")]
mod device;
mod eval;
mod health;
#[cfg(feature = "torch")]
mod plot;
mod predict;
mod score;
mod serve;
#[cfg(feature = "torch")]
mod stats;
#[cfg(feature = "torch")]
mod study;
mod tokenize;
#[cfg(feature = "torch")]
mod train;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

/// Named-entity recognition with a BiLSTM-CRF: train, evaluate, tag and serve.
#[derive(Debug, Parser)]
#[command(name = "ner", version = env!("NER_VERSION"), about, propagate_version = true)]
struct Cli {
    /// Log format: text or json.
    #[arg(long, global = true, env = "NER_LOG_FORMAT", default_value = "text")]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score a CoNLL file whose last two columns are gold and predicted tags (conlleval's input).
    Score(score::Args),
    /// Train a model on CoNLL files.
    #[cfg(feature = "torch")]
    Train(Box<train::Args>),
    /// Train a model on CoNLL files (in the build with libtorch: `--features torch`).
    #[cfg(not(feature = "torch"))]
    Train(Unavailable),
    /// Evaluate a model on a CoNLL file (conlleval's report).
    Eval(eval::Args),
    /// Tag raw text, JSONL or CoNLL tokens.
    Predict(predict::Args),
    /// Serve the HTTP API.
    Serve(Box<serve::Args>),
    /// Studies: the recurrent cells compared, and gradient flow through time.
    #[cfg(feature = "torch")]
    #[command(subcommand)]
    Study(study::Study),
    /// Studies of the recurrent cells (in the build with libtorch: `--features torch`).
    #[cfg(not(feature = "torch"))]
    Study(Unavailable),
    /// Ask a running server's /health (for container health checks).
    Health(health::Args),
    /// Cut raw text into the tokens and sentences the server sees, one token per line (the
    /// input of `ner train --unlabelled`).
    Tokenize(tokenize::Args),
    /// Print a run's metrics.jsonl, checked line by line, as one JSON array.
    #[cfg(feature = "torch")]
    Metrics(MetricsArgs),
    /// Measure model speed (used by scripts/bench-model.sh).
    #[command(hide = true)]
    Bench(bench::Args),
}

/// The command line, with the rules that span several flags (see `train::args`).
fn parse() -> Cli {
    let cmd = Cli::command();
    #[cfg(feature = "torch")]
    let cmd = cmd.mut_subcommand("train", train::args::with_resume_rules);
    let matches = cmd.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn main() -> ExitCode {
    let cli = parse();
    init_logging(&cli.log_format);
    let result = match cli.command {
        Command::Score(a) => score::run(a),
        #[cfg(feature = "torch")]
        Command::Train(a) => train::run(*a),
        #[cfg(not(feature = "torch"))]
        Command::Train(_) => Err(backend::needs_torch("`ner train`")),
        Command::Eval(a) => eval::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Serve(a) => serve::run(*a),
        Command::Bench(a) => bench::run(a),
        Command::Health(a) => health::run(a),
        Command::Tokenize(a) => tokenize::run(a),
        #[cfg(feature = "torch")]
        Command::Metrics(a) => print_metrics(&a),
        #[cfg(feature = "torch")]
        Command::Study(s) => study::run(s),
        #[cfg(not(feature = "torch"))]
        Command::Study(_) => Err(backend::needs_torch("`ner study`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        #[cfg(feature = "torch")]
        Err(e) if e.is::<train::Interrupted>() => {
            eprintln!("{e}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The arguments of a command this build lacks, taken as they come so that the command can say
/// which build has it.
#[cfg(not(feature = "torch"))]
#[derive(Debug, clap::Args)]
struct Unavailable {
    /// The command's arguments (this build cannot run it; the message says which can).
    #[arg(num_args = 0.., allow_hyphen_values = true, trailing_var_arg = true)]
    args: Vec<String>,
}

fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("NER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod help {
    use super::Cli;
    use clap::CommandFactory;

    /// The flags without help text under `cmd`, named by their command path.
    fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && !arg.is_hide_set() && arg.get_help().is_none() {
                out.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            undocumented(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_flag_of_every_command_has_help_text() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        let mut missing = Vec::new();
        undocumented(&cli, "ner", &mut missing);
        assert!(missing.is_empty(), "flags without help text: {missing:?}");
        assert!(cli.get_subcommands().count() >= 5, "the tree was walked");
        let serve = cli.find_subcommand("serve").expect("ner serve");
        assert!(serve
            .get_arguments()
            .any(|a| a.get_id() == "max_body_bytes"));
    }
}

/// `ner metrics DIR`.
#[cfg(feature = "torch")]
#[derive(Debug, clap::Args)]
struct MetricsArgs {
    /// A run or model directory holding metrics.jsonl.
    dir: std::path::PathBuf,
}

/// The typed lines of `metrics.jsonl`, for scripts (the model card): one reader for all.
#[cfg(feature = "torch")]
fn print_metrics(args: &MetricsArgs) -> anyhow::Result<()> {
    let lines = ner_model::training::metrics::read(&args.dir)?;
    println!("{}", serde_json::to_string_pretty(&lines)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command that tags has the inference settings, declared once: the same flags with
    /// the same help and defaults.
    #[test]
    fn the_inference_flags_are_one_declaration_in_every_command() {
        let cli = Cli::command();
        let ids = [
            "batch_size",
            "threads",
            "device",
            "backend",
            "max_sentence_tokens",
            "threading",
        ];
        let shown = |command: &str, id: &str| {
            let sub = cli.find_subcommand(command).expect(command);
            let arg = sub.get_arguments().find(|a| a.get_id() == id);
            let arg = arg.unwrap_or_else(|| panic!("`ner {command}` has no --{id}"));
            let help = arg.get_help().map(ToString::to_string);
            (help, arg.get_long(), arg.get_default_values().to_vec())
        };
        for id in ids {
            let serve = shown("serve", id);
            assert!(serve.0.is_some(), "--{id} has no help");
            for command in ["predict", "eval", "bench"] {
                assert_eq!(shown(command, id), serve, "`ner {command} --{id}`");
            }
        }
    }
}
