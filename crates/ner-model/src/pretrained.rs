//! Pretrained word vectors in GloVe, word2vec or fastText text format (plain or `.gz`).
//!
//! One word and its values per line, separated by spaces; word2vec and fastText files start
//! with a `count dimension` header, which is recognised and skipped. A malformed line is an
//! error with its line number; vectors of another dimension than the model's are refused.

use crate::error::{Result, TrainError};
use crate::model::BiLstmCrf;
use crate::vocab::Vocab;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use tch::{Kind, Tensor};

/// Vectors kept in memory: the ones the vocabulary needs, plus up to `extra` further words in
/// file order (most frequent first in GloVe and fastText files).
#[derive(Debug, Default)]
pub struct Vectors {
    pub dim: usize,
    pub table: HashMap<String, Vec<f32>>,
    /// Words of the file outside the training vocabulary, kept so that the model knows them.
    pub extra: Vec<String>,
}

fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = std::fs::File::open(path).map_err(|e| TrainError::io(path, e))?;
    let r: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, r)))
}

fn wrong_width(dim: usize, found: usize, line_no: usize) -> String {
    let hint = if line_no == 1 {
        format!("; if the file has {found} dimensions, set --word-dim {found}")
    } else {
        String::new()
    };
    format!("expected a word and {dim} numbers, found {found} values{hint}")
}

/// A vector's numbers; the message names the first that is not a finite number.
fn parse_values(values: &[&str], word: &str) -> Result<Vec<f32>, String> {
    values
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<f32>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    format!("value {} ({s:?}) of {word:?} is not a finite number", i + 1)
                })
        })
        .collect()
}

/// How many numbers the vectors of `path` have: its `count dimension` header's, or its first
/// line's.
pub fn width(path: &Path) -> Result<usize> {
    let mut line = String::new();
    open(path)?
        .read_line(&mut line)
        .map_err(|e| TrainError::io(path, e))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [count, dim] if count.parse::<u64>().is_ok() => dim.parse().ok(),
        [_, values @ ..] if !values.is_empty() => Some(values.len()),
        _ => None,
    }
    .ok_or_else(|| TrainError::Vectors {
        path: path.to_owned(),
        line: 1,
        message: "expected `word v1 ... vD` or a `count dimension` header".into(),
    })
}

/// Reads the vectors `vocab` needs (exact form, then lower-cased), and up to `extra` others.
pub fn read_vectors(path: &Path, dim: usize, vocab: &Vocab, extra: usize) -> Result<Vectors> {
    let mut input = open(path)?;
    let mut out = Vectors {
        dim,
        ..Default::default()
    };
    let err = |line: usize, message: String| TrainError::Vectors {
        path: path.to_owned(),
        line,
        message,
    };
    let mut buf = String::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = input.read_line(&mut buf).map_err(|e| {
            err(
                line_no + 1,
                format!("cannot read: {e} (is the file valid UTF-8 text?)"),
            )
        })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let line = buf.trim_end();
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split(' ');
        let word = fields.next().unwrap_or_default();
        let values: Vec<&str> = fields.collect();
        if line_no == 1 && values.len() == 1 && word.parse::<u64>().is_ok() {
            let file_dim: usize = values[0]
                .parse()
                .map_err(|_| err(1, "header is not `count dimension`".into()))?;
            if file_dim != dim {
                return Err(err(1, format!("the vectors have {file_dim} dimensions, the model's word_dim is {dim}; set --word-dim {file_dim}")));
            }
            continue;
        }
        if values.len() != dim {
            return Err(err(line_no, wrong_width(dim, values.len(), line_no)));
        }
        let normalized = vocab.normalize(word);
        let wanted = vocab.contains(&normalized) && !out.table.contains_key(&normalized);
        let keep_extra = !vocab.contains(&normalized)
            && out.extra.len() < extra
            && !out.table.contains_key(&normalized);
        if !(wanted || keep_extra) {
            continue;
        }
        let v = parse_values(&values, word).map_err(|m| err(line_no, m))?;
        if keep_extra {
            out.extra.push(normalized.clone());
        }
        out.table.insert(normalized, v);
    }
    Ok(out)
}

/// Copies vectors into an embedding matrix `[V, D]` whose rows follow `vocab`, from row
/// `first` on (the rows before it keep what they hold); returns how many rows were set.
pub fn copy_into(weights: &Tensor, vocab: &Vocab, vectors: &Vectors, first: usize) -> usize {
    let mut count = 0;
    let w = weights.shallow_clone();
    tch::no_grad(|| {
        for (i, word) in vocab.words().iter().enumerate().skip(first) {
            let v = vectors
                .table
                .get(word)
                .or_else(|| vectors.table.get(&word.to_lowercase()));
            if let Some(v) = v {
                let row = Tensor::from_slice(v)
                    .to_kind(Kind::Float)
                    .to_device(w.device());
                w.get(i as i64).copy_(&row.to_kind(w.kind()));
                count += 1;
            }
        }
    });
    count
}

/// Sets every word embedding to the mean of its word pieces' subword vectors (the model's
/// frozen subword table), so that training starts from pretrained word vectors. The word and
/// subword dimensions must be equal. Returns how many rows were set.
pub fn init_words_from_subword(model: &BiLstmCrf, vocab: &Vocab) -> Result<usize> {
    let pooled = pooled_subword_vectors(model, vocab)?;
    if pooled.dim as i64 != model.config.word_dim {
        return Err(TrainError::Config(format!(
            "word_dim {} differs from the subword dimension {}; set --word-dim {}",
            model.config.word_dim, pooled.dim, pooled.dim
        )));
    }
    Ok(copy_into(&model.word_emb.ws, vocab, &pooled, 2))
}

/// Every word of `vocab` (but padding and the unknown word) as the mean of its word pieces'
/// subword vectors (the model's frozen subword table).
fn pooled_subword_vectors(model: &BiLstmCrf, vocab: &Vocab) -> Result<Vectors> {
    let Some(table) = &model.subword_table else {
        return Err(TrainError::Config(
            "the model has no subword vectors".into(),
        ));
    };
    let Some(tok) = vocab.subword() else {
        return Err(TrainError::Config(
            "the vocabulary has no subword tokenizer".into(),
        ));
    };
    let mut out = Vectors {
        dim: table.size()[1] as usize,
        ..Default::default()
    };
    tch::no_grad(|| -> Result<()> {
        for word in vocab.words().iter().skip(2) {
            let ids = crate::subword::pieces(tok, word);
            if ids.is_empty() {
                continue;
            }
            let rows = table.index_select(0, &Tensor::from_slice(&ids).to_device(table.device()));
            let mean = rows.mean_dim([0].as_slice(), false, Kind::Float);
            let v = Vec::<f32>::try_from(mean.to_device(tch::Device::Cpu))?;
            out.table.insert(word.clone(), v);
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;

    fn vocab() -> Vocab {
        Vocab::build(["the", "cat"], &ModelConfig::default(), 1)
    }

    #[test]
    fn reads_glove_and_word2vec_and_gz() {
        let dir = tempfile::tempdir().unwrap();
        let glove = dir.path().join("g.txt");
        std::fs::write(&glove, "the 1 2\nfoo 3 4\ncat 5 6\nbar 7 8\n").unwrap();
        let v = read_vectors(&glove, 2, &vocab(), 1).unwrap();
        assert_eq!(v.table["cat"], [5.0, 6.0]);
        assert_eq!(v.extra, ["foo"]);
        let w2v = dir.path().join("w.txt.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"2 2\nThe 1 2\ncat 5 6\n").unwrap();
        std::fs::write(&w2v, gz.finish().unwrap()).unwrap();
        let v = read_vectors(&w2v, 2, &vocab(), 0).unwrap();
        assert_eq!(v.table["the"], [1.0, 2.0]);
    }

    #[test]
    fn refuses_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.txt");
        std::fs::write(&p, "the 1 2\ncat 5 x\n").unwrap();
        let e = read_vectors(&p, 2, &vocab(), 0).unwrap_err().to_string();
        assert!(
            e.contains("bad.txt:2:") && e.contains("not a finite number"),
            "{e}"
        );
        std::fs::write(&p, "the 1 2 3\n").unwrap();
        let e = read_vectors(&p, 2, &vocab(), 0).unwrap_err().to_string();
        assert!(e.contains(":1:") && e.contains("--word-dim 3"), "{e}");
        std::fs::write(&p, "10 300\nthe 1 2\n").unwrap();
        let e = read_vectors(&p, 2, &vocab(), 0).unwrap_err().to_string();
        assert!(e.contains("300 dimensions"), "{e}");
    }
}
