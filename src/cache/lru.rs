//! Least-recently-used eviction, on the `lru` crate.

use std::num::NonZeroUsize;
use std::sync::Arc;

use revm::primitives::Address;

use super::Policy;
use crate::bytecode::ExternalBytecode;

/// An LRU list of at most `capacity` entries. A hit moves the entry to the
/// front; the back is evicted first.
pub(crate) struct LruPolicy {
    entries: lru::LruCache<Address, Arc<ExternalBytecode>>,
}

impl LruPolicy {
    /// An empty list holding at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> LruPolicy {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        LruPolicy { entries: lru::LruCache::new(capacity) }
    }
}

impl Policy for LruPolicy {
    fn get(&mut self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        self.entries.get(address).cloned()
    }

    fn insert(&mut self, entry: Arc<ExternalBytecode>) -> Vec<Arc<ExternalBytecode>> {
        self.entries.push(entry.address(), entry).map(|(_, old)| old).into_iter().collect()
    }

    fn remove(&mut self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        self.entries.pop(address)
    }

    fn evict_one(&mut self) -> Option<Arc<ExternalBytecode>> {
        self.entries.pop_lru().map(|(_, old)| old)
    }

    fn purge(&mut self) -> Vec<Arc<ExternalBytecode>> {
        Vec::new()
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}
