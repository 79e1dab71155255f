//! `mem:` URIs: code held in this process under a name.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use super::{Loader, LoaderType, Request, Sink};
use crate::error::{Error, Result};

/// Named in-process entries, for hosts that already hold code in memory and
/// for tests. `mem:<name>` reads the entry `<name>`.
#[derive(Default)]
pub struct MemoryLoader {
    entries: RwLock<HashMap<String, Arc<[u8]>>>,
}

impl MemoryLoader {
    /// Stores `bytes` (raw code or hex text) under `name`, replacing any
    /// entry of that name.
    pub fn insert(&self, name: &str, bytes: &[u8]) {
        self.entries.write().insert(name.to_owned(), Arc::from(bytes));
    }

    /// Removes the entry `name`; true if there was one.
    pub fn remove(&self, name: &str) -> bool {
        self.entries.write().remove(name).is_some()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Loader for MemoryLoader {
    fn kind(&self) -> LoaderType {
        LoaderType::Memory
    }

    fn fetch(&self, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
        let entry = self.entries.read().get(request.location).cloned();
        match entry {
            Some(bytes) => sink.write(&bytes),
            None => Err(Error::NotFound(format!("no memory entry named {:?}", request.location))),
        }
    }
}
