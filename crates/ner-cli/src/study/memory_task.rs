//! The memory study's synthetic task. Each sentence is some filler words, a trigger word
//! (`alpha` or `beta`), exactly `T - 1` filler words, a name, and some filler again; the name is
//! `B-PER` after `alpha` and `B-ORG` after `beta`, every other word is `O`. The name's tag
//! therefore depends on the token `T` steps before it, and on nothing closer: the filler is
//! random, the name drawn independently of the trigger, and the position varies. A backward
//! direction reaches the trigger only after the name, so the forward direction's memory alone
//! decides; a model that cannot carry the trigger's identity over `T` steps is right half the
//! time on the names.

use ner_core::conll::Sentence;
use ner_core::corpus::Corpus;
use ner_core::scheme::{Prefix, Tag};
use ner_core::{LabelId, LabelSet, TagScheme, TagSet, Tagged};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

const FILLERS: usize = 100;
const NAMES: usize = 30;
/// Most filler words before the trigger and after the name.
const MARGIN: usize = 3;

/// `n` sentences of the task at distance `distance` (at least 1), drawn with `seed`.
pub fn corpus(distance: usize, n: usize, seed: u64) -> Corpus {
    let mut rng = StdRng::seed_from_u64(seed);
    let labels = LabelSet::frozen_from(["PER", "ORG"]);
    let sentences = (0..n)
        .map(|i| sentence(distance.max(1), i, &mut rng))
        .collect();
    Corpus {
        path: PathBuf::from(format!("synthetic:distance={distance},seed={seed}")),
        sentences,
        labels,
        scheme: TagScheme::Bio,
    }
}

fn sentence(distance: usize, index: usize, rng: &mut StdRng) -> Sentence {
    let mut tokens = Vec::new();
    let filler = |tokens: &mut Vec<String>, k: usize, rng: &mut StdRng| {
        for _ in 0..k {
            tokens.push(format!("f{}", rng.random_range(0..FILLERS)));
        }
    };
    filler(&mut tokens, rng.random_range(0..=MARGIN), rng);
    let per = rng.random_bool(0.5);
    tokens.push(if per { "alpha" } else { "beta" }.to_owned());
    filler(&mut tokens, distance - 1, rng);
    let name_at = tokens.len();
    tokens.push(format!("n{}", rng.random_range(0..NAMES)));
    filler(&mut tokens, rng.random_range(0..=MARGIN), rng);
    let label = LabelId(if per { 0 } else { 1 });
    let mut tags = vec![Tag::O; tokens.len()];
    tags[name_at] = Tag::new(Prefix::B, label);
    let raw = tags
        .iter()
        .map(|t| match t.label {
            Some(l) => format!("B-{}", if l.0 == 0 { "PER" } else { "ORG" }),
            None => "O".to_owned(),
        })
        .collect();
    Sentence {
        tokens,
        tags: vec![tags],
        raw_tags: vec![raw],
        line: index + 1,
        document: 0,
        lines: Vec::new(),
    }
}

/// How a model did on the names: tagged with the right type, and tagged as any entity.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NameScore {
    pub names: usize,
    pub right_type: usize,
    pub found: usize,
}

impl NameScore {
    pub fn accuracy(&self) -> f64 {
        self.right_type as f64 / self.names.max(1) as f64
    }

    /// Within the 99% interval of a fair coin over this many names: no memory shown.
    pub fn at_chance(&self) -> bool {
        let n = self.names.max(1) as f64;
        (self.accuracy() - 0.5).abs() < 2.576 * (0.25 / n).sqrt()
    }
}

/// Scores a model's tags (`tags` names its indices) on the names of `corpus`.
pub fn score(corpus: &Corpus, tagged: &[Tagged], tags: &TagSet) -> NameScore {
    let mut s = NameScore::default();
    for (sent, t) in corpus.sentences.iter().zip(tagged) {
        for (pos, gold) in sent.tags[0].iter().enumerate() {
            let Some(label) = gold.label else { continue };
            s.names += 1;
            let Some(pred) = t.tags.get(pos).map(|&i| tags.tag(i)) else {
                continue;
            };
            if let Some(p) = pred.label {
                s.found += 1;
                let gold_name = corpus.labels.name(label);
                s.right_type += usize::from(tags.labels().name(p) == gold_name);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_exactly_distance_after_its_trigger_and_typed_by_it() {
        let c = corpus(7, 200, 3);
        let mut pers = 0;
        for s in &c.sentences {
            let trigger = s
                .tokens
                .iter()
                .position(|t| t == "alpha" || t == "beta")
                .unwrap();
            let name = s.tags[0].iter().position(|t| t.label.is_some()).unwrap();
            assert_eq!(name - trigger, 7);
            assert!(s.tokens[name].starts_with('n'));
            let per = s.tokens[trigger] == "alpha";
            assert_eq!(s.raw_tags[0][name], if per { "B-PER" } else { "B-ORG" });
            pers += usize::from(per);
        }
        assert!((60..140).contains(&pers), "{pers} of 200 are PER");
        assert_eq!(corpus(7, 5, 3).sentences, corpus(7, 5, 3).sentences);
    }

    #[test]
    fn chance_is_recognised() {
        let s = |right| NameScore {
            names: 400,
            right_type: right,
            found: 400,
        };
        assert!(s(200).at_chance() && s(225).at_chance());
        assert!(!s(240).at_chance() && !s(390).at_chance() && !s(150).at_chance());
    }
}
