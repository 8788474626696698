//! Distillation at the model's loss: a teacher whose posterior is one-hot on the gold path
//! gives the ordinary CRF loss at any teacher weight, for sentences alone and for windows of
//! several (the batch lines each sentence's posterior up with its tokens); another teacher
//! changes the loss, unless its weight is 0.

use ner_core::scheme::encode_spans;
use ner_core::Span;
use ner_model::batch::Batch;
use ner_model::context;
use ner_model::model::BiLstmCrf;
use ner_model::vocab::{Encoded, Soft, Vocab};
use ner_model::{Device, ModelConfig};

mod common;
use common::{build, tokens};

/// Gold tags of a sentence of `len` tokens: an entity of the `i % 3`-th label on its first two.
fn gold(model: &BiLstmCrf, len: usize, i: usize) -> Vec<i64> {
    let tags = &model.tags;
    let label = tags.labels().get(["LOC", "ORG", "PER"][i % 3]).unwrap();
    let spans: Vec<Span> = Span::new(0, len.min(2), label).into_iter().collect();
    encode_spans(&spans, len, tags.scheme())
        .into_iter()
        .map(|t| tags.index(t).unwrap() as i64)
        .collect()
}

fn one_hot(path: &[i64], k: usize) -> Soft {
    let mut soft = Soft {
        unary: vec![0.0; path.len() * k],
        pairs: vec![0.0; k * k],
    };
    for (t, &j) in path.iter().enumerate() {
        soft.unary[t * k + j as usize] = 1.0;
    }
    for w in path.windows(2) {
        soft.pairs[w[0] as usize * k + w[1] as usize] += 1.0;
    }
    soft
}

/// Every tag equally likely at every token.
fn uniform(len: usize, k: usize) -> Soft {
    Soft {
        unary: vec![1.0 / k as f32; len * k],
        pairs: vec![len.saturating_sub(1) as f32 / (k * k) as f32; k * k],
    }
}

/// The test sentences with gold tags and a teacher's posterior from `teacher`, as one window
/// of the first three and the others alone.
fn items(model: &BiLstmCrf, vocab: &Vocab, teacher: &dyn Fn(&[i64]) -> Soft) -> Vec<Encoded> {
    let sentences: Vec<Encoded> = tokens()
        .iter()
        .enumerate()
        .map(|(i, words)| {
            let mut e = vocab.encode(words);
            let path = gold(model, words.len(), i);
            e.soft = Some(teacher(&path));
            e.tags = Some(path);
            e
        })
        .collect();
    let window = context::concat(&sentences[..3].iter().collect::<Vec<_>>());
    std::iter::once(window)
        .chain(sentences[3..].iter().cloned())
        .collect()
}

fn loss(model: &BiLstmCrf, items: &[Encoded], weight: f64) -> f64 {
    let refs: Vec<&Encoded> = items.iter().collect();
    let batch = Batch::new(&refs, Device::Cpu);
    model.loss(&batch, false, weight).unwrap().double_value(&[])
}

#[test]
fn a_one_hot_teacher_gives_the_ordinary_crf_loss() {
    tch::set_num_threads(1);
    let config = ModelConfig {
        word_dim: 6,
        hidden: 5,
        context_tokens: 64,
        ..Default::default()
    };
    let (_vs, model, vocab) = build(&config, 3);
    let k = model.tags.len();
    let mut plain = items(&model, &vocab, &|p| one_hot(p, k));
    for e in &mut plain {
        e.soft = None;
    }
    let nll = loss(&model, &plain, 0.0);
    let sharp = items(&model, &vocab, &|p| one_hot(p, k));
    for w in [1.0, 0.5] {
        let got = loss(&model, &sharp, w);
        assert!(
            (got - nll).abs() < 1e-4 * nll.abs().max(1.0),
            "weight {w}: {got} vs {nll}"
        );
    }
    let flat = items(&model, &vocab, &|p| uniform(p.len(), k));
    let got = loss(&model, &flat, 1.0);
    assert!(
        (got - nll).abs() > 1e-2,
        "a uniform teacher left the loss at {got}"
    );
    assert_eq!(loss(&model, &flat, 0.0), nll, "weight 0 reads no teacher");
}

mod teacher {
    use super::*;
    use ner_core::corpus::Corpus;
    use ner_core::{LabelSet, TagScheme, TagSet};
    use ner_model::training::teacher::{join_unlabelled, Teacher};
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(name)
    }

    /// A random model (labels LOC, ORG, PER; BIO) saved in a new temporary directory.
    fn random_teacher() -> (tempfile::TempDir, PathBuf) {
        common::saved(&ModelConfig::default(), 5, "teacher")
    }

    fn corpus(name: &str) -> Corpus {
        Corpus::read(&fixture(name), Default::default(), None).unwrap()
    }

    /// Marginals sum to 1 at every token, transition counts to the sentence's moves, and the
    /// counts out of a tag are its marginals at every position but the last; a student with its
    /// labels in another order gets the same posterior, permuted.
    #[test]
    fn the_posterior_is_consistent_and_follows_the_students_tag_order() {
        let (_dir, path) = random_teacher();
        let mut teacher = Teacher::load(&path).unwrap();
        let data = corpus("en-dev.conll");
        let tags = |names: [&str; 3]| TagSet::new(TagScheme::Bio, LabelSet::frozen_from(names));
        let (a, b) = (tags(["LOC", "ORG", "PER"]), tags(["PER", "LOC", "ORG"]));
        let soft_a = teacher.posteriors(&data, &a, 1.0, &[]).unwrap();
        let soft_b = teacher.posteriors(&data, &b, 1.0, &[]).unwrap();
        let k = a.len();
        let index_in_b: Vec<usize> = (0..k)
            .map(|i| {
                let t = a.tag(i);
                let name = t.label.map(|l| a.labels().name(l));
                let label = name.map(|n| b.labels().get(n).unwrap());
                b.index(ner_core::scheme::Tag {
                    prefix: t.prefix,
                    label,
                })
                .unwrap()
            })
            .collect();
        for (s, (pa, pb)) in data.sentences.iter().zip(soft_a.iter().zip(&soft_b)) {
            let n = s.len();
            assert_eq!(pa.unary.len(), n * k);
            let moves: f32 = pa.pairs.iter().sum();
            assert!((moves - n.saturating_sub(1) as f32).abs() < 1e-3, "{moves}");
            for t in 0..n {
                let row = &pa.unary[t * k..(t + 1) * k];
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4);
                for i in 0..k {
                    let other = pb.unary[t * k + index_in_b[i]];
                    assert!((row[i] - other).abs() < 1e-6, "tag {i} at {t}");
                }
            }
            for i in 0..k {
                let out: f32 = pa.pairs[i * k..(i + 1) * k].iter().sum();
                let before_last: f32 = (0..n.saturating_sub(1)).map(|t| pa.unary[t * k + i]).sum();
                assert!(
                    (out - before_last).abs() < 1e-3,
                    "tag {i}: {out} vs {before_last}"
                );
            }
        }
        // A softer posterior at a higher temperature: the mean largest marginal falls.
        let peak = |soft: &[Soft]| -> f32 {
            let rows: Vec<f32> = soft
                .iter()
                .flat_map(|s| {
                    s.unary
                        .chunks(k)
                        .map(|r| r.iter().cloned().fold(0.0, f32::max))
                })
                .collect();
            rows.iter().sum::<f32>() / rows.len() as f32
        };
        let hot = teacher.posteriors(&data, &a, 4.0, &[]).unwrap();
        assert!(
            peak(&hot) < peak(&soft_a),
            "{} vs {}",
            peak(&hot),
            peak(&soft_a)
        );
        // A student with other labels is refused, naming both.
        let err = teacher.posteriors(&data, &tags(["LOC", "MISC", "PER"]), 1.0, &[]);
        let message = err.unwrap_err().to_string();
        assert!(
            message.contains("MISC") && message.contains("ORG"),
            "{message}"
        );
    }

    /// The teacher reads a large corpus a stretch of documents at a time: a corpus of five
    /// copies of the training fixture (11,565 tokens, read as three stretches) gets five copies
    /// of the fixture's own posterior.
    #[test]
    fn a_large_corpus_gets_the_posteriors_of_its_parts() {
        let (dir, path) = random_teacher();
        let mut teacher = Teacher::load(&path).unwrap();
        let text = std::fs::read_to_string(fixture("en-train.conll")).unwrap();
        let tripled = dir.path().join("tripled.conll");
        std::fs::write(&tripled, text.repeat(5)).unwrap();
        let (one, three) = (
            corpus("en-train.conll"),
            Corpus::read(&tripled, Default::default(), None).unwrap(),
        );
        assert!(three.tokens() > 2 * 4096, "{}", three.tokens());
        let tags = TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["LOC", "ORG", "PER"]));
        let want = teacher.posteriors(&one, &tags, 1.0, &[]).unwrap();
        let got = teacher.posteriors(&three, &tags, 1.0, &[]).unwrap();
        assert_eq!(got.len(), 5 * want.len());
        for (i, g) in got.iter().enumerate() {
            assert_eq!(g, &want[i % want.len()], "sentence {i}");
        }
    }

    /// Unlabelled sentences join the training set, their documents after the training set's,
    /// tagged with the teacher's best paths in those documents.
    #[test]
    fn unlabelled_sentences_take_the_teachers_best_paths() {
        let (_dir, path) = random_teacher();
        let mut teacher = Teacher::load(&path).unwrap();
        let mut train = corpus("en-train.conll");
        let before = train.sentences.len();
        let extra = corpus("en-dev.conll");
        let words: Vec<Vec<&str>> = extra
            .sentences
            .iter()
            .map(|s| s.tokens.iter().map(String::as_str).collect())
            .collect();
        let docs = ner_tagger::evaluation::documents(&extra);
        assert!(
            docs.iter().any(|&d| d > 0),
            "the file has several documents"
        );
        let mut tagger = ner_tagger::Tagger::load(&path, Default::default()).unwrap();
        let best = tagger.best_paths(&words, &docs).unwrap();
        let added = join_unlabelled(&mut train, extra.clone(), &mut teacher).unwrap();
        assert_eq!(added.len(), extra.sentences.len());
        let documents: Vec<usize> = train.sentences[before..]
            .iter()
            .map(|s| s.document)
            .collect();
        let first = train.sentences[..before]
            .iter()
            .map(|s| s.document)
            .max()
            .unwrap()
            + 1;
        assert_eq!(
            documents,
            docs.iter().map(|d| first + d).collect::<Vec<_>>()
        );
        let theirs = tagger.tag_set().clone();
        for (s, path) in train.sentences[before..].iter().zip(&best) {
            let want: Vec<String> = path
                .iter()
                .map(|&j| {
                    theirs
                        .scheme()
                        .render(theirs.tag(j), |l| theirs.labels().name(*l).to_owned())
                })
                .collect();
            let got: Vec<String> = s.tags[0]
                .iter()
                .map(|t| {
                    train
                        .scheme
                        .render(*t, |l| train.labels.name(*l).to_owned())
                })
                .collect();
            assert_eq!(got, want, "{:?}", s.tokens);
            assert_eq!(s.raw_tags[0], got);
        }
    }

    /// The scores kept from tagging the unlabelled sentences give the posteriors a second
    /// pass of the teacher over the joined corpus gives.
    #[test]
    fn kept_scores_give_the_posteriors_of_a_second_pass() {
        let (_dir, path) = random_teacher();
        let mut teacher = Teacher::load(&path).unwrap();
        let mut train = corpus("en-train.conll");
        let tokens = ner_core::conll::ReaderOptions::tokens_only();
        let unlabelled = Corpus::read(&fixture("en-dev.conll"), tokens, None).unwrap();
        let kept = join_unlabelled(&mut train, unlabelled, &mut teacher).unwrap();
        let tags = TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["PER", "LOC", "ORG"]));
        let reused = teacher.posteriors(&train, &tags, 2.0, &kept).unwrap();
        let again = teacher.posteriors(&train, &tags, 2.0, &[]).unwrap();
        assert_eq!(reused.len(), train.sentences.len());
        assert_eq!(reused, again);
    }

    /// A training file without documents keeps its sentences apart after the join.
    #[test]
    fn a_training_set_without_documents_keeps_its_sentences_apart() {
        let (dir, path) = random_teacher();
        let text = std::fs::read_to_string(fixture("en-train.conll")).unwrap();
        let plain = dir.path().join("plain.conll");
        std::fs::write(&plain, text.replace("-DOCSTART- -X- -X- O\n", "")).unwrap();
        let mut train = Corpus::read(&plain, Default::default(), None).unwrap();
        let before = train.sentences.len();
        let mut teacher = Teacher::load(&path).unwrap();
        // Tokens alone, as `--unlabelled` reads its file.
        let tokens = ner_core::conll::ReaderOptions::tokens_only();
        let unlabelled = Corpus::read(&fixture("en-dev.conll"), tokens, None).unwrap();
        join_unlabelled(&mut train, unlabelled, &mut teacher).unwrap();
        assert!(train
            .sentences
            .iter()
            .all(|s| s.tags.len() == 1 && s.raw_tags.len() == 1));
        let docs = ner_tagger::evaluation::documents(&train);
        assert_eq!(docs[..before], (0..before).collect::<Vec<_>>());
        assert!(docs[before..].iter().all(|&d| d >= before));
    }
}

mod transfer_set {
    use super::*;
    use ner_core::conll::ReaderOptions;
    use ner_core::corpus::Corpus;
    use ner_model::training::{
        BatchProgress, DataConfig, InputConfig, Observer, Run, RunConfig, TrainOptions,
    };
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(name)
    }

    /// Counts an epoch's batches and keeps the last progress report.
    #[derive(Default)]
    struct Steps {
        batches: usize,
        sentences_done: usize,
    }

    impl Observer for Steps {
        fn batch_done(&mut self, p: &BatchProgress) {
            self.batches += 1;
            self.sentences_done = p.sentences_done;
        }
    }

    /// Batches of at most `budget` tokens filled greedily from the lengths sorted.
    fn greedy(mut lens: Vec<usize>, budget: usize) -> usize {
        lens.sort_unstable();
        let (mut batches, mut tokens) = (0, budget);
        for len in lens {
            if tokens + len > budget {
                batches += 1;
                tokens = 0;
            }
            tokens += len;
        }
        batches
    }

    /// Document-less sentences from `--unlabelled` are packed by tokens: an epoch makes the
    /// labelled windows' batches of two plus the batches that filling 2 × 64 tokens from the
    /// sorted lengths makes (the fixtures fit in one pool), and trains on every sentence once.
    #[test]
    fn unlabelled_sentences_are_batched_by_tokens() {
        let (dir, teacher) = common::saved(&ModelConfig::default(), 5, "teacher");
        // The teacher tags LOC, ORG and PER: the training file's MISC becomes O.
        let text = std::fs::read_to_string(fixture("en-train.conll")).unwrap();
        let train = dir.path().join("train.conll");
        std::fs::write(&train, text.replace("B-MISC", "O").replace("I-MISC", "O")).unwrap();
        let text = std::fs::read_to_string(fixture("en-dev.conll")).unwrap();
        let plain = dir.path().join("plain.conll");
        std::fs::write(&plain, text.replace("-DOCSTART- -X- -X- O\n", "")).unwrap();
        let config = RunConfig {
            model: ModelConfig {
                word_dim: 8,
                hidden: 6,
                context_tokens: 64,
                ..Default::default()
            },
            train: TrainOptions {
                epochs: 1,
                batch_size: 2,
                patience: 0,
                ..Default::default()
            },
            data: DataConfig {
                train: train.clone(),
                dev: fixture("en-dev.conll"),
                test: None,
                columns: Default::default(),
            },
            inputs: InputConfig {
                teacher: Some(teacher),
                unlabelled: Some(plain.clone()),
                ..Default::default()
            },
            name: None,
            eval_batch_size: 16,
        };
        let mut steps = Steps::default();
        let out = dir.path().join("run");
        let mut run = Run::start(config, &out, Device::Cpu, &mut steps).unwrap();
        run.fit(&mut steps).unwrap();

        let labelled = Corpus::read(&train, Default::default(), None).unwrap();
        let lens: Vec<usize> = labelled.sentences.iter().map(|s| s.len()).collect();
        let docs = ner_tagger::evaluation::documents(&labelled);
        let windows = context::windows(&lens, &docs, 64).len();
        let extra = Corpus::read(&plain, ReaderOptions::tokens_only(), None).unwrap();
        let packed = greedy(extra.sentences.iter().map(|s| s.len()).collect(), 128);
        assert!(packed * 4 < extra.sentences.len(), "{packed} batches");
        assert_eq!(steps.batches, windows.div_ceil(2) + packed);
        assert_eq!(
            steps.sentences_done,
            labelled.sentences.len() + extra.sentences.len()
        );
        // The model's meta.json names what it was distilled from.
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("meta.json")).unwrap()).unwrap();
        let training = &meta["training"];
        assert_eq!(training["unlabelled_sentences"], extra.sentences.len());
        assert_eq!(training["unlabelled"].as_str(), plain.to_str());
        assert!(training["teacher"]
            .as_str()
            .is_some_and(|t| t.ends_with("teacher")));
    }
}
