//! The manager's behaviour through the Rust API: errors with context, the
//! manager usable after each, no failed load cached, deduplication,
//! single-flight, eviction and concurrency.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use ebc::{Address, CacheStrategy, Config, FnLoader, LoadOptions, LoaderType, Manager, Status};

const WETH9: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/WETH9.hex");

fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

fn testing() -> Manager {
    Manager::new(Config::testing()).unwrap()
}

fn load(m: &Manager, a: Address, uri: &str) -> ebc::Result<Arc<ebc::ExternalBytecode>> {
    m.load(&a, Some(uri), &LoadOptions::default())
}

fn tmp_file(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("ebc-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// After a failure the manager still loads good code.
fn assert_usable(m: &Manager) {
    m.put_memory("good", b"0x6001600101");
    let a = addr(0xee);
    let _ = m.unload(&a);
    load(m, a, "mem:good").expect("a good load after a failure");
}

#[test]
fn weth9_loads_from_a_file_with_its_published_code_hash() {
    let m = testing();
    let code = load(&m, addr(1), WETH9).unwrap();
    assert_eq!(
        code.code_hash().to_string(),
        "0xd0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23"
    );
    assert_eq!(code.code().len(), 3124);
    assert_eq!(code.metadata().load_method, LoaderType::FileSystem);
    let again = load(&m, addr(1), &format!("file://{WETH9}")).unwrap();
    // A cache hit: the same code (the object may be this thread's lane
    // copy of the loaded one).
    assert!(Arc::ptr_eq(code.shared(), again.shared()));
    assert_eq!(m.cache_stats().hits, 1);
}

#[test]
fn each_bad_input_has_its_status_and_context_and_nothing_is_cached() {
    let m = testing();
    let cases: Vec<(String, Status, &str)> = vec![
        ("/no/such/file.hex".into(), Status::NotFound, "/no/such/file.hex"),
        ("nope:xyz".into(), Status::LoaderNotFound, "\"nope\""),
        (tmp_file("big.bin", &vec![0x5b; 200_000]), Status::TooLarge, "big.bin"),
        (tmp_file("bad.hex", b"0x60zz"), Status::InvalidArgument, "offset 4"),
        (tmp_file("empty.hex", b""), Status::NotFound, "no code"),
        (tmp_file("just0x.hex", b"0x"), Status::NotFound, "no code"),
        (tmp_file("ef.bin", &[0xef, 0x00, 0x01]), Status::VerificationFailed, "0xEF"),
        ("mem:absent".into(), Status::NotFound, "absent"),
        ("".into(), Status::InvalidArgument, "empty URI"),
    ];
    for (i, (uri, status, needle)) in cases.iter().enumerate() {
        let a = addr(i as u8 + 1);
        let err = load(&m, a, uri).expect_err(uri);
        assert_eq!(err.status(), *status, "{uri}: {err}");
        assert!(err.to_string().contains(needle), "{uri}: {err:?} lacks {needle}");
        assert!(m.get(&a).is_none(), "{uri}: a failed load was cached");
        assert_usable(&m);
    }
    assert_eq!(m.metrics().load_failures, cases.len() as u64);
}

#[test]
fn a_file_over_the_cap_is_refused_before_it_is_read() {
    let m = testing();
    // /proc files report size 0 and never end; regular ones report their size.
    let path = tmp_file("huge.bin", &vec![0x00; 5_000_000]);
    let err = load(&m, addr(1), &path).unwrap_err();
    assert!(err.to_string().contains("5000000 bytes"), "{err}");
}

#[test]
fn code_hash_mismatch_names_both_hashes_also_on_a_hit() {
    let m = testing();
    let wrong = LoadOptions { expected_code_hash: Some(ebc::B256::repeat_byte(7)), ..Default::default() };
    let err = m.load(&addr(1), Some(WETH9), &wrong).unwrap_err();
    assert_eq!(err.status(), Status::ChecksumMismatch);
    assert!(err.to_string().contains("0x0707"), "{err}");
    assert!(err.to_string().contains("d0a06b12"), "{err}");
    assert!(m.get(&addr(1)).is_none());
    load(&m, addr(1), WETH9).unwrap();
    let err = m.load(&addr(1), Some(WETH9), &wrong).unwrap_err();
    assert_eq!(err.status(), Status::ChecksumMismatch, "checked on the hit path too");
}

#[test]
fn strict_refuses_unsigned_code_and_disabled_refuses_everything() {
    let strict = Manager::new(Config { security_level: ebc::SecurityLevel::Strict, ..Config::testing() }).unwrap();
    assert_eq!(load(&strict, addr(1), WETH9).unwrap_err().status(), Status::SignatureInvalid);
    let off = Manager::new(Config { enable_external_bytecode: false, ..Config::testing() }).unwrap();
    assert_eq!(load(&off, addr(1), WETH9).unwrap_err().status(), Status::Disabled);
}

#[test]
fn identical_code_at_many_addresses_is_held_once() {
    let m = Manager::new(Config { max_cached_contracts: 20_000, ..Config::testing() }).unwrap();
    let first = load(&m, Address::with_last_byte(0), WETH9).unwrap();
    let one = m.cache_stats().bytes;
    for i in 1..3_000u32 {
        let mut a = [0u8; 20];
        a[16..].copy_from_slice(&i.to_be_bytes());
        let code = load(&m, Address::from(a), WETH9).unwrap();
        assert!(Arc::ptr_eq(code.shared(), first.shared()));
    }
    let stats = m.cache_stats();
    assert_eq!(stats.entries, 3_000);
    let per_entry = (stats.bytes - one) / 2_999;
    let code = first.shared().memory_size() as u64;
    assert!(per_entry * 4 < code, "each extra address costs {per_entry} bytes, not a copy of the code's {code}");
    m.unload(&Address::with_last_byte(0)).unwrap();
    assert!(m.get(&Address::from({ let mut a = [0u8; 20]; a[19] = 1; a })).is_some());
    assert_eq!(m.unload(&Address::with_last_byte(0)).unwrap_err().status(), Status::NotFound);
}

#[test]
fn lru_evicts_the_least_recently_used_and_counts_it() {
    let m = Manager::new(Config { max_cached_contracts: 2, ..Config::testing() }).unwrap();
    m.put_memory("a", b"0x6001");
    m.put_memory("b", b"0x6002");
    m.put_memory("c", b"0x6003");
    load(&m, addr(1), "mem:a").unwrap();
    load(&m, addr(2), "mem:b").unwrap();
    assert!(m.get(&addr(1)).is_some()); // 1 is now the most recent
    load(&m, addr(3), "mem:c").unwrap();
    assert!(m.get(&addr(2)).is_none(), "2 was least recently used");
    assert!(m.get(&addr(1)).is_some() && m.get(&addr(3)).is_some());
    let stats = m.cache_stats();
    assert_eq!((stats.entries, stats.evictions), (2, 1));
    // Hits that came before a later load do not save an entry from it.
    assert!(m.get(&addr(1)).is_some());
    load(&m, addr(2), "mem:b").unwrap(); // 3 is now the least recent
    assert!(m.get(&addr(3)).is_none(), "3 was least recently used");
    load(&m, addr(3), "mem:c").unwrap(); // 1 was hit before 2 came back
    assert!(m.get(&addr(1)).is_none(), "1 was least recently used");
}

#[test]
fn the_byte_bound_evicts_until_it_holds() {
    let config = Config { max_cached_contracts: 1000, max_cache_bytes: 20_000, ..Config::testing() };
    let m = Manager::new(config).unwrap();
    for i in 0..10u8 {
        m.put_memory(&format!("c{i}"), &[vec![0x60, i], vec![0x5b; 4000]].concat());
        load(&m, addr(i + 1), &format!("mem:c{i}")).unwrap();
        assert!(m.cache_stats().bytes <= 20_000, "{:?}", m.cache_stats());
    }
    assert!(m.cache_stats().evictions > 0);
}

#[test]
fn no_caching_strategy_fetches_every_time() {
    let m = Manager::new(Config { cache_strategy: CacheStrategy::None, ..Config::testing() }).unwrap();
    load(&m, addr(1), WETH9).unwrap();
    load(&m, addr(1), WETH9).unwrap();
    assert_eq!(m.metrics().loads, 2);
    assert!(m.get(&addr(1)).is_none());
}

#[test]
fn the_default_source_and_lazy_loading() {
    let dir = std::env::temp_dir().join(format!("ebc-default-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = addr(0xab);
    std::fs::write(dir.join(format!("{a:#x}.hex")), "0x60016002").unwrap();
    let template = format!("file:{}/{{address}}.hex", dir.display());
    let m = Manager::new(Config { default_source: Some(template.clone()), ..Config::testing() }).unwrap();
    let code = m.load(&a, None, &LoadOptions::default()).unwrap();
    assert_eq!(code.code(), &[0x60, 1, 0x60, 2]);
    let none = testing();
    assert_eq!(none.load(&a, None, &LoadOptions::default()).unwrap_err().status(), Status::LoaderNotFound);
    let eager = Manager::new(Config {
        default_source: Some(template),
        enable_lazy_loading: false,
        ..Config::testing()
    })
    .unwrap();
    assert_eq!(eager.load(&a, None, &LoadOptions::default()).unwrap_err().status(), Status::NotFound);
    assert!(eager.preload(&[(a, None)])[0].is_err(), "preload without a URI is lazy too");
    eager.preload(&[(a, Some(format!("{}/{a:#x}.hex", dir.display())))])[0].as_ref().unwrap();
    assert!(eager.load(&a, None, &LoadOptions::default()).is_ok(), "preloaded code is served");
}

#[test]
fn concurrent_loads_of_one_address_fetch_once_and_share_the_result() {
    let m = Arc::new(testing());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let loader = FnLoader::new(LoaderType::Custom, move |_req, sink| {
        counter.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        sink.write(b"0x6001")
    });
    m.register_loader("slow", Arc::new(loader)).unwrap();
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (m, start) = (m.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                load(&m, addr(9), "slow:x").unwrap()
            })
        })
        .collect();
    let codes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one origin fetch");
    assert!(codes.iter().all(|c| Arc::ptr_eq(c, &codes[0])));
}

#[test]
fn concurrent_failures_are_shared_and_not_cached() {
    let m = Arc::new(testing());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let loader = FnLoader::new(LoaderType::Custom, move |_req, _sink| {
        counter.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        Err(ebc::Error::Io { what: "reading the store".into(), cause: "disk on fire".into() })
    });
    m.register_loader("bad", Arc::new(loader)).unwrap();
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (m, start) = (m.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                load(&m, addr(5), "bad:x").unwrap_err()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().status(), Status::Io);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    load(&m, addr(5), "bad:x").unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the failure was not cached");
}

#[test]
fn a_loader_that_overruns_its_timeout_fails_the_load() {
    let m = testing();
    let loader = FnLoader::new(LoaderType::Custom, |req, sink| {
        std::thread::sleep(Duration::from_millis(req.timeout_ms + 50));
        let _ = sink.write(b"0x6001"); // fails: past the deadline
        Ok(())
    });
    m.register_loader("late", Arc::new(loader)).unwrap();
    let options = LoadOptions { timeout_ms: Some(50), ..Default::default() };
    let err = m.load(&addr(1), Some("late:x"), &options).unwrap_err();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    assert!(err.to_string().contains("50 ms"), "{err}");
}

#[test]
fn a_loader_writing_past_the_cap_cannot_report_success() {
    let m = testing();
    let loader = FnLoader::new(LoaderType::Custom, |_req, sink| {
        while sink.write(&[0x5b; 4096]).is_ok() {}
        Ok(()) // ignores the refusal
    });
    m.register_loader("flood", Arc::new(loader)).unwrap();
    assert_eq!(load(&m, addr(1), "flood:x").unwrap_err().status(), Status::TooLarge);
    assert_usable(&m);
}

#[test]
fn references_outlive_their_manager() {
    let m = testing();
    let code = load(&m, addr(1), WETH9).unwrap();
    drop(m);
    assert_eq!(code.code().len(), 3124);
    assert!(code.is_jumpdest(code.code().iter().position(|b| *b == 0x5b).unwrap()));
}

/// Threads that hit one address get objects of their own lanes: the first
/// thread to read the cache gets the loaded object, others a copy that
/// shares its code and answers alike; the access count adds up every
/// copy's hits; copies go, bytes and all, when the entry does.
#[test]
fn threads_on_other_lanes_get_copies_that_answer_alike_and_count_together() {
    let m = testing();
    let loaded = load(&m, addr(1), WETH9).unwrap();
    let alone = m.cache_stats().bytes;
    // Four threads at once, each on a stack of its own: after their first
    // hit they are on lanes of their own (this thread only loaded and took
    // none), unless two stacks share a reader slot (one pair in 64): those
    // two then read on the shared lane whenever they meet.
    let start = Barrier::new(4);
    let (hits, steady): (Vec<Arc<ebc::ExternalBytecode>>, Vec<bool>) = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let hits: Vec<_> = (0..10).map(|_| m.get(&addr(1)).unwrap()).collect();
                    // The first hit takes a lane for the next ones.
                    let steady = hits[2..].iter().all(|h| Arc::ptr_eq(h, &hits[1]));
                    (hits.into_iter().last().unwrap(), steady)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).unzip()
    });
    assert!(steady.iter().filter(|s| **s).count() >= 2, "one object per thread: {steady:?}");
    let copies: Vec<_> = hits.iter().filter(|h| !Arc::ptr_eq(h, &loaded)).collect();
    assert!(!copies.is_empty(), "no thread got a copy");
    for copy in &copies {
        assert!(Arc::ptr_eq(copy.shared(), loaded.shared()), "a copy shares the code");
        assert_eq!(copy.address(), loaded.address());
        assert_eq!(copy.metadata().source_uri, loaded.metadata().source_uri);
        assert_eq!(copy.source_uri_c(), loaded.source_uri_c());
        assert_eq!(copy.security(), loaded.security());
    }
    // One access for the load, forty for the hits, whichever object asks.
    assert!(
        hits.iter().all(|h| h.access_count() == 41),
        "{:?}",
        hits.iter().map(|h| h.access_count()).collect::<Vec<_>>()
    );
    assert_eq!(loaded.access_count(), 41);
    assert!(m.cache_stats().bytes > alone, "the copies' bytes are counted");
    // The entry goes: so do the copies' bytes. The copies live on while
    // held, still counting together, and are freed when let go.
    let weak: Vec<_> = copies.iter().map(|c| Arc::downgrade(c)).collect();
    m.unload(&addr(1)).unwrap();
    assert_eq!(m.cache_stats().bytes, 0);
    drop(hits);
    assert_eq!(loaded.access_count(), 41, "a freed copy's accesses still count");
    assert!(weak.iter().all(|w| w.upgrade().is_none()), "every copy freed");
    drop(m);
    assert_eq!(loaded.access_count(), 41);
}

/// More threads than lanes, all starting at once: lanes are given twice
/// and turn shared while other threads hit, counting without a locked add
/// until then. No access may be lost in the hand-over.
#[test]
fn access_counts_stay_exact_while_lanes_turn_shared() {
    const THREADS: usize = 12;
    const HITS: u64 = 50_000;
    let m = testing();
    let loaded = load(&m, addr(1), WETH9).unwrap();
    let start = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                start.wait();
                for _ in 0..HITS {
                    assert!(m.get(&addr(1)).is_some());
                }
            });
        }
    });
    assert_eq!(loaded.access_count(), 1 + THREADS as u64 * HITS);
    assert_eq!(m.cache_stats().hits, THREADS as u64 * HITS);
}

#[test]
fn many_threads_mixing_every_operation_leave_a_consistent_cache() {
    for strategy in [CacheStrategy::Lru, CacheStrategy::Lfu, CacheStrategy::Ttl, CacheStrategy::Adaptive] {
        mixed_operations(strategy);
    }
}

#[test]
fn ttl_entries_expire_and_are_fetched_again() {
    let config = Config { cache_strategy: CacheStrategy::Ttl, cache_ttl_ms: 50, ..Config::testing() };
    let m = Manager::new(config).unwrap();
    load(&m, addr(1), WETH9).unwrap();
    assert!(m.get(&addr(1)).is_some());
    std::thread::sleep(Duration::from_millis(70));
    assert!(m.get(&addr(1)).is_none(), "an expired entry is never served");
    assert_eq!(m.compact(), 1);
    assert_eq!(m.cache_stats().bytes, 0);
    load(&m, addr(1), WETH9).unwrap();
    assert_eq!(m.metrics().loads, 2);
}

#[test]
fn adaptive_keeps_popular_code_through_a_scan_where_lru_does_not() {
    let survivors = |strategy| {
        let m = Manager::new(Config { cache_strategy: strategy, max_cached_contracts: 100, ..Config::testing() }).unwrap();
        m.put_memory("c", b"0x6001");
        let a = |i: u32| Address::from({ let mut b = [0u8; 20]; b[16..].copy_from_slice(&i.to_be_bytes()); b });
        for _ in 0..10 {
            for i in 0..50 {
                load(&m, a(i), "mem:c").unwrap();
            }
        }
        for i in 1_000..3_000 {
            load(&m, a(i), "mem:c").unwrap();
        }
        (0..50).filter(|i| m.get(&a(*i)).is_some()).count()
    };
    assert_eq!(survivors(CacheStrategy::Lru), 0);
    assert!(survivors(CacheStrategy::Adaptive) >= 45);
}

fn mixed_operations(strategy: CacheStrategy) {
    let config = Config { max_cached_contracts: 4, cache_strategy: strategy, cache_ttl_ms: 5, ..Config::testing() };
    let m = Arc::new(Manager::new(config).unwrap());
    for i in 0..8u8 {
        m.put_memory(&format!("c{i}"), &[0x60, i, 0x5b]);
    }
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                for i in 0..5_000usize {
                    let n = ((i * 7 + t as usize) % 8) as u8;
                    let a = addr(n + 1);
                    match i % 4 {
                        0 | 1 => {
                            let c = load(&m, a, &format!("mem:c{n}")).unwrap();
                            assert_eq!(c.code()[1], n);
                        }
                        2 => drop(m.get(&a)),
                        _ => drop(m.unload(&a)),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = m.cache_stats();
    assert!(stats.entries <= 4, "{strategy:?}: {stats:?}");
    assert!(stats.hits + stats.misses > 0);
    m.clear();
    assert_eq!(m.cache_stats().bytes, 0, "{strategy:?}: every byte accounted for");
}

#[test]
fn preload_runs_in_parallel_by_priority_and_reports_each_failure() {
    let m = Arc::new(testing());
    let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (seen, now, peak) = (order.clone(), running.clone(), most.clone());
    let loader = FnLoader::new(LoaderType::Custom, move |req, sink| {
        seen.lock().push(req.location.to_owned());
        peak.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        now.fetch_sub(1, Ordering::SeqCst);
        if req.location.starts_with("bad") {
            return Err(ebc::Error::NotFound(format!("{} is gone", req.location)));
        }
        sink.write(b"0x6001")
    });
    m.register_loader("slow", Arc::new(loader)).unwrap();
    let item = |i: u8, name: &str, priority| ebc::PreloadItem { address: addr(i), uri: Some(format!("slow:{name}")), priority };
    let items = vec![
        item(1, "low", ebc::Priority::Low),
        item(2, "bad", ebc::Priority::Normal),
        item(3, "critical", ebc::Priority::Critical),
        item(4, "normal", ebc::Priority::Normal),
    ];
    let results = m.preload_items(&items, 1);
    assert_eq!(order.lock().first().map(String::as_str), Some("critical"));
    assert_eq!(order.lock().last().map(String::as_str), Some("low"));
    assert_eq!(results.iter().map(|r| r.is_ok()).collect::<Vec<_>>(), vec![true, false, true, true]);
    assert_eq!(results[1].as_ref().unwrap_err().status(), Status::NotFound);
    assert_eq!(most.load(Ordering::SeqCst), 1, "one worker fetches one at a time");
    // Four workers overlap their fetches (addresses 5..12 are new).
    let items: Vec<_> = (5..13).map(|i| item(i, &format!("n{i}"), ebc::Priority::Normal)).collect();
    assert!(m.preload_items(&items, 4).iter().all(|r| r.is_ok()));
    assert!(most.load(Ordering::SeqCst) >= 2, "fetches overlapped: {}", most.load(Ordering::SeqCst));
}

/// Resident memory of this process in bytes (Linux).
#[cfg(target_os = "linux")]
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[cfg(target_os = "linux")]
#[test]
fn a_huge_bound_costs_nothing_until_it_is_used() {
    // A C host may pass UINT32_MAX; nothing may be reserved for it up front.
    for strategy in [CacheStrategy::Lru, CacheStrategy::Lfu, CacheStrategy::Ttl, CacheStrategy::Adaptive] {
        let before = resident_bytes();
        let config = Config { cache_strategy: strategy, max_cached_contracts: u32::MAX as usize, ..Config::testing() };
        let m = Manager::new(config).unwrap();
        m.put_memory("c", b"0x6001");
        for i in 0..100 {
            load(&m, addr(i), "mem:c").unwrap();
        }
        let grown = resident_bytes().saturating_sub(before);
        assert!(grown < 64 << 20, "{strategy:?}: {} MiB resident for 100 entries", grown >> 20);
        assert_eq!(m.cache_stats().entries, 100);
    }
}

/// The cache's LRU tells its list about hits only when it is about to
/// evict (hits just stamp their entry): an entry hit since it was put at
/// the front is never evicted while one that was not is there, a hot entry
/// is never evicted, and on a skewed random trace it hits no less than an
/// eager LRU list (the `lru` crate, told of every hit), give or take a point.
#[test]
fn lru_evicts_what_was_not_used_since_and_tracks_an_eager_lru() {
    let config = Config { cache_strategy: CacheStrategy::Lru, max_cached_contracts: 100, ..Config::testing() };
    let m = Manager::new(config).unwrap();
    m.put_memory("c", b"0x6001600101");
    let a = |k: u64| {
        let mut b = [0u8; 20];
        b[12..].copy_from_slice(&k.to_be_bytes());
        Address::from(b)
    };
    for k in 0..100 {
        load(&m, a(k), "mem:c").unwrap();
    }
    // Hit the older half, then insert 50: the unused younger half goes.
    for k in 0..50 {
        assert!(m.get(&a(k)).is_some());
    }
    for k in 100..150 {
        load(&m, a(k), "mem:c").unwrap();
    }
    for k in 0..150 {
        assert_eq!(m.get(&a(k)).is_some(), !(50..100).contains(&k), "entry {k}");
    }
    assert_eq!(m.cache_stats().evictions, 50);

    // A hot entry, hit between every insert, is never evicted.
    m.clear();
    for k in 0..100 {
        load(&m, a(k), "mem:c").unwrap();
    }
    for k in 1_000..1_400 {
        assert!(m.get(&a(0)).is_some(), "hot entry evicted before insert {k}");
        load(&m, a(k), "mem:c").unwrap();
    }
    assert_eq!(m.cache_stats().entries, 100);

    // Half the lookups on 60 keys, half on 600: entries drift to the tail
    // and are hit again there.
    m.clear();
    let mut eager = lru::LruCache::<u64, ()>::new(std::num::NonZeroUsize::new(100).unwrap());
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let (mut hits, mut eager_hits) = (0, 0);
    let lookups = 30_000;
    for _ in 0..lookups {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let key = if state & 1 == 0 { (state >> 8) % 60 } else { (state >> 8) % 600 };
        if eager.get(&key).is_some() {
            eager_hits += 1;
        } else {
            eager.push(key, ());
        }
        if m.get(&a(key)).is_some() {
            hits += 1;
        } else {
            load(&m, a(key), "mem:c").unwrap();
        }
    }
    assert!(eager_hits > 10_000, "the trace must hit often: {eager_hits}");
    // Never worse by more than a point (here it is better: entries hit at
    // the tail get a second chance an eager list would not need to give).
    assert!(hits + lookups / 100 >= eager_hits, "{hits} hits, eager LRU {eager_hits}");
}

#[test]
fn the_default_sources_no_code_answers_are_remembered_for_a_while() {
    // A source with no code for 0x01..., an empty account at 0x02..., and
    // timeouts for 0x03..., counting what it is asked.
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let loader = FnLoader::new(LoaderType::Custom, move |req, _sink| {
        counter.fetch_add(1, Ordering::SeqCst);
        match req.address.0[0] {
            1 => Err(ebc::Error::NotFound(format!("no account {}", req.address))),
            2 => Ok(()),
            _ => Err(ebc::Error::Timeout { what: req.uri.to_owned(), limit_ms: 1 }),
        }
    });
    let config = Config { default_source: Some("acct:{address}".into()), absent_ttl_ms: 300, ..Config::testing() };
    let m = Manager::new(config).unwrap();
    m.register_loader("acct", Arc::new(loader)).unwrap();
    let error = |a: u8| m.load(&addr(a), None, &LoadOptions::default()).unwrap_err();
    let requests = || asked.load(Ordering::SeqCst);

    for _ in 0..3 {
        assert!(matches!(error(1), ebc::Error::NotFound(_)));
        assert!(matches!(error(2), ebc::Error::NoCode(_)));
    }
    assert_eq!(requests(), 2, "one request per account while the answer holds");
    for _ in 0..2 {
        assert_eq!(error(3).status(), Status::Timeout);
    }
    assert_eq!(requests(), 4, "a timeout says nothing about the account: asked each time");
    let reload = LoadOptions { reload: true, ..LoadOptions::default() };
    assert_eq!(m.load(&addr(1), None, &reload).unwrap_err().status(), Status::NotFound);
    assert_eq!(requests(), 5, "reload asks the source again");
    // An explicit URI is not the default source: never answered from memory.
    assert!(m.load(&addr(2), Some("acct:0x02"), &LoadOptions::default()).is_err());
    assert_eq!(requests(), 6);
    std::thread::sleep(Duration::from_millis(350));
    assert!(matches!(error(2), ebc::Error::NoCode(_)));
    assert_eq!(requests(), 7, "asked again once the answer expired");
    assert!(m.get(&addr(1)).is_none() && m.get(&addr(2)).is_none(), "nothing cached as code");
}
