//! `ner tokenize`: raw text into the token-per-line layout that `ner train --unlabelled` reads,
//! cut into words and sentences by the same tokenizer and sentence splitter that serving uses,
//! so that a teacher and a student see text as the server will. Articles (blocks separated by
//! blank lines, one paragraph per line) become documents, each opened by a `-DOCSTART-` line.

use anyhow::{Context, Result};
use ner_core::document::{Document, DEFAULT_MAX_SENTENCE_TOKENS};
use ner_core::tokenize::Mode;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The text: articles separated by blank lines, one paragraph per line (UTF-8).
    #[arg(long)]
    input: PathBuf,
    /// Where the tokens go: one per line, a blank line after each sentence. Written beside it
    /// under a temporary name and renamed when complete.
    #[arg(long)]
    output: PathBuf,
    /// Sentences are cut into pieces of at most this many tokens, as serving cuts them.
    #[arg(long, default_value_t = DEFAULT_MAX_SENTENCE_TOKENS)]
    max_sentence_tokens: usize,
}

/// What was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Articles (documents).
    pub documents: usize,
    /// Non-empty lines of text.
    pub paragraphs: usize,
    /// Sentences written.
    pub sentences: usize,
    /// Tokens written.
    pub tokens: usize,
}

pub fn run(args: Args) -> Result<()> {
    let name = args.input.display().to_string();
    let file = std::fs::File::open(&args.input).with_context(|| format!("cannot open {name}"))?;
    let dir = match args.output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".ner-tokenize-")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let mut out = BufWriter::new(tmp.as_file());
    let counts = write_tokens(
        BufReader::new(file),
        &name,
        &mut out,
        args.max_sentence_tokens,
    )?;
    out.flush().context("cannot write the tokens")?;
    drop(out);
    tmp.as_file()
        .sync_all()
        .context("cannot write the tokens")?;
    tmp.persist(&args.output)
        .with_context(|| format!("cannot rename the tokens into {}", args.output.display()))?;
    eprintln!(
        "{}: {} documents, {} paragraphs, {} sentences, {} tokens",
        args.output.display(),
        counts.documents,
        counts.paragraphs,
        counts.sentences,
        counts.tokens
    );
    Ok(())
}

/// Writes every article of `input` as a document of sentences, a token per line.
pub fn write_tokens(
    input: impl BufRead,
    name: &str,
    out: &mut impl Write,
    max_sentence_tokens: usize,
) -> Result<Counts> {
    let mut counts = Counts::default();
    let mut in_document = false;
    for (i, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("{name}:{}: cannot read (is it UTF-8?)", i + 1))?;
        if line.trim().is_empty() {
            in_document = false;
            continue;
        }
        if !in_document {
            writeln!(out, "-DOCSTART-\n")?;
            counts.documents += 1;
            in_document = true;
        }
        counts.paragraphs += 1;
        for sentence in Document::new(&line, Mode::Word, max_sentence_tokens).sentences() {
            for token in &sentence {
                writeln!(out, "{token}")?;
            }
            writeln!(out)?;
            counts.sentences += 1;
            counts.tokens += sentence.len();
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paragraph_becomes_the_servers_sentences_and_tokens() {
        let text = "Showers continued in the Bahia cocoa zone, Comissaria Smith said. The U.S. \
                    dollar rose 1.5 pct to 153.40 yen.\n\nIBM said it earned $1.2 billion.\n";
        let mut out = Vec::new();
        let counts = write_tokens(text.as_bytes(), "t", &mut out, 128).unwrap();
        let written = String::from_utf8(out).unwrap();
        let expected = "-DOCSTART-\n\n\
            Showers\ncontinued\nin\nthe\nBahia\ncocoa\nzone\n,\nComissaria\nSmith\nsaid\n.\n\n\
            The\nU.S.\ndollar\nrose\n1.5\npct\nto\n153.40\nyen\n.\n\n\
            -DOCSTART-\n\n\
            IBM\nsaid\nit\nearned\n$\n1.2\nbillion\n.\n\n";
        assert_eq!(written, expected);
        let want = Counts {
            documents: 2,
            paragraphs: 2,
            sentences: 3,
            tokens: 12 + 10 + 8,
        };
        assert_eq!(counts, want);
    }
}
