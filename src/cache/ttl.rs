//! Least-recently-used eviction where every entry also expires.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use revm::primitives::Address;

use super::{AddressHash, Policy, Spare, lru_bytes, vec_bytes};

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
        self.insert_sparing(address, value, &mut |_, _| None)
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
        // Records of entries replaced or evicted before they expired go
        // once they are a fifth of the queue (a pass over it for every
        // quarter of the entries inserted), so that the queue holds at
        // most 5/4 of a record per entry.
        let held = self.entries.len();
        if self.expiry.len() > held + held / 4 + 64 {
            let entries = &self.entries;
            self.expiry.retain(|(t, a)| entries.peek(a).is_some_and(|(_, inserted)| inserted == t));
        }
        out
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn bytes_per_entry(&self) -> usize {
        // The entry and its expiry records (up to 5/4 of one: see `purge`).
        lru_bytes::<(V, Instant)>() + vec_bytes::<(Instant, Address)>() * 5 / 4
    }

    /// Expiry goes by insertion time, which hits do not change: the order
    /// of eviction is recency alone.
    fn recency_only(&self) -> bool {
        true
    }

    fn insert_sparing(&mut self, address: Address, value: V, spare: &mut Spare<'_, V>) -> Vec<V> {
        let mut out = self.purge();
        let now = Instant::now();
        self.expiry.push_back((now, address));
        let pushed = super::lru::push_sparing(&mut self.entries, self.capacity, address, (value, now), spare, |entry| &entry.0, renewed);
        out.extend(pushed.into_iter().map(|(old, _)| old));
        out
    }

    fn evict_one_sparing(&mut self, spare: &mut Spare<'_, V>) -> Option<V> {
        super::lru::pop_sparing(&mut self.entries, spare, |entry| &entry.0, renewed).map(|(old, _)| old)
    }
}

/// A spared entry with its new value: it keeps its insertion time, so it
/// expires when it was due.
fn renewed<V>((_, inserted): (V, Instant), value: V) -> (V, Instant) {
    (value, inserted)
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

    #[test]
    fn a_spared_entry_still_expires_when_it_was_due() {
        let mut p = TtlPolicy::new(2, Duration::from_millis(60));
        p.insert(Address::repeat_byte(1), 1);
        std::thread::sleep(Duration::from_millis(40));
        p.insert(Address::repeat_byte(2), 2);
        // 1 is offered first and spared; 2 goes in its place.
        let out = p.insert_sparing(Address::repeat_byte(3), 3, &mut |v, _| (*v == 1).then_some(1));
        assert_eq!(out, vec![2]);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(p.purge(), vec![1], "1 expires 60 ms after its insertion, spared or not");
        assert_eq!(p.get(&Address::repeat_byte(3)), Some(3));
    }
}
