//! Hit-path throughput at 1 and 2 threads: ebc against moka, quick_cache
//! and `lru` behind a mutex, same keys, same run. Every lookup hits.
//!
//! `cargo bench --bench throughput`
//!
//! Each configuration runs five rounds of 2^21 lookups per thread over
//! 10,000 cached keys drawn from a seeded Zipf(1.0) sequence; the table
//! gives the median round in million lookups per second.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use ebc::{Address, CacheStrategy, Config, ExternalBytecode, LoadOptions, Manager};

const KEYS: usize = 10_000;
const ROUNDS: usize = 5;

/// Lookups per thread and round: 2^21 when benchmarking, a few thousand
/// when `cargo test --all-targets` runs this binary (without `--bench`).
fn lookups() -> usize {
    if std::env::args().any(|a| a == "--bench") { 1 << 21 } else { 1 << 12 }
}

fn address(k: u64) -> Address {
    let mut b = [0u8; 20];
    b[12..].copy_from_slice(&k.to_be_bytes());
    b[..8].copy_from_slice(&k.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    Address::from(b)
}

/// A Zipf(1.0) sequence of key indices, seeded per thread.
fn sequence(seed: u64) -> Vec<u64> {
    let cdf: Vec<f64> = (1..=KEYS).scan(0.0, |t, i| { *t += 1.0 / i as f64; Some(*t) }).collect();
    let total = *cdf.last().unwrap();
    let mut x = seed | 1;
    (0..lookups())
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64 * total;
            cdf.partition_point(|c| *c < u) as u64
        })
        .collect()
}

/// Runs `lookup` over each thread's sequence; returns the median round's
/// million lookups per second.
fn measure<F: Fn(u64) -> bool + Sync>(threads: usize, lookup: &F) -> f64 {
    let sequences: Vec<Vec<u64>> = (0..threads).map(|t| sequence(17 + t as u64)).collect();
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let barrier = Barrier::new(threads);
        let started = std::sync::Mutex::new(None);
        std::thread::scope(|s| {
            for seq in &sequences {
                let (barrier, lookup, started) = (&barrier, lookup, &started);
                s.spawn(move || {
                    barrier.wait();
                    started.lock().unwrap().get_or_insert_with(Instant::now);
                    let mut hits = 0usize;
                    for &k in seq {
                        hits += lookup(k) as usize;
                    }
                    assert_eq!(hits, seq.len(), "every lookup must hit");
                });
            }
        });
        let elapsed = started.lock().unwrap().unwrap().elapsed();
        rounds.push((threads * lookups()) as f64 / elapsed.as_secs_f64() / 1e6);
    }
    rounds.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rounds[ROUNDS / 2]
}

/// `EBC_ONLY=<text>` runs only the rows whose name contains it (for
/// profiling one cache with `perf record`).
fn wanted(name: &str) -> bool {
    std::env::var("EBC_ONLY").map_or(true, |only| name.contains(&only))
}

/// Measures `lookup` at 1 and 2 threads into `rows`, when the row is wanted.
fn row<F: Fn(u64) -> bool + Sync>(rows: &mut Vec<(String, f64, f64)>, name: String, lookup: F) {
    if wanted(&name) {
        let one = measure(1, &lookup);
        rows.push((name, one, measure(2, &lookup)));
    }
}

fn main() {
    let addresses: Arc<Vec<Address>> = Arc::new((0..KEYS as u64).map(address).collect());

    let mut rows: Vec<(String, f64, f64)> = Vec::new();
    // The loop without a cache (`EBC_ONLY=baseline`), for subtracting
    // its cost from a row's cycles under `perf stat`.
    if std::env::var("EBC_ONLY").is_ok_and(|only| only == "baseline") {
        row(&mut rows, "baseline".into(), |k| black_box(k) < KEYS as u64);
    }
    for strategy in [CacheStrategy::Lru, CacheStrategy::Adaptive] {
        let config = Config { cache_strategy: strategy, max_cached_contracts: 2 * KEYS, ..Config::development() };
        let manager = Manager::new(config).unwrap();
        manager.put_memory("c", &[0x60, 0x01, 0x5b, 0x00]);
        for a in addresses.iter() {
            manager.load(a, Some("mem:c"), &LoadOptions::default()).unwrap();
        }
        let lookup = |k: u64| black_box(manager.get(&addresses[k as usize])).is_some();
        row(&mut rows, format!("ebc Manager::get ({strategy:?})"), lookup);
    }

    // The peers cache the very objects ebc hands out, one per address: a
    // value shared by every key would make each hit on every thread bump
    // the same reference count, and small values would fit the processor's
    // caches where ebc's objects do not. Same keys, same values.
    let values = Manager::new(Config { max_cached_contracts: 2 * KEYS, ..Config::development() }).unwrap();
    values.put_memory("c", &[0x60, 0x01, 0x5b, 0x00]);
    let moka: moka::sync::Cache<Address, Arc<ExternalBytecode>> = moka::sync::Cache::new(2 * KEYS as u64);
    let quick: quick_cache::sync::Cache<Address, Arc<ExternalBytecode>> = quick_cache::sync::Cache::new(2 * KEYS);
    let lru = parking_lot::Mutex::new(lru::LruCache::<Address, Arc<ExternalBytecode>>::unbounded());
    for a in addresses.iter() {
        let value = values.load(a, Some("mem:c"), &LoadOptions::default()).unwrap();
        moka.insert(*a, value.clone());
        quick.insert(*a, value.clone());
        lru.lock().put(*a, value);
    }
    let moka_get = |k: u64| black_box(moka.get(&addresses[k as usize])).is_some();
    row(&mut rows, "moka::sync::Cache::get".into(), moka_get);
    let quick_get = |k: u64| black_box(quick.get(&addresses[k as usize])).is_some();
    row(&mut rows, "quick_cache::sync::Cache::get".into(), quick_get);
    let lru_get = |k: u64| black_box(lru.lock().get(&addresses[k as usize]).cloned()).is_some();
    row(&mut rows, "lru::LruCache behind a mutex".into(), lru_get);

    println!("| cache | 1 thread (M lookups/s) | 2 threads (M lookups/s) | 2 / 1 |");
    println!("|---|---|---|---|");
    for (name, one, two) in rows {
        println!("| {name} | {one:.1} | {two:.1} | {:.2}x |", two / one);
    }
}
