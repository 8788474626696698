//! Fine-tuning the transformer of contextual features, on the tiny random BERT of
//! ner-tagger's fixtures (with its WordPiece tokenizer):
//! - a training batch's features (the transformer run with gradients on the batch's windows,
//!   pooled by libtorch) equal the serving path's (ner-tagger's sequencing and pooling) for the
//!   same sentences;
//! - only the top layers are variables, and only they and the rest of the model get gradients;
//! - a saved model stores exactly those layers, in half precision; loaded again, it has the
//!   same hidden states as before the save (with the weights rounded as stored), and the
//!   native tagger, which overlays them on the transformer's own file, gives libtorch's
//!   emissions;
//! - a model whose weights lack a fine-tuned layer's tensor is refused, naming it.

mod common;

use ner_model::batch::Batch;
use ner_model::checkpoint::{self, Meta};
use ner_model::contextual::{self, Contextual};
use ner_model::vocab::Encoded;
use ner_model::{CellKind, ModelConfig};
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

/// libtorch's random generator is one per process, and a training run draws from it: the
/// tests of this file take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn tiny_bert() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ner-tagger/tests/fixtures/tiny-bert")
}

/// Sentences of the tokenizer's letters (a-h; others are `[UNK]`), in three documents, each
/// short enough for the 16 positions of the tiny model.
const DOCUMENT_SENTENCES: &[(&str, usize)] = &[
    ("bad cab", 0),
    ("fed", 0),
    ("ace head x", 1),
    ("gab", 2),
    ("chef bead", 2),
];

fn sentences() -> (Vec<Vec<&'static str>>, Vec<usize>) {
    DOCUMENT_SENTENCES
        .iter()
        .map(|(s, d)| (s.split(' ').collect(), *d))
        .unzip()
}

fn config() -> ModelConfig {
    ModelConfig {
        word_dim: 4,
        hidden: 3,
        layers: 1,
        cell: CellKind::Lstm,
        char_encoder: ner_model::config::CharEncoderKind::None,
        contextual_layers: vec![0, 2],
        contextual_dim: 8,
        contextual_source: Some(tiny_bert().to_string_lossy().into_owned()),
        finetune_layers: 1,
        context_tokens: 6,
        ..ModelConfig::default()
    }
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn a_batch_reads_its_windows_as_serving_reads_them() {
    let _turn = turn();
    tch::set_num_threads(1);
    let (vs, mut model, vocab) = common::build(&config(), 1);
    let mut c = contextual::load(&tiny_bert(), &[0, 2], Device::Cpu).unwrap();
    model.finetune(&vs.root(), &mut c);
    let tuning = model.tuning.as_ref().expect("fine-tuned");
    let (sentences, _) = sentences();
    let encoded: Vec<Encoded> = sentences
        .iter()
        .map(|s| {
            let mut e = vocab.encode(s);
            e.transformer = c.word_pieces().sentence(s);
            e
        })
        .collect();
    // Two windows (sentences 0-1 and 2) and a lone sentence (3), batched together.
    let windows = [
        ner_model::context::concat(&[&encoded[0], &encoded[1]]),
        ner_model::context::concat(&[&encoded[2]]),
        encoded[3].clone(),
    ];
    let items: Vec<&Encoded> = windows.iter().collect();
    let t_max = items.iter().map(|e| e.len()).max().unwrap();
    let pieces = tuning.pieces(&items, t_max, Device::Cpu).unwrap();
    let got = tuning.features(&pieces, 3, t_max as i64);
    // The serving path, each window a document of its own.
    let words: Vec<&[Vec<i64>]> = encoded[..4].iter().map(|e| &e.transformer[..]).collect();
    let want = c.features_of(&words, &[0, 0, 1, 2], true).unwrap();
    let width = 16;
    let mut expected = vec![0f32; 3 * t_max * width];
    let placed = [(0, 0), (0, 2), (1, 0), (2, 0)]; // (item, first token) of each sentence
    for ((b, t0), f) in placed.iter().zip(&want) {
        expected[(b * t_max + t0) * width..][..f.len()].copy_from_slice(f);
    }
    let expected = Tensor::from_slice(&expected).view([3, t_max as i64, width as i64]);
    let d = max_diff(&got, &expected);
    assert!(d < 1e-5, "batch features differ from serving's by {d}");
    // The two sentences of window 0 were read as one sequence: sentence 1's features are not
    // those it has alone.
    let alone = c.features_of(&words[1..2], &[0], true).unwrap();
    let together = &want[1];
    let moved = alone[0]
        .iter()
        .zip(together)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(moved > 1e-3, "context changed nothing ({moved})");
}

#[test]
fn only_the_top_layers_are_variables_and_they_get_gradients() {
    let _turn = turn();
    tch::set_num_threads(1);
    let (vs, mut model, vocab) = common::build(&config(), 2);
    let before = vs.variables().len();
    let mut c = contextual::load(&tiny_bert(), &[0, 2], Device::Cpu).unwrap();
    model.finetune(&vs.root(), &mut c);
    let tuned: Vec<String> = vs
        .variables()
        .into_keys()
        .filter(|n| n.starts_with("transformer."))
        .collect();
    assert_eq!(vs.variables().len(), before + 16);
    assert!(tuned
        .iter()
        .all(|n| n.starts_with("transformer.encoder.layer.1.")));
    let (sentences, _) = sentences();
    let mut e = vocab.encode(&sentences[0]);
    e.transformer = c.word_pieces().sentence(&sentences[0]);
    e.tags = Some(vec![0; e.len()]);
    let mut batch = Batch::new(&[&e], Device::Cpu);
    batch.transformer = model
        .tuning
        .as_ref()
        .unwrap()
        .pieces(&[&e], e.len(), Device::Cpu);
    model.loss(&batch, false, 0.0).unwrap().backward();
    for (name, v) in vs.variables() {
        if name.starts_with("transformer.") {
            let g = v.grad();
            assert!(
                g.defined() && g.abs().sum(Kind::Float).double_value(&[]) > 0.0,
                "{name} has no gradient"
            );
        }
    }
}

/// A fine-tuned model with its transformer layer moved away from the pretrained weights,
/// saved; the in-memory contextual transformer it was saved from.
fn saved_model() -> (tempfile::TempDir, PathBuf, Contextual) {
    tch::set_num_threads(1);
    let (vs, mut model, vocab) = common::build(&config(), 3);
    let mut c = contextual::load(&tiny_bert(), &[0, 2], Device::Cpu).unwrap();
    model.finetune(&vs.root(), &mut c);
    tch::no_grad(|| {
        for (name, mut v) in vs.variables() {
            if name.starts_with("transformer.") {
                let _ = v.g_add_(&(Tensor::randn(v.size(), (Kind::Float, Device::Cpu)) * 0.3));
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tuned");
    checkpoint::save(&path, &vs, &model, &vocab, &Meta::new("tuned")).unwrap();
    // What the file holds: the same weights rounded to half precision.
    tch::no_grad(|| {
        for (name, mut v) in vs.variables() {
            if name.starts_with("transformer.") {
                let rounded = v.to_kind(Kind::Half).to_kind(Kind::Float);
                v.copy_(&rounded);
            }
        }
    });
    (dir, path, c)
}

#[test]
fn saved_layers_are_half_precision_and_load_to_the_same_hidden_states() {
    let _turn = turn();
    let (_dir, path, before) = saved_model();
    let stored = Tensor::read_safetensors(path.join("model.safetensors")).unwrap();
    let tuned: Vec<&(String, Tensor)> = stored
        .iter()
        .filter(|(n, _)| n.starts_with("transformer."))
        .collect();
    assert_eq!(tuned.len(), 16, "one layer's 16 tensors");
    assert!(tuned.iter().all(|(_, t)| t.kind() == Kind::Half));
    let loaded = checkpoint::load(&path, Device::Cpu).unwrap();
    let after = loaded.contextual.as_ref().unwrap();
    let ids = Tensor::from_slice(&[2i64, 5, 9, 11, 13, 3, 2, 7, 3, 0, 0, 0]).view([2, 6]);
    let mask = ids.ne(0);
    let (a, b) = tch::no_grad(|| {
        (
            before.encoder().forward(&ids, &mask),
            after.encoder().forward(&ids, &mask),
        )
    });
    for (l, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(
            max_diff(x, y),
            0.0,
            "hidden state {l} changed in the round trip"
        );
    }
    // The fine-tuned layer is not the pretrained one.
    let pretrained = contextual::load(&tiny_bert(), &[0, 2], Device::Cpu).unwrap();
    let p = tch::no_grad(|| pretrained.encoder().forward(&ids, &mask));
    assert_eq!(max_diff(&p[1], &b[1]), 0.0, "layer 0 stays frozen");
    assert!(max_diff(&p[2], &b[2]) > 1e-2, "layer 1 was fine-tuned");
}

#[test]
fn the_native_tagger_runs_the_fine_tuned_layers_as_libtorch_does() {
    let _turn = turn();
    let (_dir, path, _) = saved_model();
    let (sentences, documents) = sentences();
    let mut torch = ner_model::tagger::load(&path, Default::default()).unwrap();
    let opts = ner_tagger::tagger::TaggerOptions {
        threads: Some(1),
        ..Default::default()
    };
    let mut native = ner_tagger::tagger::Tagger::load(&path, opts).unwrap();
    let want = torch.emissions(&sentences, &documents).unwrap();
    let got = native.emissions(&sentences, &documents).unwrap();
    assert_eq!(got.offsets, want.offsets);
    let d = got
        .data
        .iter()
        .zip(&want.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(d < 1e-4, "native emissions differ from libtorch's by {d}");
    // The pretrained transformer alone gives other emissions: the overlay took effect.
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = plain_dir.path().join("plain");
    copy_dir(&path, &plain);
    let mut weights = Tensor::read_safetensors(plain.join("model.safetensors")).unwrap();
    weights.retain(|(n, _)| !n.starts_with("transformer."));
    Tensor::write_safetensors(&weights, plain.join("model.safetensors")).unwrap();
    set_finetune_layers(&plain, 0);
    let mut frozen = ner_tagger::tagger::Tagger::load(&plain, opts_1()).unwrap();
    let other = frozen.emissions(&sentences, &documents).unwrap();
    let moved = other
        .data
        .iter()
        .zip(&got.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        moved > 1e-3,
        "the fine-tuned layer changed nothing ({moved})"
    );
}

#[test]
fn weights_without_a_fine_tuned_tensor_are_refused() {
    let _turn = turn();
    let (_dir, path, _) = saved_model();
    let name = "transformer.encoder.layer.1.output.dense.bias";
    let mut weights = Tensor::read_safetensors(path.join("model.safetensors")).unwrap();
    weights.retain(|(n, _)| n != name);
    Tensor::write_safetensors(&weights, path.join("model.safetensors")).unwrap();
    let Err(err) = ner_tagger::tagger::Tagger::load(&path, opts_1()) else {
        panic!("refused")
    };
    let err = err.to_string();
    assert!(err.contains(name) && err.contains("missing"), "{err}");
    // Fine-tuned tensors beyond what config.json says are refused too.
    let (_dir2, path2, _) = saved_model();
    set_finetune_layers(&path2, 0);
    let Err(err) = ner_tagger::tagger::Tagger::load(&path2, opts_1()) else {
        panic!("refused")
    };
    let err = err.to_string();
    assert!(err.contains("unexpected tensor"), "{err}");
}

fn opts_1() -> ner_tagger::tagger::TaggerOptions {
    ner_tagger::tagger::TaggerOptions {
        threads: Some(1),
        ..Default::default()
    }
}

fn set_finetune_layers(dir: &std::path::Path, n: usize) {
    let p = dir.join("config.json");
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    c["finetune_layers"] = n.into();
    std::fs::write(&p, serde_json::to_string(&c).unwrap()).unwrap();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A corpus of short sentences (at most 14 pieces) of the tokenizer's words with PER and
/// LOC entities.
fn write_corpus(path: &std::path::Path, n: usize, offset: usize) {
    let words = ["bad", "cab", "fed", "ace", "head", "gab", "chef", "bead"];
    let mut text = String::new();
    for i in 0..n {
        let len = 1 + (i + offset) % 3;
        for j in 0..len {
            let w = words[(i * 3 + j * 5 + offset) % words.len()];
            let tag = match (w, j) {
                ("chef", _) => "B-PER",
                ("head", 0) => "B-LOC",
                _ => "O",
            };
            text.push_str(&format!("{w} {tag}\n"));
        }
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_resumed_fine_tuning_run_ends_bit_identical_to_an_uninterrupted_one() {
    let _turn = turn();
    use ner_model::training::{DataConfig, Observer, Run, RunConfig, Silent, TrainOptions};
    struct StopAfterOne(bool);
    impl Observer for StopAfterOne {
        fn epoch_finished(&mut self, _: &ner_model::training::EpochReport<'_>) {
            self.0 = true;
        }
        fn should_stop(&self) -> bool {
            self.0
        }
    }
    tch::set_num_threads(1);
    let tmp = tempfile::tempdir().unwrap();
    let (train, dev) = (tmp.path().join("train"), tmp.path().join("dev"));
    write_corpus(&train, 24, 0);
    write_corpus(&dev, 6, 1);
    let mut config = RunConfig {
        model: ModelConfig {
            finetune_layers: 1,
            ..config()
        },
        train: TrainOptions {
            epochs: 2,
            batch_size: 4,
            patience: 0,
            ema: 0.9,
            finetune_warmup: 3,
            finetune_lr: 0.01,
            ..Default::default()
        },
        data: DataConfig {
            train,
            dev,
            test: None,
            columns: Default::default(),
        },
        inputs: Default::default(),
        name: None,
        eval_batch_size: 4,
    };
    config.inputs.contextual_model = Some(tiny_bert());
    config.inputs.contextual_layers = vec![0, 2];
    let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
    Run::start(config.clone(), &whole, Device::Cpu, &mut Silent)
        .unwrap()
        .fit(&mut Silent)
        .unwrap();
    let mut stop = StopAfterOne(false);
    let r = Run::start(config, &split, Device::Cpu, &mut stop)
        .unwrap()
        .fit(&mut stop)
        .unwrap();
    assert!(r.interrupted);
    Run::resume(&split, Device::Cpu, &mut Silent)
        .unwrap()
        .fit(&mut Silent)
        .unwrap();
    for f in [
        "model.safetensors",
        "optimizer.safetensors",
        "average.safetensors",
    ] {
        let read = |d: &std::path::Path| {
            let mut t = Tensor::read_safetensors(d.join(".checkpoint/epoch-2").join(f)).unwrap();
            t.sort_by(|a, b| a.0.cmp(&b.0));
            t
        };
        let (a, b) = (read(&whole), read(&split));
        assert_eq!(a.len(), b.len());
        let tuned = a.iter().filter(|(n, _)| n.contains("transformer.")).count();
        assert!(
            tuned >= 16,
            "{f}: the fine-tuned layer is in the checkpoint"
        );
        for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
            assert_eq!(na, nb);
            assert!(ta.equal(tb), "{f}: {na} differs after resuming");
        }
    }
    // The checkpoint keeps the layer in single precision, the model in half.
    let ck = Tensor::read_safetensors(whole.join(".checkpoint/epoch-2/model.safetensors")).unwrap();
    assert!(ck
        .iter()
        .filter(|(n, _)| n.starts_with("transformer."))
        .all(|(_, t)| t.kind() == Kind::Float));
    // And the layer moved from the pretrained weights.
    let pretrained = Tensor::read_safetensors(tiny_bert().join("model.safetensors")).unwrap();
    let name = "encoder.layer.1.output.dense.weight";
    let before = &pretrained.iter().find(|(n, _)| n == name).unwrap().1;
    let after = &ck
        .iter()
        .find(|(n, _)| n == &format!("transformer.{name}"))
        .unwrap()
        .1;
    assert!(max_diff(before, after) > 0.0, "the layer did not train");
}
