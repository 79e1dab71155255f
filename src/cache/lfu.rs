//! Least-frequently-used eviction, with aging.

use std::collections::HashMap;

use revm::primitives::Address;

use super::{AddressHash, Policy, table_bytes, vec_bytes};

/// No node or bucket.
const NONE: usize = usize::MAX;

/// Evicts the entry with the fewest accesses, the longest at that count
/// among equals.
/// Every `8 × capacity` accesses all counts are halved, so a burst of
/// popularity long ago stops protecting an entry.
///
/// Entries sit in buckets by count, each bucket a list in the order its
/// entries took their place there, and the buckets in a list by count
/// (the O(1) LFU of Shah, Mitra and Matani, 2010). The victim is the first
/// entry of the first bucket. A hit only counts itself in its entry (`Node::pending`) and
/// stamps it: the entry moves to the end of the bucket of its whole count
/// when it comes up as the victim, once however many hits it had. So the
/// victim is the entry of the fewest accesses and, among equals, the one
/// that took its place at that count first: an entry not hit since it
/// took its place sits in its true bucket, and one that was moves up
/// before it could be taken. Each aging puts the entries of one count
/// back in the order of their last use. (Moved at each hit, an entry went
/// behind its new bucket's entries at once, and the least recently used
/// went first among equals; the hit ratios of BENCHMARKS.md moved by 0.01
/// at most.) A hit writes one entry, where moving it wrote its neighbours
/// and buckets too (and, with two threads replaying hits in turn, passed
/// those lines from core to core).
pub(crate) struct LfuPolicy<V> {
    index: HashMap<Address, usize, AddressHash>,
    /// Entries by slot, with a free list.
    nodes: Vec<Node<V>>,
    free_nodes: Vec<usize>,
    buckets: Vec<Bucket>,
    free_buckets: Vec<usize>,
    /// The bucket of the fewest accesses, or `NONE`.
    lowest: usize,
    /// The bucket of the most accesses, or `NONE`.
    highest: usize,
    capacity: usize,
    tick: u64,
    accesses: usize,
}

/// Where an entry stands in an [`LfuPolicy`], as [`LfuPolicy::rank`]
/// tells and [`LfuPolicy::place`] takes: its node's order fields. Ordered
/// as a policy with no hits pending takes its entries, by count and then
/// tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Rank {
    /// The count of its bucket.
    pub(super) count: u32,
    /// When it took its place there.
    pub(super) tick: u64,
    /// Hits since, not yet in `count`.
    pub(super) pending: u32,
    /// When it was last used.
    pub(super) used: u64,
}

impl Rank {
    /// An entry taking its place at `count` now, at `tick`, as the newest
    /// of its count.
    pub(super) fn new(count: u32, tick: u64) -> Rank {
        Rank { count, tick, pending: 0, used: tick }
    }

    /// Its accesses: its bucket's count and its hits since.
    #[cfg(test)]
    pub(super) fn accesses(&self) -> u32 {
        self.count.saturating_add(self.pending)
    }
}

/// One entry, linked in its bucket. In this order: the two fields a hit
/// writes come first, together, so that they share a cache line wherever
/// the node lies in the vector (holding the cache's values a node is 96
/// bytes, and starts at 0 or 32 within a line).
#[repr(C)]
struct Node<V> {
    /// When it was last used: an aging puts entries of one count back in
    /// the order of their last use.
    used: u64,
    /// Hits since it took its place in its bucket, not yet in `count`.
    pending: u32,
    count: u32,
    /// When it took its place in its bucket (the policy's tick), which
    /// orders it there: inserted, placed, moved up with its hits, or put
    /// back by an aging.
    tick: u64,
    bucket: usize,
    prev: usize,
    next: usize,
    address: Address,
    value: Option<V>,
}

/// Buffered hits [`LfuPolicy::record_hits`] finds before it counts them.
/// With 32 and the nodes fetched ahead, two threads in the throughput
/// bench made 34-40 M lookups/s with Zipf keys, against 30-34 counting
/// each hit as it was found (BENCHMARKS.md, session 15); 16 and 64 did no
/// better.
const HITS_AT_ONCE: usize = 32;

/// Asks the processor to fetch the line at `node`'s start, which a hit
/// writes.
#[inline(always)]
fn prefetch<T>(node: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it cannot fault or change what
    // the program sees.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((node as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = node;
}

/// The entries with one count, the longest there first, linked with the
/// buckets of neighbouring counts.
struct Bucket {
    count: u32,
    first: usize,
    last: usize,
    prev: usize,
    next: usize,
}

impl<V> LfuPolicy<V> {
    /// An empty policy holding at most `capacity` values.
    pub(crate) fn new(capacity: usize) -> LfuPolicy<V> {
        LfuPolicy {
            index: HashMap::default(),
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            buckets: Vec::new(),
            free_buckets: Vec::new(),
            lowest: NONE,
            highest: NONE,
            capacity,
            tick: 0,
            accesses: 0,
        }
    }

    /// A new bucket for `count`, linked between `prev` and `next`.
    fn new_bucket(&mut self, count: u32, prev: usize, next: usize) -> usize {
        let b = put(&mut self.buckets, &mut self.free_buckets, Bucket { count, first: NONE, last: NONE, prev, next });
        self.join(prev, b);
        self.join(b, next);
        b
    }

    /// Unlinks bucket `b`, which is empty.
    fn drop_bucket(&mut self, b: usize) {
        self.join(self.buckets[b].prev, self.buckets[b].next);
        self.free_buckets.push(b);
    }

    /// Links bucket `second` right after bucket `first` (`NONE` for the
    /// ends of the list).
    fn join(&mut self, first: usize, second: usize) {
        match first {
            NONE => self.lowest = second,
            f => self.buckets[f].next = second,
        }
        match second {
            NONE => self.highest = first,
            s => self.buckets[s].prev = first,
        }
    }

    /// Takes node `i` out of its bucket, dropping the bucket when it
    /// empties. Returns the bucket to search onwards from for a higher
    /// count (the node's bucket if kept, else the one before it, or `NONE`)
    /// and the one after it.
    fn unlink(&mut self, i: usize) -> (usize, usize) {
        let (b, prev, next) = (self.nodes[i].bucket, self.nodes[i].prev, self.nodes[i].next);
        match prev {
            NONE => self.buckets[b].first = next,
            p => self.nodes[p].next = next,
        }
        match next {
            NONE => self.buckets[b].last = prev,
            n => self.nodes[n].prev = prev,
        }
        let around = (self.buckets[b].prev, self.buckets[b].next);
        if self.buckets[b].first == NONE {
            self.drop_bucket(b);
            return around;
        }
        (b, around.1)
    }

    /// Appends node `i` to bucket `b`.
    fn append(&mut self, i: usize, b: usize) {
        self.insert_between(i, b, self.buckets[b].last, NONE);
    }

    /// Links node `i` into bucket `b` between nodes `prev` and `next`
    /// (`NONE` for the bucket's ends).
    fn insert_between(&mut self, i: usize, b: usize, prev: usize, next: usize) {
        (self.nodes[i].bucket, self.nodes[i].prev, self.nodes[i].next) = (b, prev, next);
        match prev {
            NONE => self.buckets[b].first = i,
            p => self.nodes[p].next = i,
        }
        match next {
            NONE => self.buckets[b].last = i,
            n => self.nodes[n].prev = i,
        }
    }

    /// The bucket for `count`, searched for after bucket `after` (`NONE`:
    /// from the start), made when missing.
    fn bucket_for(&mut self, count: u32, mut after: usize) -> usize {
        let mut next = if after == NONE { self.lowest } else { self.buckets[after].next };
        while next != NONE && self.buckets[next].count < count {
            after = next;
            next = self.buckets[next].next;
        }
        if next != NONE && self.buckets[next].count == count {
            return next;
        }
        self.new_bucket(count, after, next)
    }

    /// Puts node `i` (count and tick set) where it belongs. Appending is the
    /// common case: it is the most recent of its count. Otherwise it goes
    /// before the first entry of its bucket that is more recent (or as
    /// recent, with a higher address: entries placed without a tick).
    fn link(&mut self, i: usize, after: usize) {
        let b = self.bucket_for(self.nodes[i].count, after);
        let key = (self.nodes[i].tick, self.nodes[i].address);
        let mut before = NONE;
        let mut at = self.buckets[b].last;
        while at != NONE && (self.nodes[at].tick, self.nodes[at].address) > key {
            before = at;
            at = self.nodes[at].prev;
        }
        self.insert_between(i, b, at, before);
    }

    /// A node slot for a new entry.
    fn new_node(&mut self, address: Address, value: V, rank: Rank) -> usize {
        let Rank { count, pending, tick, used } = rank;
        let node = Node { address, value: Some(value), count, pending, tick, used, bucket: NONE, prev: NONE, next: NONE };
        put(&mut self.nodes, &mut self.free_nodes, node)
    }

    /// Removes node `i`, returning its value.
    fn take(&mut self, i: usize) -> Option<V> {
        self.unlink(i);
        self.index.remove(&self.nodes[i].address);
        self.free_nodes.push(i);
        self.nodes[i].value.take()
    }

    /// Halves every count when due, rebuilding the buckets.
    fn age_if_due(&mut self) {
        self.accesses += 1;
        if self.accesses < self.aging_period() {
            return;
        }
        self.accesses = 0;
        let node = |i: usize| &self.nodes[i];
        let mut held: Vec<(u32, u64, Address, usize)> =
            self.index.values().map(|&i| (self.count(i) / 2, node(i).used, node(i).address, i)).collect();
        // Equal counts and last uses (entries placed without a tick of
        // their own) go by address.
        held.sort_unstable();
        self.buckets.clear();
        self.free_buckets.clear();
        (self.lowest, self.highest) = (NONE, NONE);
        for (count, used, _, i) in held {
            let node = &mut self.nodes[i];
            (node.count, node.pending, node.tick) = (count, 0, used);
            let b = match self.highest {
                h if h != NONE && self.buckets[h].count == count => h,
                h => self.new_bucket(count, h, NONE),
            };
            self.append(i, b);
        }
    }

    /// How many values are held.
    pub(super) fn held(&self) -> usize {
        self.index.len()
    }

    /// Whether `address` is held.
    pub(super) fn contains(&self, address: &Address) -> bool {
        self.index.contains_key(address)
    }

    /// Where `address` stands, if held.
    pub(super) fn rank(&self, address: &Address) -> Option<Rank> {
        self.index.get(address).map(|&i| {
            let Node { count, pending, tick, used, .. } = self.nodes[i];
            Rank { count, pending, tick, used }
        })
    }

    /// Takes on `model`'s clock (its tick and the accesses since it last
    /// aged), so that ranks copied from it compare as they do there.
    pub(super) fn set_clock_as<W>(&mut self, model: &LfuPolicy<W>) {
        self.tick = model.tick;
        self.accesses = model.accesses;
    }

    /// Ages from now on when an LFU policy that has counted `accesses`
    /// since it started would: for a policy taking over from another mode
    /// of the same cache, whose halvings then fall where plain LFU's do
    /// (a halving costs hits for a while: on OLTP at 50,000 entries, LFU
    /// mode halving on a clock of its own trailed plain LFU by 5.7 points
    /// over the 50,000 requests after one).
    pub(super) fn age_in_step_with(&mut self, accesses: u64) {
        self.accesses = (accesses % self.aging_period() as u64) as usize;
    }

    /// Accesses between two halvings of every count.
    fn aging_period(&self) -> usize {
        self.capacity.saturating_mul(8).max(64)
    }

    /// Puts `address` in at `rank`, evicting nothing: the caller keeps the
    /// number held within the capacity. Entries go in order of (count,
    /// tick), so a policy given another's ranks (with its clock, see
    /// [`LfuPolicy::set_clock_as`]) holds them as that one does. The
    /// clock moves on to the rank's ticks if behind them, so that the
    /// entries that take their places later go behind it.
    pub(super) fn place(&mut self, address: Address, value: V, rank: Rank) {
        let count = rank.count;
        self.tick = self.tick.max(rank.tick).max(rank.used);
        if let Some(&i) = self.index.get(&address) {
            self.take(i);
        }
        let i = self.new_node(address, value, rank);
        self.index.insert(address, i);
        // Search for the bucket from the end when the count is the highest.
        let after = match self.highest {
            h if h != NONE && self.buckets[h].count <= count => self.buckets[h].prev,
            _ => NONE,
        };
        self.link(i, after);
    }

    /// Puts `address` in with `count`, as the most recent among equals,
    /// evicting nothing.
    pub(super) fn place_now(&mut self, address: Address, value: V, count: u32) {
        self.tick += 1;
        self.place(address, value, Rank::new(count, self.tick));
    }

    /// Takes every entry out, the next victim first.
    pub(super) fn drain_by_rank(&mut self) -> Vec<(Address, V)> {
        let mut out = Vec::with_capacity(self.index.len());
        while let Some(first) = self.victim() {
            let address = self.nodes[first].address;
            if let Some(value) = self.take(first) {
                out.push((address, value));
            }
        }
        out
    }

    /// Node `i`'s accesses: its bucket's count and its hits since.
    fn count(&self, i: usize) -> u32 {
        self.nodes[i].count.saturating_add(self.nodes[i].pending)
    }

    /// The next victim's slot: the lowest bucket's first node, once the
    /// nodes ahead of it that were hit since they were placed have moved
    /// up to the buckets of their counts.
    fn victim(&mut self) -> Option<usize> {
        while self.lowest != NONE {
            let first = self.buckets[self.lowest].first;
            if self.nodes[first].pending == 0 {
                return Some(first);
            }
            let (after, _) = self.unlink(first);
            self.tick += 1;
            let count = self.count(first);
            let node = &mut self.nodes[first];
            (node.count, node.pending, node.tick) = (count, 0, self.tick);
            // The newest of its count: appended.
            self.link(first, after);
        }
        None
    }

    fn pop_victim(&mut self) -> Option<V> {
        let i = self.victim()?;
        self.take(i)
    }
}

/// Stores `item` in `slab`, in a free slot if there is one; its index.
fn put<T>(slab: &mut Vec<T>, free: &mut Vec<usize>, item: T) -> usize {
    match free.pop() {
        Some(i) => {
            slab[i] = item;
            i
        }
        None => {
            slab.push(item);
            slab.len() - 1
        }
    }
}

impl<V> LfuPolicy<V> {
    /// Heap bytes per entry, on average: the index entry and the node
    /// (buckets number the distinct counts, not the entries).
    pub(super) const BYTES_PER_ENTRY: usize = table_bytes::<(Address, usize)>() + vec_bytes::<Node<V>>();

    /// Counts an access of `address` and, if held, a hit on its node
    /// (see the type's docs), which it returns.
    fn hit(&mut self, address: &Address) -> Option<usize> {
        self.tick += 1;
        let i = *self.index.get(address)?;
        self.count_hit(i);
        Some(i)
    }

    /// Counts a hit on node `i` at the current tick. The node stays where
    /// it is until it comes up as the victim (see the type's docs).
    #[inline]
    fn count_hit(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.pending = node.pending.saturating_add(1);
        node.used = self.tick;
    }
}

impl<V: Clone + Send> Policy<V> for LfuPolicy<V> {
    fn record_hits(&mut self, addresses: &[Address]) {
        // As `get` on each, without reading the values, a few at a time:
        // their nodes are found first and their lines fetched together.
        // The hot ones were often last written by another core's drain,
        // and counting each as it is found waited for each in turn.
        let mut found = [NONE; HITS_AT_ONCE];
        for batch in addresses.chunks(HITS_AT_ONCE) {
            for (i, address) in found.iter_mut().zip(batch) {
                *i = self.index.get(address).copied().unwrap_or(NONE);
                if *i != NONE {
                    prefetch(&self.nodes[*i]);
                }
            }
            for &i in &found[..batch.len()] {
                self.tick += 1;
                if i != NONE {
                    self.count_hit(i);
                    self.age_if_due();
                }
            }
        }
    }

    fn get(&mut self, address: &Address) -> Option<V> {
        let i = self.hit(address)?;
        let value = self.nodes[i].value.clone();
        self.age_if_due();
        value
    }

    fn insert(&mut self, address: Address, value: V) -> Vec<V> {
        self.tick += 1;
        let mut out = Vec::new();
        let count = match self.index.get(&address).copied() {
            Some(i) => {
                let count = self.count(i);
                out.extend(self.take(i));
                count
            }
            None => 1,
        };
        while self.index.len() >= self.capacity {
            match self.pop_victim() {
                Some(v) => out.push(v),
                None => break,
            }
        }
        if self.capacity == 0 {
            out.push(value);
            return out;
        }
        let i = self.new_node(address, value, Rank::new(count, self.tick));
        self.index.insert(address, i);
        self.link(i, NONE);
        self.age_if_due();
        out
    }

    fn remove(&mut self, address: &Address) -> Option<V> {
        let i = *self.index.get(address)?;
        self.take(i)
    }

    fn evict_one(&mut self) -> Option<V> {
        self.pop_victim()
    }

    fn purge(&mut self) -> Vec<V> {
        Vec::new()
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn bytes_per_entry(&self) -> usize {
        LfuPolicy::<V>::BYTES_PER_ENTRY
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

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

    /// The same policy kept the plain way: every entry's (count, tick,
    /// address), as it took its place, in an ordered set whose first entry
    /// goes next; its hits counted aside until it comes first, when it
    /// takes its place again with them.
    struct Reference {
        entries: HashMap<Address, (u32, Rank)>,
        order: BTreeSet<(u32, u64, Address)>,
        capacity: usize,
        tick: u64,
        accesses: usize,
    }

    impl Reference {
        fn new(capacity: usize) -> Reference {
            Reference { entries: HashMap::new(), order: BTreeSet::new(), capacity, tick: 0, accesses: 0 }
        }

        fn age_if_due(&mut self) {
            self.accesses += 1;
            if self.accesses < self.capacity.saturating_mul(8).max(64) {
                return;
            }
            self.accesses = 0;
            self.order.clear();
            for (address, (_, rank)) in self.entries.iter_mut() {
                *rank = Rank { count: rank.accesses() / 2, pending: 0, tick: rank.used, used: rank.used };
                self.order.insert((rank.count, rank.tick, *address));
            }
        }

        fn get(&mut self, address: &Address) -> Option<u32> {
            self.tick += 1;
            let (value, rank) = self.entries.get_mut(address)?;
            (rank.pending, rank.used) = (rank.pending + 1, self.tick);
            let value = *value;
            self.age_if_due();
            Some(value)
        }

        fn rank(&self, address: &Address) -> Option<Rank> {
            self.entries.get(address).map(|(_, rank)| *rank)
        }

        fn pop_victim(&mut self) -> Option<u32> {
            loop {
                let (_, _, address) = self.order.pop_first()?;
                let (_, rank) = self.entries.get_mut(&address).unwrap();
                if rank.pending == 0 {
                    return self.entries.remove(&address).map(|(v, _)| v);
                }
                self.tick += 1;
                (rank.count, rank.pending, rank.tick) = (rank.accesses(), 0, self.tick);
                self.order.insert((rank.count, rank.tick, address));
            }
        }

        fn insert(&mut self, address: Address, value: u32) -> Vec<u32> {
            self.tick += 1;
            let mut out = Vec::new();
            let count = match self.entries.remove(&address) {
                Some((old, rank)) => {
                    self.order.remove(&(rank.count, rank.tick, address));
                    out.push(old);
                    rank.accesses()
                }
                None => 1,
            };
            while self.entries.len() >= self.capacity {
                match self.pop_victim() {
                    Some(v) => out.push(v),
                    None => break,
                }
            }
            self.entries.insert(address, (value, Rank::new(count, self.tick)));
            self.order.insert((count, self.tick, address));
            self.age_if_due();
            out
        }

        fn remove(&mut self, address: &Address) -> Option<u32> {
            let (value, rank) = self.entries.remove(address)?;
            self.order.remove(&(rank.count, rank.tick, *address));
            Some(value)
        }

        fn place(&mut self, address: Address, value: u32, rank: Rank) {
            self.tick = self.tick.max(rank.tick).max(rank.used);
            if let Some((_, old)) = self.entries.insert(address, (value, rank)) {
                self.order.remove(&(old.count, old.tick, address));
            }
            self.order.insert((rank.count, rank.tick, address));
        }
    }

    #[test]
    fn buckets_evict_as_an_ordered_set_does() {
        let mut next = crate::verify::xorshift(0x3c6e_f372_fe94_f82bu64);
        for round in 0..60 {
            let capacity = 1 + (next() % 40) as usize;
            let keys = capacity as u64 * 2 + 3;
            let (mut fast, mut slow) = (LfuPolicy::new(capacity), Reference::new(capacity));
            for step in 0..4000u32 {
                let k = a((next() % keys) as u8);
                match next() % 16 {
                    0 => assert_eq!(fast.remove(&k), slow.remove(&k)),
                    1 => assert_eq!(fast.evict_one(), slow.pop_victim()),
                    2 => {
                        // Placed as a mode switch places entries: a count,
                        // and a tick copied from elsewhere or none (0).
                        if !fast.contains(&k) && fast.len() < capacity {
                            let (count, tick) = ((next() % 6) as u32, if next() % 2 == 0 { 0 } else { next() % 5000 });
                            // With hits pending too, as a model's entries may have.
                            let pending = (next() % 3) as u32;
                            let rank = Rank { count, pending, tick, used: tick + u64::from(pending) * (next() % 50) };
                            fast.place(k, step, rank);
                            slow.place(k, step, rank);
                        }
                    }
                    3..=8 => assert_eq!(fast.insert(k, step), slow.insert(k, step), "round {round} step {step}"),
                    9 => {
                        // Buffered hits, some on keys not held, in batches
                        // longer than the policy looks up at once.
                        let hits: Vec<Address> = (0..next() % 80).map(|_| a((next() % keys) as u8)).collect();
                        fast.record_hits(&hits);
                        hits.iter().for_each(|k| _ = slow.get(k));
                    }
                    _ => assert_eq!(fast.get(&k), slow.get(&k), "round {round} step {step}"),
                }
                assert_eq!(fast.len(), slow.entries.len());
                assert_eq!(fast.rank(&k), slow.rank(&k));
            }
            let order: Vec<_> = std::iter::from_fn(|| slow.pop_victim()).collect();
            assert_eq!(fast.drain_by_rank().into_iter().map(|(_, v)| v).collect::<Vec<_>>(), order);
        }
    }
}
