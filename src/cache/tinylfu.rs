//! The Adaptive strategy: W-TinyLFU with a hill-climbed window (the design
//! of Caffeine, Einziger, Friedman and Manes, "TinyLFU", 2017).
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
//! plain LRU) of their capacity, scaled down by the sampling rate; the real
//! window follows whichever did best lately. A trace that favours recency
//! thus gets an LRU-like cache, one that favours frequency an LFU-like one,
//! without the hill climber's blind steps.

use lru::LruCache;
use revm::primitives::Address;

use super::{AddressHash, FrequencySketch, Policy};

/// Share of the capacity the window starts with.
const INITIAL_WINDOW: f64 = 0.01;
/// Share of the main space that is protected.
const PROTECTED_SHARE: f64 = 0.80;
/// The window shares the miniature simulations try.
/// (Tried also with one entry and the whole capacity at the ends: no
/// better over the traces of BENCHMARKS.md, and worse on OLTP@50000.)
const WINDOW_CHOICES: [f64; 5] = [0.01, 0.05, 0.20, 0.50, 0.99];
/// The miniature caches' capacity, at most: the sampling rate is chosen so
/// that the sampled keys fit caches of about this size.
const MINI_CAPACITY: usize = 512;
/// Sampled accesses between two choices, in miniature capacities.
const MINI_PERIOD: usize = 3;
/// Entries the sketch is first sized for; it doubles as the cache fills.
const INITIAL_SKETCH: usize = 4096;

pub(crate) struct TinyLfuPolicy<V> {
    window: LruCache<Address, V, AddressHash>,
    probation: LruCache<Address, V, AddressHash>,
    protected: LruCache<Address, V, AddressHash>,
    sketch: FrequencySketch,
    capacity: usize,
    /// The window's target size; the main space has the rest.
    window_cap: usize,
    /// The simulations that choose the window (none in the simulations
    /// themselves).
    sims: Option<Box<MiniSims>>,
}

/// Miniature W-TinyLFU caches over a hash-sampled share of the keys, one
/// per window share in [`WINDOW_CHOICES`], scored by their recent hits.
struct MiniSims {
    /// A key is sampled when the low bits of its hash under this mask are 0.
    mask: u64,
    caches: Vec<TinyLfuPolicy<()>>,
    /// Hits per cache, halved at each choice so that old behaviour fades.
    scores: Vec<f64>,
    sampled: usize,
    period: usize,
    chosen: usize,
}

impl MiniSims {
    fn new(capacity: usize) -> MiniSims {
        // Sample 1 in 2^k keys so that capacity / 2^k is about MINI_CAPACITY.
        let rate_log2 = (capacity / MINI_CAPACITY).max(1).ilog2();
        let mini = (capacity >> rate_log2).max(2);
        MiniSims {
            mask: (1u64 << rate_log2) - 1,
            caches: WINDOW_CHOICES.iter().map(|&share| TinyLfuPolicy::with_window(mini, share, false)).collect(),
            scores: vec![0.0; WINDOW_CHOICES.len()],
            sampled: 0,
            period: mini * MINI_PERIOD,
            chosen: 0,
        }
    }

    /// Replays one access if its key is sampled; at the end of a period
    /// returns the window share that did best.
    fn observe(&mut self, address: &Address) -> Option<f64> {
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
        self.sampled += 1;
        if self.sampled < self.period {
            return None;
        }
        self.sampled = 0;
        // Keep the current choice unless another did clearly better.
        let best = (0..self.scores.len()).max_by(|&a, &b| self.scores[a].total_cmp(&self.scores[b])).unwrap_or(0);
        if self.scores[best] > self.scores[self.chosen] * 1.005 {
            self.chosen = best;
        }
        for score in &mut self.scores {
            *score *= 0.5;
        }
        Some(WINDOW_CHOICES[self.chosen])
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
        // letting them be evicted.
        while self.window.len() < self.window_cap && self.main_len() > self.main_cap() {
            let Some(victim) = self.main_victim() else { break };
            let Some(value) = self.pop_main(&victim) else { break };
            self.window.push(victim, value);
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
        if self.window.len() + self.main_len() > sized && sized < self.capacity {
            self.sketch = FrequencySketch::new(sized.saturating_mul(2).min(self.capacity));
        }
    }

    /// Counts an access in the sketch and the miniature simulations. A new window size
    /// takes effect at the next insert, where the policy may report what
    /// it pushes out.
    fn record(&mut self, address: &Address) {
        self.sketch.increment(address);
        if let Some(share) = self.sims.as_mut().and_then(|sims| sims.observe(address)) {
            let target = (self.capacity as f64 * share).round() as usize;
            self.window_cap = target.clamp(1, self.capacity.saturating_sub(1).max(1));
        }
    }
}

impl<V: Clone + Send> Policy<V> for TinyLfuPolicy<V> {
    fn get(&mut self, address: &Address) -> Option<V> {
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
        for segment in [&mut self.window, &mut self.probation, &mut self.protected] {
            if let Some(old) = segment.peek_mut(&address) {
                out.push(std::mem::replace(old, value));
                return out;
            }
        }
        self.record(&address);
        self.window.push(address, value);
        self.rebalance(&mut out);
        self.grow_sketch();
        out
    }

    fn remove(&mut self, address: &Address) -> Option<V> {
        self.window.pop(address).or_else(|| self.pop_main(address))
    }

    fn evict_one(&mut self) -> Option<V> {
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
        self.window.len() + self.main_len()
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
}
