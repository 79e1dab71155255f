//! Least-frequently-used eviction, with aging.

use std::collections::{BTreeSet, HashMap};

use revm::primitives::Address;

use super::{AddressHash, Policy};

/// Evicts the entry with the fewest accesses, the least recent among equals.
/// Every `8 × capacity` accesses all counts are halved, so a burst of
/// popularity long ago stops protecting an entry.
///
/// `order` holds `(count, last tick, address)` for every entry, so the
/// victim is its first element; a hit is two `BTreeSet` updates.
pub(crate) struct LfuPolicy<V> {
    entries: HashMap<Address, (V, u32, u64), AddressHash>,
    order: BTreeSet<(u32, u64, Address)>,
    capacity: usize,
    tick: u64,
    accesses: usize,
}

impl<V> LfuPolicy<V> {
    /// An empty policy holding at most `capacity` values.
    pub(crate) fn new(capacity: usize) -> LfuPolicy<V> {
        LfuPolicy { entries: HashMap::default(), order: BTreeSet::new(), capacity, tick: 0, accesses: 0 }
    }

    fn age_if_due(&mut self) {
        self.accesses += 1;
        if self.accesses < self.capacity.saturating_mul(8).max(64) {
            return;
        }
        self.accesses = 0;
        self.order.clear();
        for (address, (_, count, tick)) in self.entries.iter_mut() {
            *count /= 2;
            self.order.insert((*count, *tick, *address));
        }
    }

    /// How many values are held.
    pub(super) fn held(&self) -> usize {
        self.entries.len()
    }

    /// Whether `address` is held.
    pub(super) fn contains(&self, address: &Address) -> bool {
        self.entries.contains_key(address)
    }

    /// `address`'s count and last tick, if held.
    pub(super) fn rank(&self, address: &Address) -> Option<(u32, u64)> {
        self.entries.get(address).map(|(_, count, tick)| (*count, *tick))
    }

    /// Takes on `model`'s clock (its tick and the accesses since it last
    /// aged), so that ranks copied from it compare as they do there.
    pub(super) fn set_clock_as<W>(&mut self, model: &LfuPolicy<W>) {
        self.tick = model.tick;
        self.accesses = model.accesses;
    }

    /// Puts `address` in with `count` and `tick`, evicting nothing: the
    /// caller keeps the number held within the capacity.
    pub(super) fn place(&mut self, address: Address, value: V, count: u32, tick: u64) {
        if let Some((_, c, t)) = self.entries.insert(address, (value, count, tick)) {
            self.order.remove(&(c, t, address));
        }
        self.order.insert((count, tick, address));
    }

    /// Puts `address` in with `count`, as the most recent among equals,
    /// evicting nothing.
    pub(super) fn place_now(&mut self, address: Address, value: V, count: u32) {
        self.tick += 1;
        self.place(address, value, count, self.tick);
    }

    /// Takes every entry out, the next victim first.
    pub(super) fn drain_by_rank(&mut self) -> Vec<(Address, V)> {
        let order = std::mem::take(&mut self.order);
        order.into_iter().filter_map(|(_, _, a)| self.entries.remove(&a).map(|(v, _, _)| (a, v))).collect()
    }

    fn pop_victim(&mut self) -> Option<V> {
        let (_, _, address) = self.order.pop_first()?;
        self.entries.remove(&address).map(|(v, _, _)| v)
    }
}

impl<V: Clone + Send> Policy<V> for LfuPolicy<V> {
    fn get(&mut self, address: &Address) -> Option<V> {
        self.tick += 1;
        let (value, count, tick) = self.entries.get_mut(address)?;
        self.order.remove(&(*count, *tick, *address));
        *count = count.saturating_add(1);
        *tick = self.tick;
        self.order.insert((*count, *tick, *address));
        let value = value.clone();
        self.age_if_due();
        Some(value)
    }

    fn insert(&mut self, address: Address, value: V) -> Vec<V> {
        self.tick += 1;
        let mut out = Vec::new();
        let count = match self.entries.remove(&address) {
            Some((old, count, tick)) => {
                self.order.remove(&(count, tick, address));
                out.push(old);
                count
            }
            None => 1,
        };
        while self.entries.len() >= self.capacity {
            match self.pop_victim() {
                Some(v) => out.push(v),
                None => break,
            }
        }
        if self.capacity == 0 {
            out.push(value);
            return out;
        }
        self.entries.insert(address, (value, count, self.tick));
        self.order.insert((count, self.tick, address));
        self.age_if_due();
        out
    }

    fn remove(&mut self, address: &Address) -> Option<V> {
        let (value, count, tick) = self.entries.remove(address)?;
        self.order.remove(&(count, tick, *address));
        Some(value)
    }

    fn evict_one(&mut self) -> Option<V> {
        self.pop_victim()
    }

    fn purge(&mut self) -> Vec<V> {
        Vec::new()
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn the_least_used_goes_first_and_ties_go_by_age() {
        let mut p = LfuPolicy::new(2);
        p.insert(a(1), 1);
        p.insert(a(2), 2);
        p.get(&a(1));
        assert_eq!(p.insert(a(3), 3), vec![2]);
        p.get(&a(3));
        // 1 and 3 both have two accesses; 1 is older.
        assert_eq!(p.insert(a(4), 4), vec![1]);
    }

    #[test]
    fn aging_lets_new_favourites_replace_old_ones() {
        let mut p = LfuPolicy::new(2);
        p.insert(a(1), 1);
        for _ in 0..40 {
            p.get(&a(1));
        }
        // Without aging, 1 (count 41) would outlive any newcomer forever.
        for round in 0..200u32 {
            p.insert(a(2), 2);
            for _ in 0..3 {
                p.get(&a(2));
            }
            p.insert(a(3 + (round % 2) as u8), 0);
        }
        assert!(p.get(&a(1)).is_none(), "old popularity faded");
    }
}
