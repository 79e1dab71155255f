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

/// How much the heap and the cache's byte count grew per entry while
/// `strategy`'s manager of `capacity` entries cached `addresses` more
/// addresses that share one code (the code itself counted before).
fn growth_per_entry(strategy: CacheStrategy, capacity: usize, addresses: u32) -> (isize, isize) {
    let config = Config { cache_strategy: strategy, max_cached_contracts: capacity, ..Config::testing() };
    let m = Manager::new(config).unwrap();
    m.put_memory("c", &[0x60, 0x01, 0x5b, 0x00]);
    let options = LoadOptions::default();
    m.load(&address(0), Some("mem:c"), &options).unwrap();
    let (heap, before) = (HELD.load(Ordering::Relaxed), m.cache_stats());
    for i in 1..=addresses {
        m.load(&address(i), Some("mem:c"), &options).unwrap();
    }
    let after = m.cache_stats();
    // Entries held, as shards may have evicted a few.
    let entries = (after.entries - before.entries) as isize;
    let heap = (HELD.load(Ordering::Relaxed) - heap) / entries;
    (heap, (after.bytes - before.bytes) as isize / entries)
}

#[test]
fn the_byte_count_follows_the_heap_per_entry() {
    let _alone = MEASURING.lock().unwrap();
    // One shard and sixteen, every key simulated by Adaptive (below 1,024
    // entries a shard) and a sample.
    for (capacity, addresses) in [(1_000, 800), (3_000, 3_000), (10_000, 5_000), (40_000, 20_000)] {
        for strategy in [CacheStrategy::Lru, CacheStrategy::Lfu, CacheStrategy::Ttl, CacheStrategy::Adaptive] {
            let (heap, count) = growth_per_entry(strategy, capacity, addresses);
            println!("{strategy:?}, {addresses} of {capacity}: the heap grew by {heap} bytes per entry, the count by {count}");
            assert!(
                count * 10 >= heap * 8 && count * 10 <= heap * 12,
                "{strategy:?}, {addresses} of {capacity}: the count grew by {count} bytes per entry, the heap by {heap}"
            );
        }
    }
}

/// The corpus's files and addresses, from its index.
fn corpus() -> Vec<(std::path::PathBuf, Address)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let text = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("corpus INDEX.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file, address) = (column("file"), column("address"));
    lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (dir.join("mainnet").join(fields[file]), fields[address].parse().unwrap())
        })
        .collect()
}

#[test]
fn the_byte_count_follows_the_heap_over_the_corpus() {
    let _alone = MEASURING.lock().unwrap();
    // Distinct real code: the code, its jump table and findings count.
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
        let contracts = corpus();
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
