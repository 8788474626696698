//! Raw text to words with offsets, close to CoNLL-2003's tokenisation, and to sentences.
//!
//! The text is first cut at whitespace and control characters by a `tokenizers`
//! pre-tokenization pass (its `PreTokenizedString` keeps the alignment to the original text),
//! then each piece is split by CoNLL-2003's conventions, which the tests below document:
//!
//! - punctuation is split off (`"Hello,"` → `Hello` `,`), runs of the same mark stay together
//!   (`...`, `--`);
//! - abbreviations with inner periods stay whole (`U.S.`, `e.g.`), and so do common
//!   abbreviations with a final period (`Mr.`, `Inc.`, `Corp.`);
//! - numbers keep their inner `.,:/-` (`1996-08-22`, `1,000.5`, `6-4`, `12:30`);
//! - hyphenated words stay whole (`Anglo-Dutch`);
//! - clitics are split as in the Penn Treebank: `don't` → `do` `n't`, `Peter's` → `Peter` `'s`;
//!   other inner apostrophes stay (`O'Brien`).
//!
//! In [`Mode::Char`], for Chinese and Japanese models trained on character-per-line corpora,
//! every character is a token. Combining marks, variation selectors and zero-width joiners
//! always stay with the character before them, so no token starts inside a grapheme.
//!
//! Offsets are UTF-8 byte ranges into the original text; [`crate::offsets`] converts them.

use serde::{Deserialize, Serialize};
use std::ops::Range;
use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, SplitDelimiterBehavior};

/// How text is cut into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Words and punctuation, as in CoNLL-2003.
    #[default]
    Word,
    /// One token per character (Chinese, Japanese).
    Char,
}

/// A token: a byte range of the original text.
pub type Token = Range<usize>;

/// Tokenises `text` into byte ranges, in text order. Every range is non-empty and slices
/// `text` at character boundaries.
pub fn tokenize(text: &str, mode: Mode) -> Vec<Token> {
    let mut pre = PreTokenizedString::from(text);
    let split = pre.split(|_, normalized| {
        normalized.split(
            |c: char| c.is_whitespace() || (c.is_control() && !is_joiner(c)),
            SplitDelimiterBehavior::Removed,
        )
    });
    let mut out = Vec::new();
    if split.is_err() {
        // The closure cannot fail; fall back to a plain split rather than lose the text.
        for (start, piece) in whitespace_pieces(text) {
            split_piece(piece, start, mode, &mut out);
        }
        return out;
    }
    for (piece, (start, _end), _) in pre.get_splits(OffsetReferential::Original, OffsetType::Byte) {
        split_piece(piece, start, mode, &mut out);
    }
    out
}

/// The same cut as the pre-tokenization pass, by hand.
fn whitespace_pieces(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = None;
    let mut v = Vec::new();
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let sep = c.is_whitespace() || (c.is_control() && !is_joiner(c));
        match (sep, start) {
            (true, Some(s)) => {
                v.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    v.into_iter()
}

/// Characters that never start a token: combining marks, variation selectors, joiners.
fn attaches(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x05BF | 0x05C1..=0x05C2
        | 0x05C4..=0x05C5 | 0x05C7 | 0x0610..=0x061A | 0x064B..=0x065F | 0x0670
        | 0x06D6..=0x06DC | 0x06DF..=0x06E4 | 0x06E7..=0x06E8 | 0x06EA..=0x06ED
        | 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957 | 0x0962..=0x0963
        | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E
        | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x200C..=0x200D | 0x20D0..=0x20FF
        | 0x302A..=0x302F | 0x3099..=0x309A | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F
        | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F | 0xE0100..=0xE01EF)
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// Punctuation that is split off words.
fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation();
    }
    matches!(c as u32,
        0x00A1..=0x00BF | 0x00D7 | 0x00F7 | 0x2010..=0x2027 | 0x2030..=0x205E
        | 0x3000..=0x303F | 0xFF01..=0xFF0F | 0xFF1A..=0xFF20 | 0xFF3B..=0xFF40
        | 0xFF5B..=0xFF65)
}

/// Whether a character is written as its own token in Chinese and Japanese.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF
        | 0x1100..=0x11FF | 0x3130..=0x318F | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "inc", "corp", "co", "ltd", "plc", "bros",
    "gen", "gov", "sen", "rep", "col", "lt", "sgt", "capt", "cmdr", "adm", "rev", "hon", "vs",
    "etc", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "mt", "ft", "ave", "blvd", "dept", "est", "fig", "approx",
];

const CLITICS: &[&str] = &[
    "'s", "'re", "'m", "'ve", "'ll", "'d", "’s", "’re", "’m", "’ve", "’ll", "’d",
];

/// Splits one whitespace-free piece starting at byte `base` of the text.
fn split_piece(piece: &str, base: usize, mode: Mode, out: &mut Vec<Token>) {
    if mode == Mode::Char {
        return split_chars(piece, base, out);
    }
    let chars: Vec<(usize, char)> = piece.char_indices().collect();
    let n = chars.len();
    let byte_at = |i: usize| if i < n { chars[i].0 } else { piece.len() };
    let mut i = 0;
    while i < n {
        let c = chars[i].1;
        let start = i;
        if is_cjk(c) {
            i = skip_attached(&chars, i + 1);
        } else if is_punct(c)
            && !(is_apostrophe(c) && (clitic_at(&chars, i) || clitic_token(&chars, i)))
        {
            i = scan_punct(&chars, i);
        } else {
            // A word, or a clitic written apart (`'s`), whose apostrophe starts it.
            i = scan_word(&chars, if is_apostrophe(c) { i + 1 } else { i });
            // Penn Treebank clitics: `do|n't`, `Peter|'s`.
            let word = &piece[byte_at(start)..byte_at(i)];
            if let Some(cut) = clitic_split(word) {
                let mid = byte_at(start) + cut;
                out.push(base + byte_at(start)..base + mid);
                out.push(base + mid..base + byte_at(i));
                continue;
            }
            // An abbreviation keeps its final period: `Mr.`, `U.S.`.
            if i < n && chars[i].1 == '.' && keeps_period(word) {
                i += 1;
            }
        }
        if i == start {
            i += 1; // never loop forever
        }
        out.push(base + byte_at(start)..base + byte_at(i));
    }
}

/// Character mode: every character a token, with the marks that attach to it.
fn split_chars(piece: &str, base: usize, out: &mut Vec<Token>) {
    let mut start: Option<usize> = None;
    for (i, c) in piece.char_indices() {
        if attaches(c) && start.is_some() {
            continue;
        }
        if let Some(s) = start {
            out.push(base + s..base + i);
        }
        start = Some(i);
    }
    if let Some(s) = start {
        out.push(base + s..base + piece.len());
    }
}

/// The index after the marks that attach to the character before `i`.
fn skip_attached(chars: &[(usize, char)], mut i: usize) -> usize {
    while i < chars.len() && attaches(chars[i].1) {
        i += 1;
    }
    i
}

/// The end of the punctuation token at `start`: a run of the same mark, or a number like `.5`.
fn scan_punct(chars: &[(usize, char)], start: usize) -> usize {
    let c = chars[start].1;
    let i = start + 1;
    if c == '.' && start == 0 && i < chars.len() && chars[i].1.is_ascii_digit() {
        return scan_word(chars, i);
    }
    let mut i = i;
    while i < chars.len() && (chars[i].1 == c || attaches(chars[i].1)) {
        i += 1;
    }
    i
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '’'
}

/// Whether the piece from `i` to its end is a clitic written apart (`'s` in `Peter 's`).
fn clitic_token(chars: &[(usize, char)], i: usize) -> bool {
    let rest: String = chars[i..]
        .iter()
        .map(|x| x.1)
        .collect::<String>()
        .to_lowercase();
    CLITICS.contains(&rest.as_str())
}

/// Whether an apostrophe at `i` is inside a word (`O'Brien`, `don't`) rather than a quote.
fn clitic_at(chars: &[(usize, char)], i: usize) -> bool {
    i > 0
        && chars[i - 1].1.is_alphanumeric()
        && chars.get(i + 1).is_some_and(|x| x.1.is_alphabetic())
}

/// Scans a word from `i`: letters, digits, marks, symbols, and `. , : / - ' ’` when they stand
/// between two word characters (digits for `. , : /`).
fn scan_word(chars: &[(usize, char)], mut i: usize) -> usize {
    let n = chars.len();
    let wordy = |c: char| !is_punct(c) || attaches(c);
    while i < n {
        let c = chars[i].1;
        if is_cjk(c) {
            break;
        }
        if wordy(c) {
            i += 1;
            continue;
        }
        let prev = if i > 0 { Some(chars[i - 1].1) } else { None };
        let next = chars.get(i + 1).map(|x| x.1);
        let between = |f: fn(char) -> bool| prev.is_some_and(f) && next.is_some_and(f);
        let inner = match c {
            '.' | ',' | ':' | '/' => {
                between(|x| x.is_ascii_digit()) || (c == '.' && is_initials(chars, i))
            }
            '-' => between(|x| x.is_alphanumeric()),
            '\'' | '’' => between(|x| x.is_alphanumeric()),
            '&' => between(|x| x.is_ascii_uppercase()),
            _ => false,
        };
        if !inner {
            break;
        }
        i += 1;
    }
    i
}

/// A period inside `U.S` / `e.g`: single letters separated by periods.
fn is_initials(chars: &[(usize, char)], i: usize) -> bool {
    let single_letter_before =
        i >= 1 && chars[i - 1].1.is_alphabetic() && (i < 2 || chars[i - 2].1 == '.');
    let letter_after = chars.get(i + 1).is_some_and(|x| x.1.is_alphabetic())
        && chars.get(i + 2).is_none_or(|x| x.1 == '.');
    single_letter_before && letter_after
}

fn keeps_period(word: &str) -> bool {
    let lower = word.to_lowercase();
    (word.contains('.') && word.chars().all(|c| c.is_alphabetic() || c == '.'))
        || ABBREVIATIONS.contains(&lower.as_str())
        || (word.chars().count() == 1 && word.chars().all(|c| c.is_uppercase()))
}

/// Where a clitic starts inside a word, if it has one.
fn clitic_split(word: &str) -> Option<usize> {
    let lower = word.to_lowercase();
    if lower.len() == word.len() {
        for suffix in ["n't", "n’t"] {
            if lower.ends_with(suffix) && lower.len() > suffix.len() {
                return Some(word.len() - suffix.len());
            }
        }
        for suffix in CLITICS {
            if lower.ends_with(suffix) && lower.len() > suffix.len() {
                return Some(word.len() - suffix.len());
            }
        }
    }
    None
}

/// Groups tokens into sentences, as ranges of token indices. A sentence ends after `.`, `!`,
/// `?` (or `。！？`) when the next token starts with an upper-case letter, a digit, a quote or
/// a CJK character, at a blank line, or when it reaches `max_tokens` tokens, so any text is
/// processed in bounded pieces.
pub fn sentences(text: &str, tokens: &[Token], max_tokens: usize) -> Vec<Range<usize>> {
    let max_tokens = max_tokens.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..tokens.len() {
        let here = &text[tokens[i].clone()];
        let len = i + 1 - start;
        let mut end = len >= max_tokens;
        if let Some(next) = tokens.get(i + 1) {
            let gap = &text[tokens[i].end..next.start];
            if gap.matches('\n').count() >= 2 {
                end = true;
            }
            let first = text[next.clone()].chars().next().unwrap_or(' ');
            let ascii_terminal = here.chars().all(|c| matches!(c, '.' | '!' | '?'));
            let cjk_terminal = matches!(here, "。" | "！" | "？" | "；");
            let opens = first.is_uppercase()
                || first.is_ascii_digit()
                || matches!(first, '"' | '\'' | '“' | '‘' | '(' | '[')
                || is_cjk(first);
            if cjk_terminal || (ascii_terminal && opens) {
                end = true;
            }
        }
        if end {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < tokens.len() {
        out.push(start..tokens.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        tokenize(text, Mode::Word)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn conll_style_cases() {
        let cases: &[(&str, &[&str])] = &[
            ("Hello, world!", &["Hello", ",", "world", "!"]),
            ("The U.S. economy", &["The", "U.S.", "economy"]),
            ("BRUSSELS 1996-08-22", &["BRUSSELS", "1996-08-22"]),
            ("won 6-4 6-3.", &["won", "6-4", "6-3", "."]),
            ("1,000.5 dollars", &["1,000.5", "dollars"]),
            ("at 12:30 today", &["at", "12:30", "today"]),
            ("don't", &["do", "n't"]),
            ("Peter's car", &["Peter", "'s", "car"]),
            ("O'Brien said", &["O'Brien", "said"]),
            ("\"Quoted\"", &["\"", "Quoted", "\""]),
            ("'quoted'", &["'", "quoted", "'"]),
            ("Anglo-Dutch group", &["Anglo-Dutch", "group"]),
            (
                "Mr. Smith of Acme Inc. said",
                &["Mr.", "Smith", "of", "Acme", "Inc.", "said"],
            ),
            ("end.", &["end", "."]),
            ("wait...", &["wait", "..."]),
            ("(Reuters)", &["(", "Reuters", ")"]),
            ("AT&T", &["AT&T"]),
            ("Peter 's", &["Peter", "'s"]),
            ("does n't", &["does", "n't"]),
            ("e.g. this", &["e.g.", "this"]),
            ("中国人", &["中", "国", "人"]),
            ("", &[]),
            ("   \n\t", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(words(text), *want, "{text:?}");
        }
    }

    #[test]
    fn char_mode_keeps_marks_with_their_base() {
        let text = "高勇：男，e\u{301}👍🏽 ok";
        let got: Vec<_> = tokenize(text, Mode::Char)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(
            got,
            ["高", "勇", "：", "男", "，", "e\u{301}", "👍🏽", "o", "k"]
        );
    }

    #[test]
    fn splits_sentences() {
        let text =
            "Angela Merkel visited Paris. She met Macron! U.S. officials said so.\n\nNew paragraph";
        let toks = tokenize(text, Mode::Word);
        let sents: Vec<Vec<&str>> = sentences(text, &toks, 100)
            .into_iter()
            .map(|r| toks[r].iter().map(|t| &text[t.clone()]).collect())
            .collect();
        assert_eq!(sents.len(), 4, "{sents:?}");
        assert_eq!(sents[1], ["She", "met", "Macron", "!"]);
        assert_eq!(sents[3], ["New", "paragraph"]);
        let capped = sentences(text, &toks, 3);
        assert!(capped.iter().all(|r| r.len() <= 3));
        assert_eq!(capped.iter().map(|r| r.len()).sum::<usize>(), toks.len());
    }
}
