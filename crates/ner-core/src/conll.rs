//! Streaming CoNLL column-format reading and writing.
//!
//! One token per line, columns separated by spaces or tabs, sentences separated by blank
//! lines, `-DOCSTART-` lines marking documents. A line of only whitespace and invisible format
//! characters (Unicode category Cf: a stray byte-order mark, zero-width spaces and joiners) is
//! blank. The reader accepts LF and CRLF, a UTF-8 byte-order mark at the start of the file, a
//! missing final newline and trailing spaces, and refuses
//! invalid UTF-8, a line with a different number of columns than the file's first token line,
//! and tags with an unknown prefix, with an error naming the file, the line and what was found.
//! It holds one sentence in memory at a time.

use crate::label::LabelSet;
use crate::scheme::{parse_tag, Prefix, SchemeDetector, Tag, TagError};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

/// A column, counted from the start (`First`/`Index`) or from the end (`Last`/`FromEnd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    /// 0-based from the first column.
    Index(usize),
    /// 0-based from the last column: `FromEnd(0)` is the last.
    FromEnd(usize),
}

impl Column {
    /// The first column.
    pub const FIRST: Column = Column::Index(0);
    /// The last column.
    pub const LAST: Column = Column::FromEnd(0);

    fn resolve(self, ncols: usize) -> Option<usize> {
        match self {
            Column::Index(i) => (i < ncols).then_some(i),
            Column::FromEnd(i) => ncols.checked_sub(i + 1),
        }
    }

    /// Parses a 1-based column number, negative from the end (`-1` is the last).
    pub fn parse_one_based(s: &str) -> Result<Column, String> {
        let n: i64 = s
            .trim()
            .parse()
            .map_err(|_| format!("column {s:?} is not a number (1 is the first, -1 the last)"))?;
        match n {
            0 => Err("columns are numbered from 1 (or from -1 for the last)".to_owned()),
            n if n > 0 => Ok(Column::Index(n as usize - 1)),
            n => Ok(Column::FromEnd((-n) as usize - 1)),
        }
    }
}

/// How to read a CoNLL file.
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    /// The column that holds the token.
    pub token_column: Column,
    /// The tag columns to return, in this order (empty for untagged token files).
    pub tag_columns: Vec<Column>,
    /// Lines starting with this prefix are skipped (off by default: `#` is a real token).
    pub comment_prefix: Option<String>,
    /// Keep every token line's text (all its columns) in [`Sentence::lines`], so that a
    /// predicted column can be appended to the input as it was.
    pub keep_lines: bool,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            token_column: Column::FIRST,
            tag_columns: vec![Column::LAST],
            comment_prefix: None,
            keep_lines: false,
        }
    }
}

impl ReaderOptions {
    /// Tokens only, from the first column; any further columns are ignored.
    pub fn tokens_only() -> Self {
        ReaderOptions {
            tag_columns: Vec::new(),
            ..Self::default()
        }
    }
}

/// One sentence: its tokens, one tag sequence per requested tag column, and where it was.
///
/// Tags are parsed once, by the reader, into typed [`Tag`]s whose labels are interned in the
/// reader's [`LabelSet`] ([`Reader::labels`]); the text of each tag is kept beside them so that
/// a file can be written back exactly as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// The tokens, one per line.
    pub tokens: Vec<String>,
    /// One typed sequence per tag column.
    pub tags: Vec<Vec<Tag>>,
    /// The tags as written in the file, one sequence per tag column.
    pub raw_tags: Vec<Vec<String>>,
    /// 1-based line number of the first token.
    pub line: usize,
    /// 0-based index of the document (counted by `-DOCSTART-` lines).
    pub document: usize,
    /// The token lines as they were (without trailing whitespace), when
    /// [`ReaderOptions::keep_lines`] is set.
    pub lines: Vec<String>,
}

impl Sentence {
    /// Tokens in the sentence.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the sentence has no token.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// A tag column as written in the file.
    pub fn tag_strs(&self, column: usize) -> Vec<&str> {
        self.raw_tags
            .get(column)
            .map(|c| c.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// What went wrong, without the location.
#[derive(Debug)]
pub enum ConllErrorKind {
    /// The file could not be read.
    Io(io::Error),
    /// A line that is not UTF-8.
    InvalidUtf8 {
        /// Where in the line the bad byte is.
        byte: usize,
    },
    /// A line with another number of columns than the file's first.
    ColumnCount {
        /// Columns on this line.
        found: usize,
        /// Columns on the first line.
        expected: usize,
        /// The first line, which set the count.
        first_line: usize,
    },
    /// A column the options name is not there.
    MissingColumn {
        /// The column asked for.
        column: Column,
        /// Columns on the line.
        found: usize,
    },
    /// A tag that cannot be read.
    Tag(TagError),
    /// More entity types than a label set can number.
    TooManyLabels,
}

/// A reading error with its file and line.
#[derive(Debug)]
pub struct ConllError {
    /// The file (or stream) name.
    pub source_name: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub kind: ConllErrorKind,
}

impl fmt::Display for ConllError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.source_name, self.line)?;
        match &self.kind {
            ConllErrorKind::Io(e) => write!(f, "read error: {e}"),
            ConllErrorKind::InvalidUtf8 { byte } => write!(
                f,
                "invalid UTF-8 at byte {byte} of the line; convert the file to UTF-8 (for example with iconv)"
            ),
            ConllErrorKind::ColumnCount {
                found,
                expected,
                first_line,
            } => write!(
                f,
                "found {found} columns, but the first token line (line {first_line}) has {expected}; \
                 every token line needs the same columns (is a token or tag missing, or does a token contain a space?)"
            ),
            ConllErrorKind::MissingColumn { column, found } => write!(
                f,
                "column {} does not exist: the line has {found} columns",
                match column {
                    Column::Index(i) => format!("{}", i + 1),
                    Column::FromEnd(i) => format!("-{}", i + 1),
                }
            ),
            ConllErrorKind::Tag(e) => write!(f, "{e}"),
            ConllErrorKind::TooManyLabels => write!(
                f,
                "more than {} distinct entity types; is the tag column right (--tag-column)?",
                u16::MAX
            ),
        }
    }
}

impl std::error::Error for ConllError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ConllErrorKind::Io(e) => Some(e),
            ConllErrorKind::Tag(e) => Some(e),
            _ => None,
        }
    }
}

/// Counts the reader keeps while streaming.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Lines read.
    pub lines: usize,
    /// Sentences read.
    pub sentences: usize,
    /// Tokens read.
    pub tokens: usize,
    /// `-DOCSTART-` lines seen (conlleval counts each as one `O` token).
    pub docstarts: usize,
}

/// A streaming reader: an iterator of sentences that stops after the first error.
pub struct Reader<R> {
    input: R,
    name: String,
    opts: ReaderOptions,
    buf: Vec<u8>,
    line_no: usize,
    ncols: Option<(usize, usize)>,
    document: usize,
    doc_has_content: bool,
    stats: ReadStats,
    done: bool,
    /// Every label seen in a tag column, in order of appearance.
    labels: LabelSet,
    /// Scheme evidence of each tag column.
    detectors: Vec<SchemeDetector>,
}

impl Reader<BufReader<File>> {
    /// Opens a file; errors name the file.
    pub fn open(path: &Path, opts: ReaderOptions) -> Result<Self, ConllError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| ConllError {
            source_name: name.clone(),
            line: 0,
            kind: ConllErrorKind::Io(e),
        })?;
        Ok(Reader::new(
            BufReader::with_capacity(1 << 16, file),
            name,
            opts,
        ))
    }
}

impl<R: BufRead> Reader<R> {
    /// Reads from any buffered input; `name` is used in error messages.
    pub fn new(input: R, name: impl Into<String>, opts: ReaderOptions) -> Self {
        let opts_columns = opts.tag_columns.len();
        Reader {
            input,
            name: name.into(),
            opts,
            buf: Vec::with_capacity(256),
            line_no: 0,
            ncols: None,
            document: 0,
            doc_has_content: false,
            stats: ReadStats::default(),
            done: false,
            labels: LabelSet::new(),
            detectors: vec![SchemeDetector::default(); opts_columns],
        }
    }

    /// What was read so far.
    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// The labels of the typed tags read so far.
    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    /// The scheme that tag column `column`'s tags so far point to.
    pub fn scheme_of(&self, column: usize) -> Option<crate::TagScheme> {
        self.detectors.get(column).map(SchemeDetector::scheme)
    }

    fn err(&self, kind: ConllErrorKind) -> ConllError {
        ConllError {
            source_name: self.name.clone(),
            line: self.line_no,
            kind,
        }
    }

    /// A sentence with no tokens yet, in the current document.
    fn empty_sentence(&self) -> Sentence {
        Sentence {
            tokens: Vec::new(),
            tags: vec![Vec::new(); self.opts.tag_columns.len()],
            raw_tags: vec![Vec::new(); self.opts.tag_columns.len()],
            line: 0,
            document: self.document,
            lines: Vec::new(),
        }
    }

    fn next_sentence(&mut self) -> Result<Option<Sentence>, ConllError> {
        let mut sentence = self.empty_sentence();
        // The line buffer is lent out while a line borrows it, and always given back.
        let mut buf = std::mem::take(&mut self.buf);
        let filled = self.fill(&mut sentence, &mut buf);
        self.buf = buf;
        filled?;
        Ok(self.finish(sentence))
    }

    /// Reads lines into `sentence` until the blank line or document start that ends it, or
    /// the end of the input.
    fn fill(&mut self, sentence: &mut Sentence, buf: &mut Vec<u8>) -> Result<(), ConllError> {
        loop {
            buf.clear();
            let n = self
                .input
                .read_until(b'\n', buf)
                .map_err(|e| self.err(ConllErrorKind::Io(e)))?;
            if n == 0 {
                return Ok(());
            }
            let line = self.decode_line(buf)?;
            if let Some(prefix) = &self.opts.comment_prefix {
                if line.starts_with(prefix.as_str()) {
                    continue;
                }
            }
            let fields: Vec<&str> = match crate::unicode::is_blank(line) {
                true => Vec::new(),
                false => line.split_whitespace().collect(),
            };
            let ends = match fields.first() {
                None => !sentence.tokens.is_empty(),
                Some(&"-DOCSTART-") => self.document_start(sentence),
                Some(_) => {
                    self.push_token(sentence, &fields, line)?;
                    false
                }
            };
            if ends {
                return Ok(());
            }
        }
    }

    /// Counts a line and decodes it as UTF-8, without its byte-order mark and line break.
    fn decode_line<'b>(&mut self, buf: &'b [u8]) -> Result<&'b str, ConllError> {
        self.line_no += 1;
        self.stats.lines += 1;
        let mut bytes = buf;
        if self.line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let line = std::str::from_utf8(bytes).map_err(|e| {
            self.err(ConllErrorKind::InvalidUtf8 {
                byte: e.valid_up_to() + 1,
            })
        })?;
        Ok(line.trim_end_matches(['\n', '\r']))
    }

    /// A `-DOCSTART-` line: a new document when the last one had content. Returns whether
    /// it ends the sentence being read.
    fn document_start(&mut self, sentence: &Sentence) -> bool {
        self.stats.docstarts += 1;
        if self.doc_has_content || !sentence.tokens.is_empty() {
            self.document += 1;
            self.doc_has_content = false;
        }
        !sentence.tokens.is_empty()
    }

    /// Adds a token line's word and tags to `sentence`.
    fn push_token(
        &mut self,
        sentence: &mut Sentence,
        fields: &[&str],
        line: &str,
    ) -> Result<(), ConllError> {
        check_columns(&mut self.ncols, fields.len(), self.line_no).map_err(|k| self.err(k))?;
        let pick = |c: Column| {
            c.resolve(fields.len())
                .ok_or(ConllErrorKind::MissingColumn {
                    column: c,
                    found: fields.len(),
                })
        };
        let tok = pick(self.opts.token_column).map_err(|k| self.err(k))?;
        if sentence.tokens.is_empty() {
            sentence.line = self.line_no;
            sentence.document = self.document;
        }
        sentence.tokens.push(fields[tok].to_owned());
        if self.opts.keep_lines {
            sentence.lines.push(line.trim_end().to_owned());
        }
        for (i, &c) in self.opts.tag_columns.iter().enumerate() {
            let idx = pick(c).map_err(|k| self.err(k))?;
            let tag = intern_tag(&mut self.labels, fields[idx]).map_err(|k| self.err(k))?;
            sentence.tags[i].push(tag);
            sentence.raw_tags[i].push(fields[idx].to_owned());
        }
        Ok(())
    }

    /// Counts a complete sentence and feeds the scheme detectors; `None` for no sentence.
    fn finish(&mut self, sentence: Sentence) -> Option<Sentence> {
        if sentence.tokens.is_empty() {
            return None;
        }
        for ((d, typed), raw) in self
            .detectors
            .iter_mut()
            .zip(&sentence.tags)
            .zip(&sentence.raw_tags)
        {
            d.observe_typed(typed, raw.iter().any(|t| t.starts_with("M-")));
        }
        self.doc_has_content = true;
        self.stats.sentences += 1;
        self.stats.tokens += sentence.tokens.len();
        Some(sentence)
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Sentence, ConllError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_sentence() {
            Ok(Some(s)) => Some(Ok(s)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Every token line has the columns of the first one.
fn check_columns(
    ncols: &mut Option<(usize, usize)>,
    found: usize,
    line: usize,
) -> Result<(), ConllErrorKind> {
    match *ncols {
        None => *ncols = Some((found, line)),
        Some((expected, first_line)) if expected != found => {
            return Err(ConllErrorKind::ColumnCount {
                found,
                expected,
                first_line,
            })
        }
        Some(_) => {}
    }
    Ok(())
}

/// Parses a tag once, interning its label.
fn intern_tag(labels: &mut LabelSet, tag: &str) -> Result<Tag, ConllErrorKind> {
    let (prefix, ty) = parse_tag(tag).map_err(ConllErrorKind::Tag)?;
    if prefix == Prefix::O {
        return Ok(Tag::O);
    }
    labels
        .intern(ty)
        .map(|id| Tag::new(prefix, id))
        .ok_or(ConllErrorKind::TooManyLabels)
}

/// Reads a whole file into memory (for training sets), stopping at the first error.
pub fn read_file(path: &Path, opts: ReaderOptions) -> Result<Vec<Sentence>, ConllError> {
    Reader::open(path, opts)?.collect()
}

impl<R: BufRead> Reader<R> {
    /// Reads every remaining sentence; returns them with the labels and the first tag
    /// column's detected scheme.
    pub fn read_all(mut self) -> Result<(Vec<Sentence>, LabelSet, crate::TagScheme), ConllError> {
        let mut out = Vec::new();
        for s in self.by_ref() {
            out.push(s?);
        }
        let scheme = self.scheme_of(0).unwrap_or(crate::TagScheme::Bio);
        Ok((out, self.labels, scheme))
    }
}

/// Writes one sentence: for each token, the token and then each column's value, separated by
/// single spaces, then a blank line. With the gold and a predicted tag column this is the
/// layout conlleval reads.
pub fn write_sentence<W: Write>(
    out: &mut W,
    tokens: &[String],
    columns: &[&[String]],
) -> io::Result<()> {
    for (i, tok) in tokens.iter().enumerate() {
        out.write_all(tok.as_bytes())?;
        for col in columns {
            out.write_all(b" ")?;
            out.write_all(col.get(i).map_or("O", String::as_str).as_bytes())?;
        }
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8], opts: ReaderOptions) -> Result<Vec<Sentence>, ConllError> {
        Reader::new(text, "mem", opts).collect()
    }

    #[test]
    fn lines_of_invisible_format_characters_are_blank() {
        // A zero-width space line between sentences, a BOM alone on the last line (as a public
        // corpus's dev file has), a word joiner with spaces.
        let text = "EU B-ORG\nrejects O\n\u{200B}\nPeter B-PER\n \u{2060} \nX O\n\u{FEFF}\n";
        let s = read(text.as_bytes(), ReaderOptions::default()).unwrap();
        let tokens: Vec<&[String]> = s.iter().map(|s| s.tokens.as_slice()).collect();
        assert_eq!(tokens, [&["EU", "rejects"][..], &["Peter"], &["X"]]);
        // A visible token next to a format character is still a token (with its column count).
        let err = read("a O\n\u{200B}b\n".as_bytes(), ReaderOptions::default()).unwrap_err();
        assert!(err.to_string().starts_with("mem:2:"), "{err}");
    }

    #[test]
    fn reads_messy_input() {
        let text = b"\xEF\xBB\xBF-DOCSTART- -X- -X- O\r\n\r\nEU NNP B-NP B-ORG\r\nrejects\tVBZ B-VP O  \r\n   \r\n\r\nPeter NNP B-NP B-PER\n-DOCSTART- -X- O O\n\nX NNP B-NP I-LOC";
        let s = read(text, ReaderOptions::default()).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].tokens, ["EU", "rejects"]);
        assert_eq!(s[0].raw_tags[0], ["B-ORG", "O"]);
        assert_eq!((s[0].line, s[0].document), (3, 0));
        assert_eq!((s[1].line, s[1].document), (7, 0));
        assert_eq!((s[2].tokens[0].as_str(), s[2].document), ("X", 1));
    }

    #[test]
    fn selects_columns_and_skips_comments() {
        let text = b"# sent 1\na 1 B-X O\nb 2 I-X B-X\n";
        let opts = ReaderOptions {
            token_column: Column::Index(1),
            tag_columns: vec![Column::FromEnd(1), Column::LAST],
            comment_prefix: Some("#".into()),
            keep_lines: true,
        };
        let s = read(text, opts).unwrap();
        assert_eq!(s[0].tokens, ["1", "2"]);
        assert_eq!(s[0].lines, ["a 1 B-X O", "b 2 I-X B-X"]);
        assert_eq!(s[0].raw_tags, [vec!["B-X", "I-X"], vec!["O", "B-X"]]);
        // Without the comment option `#` is a token, and its line's last column is no tag.
        let e = read(text, ReaderOptions::default()).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(matches!(e.kind, ConllErrorKind::Tag(_)));
        let e = read(
            b"a 1 B-X
b 2 3 I-X
",
            ReaderOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(matches!(
            e.kind,
            ConllErrorKind::ColumnCount {
                found: 4,
                expected: 3,
                first_line: 1
            }
        ));
    }

    #[test]
    fn errors_name_the_line() {
        let e = read(b"a B-X\nb Q-X\n", ReaderOptions::default()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e
            .to_string()
            .starts_with("mem:2: tag \"Q-X\" has an unknown prefix"));
        let e = read(b"a O\n\nb \xFF O\n", ReaderOptions::default()).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(matches!(e.kind, ConllErrorKind::InvalidUtf8 { byte: 3 }));
        let opts = ReaderOptions {
            tag_columns: vec![Column::Index(4)],
            ..Default::default()
        };
        let e = read(b"a O\n", opts).unwrap_err();
        assert!(e.to_string().contains("column 5 does not exist"), "{e}");
    }

    #[test]
    fn writes_what_it_reads() {
        let s = read(b"a B-X\nb I-X\n\nc O\n", ReaderOptions::default()).unwrap();
        let mut out = Vec::new();
        for sent in &s {
            write_sentence(
                &mut out,
                &sent.tokens,
                &[&sent.raw_tags[0], &sent.raw_tags[0]],
            )
            .unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a B-X B-X\nb I-X I-X\n\nc O O\n\n"
        );
    }
}
