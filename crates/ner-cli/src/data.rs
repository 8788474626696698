//! Reading CoNLL corpora for the commands, with column and scheme options shared by `train`,
//! `eval` and `predict`.

use anyhow::Result;
use ner_core::conll::{Column, ReaderOptions};
use ner_core::corpus::Corpus;
use ner_core::TagScheme;
use std::path::Path;

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
    #[arg(long, ignore_case = true)]
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

/// Reads a whole tagged file; the scheme is `--scheme` or detected.
pub fn read_corpus(path: &Path, cols: &ColumnArgs) -> Result<Corpus> {
    Ok(Corpus::read(path, cols.reader_options(), cols.scheme)?)
}
