//! The cache: address → code hash → one shared [`Code`].
//!
//! Addresses are spread over shards, each a [`Policy`] behind its own mutex,
//! so threads working on different addresses rarely meet. Code is
//! deduplicated across shards by code hash in [`CodeTable`]: a thousand
//! clones of one token hold one copy of its code, and bytes are counted once.
//!
//! Lock order: a shard, then the code table. The code table is touched only
//! when entries come and go, never on a hit.
//!
//! Memory per entry: [`ExternalBytecode::entry_memory_size`] plus the
//! policy's bookkeeping (about 64 bytes for LRU), plus the shared code's
//! [`Code::memory_size`] once per distinct code hash.

mod lfu;
mod lru;
mod sketch;
mod tinylfu;
mod ttl;

pub use sketch::FrequencySketch;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use revm::primitives::{Address, B256};

use crate::bytecode::{Code, ExternalBytecode};
use crate::config::{CacheStrategy, Config};
use crate::error::Result;

/// One shard's eviction policy over values `V` keyed by address.
/// Implementations keep at most their capacity and report what they push
/// out; the shard's mutex serialises calls. Public so that benchmarks and
/// simulators can replay traces through exactly the code the cache runs.
pub trait Policy<V>: Send {
    /// The value for `address`, recording the access. Never an expired one.
    fn get(&mut self, address: &Address) -> Option<V>;
    /// Inserts or replaces; returns the values pushed out (a replaced one
    /// included).
    fn insert(&mut self, address: Address, value: V) -> Vec<V>;
    /// Removes `address`'s value.
    fn remove(&mut self, address: &Address) -> Option<V>;
    /// Removes the value the policy would evict next.
    fn evict_one(&mut self) -> Option<V>;
    /// Drops values that must no longer be served (expired ones); returns them.
    fn purge(&mut self) -> Vec<V>;
    /// How many values are held.
    fn len(&self) -> usize;
    /// True when nothing is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A policy of `strategy` holding at most `capacity` values; `ttl` applies
/// to [`CacheStrategy::Ttl`]. [`CacheStrategy::None`] holds nothing.
pub fn policy<V: Clone + Send + 'static>(
    strategy: CacheStrategy,
    capacity: usize,
    ttl: std::time::Duration,
) -> Box<dyn Policy<V>> {
    match strategy {
        CacheStrategy::None => Box::new(lru::LruPolicy::new(0)),
        CacheStrategy::Lru => Box::new(lru::LruPolicy::new(capacity)),
        CacheStrategy::Lfu => Box::new(lfu::LfuPolicy::new(capacity)),
        CacheStrategy::Ttl => Box::new(ttl::TtlPolicy::new(capacity, ttl)),
        CacheStrategy::Adaptive => Box::new(tinylfu::TinyLfuPolicy::new(capacity)),
    }
}

/// Counters of one cache, readable at any time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found an entry.
    pub hits: u64,
    /// Lookups that found none.
    pub misses: u64,
    /// Entries removed to make room (not unloads).
    pub evictions: u64,
    /// Addresses held now.
    pub entries: u64,
    /// Bytes held now: each distinct code once, plus every entry.
    pub bytes: u64,
}

impl CacheStats {
    /// hits / (hits + misses), 0 when there were no lookups.
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 { 0.0 } else { self.hits as f64 / total as f64 }
    }
}

/// Distinct code held by the cache, by code hash, with how many cached
/// addresses use it.
#[derive(Default)]
struct CodeTable {
    codes: HashMap<B256, (Arc<Code>, usize)>,
    bytes: usize,
}

impl CodeTable {
    fn add(&mut self, entry: &ExternalBytecode) {
        self.bytes += entry.entry_memory_size();
        let code = entry.shared();
        let slot = self.codes.entry(code.code_hash()).or_insert_with(|| (code.clone(), 0));
        if slot.1 == 0 {
            self.bytes += code.memory_size();
        }
        slot.1 += 1;
    }

    fn release(&mut self, entry: &ExternalBytecode) {
        self.bytes -= entry.entry_memory_size();
        let hash = entry.code_hash();
        if let Some(slot) = self.codes.get_mut(&hash) {
            slot.1 -= 1;
            if slot.1 == 0 {
                self.bytes -= slot.0.memory_size();
                self.codes.remove(&hash);
            }
        }
    }
}

/// The manager's cache. Thread-safe; see the module docs for its layout.
pub struct Cache {
    strategy: CacheStrategy,
    shards: Box<[Mutex<Box<dyn Policy<Arc<ExternalBytecode>>>>]>,
    codes: Mutex<CodeTable>,
    max_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl Cache {
    /// A cache for `config`'s strategy and bounds.
    pub fn new(config: &Config) -> Result<Cache> {
        let capacity = config.max_cached_contracts;
        // Small caches get one shard so that capacity and order are exact.
        let shard_count = (capacity / 256).clamp(1, 16).next_power_of_two().min(16);
        let per_shard = capacity.div_ceil(shard_count);
        let ttl = std::time::Duration::from_millis(config.cache_ttl_ms);
        let shards: Vec<_> =
            (0..shard_count).map(|_| Mutex::new(policy(config.cache_strategy, per_shard, ttl))).collect();
        Ok(Cache {
            strategy: config.cache_strategy,
            shards: shards.into_boxed_slice(),
            codes: Mutex::new(CodeTable::default()),
            max_bytes: config.max_cache_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        })
    }

    #[inline]
    fn shard(&self, address: &Address) -> &Mutex<Box<dyn Policy<Arc<ExternalBytecode>>>> {
        // Real addresses are uniform, but hosts and tests also number them
        // sequentially: mix the low 8 bytes (Fibonacci hashing) and take
        // the top bits, so either kind spreads over every shard.
        let mut low = [0u8; 8];
        low.copy_from_slice(&address[12..]);
        let mixed = u64::from_be_bytes(low).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        &self.shards[(mixed >> 32) as usize & (self.shards.len() - 1)]
    }

    /// The cached entry for `address`, counted as a hit or a miss.
    #[inline]
    pub fn get(&self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        let found = self.peek(address);
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// The cached entry for `address`, recorded with the policy but not in
    /// the hit/miss counters (for re-checks inside the load path).
    #[inline]
    pub fn peek(&self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        if self.strategy == CacheStrategy::None {
            return None;
        }
        self.shard(address).lock().get(address)
    }

    /// Code already cached under `hash`, to share instead of analysing again.
    pub fn code(&self, hash: &B256) -> Option<Arc<Code>> {
        self.codes.lock().codes.get(hash).map(|(code, _)| code.clone())
    }

    /// Caches `entry`, evicting by count and bytes as needed. Evicted
    /// entries are dropped after every lock is released.
    pub fn insert(&self, entry: Arc<ExternalBytecode>) {
        if self.strategy == CacheStrategy::None {
            return;
        }
        let shard = self.shard(&entry.address());
        let mut out = Vec::new();
        {
            let mut policy = shard.lock();
            let address = entry.address();
            let mut codes = self.codes.lock();
            codes.add(&entry);
            for old in policy.insert(address, entry) {
                codes.release(&old);
                if old.address() != address {
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
                out.push(old);
            }
            while self.max_bytes > 0 && codes.bytes > self.max_bytes {
                let Some(old) = policy.evict_one() else { break };
                codes.release(&old);
                self.evictions.fetch_add(1, Ordering::Relaxed);
                out.push(old);
            }
        }
        drop(out);
    }

    /// Removes `address`'s entry; other addresses sharing its code keep it.
    pub fn remove(&self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        let mut policy = self.shard(address).lock();
        let old = policy.remove(address)?;
        self.codes.lock().release(&old);
        Some(old)
    }

    /// Drops entries that must no longer be served and frees spare memory;
    /// returns how many entries went.
    pub fn compact(&self) -> usize {
        let mut removed = Vec::new();
        for shard in self.shards.iter() {
            let mut policy = shard.lock();
            let expired = policy.purge();
            let mut codes = self.codes.lock();
            for old in &expired {
                codes.release(old);
            }
            codes.codes.shrink_to_fit();
            drop(codes);
            drop(policy);
            removed.extend(expired);
        }
        removed.len()
    }

    /// Empties the cache.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut policy = shard.lock();
            let mut dropped = Vec::new();
            while let Some(old) = policy.evict_one() {
                self.codes.lock().release(&old);
                dropped.push(old);
            }
            drop(policy);
            drop(dropped);
        }
    }

    /// The counters now.
    pub fn stats(&self) -> CacheStats {
        let entries: usize = self.shards.iter().map(|s| s.lock().len()).sum();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: entries as u64,
            bytes: self.codes.lock().bytes as u64,
        }
    }
}
