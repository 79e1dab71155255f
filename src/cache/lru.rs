//! Least-recently-used eviction, on the `lru` crate.

use revm::primitives::Address;

use super::{AddressHash, Policy, Spare, lru_bytes};

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
        self.insert_sparing(address, value, &mut |_, _| None)
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

    fn bytes_per_entry(&self) -> usize {
        lru_bytes::<V>()
    }

    fn recency_only(&self) -> bool {
        true
    }

    fn insert_sparing(&mut self, address: Address, value: V, spare: &mut Spare<'_, V>) -> Vec<V> {
        push_sparing(&mut self.entries, self.capacity, address, value, spare, |value| value, |_, renewed| renewed)
    }

    fn evict_one_sparing(&mut self, spare: &mut Spare<'_, V>) -> Option<V> {
        pop_sparing(&mut self.entries, spare, |value| value, |_, renewed| renewed)
    }
}

/// Puts `entry` for `address` at the front of `entries`, which hold at
/// most `capacity`, and returns what left (evicted entries, a replaced
/// one; the newcomer itself when `capacity` is 0). Room is made first, with
/// [`pop_sparing`], so entries spared on the way sit behind the newcomer:
/// their hits came before this insert. Shared by LRU and TTL.
pub(super) fn push_sparing<T, V>(
    entries: &mut lru::LruCache<Address, T, AddressHash>,
    capacity: usize,
    address: Address,
    entry: T,
    spare: &mut Spare<'_, V>,
    value: impl Fn(&T) -> &V,
    renew: impl Fn(T, V) -> T,
) -> Vec<T> {
    if capacity == 0 {
        return vec![entry];
    }
    let mut out = Vec::new();
    while !entries.contains(&address) && entries.len() >= capacity {
        out.extend(pop_sparing(entries, spare, &value, &renew));
    }
    out.extend(entries.push(address, entry).map(|(_, old)| old));
    out
}

/// Pops the least recent entry of `entries` that `spare` lets go: each
/// entry offered (with the one behind it) and spared goes back to the
/// front as `renew` makes it from the old entry and `spare`'s value. After
/// as many spares as entries, the next goes without asking. `value` is the
/// policy's value within an entry. Shared by LRU and TTL.
pub(super) fn pop_sparing<T, V>(
    entries: &mut lru::LruCache<Address, T, AddressHash>,
    spare: &mut Spare<'_, V>,
    value: impl Fn(&T) -> &V,
    renew: impl Fn(T, V) -> T,
) -> Option<T> {
    for _ in 0..entries.len() {
        let (address, old) = entries.pop_lru()?;
        match spare(value(&old), entries.peek_lru().map(|(_, next)| value(next))) {
            Some(renewed) => {
                entries.push(address, renew(old, renewed));
            }
            None => return Some(old),
        }
    }
    entries.pop_lru().map(|(_, old)| old)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn a_spared_victim_goes_to_the_front_and_the_next_one_goes() {
        let mut lru = LruPolicy::new(3);
        for n in 1..=3 {
            assert!(lru.insert(address(n), n).is_empty());
        }
        // 1 is offered first and spared; 2 goes; 1 now sits behind 4.
        let out = lru.insert_sparing(address(4), 4, &mut |v, next| {
            assert_eq!(next, Some(&if *v == 1 { 2 } else { 3 }), "offered with the one behind it");
            (*v == 1).then_some(10)
        });
        assert_eq!(out, vec![2]);
        assert_eq!(lru.evict_one(), Some(3));
        assert_eq!(lru.evict_one(), Some(10));
        assert_eq!(lru.evict_one(), Some(4));
    }

    #[test]
    fn a_spare_that_always_answers_cannot_stall_eviction() {
        let mut lru = LruPolicy::new(2);
        lru.insert(address(1), 1);
        lru.insert(address(2), 2);
        let out = lru.insert_sparing(address(3), 3, &mut |v, _| Some(*v));
        assert_eq!(out.len(), 1);
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.evict_one_sparing(&mut |v, _| Some(*v)).map(|_| ()), Some(()));
        // Replacing an address hands back its old value, evicting nothing.
        assert_eq!(lru.insert_sparing(address(9), 9, &mut |_, _| None).len(), 0);
        assert_eq!(lru.insert_sparing(address(9), 90, &mut |_, _| None), vec![9]);
    }
}
