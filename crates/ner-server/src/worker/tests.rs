//! The worker against fake models: the token budget, batches gathered while the model is
//! busy, a client that left, a panicking model and a model that miscounts.

use super::*;
use crate::model::{DecodeOptions, Halves, NetworkHalf, RequestHalf};
use ner_core::{LabelSet, TagScheme, TagSet, Tagged};
use ner_tagger::vocab::Encoded;
use std::sync::mpsc as std_mpsc;

/// The words the tests use, as ids (their index).
const WORDS: [&str; 11] = [
    "x", "a", "b", "c", "d", "e", "gone", "kept", "boom", "fine", "short",
];

fn id(word: &str) -> i64 {
    WORDS.iter().position(|w| *w == word).unwrap() as i64
}

/// Records the first word of every sentence of every batch, with its document numbered across
/// the batch (`a/0`); blocks on `gate` before each batch; panics on "boom"; answers one
/// sentence too few on "short".
struct Recorder {
    batches: Arc<Mutex<Vec<Vec<String>>>>,
    gate: Option<std_mpsc::Receiver<()>>,
}

impl NetworkHalf for Recorder {
    fn forward(&mut self, pieces: &mut [Piece]) -> ner_tagger::Result<Vec<Emissions>> {
        if let Some(g) = &self.gate {
            let _ = g.recv();
        }
        let mut firsts = Vec::new();
        let mut base = 0;
        for p in pieces.iter() {
            for (e, d) in p.sentences.iter().zip(&p.documents) {
                firsts.push(format!("{}/{}", WORDS[e.words[0] as usize], base + d));
            }
            base += p.documents.iter().max().map_or(0, |d| d + 1);
        }
        self.batches.lock().unwrap().push(firsts.clone());
        if firsts.iter().any(|f| f.starts_with("boom/")) {
            panic!("boom");
        }
        let short = firsts.iter().any(|f| f.starts_with("short/"));
        Ok(pieces
            .iter()
            .map(|p| {
                let n = p.sentences.len() - usize::from(short);
                Emissions::zeroed(1, p.sentences[..n].iter().map(Encoded::len))
            })
            .collect())
    }
}

/// The recorder's request side: never asked to encode or decode here.
struct Plain(ModelInfo);

impl RequestHalf for Plain {
    fn info(&self) -> &ModelInfo {
        &self.0
    }
    fn encode(&self, _: &[Vec<&str>], _: Vec<usize>) -> Piece {
        Piece::default()
    }
    fn decode(&self, em: &Emissions, _: DecodeOptions) -> Vec<Tagged> {
        vec![Tagged::default(); em.len()]
    }
}

fn info() -> ModelInfo {
    ModelInfo {
        name: "recorder".into(),
        tags: TagSet::new(TagScheme::Bio, LabelSet::frozen_from(["X"])),
        tokenization: ner_core::tokenize::Mode::Word,
        config: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
        version: String::new(),
    }
}

struct Setup {
    worker: Worker,
    batches: Arc<Mutex<Vec<Vec<String>>>>,
    open: Option<std_mpsc::Sender<()>>,
}

async fn setup(max_batch_tokens: usize, gated: bool) -> Setup {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let (open, gate) = std_mpsc::channel();
    let b = batches.clone();
    let factory: ModelFactory = Box::new(move || {
        let gate = gated.then_some(gate);
        Ok(Halves {
            codec: Arc::new(Plain(info())),
            network: Box::new(Recorder { batches: b, gate }),
        })
    });
    let cfg = BatchConfig {
        queue_size: 64,
        max_batch_tokens,
        max_batch_wait_us: 1000,
    };
    let worker = Worker::spawn(factory, cfg, Metrics::new()).unwrap();
    worker.wait_ready(Duration::from_secs(5)).await.unwrap();
    Setup {
        worker,
        batches,
        open: gated.then_some(open),
    }
}

type Reply = oneshot::Receiver<Result<Forwarded, WorkerError>>;

/// A piece of sentences given by their first words and lengths, with their documents.
fn piece(sentences: &[(&str, usize)], documents: Vec<usize>) -> Piece {
    let sentences = sentences
        .iter()
        .map(|&(first, tokens)| {
            let mut words = vec![id(first)];
            words.resize(tokens, id("x"));
            Encoded {
                words,
                ..Encoded::default()
            }
        })
        .collect();
    Piece {
        sentences,
        documents,
    }
}

/// Queues a job of one sentence of `tokens` tokens whose first token is `first`.
fn submit(w: &Worker, first: &str, tokens: usize) -> Reply {
    let (job, rx) = Job::new(piece(&[(first, tokens)], vec![0]), w.incoming());
    w.submit(job).unwrap();
    rx
}

#[tokio::test]
async fn each_text_of_a_job_is_a_document_of_its_own() {
    let s = setup(100, false).await;
    // Two texts: one of one sentence, one of two.
    let p = piece(&[("a", 1), ("b", 1), ("c", 1)], vec![0, 1, 1]);
    let (job, rx) = Job::new(p, s.worker.incoming());
    s.worker.submit(job).unwrap();
    let f = rx.await.unwrap().unwrap();
    assert_eq!(f.emissions.len(), 3);
    assert_eq!(recorded(&s), [vec!["a/0", "b/1", "c/1"]]);
}

fn recorded(s: &Setup) -> Vec<Vec<String>> {
    s.batches.lock().unwrap().clone()
}

#[tokio::test]
async fn batches_are_gathered_while_the_model_is_busy_within_the_token_budget() {
    let s = setup(10, true).await;
    let open = s.open.as_ref().unwrap();
    let first = submit(&s.worker, "a", 4);
    // Let the model take the first job and block on the gate.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rest: Vec<Reply> = ["b", "c", "d", "e"]
        .iter()
        .map(|f| submit(&s.worker, f, 4))
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..3 {
        open.send(()).unwrap();
    }
    first.await.unwrap().unwrap();
    for r in rest {
        r.await.unwrap().unwrap();
    }
    // 4 + 4 + 4 reaches the budget of 10: the third job closes the second batch.
    // Each job is a document of its own, numbered within its batch.
    assert_eq!(
        recorded(&s),
        [vec!["a/0"], vec!["b/0", "c/1", "d/2"], vec!["e/0"]]
    );
}

#[tokio::test]
async fn a_job_whose_client_left_is_not_tagged() {
    let s = setup(100, true).await;
    let open = s.open.as_ref().unwrap();
    let first = submit(&s.worker, "a", 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(submit(&s.worker, "gone", 1));
    let kept = submit(&s.worker, "kept", 1);
    open.send(()).unwrap();
    open.send(()).unwrap();
    first.await.unwrap().unwrap();
    kept.await.unwrap().unwrap();
    assert_eq!(recorded(&s), [vec!["a/0"], vec!["kept/0"]]);
}

#[tokio::test]
async fn a_panic_fails_its_batch_and_the_next_one_is_served() {
    let s = setup(100, false).await;
    let err = submit(&s.worker, "boom", 2).await.unwrap().unwrap_err();
    assert!(matches!(err, WorkerError::Panicked), "{err:?}");
    let ok = submit(&s.worker, "fine", 2).await.unwrap().unwrap();
    assert_eq!(ok.emissions.offsets, [0, 2]);
    assert!(s.worker.is_ready());
}

#[tokio::test]
async fn a_model_that_miscounts_fails_every_job_of_its_batch() {
    let s = setup(100, false).await;
    let err = submit(&s.worker, "short", 2).await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            WorkerError::WrongCount {
                expected: 1,
                got: 0
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_threads_end_when_every_handle_is_dropped() {
    let s = setup(100, false).await;
    let joiner = s.worker.joiner();
    assert_eq!(s.worker.queue_depth(), 0);
    drop(s);
    assert!(joiner.wait(Duration::from_secs(5)).await);
}
