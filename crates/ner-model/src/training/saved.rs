//! Named tensors of a checkpoint besides the model (the weight average, the optimiser state):
//! written through a temporary file and a rename, read back with every name and shape checked
//! against what they are loaded into.

use crate::error::{Result, TrainError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Writes `named` to `path` atomically.
pub(crate) fn write(path: &Path, named: &[(String, &Tensor)]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    Tensor::write_safetensors(named, &tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))
}

/// A file of named tensors, read whole.
pub(crate) struct Saved {
    path: PathBuf,
    what: &'static str,
    tensors: HashMap<String, Tensor>,
}

impl Saved {
    /// Reads `path`; `what` names its contents in errors ("the weight average").
    pub(crate) fn read(path: &Path, what: &'static str) -> Result<Saved> {
        let tensors = Tensor::read_safetensors(path)
            .map_err(|e| {
                TrainError::checkpoint(path.to_owned(), format!("unreadable {what}: {e}"))
            })?
            .into_iter()
            .collect();
        Ok(Saved {
            path: path.to_owned(),
            what,
            tensors,
        })
    }

    /// Copies tensor `name` into `dst`, which must have its shape.
    pub(crate) fn copy_into(&self, name: &str, dst: &mut Tensor) -> Result<()> {
        let bad = |message: String| TrainError::checkpoint(self.path.clone(), message);
        let src = self
            .tensors
            .get(name)
            .ok_or_else(|| bad(format!("{} lacks {name}", self.what)))?;
        if src.size() != dst.size() {
            return Err(bad(format!(
                "{name} in {} has shape {:?}, the model {:?}",
                self.what,
                src.size(),
                dst.size()
            )));
        }
        tch::no_grad(|| dst.copy_(src));
        Ok(())
    }
}
