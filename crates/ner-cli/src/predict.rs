//! `ner predict`: tags raw text, JSONL or CoNLL tokens from files or standard input, streaming
//! in chunks so that memory stays bounded whatever the input size.

use crate::backend::{self, InferenceArgs, Tagger};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use ner_core::conll::{write_sentence, Reader, ReaderOptions, Sentence};
use ner_core::document::{sentences_of, Document};
use ner_core::offsets::OffsetUnit;
use ner_core::results::{self, ResultError, ResultOptions};
use ner_core::Tagged;
use ner_tagger::DecodeOptions;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// One document per line.
    Text,
    /// One JSON object with a "text" field per line (other fields are passed through).
    Jsonl,
    /// CoNLL tokens (first column), blank lines between sentences.
    Conll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Jsonl,
    Conll,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory.
    #[arg(long)]
    model: PathBuf,
    /// Input files (default or `-`: standard input).
    #[arg(long)]
    input: Vec<PathBuf>,
    /// How the input is laid out (the values below say).
    #[arg(long, value_enum, default_value = "text")]
    format: InputFormat,
    /// Write the results to FILE (default: standard output). The file appears whole or not at
    /// all: it is written beside FILE under a temporary name and renamed when complete, so an
    /// interrupted run or a full disk never leaves a partial FILE (nor replaces an old one).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output format (default: jsonl, or conll for conll input).
    #[arg(long, value_enum)]
    output_format: Option<OutputFormat>,
    /// Offset unit of entity start/end: char (Python), byte (UTF-8) or utf16 (JavaScript).
    #[arg(long, default_value = "char")]
    offsets: OffsetUnit,
    /// Documents (or sentences for CoNLL) read and tagged at a time.
    #[arg(long, default_value_t = 512)]
    chunk: usize,
    /// How the model runs.
    #[command(flatten)]
    inference: InferenceArgs,
}

pub fn run(args: Args) -> Result<()> {
    let mut tagger = backend::load(&args.model, &args.inference)?;
    let out_format = args.output_format.unwrap_or(match args.format {
        InputFormat::Conll => OutputFormat::Conll,
        _ => OutputFormat::Jsonl,
    });
    if out_format == OutputFormat::Conll && args.format != InputFormat::Conll {
        bail!("--output-format conll needs --format conll input");
    }
    let inputs = if args.input.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.input.clone()
    };
    let mut sink = Sink::open(args.output.as_deref())?;
    let out = &mut sink.writer;
    let bar = spinner(args.format);
    for path in &inputs {
        let name = path.display().to_string();
        let reader = open(path)?;
        if args.format == InputFormat::Conll {
            tag_conll(&args, &mut tagger, reader, &name, out_format, out, &bar)?;
        } else {
            tag_texts(&args, &mut tagger, reader, &name, out, &bar)?;
        }
    }
    bar.finish_and_clear();
    sink.finish()
}

/// Where results go: standard output, or a temporary file beside `--output` that becomes it
/// once everything is written and synced (dropped unfinished, it is deleted).
struct Sink {
    writer: BufWriter<Box<dyn Write>>,
    file: Option<(tempfile::TempPath, PathBuf)>,
}

impl Sink {
    fn open(output: Option<&Path>) -> Result<Sink> {
        let Some(path) = output else {
            return Ok(Sink {
                writer: BufWriter::new(Box::new(std::io::stdout())),
                file: None,
            });
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".ner-predict-")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a file in {} for --output", dir.display()))?;
        let (file, tmp_path) = tmp.into_parts();
        Ok(Sink {
            writer: BufWriter::new(Box::new(file)),
            file: Some((tmp_path, path.to_owned())),
        })
    }

    fn finish(self) -> Result<()> {
        let Sink { writer, file } = self;
        let mut inner = writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write the results: {}", e.error()))?;
        inner.flush().context("cannot write the results")?;
        if let Some((tmp, path)) = file {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            tmp.persist(&path)
                .with_context(|| format!("cannot rename the results into {}", path.display()))?;
        }
        Ok(())
    }
}

/// What every sentence gets: tags with probabilities.
const REQUEST: DecodeOptions = DecodeOptions {
    probabilities: true,
    nbest: 0,
};

fn spinner(format: InputFormat) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} {msg} ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(if format == InputFormat::Conll {
        "sentences"
    } else {
        "documents"
    });
    bar
}

/// A file, or standard input for `-`.
fn open(path: &std::path::Path) -> Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Box::new(BufReader::new(f)))
}

/// Tags CoNLL token lines chunk by chunk.
fn tag_conll(
    args: &Args,
    tagger: &mut Tagger,
    reader: Box<dyn BufRead>,
    name: &str,
    format: OutputFormat,
    out: &mut impl Write,
    bar: &ProgressBar,
) -> Result<()> {
    let opts = ReaderOptions {
        keep_lines: true,
        ..ReaderOptions::tokens_only()
    };
    let mut sentences = Reader::new(reader, name.to_owned(), opts);
    loop {
        let chunk: Vec<_> = sentences
            .by_ref()
            .take(args.chunk.max(1))
            .collect::<Result<_, _>>()?;
        if chunk.is_empty() {
            return Ok(());
        }
        let toks: Vec<Vec<&str>> = chunk
            .iter()
            .map(|s| s.tokens.iter().map(String::as_str).collect())
            .collect();
        let tagged = tagger.tag(&toks, REQUEST)?;
        if tagged.len() != chunk.len() {
            let (expected, got) = (chunk.len(), tagged.len());
            return Err(ResultError::WrongCount { expected, got }.into());
        }
        for (s, t) in chunk.iter().zip(&tagged) {
            write_tagged_sentence(tagger, s, t, format, out)?;
        }
        bar.inc(chunk.len() as u64);
    }
}

fn write_tagged_sentence(
    tagger: &Tagger,
    s: &Sentence,
    t: &Tagged,
    format: OutputFormat,
    out: &mut impl Write,
) -> Result<()> {
    let ts = tagger.tag_set();
    match format {
        OutputFormat::Conll => {
            let names: Vec<String> = t.tags.iter().map(|&i| ts.name(i)).collect();
            // The input lines as they were, with the predicted tag appended.
            write_sentence(out, &s.lines, &[&names])?;
        }
        OutputFormat::Jsonl => {
            let ents: Vec<_> = t
                .entities
                .iter()
                .map(|e| {
                    let (a, b) = (e.span.start(), e.span.end());
                    let label = ts.labels().name(*e.span.label());
                    serde_json::json!({"start": a, "end": b, "label": label, "score": e.probability, "text": s.tokens[a..b].join(" ")})
                })
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({"tokens": s.tokens, "entities": ents})
            )?;
        }
    }
    Ok(())
}

/// Reads up to `chunk` documents (raw text lines, or JSONL objects with a `text` field).
fn read_documents(
    lines: &mut impl Iterator<Item = (usize, std::io::Result<String>)>,
    format: InputFormat,
    chunk: usize,
    name: &str,
) -> Result<Vec<(String, serde_json::Value)>> {
    let mut docs = Vec::new();
    for (i, line) in lines.by_ref() {
        let line = line.with_context(|| format!("{name}:{}: cannot read (is it UTF-8?)", i + 1))?;
        if format == InputFormat::Text {
            docs.push((line, serde_json::Value::Null));
        } else if !line.trim().is_empty() {
            let v: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("{name}:{}: not a JSON object", i + 1))?;
            let Some(text) = v.get("text").and_then(|t| t.as_str()) else {
                bail!("{name}:{}: the object has no string field \"text\"", i + 1);
            };
            docs.push((text.to_owned(), v));
        }
        if docs.len() >= chunk.max(1) {
            break;
        }
    }
    Ok(docs)
}

/// Tags raw text or JSONL documents chunk by chunk, with entity offsets in the text.
fn tag_texts(
    args: &Args,
    tagger: &mut Tagger,
    reader: Box<dyn BufRead>,
    name: &str,
    out: &mut impl Write,
    bar: &ProgressBar,
) -> Result<()> {
    let mode = tagger.config().tokenization;
    let mut lines = reader.lines().enumerate();
    loop {
        let docs = read_documents(&mut lines, args.format, args.chunk, name)?;
        if docs.is_empty() {
            return Ok(());
        }
        let prepared: Vec<Document> = docs
            .iter()
            .map(|(t, _)| Document::new(t, mode, args.inference.max_sentence_tokens))
            .collect();
        // A text's sentences form one document, as the server reads them.
        let (all, documents) = sentences_of(&prepared);
        let tagged = tagger.tag_documents(&all, &documents, REQUEST)?;
        let options = ResultOptions::new(false, 0, None, args.offsets)?;
        write_answers(out, &docs, &prepared, &tagged, tagger.tag_set(), &options)?;
        bar.inc(docs.len() as u64);
    }
}

/// One JSON line per document: its own fields, its text and its entities, built by the one
/// result builder (a result count that does not match is its error, not a panic).
fn write_answers(
    out: &mut impl Write,
    docs: &[(String, serde_json::Value)],
    prepared: &[Document],
    tagged: &[Tagged],
    tags: &ner_core::TagSet,
    options: &ResultOptions,
) -> Result<()> {
    let answers = results::build(prepared, tagged, tags, options)?;
    for (answer, (text, extra)) in answers.into_iter().zip(docs) {
        let mut obj = match extra {
            serde_json::Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        obj.insert("text".into(), text.clone().into());
        obj.insert("entities".into(), serde_json::to_value(&answer.entities)?);
        writeln!(out, "{}", serde_json::Value::Object(obj))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ner_core::tokenize::Mode;
    use ner_core::{LabelSet, TagScheme, TagSet};

    #[test]
    fn a_result_count_that_does_not_match_is_the_builders_error() {
        let docs = vec![("Bob ran. Ann sat.".to_owned(), serde_json::Value::Null)];
        let prepared = [Document::new(&docs[0].0, Mode::Word, 128)];
        let tags = TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["PER"]));
        let options = ResultOptions::entities();
        let mut out = Vec::new();
        let one = vec![Tagged::default()];
        let err = write_answers(&mut out, &docs, &prepared, &one, &tags, &options).unwrap_err();
        let wrong = ResultError::WrongCount {
            expected: 2,
            got: 1,
        };
        assert_eq!(err.downcast_ref::<ResultError>(), Some(&wrong));
        assert!(out.is_empty(), "nothing is written for a chunk that failed");
        let two = vec![Tagged::default(); 2];
        write_answers(&mut out, &docs, &prepared, &two, &tags, &options).unwrap();
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    }
}
