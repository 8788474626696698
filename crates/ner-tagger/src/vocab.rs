//! Word and character vocabularies, word normalisation and the casing feature.
//!
//! Index 0 is padding and 1 the unknown entry in both vocabularies. Vocabularies are built from
//! training data, extended by pretrained vectors when asked, and frozen in `vocab.json`.

use crate::config::ModelConfig;
use crate::lexicon::Lexicon;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The padding id.
pub const PAD: i64 = 0;
/// The unknown word's id.
pub const UNK: i64 = 1;
const SPECIALS: [&str; 2] = ["<pad>", "<unk>"];

/// Casing classes of a word (index 0 is padding).
pub const CASING_CLASSES: i64 = 9;

/// The casing class of a token: 1 all caps, 2 initial capital, 3 lower case, 4 mixed case,
/// 5 numeric, 6 contains a digit, 7 punctuation only, 8 other (scripts without case).
pub fn casing(word: &str) -> i64 {
    let mut upper = 0;
    let mut lower = 0;
    let mut digit = 0;
    let mut alnum = 0;
    let mut n = 0;
    for c in word.chars() {
        n += 1;
        if c.is_uppercase() {
            upper += 1;
        } else if c.is_lowercase() {
            lower += 1;
        }
        if c.is_numeric() {
            digit += 1;
        }
        if c.is_alphanumeric() {
            alnum += 1;
        }
    }
    let first_upper = word.chars().next().is_some_and(char::is_uppercase);
    if n > 0 && digit == n {
        5
    } else if digit > 0 {
        6
    } else if alnum == 0 {
        7
    } else if upper > 0 && lower == 0 {
        if n == 1 {
            2
        } else {
            1
        }
    } else if first_upper && upper == 1 {
        2
    } else if upper == 0 && lower > 0 {
        3
    } else if upper > 0 {
        4
    } else {
        8
    }
}

/// One sentence (or a window of sentences, see [`crate::context`]) as model inputs (no
/// padding).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Encoded {
    /// Word ids.
    pub words: Vec<i64>,
    /// Each word's character ids.
    pub chars: Vec<Vec<i64>>,
    /// Each word's casing class.
    pub casing: Vec<i64>,
    /// Word-piece ids per word, when the model has subword vectors.
    pub pieces: Vec<Vec<i64>>,
    /// Bigram ids, when the model has bigram features: for each token, its bigram with its
    /// left neighbour and with its right neighbour (sentence boundaries count as neighbours).
    pub bigrams: Vec<[i64; 2]>,
    /// Gold tag indices, for training.
    pub tags: Option<Vec<i64>>,
    /// A teacher's posterior over the tags, for training by distillation.
    pub soft: Option<Soft>,
    /// SoftLexicon sets, when the model has them: entry `4 t + s` holds the `(word id,
    /// weight)` pairs of set `s` of token `t` (see [`crate::lexicon`]).
    pub lexicon: Vec<Vec<(i64, f32)>>,
    /// The transformer's pieces of each word, when the model has contextual features (set by
    /// [`crate::codec::Codec::encode`]; the network turns them into `contextual`).
    pub transformer: Vec<Vec<i64>>,
    /// Contextual features `[len, layers, dim]` row-major, when the model has them.
    pub contextual: Vec<f32>,
    /// The lengths of the sentences concatenated into this sequence (empty: one sentence).
    pub parts: Vec<usize>,
}

/// A teacher model's posterior over a sequence's tags, in the student's tag indices: what the
/// distillation loss needs of it (the expected score of a path is linear in these).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Soft {
    /// Per-token marginals `[len, K]` row-major.
    pub unary: Vec<f32>,
    /// Expected transition counts `[K, K]` (`[from * K + to]`), one matrix per sentence of
    /// the sequence, in order.
    pub pairs: Vec<f32>,
}

impl Encoded {
    /// Words in the sentence.
    pub fn len(&self) -> usize {
        self.words.len()
    }
    /// Whether the sentence has no word.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
    /// How many sentences this sequence holds (see [`Encoded::parts`]).
    pub fn sentences(&self) -> usize {
        self.parts.len().max(1)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
/// A model's vocabularies: words, characters, bigrams, lexicon and subword pieces.
pub struct Vocab {
    words: Vec<String>,
    chars: Vec<String>,
    lowercase: bool,
    normalize_digits: bool,
    max_word_chars: usize,
    /// Token bigrams (normalised, joined by U+001F), after the two special entries; empty when
    /// the model has no bigram features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    bigrams: Vec<String>,
    #[serde(skip)]
    bigram_index: HashMap<String, i64>,
    /// Lexicon words for SoftLexicon features, when the model has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lexicon: Option<Lexicon>,
    #[serde(skip)]
    word_index: HashMap<String, i64>,
    #[serde(skip)]
    char_index: HashMap<char, i64>,
    /// The word-piece tokenizer of the model's subword vectors, if any.
    #[serde(skip)]
    subword: Option<tokenizers::Tokenizer>,
    /// Word pieces of the words seen so far: running the tokenizer costs microseconds per
    /// word, a lookup tens of nanoseconds, and text repeats its words.
    #[serde(skip)]
    piece_cache: PieceCache,
}

/// A bounded memo of word -> word-piece ids (cleared when full).
#[derive(Default)]
struct PieceCache(std::sync::Mutex<HashMap<String, Vec<i64>>>);

/// Words remembered by [`PieceCache`] before it starts over.
const PIECE_CACHE_WORDS: usize = 200_000;

impl Clone for PieceCache {
    fn clone(&self) -> Self {
        PieceCache::default()
    }
}

impl std::fmt::Debug for PieceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PieceCache")
    }
}

impl Vocab {
    /// Builds from training tokens: every normalised word seen at least `min_count` times, and
    /// every character.
    pub fn build<'a>(
        tokens: impl IntoIterator<Item = &'a str>,
        config: &ModelConfig,
        min_count: usize,
    ) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut char_counts: HashMap<char, usize> = HashMap::new();
        let mut v = Vocab {
            words: Vec::new(),
            chars: Vec::new(),
            lowercase: config.lowercase,
            normalize_digits: config.normalize_digits,
            max_word_chars: config.max_word_chars,
            bigrams: Vec::new(),
            bigram_index: HashMap::new(),
            lexicon: None,
            word_index: HashMap::new(),
            char_index: HashMap::new(),
            subword: None,
            piece_cache: PieceCache::default(),
        };
        for t in tokens {
            *counts.entry(v.normalize(t)).or_default() += 1;
            for c in t.chars() {
                *char_counts.entry(c).or_default() += 1;
            }
        }
        let mut words: Vec<_> = counts
            .into_iter()
            .filter(|(_, n)| *n >= min_count.max(1))
            .map(|(w, _)| w)
            .collect();
        words.sort();
        let mut chars: Vec<_> = char_counts.into_keys().collect();
        chars.sort();
        v.words = SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain(words)
            .collect();
        v.chars = SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain(chars.into_iter().map(String::from))
            .collect();
        v.reindex();
        v
    }

    /// Adds the bigram vocabulary: every bigram of adjacent tokens (sentence boundaries
    /// included) seen at least `min_count` times in `sentences`. Rarer bigrams map to the
    /// unknown entry, which they train.
    pub fn build_bigrams<S: AsRef<str>>(
        &mut self,
        sentences: impl IntoIterator<Item = impl AsRef<[S]>>,
        min_count: usize,
    ) {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for s in sentences {
            for key in self.bigram_keys(s.as_ref()) {
                *counts.entry(key).or_default() += 1;
            }
        }
        let mut bigrams: Vec<_> = counts
            .into_iter()
            .filter(|(_, n)| *n >= min_count.max(1))
            .map(|(b, _)| b)
            .collect();
        bigrams.sort();
        self.bigrams = SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain(bigrams)
            .collect();
        self.reindex();
    }

    /// The `len() + 1` bigram keys of a sentence.
    fn bigram_keys<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<String> {
        const BOS: &str = "\u{2}";
        const EOS: &str = "\u{3}";
        let norm: Vec<String> = tokens.iter().map(|t| self.normalize(t.as_ref())).collect();
        (0..=norm.len())
            .map(|i| {
                let left = if i == 0 { BOS } else { &norm[i - 1] };
                let right = norm.get(i).map_or(EOS, String::as_str);
                format!("{left}\u{1f}{right}")
            })
            .collect()
    }

    /// Attaches the lexicon of SoftLexicon features.
    pub fn set_lexicon(&mut self, lexicon: Option<Lexicon>) {
        self.lexicon = lexicon;
    }

    /// Whether the lexicon keeps the whole dictionary (its last entry is `<unseen>`).
    pub fn lexicon_keeps_unseen(&self) -> bool {
        self.lexicon
            .as_ref()
            .is_some_and(|l| l.unseen_id().is_some())
    }

    /// Lexicon entries (0 without a lexicon).
    pub fn num_lexicon(&self) -> usize {
        self.lexicon.as_ref().map_or(0, Lexicon::len)
    }

    /// Rebuilds the lookup tables (after deserialising).
    pub fn reindex(&mut self) {
        if let Some(l) = &mut self.lexicon {
            l.reindex();
        }
        self.bigram_index = self
            .bigrams
            .iter()
            .enumerate()
            .map(|(i, b)| (b.clone(), i as i64))
            .collect();
        self.word_index = self
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as i64))
            .collect();
        self.char_index = self
            .chars
            .iter()
            .enumerate()
            .skip(SPECIALS.len())
            .filter_map(|(i, c)| {
                let mut it = c.chars();
                match (it.next(), it.next()) {
                    (Some(ch), None) => Some((ch, i as i64)),
                    _ => None,
                }
            })
            .collect();
    }

    /// Checks a deserialised vocabulary.
    pub fn validate(&self) -> Result<(), String> {
        if self.words.len() < 2
            || self.words[..2] != SPECIALS
            || self.chars[..2.min(self.chars.len())] != SPECIALS
        {
            return Err("vocabulary must start with <pad> and <unk>".into());
        }
        if !self.bigrams.is_empty() && (self.bigrams.len() < 2 || self.bigrams[..2] != SPECIALS) {
            return Err("bigram vocabulary must start with <pad> and <unk>".into());
        }
        if self.bigram_index.len() != self.bigrams.len() {
            return Err("vocabulary has duplicate bigrams".into());
        }
        if let Some(l) = &self.lexicon {
            l.validate()?;
        }
        if self.word_index.len() != self.words.len() {
            return Err("vocabulary has duplicate words".into());
        }
        if self.char_index.len() + SPECIALS.len() != self.chars.len() {
            return Err(
                "character vocabulary has duplicates or entries that are not one character".into(),
            );
        }
        Ok(())
    }

    /// The lookup form of a word.
    pub fn normalize(&self, word: &str) -> String {
        let w = if self.lowercase {
            word.to_lowercase()
        } else {
            word.to_owned()
        };
        if self.normalize_digits {
            w.chars()
                .map(|c| if c.is_ascii_digit() { '0' } else { c })
                .collect()
        } else {
            w
        }
    }

    /// Adds a word (already normalised) and returns its index.
    pub fn add_word(&mut self, word: &str) -> i64 {
        if let Some(&i) = self.word_index.get(word) {
            return i;
        }
        let i = self.words.len() as i64;
        self.words.push(word.to_owned());
        self.word_index.insert(word.to_owned(), i);
        i
    }

    /// A word's id (`UNK` when unknown).
    pub fn word_id(&self, word: &str) -> i64 {
        let n = self.normalize(word);
        if let Some(&i) = self.word_index.get(&n) {
            return i;
        }
        if !self.lowercase {
            if let Some(&i) = self.word_index.get(&n.to_lowercase()) {
                return i;
            }
        }
        UNK
    }

    /// A word's character ids.
    pub fn char_ids(&self, word: &str) -> Vec<i64> {
        word.chars()
            .take(self.max_word_chars)
            .map(|c| self.char_index.get(&c).copied().unwrap_or(UNK))
            .collect()
    }

    /// A sentence's ids.
    pub fn encode<S: AsRef<str>>(&self, tokens: &[S]) -> Encoded {
        Encoded {
            words: tokens.iter().map(|t| self.word_id(t.as_ref())).collect(),
            chars: tokens.iter().map(|t| self.char_ids(t.as_ref())).collect(),
            casing: tokens.iter().map(|t| casing(t.as_ref())).collect(),
            pieces: match &self.subword {
                Some(tok) => {
                    let mut cache = self
                        .piece_cache
                        .0
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if cache.len() + tokens.len() > PIECE_CACHE_WORDS {
                        cache.clear();
                    }
                    tokens
                        .iter()
                        .map(|t| {
                            let t = t.as_ref();
                            if let Some(p) = cache.get(t) {
                                return p.clone();
                            }
                            let p = crate::subword::pieces(tok, t);
                            cache.insert(t.to_owned(), p.clone());
                            p
                        })
                        .collect()
                }
                None => Vec::new(),
            },
            bigrams: if self.bigrams.is_empty() {
                Vec::new()
            } else {
                let ids: Vec<i64> = self
                    .bigram_keys(tokens)
                    .iter()
                    .map(|k| self.bigram_index.get(k).copied().unwrap_or(UNK))
                    .collect();
                ids.windows(2).map(|w| [w[0], w[1]]).collect()
            },
            tags: None,
            soft: None,
            lexicon: self
                .lexicon
                .as_ref()
                .map_or_else(Vec::new, |l| l.features(tokens)),
            transformer: Vec::new(),
            contextual: Vec::new(),
            parts: Vec::new(),
        }
    }

    /// Attaches the word-piece tokenizer of subword vectors.
    pub fn set_subword(&mut self, tokenizer: Option<tokenizers::Tokenizer>) {
        self.subword = tokenizer;
        self.piece_cache = PieceCache::default();
    }

    /// The subword tokenizer, when the model has one.
    pub fn subword(&self) -> Option<&tokenizers::Tokenizer> {
        self.subword.as_ref()
    }

    /// Words in the vocabulary.
    pub fn num_words(&self) -> usize {
        self.words.len()
    }
    /// Characters in the vocabulary.
    pub fn num_chars(&self) -> usize {
        self.chars.len()
    }
    /// Size of the bigram vocabulary (0 when the model has no bigram features).
    pub fn num_bigrams(&self) -> usize {
        self.bigrams.len()
    }
    /// The words, in id order.
    pub fn words(&self) -> &[String] {
        &self.words
    }
    /// Whether the (normalised) word is known.
    pub fn contains(&self, normalized: &str) -> bool {
        self.word_index.contains_key(normalized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casing_classes() {
        let cases = [
            ("EU", 1),
            ("Peter", 2),
            ("A", 2),
            ("rejects", 3),
            ("iPhone", 4),
            ("1996", 5),
            ("1996-08-22", 6),
            ("F1", 6),
            (",", 7),
            ("中国", 8),
        ];
        for (w, c) in cases {
            assert_eq!(casing(w), c, "{w}");
        }
    }

    #[test]
    fn builds_and_encodes() {
        let cfg = ModelConfig {
            normalize_digits: true,
            max_word_chars: 3,
            ..Default::default()
        };
        let v = Vocab::build(["The", "the", "cat", "1996"], &cfg, 1);
        assert_eq!(v.words(), ["<pad>", "<unk>", "0000", "cat", "the"]);
        let e = v.encode(&["THE", "dog", "2001", "cats"]);
        assert_eq!(e.words, [4, UNK, 2, UNK]);
        assert_eq!(e.chars[3].len(), 3);
        assert_eq!(e.chars[1][0], v.char_ids("d")[0]);
        assert_eq!(e.casing, [1, 3, 5, 3]);
        let mut back: Vocab = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        back.reindex();
        back.validate().unwrap();
        assert_eq!(back.encode(&["THE", "dog"]), v.encode(&["THE", "dog"]));
    }

    #[test]
    fn a_lexicon_survives_saving_and_loading() {
        let train = [vec!["北", "京", "人"]];
        let mut v = Vocab::build(train.iter().flatten().copied(), &ModelConfig::default(), 1);
        let dict = crate::lexicon::Dictionary::from_words(["北京", "京人", "人"]);
        let refs: Vec<&[&str]> = train.iter().map(Vec::as_slice).collect();
        v.set_lexicon(Some(Lexicon::build(&dict, &refs, false)));
        let e = v.encode(&["北", "京", "人"]);
        assert_eq!(e.lexicon.len(), 3 * crate::lexicon::SETS);
        let mut back: Vocab = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        back.reindex();
        back.validate().unwrap();
        assert_eq!(back.encode(&["北", "京", "人"]), e);
        assert_eq!(back.num_lexicon(), 2 + 3);
        // The whole dictionary: 北京 and 人 matched, 京城 kept under <unseen>.
        let dict = crate::lexicon::Dictionary::from_words(["北京", "人", "京城"]);
        v.set_lexicon(Some(Lexicon::build(&dict, &refs, true)));
        let e = v.encode(&["京", "城"]);
        let mut back: Vocab = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        back.reindex();
        back.validate().unwrap();
        assert_eq!(back.encode(&["京", "城"]), e);
        assert_eq!(
            e.lexicon[0],
            vec![(4, 1.0)],
            "京 begins 京城, an <unseen> word"
        );
        assert_eq!(back.num_lexicon(), 2 + 2 + 1);
    }

    #[test]
    fn bigrams_of_neighbours() {
        let cfg = ModelConfig {
            lowercase: false,
            ..Default::default()
        };
        let train = [vec!["北", "京"], vec!["北", "京", "人"], vec!["南", "京"]];
        let mut v = Vocab::build(train.iter().flatten().copied(), &cfg, 1);
        v.build_bigrams(&train, 2);
        // Seen twice: <s>北, 北京, 京</s>; seen once (unknown): 京人, 人</s>, <s>南, 南京.
        assert_eq!(v.num_bigrams(), 2 + 3);
        let e = v.encode(&["北", "京"]);
        // One (left, right) pair per token; the right bigram of a token is the left one of
        // the next.
        assert_eq!(e.bigrams.len(), 2);
        assert!(e.bigrams.iter().flatten().all(|&b| b > UNK));
        assert_eq!(e.bigrams[0][1], e.bigrams[1][0]);
        let e = v.encode(&["南", "京", "人"]);
        assert_eq!(e.bigrams, [[UNK; 2]; 3]);
        let e = v.encode(&["京"]);
        assert_eq!(e.bigrams[0][0], UNK);
        assert_eq!(e.bigrams[0][1], v.encode(&["北", "京"]).bigrams[1][1]);
        let mut back: Vocab = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        back.reindex();
        back.validate().unwrap();
        assert_eq!(back.encode(&["北", "京"]), v.encode(&["北", "京"]));
        // A vocabulary without bigrams encodes none.
        assert!(Vocab::build(["a"], &cfg, 1)
            .encode(&["a"])
            .bigrams
            .is_empty());
    }
}
