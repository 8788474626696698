//! Word pieces: a model's `tokenizer.json` (through the `tokenizers` crate) and its frozen
//! subword table `subword.safetensors` (`table`, `[V, D]`, stored in half precision), whose
//! rows are mean-pooled per word so that every word, unknown ones included, gets a pretrained
//! vector.

use crate::error::{Error, Result};
use crate::weights::Table;
use crate::weights::Weights;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// The subword table's file in a model directory.
pub const TABLE_FILE: &str = "subword.safetensors";
/// The tokenizer's file.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// The name of the table's tensor in [`TABLE_FILE`].
pub const TABLE: &str = "table";

/// At most this many pieces of a word are pooled (long words keep their first pieces).
pub const MAX_PIECES: usize = 8;

/// Reads a `tokenizer.json` for single words: no truncation, no padding.
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    if !path.is_file() {
        return Err(Error::checkpoint(path, "missing tokenizer.json"));
    }
    let mut t = Tokenizer::from_file(path)
        .map_err(|e| Error::checkpoint(path, format!("not a usable tokenizer.json: {e}")))?;
    t.with_truncation(None)
        .map_err(|e| Error::checkpoint(path, e.to_string()))?;
    t.with_padding(None);
    Ok(t)
}

/// The `*.safetensors` file of a Hugging Face model directory (`model.safetensors` when there
/// are several).
pub fn safetensors_in(dir: &Path) -> Result<PathBuf> {
    let preferred = dir.join("model.safetensors");
    if preferred.is_file() {
        return Ok(preferred);
    }
    std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .ok_or_else(|| Error::checkpoint(dir, "no .safetensors file"))
}

/// The piece ids of one word (no special tokens), at most [`MAX_PIECES`].
pub fn pieces(tokenizer: &Tokenizer, word: &str) -> Vec<i64> {
    match tokenizer.encode(word, false) {
        Ok(enc) => enc
            .get_ids()
            .iter()
            .take(MAX_PIECES)
            .map(|&i| i64::from(i))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A model directory's tokenizer and subword table, checked against each other and against the
/// width `dim` that the model's configuration gives (`None`: any).
pub fn load(dir: &Path, dim: Option<usize>) -> Result<(Tokenizer, Table)> {
    let tokenizer = load_tokenizer(&dir.join(TOKENIZER_FILE))?;
    let path = dir.join(TABLE_FILE);
    if !path.is_file() {
        return Err(Error::MissingFile {
            dir: dir.to_owned(),
            file: TABLE_FILE,
        });
    }
    let mut w = Weights::read(&path)?;
    let t = w.take_any(TABLE)?;
    let rows = t.shape.first().copied().unwrap_or(0);
    if t.shape.len() != 2 || rows < tokenizer.get_vocab_size(true) {
        return Err(Error::checkpoint(
            &path,
            format!("table shape {:?} does not fit the tokenizer", t.shape),
        ));
    }
    let width = t.shape[1];
    if dim.is_some_and(|d| d != width) {
        return Err(Error::checkpoint(
            &path,
            format!(
                "subword table has {width} dimensions, config.json says {}",
                dim.unwrap_or(width)
            ),
        ));
    }
    w.finish()?;
    Ok((
        tokenizer,
        Table {
            dim: width,
            data: t.data,
        },
    ))
}
