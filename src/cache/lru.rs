//! Least-recently-used eviction, on the `lru` crate.

use revm::primitives::Address;

use super::{AddressHash, Policy};

/// An LRU list of at most `capacity` values. A hit moves the entry to the
/// front; the back is evicted first.
///
/// The list grows as entries come instead of reserving `capacity` slots up
/// front: a host may configure a bound far above what it ever caches.
pub(crate) struct LruPolicy<V> {
    entries: lru::LruCache<Address, V, AddressHash>,
    capacity: usize,
}

impl<V> LruPolicy<V> {
    /// An empty list holding at most `capacity` values (0: holds nothing).
    pub(crate) fn new(capacity: usize) -> LruPolicy<V> {
        LruPolicy { entries: lru::LruCache::unbounded_with_hasher(Default::default()), capacity }
    }
}

impl<V: Clone + Send> Policy<V> for LruPolicy<V> {
    fn get(&mut self, address: &Address) -> Option<V> {
        self.entries.get(address).cloned()
    }

    fn insert(&mut self, address: Address, value: V) -> Vec<V> {
        let mut out: Vec<V> = self.entries.push(address, value).map(|(_, old)| old).into_iter().collect();
        while self.entries.len() > self.capacity {
            out.extend(self.entries.pop_lru().map(|(_, old)| old));
        }
        out
    }

    fn remove(&mut self, address: &Address) -> Option<V> {
        self.entries.pop(address)
    }

    fn evict_one(&mut self) -> Option<V> {
        self.entries.pop_lru().map(|(_, old)| old)
    }

    fn purge(&mut self) -> Vec<V> {
        Vec::new()
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}
