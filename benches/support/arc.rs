//! ARC, the adaptive replacement cache (Megiddo and Modha, FAST 2003), as
//! the paper's pseudocode states it: a reference point for the hit-ratio
//! bench, not a cache ebc runs.
//!
//! Two lists of cached keys, `t1` (seen once recently) and `t2` (seen at
//! least twice), and two ghost lists of keys evicted from them, `b1` and
//! `b2`. A hit in a ghost list moves the target size of `t1`, `p`,
//! towards the list that would have hit.

use lru::LruCache;

/// An ARC cache of keys (values play no part in hit ratios).
pub struct Arc {
    capacity: usize,
    /// The target size of `t1`.
    p: f64,
    t1: LruCache<u64, ()>,
    t2: LruCache<u64, ()>,
    b1: LruCache<u64, ()>,
    b2: LruCache<u64, ()>,
}

impl Arc {
    /// An empty cache of `capacity` keys.
    pub fn new(capacity: usize) -> Arc {
        let list = LruCache::unbounded;
        Arc { capacity, p: 0.0, t1: list(), t2: list(), b1: list(), b2: list() }
    }

    /// Requests `key`: whether it was cached. On a miss the key is cached.
    pub fn access(&mut self, key: u64) -> bool {
        let c = self.capacity;
        if c == 0 {
            return false;
        }
        // Case I: a hit moves the key to the front of t2.
        if self.t1.pop(&key).is_some() || self.t2.pop(&key).is_some() {
            self.t2.push(key, ());
            return true;
        }
        // Case II: a ghost of t1; t1 should have been larger.
        if self.b1.contains(&key) {
            let step = (self.b2.len() as f64 / self.b1.len() as f64).max(1.0);
            self.p = (self.p + step).min(c as f64);
            self.replace(false);
            self.b1.pop(&key);
            self.t2.push(key, ());
            return false;
        }
        // Case III: a ghost of t2; t2 should have been larger.
        if self.b2.contains(&key) {
            let step = (self.b1.len() as f64 / self.b2.len() as f64).max(1.0);
            self.p = (self.p - step).max(0.0);
            self.replace(true);
            self.b2.pop(&key);
            self.t2.push(key, ());
            return false;
        }
        // Case IV: a key seen in neither.
        let l1 = self.t1.len() + self.b1.len();
        let total = l1 + self.t2.len() + self.b2.len();
        if l1 == c {
            if self.t1.len() < c {
                self.b1.pop_lru();
                self.replace(false);
            } else {
                self.t1.pop_lru();
            }
        } else if total >= c {
            if total == 2 * c {
                self.b2.pop_lru();
            }
            self.replace(false);
        }
        self.t1.push(key, ());
        false
    }

    /// Makes room for one key: evicts the least recent of `t1` to `b1`
    /// if `t1` is over its target (or at it, when the request was a ghost
    /// of t2), else the least recent of `t2` to `b2`.
    fn replace(&mut self, ghost_of_t2: bool) {
        let t1 = self.t1.len() as f64;
        if !self.t1.is_empty() && (t1 > self.p || (ghost_of_t2 && t1 == self.p)) {
            if let Some((key, ())) = self.t1.pop_lru() {
                self.b1.push(key, ());
            }
        } else if let Some((key, ())) = self.t2.pop_lru() {
            self.b2.push(key, ());
        }
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        self.t1.len() + self.t2.len()
    }
}
