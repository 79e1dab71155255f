//! The cache: address → code hash → one shared [`Code`].
//!
//! Addresses are spread over shards, each a [`Policy`] behind its own mutex,
//! so threads working on different addresses rarely meet. A hit writes no
//! memory another thread's hit reads, apart from the entry's own counters:
//! the shard's entries are read under a read-mostly lock whose readers
//! announce themselves in slots of their own (`src/cache/readers.rs`).
//! Under LRU and TTL a hit only stamps its entry, and the policy hears of
//! it when it is about to evict the entry; under LFU and Adaptive hits queue
//! for the policy in one of several buffers per shard (see `Shard`'s
//! docs). Code is deduplicated across shards by code hash in `CodeTable`:
//! a thousand clones of one token hold one copy of its code, and bytes are
//! counted once.
//!
//! Lock order: a shard's policy, its entries, then the code table. The
//! code table is touched only when entries come and go, never on a hit.
//! Under Adaptive a shard's policy also takes the lock of the simulations
//! all shards share, under its own (and on insert under the entries' and
//! the code table's too): last, as nothing is taken under it.
//!
//! Memory per entry: [`ExternalBytecode::entry_memory_size`], a 40-byte
//! lane copy for each thread lane that hits it (see `Slot`), and the
//! cache's bookkeeping (`Cache::bookkeeping_bytes`: the 64-byte slot in
//! the shard's set and the policy's node and index, about 190 bytes under
//! LRU), plus the shared code's [`Code::memory_size`] once per distinct
//! code hash. The byte count and the byte bound include all of it.

mod lfu;
mod lru;
mod readers;
mod replicas;
mod sketch;
mod thread_number;
mod tinylfu;
mod ttl;

pub use sketch::FrequencySketch;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use parking_lot::Mutex;
use revm::primitives::{Address, B256};

use crate::bytecode::{Code, ExternalBytecode};
use crate::config::{CacheStrategy, Config};
use crate::error::Result;
use readers::{Count, LANES, ReadMostly, Readers, SHARED_LANE};

/// One shard's eviction policy over values `V` keyed by address.
/// Implementations keep at most their capacity and report what they push
/// out; the shard's mutex serialises calls. Public so that benchmarks and
/// simulators can replay traces through exactly the code the cache runs.
pub trait Policy<V>: Send {
    /// The value for `address`, recording the access. Never an expired one.
    fn get(&mut self, address: &Address) -> Option<V>;
    /// Tells the policy of hits on `addresses`, in order, as [`Policy::get`]
    /// on each would (the cache's buffered hits); a policy may batch its
    /// bookkeeping over them.
    fn record_hits(&mut self, addresses: &[Address]) {
        for address in addresses {
            self.get(address);
        }
    }
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
    /// Heap bytes this policy takes per value held, on average: its node,
    /// its index's share (at a table's average fill) and whatever else
    /// grows with what it holds. A constant of the policy, so that what an
    /// entry adds to the cache's byte count is what it takes away again.
    fn bytes_per_entry(&self) -> usize;
    /// True when nothing is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// True when the policy orders by recency alone: then telling it about
    /// a hit late, when it is about to push the entry out, is as good as
    /// telling it at once. The cache then only stamps hits in its own slots
    /// and answers the policy's offers through `spare` (see
    /// [`Policy::insert_sparing`]).
    fn recency_only(&self) -> bool {
        false
    }
    /// As [`Policy::insert`], but each value a recency-only policy would
    /// push out is first offered to `spare`, with the value it would offer
    /// next (none when the offered one is the last). When `spare` returns a
    /// value, that value goes back in at the front, as if just used, and
    /// the policy offers its next victim instead. After as many spared
    /// values as the policy holds, the next victim goes without asking, so
    /// a `spare` that always answers cannot stall it. Other policies ignore
    /// `spare`.
    fn insert_sparing(&mut self, address: Address, value: V, spare: &mut Spare<'_, V>) -> Vec<V> {
        let _ = spare;
        self.insert(address, value)
    }
    /// As [`Policy::evict_one`], offering victims to `spare` as
    /// [`Policy::insert_sparing`] does.
    fn evict_one_sparing(&mut self, spare: &mut Spare<'_, V>) -> Option<V> {
        let _ = spare;
        self.evict_one()
    }
}

/// Heap bytes per element of a growing hash table of `T`s, on average: a
/// table holds a control byte beside each bucket, and doubles its buckets
/// when they are 7/8 full, so it runs 7/16 to 7/8 full: 63% over its growth
/// (the mean of the fill over a doubling, on a log scale).
pub(crate) const fn table_bytes<T>() -> usize {
    (size_of::<T>() + 1) * 100 / 63
}

/// Heap bytes per element of a growing `Vec<T>`, on average: half full to
/// full, 72% over its growth.
pub(crate) const fn vec_bytes<T>() -> usize {
    size_of::<T>() * 100 / 72
}

/// Heap bytes per value of an `lru::LruCache` keyed by address: a boxed
/// node of key, value and two links, and a pointer-pair index entry.
pub(crate) const fn lru_bytes<V>() -> usize {
    size_of::<(Address, V, usize, usize)>() + table_bytes::<(usize, usize)>()
}

/// The cache's answer to a recency-only policy's offer of a victim (the
/// first argument; the second is the value it would offer next): a value
/// to put back at the front instead, or `None` to let the victim go.
pub type Spare<'a, V> = dyn FnMut(&V, Option<&V>) -> Option<V> + 'a;

/// What the cache's policies hold: an address and the shard's tick when it
/// was last put at the policy's front (recency-only policies; 0 otherwise).
///
/// Ticks count listings. A hit stamps its entry with the tick of the next
/// listing, so a stamp `s` says the hit came after listing `s - 1` and
/// before listing `s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The cached address.
    pub address: Address,
    /// The shard's tick when the policy last put it at the front.
    pub tick: u32,
}

impl Listed {
    /// Whether a victim listed as `self`, whose last hit left the stamp
    /// `seen` (equal to its own tick when it had none since), was used
    /// after `next`, the entry behind it, was listed. If so it is not the
    /// least recently used entry and should be spared. If not, it is: every
    /// other entry was listed at or after `next`, and was used then or
    /// later. Ticks compare as wrapping 32-bit numbers.
    pub fn used_after(&self, seen: u32, next: Option<&Listed>) -> bool {
        seen != self.tick && next.is_some_and(|next| seen.wrapping_sub(next.tick) as i32 > 0)
    }
}

/// How many shards a cache of `capacity` entries splits into: one below
/// 512 entries, so that small caches keep an exact capacity and order,
/// then one per 256 entries, rounded up to a power of two, up to 16. Each
/// shard holds its share of the capacity.
pub fn shard_count(capacity: usize) -> usize {
    (capacity / 256).clamp(1, 16).next_power_of_two().min(16)
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
    /// Bytes held now: each distinct code once, plus every entry with the
    /// cache's bookkeeping for it (its slot, its policy's node and index,
    /// Adaptive's simulations' share), as the heap hands them out on
    /// average. `tests/memory.rs` holds it within 20% of the whole
    /// manager's heap per entry (for Adaptive once the cache first filled:
    /// its scouts run until then, uncounted), and the heap within 25% of a
    /// byte bound. The allocator's own overhead is not counted.
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
    /// The cache's own bytes per entry: its slot, the policy's node and
    /// index (see [`Cache::bookkeeping_bytes`]).
    bookkeeping: usize,
}

impl CodeTable {
    fn add(&mut self, entry: &ExternalBytecode) {
        self.bytes += entry.entry_memory_size() + self.bookkeeping;
        let code = entry.shared();
        let slot = self.codes.entry(code.code_hash()).or_insert_with(|| (code.clone(), 0));
        if slot.1 == 0 {
            self.bytes += code.memory_size();
        }
        slot.1 += 1;
    }

    /// Forgets `slot`'s entry, and the bytes of its lane copies.
    fn release(&mut self, slot: &Slot) {
        let entry = &slot.value;
        self.bytes -= entry.entry_memory_size() + self.bookkeeping + slot.lanes.copies() * ExternalBytecode::OBJECT_SIZE;
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

/// Hits a shard buffers (per stripe) before it tells its policy. Large,
/// because the thread that drains a buffer pulls the policy's lines (its
/// lock, its lists' ends, the hot entries' nodes) from whichever core
/// drained last: draining 32 at a time, two threads made 1.2-1.5 times the
/// lookups of one under LFU and Adaptive; 1,024 at a time, 1.7-1.9 times
/// (BENCHMARKS.md). The buffers grow as they fill, to 20 KiB for each
/// stripe a thread uses. A full buffer drains itself, and inserts, removals
/// and compaction drain them all first, so the policy hears of every
/// buffered hit before it evicts (hits are dropped only when a buffer or
/// the policy is busy).
const READ_BUFFER: usize = 1024;

/// Read buffers per shard: threads append to the one of their number
/// ([`read_stripe`]), so two threads hitting one shard do not pass a
/// buffer's flag back and forth.
const READ_STRIPES: usize = 8;

/// The calling thread's read-buffer stripe (any number; taken modulo
/// [`READ_STRIPES`]): its thread number, distinct among the threads alive
/// at once and given back when a thread exits, so up to eight threads
/// running together never share a buffer, however many came and went
/// before them. (The stripe was the reader slot's, a hash of where the
/// thread's stack lies: two threads then share a buffer one time in eight,
/// and did in about a third of the throughput bench's processes, whose
/// rounds run on three thread stacks in turn. Sharing one, two threads
/// made 1.4-1.5 times the lookups of one under LFU and Adaptive, against
/// 1.8-2.0.) A thread-local read costs a call in a shared library; LRU and
/// TTL hits, which buffer nothing, do not pay it. (Reader slots numbered
/// so too cost LRU's hits 3-10% on one thread: not done.)
#[inline]
fn read_stripe() -> usize {
    thread_number::thread_number()
}

/// One read buffer, alone in its cache lines.
#[repr(align(128))]
struct ReadBuffer {
    /// Raised while a thread holds the buffer.
    busy: AtomicBool,
    reads: std::cell::UnsafeCell<Vec<Address>>,
}

// SAFETY: `reads` is only reached through a `HeldBuffer`, and `busy`
// lets one thread at a time hold one.
unsafe impl Sync for ReadBuffer {}

impl ReadBuffer {
    fn new() -> ReadBuffer {
        ReadBuffer { busy: AtomicBool::new(false), reads: std::cell::UnsafeCell::new(Vec::new()) }
    }

    /// The buffer, unless another thread holds it. A flag rather than a
    /// mutex: letting go is a plain store, where a mutex's unlock is a
    /// second locked instruction on every buffered hit.
    #[inline]
    fn try_hold(&self) -> Option<HeldBuffer<'_>> {
        if self.busy.load(Ordering::Relaxed) || self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        Some(HeldBuffer(self))
    }

    /// The buffer, once no other thread holds it (one may be replaying
    /// it into the policy, which takes a while: spin, then yield).
    fn hold(&self) -> HeldBuffer<'_> {
        loop {
            if let Some(held) = self.try_hold() {
                return held;
            }
            readers::wait_while(|| self.busy.load(Ordering::Relaxed));
        }
    }
}

/// A [`ReadBuffer`] held by the calling thread, let go when dropped.
struct HeldBuffer<'a>(&'a ReadBuffer);

impl std::ops::Deref for HeldBuffer<'_> {
    type Target = Vec<Address>;

    fn deref(&self) -> &Vec<Address> {
        // SAFETY: this thread holds the buffer (see `ReadBuffer`).
        unsafe { &*self.0.reads.get() }
    }
}

impl std::ops::DerefMut for HeldBuffer<'_> {
    fn deref_mut(&mut self) -> &mut Vec<Address> {
        // SAFETY: this thread holds the buffer (see `ReadBuffer`).
        unsafe { &mut *self.0.reads.get() }
    }
}

impl Drop for HeldBuffer<'_> {
    fn drop(&mut self) {
        // Release: this thread's changes to the buffer happen before the
        // next holder's `swap` (Acquire).
        self.0.busy.store(false, Ordering::Release);
    }
}

/// A fast hasher for addresses: the bytes are folded into one word and
/// finished with the SplitMix64 mixer, so every output bit depends on every
/// input bit (hash tables index by the low bits, and hosts often number
/// addresses sequentially). Not collision-resistant against chosen keys;
/// addresses are hashes already and a shard holds a bounded number.
#[derive(Clone, Copy, Default)]
pub(crate) struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    /// Keys are addresses, all 20 bytes: the length prefix adds nothing.
    #[inline]
    fn write_usize(&mut self, _length: usize) {}

    fn finish(&self) -> u64 {
        let x = (self.0 ^ (self.0 >> 32)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^ (x >> 29)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        if let Ok(address) = <&[u8; 20]>::try_from(bytes) {
            // The one key type: three loads, no byte loop.
            let word = |at: usize| u64::from_le_bytes(address[at..at + 8].try_into().unwrap());
            let (a, b, c) = (word(0), word(8), word(12) >> 32);
            // Three independent products, not a chain: the multiplies
            // overlap, and `finish` folds the high bits down.
            self.0 = self.0.rotate_left(26)
                ^ a.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ b.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
                ^ c.wrapping_mul(0x1656_67b1_9e37_79f9);
            return;
        }
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(26) ^ u64::from_le_bytes(word)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
}

/// Builds [`AddressHasher`]s.
pub(crate) type AddressHash = std::hash::BuildHasherDefault<AddressHasher>;

type AddressMap<V> = HashMap<Address, V, AddressHash>;


/// One cached address: the address, the shard's tick at its last hit
/// (recency-only shards), the bytecode that was loaded and its lane copies.
/// 64 bytes and aligned to them, so that a lookup reads one cache line.
/// Kept in a set keyed by the address (`Hash`, `Eq` and `Borrow` see the
/// address only).
///
/// **Lanes.** Every hit hands out a counted reference, so it writes the
/// reference count of the object it returns. Were there one object per
/// address, two threads hitting the same popular address would pass that
/// count's cache line back and forth on every hit, and under Zipf keys
/// they mostly do. So reader threads get lanes 1 to 4 in turn after their
/// first hit (see [`readers::LANES`]; the first four get one each), and a
/// hit on lane `n` returns the entry's object for that lane: `value` on
/// lane 0 (a thread's first hit, the slow path), on another lane a copy
/// made at the lane's first hit ([`ExternalBytecode::lane_copy`], 40 bytes
/// sharing the code and everything else) and kept in `lanes` until the
/// entry goes. A thread alone on its lane also counts its accesses without
/// an atomic read-modify-write. The code table counts the copies' bytes.
#[repr(C, align(64))]
struct Slot {
    address: Address,
    /// The shard's tick at the last hit, or when the policy last put the
    /// entry at its front. Hits write it only when the tick moved on.
    seen: AtomicU32,
    value: Arc<ExternalBytecode>,
    lanes: Lanes,
}

const _: () = assert!(size_of::<Slot>() == 64);

/// An entry's copies for lanes 1 to 4: null until the lane first hits the
/// entry, then one strong reference each, given back when dropped.
struct Lanes([AtomicPtr<ExternalBytecode>; LANES - 1]);

impl Lanes {
    fn new() -> Lanes {
        Lanes(std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())))
    }

    /// How many copies were made.
    fn copies(&self) -> usize {
        self.0.iter().filter(|lane| !lane.load(Ordering::Acquire).is_null()).count()
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        for lane in &mut self.0 {
            let copy = std::mem::replace(lane.get_mut(), std::ptr::null_mut());
            if !copy.is_null() {
                // SAFETY: a non-null lane holds one strong reference, made
                // by `Arc::into_raw` in `Slot::make_copy`.
                drop(unsafe { Arc::from_raw(copy) });
            }
        }
    }
}

impl Slot {
    fn new(address: Address, tick: u32, value: Arc<ExternalBytecode>) -> Slot {
        Slot { address, seen: AtomicU32::new(tick), value, lanes: Lanes::new() }
    }

    /// A reference to the entry's object for `lane`, made now if the lane
    /// has none yet (its bytes then added to `codes`).
    #[inline(always)]
    fn value_for(&self, lane: usize, codes: &Mutex<CodeTable>) -> Arc<ExternalBytecode> {
        if lane == SHARED_LANE {
            return self.value.clone();
        }
        let cell = &self.lanes.0[lane - 1];
        let copy = cell.load(Ordering::Acquire);
        if copy.is_null() {
            return self.make_copy(cell, codes);
        }
        // SAFETY: the lane holds a strong reference to `copy` (see
        // `Lanes`), given back only when the slot is dropped, which takes
        // the map's write lock: not while this read holds it.
        unsafe {
            Arc::increment_strong_count(copy);
            Arc::from_raw(copy)
        }
    }

    /// Makes the copy for the lane in `cell` and returns it (or the one
    /// another thread sharing the lane made first).
    #[cold]
    #[inline(never)]
    fn make_copy(&self, cell: &AtomicPtr<ExternalBytecode>, codes: &Mutex<CodeTable>) -> Arc<ExternalBytecode> {
        let copy = self.value.lane_copy();
        let raw = Arc::into_raw(copy.clone()).cast_mut();
        match cell.compare_exchange(std::ptr::null_mut(), raw, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                codes.lock().bytes += ExternalBytecode::OBJECT_SIZE;
                copy
            }
            Err(first) => {
                // SAFETY: `raw` came from `Arc::into_raw` above and was not
                // stored; `first` is held by the lane, as in `value_for`.
                unsafe {
                    drop(Arc::from_raw(raw));
                    Arc::increment_strong_count(first);
                    Arc::from_raw(first)
                }
            }
        }
    }
}

impl std::borrow::Borrow<Address> for Slot {
    fn borrow(&self) -> &Address {
        &self.address
    }
}

impl std::hash::Hash for Slot {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.address.hash(state);
    }
}

impl PartialEq for Slot {
    fn eq(&self, other: &Slot) -> bool {
        self.address == other.address
    }
}

impl Eq for Slot {}

/// The slots of a shard, found by address.
type Slots = std::collections::HashSet<Slot, AddressHash>;

/// A shard's entries: the slots, and under TTL when each expires (in a map
/// of its own, which only TTL shards read, so that slots stay small).
#[derive(Default)]
struct Entries {
    slots: Slots,
    deadlines: AddressMap<std::time::Instant>,
}

impl Entries {
    /// The slot of `address`, unless it expired.
    #[inline(always)]
    fn live(&self, address: &Address, expires: bool) -> Option<&Slot> {
        let slot = self.slots.get(address)?;
        if expires && self.deadlines.get(address).is_none_or(|at| std::time::Instant::now() >= *at) {
            return None;
        }
        Some(slot)
    }

    /// Removes `address`'s entry.
    fn remove(&mut self, address: &Address) -> Option<Slot> {
        self.deadlines.remove(address);
        self.slots.take(address)
    }
}

/// One shard: the entries behind a read-mostly lock ([`readers`]) and the
/// policy (which keeps only addresses) behind its own mutex.
///
/// A hit reads the entries without writing the lock (it announces itself
/// in a reader slot of its own, where it also counts the hit) and clones
/// the `Arc` of its thread lane's object (see `Slot`). How the policy
/// hears of it depends on the policy:
///
/// - **Recency only (LRU, TTL)**: the hit stores the shard's `tick` in the
///   entry's slot, and only when the tick moved on since (a hot entry is
///   written once per tick, not once per hit). Nothing else. When the
///   policy later offers the entry as its victim, an entry hit since the
///   policy last put it at the front goes back to the front instead, as
///   an eager LRU would have moved it at the hit (see [`spare`]). The
///   victim is then never an entry used since it was listed, and a hit
///   costs no policy work at all. The order among entries hit between two
///   listings is the order they were listed in, not the order of their
///   hits: an approximation of LRU, whose hit ratios BENCHMARKS.md gives
///   beside exact LRU's.
/// - **The others (LFU, Adaptive)**: the hit appends its address
///   to its stripe of `reads` if no other thread holds that buffer at
///   once (a flag, never a wait); when the buffer is full, the hit also
///   tries to hand it to the policy, and drops the batch if the policy is
///   busy. Lost hits only make the policy's picture of recency and
///   frequency a little less sharp.
///
/// Writes take the policy lock, drain the buffers, then the map's write
/// lock: lock order policy → map → code table → (Adaptive) the cache's
/// shared simulations, under which nothing is taken.
#[repr(align(128))]
struct Shard {
    map: ReadMostly<Entries>,
    policy: Mutex<Box<dyn Policy<Listed>>>,
    reads: [ReadBuffer; READ_STRIPES],
    /// Counts listings (entries put at the policy's front); changed only
    /// under the map's write guard.
    tick: AtomicU32,
    /// The policy is recency only: hits stamp slots instead of `reads`.
    recency_only: bool,
}

impl Shard {
    /// The tick for a listing now; the next listing gets a later one.
    fn next_tick(&self) -> u32 {
        self.tick.fetch_add(1, Ordering::Relaxed)
    }

    /// Tells the policy about buffered hits; the caller holds the policy.
    fn drain(&self, policy: &mut Box<dyn Policy<Listed>>) {
        for buffer in &self.reads {
            let mut reads = buffer.hold();
            policy.record_hits(&reads);
            reads.clear();
        }
    }

    /// Buffers a hit on `address` in read buffer `stripe` (any number).
    #[inline]
    fn record_read(&self, address: &Address, stripe: usize) {
        let Some(mut reads) = self.reads[stripe % READ_STRIPES].try_hold() else { return };
        reads.push(*address);
        if reads.len() < READ_BUFFER {
            return;
        }
        if let Some(mut policy) = self.policy.try_lock() {
            policy.record_hits(&reads);
        }
        reads.clear();
    }
}

/// The answer of a recency-only shard to its policy's offer of `victim`:
/// an entry used after the one behind it was listed goes back to the front
/// with a new tick (see [`Listed::used_after`]). The caller holds the map's
/// write guard, so no hit comes between: each entry is spared at most once
/// per call, in amortised constant time per hit.
// A slot's atomic stamp is not part of its key: `Hash` and `Eq` see the
// address only.
#[allow(clippy::mutable_key_type)]
fn spare<'a>(shard: &'a Shard, slots: &'a Slots) -> impl FnMut(&Listed, Option<&Listed>) -> Option<Listed> + 'a {
    move |victim, next| {
        let slot = slots.get(&victim.address)?;
        if !victim.used_after(slot.seen.load(Ordering::Relaxed), next) {
            return None;
        }
        let tick = shard.next_tick();
        slot.seen.store(tick, Ordering::Relaxed);
        Some(Listed { address: victim.address, tick })
    }
}

/// A lookup's read of a shard's entries: the live entry of `address`, as
/// its hit stamps it (recency-only shards) and as its lane's object,
/// counted as an access unless `count` says otherwise.
struct Find<'a> {
    cache: &'a Cache,
    shard: &'a Shard,
    address: &'a Address,
    count: Count,
}

impl readers::Read<Entries> for Find<'_> {
    type Answer = Arc<ExternalBytecode>;

    // Inlined into the read's fast path, where every hit goes.
    #[inline(always)]
    fn read(self, entries: &Entries, lane: &readers::LaneOf<'_>) -> Option<Arc<ExternalBytecode>> {
        let slot = entries.live(self.address, self.cache.ttl.is_some())?;
        if self.shard.recency_only {
            let now = self.shard.tick.load(Ordering::Relaxed);
            if slot.seen.load(Ordering::Relaxed) != now {
                slot.seen.store(now, Ordering::Relaxed);
            }
        }
        if self.count == Count::Nothing {
            return Some(slot.value_for(SHARED_LANE, &self.cache.codes));
        }
        let lane = lane.get();
        let value = slot.value_for(lane.index, &self.cache.codes);
        if lane.owned {
            // The only thread counting on this lane's copies now (see
            // `src/cache/readers.rs`).
            value.touch_owned();
        } else {
            value.touch();
        }
        Some(value)
    }
}

/// The manager's cache. Thread-safe; see the module docs for its layout.
pub struct Cache {
    strategy: CacheStrategy,
    shards: Box<[Shard]>,
    /// The reader slots of every shard's lock, with the hit and miss counts.
    readers: Readers,
    codes: Mutex<CodeTable>,
    max_bytes: usize,
    ttl: Option<std::time::Duration>,
    evictions: AtomicU64,
    /// Entries ever inserted; see [`Cache::insertions`].
    insertions: AtomicU64,
}

impl Cache {
    /// A cache for `config`'s strategy and bounds.
    pub fn new(config: &Config) -> Result<Cache> {
        let capacity = config.max_cached_contracts;
        let shard_count = shard_count(capacity);
        let per_shard = capacity.div_ceil(shard_count);
        let ttl = std::time::Duration::from_millis(config.cache_ttl_ms);
        // Adaptive shards follow one simulation of the whole cache, if
        // there is one for it (see `src/cache/tinylfu.rs`).
        let shared = (config.cache_strategy == CacheStrategy::Adaptive && shard_count > 1)
            .then(|| tinylfu::SharedSims::new(capacity).map(Arc::new))
            .flatten();
        let shards: Vec<_> = (0..shard_count)
            .map(|index| {
                let policy: Box<dyn Policy<Listed>> = match &shared {
                    Some(shared) => Box::new(tinylfu::TinyLfuPolicy::following(per_shard, shared.clone())),
                    None => policy(config.cache_strategy, per_shard, ttl),
                };
                Shard {
                    map: ReadMostly::new(index as u32 + 1, Entries::default()),
                    recency_only: policy.recency_only(),
                    policy: Mutex::new(policy),
                    reads: std::array::from_fn(|_| ReadBuffer::new()),
                    tick: AtomicU32::new(0),
                }
            })
            .collect();
        let expires = config.cache_strategy == CacheStrategy::Ttl;
        let bookkeeping = Cache::bookkeeping_bytes(shards[0].policy.lock().as_ref(), expires);
        Ok(Cache {
            strategy: config.cache_strategy,
            shards: shards.into_boxed_slice(),
            readers: Readers::default(),
            codes: Mutex::new(CodeTable { bookkeeping, ..CodeTable::default() }),
            max_bytes: config.max_cache_bytes,
            ttl: expires.then_some(ttl),
            evictions: AtomicU64::new(0),
            insertions: AtomicU64::new(0),
        })
    }

    /// The cache's own heap bytes per entry, on average, which its byte
    /// count adds to each entry's [`ExternalBytecode::entry_memory_size`]:
    /// the entry's slot in its shard's set, its node and index entry in the
    /// policy, and under TTL its deadline.
    fn bookkeeping_bytes(policy: &dyn Policy<Listed>, expires: bool) -> usize {
        let deadline = if expires { table_bytes::<(Address, std::time::Instant)>() } else { 0 };
        table_bytes::<Slot>() + policy.bytes_per_entry() + deadline
    }

    #[inline]
    fn shard(&self, address: &Address) -> &Shard {
        // Real addresses are uniform, but hosts and tests also number them
        // sequentially: mix the low 8 bytes (Fibonacci hashing) and take
        // the top bits, so either kind spreads over every shard.
        let mut low = [0u8; 8];
        low.copy_from_slice(&address[12..]);
        let mixed = u64::from_be_bytes(low).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        &self.shards[(mixed >> 32) as usize & (self.shards.len() - 1)]
    }

    /// The cached entry for `address`, counted as a hit or a miss, and as an
    /// access of the object returned. Writes nothing another thread's hit
    /// reads (see `src/cache/readers.rs`) when the calling thread owns a
    /// lane.
    #[inline]
    pub fn get(&self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        if self.strategy == CacheStrategy::None {
            return None;
        }
        self.lookup(self.shard(address), address, Count::HitOrMiss)
    }

    /// As [`Cache::get`], without counting a hit, a miss or an access, and
    /// on the shared lane, so that the caller may count an access with
    /// `ExternalBytecode::touch` (for re-checks inside the load path, and
    /// for reading what is cached).
    #[inline]
    pub fn peek(&self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        if self.strategy == CacheStrategy::None {
            return None;
        }
        self.lookup(self.shard(address), address, Count::Nothing)
    }

    #[inline(always)]
    fn lookup(&self, shard: &Shard, address: &Address, count: Count) -> Option<Arc<ExternalBytecode>> {
        let found = shard.map.read_with(&self.readers, count, Find { cache: self, shard, address, count })?;
        if !shard.recency_only {
            shard.record_read(address, read_stripe());
        }
        Some(found)
    }

    /// How many entries were ever inserted. An address found missing while
    /// this number was `n` is still missing as long as it stays `n`: only an
    /// insert can make a lookup that missed succeed.
    #[inline]
    pub fn insertions(&self) -> u64 {
        self.insertions.load(Ordering::Acquire)
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
        let address = entry.address();
        let shard = self.shard(&address);
        let mut out = Vec::new();
        {
            let mut policy = shard.policy.lock();
            shard.drain(&mut policy);
            let mut map = shard.map.write(&self.readers);
            let mut codes = self.codes.lock();
            codes.add(&entry);
            if let Some(ttl) = self.ttl {
                map.deadlines.insert(address, std::time::Instant::now() + ttl);
            }
            let tick = shard.next_tick();
            if let Some(old) = map.slots.replace(Slot::new(address, tick, entry)) {
                codes.release(&old);
                out.push(old.value);
            }
            // Counted under the map's write guard, after the entry is in: a
            // reader that saw the old count and then missed read the map
            // before this insert, so the new count tells it to look again.
            self.insertions.fetch_add(1, Ordering::Release);
            let victims = policy.insert_sparing(address, Listed { address, tick }, &mut spare(shard, &map.slots));
            let mut evicted = 0;
            let mut evict = |map: &mut Entries, codes: &mut CodeTable, victim: Listed| {
                if let Some(old) = map.remove(&victim.address) {
                    codes.release(&old);
                    out.push(old.value);
                    evicted += 1;
                }
            };
            // The policy hands back a replaced entry's old listing: that
            // entry is gone from the map already.
            let replaced = |victim: &Listed| victim.address == address && victim.tick != tick;
            for victim in victims.into_iter().filter(|victim| !replaced(victim)) {
                evict(&mut map, &mut codes, victim);
            }
            while self.max_bytes > 0 && codes.bytes > self.max_bytes {
                let Some(victim) = policy.evict_one_sparing(&mut spare(shard, &map.slots)) else { break };
                evict(&mut map, &mut codes, victim);
            }
            self.evictions.fetch_add(evicted, Ordering::Relaxed);
        }
        drop(out);
    }

    /// Removes `address`'s entry; other addresses sharing its code keep it.
    pub fn remove(&self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        let shard = self.shard(address);
        let mut policy = shard.policy.lock();
        shard.drain(&mut policy);
        policy.remove(address);
        let old = shard.map.write(&self.readers).remove(address)?;
        self.codes.lock().release(&old);
        Some(old.value)
    }

    /// Drops entries that must no longer be served and frees spare memory;
    /// returns how many entries went.
    pub fn compact(&self) -> usize {
        let mut removed = Vec::new();
        for shard in self.shards.iter() {
            let mut policy = shard.policy.lock();
            shard.drain(&mut policy);
            let expired = policy.purge();
            let mut map = shard.map.write(&self.readers);
            let mut codes = self.codes.lock();
            for gone in expired {
                if let Some(old) = map.remove(&gone.address) {
                    codes.release(&old);
                    removed.push(old.value);
                }
            }
            map.slots.shrink_to_fit();
            map.deadlines.shrink_to_fit();
            codes.codes.shrink_to_fit();
        }
        removed.len()
    }

    /// Empties the cache.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut policy = shard.policy.lock();
            for buffer in &shard.reads {
                buffer.hold().clear();
            }
            while policy.evict_one().is_some() {}
            let dropped: Vec<Slot> = {
                let mut map = shard.map.write(&self.readers);
                map.deadlines.clear();
                map.slots.drain().collect()
            };
            let mut codes = self.codes.lock();
            for slot in &dropped {
                codes.release(slot);
            }
            drop(codes);
            drop(policy);
            drop(dropped);
        }
    }

    /// The counters now.
    pub fn stats(&self) -> CacheStats {
        let (hits, misses) = self.readers.counts();
        CacheStats {
            hits,
            misses,
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: self.shards.iter().map(|s| s.map.read_locked().slots.len() as u64).sum(),
            bytes: self.codes.lock().bytes as u64,
        }
    }
}

#[cfg(test)]
mod hasher_tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn sequential_addresses_spread_over_the_low_bits() {
        let build = std::hash::BuildHasherDefault::<AddressHasher>::default();
        let buckets: std::collections::HashSet<u64> = (0..1024u64)
            .map(|k| {
                let mut b = [0u8; 20];
                b[12..].copy_from_slice(&k.to_be_bytes());
                build.hash_one(Address::from(b)) & 1023
            })
            .collect();
        assert!(buckets.len() > 600, "{} distinct buckets of 1024", buckets.len());
    }
}

#[cfg(test)]
mod listed_tests {
    use super::*;

    #[test]
    fn a_victim_is_spared_only_when_used_after_the_next_was_listed() {
        let at = |tick| Listed { address: Address::ZERO, tick };
        // Listed at 5, nothing behind it: it goes, hit or not.
        assert!(!at(5).used_after(9, None));
        // Not hit since its listing: it goes.
        assert!(!at(5).used_after(5, Some(&at(7))));
        // Hit before listing 7 (stamp 7 = before listing 7): older than the
        // entry listed at 7, so it goes.
        assert!(!at(5).used_after(7, Some(&at(7))));
        // Hit after listing 7: spared.
        assert!(at(5).used_after(8, Some(&at(7))));
        // Across the wrap of the 32-bit tick.
        assert!(at(u32::MAX - 1).used_after(2, Some(&at(u32::MAX))));
        assert!(!at(u32::MAX - 1).used_after(u32::MAX, Some(&at(u32::MAX))));
    }
}

#[cfg(test)]
mod shard_count_tests {
    use super::*;

    #[test]
    fn small_caches_keep_one_shard_and_large_ones_sixteen() {
        let counts: Vec<usize> = [1, 511, 512, 767, 768, 1_024, 2_048, 4_096, usize::MAX].map(shard_count).to_vec();
        assert_eq!(counts, [1, 1, 2, 2, 4, 4, 8, 16, 16]);
    }
}
