//! Reference counts that threads handing out the same popular code do not
//! share.
//!
//! A [`BytecodeRef`] is one counted reference to an `ExternalBytecode`.
//! Counted in one word of the object, every hit on a popular address
//! writes that word, and two threads hitting it pass its cache line back
//! and forth: under Zipf keys that, more than anything else, kept two
//! threads from twice one's lookups (BENCHMARKS.md, issue 4).
//!
//! So the objects a cache hands out most become *hot*: an object takes the
//! index `h` among `HOT` that a hash of its address gives, if no other hot
//! object has it, and sets the `HOT_BIT` of its count word; from then on
//! until it is freed:
//! - a cache hit adds one to `STRIPES[slot].taken[h]`, in the stripe of
//!   the reader slot it holds, which no other thread writes (so a plain
//!   add; the count doubles as the object's accesses);
//! - a release adds one to `STRIPES[slot].released[h]` of the releasing
//!   thread's slot (an atomic add, since a thread that found its slot
//!   taken shares it, but on a line other threads leave alone);
//! - a retain (`Clone`, `ebc_retain`) adds one to the object's word.
//!
//! The object's references are then its word's count plus everything taken
//! minus everything released. The word's count never falls while the
//! object is hot, so it cannot reach zero early. A cold object's release
//! decides on the `HOT_BIT` and decrements in one compare-and-swap, so no
//! release counts in the word once the object is hot.
//!
//! When the last cache slot holding a hot object goes, the object is
//! *retired*: `STATES[h]` says so, and from then on no hit can take a
//! reference (no cache has it), so `taken` stays, `released` only rises
//! and the word only rises. Each release of a retired object then sums
//! them (`collect`): `released` first (each no higher than it will be),
//! the word last, so a total of zero is exact, and the last release always
//! sees it, since its addition and the retirement are sequentially
//! consistent and each then reads the other's. `STATES` is static, so a
//! release may read it after its addition, when the object may be gone.
//! The collector frees the object, clears the stripes and frees the index.
//!
//! This is Linux's `percpu_ref` without the switch back to one counter: a
//! switch would need every release to announce itself, which costs a
//! single thread about as much as the sharing it saves two.
//!
//! The index is a hash of the address, not a number stored in the object:
//! a counter whose address waits on a load from the object cost a hit a
//! quarter more time on one thread (BENCHMARKS.md).

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering, fence};

use parking_lot::Mutex;

use super::readers::{self, Held, SLOTS};
use crate::bytecode::{BytecodeRef, ExternalBytecode};

/// How many hot indices the process has: at most this many objects are
/// hot at once, fewer when their addresses' hashes collide.
pub(crate) const HOT: usize = 1024;

/// Set in an object's count word while it is hot; the rest of the word is
/// the references counted there.
pub(crate) const HOT_BIT: u64 = 1 << 63;

/// A cold object in a cache asks for a hot index every this many hits.
const PROMOTE_EVERY: u64 = 256;

/// One slot's counts for every hot index, in lines of their own.
#[repr(align(128))]
struct Stripe {
    /// Cache hits that handed the object out through this slot, each a
    /// reference taken (written only by the slot's holder).
    taken: [AtomicU64; HOT],
    /// References released by the threads using this slot.
    released: [AtomicU64; HOT],
}

/// The counts of slot `i` are `STRIPES[i]`.
static STRIPES: [Stripe; SLOTS] =
    [const { Stripe { taken: [const { AtomicU64::new(0) }; HOT], released: [const { AtomicU64::new(0) }; HOT] } };
        SLOTS];

/// `STATES[h]`: no object has index `h`.
const FREE: u8 = 0;
/// `STATES[h]`: an object in a cache has index `h`.
const IN_USE: u8 = 1;
/// `STATES[h]`: the object of index `h` is in no cache any more.
const RETIRED: u8 = 2;

/// What each index is doing; read by releases without a lock.
static STATES: [AtomicU8; HOT] = [const { AtomicU8::new(FREE) }; HOT];

/// The objects behind the indices (their addresses).
struct Table {
    owners: [usize; HOT],
}

/// Taken by promotions (with `try_lock`, never waiting) and collections.
static TABLE: Mutex<Table> = Mutex::new(Table { owners: [0; HOT] });

/// `value`'s hot index: a hash of its address (Fibonacci hashing; heap
/// addresses are multiples of 16).
#[inline(always)]
fn index(value: &ExternalBytecode) -> usize {
    let address = std::ptr::from_ref(value) as u64 >> 4;
    (address.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - HOT.trailing_zeros())) as usize
}

/// A new reference to `value`, a cache's entry, handed out by a cache hit
/// and counted as an access. `held` is the reader slot the hit holds (none
/// on the slow path); the entry stays in its cache until the read ends.
#[inline(always)]
pub(crate) fn hand_out(value: &BytecodeRef, held: Option<Held>) -> BytecodeRef {
    if let Some(held) = held {
        // Acquire: seeing the bit, see the stripes as promotion left them.
        if value.refs.load(Ordering::Acquire) & HOT_BIT != 0 {
            let taken = &STRIPES[held.index()].taken[index(value)];
            // The slot's holder is the only writer of its `taken`.
            taken.store(taken.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            // SAFETY: one reference, counted in the stripe just now.
            return unsafe { BytecodeRef::adopt(BytecodeRef::as_ptr(value)) };
        }
        let before = value.access_count.fetch_add(1, Ordering::Relaxed);
        if before % PROMOTE_EVERY == PROMOTE_EVERY - 1 {
            promote(value);
        }
    } else {
        value.access_count.fetch_add(1, Ordering::Relaxed);
    }
    value.clone()
}

/// Makes `value` hot if its index is free. Called during a read of a
/// cache that holds `value`, so it cannot be retired meanwhile.
#[cold]
fn promote(value: &ExternalBytecode) {
    let Some(mut table) = TABLE.try_lock() else { return };
    let hot = index(value);
    if STATES[hot].load(Ordering::Relaxed) != FREE || value.refs.load(Ordering::Relaxed) & HOT_BIT != 0 {
        return;
    }
    table.owners[hot] = std::ptr::from_ref(value) as usize;
    STATES[hot].store(IN_USE, Ordering::Relaxed);
    // Release: a thread that sees the bit sees the index's state and the
    // stripes its last collection cleared (under this lock).
    value.refs.fetch_or(HOT_BIT, Ordering::Release);
}

/// One more reference to `value`, which the caller holds one to.
#[inline]
pub(crate) fn retain(value: &ExternalBytecode) {
    let before = value.refs.fetch_add(1, Ordering::Relaxed);
    if before & !HOT_BIT >= HOT_BIT >> 1 {
        // As `Arc`: billions of leaked references, not a real count.
        std::process::abort();
    }
}

/// Gives back one reference to the object at `value`, freeing it with its
/// last.
///
/// # Safety
/// `value` came from [`BytecodeRef::new`] and the caller owns one
/// reference to it, which it gives up.
#[inline]
pub(crate) unsafe fn release(value: *const ExternalBytecode) {
    // SAFETY: the caller's reference keeps the object alive until counted.
    let object = unsafe { &*value };
    let mut refs = object.refs.load(Ordering::Acquire);
    loop {
        if refs & HOT_BIT != 0 {
            let hot = index(object);
            STRIPES[readers::stripe()].released[hot].fetch_add(1, Ordering::SeqCst);
            // `object` may be gone from here on; `STATES` is static.
            if STATES[hot].load(Ordering::SeqCst) == RETIRED {
                collect(hot);
            }
            return;
        }
        match object.refs.compare_exchange_weak(refs, refs - 1, Ordering::Release, Ordering::Acquire) {
            Ok(_) => break,
            Err(now) => refs = now,
        }
    }
    if refs == 1 {
        // Every other release happened before (Release above), as `Arc`.
        fence(Ordering::Acquire);
        // SAFETY: that was the last reference.
        unsafe { free(value) }
    }
}

/// Frees an object no reference is left to.
///
/// # Safety
/// `value` came from [`BytecodeRef::new`] and nothing refers to it.
unsafe fn free(value: *const ExternalBytecode) {
    // SAFETY: allocated as a `Box` by `BytecodeRef::new`, referred to by
    // nothing now.
    drop(unsafe { Box::from_raw(value.cast_mut()) });
}

/// A cache slot holding `value` is made. A retired object cached again is
/// in use again: hits count in the stripes, and releases stop collecting.
pub(crate) fn cached(value: &ExternalBytecode) {
    if value.cached.fetch_add(1, Ordering::AcqRel) == 0 && value.refs.load(Ordering::Acquire) & HOT_BIT != 0 {
        // Under the lock, so that no collection is summing meanwhile.
        let _table = TABLE.lock();
        let _ = STATES[index(value)].compare_exchange(RETIRED, IN_USE, Ordering::SeqCst, Ordering::Relaxed);
    }
}

/// A cache slot holding `value` goes, before it releases its reference
/// (which collects the object if that was the last). After the last slot,
/// no hit can hand `value` out, and a hot object is retired.
pub(crate) fn uncached(value: &ExternalBytecode) {
    if value.cached.fetch_sub(1, Ordering::AcqRel) == 1 && value.refs.load(Ordering::Acquire) & HOT_BIT != 0 {
        STATES[index(value)].store(RETIRED, Ordering::SeqCst);
    }
}

/// Frees the retired object of index `hot` if no reference to it is left.
#[cold]
fn collect(hot: usize) {
    let mut table = TABLE.lock();
    if STATES[hot].load(Ordering::Relaxed) != RETIRED {
        // Collected by another release.
        return;
    }
    let owner = table.owners[hot] as *const ExternalBytecode;
    // The stripes first, the word last: see the module docs.
    let released: u64 = STRIPES.iter().map(|stripe| stripe.released[hot].load(Ordering::SeqCst)).sum();
    let taken: u64 = STRIPES.iter().map(|stripe| stripe.taken[hot].load(Ordering::SeqCst)).sum();
    // SAFETY: a retired object is freed only here, under the table's lock.
    let counted_here = unsafe { &*owner }.refs.load(Ordering::SeqCst) & !HOT_BIT;
    if counted_here + taken != released {
        return;
    }
    for stripe in &STRIPES {
        stripe.taken[hot].store(0, Ordering::Relaxed);
        stripe.released[hot].store(0, Ordering::Relaxed);
    }
    table.owners[hot] = 0;
    STATES[hot].store(FREE, Ordering::Relaxed);
    drop(table);
    // SAFETY: no reference is left, and no one can take one.
    unsafe { free(owner) }
}

/// Cache hits on `value` counted in the stripes, not in its
/// `access_count`. The caller holds a reference.
pub(crate) fn accesses_counted_apart(value: &ExternalBytecode) -> u64 {
    if value.refs.load(Ordering::Acquire) & HOT_BIT == 0 {
        return 0;
    }
    let hot = index(value);
    STRIPES.iter().map(|stripe| stripe.taken[hot].load(Ordering::Relaxed)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, Config, LoadOptions, Manager};

    /// A manager holding one loaded address, and its first reference.
    fn loaded(byte: u8) -> (Manager, Address, BytecodeRef) {
        let manager = Manager::new(Config::development()).unwrap();
        manager.put_memory("c", &[0x60, byte, 0x5b, 0x00]);
        let address = Address::repeat_byte(byte);
        let first = manager.load(&address, Some("mem:c"), &LoadOptions::default()).unwrap();
        (manager, address, first)
    }

    /// Hits `address` until its object is hot (another test's promotion
    /// may hold the table at the moment one is due), keeping every
    /// reference.
    fn hit_until_hot(manager: &Manager, address: &Address, held: &mut Vec<BytecodeRef>) {
        while !held.last().is_some_and(|code| code.counted_per_thread()) {
            assert!(held.len() < 100 * PROMOTE_EVERY as usize, "never made hot");
            held.push(manager.get(address).unwrap());
        }
    }

    fn state(hot: usize) -> u8 {
        STATES[hot].load(Ordering::SeqCst)
    }

    /// Held by each test here, so that no other test's object takes an
    /// index these watch becoming free.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    #[test]
    fn a_popular_entry_is_counted_per_thread_and_freed_by_its_last_release() {
        let _one = ONE_AT_A_TIME.lock();
        let (manager, address, first) = loaded(0x4b);
        assert!(!first.counted_per_thread());
        let mut held = Vec::new();
        hit_until_hot(&manager, &address, &mut held);
        let hot = index(&first);
        assert_eq!(state(hot), IN_USE);
        // Hits from now on are counted in this thread's stripe.
        for _ in 0..100 {
            held.push(manager.get(&address).unwrap());
        }
        assert!(STRIPES.iter().any(|stripe| stripe.taken[hot].load(Ordering::Relaxed) >= 100));
        assert_eq!(first.access_count(), 1 + held.len() as u64, "the load and every hit");
        assert!(held.iter().all(|code| BytecodeRef::ptr_eq(code, &first)));

        // Released on other threads, retained here: still one object.
        let half = held.split_off(held.len() / 2);
        std::thread::scope(|scope| {
            scope.spawn(move || drop(half));
        });
        let retained = first.clone();
        manager.unload(&address).unwrap();
        assert_eq!(state(hot), RETIRED, "no cache holds it");
        drop(held);
        drop(first);
        assert_eq!(state(hot), RETIRED, "one reference is left");
        assert_eq!(retained.code(), [0x60, 0x4b, 0x5b, 0x00]);
        drop(retained);
        assert_eq!(state(hot), FREE, "the last release freed the object and the index");
        assert!(STRIPES.iter().all(|stripe| stripe.taken[hot].load(Ordering::Relaxed) == 0));
        drop(manager);
    }

    #[test]
    fn references_outlive_the_manager_of_a_hot_entry() {
        let _one = ONE_AT_A_TIME.lock();
        let (manager, address, first) = loaded(0x4c);
        let mut held = Vec::new();
        hit_until_hot(&manager, &address, &mut held);
        let hot = index(&first);
        drop(manager);
        assert_eq!(state(hot), RETIRED);
        let last = held.pop().unwrap();
        drop((held, first));
        assert_eq!(last.address(), address);
        drop(last);
        assert_eq!(state(hot), FREE);
    }

    #[test]
    fn a_retired_object_cached_again_is_in_use_again() {
        let _one = ONE_AT_A_TIME.lock();
        let (manager, address, first) = loaded(0x4d);
        let mut held = Vec::new();
        hit_until_hot(&manager, &address, &mut held);
        let hot = index(&first);
        let cache = super::super::Cache::new(&Config::development()).unwrap();
        manager.unload(&address).unwrap();
        assert_eq!(state(hot), RETIRED);
        cache.insert(first.clone());
        assert_eq!(state(hot), IN_USE);
        let accesses = first.access_count();
        let hits: Vec<_> = (0..10).map(|_| cache.get(&address).unwrap()).collect();
        assert_eq!(first.access_count(), accesses + 10, "counted in the stripes again");
        drop((hits, held, first));
        assert_eq!(state(hot), IN_USE, "the second cache still holds it");
        drop(cache);
        assert_eq!(state(hot), FREE, "the cache's was the last reference");
    }
}
