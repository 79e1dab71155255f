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
//! flushing the popular ones. The window's size is tuned while running: a
//! hill climber compares each sample's hit rate with the last and keeps
//! moving the window in whichever direction helped.

use lru::LruCache;
use revm::primitives::Address;

use super::{AddressHash, FrequencySketch, Policy};

/// Share of the capacity the window starts with.
const INITIAL_WINDOW: f64 = 0.01;
/// Share of the main space that is protected.
const PROTECTED_SHARE: f64 = 0.80;
/// First hill-climbing step, as a share of the capacity.
const INITIAL_STEP: f64 = 0.0625;
/// Each step is this much smaller than the one before.
const STEP_DECAY: f64 = 0.98;
/// A change in hit rate this large restarts the climber with a full step.
const RESTART_THRESHOLD: f64 = 0.05;
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
    climber: HillClimber,
}

/// Tunes the window by the hit rate of successive samples.
struct HillClimber {
    hits: u64,
    requests: u64,
    sample_size: u64,
    previous_rate: Option<f64>,
    /// Signed step, as a share of the capacity.
    step: f64,
}

impl HillClimber {
    /// Records a lookup; at the end of a sample returns the window change
    /// (in entries) to make.
    fn record(&mut self, hit: bool, capacity: usize) -> isize {
        self.hits += hit as u64;
        self.requests += 1;
        if self.requests < self.sample_size {
            return 0;
        }
        let rate = self.hits as f64 / self.requests as f64;
        self.hits = 0;
        self.requests = 0;
        let Some(previous) = self.previous_rate.replace(rate) else {
            return (self.step * capacity as f64).round() as isize;
        };
        let change = rate - previous;
        if change.abs() >= RESTART_THRESHOLD {
            self.step = INITIAL_STEP.copysign(self.step);
        }
        if change < 0.0 {
            self.step = -self.step;
        }
        let amount = (self.step * capacity as f64).round() as isize;
        self.step *= STEP_DECAY;
        amount
    }
}

impl<V> TinyLfuPolicy<V> {
    /// An empty policy holding at most `capacity` values.
    pub(crate) fn new(capacity: usize) -> TinyLfuPolicy<V> {
        let window_cap = ((capacity as f64 * INITIAL_WINDOW).round() as usize).clamp(1, capacity.max(1));
        TinyLfuPolicy {
            window: LruCache::unbounded_with_hasher(Default::default()),
            probation: LruCache::unbounded_with_hasher(Default::default()),
            protected: LruCache::unbounded_with_hasher(Default::default()),
            // Sized for what is held, not for the bound: a host may set a
            // bound of billions and cache thousands. `grow_sketch` follows.
            sketch: FrequencySketch::new(capacity.min(INITIAL_SKETCH)),
            capacity,
            window_cap,
            climber: HillClimber {
                hits: 0,
                requests: 0,
                // Three capacities' worth of requests per sample: tried 1×,
                // 3×, 5× and 10× on the traces in BENCHMARKS.md; 3× wins
                // most often.
                sample_size: (capacity as u64).saturating_mul(3).max(500),
                previous_rate: None,
                step: INITIAL_STEP,
            },
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

    /// Counts an access in the sketch and the climber. A new window size
    /// takes effect at the next insert, where the policy may report what
    /// it pushes out.
    fn record(&mut self, address: &Address, hit: bool) {
        self.sketch.increment(address);
        let delta = self.climber.record(hit, self.capacity);
        self.resize_window(delta);
    }

    fn resize_window(&mut self, delta: isize) {
        if delta == 0 || self.capacity < 2 {
            return;
        }
        let target = (self.window_cap as isize + delta).clamp(1, self.capacity as isize - 1);
        self.window_cap = target as usize;
    }
}

impl<V: Clone + Send> Policy<V> for TinyLfuPolicy<V> {
    fn get(&mut self, address: &Address) -> Option<V> {
        let found = if let Some(v) = self.window.get(address) {
            Some(v.clone())
        } else if let Some(v) = self.probation.pop(address) {
            self.protected.push(*address, v.clone());
            self.demote_overflow();
            Some(v)
        } else {
            self.protected.get(address).cloned()
        };
        // A miss is recorded by the insert that follows it, so that a cache
        // which tells the policy only about hits and inserts counts each
        // access once.
        if found.is_some() {
            self.record(address, true);
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
        self.record(&address, false);
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
