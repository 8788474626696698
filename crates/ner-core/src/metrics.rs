//! Entity-level precision, recall and F1 with conlleval's counting rules.
//!
//! An entity counts as correct when the gold and the predicted sequence both have an entity of
//! the same type covering exactly the same tokens. Entities are decoded with
//! [`decode_spans`](crate::scheme::decode_spans), so ill-formed sequences count as conlleval
//! counts them, whatever the scheme (IOB1, BIO, BIOES, BMES). Token accuracy compares the tag
//! strings. Figures are percentages, as conlleval prints them.

use crate::scheme::{decode_spans, parse_tag, Prefix, Tag, TagError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

/// Entity counts of one type (or of all types together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Entities in the gold sequences.
    pub gold: usize,
    /// Entities in the predicted sequences.
    pub predicted: usize,
    /// Predicted entities that are also gold entities.
    pub correct: usize,
}

/// Precision, recall and F1 in percent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    /// Precision in percent.
    pub precision: f64,
    /// Recall in percent.
    pub recall: f64,
    /// F1 in percent.
    pub f1: f64,
}

impl Counts {
    /// Precision, recall and F1 of these counts.
    pub fn prf(&self) -> Prf {
        let p = ratio(self.correct, self.predicted);
        let r = ratio(self.correct, self.gold);
        let f = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        Prf {
            precision: p,
            recall: r,
            f1: f,
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// Accumulates counts over sentences.
#[derive(Debug, Clone, Default)]
pub struct Evaluator {
    per_type: BTreeMap<String, Counts>,
    tokens: usize,
    correct_tokens: usize,
}

fn typed<'a>(tags: &[&'a str]) -> Result<Vec<Tag<&'a str>>, TagError> {
    tags.iter()
        .map(|t| {
            let (p, ty) = parse_tag(t)?;
            Ok(if p == Prefix::O {
                Tag::O
            } else {
                Tag::new(p, ty)
            })
        })
        .collect()
}

impl Evaluator {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sentence of tag strings (conlleval's input). Sequences of different lengths
    /// are an error of the caller; the shorter length is used.
    pub fn add(&mut self, gold: &[&str], predicted: &[&str]) -> Result<(), TagError> {
        let n = gold.len().min(predicted.len());
        let (gold, predicted) = (&gold[..n], &predicted[..n]);
        let same = gold.iter().zip(predicted).filter(|(a, b)| a == b).count();
        self.add_counted(&typed(gold)?, &typed(predicted)?, same);
        Ok(())
    }

    /// Adds one sentence of typed tags, labels by name (both in the file's scheme).
    pub fn add_tags(&mut self, gold: &[Tag<&str>], predicted: &[Tag<&str>]) {
        let n = gold.len().min(predicted.len());
        let (gold, predicted) = (&gold[..n], &predicted[..n]);
        let same = gold.iter().zip(predicted).filter(|(a, b)| a == b).count();
        self.add_counted(gold, predicted, same);
    }

    fn add_counted(&mut self, gold: &[Tag<&str>], predicted: &[Tag<&str>], same: usize) {
        let g = decode_spans(gold);
        let p = decode_spans(predicted);
        self.tokens += gold.len();
        self.correct_tokens += same;
        let gold_set: HashSet<_> = g.iter().collect();
        for s in &g {
            self.per_type
                .entry((*s.label()).to_owned())
                .or_default()
                .gold += 1;
        }
        for s in &p {
            let c = self.per_type.entry((*s.label()).to_owned()).or_default();
            c.predicted += 1;
            if gold_set.contains(s) {
                c.correct += 1;
            }
        }
    }

    /// Adds `n` tokens that are correct by definition (conlleval counts each `-DOCSTART-`
    /// line as one `O O` token).
    pub fn add_trivial_tokens(&mut self, n: usize) {
        self.tokens += n;
        self.correct_tokens += n;
    }

    /// The report of everything counted.
    pub fn report(&self) -> Report {
        let mut total = Counts::default();
        let mut per_type = BTreeMap::new();
        for (k, c) in &self.per_type {
            total.gold += c.gold;
            total.predicted += c.predicted;
            total.correct += c.correct;
            per_type.insert(
                k.clone(),
                TypeReport {
                    prf: c.prf(),
                    counts: *c,
                },
            );
        }
        let n = per_type.len().max(1) as f64;
        let macro_avg = Prf {
            precision: per_type.values().map(|t| t.prf.precision).sum::<f64>() / n,
            recall: per_type.values().map(|t| t.prf.recall).sum::<f64>() / n,
            f1: per_type.values().map(|t| t.prf.f1).sum::<f64>() / n,
        };
        Report {
            overall: total.prf(),
            macro_avg,
            accuracy: ratio(self.correct_tokens, self.tokens),
            tokens: self.tokens,
            counts: total,
            per_type,
        }
    }
}

/// Figures and counts of one type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TypeReport {
    #[serde(flatten)]
    /// Precision, recall and F1 of the type.
    pub prf: Prf,
    #[serde(flatten)]
    /// Its counts.
    pub counts: Counts,
}

/// The result of an evaluation: micro average (`overall`), macro average, token accuracy and
/// per-type figures, all in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Micro-averaged over all entities.
    pub overall: Prf,
    #[serde(rename = "macro")]
    /// The mean of the types' scores.
    pub macro_avg: Prf,
    /// Token accuracy in percent.
    pub accuracy: f64,
    /// Tokens scored.
    pub tokens: usize,
    /// The counts of all entities.
    pub counts: Counts,
    /// Each entity type's report, by name.
    pub per_type: BTreeMap<String, TypeReport>,
}

impl Report {
    /// conlleval's text report, byte for byte.
    pub fn conlleval_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "processed {} tokens with {} phrases; found: {} phrases; correct: {}.",
            self.tokens, self.counts.gold, self.counts.predicted, self.counts.correct
        );
        if self.tokens > 0 {
            let o = &self.overall;
            let _ = writeln!(
                s,
                "accuracy: {:6.2}%; precision: {:6.2}%; recall: {:6.2}%; FB1: {:6.2}",
                self.accuracy, o.precision, o.recall, o.f1
            );
        }
        for (name, t) in &self.per_type {
            let _ = writeln!(
                s,
                "{:>17}: precision: {:6.2}%; recall: {:6.2}%; FB1: {:6.2}  {}",
                name, t.prf.precision, t.prf.recall, t.prf.f1, t.counts.predicted
            );
        }
        s
    }

    /// The JSON form: `{"overall": {...}, "macro": {...}, "accuracy", "per_type": {...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(pairs: &[(&str, &str)]) -> Report {
        let mut e = Evaluator::new();
        for (g, p) in pairs {
            let g: Vec<_> = g.split_whitespace().collect();
            let p: Vec<_> = p.split_whitespace().collect();
            e.add(&g, &p).unwrap();
        }
        e.report()
    }

    #[test]
    fn counts_exact_matches_only() {
        let r = eval(&[
            ("B-PER I-PER O B-LOC", "B-PER I-PER O B-ORG"),
            ("B-PER O", "B-PER I-PER"),
        ]);
        assert_eq!(
            r.counts,
            Counts {
                gold: 3,
                predicted: 3,
                correct: 1
            }
        );
        assert_eq!(
            r.per_type["PER"].counts,
            Counts {
                gold: 2,
                predicted: 2,
                correct: 1
            }
        );
        assert!((r.overall.f1 - 100.0 / 3.0).abs() < 1e-9);
        assert!((r.accuracy - 400.0 / 6.0).abs() < 1e-9);
    }

    #[test]
    fn conlleval_layout() {
        let r = eval(&[("B-PER I-PER O", "B-PER I-PER O")]);
        assert_eq!(
            r.conlleval_text(),
            "processed 3 tokens with 1 phrases; found: 1 phrases; correct: 1.\n\
             accuracy: 100.00%; precision: 100.00%; recall: 100.00%; FB1: 100.00\n\
             \x20             PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
        );
    }

    #[test]
    fn empty_input_is_zero_not_nan() {
        let r = eval(&[("O O", "O O")]);
        assert_eq!(r.overall, Prf::default());
        assert_eq!(r.accuracy, 100.0);
    }
}
