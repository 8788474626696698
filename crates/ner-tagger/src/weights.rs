//! The tensors of a safetensors file as `f32`, taken by name with their shapes checked.
//!
//! Half-precision (`F16`, `BF16`) and `F64` tensors are widened to `f32` as they are read, and
//! the file's bytes are dropped at once: the packed layout that the native kernels read is the
//! only copy a loaded model keeps. A layer takes the tensors it needs and says which shape it
//! wants (as candle's `VarBuilder` does); [`Weights::finish`] then refuses a file that holds
//! tensors nobody took, so weights of another configuration never load silently.

use crate::error::{Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One tensor: its shape and its values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The shape.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<f32>,
}

/// Named tensors still to be taken, with the file they came from (for messages).
#[derive(Debug)]
pub struct Weights {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
    /// Tensors that hold no real numbers (a transformer's integer `position_ids`): an error
    /// when taken, or when left.
    other: HashMap<String, Dtype>,
    /// A content hash of the file's bytes ([`version_of`]).
    version: String,
}

/// FNV-1a (64 bits) of a weights file's bytes, in hex: the model's version as the server's
/// `/models` shows it.
pub fn version_of(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// The version ([`version_of`]) of the weights file at `path`.
pub fn file_version(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(version_of(&bytes))
}

impl Weights {
    /// Reads every tensor of the safetensors file at `path`.
    pub fn read(path: &Path) -> Result<Weights> {
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::checkpoint(path, "missing safetensors file"),
            _ => Error::io(path, e),
        })?;
        Self::parse(path, &bytes)
    }

    /// The tensors of a safetensors file's bytes; `path` names it in messages.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Weights> {
        let bad = |m: String| Error::checkpoint(path, m);
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("corrupted or unreadable safetensors file: {e}")))?;
        let (mut tensors, mut other) = (HashMap::new(), HashMap::new());
        for (name, view) in st.tensors() {
            match widen(view.dtype(), view.data()) {
                Some(data) => {
                    let shape = view.shape().to_vec();
                    tensors.insert(name, Tensor { shape, data });
                }
                None => {
                    other.insert(name, view.dtype());
                }
            }
        }
        Ok(Weights {
            path: path.to_owned(),
            tensors,
            other,
            version: version_of(bytes),
        })
    }

    /// Tensors given directly (a model in memory); `origin` names them in messages.
    pub fn from_tensors(origin: &Path, tensors: HashMap<String, Tensor>) -> Weights {
        Weights {
            path: origin.to_owned(),
            tensors,
            other: HashMap::new(),
            version: version_of(&[]),
        }
    }

    /// The file these tensors came from (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A content hash of the file read ([`version_of`]).
    pub fn version(&self) -> String {
        self.version.clone()
    }

    /// Whether a tensor of this name is still there.
    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The tensor `name`, whose shape must be `shape`.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.take_any(name)?;
        if t.shape != shape {
            return Err(self.bad(format!(
                "tensor {name:?} has shape {:?}, the configuration needs {shape:?}",
                t.shape
            )));
        }
        Ok(t)
    }

    /// The tensor `name`, whatever its shape.
    pub fn take_any(&mut self, name: &str) -> Result<Tensor> {
        if let Some(dtype) = self.other.get(name) {
            return Err(self.bad(format!(
                "tensor {name:?} has type {dtype:?}, which cannot be read as numbers (F32, F16, BF16 or F64)"
            )));
        }
        self.tensors.remove(name).ok_or_else(|| {
            self.bad(format!(
                "tensor {name:?} is missing: the weights do not belong to this configuration"
            ))
        })
    }

    /// Drops the tensors whose names start with `prefix` (parts of a file that are not used).
    pub fn skip(&mut self, prefix: &str) {
        self.tensors.retain(|n, _| !n.starts_with(prefix));
        self.other.retain(|n, _| !n.starts_with(prefix));
    }

    /// Takes every tensor whose name starts with `prefix`, named without it.
    pub fn take_prefixed(&mut self, prefix: &str) -> HashMap<String, Tensor> {
        let names: Vec<String> = self
            .tensors
            .keys()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect();
        names
            .into_iter()
            .filter_map(|n| {
                let t = self.tensors.remove(&n)?;
                Some((n[prefix.len()..].to_owned(), t))
            })
            .collect()
    }

    /// Replaces tensors by `changed` (a fine-tuned model's layers over its base), each of the
    /// shape of the one it replaces; a name the file lacks is an error.
    pub fn overlay(&mut self, changed: HashMap<String, Tensor>, origin: &Path) -> Result<()> {
        for (name, t) in changed {
            let Some(old) = self.tensors.get_mut(&name) else {
                return Err(Error::checkpoint(
                    origin,
                    format!(
                        "tensor {name:?} changes a tensor that {} lacks: the model was fine-tuned from another transformer",
                        self.path.display()
                    ),
                ));
            };
            if old.shape != t.shape {
                return Err(Error::checkpoint(
                    origin,
                    format!(
                        "tensor {name:?} has shape {:?}, the transformer's has {:?}",
                        t.shape, old.shape
                    ),
                ));
            }
            *old = t;
        }
        Ok(())
    }

    /// Succeeds when every tensor was taken.
    pub fn finish(self) -> Result<()> {
        let mut left: Vec<&String> = self.tensors.keys().chain(self.other.keys()).collect();
        left.sort();
        match left.first() {
            None => Ok(()),
            Some(n) => Err(self.bad(format!(
                "unexpected tensor {n:?}: the weights do not belong to this configuration"
            ))),
        }
    }

    /// An error about this file.
    pub fn bad(&self, message: String) -> Error {
        Error::checkpoint(&self.path, message)
    }
}

/// An embedding table: `rows` vectors of `dim` values.
#[derive(Debug, Clone)]
pub struct Table {
    /// Width of a row.
    pub dim: usize,
    /// The rows, one after another.
    pub data: Vec<f32>,
}

impl Table {
    /// The table `name`, `[rows][dim]`.
    pub fn take(w: &mut Weights, name: &str, rows: usize, dim: usize) -> Result<Table> {
        let t = w.take(name, &[rows, dim])?;
        Ok(Table { dim, data: t.data })
    }

    /// Row `id`; ids past the table (never produced by the vocabulary) read as zeros.
    pub fn row(&self, id: i64) -> Option<&[f32]> {
        let at = usize::try_from(id).ok()? * self.dim;
        self.data.get(at..at + self.dim)
    }
}

/// Little-endian values of `dtype` as `f32` (`None` for a type that holds no real numbers).
fn widen(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    fn each<const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
        bytes
            .chunks_exact(N)
            .map(|c| {
                let mut b = [0u8; N];
                b.copy_from_slice(c);
                f(b)
            })
            .collect()
    }
    Some(match dtype {
        Dtype::F32 => each(bytes, f32::from_le_bytes),
        Dtype::F16 => each(bytes, |b| half::f16::from_le_bytes(b).to_f32()),
        Dtype::BF16 => each(bytes, |b| half::bf16::from_le_bytes(b).to_f32()),
        Dtype::F64 => each(bytes, |b| f64::from_le_bytes(b) as f32),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    fn file(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
        let views: Vec<(String, TensorView)> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        safetensors::serialize(views, None).unwrap()
    }

    #[test]
    fn half_and_double_precision_are_widened_exactly() {
        let h: Vec<u8> = [1.5f32, -0.25]
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        let b: Vec<u8> = half::bf16::from_f32(3.0).to_le_bytes().to_vec();
        let d: Vec<u8> = 0.125f64.to_le_bytes().to_vec();
        let bytes = file(&[
            ("h", Dtype::F16, vec![2], h),
            ("b", Dtype::BF16, vec![1], b),
            ("d", Dtype::F64, vec![1, 1], d),
        ]);
        let mut w = Weights::parse(Path::new("x"), &bytes).unwrap();
        assert_eq!(w.take("h", &[2]).unwrap().data, [1.5, -0.25]);
        assert_eq!(w.take("b", &[1]).unwrap().data, [3.0]);
        assert_eq!(w.take("d", &[1, 1]).unwrap().data, [0.125]);
        w.finish().unwrap();
    }

    #[test]
    fn integer_tensors_are_an_error_only_when_taken_or_left() {
        let bytes = file(&[("ids", Dtype::I64, vec![1], vec![0; 8])]);
        let mut w = Weights::parse(Path::new("x"), &bytes).unwrap();
        let e = w.take_any("ids").unwrap_err().to_string();
        assert!(
            e.contains("has type I64, which cannot be read as numbers"),
            "{e}"
        );
        let e = Weights::parse(Path::new("x"), &bytes).unwrap().finish();
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("unexpected tensor \"ids\""));
        let mut w = Weights::parse(Path::new("x"), &bytes).unwrap();
        w.skip("ids");
        w.finish().unwrap();
    }

    #[test]
    fn wrong_shapes_missing_and_unexpected_tensors_are_named() {
        let bytes = file(&[
            ("a", Dtype::F32, vec![2], vec![0; 8]),
            ("z", Dtype::F32, vec![1], vec![0; 4]),
        ]);
        let mut w = Weights::parse(Path::new("m.safetensors"), &bytes).unwrap();
        let e = w.take("a", &[3]).unwrap_err().to_string();
        assert!(
            e.contains("\"a\" has shape [2], the configuration needs [3]"),
            "{e}"
        );
        let e = w.take("q", &[1]).unwrap_err().to_string();
        assert!(e.contains("\"q\" is missing"), "{e}");
        let e = w.finish().unwrap_err().to_string();
        assert!(
            e.starts_with("m.safetensors: unexpected tensor \"z\""),
            "{e}"
        );
    }

    #[test]
    fn a_damaged_file_is_an_error() {
        let mut bytes = file(&[("a", Dtype::F32, vec![2], vec![0; 8])]);
        bytes.truncate(bytes.len() - 3);
        let e = Weights::parse(Path::new("m"), &bytes)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("corrupted or unreadable safetensors file"),
            "{e}"
        );
    }
}
