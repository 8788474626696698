//! `ner train`: reads the corpora (all of them, before any work), builds the vocabulary and
//! label set, trains with progress, evaluates on dev after every epoch, keeps the best model by
//! dev F1, checkpoints every epoch for `--resume`, and plots the run.

use crate::data::{read_corpus, ColumnArgs, Corpus};
use crate::evaluate::evaluate;
use crate::plot;
use anyhow::{bail, Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use ner_core::scheme::parse_tag;
use ner_core::tokenize::Mode;
use ner_core::{LabelSet, Prefix, TagScheme, TagSet};
use ner_model::checkpoint::{self, Meta};
use ner_model::config::{CharEncoderKind, DropoutKind};
use ner_model::pretrained;
use ner_model::subword::Subword;
use ner_model::train::{training_example, OptimizerKind, TrainOptions, Trainer};
use ner_model::vocab::Vocab;
use ner_model::{CellKind, Device, ModelConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Architecture flags; each overrides the `--config` file and the defaults.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct ModelFlags {
    /// Recurrent cell of the encoder.
    #[arg(long)]
    pub cell: Option<CellKind>,
    /// Encoder layers.
    #[arg(long)]
    pub layers: Option<i64>,
    /// Encoder hidden size per direction.
    #[arg(long)]
    pub hidden: Option<i64>,
    #[arg(long)]
    pub word_dim: Option<i64>,
    /// Look words up lower-cased (true/false).
    #[arg(long)]
    pub lowercase: Option<bool>,
    /// Map digits to 0 before lookup (true/false).
    #[arg(long)]
    pub normalize_digits: Option<bool>,
    #[arg(long)]
    pub word_dropout: Option<f64>,
    /// Character encoder: cnn, lstm or none.
    #[arg(long)]
    pub char_encoder: Option<CharEncoderKind>,
    #[arg(long)]
    pub char_dim: Option<i64>,
    #[arg(long)]
    pub char_filters: Option<i64>,
    #[arg(long)]
    pub char_kernel: Option<i64>,
    #[arg(long)]
    pub char_hidden: Option<i64>,
    /// Casing feature size (0: off).
    #[arg(long)]
    pub casing_dim: Option<i64>,
    /// Token-bigram embedding size (0: off); each token gets its left and right bigram, as the
    /// character bigrams of Chinese NER. Bigrams seen once in training count as unknown.
    #[arg(long)]
    pub bigram_dim: Option<i64>,
    #[arg(long)]
    pub dropout: Option<f64>,
    /// standard or locked (variational).
    #[arg(long)]
    pub dropout_kind: Option<DropoutKind>,
    /// Tag scheme inside the model: bio or bioes.
    #[arg(long)]
    pub model_scheme: Option<TagScheme>,
    /// Tokenisation of raw text at serving time: word or char.
    #[arg(long, value_parser = parse_mode)]
    pub tokenization: Option<Mode>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "word" => Ok(Mode::Word),
        "char" => Ok(Mode::Char),
        _ => Err(format!("unknown tokenization {s:?}: expected word or char")),
    }
}

/// Optimisation flags; each overrides the `--config` file and the defaults.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct TrainFlags {
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// sgd (with momentum) or adam.
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    #[arg(long)]
    pub lr: Option<f64>,
    /// SGD learning-rate decay per epoch: lr / (1 + decay * epoch).
    #[arg(long)]
    pub lr_decay: Option<f64>,
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Gradient-norm clipping (0: off).
    #[arg(long)]
    pub clip: Option<f64>,
    /// Early stopping: epochs without a better dev F1 (0: never stop early).
    #[arg(long)]
    pub patience: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Evaluate and save an exponential moving average of the weights with this decay (e.g.
    /// 0.999; 0: off). Smooths SGD's epoch-to-epoch jumps in dev F1.
    #[arg(long)]
    pub ema: Option<f64>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Training data (CoNLL).
    #[arg(long, required_unless_present = "resume")]
    pub train: Option<PathBuf>,
    /// Development data for early stopping and model selection.
    #[arg(long, required_unless_present = "resume")]
    pub dev: Option<PathBuf>,
    /// Test data, evaluated once with the best model at the end.
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Output directory: the best model, metrics.jsonl, plots, checkpoint.
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the interrupted run in this directory from its last completed epoch.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// JSON file `{"model": {...}, "train": {...}}`; flags win over it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    #[command(flatten)]
    pub model: ModelFlags,
    #[command(flatten)]
    pub optim: TrainFlags,
    /// Pretrained word vectors (GloVe / word2vec / fastText text, optionally .gz).
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    /// Keep up to this many pretrained words that the training data lacks.
    #[arg(long, default_value_t = 0)]
    pub pretrained_extra: usize,
    /// A BERT-style model directory (tokenizer.json and an embedding table in safetensors)
    /// whose word-piece vectors, mean-pooled per word, become a frozen input feature.
    #[arg(long, value_name = "DIR")]
    pub subword_model: Option<PathBuf>,
    /// Project the subword vectors to this many dimensions by PCA (0: keep all).
    #[arg(long, default_value_t = 128)]
    pub subword_dim: usize,
    /// Name of the embedding tensor (default: the one ending in word_embeddings.weight).
    #[arg(long)]
    pub subword_table: Option<String>,
    /// Start every word embedding from its pooled subword vector (needs --word-dim equal to
    /// the subword dimension).
    #[arg(long)]
    pub init_words_from_subword: bool,
    /// Train this many seeds (seed, seed+1, ...) and report mean and standard deviation.
    #[arg(long, default_value_t = 1)]
    pub seeds: usize,
    /// libtorch intra-op threads.
    #[arg(long)]
    pub threads: Option<i32>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Model name recorded in meta.json (default: the output directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Sentences per batch when evaluating.
    #[arg(long, default_value_t = 64)]
    pub eval_batch_size: usize,
    /// Do not show a progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Parses a saved command line again (for `--resume`).
#[derive(Debug, Parser)]
struct Replay {
    #[command(flatten)]
    args: Args,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct ConfigFile {
    model: Option<ModelConfig>,
    train: Option<TrainOptions>,
}

macro_rules! apply {
    ($target:expr, $flags:expr, $($field:ident),*) => {
        $( if let Some(v) = $flags.$field.clone() { $target.$field = v; } )*
    };
}

/// The resolved configuration of a run: defaults, then the config file, then flags.
fn resolve(args: &Args) -> Result<(ModelConfig, TrainOptions)> {
    let file: ConfigFile = match &args.config {
        Some(p) => serde_json::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        )
        .with_context(|| format!("{}: not a valid training configuration", p.display()))?,
        None => ConfigFile::default(),
    };
    let mut m = file.model.unwrap_or_default();
    let f = &args.model;
    apply!(
        m,
        f,
        cell,
        layers,
        hidden,
        word_dim,
        lowercase,
        normalize_digits,
        word_dropout,
        char_encoder,
        char_dim,
        char_filters,
        char_kernel,
        char_hidden,
        casing_dim,
        bigram_dim,
        dropout,
        dropout_kind,
        tokenization
    );
    if let Some(s) = f.model_scheme {
        m.scheme = s;
    }
    m.validate()
        .map_err(|e| anyhow::anyhow!("invalid model configuration: {e}"))?;
    let mut t = file.train.unwrap_or_default();
    let o = &args.optim;
    apply!(t, o, epochs, batch_size, optimizer, lr_decay, momentum, clip, patience, seed, ema);
    if o.lr.is_some() {
        t.lr = o.lr;
    }
    if t.batch_size == 0 || t.epochs == 0 {
        bail!("--batch-size and --epochs must be positive");
    }
    Ok((m, t))
}

/// Where a run is: written to `.checkpoint/state.json` after every completed epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunState {
    /// The command line of the run, replayed by `--resume`.
    argv: Vec<String>,
    epoch: usize,
    best_f1: f64,
    best_epoch: usize,
    stale: usize,
}

const CHECKPOINT: &str = ".checkpoint";
const STATE: &str = "state.json";
/// The weights' moving average, beside the checkpoint's own (raw) weights.
const AVERAGE: &str = "average.safetensors";

static STOP: AtomicBool = AtomicBool::new(false);

pub fn install_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond interrupt: exiting now");
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: stopping after this batch; the best model is kept (Ctrl-C again to quit at once)");
    });
}

pub fn parse_device(s: &str) -> Result<Device> {
    let d = match s {
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        s => match s.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
            Some(n) => Device::Cuda(n),
            None => bail!("unknown device {s:?}: expected cpu, cuda or cuda:N"),
        },
    };
    if let Device::Cuda(n) = d {
        if !ner_model::cuda_available() {
            bail!("device {s}: this libtorch has no usable CUDA (rebuild with NER_LINK_CUDA=1 on a machine with a GPU, or use --device cpu)");
        }
        if n >= ner_model::cuda_device_count() {
            bail!(
                "device {s}: there are only {} CUDA devices",
                ner_model::cuda_device_count()
            );
        }
    }
    Ok(d)
}

/// Entity types of a corpus, by name.
fn types_of(c: &Corpus) -> BTreeSet<String> {
    c.sentences
        .iter()
        .flat_map(|s| s.tags[0].iter())
        .filter_map(|t| match parse_tag(t) {
            Ok((p, ty)) if p != Prefix::O => Some(ty.to_owned()),
            _ => None,
        })
        .collect()
}

pub fn run(args: Args) -> Result<()> {
    let args = match &args.resume {
        Some(dir) => {
            let state = read_state(dir)?;
            let mut replay = Replay::try_parse_from(
                std::iter::once("train".to_owned()).chain(state.argv.iter().skip(2).cloned()),
            )
            .context("the saved command line of the run no longer parses")?
            .args;
            replay.resume = Some(dir.clone());
            replay.out = Some(dir.clone());
            replay.seeds = 1;
            replay
        }
        None => args,
    };
    install_ctrl_c();
    if let Some(n) = args.threads {
        ner_model::set_threads(n);
    }
    if args.seeds > 1 {
        return run_seeds(&args);
    }
    let out = args.out.clone().context("--out is required")?;
    run_single(&args, &out).map(|_| ())
}

/// Trains `--seeds` runs into `OUT/seed-N` and reports mean and standard deviation.
fn run_seeds(args: &Args) -> Result<()> {
    let out = args.out.clone().context("--out is required")?;
    let (_, t) = resolve(args)?;
    let mut rows = Vec::new();
    for i in 0..args.seeds {
        let seed = t.seed + i as u64;
        let mut a = args.clone();
        a.optim.seed = Some(seed);
        a.seeds = 1;
        let dir = out.join(format!("seed-{seed}"));
        eprintln!("== seed {seed} -> {}", dir.display());
        let r = run_single(&a, &dir)?;
        rows.push((seed, r));
        if STOP.load(Ordering::SeqCst) {
            break;
        }
    }
    let stat = |f: &dyn Fn(&RunResult) -> Option<f64>| {
        let v: Vec<f64> = rows.iter().filter_map(|(_, r)| f(r)).collect();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n.max(1.0);
        let sd = if v.len() > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        serde_json::json!({"mean": mean, "std": sd, "n": v.len(), "values": v})
    };
    let summary = serde_json::json!({
        "seeds": rows.iter().map(|(s, _)| s).collect::<Vec<_>>(),
        "dev_f1": stat(&|r| Some(r.dev_f1)),
        "test_f1": stat(&|r| r.test_f1),
    });
    std::fs::write(
        out.join("seeds.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// Whether `dir` holds an unfinished run that `--resume` can continue.
pub fn has_checkpoint(dir: &Path) -> bool {
    dir.join(CHECKPOINT).join(STATE).exists()
}

fn read_state(dir: &Path) -> Result<RunState> {
    let p = dir.join(CHECKPOINT).join(STATE);
    let text = std::fs::read_to_string(&p).with_context(|| {
        format!(
            "{}: no checkpoint to resume from (was the run started with this --out?)",
            p.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{}: corrupted run state", p.display()))
}

#[derive(Debug, Clone, Copy)]
pub struct RunResult {
    pub dev_f1: f64,
    pub test_f1: Option<f64>,
}

/// Whether a stop was requested (Ctrl-C).
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Trains one run into `out` (or resumes it when `args.resume` is set).
pub fn run_single(args: &Args, out: &Path) -> Result<RunResult> {
    let (config, opts) = resolve(args)?;
    let device = parse_device(&args.device)?;
    let cols = &args.columns;
    // Read everything first: bad data stops the run before any work.
    let train_path = args.train.as_ref().context("--train is required")?;
    let dev_path = args.dev.as_ref().context("--dev is required")?;
    let train = read_corpus(train_path, cols)?;
    let dev = read_corpus(dev_path, cols)?;
    let test = args
        .test
        .as_ref()
        .map(|p| read_corpus(p, cols))
        .transpose()?;
    let train_types = types_of(&train);
    if train_types.is_empty() {
        bail!(
            "{}: the training data has no entities",
            train.path.display()
        );
    }
    for c in std::iter::once(&dev).chain(test.as_ref()) {
        let unseen: Vec<_> = types_of(c).difference(&train_types).cloned().collect();
        if !unseen.is_empty() {
            eprintln!(
                "warning: {} has labels the training data lacks ({}); they will count as errors",
                c.path.display(),
                unseen.join(", ")
            );
        }
    }
    let tags = TagSet::new(config.scheme, LabelSet::frozen_from(&train_types));
    eprintln!(
        "train {} sentences / {} tokens ({} scheme), dev {} sentences, labels {}; model scheme {}, cell {}",
        train.sentences.len(),
        train.tokens(),
        train.scheme,
        dev.sentences.len(),
        train_types.iter().cloned().collect::<Vec<_>>().join(" "),
        tags.scheme(),
        config.cell
    );

    let resume = args.resume.is_some();
    let mut state = if resume {
        read_state(out)?
    } else {
        if checkpoint::is_model_dir(out) || out.join(CHECKPOINT).exists() {
            bail!("{} already holds a model or a run; choose a new --out, or continue it with --resume {}", out.display(), out.display());
        }
        RunState {
            argv: std::env::args().collect(),
            epoch: 0,
            best_f1: -1.0,
            best_epoch: 0,
            stale: 0,
        }
    };

    let mut config = config;
    let (vocab, vectors, subword_table) = if resume {
        let ck = checkpoint::load(&out.join(CHECKPOINT), Device::Cpu)?;
        config.subword_dim = ck.model.config.subword_dim;
        config.subword_source = ck.model.config.subword_source.clone();
        (ck.vocab, None, ck.model.subword_table)
    } else {
        let mut vocab = Vocab::build(
            train
                .sentences
                .iter()
                .flat_map(|s| s.tokens.iter().map(String::as_str)),
            &config,
            1,
        );
        if config.bigram_dim > 0 {
            vocab.build_bigrams(train.sentences.iter().map(|s| s.tokens.as_slice()), 2);
        }
        let vectors = match &args.pretrained {
            Some(p) => {
                let v = pretrained::read_vectors(
                    p,
                    config.word_dim as usize,
                    &vocab,
                    args.pretrained_extra,
                )?;
                for w in &v.extra {
                    vocab.add_word(w);
                }
                eprintln!(
                    "pretrained: {} vectors for the vocabulary, {} extra words",
                    v.table.len() - v.extra.len(),
                    v.extra.len()
                );
                Some(v)
            }
            None => None,
        };
        let table = match &args.subword_model {
            Some(dir) => {
                let dim = (args.subword_dim > 0).then_some(args.subword_dim);
                let sw = Subword::from_pretrained(dir, args.subword_table.as_deref(), dim)?;
                eprintln!(
                    "subword vectors: {} pieces x {} dimensions from {}",
                    sw.table.size()[0],
                    sw.dim(),
                    dir.display()
                );
                config.subword_dim = sw.dim();
                config.subword_source = Some(dir.display().to_string());
                vocab.set_subword(Some(sw.tokenizer().clone()));
                Some(sw.table)
            }
            None => None,
        };
        (vocab, vectors, table)
    };
    let mut trainer = Trainer::new(&config, vocab, &tags, opts.clone(), device, |_| Ok(()))?;
    if let Some(t) = subword_table {
        trainer.model.set_subword_table(t, device);
        if args.init_words_from_subword && !resume {
            let n = pretrained::init_words_from_subword(&trainer.model, &trainer.vocab)?;
            eprintln!("word embeddings: {n} initialised from pooled subword vectors");
        }
    } else if args.init_words_from_subword {
        bail!("--init-words-from-subword needs --subword-model");
    }
    if let Some(v) = &vectors {
        let n = pretrained::copy_into(&trainer.model.word_emb.ws, &trainer.vocab, v);
        eprintln!(
            "pretrained: initialised {n} of {} word vectors",
            trainer.vocab.num_words()
        );
    }
    if resume {
        checkpoint::load_weights(&trainer.vs, &out.join(CHECKPOINT).join(checkpoint::WEIGHTS))?;
    }
    // The average starts from the weights the run starts from (initialised or resumed).
    trainer.start_average();
    if resume {
        let avg = out.join(CHECKPOINT).join(AVERAGE);
        if opts.ema > 0.0 && avg.exists() {
            trainer.load_average(&avg)?;
        }
        eprintln!(
            "resuming after epoch {} (best dev F1 {:.2} at epoch {})",
            state.epoch, state.best_f1, state.best_epoch
        );
    }
    let examples = train
        .sentences
        .iter()
        .map(|s| training_example(s, &trainer.vocab, &tags))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}", train.path.display()))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let name = args.name.clone().unwrap_or_else(|| {
        out.file_name()
            .map_or("model".into(), |n| n.to_string_lossy().into_owned())
    });
    let training_meta = serde_json::json!({
        "train": train.path, "dev": dev.path, "test": test.as_ref().map(|t| &t.path),
        "train_sentences": train.sentences.len(), "train_tokens": train.tokens(),
        "file_scheme": train.scheme, "options": opts, "pretrained": args.pretrained,
        "command": state.argv.join(" "),
    });

    let quiet = args.quiet;
    let start_epoch = state.epoch + 1;
    for epoch in start_epoch..=opts.epochs {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(examples.len() as u64)
        };
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{}", opts.epochs));
        let t0 = Instant::now();
        let stats = trainer.epoch(epoch, &examples, &STOP, |done, _, loss, toks| {
            bar.set_position(done as u64);
            let rate = toks as f64 / t0.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("loss {loss:.3} {rate:.0} tok/s"));
        })?;
        bar.finish_and_clear();
        if stats.interrupted {
            eprintln!(
                "stopped during epoch {epoch}; the run can continue with --resume {}",
                out.display()
            );
            break;
        }
        // Evaluated (and saved when best) with the averaged weights, when averaging.
        trainer.swap_average();
        let t_eval = Instant::now();
        let (report, _) = evaluate(
            &trainer.model,
            &trainer.vocab,
            &dev,
            args.eval_batch_size,
            device,
        )?;
        let f1 = report.overall.f1;
        let improved = f1 > state.best_f1;
        state.epoch = epoch;
        if improved {
            state.best_f1 = f1;
            state.best_epoch = epoch;
            state.stale = 0;
        } else {
            state.stale += 1;
        }
        let line = serde_json::json!({
            "epoch": epoch, "train_loss": stats.loss, "lr": stats.lr,
            "train_seconds": stats.seconds, "eval_seconds": t_eval.elapsed().as_secs_f64(),
            "tokens_per_second": stats.tokens as f64 / stats.seconds.max(1e-9),
            "dev": {"precision": report.overall.precision, "recall": report.overall.recall, "f1": f1,
                    "per_type": report.per_type.iter().map(|(k, v)| (k.clone(), serde_json::json!({"precision": v.prf.precision, "recall": v.prf.recall, "f1": v.prf.f1}))).collect::<serde_json::Map<_, _>>()},
            "best": improved,
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out.join("metrics.jsonl"))?;
        writeln!(f, "{line}")?;
        eprintln!(
            "epoch {epoch:3} loss {:8.4} lr {:.5} train {:6.1}s ({:.0} tok/s) dev P {:.2} R {:.2} F1 {:.2}{}",
            stats.loss,
            stats.lr,
            stats.seconds,
            stats.tokens as f64 / stats.seconds.max(1e-9),
            report.overall.precision,
            report.overall.recall,
            f1,
            if improved { "  *best*" } else { "" }
        );
        if improved {
            let mut meta = Meta::new(&name);
            meta.training = training_meta.clone();
            meta.metrics = serde_json::json!({"epoch": epoch, "dev": report.to_json()});
            checkpoint::save(out, &trainer.vs, &trainer.model, &trainer.vocab, &meta)?;
        }
        trainer.swap_average();
        let ck = out.join(CHECKPOINT);
        checkpoint::save(
            &ck,
            &trainer.vs,
            &trainer.model,
            &trainer.vocab,
            &Meta::new("checkpoint"),
        )?;
        trainer.save_average(&ck.join(AVERAGE))?;
        let tmp = ck.join(format!("{STATE}.tmp"));
        std::fs::write(&tmp, serde_json::to_string_pretty(&state)?)?;
        std::fs::rename(&tmp, ck.join(STATE))?;
        if let Err(e) = plot::plot_run(out) {
            eprintln!("warning: could not draw plots: {e:#}");
        }
        if opts.patience > 0 && state.stale >= opts.patience {
            eprintln!(
                "no better dev F1 for {} epochs: stopping early",
                opts.patience
            );
            break;
        }
        if STOP.load(Ordering::SeqCst) {
            eprintln!(
                "interrupted after epoch {epoch}; the run can continue with --resume {}",
                out.display()
            );
            break;
        }
    }
    if !checkpoint::is_model_dir(out) {
        bail!(
            "no epoch completed: no model was written to {}",
            out.display()
        );
    }
    eprintln!(
        "best dev F1 {:.2} at epoch {}; model in {}",
        state.best_f1,
        state.best_epoch,
        out.display()
    );
    let mut test_f1 = None;
    if let Some(test) = &test {
        let best = checkpoint::load(out, device)?;
        let (report, _) = evaluate(&best.model, &best.vocab, test, args.eval_batch_size, device)?;
        test_f1 = Some(report.overall.f1);
        println!(
            "test ({}):\n{}",
            test.path.display(),
            report.conlleval_text()
        );
        let mut meta = best.meta.clone();
        meta.metrics["test"] = report.to_json();
        checkpoint::save(out, &best.vs, &best.model, &best.vocab, &meta)?;
    }
    Ok(RunResult {
        dev_f1: state.best_f1,
        test_f1,
    })
}
