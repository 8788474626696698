use clap::Parser;

/// Named-entity recognition with a BiLSTM-CRF: train, evaluate, tag and serve.
#[derive(Debug, Parser)]
#[command(name = "ner", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    println!("libtorch threads: {}", ner_model::libtorch_threads());
}
