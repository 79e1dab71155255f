//! Hit-path throughput at 1 and 2 threads: ebc against moka, quick_cache
//! and `lru` behind a mutex, same keys, same run. Every lookup hits.
//!
//! `cargo bench --bench throughput`
//!
//! Each configuration runs seven rounds of 2^21 lookups per thread over
//! 10,000 cached keys drawn from a seeded Zipf(1.0) sequence (then again
//! with uniform keys), the
//! configurations interleaved round by round; the table gives the median
//! round in million lookups per second, the median per-round ratio of two
//! threads to one, and the median per-round ratio of ebc (LRU) to each
//! peer.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use ebc::{Address, CacheStrategy, Config, ExternalBytecode, LoadOptions, Manager};

const KEYS: usize = 10_000;
const ROUNDS: usize = 7;

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
fn sequence(seed: u64, keys: Keys) -> Vec<u64> {
    let cdf: Vec<f64> = (1..=KEYS).scan(0.0, |t, i| { *t += 1.0 / i as f64; Some(*t) }).collect();
    let total = *cdf.last().unwrap();
    let mut x = seed | 1;
    (0..lookups())
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match keys {
                Keys::Zipf => {
                    let u = (x >> 11) as f64 / (1u64 << 53) as f64 * total;
                    cdf.partition_point(|c| *c < u) as u64
                }
                Keys::Uniform => x % KEYS as u64,
            }
        })
        .collect()
}

/// How lookups pick their keys.
#[derive(Clone, Copy, Debug)]
enum Keys {
    /// Zipf(1.0): a few addresses take most lookups, as on a chain. Both
    /// threads then hand out the same few objects, whose reference counts
    /// every cache that returns an `Arc` must bump.
    Zipf,
    /// Every address alike: what the cache's own structure allows.
    Uniform,
}

/// One round: `lookup` over each thread's sequence at once; million
/// lookups per second.
fn round(sequences: &[Vec<u64>], lookup: &(dyn Fn(u64) -> bool + Sync)) -> f64 {
    let barrier = Barrier::new(sequences.len());
    let started = std::sync::Mutex::new(None);
    std::thread::scope(|s| {
        for seq in sequences {
            let (barrier, started) = (&barrier, &started);
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
    (sequences.len() * lookups()) as f64 / elapsed.as_secs_f64() / 1e6
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// `EBC_ONLY=<text>[,<text>…]` runs only the rows whose name contains one
/// of the texts (for profiling one cache with `perf record`, or comparing
/// two quickly).
fn wanted(name: &str) -> bool {
    std::env::var("EBC_ONLY").map_or(true, |only| only.split(',').any(|text| name.contains(text)))
}

/// The caches to measure, by name.
type Rows<'a> = Vec<(String, Box<dyn Fn(u64) -> bool + Sync + 'a>)>;

/// Adds a cache to `rows` when it is wanted.
fn row<'a>(rows: &mut Rows<'a>, name: String, lookup: impl Fn(u64) -> bool + Sync + 'a) {
    if wanted(&name) {
        rows.push((name, Box::new(lookup)));
    }
}

/// Measures every row, interleaved: each round runs every cache at one
/// thread and then at two before the next round starts, so a change in the
/// machine's load falls on all of them alike. Prints the median rounds and,
/// per peer, the median of the per-round ratios of ebc's first row to it.
fn report(rows: &Rows<'_>, keys: Keys) {
    let one: Vec<Vec<u64>> = vec![sequence(17, keys)];
    let two: Vec<Vec<u64>> = vec![sequence(17, keys), sequence(18, keys)];
    let mut results = vec![(Vec::new(), Vec::new()); rows.len()];
    for _ in 0..ROUNDS {
        for ((_, lookup), (ones, twos)) in rows.iter().zip(&mut results) {
            ones.push(round(&one, lookup.as_ref()));
            twos.push(round(&two, lookup.as_ref()));
        }
    }
    println!("{keys:?} keys:");
    println!();
    // Each round runs two threads right after one, so a round's own ratio
    // is spared the machine's slower and faster spells between rounds.
    let ratio = |mine: &[f64], theirs: &[f64]| median(mine.iter().zip(theirs).map(|(m, t)| m / t).collect());
    println!("| cache | 1 thread (M lookups/s) | 2 threads (M lookups/s) | 2 / 1 (median of rounds) |");
    println!("|---|---|---|---|");
    for ((name, _), (ones, twos)) in rows.iter().zip(&results) {
        let (a, b) = (median(ones.clone()), median(twos.clone()));
        println!("| {name} | {a:.1} | {b:.1} | {:.2}x |", ratio(twos, ones));
    }
    let Some((ebc_ones, ebc_twos)) = results.first() else { return };
    println!();
    println!("| {} against | 1 thread | 2 threads |", rows[0].0);
    println!("|---|---|---|");
    for ((name, _), (ones, twos)) in rows.iter().zip(&results).skip(1) {
        println!("| {name} | {:.2}x | {:.2}x |", ratio(ebc_ones, ones), ratio(ebc_twos, twos));
    }
}

fn main() {
    let addresses: Arc<Vec<Address>> = Arc::new((0..KEYS as u64).map(address).collect());

    let mut rows: Rows<'_> = Vec::new();
    // The loop without a cache (`EBC_ONLY=baseline`), for subtracting
    // its cost from a row's cycles under `perf stat`.
    if std::env::var("EBC_ONLY").is_ok_and(|only| only == "baseline") {
        row(&mut rows, "baseline".into(), |k| black_box(k) < KEYS as u64);
    }
    for strategy in [CacheStrategy::Lru, CacheStrategy::Lfu, CacheStrategy::Adaptive] {
        let config = Config { cache_strategy: strategy, max_cached_contracts: 2 * KEYS, ..Config::development() };
        let manager = Manager::new(config).unwrap();
        manager.put_memory("c", &[0x60, 0x01, 0x5b, 0x00]);
        for a in addresses.iter() {
            manager.load(a, Some("mem:c"), &LoadOptions::default()).unwrap();
        }
        let addresses = addresses.clone();
        let lookup = move |k: u64| black_box(manager.get(&addresses[k as usize])).is_some();
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
    let keys = addresses.clone();
    let moka_get = move |k: u64| black_box(moka.get(&keys[k as usize])).is_some();
    row(&mut rows, "moka::sync::Cache::get".into(), moka_get);
    let keys = addresses.clone();
    let quick_get = move |k: u64| black_box(quick.get(&keys[k as usize])).is_some();
    row(&mut rows, "quick_cache::sync::Cache::get".into(), quick_get);
    let keys = addresses.clone();
    let lru_get = move |k: u64| black_box(lru.lock().get(&keys[k as usize]).cloned()).is_some();
    row(&mut rows, "lru::LruCache behind a mutex".into(), lru_get);

    report(&rows, Keys::Zipf);
    println!();
    report(&rows, Keys::Uniform);
}
