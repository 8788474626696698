//! `ner train`'s flags, and their resolution into the library's [`RunConfig`]: defaults, then
//! the `--config` file, then flags.

use crate::data::ColumnArgs;
use anyhow::{Context, Result};
use ner_core::tokenize::Mode;
use ner_core::TagScheme;
use ner_model::config::{CharEncoderKind, DropoutKind};
use ner_model::training::recipe::{
    has_documents, shipped_subword_model, Base, Recipe, SHIPPED_ENGLISH,
};
use ner_model::training::{
    Columns, DataConfig, InputConfig, OptimizerKind, RunConfig, TrainOptions,
};
use ner_model::{CellKind, ModelConfig};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The flags a resumed run takes: its limits and how it uses the machine. Every other flag is
/// refused with --resume ([`with_resume_rules`]): a resumed run's data, inputs, architecture
/// and optimisation are the stored ones, and a flag that would be silently ignored is an error.
const FREE_ON_RESUME: &[&str] = &["resume", "epochs", "patience", "threads", "device", "quiet"];

/// `ner train`'s command with --resume in conflict with every flag not in [`FREE_ON_RESUME`].
pub fn with_resume_rules(cmd: clap::Command) -> clap::Command {
    let fixed: Vec<clap::Id> = cmd
        .get_arguments()
        .map(|a| a.get_id().clone())
        .filter(|id| {
            !FREE_ON_RESUME.contains(&id.as_str()) && !matches!(id.as_str(), "help" | "version")
        })
        .collect();
    cmd.mut_arg("resume", |a| a.conflicts_with_all(fixed))
}

/// Declares flags that override fields of a configuration: each `field: Type` is the flag
/// `--field` (its doc comment the help), and when given it replaces the field of the same name
/// (the key of the `--config` file), wrapped by `=> Wrap` when the field is `Wrap(Type)`.
macro_rules! overrides {
    ($(#[$m:meta])* pub struct $name:ident => $target:ty {
        $( $(#[$fm:meta])* $field:ident : $ty:ty $(=> $wrap:ident)? ),* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, clap::Args, Default)]
        pub struct $name {
            $( $(#[$fm])* pub $field: Option<$ty>, )*
        }

        impl $name {
            /// `target` with every flag given put in.
            fn apply(&self, mut target: $target) -> $target {
                $( if let Some(v) = self.$field.clone() { target.$field = $($wrap)?(v); } )*
                target
            }
        }
    };
}

overrides! {
/// Architecture flags; each overrides the `--config` file and the defaults.
pub struct ModelFlags => ModelConfig {
    /// Recurrent cell of the encoder.
    #[arg(long)]
    cell: CellKind,
    /// Encoder layers.
    #[arg(long)]
    layers: i64,
    /// Initial forget-gate bias of the LSTM-family cells (default 1).
    #[arg(long, allow_hyphen_values = true)]
    forget_bias: f64,
    /// Encoder hidden size per direction.
    #[arg(long)]
    hidden: i64,
    /// Word embedding size (default 100; 128 when started from subword vectors).
    #[arg(long)]
    word_dim: i64,
    /// Look words up lower-cased (true/false).
    #[arg(long)]
    lowercase: bool,
    /// Map digits to 0 before lookup (true/false).
    #[arg(long)]
    normalize_digits: bool,
    /// Probability of replacing a training word by the unknown word (0 to 1), so that the
    /// model learns to tag from characters, casing and subword vectors.
    #[arg(long)]
    word_dropout: f64,
    /// Character encoder: cnn, lstm or none.
    #[arg(long)]
    char_encoder: CharEncoderKind,
    /// Character embedding size.
    #[arg(long)]
    char_dim: i64,
    /// Filters of the character CNN (its output size).
    #[arg(long)]
    char_filters: i64,
    /// Kernel width of the character CNN, in characters.
    #[arg(long)]
    char_kernel: i64,
    /// Hidden size per direction of the character BiLSTM (--char-encoder lstm).
    #[arg(long)]
    char_hidden: i64,
    /// Casing feature size (0: off).
    #[arg(long)]
    casing_dim: i64,
    /// Token-bigram embedding size (0: off); each token gets its left and right bigram, as the
    /// character bigrams of Chinese NER. Bigrams seen once in training count as unknown.
    #[arg(long)]
    bigram_dim: i64,
    /// Lexicon word embedding size of SoftLexicon features (0: off; needs --lexicon): each
    /// character gets the weighted means of the lexicon words it begins, continues, ends or
    /// forms alone.
    #[arg(long)]
    lexicon_dim: i64,
    /// Probability of replacing a matched lexicon word by `<unseen>` in training (0 to 1);
    /// above 0 the model keeps the whole dictionary, the words training never matched sharing
    /// `<unseen>`, so that new names made of dictionary words still get lexicon features.
    #[arg(long)]
    lexicon_dropout: f64,
    /// Dropout probability on the embeddings and the encoder's output (0 to 1).
    #[arg(long)]
    dropout: f64,
    /// Dropout masks: standard (new per element) or locked (variational: one mask per
    /// sentence, shared by all time steps).
    #[arg(long)]
    dropout_kind: DropoutKind,
    /// Document context: read consecutive sentences of one document (up to this many tokens,
    /// never across -DOCSTART- lines; in files without them each sentence stays alone) as one
    /// sequence; 0 reads each sentence alone. Each sentence is still scored and decoded on its
    /// own.
    #[arg(long)]
    context_tokens: usize,
    /// Fine-tune the top this many of the transformer layers the contextual features use
    /// (with --contextual-model, or --init-from a model that has them); they are trained with
    /// the tagger at their own learning rate and stored in the model in half precision (about
    /// 3.5 MB a MiniLM layer). 0: frozen.
    #[arg(long)]
    finetune_layers: usize,
    /// Tag scheme inside the model: bio or bioes.
    #[arg(long = "model-scheme", id = "model_scheme")]
    scheme: TagScheme,
    /// Tokenisation of raw text at serving time: word or char.
    #[arg(long, value_parser = parse_mode)]
    tokenization: Mode,
}
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "word" => Ok(Mode::Word),
        "char" => Ok(Mode::Char),
        _ => Err(format!("unknown tokenization {s:?}: expected word or char")),
    }
}

overrides! {
/// Optimisation flags; each overrides the `--config` file and the defaults.
pub struct TrainFlags => TrainOptions {
    /// Most epochs to train (early stopping may end sooner).
    #[arg(long)]
    epochs: usize,
    /// Sentences per optimisation step (windows of sentences with --context-tokens).
    #[arg(long)]
    batch_size: usize,
    /// sgd (with momentum), adam, or nadam (Adam with Nesterov momentum).
    #[arg(long)]
    optimizer: OptimizerKind,
    /// Learning rate (default: 0.015 for sgd, 0.001 for adam, 0.002 for nadam).
    #[arg(long)]
    lr: f64 => Some,
    /// Learning-rate decay per epoch, lr / (1 + decay * (epoch - 1)) (default: 0.05 for sgd,
    /// 0 for adam and nadam).
    #[arg(long)]
    lr_decay: f64 => Some,
    /// SGD momentum (0: plain SGD).
    #[arg(long)]
    momentum: f64,
    /// Gradient-norm clipping (0: off).
    #[arg(long)]
    clip: f64,
    /// Early stopping: epochs without a better dev F1 (0: never stop early)...
    #[arg(long)]
    patience: usize,
    /// ...and not before this many optimisation steps (default 2000), so that a small corpus
    /// is not given up on after a slow start.
    #[arg(long)]
    min_steps: u64,
    /// Random seed of initialisation, batch order and dropout.
    #[arg(long)]
    seed: u64,
    /// Train only the tag projection and the CRF for this many first epochs (useful with
    /// --init-from: the new labels' rows settle before the encoder moves).
    #[arg(long)]
    freeze_encoder_epochs: usize,
    /// Evaluate and save an exponential moving average of the weights with this decay (e.g.
    /// 0.999; 0: off). Smooths SGD's epoch-to-epoch jumps in dev F1. Update t uses the decay
    /// min(EMA, (1 + t) / (10 + t)), so 0.999 takes full effect after about 9,000 updates and
    /// a higher decay only later (0.9995: 18,000).
    #[arg(long)]
    ema: f64,
    /// With --teacher: the weight (0 to 1, default 0.5) of the teacher's posterior in the
    /// training target; the gold path takes the rest.
    #[arg(long, requires = "teacher")]
    teacher_weight: f64,
    /// With --teacher: divide its scores by this (default 1) before taking its posterior;
    /// above 1 softens it.
    #[arg(long, requires = "teacher")]
    teacher_temperature: f64,
    /// With --finetune-layers: the transformer's learning rate (default 3e-5); its layers
    /// step with Adam whatever --optimizer says.
    #[arg(long)]
    finetune_lr: f64,
    /// With --finetune-layers: steps over which the transformer's learning rate rises from 0
    /// (default 500).
    #[arg(long)]
    finetune_warmup: u64,
}
}

/// `ner train`.
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
    /// Continue the interrupted run in this directory from its last completed epoch. Its
    /// stored configuration holds; only --epochs and --patience may change it (a finished run
    /// then continues if they leave it epochs), with the run-time flags --threads, --device
    /// and --quiet.
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
    /// Pretrained word vectors (GloVe / word2vec / fastText text, optionally .gz; spaCy's with
    /// scripts/spacy-vectors.py): the word embeddings' start (--word-dim must match). With
    /// --init-from they start the words new to the base model, at any width: mapped into its
    /// embedding space by the least-squares fit over the words both have.
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
    /// Start from a trained model directory (such as models/en-conll03): its architecture,
    /// vocabulary (extended with this corpus's words), embeddings, subword table and encoders
    /// are kept; the tag projection and the CRF are built for this corpus's labels, keeping the
    /// rows of the labels both share. Architecture flags are then ignored.
    #[arg(long, value_name = "DIR")]
    pub init_from: Option<PathBuf>,
    /// With --init-from: keep the base model's labels that this corpus does not annotate, by
    /// training on the base model's confident predictions of them where the corpus says O
    /// (pseudo-labels against forgetting).
    #[arg(long, requires = "init_from")]
    pub keep_labels: bool,
    /// The probability (0 to 1) a base prediction needs to become a pseudo-label.
    #[arg(long, default_value_t = 0.9, requires = "keep_labels")]
    pub keep_labels_threshold: f64,
    /// Distillation: a trained model with the same labels and tag scheme (such as
    /// models/en-conll03-ctx) whose CRF posterior on every training sentence (token marginals
    /// and transition counts) joins the training target (--teacher-weight).
    #[arg(long, value_name = "DIR")]
    pub teacher: Option<PathBuf>,
    /// With --teacher: more training sentences without labels (one token per line, or a CoNLL
    /// file whose other columns are ignored), labelled by the teacher's best paths and its
    /// posteriors.
    #[arg(long, value_name = "FILE", requires = "teacher")]
    pub unlabelled: Option<PathBuf>,
    /// Start from the library's plain defaults instead of the shipped models' recipe (which
    /// `ner train` uses unless --config is given: for word-tokenised corpora the subword
    /// vectors of models/en-conll03, word dropout, a weight average and document context; for
    /// --tokenization char character bigrams; with --init-from the recipe's optimisation).
    /// Flags override either.
    #[arg(long)]
    pub scratch: bool,
    /// A word list for SoftLexicon features of Chinese character models (`word [frequency]`
    /// per line, such as jieba's dict.txt, MIT-licensed); needs --lexicon-dim.
    #[arg(long, value_name = "FILE")]
    pub lexicon: Option<PathBuf>,
    /// A BERT-style model (a Hugging Face directory, or a name installed under
    /// $NER_CACHE_DIR/transformers by scripts/setup.sh, such as all-MiniLM-L6-v2) whose hidden
    /// states, pooled per word and mixed by learned weights, become a frozen input feature.
    #[arg(long, value_name = "DIR|NAME")]
    pub contextual_model: Option<PathBuf>,
    /// The transformer's hidden states to use, comma-separated (0: its embedding output).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4")]
    pub contextual_layers: Vec<usize>,
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

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    model: Option<ModelConfig>,
    train: Option<TrainOptions>,
}

impl Args {
    /// The run's configuration: defaults, then the config file, then flags.
    pub fn resolve(&self) -> Result<RunConfig> {
        let file: ConfigFile = match &self.config {
            Some(p) => serde_json::from_str(
                &std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?,
            )
            .with_context(|| format!("{}: not a valid training configuration", p.display()))?,
            None => ConfigFile::default(),
        };
        let base = self.base(file.model.is_some() || file.train.is_some())?;
        let model = self.model.apply(file.model.unwrap_or(base.model));
        let inputs = self.inputs(base.inputs, &model);
        let config = RunConfig {
            model,
            train: self.optim.apply(file.train.unwrap_or(base.train)),
            data: self.data()?,
            inputs,
            name: self.name.clone(),
            eval_batch_size: self.eval_batch_size,
        };
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        Ok(config)
    }

    fn data(&self) -> Result<DataConfig> {
        Ok(DataConfig {
            train: self.train.clone().context("--train is required")?,
            dev: self.dev.clone().context("--dev is required")?,
            test: self.test.clone(),
            columns: self.columns.to_columns(),
        })
    }

    /// What the flags and the config file start from: the recipe for the corpus's
    /// tokenisation (with --init-from, its optimisation only: the architecture is the base
    /// model's), or the plain defaults with --scratch or --config.
    fn base(&self, config_file: bool) -> Result<Base> {
        let recipe = match self.scratch || config_file {
            true => Recipe::Plain,
            false => Recipe::for_mode(self.model.tokenization.unwrap_or(Mode::Word)),
        };
        if recipe == Recipe::Plain {
            return Ok(Base::default());
        }
        if self.init_from.is_some() {
            let train = recipe.base(None, self.documents()?).train;
            return Ok(Base {
                train,
                ..Base::default()
            });
        }
        // Pretrained inputs named by the user replace the recipe's subword vectors.
        let own_inputs = self.pretrained.is_some() || self.subword_model.is_some();
        let subword = match (recipe, own_inputs) {
            (Recipe::Word, false) => shipped_subword_model(),
            _ => None,
        };
        if recipe == Recipe::Word && !own_inputs && subword.is_none() {
            eprintln!(
                "warning: models/{SHIPPED_ENGLISH} (whose subword vectors the default recipe uses) \
                 was not found beside the binary or here; training without subword vectors \
                 (set NER_RECIPE_MODEL=DIR or pass --subword-model DIR to use them)"
            );
        }
        Ok(recipe.base(subword.as_deref(), self.documents()?))
    }

    /// Whether the training file has -DOCSTART- documents.
    fn documents(&self) -> Result<bool> {
        match &self.train {
            Some(p) => has_documents(p).with_context(|| format!("cannot read {}", p.display())),
            None => Ok(false),
        }
    }

    /// The pretrained inputs: the base's, with the flags' on top.
    fn inputs(&self, base: InputConfig, model: &ModelConfig) -> InputConfig {
        let mut i = InputConfig {
            pretrained: self.pretrained.clone(),
            pretrained_extra: self.pretrained_extra,
            subword_table: self.subword_table.clone(),
            init_from: self.init_from.clone(),
            keep_labels: self.keep_labels,
            keep_labels_threshold: self.keep_labels_threshold,
            teacher: self.teacher.clone(),
            unlabelled: self.unlabelled.clone(),
            lexicon: self.lexicon.clone(),
            contextual_model: self.contextual_model.clone(),
            contextual_layers: self.contextual_layers.clone(),
            ..base
        };
        if let Some(dir) = &self.subword_model {
            i.subword_model = Some(dir.clone());
            i.subword_dim = self.subword_dim;
        }
        // The recipe starts word embeddings from subword vectors only while their sizes agree
        // (a --word-dim of the user's own turns that off).
        i.init_words_from_subword = self.init_words_from_subword
            || (i.init_words_from_subword && model.word_dim == i.subword_dim as i64);
        i
    }
}

impl ColumnArgs {
    pub fn to_columns(&self) -> Columns {
        Columns {
            token: self.token_column,
            tag: self.tag_column,
            comment_prefix: self.comment_prefix.clone(),
            scheme: self.scheme,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args as _, Command, FromArgMatches, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(flags: &[&str]) -> Result<Cli, clap::Error> {
        let cmd = with_resume_rules(Args::augment_args(Command::new("ner")));
        let matches = cmd.try_get_matches_from(["ner"].iter().chain(flags))?;
        Cli::from_arg_matches(&matches)
    }

    /// Every flag but the free ones is refused with --resume (walked from clap's command, so
    /// that a new flag cannot be silently ignored by a resumed run).
    #[test]
    fn every_flag_but_the_free_ones_is_refused_on_resume() {
        let cmd = with_resume_rules(Args::augment_args(Command::new("train")));
        let mut refused = 0;
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            let Some(long) = arg.get_long() else { continue };
            if FREE_ON_RESUME.contains(&id) || id == "help" {
                continue;
            }
            let flag = format!("--{long}");
            let values: Vec<String> = match arg.get_action().takes_values() {
                false => vec![String::new()],
                true => arg.get_possible_values().first().map_or_else(
                    || ["1", "word", "f.txt"].map(str::to_owned).to_vec(),
                    |v| vec![v.get_name().to_owned()],
                ),
            };
            // The first value the flag accepts: its conflict with --resume is what is left.
            let kinds: Vec<_> = values
                .iter()
                .map(|v| {
                    let argv = ["train", "--resume", "d", &flag, v];
                    let argv = &argv[..if v.is_empty() { 4 } else { 5 }];
                    cmd.clone()
                        .try_get_matches_from(argv)
                        .err()
                        .map(|e| e.kind())
                })
                .collect();
            let invalid = |k: &&Option<clap::error::ErrorKind>| {
                use clap::error::ErrorKind::{InvalidValue, ValueValidation};
                matches!(k, Some(ValueValidation | InvalidValue))
            };
            let kind = kinds.iter().find(|k| !invalid(k)).copied().flatten();
            let conflict = Some(clap::error::ErrorKind::ArgumentConflict);
            assert_eq!(kind, conflict, "{flag}: {kinds:?}");
            refused += 1;
        }
        assert!(refused > 40, "{refused}");
        for free in ["--epochs", "--patience", "--threads", "--device"] {
            let ok = cmd
                .clone()
                .try_get_matches_from(["train", "--resume", "d", free, "2"]);
            assert!(ok.is_ok(), "{free}: {ok:?}");
        }
    }

    #[test]
    fn resume_refuses_what_the_stored_run_fixes_and_takes_its_limits() {
        for flag in [
            ["--lr", "0.1"],
            ["--word-dim", "5"],
            ["--token-column", "2"],
            ["--seeds", "2"],
            ["--train", "t.conll"],
        ] {
            let err = parse(&["--resume", "d", flag[0], flag[1]]).err();
            let err = err.map(|e| (e.kind(), e.to_string()));
            assert!(
                matches!(&err, Some((clap::error::ErrorKind::ArgumentConflict, m)) if m.contains(flag[0])),
                "{flag:?}: {err:?}"
            );
        }
        let ok = parse(&[
            "--resume",
            "d",
            "--epochs",
            "30",
            "--patience",
            "8",
            "--threads",
            "1",
        ]);
        let args = ok.map(|c| c.args).expect("limits and threads are taken");
        assert_eq!(
            (args.optim.epochs, args.optim.patience),
            (Some(30), Some(8))
        );
    }
}
