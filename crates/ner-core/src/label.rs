//! Entity labels (`PER`, `LOC`, ...) as typed values.
//!
//! A [`LabelSet`] numbers entity types. It is mutable while a corpus is read for training and
//! frozen afterwards: a frozen set never grows, so a label seen only at evaluation time is
//! reported as unknown (and counted as an error) instead of silently getting a new number.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The number of an entity type inside its [`LabelSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LabelId(pub u16);

/// An ordered set of entity types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSet {
    names: Vec<String>,
    index: HashMap<String, LabelId>,
    frozen: bool,
}

impl LabelSet {
    /// An empty, growable set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frozen set holding exactly these names, in this order (duplicates are merged).
    pub fn frozen_from<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = Self::new();
        for n in names {
            set.intern(n.as_ref());
        }
        set.frozen = true;
        set
    }

    /// The id of `name`, adding it while the set is not frozen. `None` for an unknown name of a
    /// frozen set.
    pub fn intern(&mut self, name: &str) -> Option<LabelId> {
        if let Some(&id) = self.index.get(name) {
            return Some(id);
        }
        if self.frozen || self.names.len() >= u16::MAX as usize {
            return None;
        }
        let id = LabelId(self.names.len() as u16);
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), id);
        Some(id)
    }

    /// The id of `name`, never adding it.
    pub fn get(&self, name: &str) -> Option<LabelId> {
        self.index.get(name).copied()
    }

    /// The name of `id`.
    pub fn name(&self, id: LabelId) -> &str {
        &self.names[id.0 as usize]
    }

    /// Stops the set from growing.
    pub fn freeze(&mut self) {
        self.frozen = true;
    }

    /// Labels in the set.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the set has no label.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// All names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// A copy with names sorted alphabetically and frozen: a stable order for model files.
    pub fn sorted_frozen(&self) -> Self {
        let mut names = self.names.clone();
        names.sort();
        Self::frozen_from(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_set_refuses_new_names() {
        let mut set = LabelSet::new();
        assert_eq!(set.intern("PER"), Some(LabelId(0)));
        assert_eq!(set.intern("LOC"), Some(LabelId(1)));
        assert_eq!(set.intern("PER"), Some(LabelId(0)));
        set.freeze();
        assert_eq!(set.intern("ORG"), None);
        assert_eq!(set.intern("LOC"), Some(LabelId(1)));
        assert_eq!(set.name(LabelId(1)), "LOC");
        assert_eq!(set.sorted_frozen().names(), &["LOC", "PER"]);
    }
}
