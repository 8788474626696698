//! Word-lexicon features for character-level models: SoftLexicon (Ma et al. 2020). Every
//! character gets four sets of the lexicon words that match the sentence around it: words it
//! Begins, is in the Middle of, Ends, or that it is on its own (Single). Each set becomes the
//! frequency-weighted mean of its words' embeddings (a special `<none>` word stands in for an
//! empty set); the four means, concatenated, are the character's lexicon feature.
//!
//! Unlike the paper, which normalises the weights over all four sets together, each set is
//! normalised on its own: with counts taken from the training text, single characters (which
//! are words of the dictionary too) match thousands of times more often than longer words, and
//! a joint normalisation would leave the B, M and E sets with weights near zero.
//!
//! The lexicon of a model is the part of a dictionary (for example jieba's `dict.txt`, MIT)
//! that matches its training text, with the number of times each word matched as its weight;
//! it is stored in the vocabulary, so a model directory needs no dictionary to serve.
//!
//! A lexicon may also keep the rest of the dictionary ([`Lexicon::build`] with `whole`): the
//! words that never matched the training text share one entry, `<unseen>` (weight 1), so that
//! a new name made of dictionary words still marks where words begin and end. Training never
//! sees that entry by itself; lexicon dropout (`lexicon_dropout` in the model's configuration)
//! trains it by replacing matched training words with it, as word dropout trains `<unk>`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

/// Index of the padding entry and of `<none>`, the stand-in for an empty set.
pub const PAD: i64 = 0;
/// The id of an empty set.
pub const NONE: i64 = 1;
/// B, M, E, S.
pub const SETS: usize = 4;
/// The entry shared by dictionary words that never matched the training text.
pub const UNSEEN: &str = "<unseen>";
/// Words of one set kept per character (the most frequent).
pub const MAX_PER_SET: usize = 8;

/// The words of a dictionary, as read from a file of `word [frequency] ...` lines.
#[derive(Debug, Default)]
pub struct Dictionary {
    words: HashSet<String>,
    max_chars: usize,
}

impl Dictionary {
    /// Reads one word per line (further columns ignored); blank and `#` lines are skipped.
    pub fn read(path: &Path) -> Result<Dictionary> {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut d = Dictionary::default();
        for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| {
                Error::Data(format!(
                    "{}:{}: {e} (the lexicon must be UTF-8)",
                    path.display(),
                    n + 1
                ))
            })?;
            let Some(word) = line
                .split_whitespace()
                .next()
                .filter(|w| !w.starts_with('#'))
            else {
                continue;
            };
            d.max_chars = d.max_chars.max(word.chars().count());
            d.words.insert(word.to_owned());
        }
        if d.words.is_empty() {
            return Err(Error::Data(format!(
                "{}: the lexicon has no words",
                path.display()
            )));
        }
        Ok(d)
    }

    /// A dictionary of these words.
    pub fn from_words<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> Dictionary {
        let mut d = Dictionary::default();
        for w in words {
            let w = w.as_ref();
            d.max_chars = d.max_chars.max(w.chars().count());
            d.words.insert(w.to_owned());
        }
        d
    }

    fn contains(&self, w: &str) -> bool {
        self.words.contains(w)
    }
}

/// The lexicon of a model: matched words and their weights.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Lexicon {
    /// `<pad>`, `<none>`, then the words.
    words: Vec<String>,
    /// How often each word matched the training text (1 for the two specials).
    counts: Vec<f32>,
    /// The longest word, in tokens.
    max_tokens: usize,
    /// Dictionary words that never matched the training text, all sharing the `<unseen>` entry
    /// (the last of `words`); empty unless the lexicon was built `whole`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    unseen: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, i64>,
}

/// A word found in a sentence: tokens `start..=end`.
struct Match {
    start: usize,
    end: usize,
    id: i64,
}

impl Lexicon {
    /// The words of `dict` that match `sentences` (token sequences), counted; with `whole`,
    /// the other words of `dict` too, sharing the `<unseen>` entry.
    pub fn build<S: AsRef<str>>(dict: &Dictionary, sentences: &[&[S]], whole: bool) -> Lexicon {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for s in sentences {
            for_each_span(s, dict.max_chars, |w| {
                if dict.contains(w) {
                    *counts.entry(w.to_owned()).or_default() += 1;
                }
            });
        }
        let mut unseen: Vec<String> = match whole {
            true => dict
                .words
                .iter()
                .filter(|w| !counts.contains_key(*w))
                .cloned()
                .collect(),
            false => Vec::new(),
        };
        unseen.sort();
        let mut found: Vec<(String, usize)> = counts.into_iter().collect();
        found.sort();
        let max_tokens = found
            .iter()
            .map(|(w, _)| w)
            .chain(&unseen)
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(1);
        let mut lex = Lexicon {
            words: ["<pad>", "<none>"].map(String::from).into_iter().collect(),
            counts: vec![1.0, 1.0],
            max_tokens,
            unseen,
            index: HashMap::new(),
        };
        for (w, n) in found {
            lex.words.push(w);
            lex.counts.push(n as f32);
        }
        if whole {
            lex.words.push(UNSEEN.to_owned());
            lex.counts.push(1.0);
        }
        lex.reindex();
        lex
    }

    /// The id of `<unseen>`, when the lexicon keeps the whole dictionary.
    pub fn unseen_id(&self) -> Option<i64> {
        (self.words.last().map(String::as_str) == Some(UNSEEN)).then(|| self.words.len() as i64 - 1)
    }

    /// Dictionary words that matched the training text (each an entry of its own).
    pub fn num_matched(&self) -> usize {
        (self.words.len() - usize::from(self.unseen_id().is_some())).saturating_sub(2)
    }

    /// Dictionary words kept under `<unseen>`.
    pub fn num_unseen(&self) -> usize {
        self.unseen.len()
    }

    /// Rebuilds the lookup table (after deserialising).
    pub fn reindex(&mut self) {
        self.index = self
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as i64))
            .collect();
        if let Some(id) = self.unseen_id() {
            for w in &self.unseen {
                self.index.entry(w.clone()).or_insert(id);
            }
        }
    }

    /// Checks a deserialised lexicon.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.words.len() < 2
            || self.words.len() != self.counts.len()
            || self.index.len() != self.words.len() + self.unseen.len()
        {
            return Err("the lexicon's words and counts do not match, or words repeat".into());
        }
        if !self.unseen.is_empty() && self.unseen_id().is_none() {
            return Err(format!(
                "the lexicon lists unseen words but no {UNSEEN} entry"
            ));
        }
        if self.counts.iter().any(|c| !c.is_finite() || *c <= 0.0) {
            return Err("lexicon counts must be positive".into());
        }
        Ok(())
    }

    /// Entries, the two specials included.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the lexicon has no entry.
    pub fn is_empty(&self) -> bool {
        self.words.len() <= 2
    }

    /// The four weighted sets of every token, flattened: entry `4 t + s` holds `(word id,
    /// weight)` pairs of set `s` (B, M, E, S) of token `t`. Weights are `z(w) / Z`, `Z` the
    /// sum of `z` over the set, so that each set's feature is its words' weighted mean; an
    /// empty set holds `<none>`.
    pub fn features<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<Vec<(i64, f32)>> {
        let mut sets: Vec<Vec<i64>> = vec![Vec::new(); tokens.len() * SETS];
        for m in self.matches(tokens) {
            if m.start == m.end {
                sets[m.start * SETS + 3].push(m.id);
                continue;
            }
            sets[m.start * SETS].push(m.id);
            for t in m.start + 1..m.end {
                sets[t * SETS + 1].push(m.id);
            }
            sets[m.end * SETS + 2].push(m.id);
        }
        let count = |id: i64| self.counts.get(id as usize).copied().unwrap_or(1.0);
        for set in &mut sets {
            set.sort_by(|a, b| count(*b).total_cmp(&count(*a)));
            set.truncate(MAX_PER_SET);
            if set.is_empty() {
                set.push(NONE);
            }
        }
        sets.into_iter()
            .map(|set| {
                let z: f32 = set.iter().map(|&id| count(id)).sum();
                set.into_iter().map(|id| (id, count(id) / z)).collect()
            })
            .collect()
    }

    fn matches<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<Match> {
        let mut out = Vec::new();
        for start in 0..tokens.len() {
            let mut w = String::new();
            for (end, t) in tokens.iter().enumerate().skip(start).take(self.max_tokens) {
                w.push_str(t.as_ref());
                if let Some(&id) = self.index.get(&w) {
                    out.push(Match { start, end, id });
                }
            }
        }
        out
    }
}

/// Calls `f` with every run of consecutive tokens of at most `max_chars` characters.
fn for_each_span<S: AsRef<str>>(tokens: &[S], max_chars: usize, mut f: impl FnMut(&str)) {
    for start in 0..tokens.len() {
        let mut w = String::new();
        for t in &tokens[start..] {
            w.push_str(t.as_ref());
            if w.chars().count() > max_chars {
                break;
            }
            f(&w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dictionary(words: &[&str]) -> Dictionary {
        Dictionary::from_words(words)
    }

    #[test]
    fn sets_follow_the_soft_lexicon_paper_example() {
        // 中国语言学 with the lexicon 中国, 语言, 语言学, 国语, 中国语言 (and 学 alone).
        let dict = dictionary(&["中国", "语言", "语言学", "国语", "中国语言", "学", "北京"]);
        let s: Vec<&str> = "中国语言学".split("").filter(|c| !c.is_empty()).collect();
        // Matched in training: 中国语言学 twice, so every matching word counts 2 (北京 never).
        let lex = Lexicon::build(&dict, &[&s, &s], false);
        assert_eq!(lex.len(), 2 + 6);
        let id = |w: &str| lex.index[w];
        let f = lex.features(&s);
        let ids = |t: usize, set: usize| -> Vec<i64> {
            let mut v: Vec<i64> = f[t * SETS + set].iter().map(|p| p.0).collect();
            v.sort();
            v
        };
        let sorted = |mut v: Vec<i64>| {
            v.sort();
            v
        };
        // 语 (token 2): B = {语言, 语言学}, M = {中国语言}, E = {国语}, S = none.
        assert_eq!(ids(2, 0), sorted(vec![id("语言"), id("语言学")]));
        assert_eq!(ids(2, 1), vec![id("中国语言")]);
        assert_eq!(ids(2, 2), vec![id("国语")]);
        assert_eq!(ids(2, 3), vec![NONE]);
        // 学 (token 4): E = {语言学}, S = {学}.
        assert_eq!(ids(4, 2), vec![id("语言学")]);
        assert_eq!(ids(4, 3), vec![id("学")]);
        // Weights of 语: each set's weights sum to 1 (its two B words count 2 each).
        let w: Vec<f32> = f[2 * SETS..3 * SETS]
            .iter()
            .flatten()
            .map(|p| p.1)
            .collect();
        let want = [0.5, 0.5, 1.0, 1.0, 1.0];
        for (g, e) in w.iter().zip(want) {
            assert!((g - e).abs() < 1e-6, "{w:?}");
        }
    }

    #[test]
    fn the_whole_dictionary_shares_one_unseen_entry() {
        // Training text 北京人 matches 北京 and 人 (twice: two sentences); 京城 and 大学 never.
        let dict = dictionary(&["北京", "人", "京城", "大学"]);
        let train: Vec<&str> = vec!["北", "京", "人"];
        let lex = Lexicon::build(&dict, &[&train, &train], true);
        // <pad>, <none>, 人, 北京, <unseen>.
        assert_eq!(lex.len(), 5);
        assert_eq!(lex.num_unseen(), 2);
        assert_eq!(lex.num_matched(), 2);
        let unseen = lex.unseen_id().unwrap();
        assert_eq!(unseen, 4);
        lex.validate().unwrap();
        // 北京城: 北 begins 北京 (seen), 京 ends 北京 and begins 京城 (unseen), 城 ends 京城.
        let s: Vec<&str> = vec!["北", "京", "城"];
        let f = lex.features(&s);
        let beijing = lex.index["北京"];
        assert_eq!(f[0], vec![(beijing, 1.0)]);
        assert_eq!(f[SETS], vec![(unseen, 1.0)]);
        assert_eq!(f[SETS + 2], vec![(beijing, 1.0)]);
        assert_eq!(f[2 * SETS + 2], vec![(unseen, 1.0)]);
        // A set with a seen word (count 2) and an unseen one (count 1): weights 2/3 and 1/3.
        let dict = dictionary(&["北京", "北京城", "京"]);
        let lex = Lexicon::build(&dict, &[&train, &train], true);
        let f = lex.features(&s);
        let want = vec![
            (lex.index["北京"], 2.0 / 3.0),
            (lex.unseen_id().unwrap(), 1.0 / 3.0),
        ];
        assert_eq!(f[0], want);
        // Without `whole` the unseen words are not matched at all.
        let part = Lexicon::build(&dict, &[&train, &train], false);
        assert_eq!(part.unseen_id(), None);
        assert_eq!(part.features(&s)[0], vec![(part.index["北京"], 1.0)]);
    }
}
