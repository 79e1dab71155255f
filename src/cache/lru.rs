//! Least-recently-used eviction, on the `lru` crate.

use std::sync::Arc;

use revm::primitives::Address;

use super::Policy;
use crate::bytecode::ExternalBytecode;

/// An LRU list of at most `capacity` entries. A hit moves the entry to the
/// front; the back is evicted first.
///
/// The list grows as entries come instead of reserving `capacity` slots up
/// front: a host may configure a bound far above what it ever caches.
pub(crate) struct LruPolicy {
    entries: lru::LruCache<Address, Arc<ExternalBytecode>>,
    capacity: usize,
}

impl LruPolicy {
    /// An empty list holding at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> LruPolicy {
        LruPolicy { entries: lru::LruCache::unbounded(), capacity: capacity.max(1) }
    }
}

impl Policy for LruPolicy {
    fn get(&mut self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        self.entries.get(address).cloned()
    }

    fn insert(&mut self, entry: Arc<ExternalBytecode>) -> Vec<Arc<ExternalBytecode>> {
        let mut out: Vec<_> = self.entries.push(entry.address(), entry).map(|(_, old)| old).into_iter().collect();
        while self.entries.len() > self.capacity {
            out.extend(self.entries.pop_lru().map(|(_, old)| old));
        }
        out
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
