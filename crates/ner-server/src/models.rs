//! The models one server holds, by name: each on its own model thread and batcher
//! ([`Worker`]); the first is the default, used when a request names none.

use crate::error::ApiError;
use crate::worker::Worker;
use std::sync::Arc;
use std::time::SystemTime;

/// One served model.
pub struct Served {
    /// The name requests use (`"model": NAME`); empty: the model's own name, once loaded.
    pub name: String,
    pub worker: Worker,
    /// When it was started.
    pub started: SystemTime,
}

impl Served {
    /// The name requests use.
    pub fn name(&self) -> String {
        if self.name.is_empty() {
            self.worker
                .info()
                .map(|i| i.name.clone())
                .unwrap_or_default()
        } else {
            self.name.clone()
        }
    }
}

/// Every served model, the default first.
#[derive(Clone)]
pub struct Models(Arc<Vec<Served>>);

impl Models {
    /// `served` must not be empty.
    pub fn new(served: Vec<Served>) -> Models {
        Models(Arc::new(served))
    }

    pub fn default_model(&self) -> &Served {
        &self.0[0]
    }

    pub fn all(&self) -> &[Served] {
        &self.0
    }

    /// The model called `name`, or the default for `None`; an unknown name is a 404 that
    /// lists the names.
    pub fn get(&self, name: Option<&str>) -> Result<&Served, ApiError> {
        let Some(name) = name else {
            return Ok(self.default_model());
        };
        self.0
            .iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| ApiError::UnknownModel {
                name: name.to_owned(),
                known: self.names(),
            })
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(Served::name).collect()
    }
}
