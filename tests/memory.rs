//! The cache's byte count against the heap it really takes. A counting
//! allocator (this test binary's own) measures how much the heap grows
//! while a manager caches thousands of addresses that share one code; the
//! cache's byte count must grow by about as much, whatever the strategy,
//! so that a byte bound bounds the memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use ebc::{Address, CacheStrategy, Config, LoadOptions, Manager};

/// The system allocator, counting the bytes it holds out.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Held by each test while it measures: the count is the whole process's.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn address(i: u32) -> Address {
    let mut a = [0u8; 20];
    a[..4].copy_from_slice(&i.wrapping_mul(0x9e37_79b9).to_be_bytes());
    a[16..].copy_from_slice(&i.to_be_bytes());
    Address::from(a)
}

/// The heap a manager of `strategy` and `capacity` entries takes and its
/// cache's byte count, per entry held, after it cached `addresses`
/// addresses that share one code: the manager's fixed structures and the
/// code amortised over the entries (at most `capacity` of them).
fn bytes_per_entry(strategy: CacheStrategy, capacity: usize, addresses: u32) -> (isize, isize) {
    let heap = HELD.load(Ordering::Relaxed);
    let config =
        Config { cache_strategy: strategy, max_cached_contracts: capacity, max_cache_bytes: 0, ..Config::testing() };
    let m = Manager::new(config).unwrap();
    m.put_memory("c", &[0x60, 0x01, 0x5b, 0x00]);
    let options = LoadOptions::default();
    for i in 0..addresses {
        m.load(&address(i), Some("mem:c"), &options).unwrap();
    }
    let stats = m.cache_stats();
    let entries = stats.entries as isize;
    ((HELD.load(Ordering::Relaxed) - heap) / entries, stats.bytes as isize / entries)
}

#[test]
fn the_byte_count_follows_the_heap_per_entry() {
    let _alone = MEASURING.lock().unwrap();
    // One shard and sixteen; every key simulated by Adaptive (below 1,024
    // entries a shard) and a sample; half full, full, and evicting.
    let cases = [(1_000, 800), (3_000, 3_000), (10_000, 5_000), (10_000, 12_000), (40_000, 20_000), (40_000, 50_000)];
    for (capacity, addresses) in cases {
        for strategy in [CacheStrategy::Lru, CacheStrategy::Lfu, CacheStrategy::Ttl, CacheStrategy::Adaptive] {
            let (heap, count) = bytes_per_entry(strategy, capacity, addresses);
            println!("{strategy:?}, {addresses} of {capacity}: the heap holds {heap} bytes per entry, the count {count}");
            // Adaptive's scouts run until the cache first fills and are not
            // counted (a quarter of its simulations at most): before the
            // fill, the count only has to stay below the heap.
            let filling = strategy == CacheStrategy::Adaptive && (addresses as usize) < capacity;
            let least = if filling { 6 } else { 8 };
            assert!(
                count * 10 >= heap * least && count * 10 <= heap * 12,
                "{strategy:?}, {addresses} of {capacity}: counted {count} bytes per entry, the heap holds {heap}"
            );
        }
    }
}

#[test]
fn a_byte_bound_bounds_the_heap() {
    let _alone = MEASURING.lock().unwrap();
    const BOUND: usize = 8 << 20;
    for strategy in [CacheStrategy::Lru, CacheStrategy::Lfu, CacheStrategy::Ttl, CacheStrategy::Adaptive] {
        let heap = HELD.load(Ordering::Relaxed);
        // Room for a million entries by count: the bytes bind first.
        let config =
            Config { cache_strategy: strategy, max_cached_contracts: 1 << 20, max_cache_bytes: BOUND, ..Config::testing() };
        let m = Manager::new(config).unwrap();
        m.put_memory("c", &[0x60, 0x01, 0x5b, 0x00]);
        let options = LoadOptions::default();
        for i in 0..40_000 {
            m.load(&address(i), Some("mem:c"), &options).unwrap();
        }
        let heap = (HELD.load(Ordering::Relaxed) - heap) as usize;
        let stats = m.cache_stats();
        println!("{strategy:?}: {} entries, {} bytes counted, the heap holds {heap}", stats.entries, stats.bytes);
        assert!(stats.evictions > 0 && stats.bytes as usize <= BOUND, "{strategy:?}: {stats:?}");
        assert!(heap * 100 <= BOUND * 125, "{strategy:?}: a bound of {BOUND} bytes, the heap holds {heap}");
    }
}

/// The corpus's files and addresses, as `ebc import` reads its index.
fn corpus() -> Vec<(std::path::PathBuf, Address)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let items = ebc::source::transfer::scan(&dir).expect("the corpus and its INDEX.tsv");
    items.into_iter().map(|item| (item.path, item.address)).collect()
}

#[test]
fn the_byte_count_follows_the_heap_over_the_corpus() {
    let _alone = MEASURING.lock().unwrap();
    // Distinct real code: the code, its jump table and findings count.
    let contracts = corpus();
    for strategy in [CacheStrategy::Lru, CacheStrategy::Adaptive] {
        let config = Config {
            cache_strategy: strategy,
            max_cached_contracts: 4_000,
            max_cache_bytes: 64 << 20,
            ..Config::testing()
        };
        let m = Manager::new(config).unwrap();
        let options = LoadOptions::default();
        let heap = HELD.load(Ordering::Relaxed);
        for (file, address) in &contracts {
            m.load(address, Some(&format!("file:{}", file.display())), &options).unwrap();
        }
        let heap = HELD.load(Ordering::Relaxed) - heap;
        let stats = m.cache_stats();
        assert_eq!(stats.entries, contracts.len() as u64, "all held");
        let count = stats.bytes as isize;
        println!("{strategy:?}, {} contracts: the heap grew by {heap} bytes, the count by {count}", stats.entries);
        assert!(count * 10 >= heap * 9 && count * 10 <= heap * 11, "{strategy:?}: counted {count} bytes, the heap grew by {heap}");
    }
}
