//! Reading CoNLL corpora for the commands, with column and scheme options shared by `train`,
//! `eval` and `predict`.

use anyhow::{bail, Result};
use ner_core::conll::{read_file, Column, ReaderOptions, Sentence};
use ner_core::scheme::detect_scheme;
use ner_core::TagScheme;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct ColumnArgs {
    /// Token column, 1-based (negative counts from the end).
    #[arg(long, default_value = "1", value_parser = Column::parse_one_based, allow_hyphen_values = true)]
    pub token_column: Column,
    /// Tag column, 1-based (negative counts from the end; default: the last).
    #[arg(long, default_value = "-1", value_parser = Column::parse_one_based, allow_hyphen_values = true)]
    pub tag_column: Column,
    /// Skip lines starting with this prefix (off by default: `#` can be a token).
    #[arg(long)]
    pub comment_prefix: Option<String>,
    /// The files' tag scheme (detected when not given).
    #[arg(long)]
    pub scheme: Option<TagScheme>,
}

impl ColumnArgs {
    pub fn reader_options(&self) -> ReaderOptions {
        ReaderOptions {
            token_column: self.token_column,
            tag_columns: vec![self.tag_column],
            comment_prefix: self.comment_prefix.clone(),
            keep_lines: false,
        }
    }
}

/// A tagged corpus in memory.
#[derive(Debug)]
pub struct Corpus {
    pub path: PathBuf,
    pub sentences: Vec<Sentence>,
    pub scheme: TagScheme,
}

impl Corpus {
    pub fn tokens(&self) -> usize {
        self.sentences.iter().map(Sentence::len).sum()
    }
}

/// Reads a whole tagged file; the scheme is `given` or detected.
pub fn read_corpus(path: &Path, cols: &ColumnArgs) -> Result<Corpus> {
    if !path.exists() {
        bail!("{}: no such file", path.display());
    }
    let sentences = read_file(path, cols.reader_options())?;
    if sentences.is_empty() {
        bail!("{}: no sentences found (is this a CoNLL file: one token per line, blank lines between sentences?)", path.display());
    }
    let scheme = cols.scheme.unwrap_or_else(|| {
        detect_scheme(
            sentences
                .iter()
                .map(|s| s.tags[0].iter().map(String::as_str)),
        )
    });
    Ok(Corpus {
        path: path.to_owned(),
        sentences,
        scheme,
    })
}
