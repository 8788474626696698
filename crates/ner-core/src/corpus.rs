//! A tagged CoNLL file in memory: its sentences with typed tags (parsed once, by the reader),
//! the labels they use, and the tag scheme of the file (given, or detected while reading).
//!
//! A model numbers labels its own way; [`LabelMap`] translates a corpus's label ids into a
//! model's once, so that gold tags become model tag indices without parsing a string again.

use crate::conll::{ConllError, Reader, ReaderOptions, Sentence};
use crate::label::{LabelId, LabelSet};
use crate::scheme::{convert, Tag, TagScheme, TagSet};
use std::path::{Path, PathBuf};

/// A whole tagged file.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its sentences, in file order.
    pub sentences: Vec<Sentence>,
    /// The entity types of the first tag column (and any other), in order of appearance.
    pub labels: LabelSet,
    /// The file's tag scheme.
    pub scheme: TagScheme,
}

/// Why a corpus could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{0}: no such file")]
    /// The file does not exist.
    Missing(PathBuf),
    #[error(transparent)]
    /// The file is not valid CoNLL.
    Conll(#[from] ConllError),
    #[error("{0}: no sentences found (is this a CoNLL file: one token per line, blank lines between sentences?)")]
    /// The file holds no sentence.
    Empty(PathBuf),
    #[error("{path}:{line}: label {label:?} is not one the model knows ({known})")]
    /// A label the model does not know.
    UnknownLabel {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The label found.
        label: String,
        /// The labels known, for the message.
        known: String,
    },
}

impl Corpus {
    /// Reads a whole file; the scheme is `scheme` or detected from the first tag column.
    pub fn read(
        path: &Path,
        opts: ReaderOptions,
        scheme: Option<TagScheme>,
    ) -> Result<Corpus, CorpusError> {
        if !path.exists() {
            return Err(CorpusError::Missing(path.to_owned()));
        }
        let (sentences, labels, detected) = Reader::open(path, opts)?.read_all()?;
        if sentences.is_empty() {
            return Err(CorpusError::Empty(path.to_owned()));
        }
        Ok(Corpus {
            path: path.to_owned(),
            sentences,
            labels,
            scheme: scheme.unwrap_or(detected),
        })
    }

    /// Tokens in all.
    pub fn tokens(&self) -> usize {
        self.sentences.iter().map(Sentence::len).sum()
    }

    /// The gold tags of every sentence (first tag column) as indices of `tags`, with `map`
    /// from [`LabelMap::new`]`(&self.labels, tags.labels())`. A label the model lacks is an
    /// error naming the line.
    pub fn gold_indices(
        &self,
        sentence: &Sentence,
        tags: &TagSet,
        map: &LabelMap,
    ) -> Result<Vec<usize>, CorpusError> {
        let gold = sentence.tags.first().map(Vec::as_slice).unwrap_or(&[]);
        let unknown = |t: &Tag| CorpusError::UnknownLabel {
            path: self.path.clone(),
            line: sentence.line,
            label: t.label.map_or("O", |l| self.labels.name(l)).to_owned(),
            known: tags.labels().names().join(", "),
        };
        let mut typed = Vec::with_capacity(gold.len());
        for t in gold {
            typed.push(map.tag(*t).ok_or_else(|| unknown(t))?);
        }
        convert(&typed, tags.scheme())
            .into_iter()
            .map(|t| tags.index(t).ok_or_else(|| unknown(&t)))
            .collect()
    }
}

/// Translates label ids of one [`LabelSet`] into another's, by name.
#[derive(Debug, Clone)]
pub struct LabelMap(Vec<Option<LabelId>>);

impl LabelMap {
    /// The map from `from`'s label ids to `to`'s.
    pub fn new(from: &LabelSet, to: &LabelSet) -> Self {
        LabelMap(from.names().iter().map(|n| to.get(n)).collect())
    }

    /// The id in the target set; `None` for a label it lacks.
    pub fn get(&self, id: LabelId) -> Option<LabelId> {
        self.0.get(id.0 as usize).copied().flatten()
    }

    /// A tag with its label translated; `None` when the target lacks the label.
    pub fn tag(&self, tag: Tag) -> Option<Tag> {
        match tag.label {
            None => Some(Tag::O),
            Some(l) => self.get(l).map(|to| Tag::new(tag.prefix, to)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::Prefix;
    use std::io::Write;

    #[test]
    fn reads_typed_tags_once_and_maps_them_to_a_model() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            f,
            "John I-PER\nSmith I-PER\nvisited O\nParis I-LOC\n\nRome I-LOC"
        )
        .unwrap();
        let c = Corpus::read(f.path(), ReaderOptions::default(), None).unwrap();
        assert_eq!(c.scheme, TagScheme::Iob1);
        assert_eq!(c.labels.names(), ["PER", "LOC"]);
        let model = TagSet::new(TagScheme::Bioes, LabelSet::frozen_from(["LOC", "PER"]));
        let map = LabelMap::new(&c.labels, model.labels());
        let got = c.gold_indices(&c.sentences[0], &model, &map).unwrap();
        let names: Vec<String> = got.iter().map(|&i| model.name(i)).collect();
        assert_eq!(names, ["B-PER", "E-PER", "O", "S-LOC"]);
        let only_per = TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["PER"]));
        let map = LabelMap::new(&c.labels, only_per.labels());
        let err = c
            .gold_indices(&c.sentences[1], &only_per, &map)
            .unwrap_err();
        assert!(err.to_string().contains(":6: label \"LOC\""), "{err}");
        assert_eq!(
            map.tag(Tag::new(Prefix::B, LabelId(0))),
            Some(Tag::new(Prefix::B, LabelId(0)))
        );
    }
}
