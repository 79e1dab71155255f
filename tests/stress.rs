//! Eight threads, a small cache, a million mixed operations with loaders
//! that fail sometimes: no crash, every reference intact while held, and
//! every bytecode freed once the manager and all references are gone.
//! Alone in its binary, so the process-wide live count is this test's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ebc::{Address, CacheStrategy, Config, FnLoader, LoadOptions, LoaderType, Manager, Status};

const THREADS: u64 = 8;
const OPS_PER_THREAD: u64 = 125_000;
const ADDRESSES: u64 = 64;

fn address(n: u64) -> Address {
    let mut b = [0u8; 20];
    b[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(b)
}

/// The code every address has: its number in the PUSH, so a reference's
/// bytes can be checked against its address.
fn code_of(n: u64) -> Vec<u8> {
    vec![0x60, n as u8, 0x5b, 0x60, (n >> 8) as u8, 0x00]
}

fn run(strategy: CacheStrategy, ops_per_thread: u64) {
    let baseline = ebc::live_bytecodes();
    let config = Config { cache_strategy: strategy, max_cached_contracts: 8, cache_ttl_ms: 2, ..Config::testing() };
    let manager = Arc::new(Manager::new(config).unwrap());
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    // Fails one fetch in eight, by a counter shared by all threads.
    let loader = FnLoader::new(LoaderType::Custom, move |req, sink| {
        if counter.fetch_add(1, Ordering::Relaxed) % 8 == 7 {
            return Err(ebc::Error::Io { what: req.uri.into(), cause: "flaky store".into() });
        }
        let n: u64 = req.location.parse().unwrap();
        sink.write(&code_of(n))
    });
    manager.register_loader("flaky", Arc::new(loader)).unwrap();

    let held_at_end: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let manager = manager.clone();
                scope.spawn(move || {
                    let mut held = Vec::new();
                    let mut x = t * 0x9e37_79b9 + 1;
                    for _ in 0..ops_per_thread {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let n = x % ADDRESSES;
                        let a = address(n);
                        match (x >> 8) % 16 {
                            0..=6 => match manager.load(&a, Some(&format!("flaky:{n}")), &LoadOptions::default()) {
                                Ok(code) => held.push((n, code)),
                                Err(e) => assert_eq!(e.status(), Status::Io, "{e}"),
                            },
                            7..=10 => held.extend(manager.get(&a).map(|c| (n, c))),
                            11 | 12 => {
                                let _ = manager.unload(&a);
                            }
                            13 => {
                                if x % 64 == 0 {
                                    manager.compact();
                                }
                            }
                            _ => {
                                // Release the oldest references.
                                let keep = held.len().saturating_sub(4);
                                held.drain(..keep);
                            }
                        }
                        if held.len() > 32 {
                            held.drain(..16);
                        }
                        for (n, code) in held.iter().rev().take(2) {
                            assert_eq!(code.code(), code_of(*n).as_slice());
                            assert_eq!(code.address(), address(*n));
                        }
                    }
                    held
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });

    let stats = manager.cache_stats();
    assert!(stats.entries <= 8, "{strategy:?}: {stats:?}");
    assert!(manager.metrics().load_failures > 0, "the loader failed sometimes");
    drop(manager);
    assert!(ebc::live_bytecodes() > baseline || held_at_end.is_empty());
    for (n, code) in &held_at_end {
        assert_eq!(code.code(), code_of(*n).as_slice(), "intact after the manager is gone");
    }
    drop(held_at_end);
    assert_eq!(ebc::live_bytecodes(), baseline, "{strategy:?}: every bytecode freed");
}

#[test]
fn a_million_mixed_operations_on_eight_threads_leak_nothing() {
    run(CacheStrategy::Lru, OPS_PER_THREAD);
    run(CacheStrategy::Adaptive, OPS_PER_THREAD);
    run(CacheStrategy::Lfu, OPS_PER_THREAD / 4);
    run(CacheStrategy::Ttl, OPS_PER_THREAD / 4);
}
