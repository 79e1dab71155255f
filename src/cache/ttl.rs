//! Least-recently-used eviction where every entry also expires.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use revm::primitives::Address;

use super::{AddressHash, Policy};

/// LRU with a fixed lifetime per entry, counted from insertion. An expired
/// entry is never served: `get` treats it as absent, and inserts and
/// `purge` drop it.
///
/// `expiry` lists insertions oldest first, so expired entries are found
/// from its front in amortised constant time; a record whose entry was
/// replaced or removed since is skipped.
pub(crate) struct TtlPolicy<V> {
    entries: lru::LruCache<Address, (V, Instant), AddressHash>,
    expiry: VecDeque<(Instant, Address)>,
    capacity: usize,
    ttl: Duration,
}

impl<V> TtlPolicy<V> {
    /// An empty policy holding at most `capacity` values for `ttl` each.
    pub(crate) fn new(capacity: usize, ttl: Duration) -> TtlPolicy<V> {
        TtlPolicy { entries: lru::LruCache::unbounded_with_hasher(Default::default()), expiry: VecDeque::new(), capacity, ttl }
    }
}

impl<V: Clone + Send> Policy<V> for TtlPolicy<V> {
    fn get(&mut self, address: &Address) -> Option<V> {
        let now = Instant::now();
        let ttl = self.ttl;
        let (value, inserted) = self.entries.get(address)?;
        (now.duration_since(*inserted) < ttl).then(|| value.clone())
    }

    fn insert(&mut self, address: Address, value: V) -> Vec<V> {
        let mut out = self.purge();
        let now = Instant::now();
        self.expiry.push_back((now, address));
        out.extend(self.entries.push(address, (value, now)).map(|(_, (old, _))| old));
        while self.entries.len() > self.capacity {
            out.extend(self.entries.pop_lru().map(|(_, (old, _))| old));
        }
        out
    }

    fn remove(&mut self, address: &Address) -> Option<V> {
        self.entries.pop(address).map(|(v, _)| v)
    }

    fn evict_one(&mut self) -> Option<V> {
        self.entries.pop_lru().map(|(_, (v, _))| v)
    }

    fn purge(&mut self) -> Vec<V> {
        let now = Instant::now();
        let mut out = Vec::new();
        while let Some(&(inserted, address)) = self.expiry.front() {
            if now.duration_since(inserted) < self.ttl {
                break;
            }
            self.expiry.pop_front();
            if self.entries.peek(&address).is_some_and(|(_, t)| *t == inserted) {
                out.extend(self.entries.pop(&address).map(|(v, _)| v));
            }
        }
        if self.expiry.len() > 2 * self.entries.len() + 64 {
            // Many stale records (replaced or removed entries): rebuild.
            let live: std::collections::HashMap<_, _> = self.entries.iter().map(|(a, (_, t))| (*a, *t)).collect();
            self.expiry.retain(|(t, a)| live.get(a) == Some(t));
        }
        out
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_are_never_served_and_are_purged() {
        let mut p = TtlPolicy::new(10, Duration::from_millis(30));
        p.insert(Address::repeat_byte(1), 1);
        assert_eq!(p.get(&Address::repeat_byte(1)), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(p.get(&Address::repeat_byte(1)), None);
        assert_eq!(p.purge(), vec![1]);
        assert_eq!(p.len(), 0);
    }
}
