//! Texts from every corner of Unicode: controls and NUL, combining marks, ZWJ sequences,
//! right-to-left scripts, CJK, emoji, format characters, separators, very long words, many
//! sentences, and ordinary English with names.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;

const WORDS: &[&str] = &[
    "John", "Smith", "visited", "Paris", "on", "Monday", ".", "Acme", "Corp", "shares", "rose",
    "in", "New", "York", "trading", ",", "said", "EU", "rejects", "German", "call", "Ada",
    "Lovelace", "(", ")", "\"", "U.S.", "3.5", "%", "'s",
];

const PIECES: &[&str] = &[
    "\u{0}",
    "\u{1}",
    "\u{7f}",
    "\t",
    "\n",
    "\r\n",
    "\u{85}",
    "\u{2028}",
    "\u{2029}",
    "\u{a0}",
    "\u{3000}",
    "\u{200b}",
    "\u{200d}",
    "\u{feff}",
    "\u{202e}",
    "\u{2066}",
    "\u{ad}",
    "e\u{301}",
    "a\u{308}\u{308}\u{308}",
    "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}",
    "\u{1f1e9}\u{1f1ea}",
    "\u{1f44d}\u{1f3fd}",
    "שלום",
    "مرحبا",
    "北京市",
    "東京",
    "서울",
    "\u{10ffff}",
    "\u{fffd}",
    "\u{e000}",
    "Ω",
    "ß",
    "İ",
    "ﬁ",
    "𝔘𝔫𝔦",
    "...",
    "!!!",
    "?",
    ";",
];

/// A random text of one of several kinds.
pub fn text(rng: &mut StdRng) -> String {
    let kind = rng.random_range(0..20);
    let n = rng.random_range(1..60);
    match kind {
        0 => String::new(),
        1 => " \t\n ".repeat(n % 5 + 1),
        2 => ". ! ? ; , ".repeat(n % 20 + 1),
        3 => "x".repeat(100 * n),
        4 => sentences(rng, 2 * n),
        5..=10 => mixed(rng, n),
        _ => sentences(rng, n % 3 + 1),
    }
}

/// `n` English-like sentences.
fn sentences(rng: &mut StdRng, n: usize) -> String {
    let mut out = String::new();
    for _ in 0..n {
        let len = rng.random_range(1..25);
        for _ in 0..len {
            out.push_str(WORDS.choose(rng).copied().unwrap_or("x"));
            out.push(' ');
        }
        out.push_str(". ");
    }
    out
}

/// Words and odd pieces of Unicode, with odd separators.
fn mixed(rng: &mut StdRng, n: usize) -> String {
    let mut out = String::new();
    for _ in 0..n {
        let list = if rng.random_bool(0.5) { WORDS } else { PIECES };
        out.push_str(list.choose(rng).copied().unwrap_or("x"));
        if rng.random_bool(0.7) {
            out.push(if rng.random_bool(0.9) {
                ' '
            } else {
                '\u{2003}'
            });
        }
    }
    out
}
