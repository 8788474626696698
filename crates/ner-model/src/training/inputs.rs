//! What a fresh run builds before its first step: the vocabulary (words, characters, bigrams)
//! from the training corpus, the pretrained word vectors and the frozen subword table, and the
//! initialisation of the word embeddings from them.

use super::config::InputConfig;
use super::observer::Observer;
use super::trainer::Trainer;
use crate::config::ModelConfig;
use crate::contextual::{self, Contextual};
use crate::error::Result;
use crate::lexicon::{Dictionary, Lexicon};
use crate::pretrained::{self, Vectors};
use crate::subword::Subword;
use crate::vocab::Vocab;
use ner_core::corpus::Corpus;
use std::path::Path;
use tch::{Device, Tensor};

/// The vocabulary and pretrained material of a fresh run.
#[derive(Debug)]
pub struct Inputs {
    pub vocab: Vocab,
    pub vectors: Option<Vectors>,
    pub subword_table: Option<Tensor>,
}

/// Builds the vocabulary from `train` and reads the pretrained inputs; records the subword
/// table's dimension and source in `config`.
pub fn build(
    train: &Corpus,
    config: &mut ModelConfig,
    inputs: &InputConfig,
    obs: &mut dyn Observer,
) -> Result<Inputs> {
    let words = train
        .sentences
        .iter()
        .flat_map(|s| s.tokens.iter().map(String::as_str));
    let mut vocab = Vocab::build(words, config, 1);
    if config.bigram_dim > 0 {
        vocab.build_bigrams(train.sentences.iter().map(|s| s.tokens.as_slice()), 2);
    }
    if let Some(path) = &inputs.lexicon {
        vocab.set_lexicon(Some(lexicon(train, path, config, obs)?));
    }
    let vectors = match &inputs.pretrained {
        Some(p) => Some(vectors(p, config, inputs, &mut vocab, obs)?),
        None => None,
    };
    let subword_table = match &inputs.subword_model {
        Some(dir) => Some(subword(dir, config, inputs, &mut vocab, obs)?),
        None => None,
    };
    Ok(Inputs {
        vocab,
        vectors,
        subword_table,
    })
}

/// The lexicon of `path`'s dictionary entries that the training text holds.
fn lexicon(
    train: &Corpus,
    path: &Path,
    config: &ModelConfig,
    obs: &mut dyn Observer,
) -> Result<Lexicon> {
    let dict = Dictionary::read(path)?;
    let sentences: Vec<&[String]> = train
        .sentences
        .iter()
        .map(|s| s.tokens.as_slice())
        .collect();
    let whole = config.lexicon_dropout > 0.0;
    let lexicon = Lexicon::build(&dict, &sentences, whole);
    obs.info(&format!(
        "lexicon: {} words of {} match the training text{}",
        lexicon.num_matched(),
        path.display(),
        match whole {
            true => format!(", {} more kept as <unseen>", lexicon.num_unseen()),
            false => String::new(),
        }
    ));
    Ok(lexicon)
}

/// The pretrained word vectors of the vocabulary; words they add join the vocabulary.
fn vectors(
    path: &Path,
    config: &ModelConfig,
    inputs: &InputConfig,
    vocab: &mut Vocab,
    obs: &mut dyn Observer,
) -> Result<Vectors> {
    let v = pretrained::read_vectors(
        path,
        config.word_dim as usize,
        vocab,
        inputs.pretrained_extra,
    )?;
    for w in &v.extra {
        vocab.add_word(w);
    }
    obs.info(&format!(
        "pretrained: {} vectors for the vocabulary, {} extra words",
        v.table.len() - v.extra.len(),
        v.extra.len()
    ));
    Ok(v)
}

/// The subword table of `dir`; its tokenizer joins the vocabulary.
fn subword(
    dir: &Path,
    config: &mut ModelConfig,
    inputs: &InputConfig,
    vocab: &mut Vocab,
    obs: &mut dyn Observer,
) -> Result<Tensor> {
    let dim = (inputs.subword_dim > 0).then_some(inputs.subword_dim);
    let sw = Subword::from_pretrained(dir, inputs.subword_table.as_deref(), dim)?;
    obs.info(&format!(
        "subword vectors: {} pieces x {} dimensions from {}",
        sw.table.size()[0],
        sw.dim(),
        dir.display()
    ));
    config.subword_dim = sw.dim();
    config.subword_source = Some(dir.display().to_string());
    vocab.set_subword(Some(sw.tokenizer().clone()));
    Ok(sw.table)
}

/// The transformer of contextual features, when the run asks for one; records its layers,
/// width and source in `config`. A transformer kept in the cache's `transformers/` folder is
/// recorded by name, so that the model finds it on any machine where it is installed.
pub fn contextual(
    config: &mut ModelConfig,
    inputs: &InputConfig,
    device: Device,
    obs: &mut dyn Observer,
) -> Result<Option<Contextual>> {
    let Some(dir) = &inputs.contextual_model else {
        return Ok(None);
    };
    let source = dir.to_string_lossy().into_owned();
    let c = contextual::load(
        &contextual::locate(&source)?,
        &inputs.contextual_layers,
        device,
    )?;
    let in_cache =
        dir.parent().and_then(|p| p.file_name()) == Some(contextual::TRANSFORMERS.as_ref());
    config.contextual_source = Some(match dir.file_name() {
        Some(name) if in_cache || dir.components().count() == 1 => {
            name.to_string_lossy().into_owned()
        }
        _ => source,
    });
    config.contextual_layers = inputs.contextual_layers.clone();
    config.contextual_dim = c.dim() as i64;
    obs.info(&format!(
        "contextual features: hidden states {:?} of {} ({} wide), mixed by learned weights",
        config.contextual_layers,
        dir.display(),
        c.dim()
    ));
    Ok(Some(c))
}

/// Gives a fresh trainer its subword table and initial word embeddings.
pub fn initialise(
    trainer: &mut Trainer,
    vectors: Option<&Vectors>,
    subword_table: Option<Tensor>,
    inputs: &InputConfig,
    device: Device,
    obs: &mut dyn Observer,
) -> Result<()> {
    if let Some(t) = subword_table {
        trainer.model.set_subword_table(t, device);
        if inputs.init_words_from_subword {
            let n = pretrained::init_words_from_subword(&trainer.model, &trainer.vocab)?;
            obs.info(&format!(
                "word embeddings: {n} initialised from pooled subword vectors"
            ));
        }
    }
    if let Some(v) = vectors {
        let n = pretrained::copy_into(&trainer.model.word_emb.ws, &trainer.vocab, v, 0);
        obs.info(&format!(
            "pretrained: initialised {n} of {} word vectors",
            trainer.vocab.num_words()
        ));
    }
    Ok(())
}
