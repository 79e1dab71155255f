//! The Adaptive strategy: W-TinyLFU (the design of Caffeine, Einziger,
//! Friedman and Manes, "TinyLFU", 2017) whose window, or a switch to plain
//! LFU, is chosen by miniature simulations.
//!
//! ```text
//! new entry ─► window (LRU, ~1% at first) ─overflow─► candidate
//!                                                        │ admitted only if the sketch says
//!                                                        ▼ it is used more than the victim
//!        main: probation (LRU) ─hit─► protected (LRU, 80% of main)
//!                  ▲                        │ overflow
//!                  └────────────────────────┘
//! ```
//! The window catches bursts of recency; the frequency filter keeps
//! one-hit keys (most contract codes are used in one block only) from
//! flushing the popular ones. The window's size is tuned while running by
//! miniature simulations (Waldspurger et al., "Cache Modeling and
//! Optimization using Miniature Simulations", 2017): a fixed sample of the
//! keys, chosen by hash, is replayed through five small W-TinyLFU caches
//! with windows from 1% (frequency first) to 99% (recency first, close to
//! plain LRU) of their capacity, and through a small plain LFU cache (with
//! aging, as [`LfuPolicy`]), all scaled down by the sampling rate. Sixteen
//! times a period the real cache follows whichever did best lately, if it
//! did clearly better than the current choice. Choosing LFU moves every
//! entry into an [`LfuPolicy`] (counted as the sketch estimates); choosing
//! a window again moves them back. A trace that favours recency thus gets
//! an LRU-like cache, one that favours frequency an LFU-like one, without
//! the hill climber's blind steps.
//!
//! Below 1,024 entries every key is sampled: the miniature caches are
//! full-size replicas, and on a switch the real cache takes on the chosen
//! replica's layout (segments and order, or LFU counts) for the entries it
//! holds, so it behaves as that replica at once instead of converging.

use lru::LruCache;
use revm::primitives::Address;

use super::lfu::LfuPolicy;
use super::{AddressHash, FrequencySketch, Policy};

/// The choice the policy starts with (of [`WINDOW_CHOICES`]).
const INITIAL_CHOICE: usize = 0;
/// Share of the capacity the window starts with.
const INITIAL_WINDOW: f64 = WINDOW_CHOICES[INITIAL_CHOICE];
/// Share of the main space that is protected.
const PROTECTED_SHARE: f64 = 0.80;
/// The window shares the miniature simulations try.
/// (Tried also with one entry and the whole capacity at the ends: no
/// better over the traces of BENCHMARKS.md, and worse on OLTP@50000.)
const WINDOW_CHOICES: [f64; 5] = [0.01, 0.05, 0.20, 0.50, 0.99];
/// The miniature caches' capacity, at most: the sampling rate is chosen so
/// that the sampled keys fit caches of about this size.
const MINI_CAPACITY: usize = 512;
/// Sampled accesses over which a score fades by half, in miniature
/// capacities.
const MINI_PERIOD: usize = 3;
/// How much better than the current choice another must have done to
/// replace it: a switch costs the real cache hits while its contents
/// follow (1.005 switched too often on OLTP@50000).
const HYSTERESIS: f64 = 1.03;
/// Choices per period of [`MINI_PERIOD`] miniature capacities.
const CHECKS: usize = 16;
/// What is left of a score after one check: half after a whole period.
const FADE: f64 = 0.957_603_280_698_573_6; // 0.5^(1/16)

/// Entries the sketch is first sized for; it doubles as the cache fills.
const INITIAL_SKETCH: usize = 4096;

pub(crate) struct TinyLfuPolicy<V> {
    window: LruCache<Address, V, AddressHash>,
    probation: LruCache<Address, V, AddressHash>,
    protected: LruCache<Address, V, AddressHash>,
    /// In LFU mode every entry is here and the three segments are empty.
    lfu: Option<Box<LfuPolicy<V>>>,
    sketch: FrequencySketch,
    capacity: usize,
    /// The window's target size; the main space has the rest.
    window_cap: usize,
    /// The simulations that choose the window (none in the simulations
    /// themselves).
    sims: Option<Box<MiniSims>>,
}

/// The index of plain LFU among the miniature simulations' choices, after
/// the window shares.
const LFU_CHOICE: usize = WINDOW_CHOICES.len();

/// Miniature caches over a hash-sampled share of the keys: a W-TinyLFU
/// one per window share in [`WINDOW_CHOICES`], then a plain LFU one
/// ([`LFU_CHOICE`]), scored by their recent hits.
struct MiniSims {
    /// A key is sampled when the low bits of its hash under this mask are 0.
    mask: u64,
    caches: Vec<TinyLfuPolicy<()>>,
    lfu: LfuPolicy<()>,
    /// Hits per choice, fading by half every period.
    scores: Vec<f64>,
    /// Sampled accesses until the next choice.
    until_check: usize,
    /// Sampled accesses between two choices.
    check_every: usize,
    chosen: usize,
}

impl MiniSims {
    fn new(capacity: usize) -> MiniSims {
        // Sample 1 in 2^k keys so that capacity / 2^k is about MINI_CAPACITY.
        let rate_log2 = (capacity / MINI_CAPACITY).max(1).ilog2();
        let mini = (capacity >> rate_log2).max(2);
        let check_every = (mini * MINI_PERIOD / CHECKS).max(1);
        MiniSims {
            mask: (1u64 << rate_log2) - 1,
            caches: WINDOW_CHOICES.iter().map(|&share| TinyLfuPolicy::with_window(mini, share, false)).collect(),
            lfu: LfuPolicy::new(mini),
            scores: vec![0.0; LFU_CHOICE + 1],
            until_check: check_every,
            check_every,
            chosen: INITIAL_CHOICE,
        }
    }

    /// Whether every key is sampled: the miniature caches are then
    /// full-size replicas, and the real cache can take on one's layout.
    fn exact(&self) -> bool {
        self.mask == 0
    }

    /// Replays one access if its key is sampled; now and then returns the
    /// index of the choice that did best lately, and whether it is a new one.
    fn observe(&mut self, address: &Address) -> Option<(usize, bool)> {
        use std::hash::BuildHasher;
        if AddressHash::default().hash_one(address) & self.mask != 0 {
            return None;
        }
        for (cache, score) in self.caches.iter_mut().zip(&mut self.scores) {
            if cache.get(address).is_some() {
                *score += 1.0;
            } else {
                cache.insert(*address, ());
            }
        }
        if self.lfu.get(address).is_some() {
            self.scores[LFU_CHOICE] += 1.0;
        } else {
            self.lfu.insert(*address, ());
        }
        self.until_check -= 1;
        if self.until_check > 0 {
            return None;
        }
        self.until_check = self.check_every;
        // Keep the current choice unless another did clearly better.
        let best = (0..self.scores.len()).max_by(|&a, &b| self.scores[a].total_cmp(&self.scores[b])).unwrap_or(0);
        let changed = best != self.chosen && self.scores[best] > self.scores[self.chosen] * HYSTERESIS;
        if changed {
            self.chosen = best;
        }
        for score in &mut self.scores {
            *score *= FADE;
        }
        Some((self.chosen, changed))
    }
}

impl<V> TinyLfuPolicy<V> {
    /// An empty policy holding at most `capacity` values, its window tuned
    /// by miniature simulations.
    pub(crate) fn new(capacity: usize) -> TinyLfuPolicy<V> {
        TinyLfuPolicy::with_window(capacity, INITIAL_WINDOW, true)
    }

    /// An empty policy with a window of `share` of the capacity, tuned
    /// while running when `tuned`.
    fn with_window(capacity: usize, share: f64, tuned: bool) -> TinyLfuPolicy<V> {
        let window_cap = ((capacity as f64 * share).round() as usize).clamp(1, capacity.saturating_sub(1).max(1));
        TinyLfuPolicy {
            window: LruCache::unbounded_with_hasher(Default::default()),
            probation: LruCache::unbounded_with_hasher(Default::default()),
            protected: LruCache::unbounded_with_hasher(Default::default()),
            lfu: None,
            // Sized for what is held, not for the bound: a host may set a
            // bound of billions and cache thousands. `grow_sketch` follows.
            sketch: FrequencySketch::new(capacity.min(INITIAL_SKETCH)),
            capacity,
            window_cap,
            sims: (tuned && capacity >= 2).then(|| Box::new(MiniSims::new(capacity))),
        }
    }

    fn main_cap(&self) -> usize {
        self.capacity - self.window_cap.min(self.capacity)
    }

    fn protected_cap(&self) -> usize {
        (self.main_cap() as f64 * PROTECTED_SHARE) as usize
    }

    fn main_len(&self) -> usize {
        self.probation.len() + self.protected.len()
    }

    /// The main space's next victim: probation's LRU, else protected's.
    fn main_victim(&self) -> Option<Address> {
        self.probation.peek_lru().or_else(|| self.protected.peek_lru()).map(|(a, _)| *a)
    }

    fn pop_main(&mut self, address: &Address) -> Option<V> {
        self.probation.pop(address).or_else(|| self.protected.pop(address))
    }

    /// Moves protected's overflow back to probation.
    fn demote_overflow(&mut self) {
        while self.protected.len() > self.protected_cap() {
            let Some((a, v)) = self.protected.pop_lru() else { break };
            self.probation.push(a, v);
        }
    }

    /// Offers a candidate from the window to the main space; returns what
    /// was evicted (the victim or the candidate itself).
    fn admit(&mut self, address: Address, value: V, out: &mut Vec<V>) {
        if self.main_len() < self.main_cap() {
            self.probation.push(address, value);
            return;
        }
        match self.main_victim() {
            Some(victim) if self.sketch.frequency(&address) > self.sketch.frequency(&victim) => {
                out.extend(self.pop_main(&victim));
                self.probation.push(address, value);
            }
            _ => out.push(value),
        }
    }

    /// Restores the segment bounds after an insert or a window resize.
    fn rebalance(&mut self, out: &mut Vec<V>) {
        // A grown window takes main's least valuable entries rather than
        // letting them be evicted. They go behind the window's own (more
        // recent) entries, the least valuable last.
        let mut moved = Vec::new();
        while self.window.len() + moved.len() < self.window_cap && self.main_len() > self.main_cap() {
            let Some(victim) = self.main_victim() else { break };
            let Some(value) = self.pop_main(&victim) else { break };
            moved.push((victim, value));
        }
        for (address, value) in moved.into_iter().rev() {
            self.window.push(address, value);
            self.window.demote(&address);
        }
        while self.window.len() > self.window_cap {
            let Some((a, v)) = self.window.pop_lru() else { break };
            self.admit(a, v, out);
        }
        while self.main_len() > self.main_cap() {
            let Some(victim) = self.main_victim() else { break };
            out.extend(self.pop_main(&victim));
        }
        self.demote_overflow();
    }

    /// Doubles the sketch (its counts start afresh) once the cache holds
    /// more than it was sized for, up to the capacity.
    fn grow_sketch(&mut self) {
        let sized = self.sketch.sized_for();
        let held = self.lfu.as_ref().map_or(0, |lfu| lfu.held()) + self.window.len() + self.main_len();
        if held > sized && sized < self.capacity {
            self.sketch = FrequencySketch::new(sized.saturating_mul(2).min(self.capacity));
        }
    }

    /// Counts an access in the sketch and the miniature simulations, and
    /// follows their choice. A switch moves entries between segments (or
    /// into or out of LFU mode) but evicts nothing; a new window size takes
    /// effect at the next insert, where the policy may report what it
    /// pushes out.
    fn record(&mut self, address: &Address) {
        self.sketch.increment(address);
        let Some((chosen, changed)) = self.sims.as_mut().and_then(|sims| sims.observe(address)) else { return };
        if chosen == LFU_CHOICE {
            if changed && let Some(sims) = self.sims.take() {
                self.become_lfu(sims.exact().then_some(&sims.lfu));
                self.sims = Some(sims);
            }
            return;
        }
        let target = (self.capacity as f64 * WINDOW_CHOICES[chosen]).round() as usize;
        self.window_cap = target.clamp(1, self.capacity.saturating_sub(1).max(1));
        if changed && let Some(sims) = self.sims.take() {
            self.leave_lfu();
            if sims.exact() {
                self.adopt(&sims.caches[chosen]);
            }
            self.sims = Some(sims);
        }
    }

    /// Rearranges the entries held as `model` (a full-size replica with the
    /// same window) holds them: each in the model's segment, in its order.
    /// Entries the model lacks go to probation's end, to be evicted first.
    /// Nothing is evicted here (this may run within a `get`); the next
    /// insert restores the segment bounds.
    fn adopt(&mut self, model: &TinyLfuPolicy<()>) {
        let mut held = self.take_segments();
        let mut rest: Vec<Address> = held.keys().filter(|a| !model.contains(a)).copied().collect();
        rest.sort_unstable();
        for a in rest {
            if let Some(v) = held.remove(&a) {
                self.probation.push(a, v);
            }
        }
        for (segment, from) in
            [(&mut self.window, &model.window), (&mut self.probation, &model.probation), (&mut self.protected, &model.protected)]
        {
            for (a, _) in from.iter().rev() {
                if let Some(v) = held.remove(a) {
                    segment.push(*a, v);
                }
            }
        }
        debug_assert!(held.is_empty());
    }

    /// Empties the three segments.
    fn take_segments(&mut self) -> std::collections::HashMap<Address, V, AddressHash> {
        let mut held: std::collections::HashMap<Address, V, AddressHash> = Default::default();
        for segment in [&mut self.window, &mut self.probation, &mut self.protected] {
            while let Some((a, v)) = segment.pop_lru() {
                held.insert(a, v);
            }
        }
        held
    }

    /// Moves every entry into a plain LFU policy. With a full-size `model`
    /// the entries take its counts (and those it lacks go first);
    /// otherwise they are counted as the sketch estimates, the most recent
    /// ranking highest among equals. Nothing is evicted.
    fn become_lfu(&mut self, model: Option<&LfuPolicy<()>>) {
        if self.lfu.is_some() {
            return;
        }
        let mut lfu = Box::new(LfuPolicy::new(self.capacity));
        match model {
            Some(model) => {
                lfu.set_clock_as(model);
                // In the model's order, which the LFU policy appends in.
                let rank = |a: &Address| model.rank(a).unwrap_or((0, 0));
                let mut held: Vec<(Address, V)> = self.take_segments().into_iter().collect();
                held.sort_unstable_by_key(|(a, _)| (rank(a), *a));
                for (a, v) in held {
                    let (count, tick) = rank(&a);
                    lfu.place(a, v, count, tick);
                }
            }
            None => {
                // Least recent first: probation, protected, then the window.
                for segment in [&mut self.probation, &mut self.protected, &mut self.window] {
                    while let Some((a, v)) = segment.pop_lru() {
                        let count = self.sketch.frequency(&a) as u32;
                        lfu.place_now(a, v, count);
                    }
                }
            }
        }
        self.lfu = Some(lfu);
    }

    /// Moves every entry of LFU mode back to probation, the most used at
    /// its front. Nothing is evicted; the next insert restores the bounds.
    fn leave_lfu(&mut self) {
        let Some(mut lfu) = self.lfu.take() else { return };
        for (a, v) in lfu.drain_by_rank() {
            self.probation.push(a, v);
        }
    }

    fn contains(&self, address: &Address) -> bool {
        self.window.contains(address) || self.probation.contains(address) || self.protected.contains(address)
    }
}

impl<V: Clone + Send> Policy<V> for TinyLfuPolicy<V> {
    fn get(&mut self, address: &Address) -> Option<V> {
        if let Some(lfu) = &mut self.lfu {
            let found = lfu.get(address);
            if found.is_some() {
                self.record(address);
            }
            return found;
        }
        // An address lives in one segment only; protected, the largest
        // (80% of main), is asked first: most hits end there after one
        // lookup instead of three.
        let found = if let Some(v) = self.protected.get(address) {
            Some(v.clone())
        } else if let Some(v) = self.window.get(address) {
            Some(v.clone())
        } else if let Some(v) = self.probation.pop(address) {
            self.protected.push(*address, v.clone());
            self.demote_overflow();
            Some(v)
        } else {
            None
        };
        // A miss is recorded by the insert that follows it, so that a cache
        // which tells the policy only about hits and inserts counts each
        // access once.
        if found.is_some() {
            self.record(address);
        }
        found
    }

    fn insert(&mut self, address: Address, value: V) -> Vec<V> {
        let mut out = Vec::new();
        if self.capacity == 0 {
            out.push(value);
            return out;
        }
        if let Some(lfu) = &mut self.lfu
            && lfu.contains(&address)
        {
            return lfu.insert(address, value);
        }
        for segment in [&mut self.window, &mut self.probation, &mut self.protected] {
            if let Some(old) = segment.peek_mut(&address) {
                out.push(std::mem::replace(old, value));
                return out;
            }
        }
        self.record(&address);
        if let Some(lfu) = &mut self.lfu {
            let out = lfu.insert(address, value);
            self.grow_sketch();
            return out;
        }
        self.window.push(address, value);
        self.rebalance(&mut out);
        self.grow_sketch();
        out
    }

    fn remove(&mut self, address: &Address) -> Option<V> {
        if let Some(lfu) = &mut self.lfu {
            return lfu.remove(address);
        }
        self.window.pop(address).or_else(|| self.pop_main(address))
    }

    fn evict_one(&mut self) -> Option<V> {
        if let Some(lfu) = &mut self.lfu {
            return lfu.evict_one();
        }
        self.probation
            .pop_lru()
            .or_else(|| self.window.pop_lru())
            .or_else(|| self.protected.pop_lru())
            .map(|(_, v)| v)
    }

    fn purge(&mut self) -> Vec<V> {
        Vec::new()
    }

    fn len(&self) -> usize {
        self.lfu.as_ref().map_or(0, |lfu| lfu.len()) + self.window.len() + self.main_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u32) -> Address {
        let mut bytes = [0u8; 20];
        bytes[16..].copy_from_slice(&n.to_be_bytes());
        Address::from(bytes)
    }

    /// Replays `keys` (get, and insert on a miss); returns the hit count.
    fn replay(p: &mut TinyLfuPolicy<u32>, keys: impl Iterator<Item = u32>) -> usize {
        let mut hits = 0;
        for k in keys {
            if p.get(&a(k)).is_some() {
                hits += 1;
            } else {
                p.insert(a(k), k);
            }
            assert!(p.len() <= p.capacity);
        }
        hits
    }

    #[test]
    fn a_scan_of_one_hit_keys_does_not_flush_the_popular_ones() {
        let mut p = TinyLfuPolicy::new(100);
        // 50 popular keys, used often.
        replay(&mut p, (0..20).flat_map(|_| 0..50));
        // A scan of 10,000 keys used once each.
        replay(&mut p, 1_000..11_000);
        let hits = replay(&mut p, 0..50);
        assert!(hits >= 45, "only {hits} of 50 popular keys survived the scan");
    }

    #[test]
    fn capacity_holds_and_replacement_returns_the_old_value() {
        let mut p = TinyLfuPolicy::new(10);
        replay(&mut p, 0..1_000);
        assert_eq!(p.len(), 10);
        let held = (0..1_000).find(|k| p.get(&a(*k)).is_some()).unwrap();
        assert_eq!(p.insert(a(held), 7), vec![held]);
        assert_eq!(p.get(&a(held)), Some(7));
        assert_eq!(p.remove(&a(held)), Some(7));
        assert_eq!(p.len(), 9);
    }

    /// Which segment holds `address`: 0 window, 1 probation, 2 protected.
    fn segment_of<W>(p: &TinyLfuPolicy<W>, address: &Address) -> Option<usize> {
        [&p.window, &p.probation, &p.protected].iter().position(|s| s.contains(address))
    }

    #[test]
    fn scores_fade_by_half_over_a_period() {
        assert!((FADE.powi(CHECKS as i32) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn adopting_a_replica_s_layout_moves_entries_and_evicts_none() {
        let mut real = TinyLfuPolicy::<u32>::with_window(20, 0.05, false);
        replay(&mut real, (0..5).flat_map(|_| 0..20));
        let mut model = TinyLfuPolicy::<()>::with_window(20, 0.50, false);
        for k in (10..30).chain(10..20) {
            if model.get(&a(k)).is_none() {
                model.insert(a(k), ());
            }
        }
        real.window_cap = model.window_cap;
        real.adopt(&model);
        assert_eq!(real.len(), 20, "nothing evicted");
        for k in 10..20 {
            assert_eq!(segment_of(&real, &a(k)), segment_of(&model, &a(k)), "key {k} sits where the model has it");
        }
        // The keys the model lacks (0..10) go first.
        let mut first: Vec<u32> = (0..10).map(|_| real.evict_one().unwrap()).collect();
        first.sort_unstable();
        assert_eq!(first, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn lfu_mode_keeps_every_entry_and_the_bound_both_ways() {
        let mut p = TinyLfuPolicy::<u32>::with_window(10, 0.2, false);
        replay(&mut p, 0..10);
        // 0..5 used often: in LFU mode they outlive newcomers.
        replay(&mut p, (0..5).flat_map(|_| 0..5));
        p.become_lfu(None);
        assert!(p.lfu.is_some() && p.window.is_empty() && p.main_len() == 0);
        assert_eq!(p.len(), 10);
        let mut evicted = 0;
        for k in 100..120 {
            assert!(p.get(&a(k)).is_none());
            evicted += p.insert(a(k), k).len();
            assert!(p.len() <= 10);
        }
        assert_eq!(evicted, 20, "every insert into a full cache reports one value");
        assert_eq!(replay(&mut p, 0..5), 5, "the most used survived");
        assert_eq!(p.remove(&a(0)), Some(0));
        p.leave_lfu();
        assert!(p.lfu.is_none());
        assert_eq!(p.len(), 9);
        assert_eq!(p.insert(a(200), 200).len(), 0, "room for one");
        assert_eq!(p.insert(a(201), 201).len(), 1);
        assert!(p.window.len() <= p.window_cap && p.main_len() <= p.main_cap());
    }

    #[test]
    fn values_are_held_or_reported_exactly_once_across_choices() {
        // Phases that favour frequency, then recency, then frequency again,
        // so the simulations switch the policy between its modes.
        let mut p = TinyLfuPolicy::<u32>::new(64);
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let (mut held, mut modes) = (std::collections::HashSet::new(), [false; 2]);
        for step in 0..60_000u32 {
            let k = match (step / 10_000) % 2 {
                0 => (next() % 1000).min(next() % 1000) as u32,
                _ => 5000 + step / 3 + (next() % 40) as u32,
            };
            modes[p.lfu.is_some() as usize] = true;
            if p.get(&a(k)).is_some() {
                assert!(held.contains(&k));
                continue;
            }
            assert!(!held.contains(&k), "key {k} is held but missed");
            held.insert(k);
            for out in p.insert(a(k), k) {
                assert!(held.remove(&out), "{out} reported but not held");
            }
            assert_eq!(p.len(), held.len());
            assert!(p.len() <= 64);
        }
        assert!(modes[0], "ran as W-TinyLFU");
        assert!(modes[1], "ran as LFU");
    }
}
