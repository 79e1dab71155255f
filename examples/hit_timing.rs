//! Times the cache-hit path of `Manager::get` over 10,000 cached addresses,
//! one thread: a quick check beside `cargo bench --bench throughput`.
//!
//! `cargo run --release --example hit_timing`

use std::hint::black_box;
use std::time::Instant;

use ebc::{Address, CacheStrategy, Config, LoadOptions, Manager};

fn main() {
    for strategy in [CacheStrategy::Lru, CacheStrategy::Adaptive] {
        let config = Config { cache_strategy: strategy, max_cached_contracts: 20_000, ..Config::development() };
        let manager = Manager::new(config).unwrap();
        manager.put_memory("c", &[0x60, 0x01, 0x5b, 0x00]);
        let addresses: Vec<Address> = (0..10_000u64)
            .map(|k| {
                let mut b = [0u8; 20];
                b[12..].copy_from_slice(&k.to_be_bytes());
                Address::from(b)
            })
            .collect();
        for a in &addresses {
            manager.load(a, Some("mem:c"), &LoadOptions::default()).unwrap();
        }
        for (name, step) in [("same address", 0usize), ("sequential sweep", 1), ("strided sweep", 7919)] {
            let started = Instant::now();
            let n: usize = std::env::var("EBC_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000_000);
            let mut i = 0usize;
            for _ in 0..n {
                black_box(manager.get(&addresses[i]));
                i = (i + step) % addresses.len();
            }
            println!("{strategy:?} {name}: {:.1} ns per hit", started.elapsed().as_nanos() as f64 / n as f64);
        }
    }
}
