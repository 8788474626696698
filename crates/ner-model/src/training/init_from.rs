//! Starting a run from a trained model (`--init-from DIR`): its architecture, vocabulary
//! (extended with the new corpus's words), embeddings, subword table, character and recurrent
//! encoders are kept; the projection to tag scores and the CRF are built for the new corpus's
//! labels, and the rows of the tags both label sets share are copied. Words new to the base
//! model take pretrained vectors, mapped into the base model's embedding space, when the run
//! is given some.

use super::config::InputConfig;
use super::observer::Observer;
use super::trainer::Trainer;
use crate::checkpoint::LoadedModel;
use crate::error::{Result, TrainError};
use crate::pretrained::{self, Vectors};
use crate::vocab::Vocab;
use ner_core::corpus::Corpus;
use ner_core::scheme::Tag;
use ner_core::TagSet;
use std::collections::HashMap;
use std::path::Path;
use tch::{Kind, Tensor};

/// `base`'s vocabulary with every word of `train` it lacks.
pub fn extend_vocab(base: &Vocab, train: &Corpus) -> (Vocab, usize) {
    let mut v = base.clone();
    let before = v.num_words();
    for s in &train.sentences {
        for t in &s.tokens {
            let w = v.normalize(t);
            if !v.contains(&w) {
                v.add_word(&w);
            }
        }
    }
    let added = v.num_words() - before;
    (v, added)
}

/// Initialises the embeddings of the words `trainer`'s vocabulary added after the base
/// model's `first` from `vectors`, of any width. The vectors live in a space of their own, so
/// they are mapped into the base model's embedding space by the affine map that fits best, by
/// least squares, the base words both have (Mikolov et al. 2013's translation matrix); the
/// base model's own rows are trained already and stay. New words without vectors keep their
/// random start (pooled subword vectors mapped the same way measured no better on WikiANN).
pub fn new_word_vectors(
    trainer: &mut Trainer,
    vectors: &Vectors,
    first: usize,
    obs: &mut dyn Observer,
) -> Result<()> {
    let words = trainer.vocab.words();
    let lookup = |w: &String| {
        let v = vectors.table.get(w);
        v.or_else(|| vectors.table.get(&w.to_lowercase()))
    };
    let rows = |range: std::ops::Range<usize>| -> (Vec<i64>, Vec<f32>) {
        let mut ids = Vec::new();
        let mut xs = Vec::new();
        for (i, v) in range.filter_map(|i| lookup(&words[i]).map(|v| (i, v))) {
            ids.push(i as i64);
            xs.extend(v.iter().copied().chain([1.0]));
        }
        (ids, xs)
    };
    let (shared, x) = rows(0..first);
    let (new, x_new) = rows(first..words.len());
    let d = vectors.dim as i64 + 1;
    if (shared.len() as i64) < d {
        return Err(TrainError::Config(format!(
            "--init-from: only {} of the base model's words have vectors, too few to map \
             {}-dimensional vectors into its embeddings (at least {d} are needed)",
            shared.len(),
            vectors.dim
        )));
    }
    let mut emb = trainer.model.word_emb.ws.shallow_clone();
    tch::no_grad(|| {
        let x = Tensor::from_slice(&x).view([-1, d]).to_kind(Kind::Double);
        let y = emb
            .index_select(0, &Tensor::from_slice(&shared))
            .to_kind(Kind::Double);
        let (map, _, _, _) = x.linalg_lstsq(&y, None, "gelsd");
        if !new.is_empty() {
            let mapped = Tensor::from_slice(&x_new)
                .view([-1, d])
                .to_kind(Kind::Double)
                .matmul(&map);
            let _ = emb.index_copy_(0, &Tensor::from_slice(&new), &mapped.to_kind(emb.kind()));
        }
    });
    obs.info(&format!(
        "pretrained: initialised {} of the {} words new to the base model, mapped into its \
         embeddings by least squares over the {} base words with vectors",
        new.len(),
        words.len() - first,
        shared.len()
    ));
    Ok(())
}

/// The vectors, at their own width, of `vocab`'s words and up to `--pretrained-extra` others
/// (which join `vocab`).
pub fn read_vectors(path: &Path, inputs: &InputConfig, vocab: &mut Vocab) -> Result<Vectors> {
    let v = pretrained::read_vectors(
        path,
        pretrained::width(path)?,
        vocab,
        inputs.pretrained_extra,
    )?;
    for w in &v.extra {
        vocab.add_word(w);
    }
    Ok(v)
}

/// Copies `base`'s weights into `trainer`: variables of the same name and shape whole,
/// embedding tables row by row for the rows `base` has (new words keep their initialisation),
/// and the projection and CRF for the tags both tag sets have. Returns how many variables
/// were copied whole or in part.
pub fn copy_weights(base: &LoadedModel, trainer: &mut Trainer) -> Result<usize> {
    let old: HashMap<String, Tensor> = base.vs.variables();
    let map = tag_map(&trainer.model.tags, &base.model.tags);
    let mut copied = 0;
    tch::no_grad(|| {
        for (name, mut new) in trainer.vs.variables() {
            let Some(src) = old.get(&name) else { continue };
            let src = src.to_device(new.device()).to_kind(new.kind());
            if src.size() == new.size()
                && (crate::model::is_encoder(&name)
                    || map.iter().enumerate().all(|(i, m)| *m == Some(i)))
            {
                new.copy_(&src);
            } else if crate::model::is_encoder(&name)
                && src.dim() == 2
                && src.size()[1] == new.size()[1]
            {
                let rows = src.size()[0].min(new.size()[0]);
                new.narrow(0, 0, rows).copy_(&src.narrow(0, 0, rows));
            } else if !crate::model::is_encoder(&name) {
                copy_tag_rows(&src, &mut new, &map, name.ends_with("trans"));
            } else {
                continue;
            }
            copied += 1;
        }
    });
    Ok(copied)
}

/// For each tag of `new`, its index in `old` (same prefix, same label name), if any.
fn tag_map(new: &TagSet, old: &TagSet) -> Vec<Option<usize>> {
    (0..new.len())
        .map(|i| {
            let t = new.tag(i);
            let label = t.label.map(|l| new.labels().name(l));
            let old_tag = match label {
                None => Some(Tag::O),
                Some(name) => old.labels().get(name).map(|l| Tag::new(t.prefix, l)),
            };
            old_tag.and_then(|t| old.index(t))
        })
        .collect()
}

/// Copies the rows (and, for the transition matrix, the columns) of mapped tags.
fn copy_tag_rows(src: &Tensor, dst: &mut Tensor, map: &[Option<usize>], square: bool) {
    for (i, from) in map.iter().enumerate() {
        let Some(from) = *from else { continue };
        if !square {
            dst.get(i as i64).copy_(&src.get(from as i64));
            continue;
        }
        for (j, to) in map.iter().enumerate() {
            if let Some(to) = *to {
                dst.get(i as i64)
                    .get(j as i64)
                    .copy_(&src.get(from as i64).get(to as i64));
            }
        }
    }
}
