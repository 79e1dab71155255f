//! A read-mostly lock for the cache's shards, whose hit path writes no
//! memory that another thread's hit reads, and the per-thread reader slots
//! behind it.
//!
//! A `RwLock` read makes every reader write the lock's word twice (lock and
//! unlock); two threads hitting the same shard then pass that cache line
//! back and forth on every hit. Here a reader instead claims a slot of its
//! own (one line per slot), announces there which lock it reads, checks
//! that no writer is active, reads, and frees its slot. A writer takes the
//! inner `RwLock` for writing (excluding other writers and the readers of
//! the slow path), raises its `writing` flag, and waits until no slot
//! announces its lock before it changes anything.
//!
//! The handshake is Dekker's: the reader's announcement and the writer's
//! flag are both sequentially consistent, and each side then reads the
//! other's, so at least one of them sees the other. A reader that sees the
//! flag, or finds its slot taken by another thread, reads through the
//! `RwLock` instead: the writer is done by the time it gets the read lock.
//!
//! The slots are the process's, shared by every cache: holding slot `i`
//! makes its holder the only writer of everything kept per slot, such as a
//! cache's hit and miss counts for that slot ([`Readers`]) and the access
//! counts of [`hot`](super::hot)'s stripe `i`, which therefore need no
//! atomic read-modify-write.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// How many reader slots the process has: threads beyond this many (or two
/// whose stacks hash to the same slot) take the slow path when they meet.
pub(crate) const SLOTS: usize = 64;

/// One reader's slot, alone in its cache line pair: the id of the lock
/// read through it, 0 when free.
#[repr(align(128))]
struct Slot(AtomicU32);

/// The process's reader slots.
static SLOTS_IN_USE: [Slot; SLOTS] = [const { Slot(AtomicU32::new(0)) }; SLOTS];

/// The next lock id to hand out.
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// A fresh lock id: nonzero, and distinct from every other live lock's
/// until 2^32 - 1 ids have been handed out (after that, two locks may
/// share an id, which only makes a writer of one wait for readers of the
/// other).
pub(crate) fn next_id() -> u32 {
    loop {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if id != 0 {
            return id;
        }
    }
}

/// The index of the calling thread's slot: a hash of where its stack is.
/// Threads run on distinct stacks, megabytes apart, so they land on
/// distinct slots unless they collide in the hash; a collision costs a
/// slow read, never a wrong one. No thread-local storage is needed, which
/// in a shared library would cost a call per lookup.
#[inline]
pub(crate) fn stripe() -> usize {
    let marker = 0u8;
    let stack = std::ptr::addr_of!(marker) as usize >> 16;
    let index = (stack as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58;
    index as usize % SLOTS
}

/// Claims the calling thread's slot for lock `id`; `None` when another
/// thread holds it.
#[inline(always)]
fn claim(id: u32) -> Option<Claim> {
    let index = stripe();
    SLOTS_IN_USE[index].0.compare_exchange(0, id, Ordering::SeqCst, Ordering::Relaxed).ok()?;
    Some(Claim { index })
}

/// True while some slot announces `id`.
fn reading(id: u32) -> bool {
    SLOTS_IN_USE.iter().any(|s| s.0.load(Ordering::SeqCst) == id)
}

/// A cache's hit and miss counts for one slot, alone in its line pair.
#[repr(align(128))]
#[derive(Default)]
struct SlotCounts {
    /// Hits counted through this slot (written only by its holder).
    hits: AtomicU64,
    /// Misses counted through this slot (written only by its holder).
    misses: AtomicU64,
}

/// One cache's hit and miss counts: per slot, and for the reads that
/// could not use one.
pub(crate) struct Readers {
    counts: Box<[SlotCounts; SLOTS]>,
    /// Hits and misses counted on the slow path (shared atomics).
    slow_hits: AtomicU64,
    slow_misses: AtomicU64,
}

impl Default for Readers {
    fn default() -> Readers {
        Readers {
            counts: Box::new(std::array::from_fn(|_| SlotCounts::default())),
            slow_hits: AtomicU64::new(0),
            slow_misses: AtomicU64::new(0),
        }
    }
}

impl Readers {
    /// Total hits and misses counted so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let slots = self.counts.iter();
        let hits = slots.clone().map(|s| s.hits.load(Ordering::Relaxed)).sum::<u64>();
        let misses = slots.map(|s| s.misses.load(Ordering::Relaxed)).sum::<u64>();
        (hits + self.slow_hits.load(Ordering::Relaxed), misses + self.slow_misses.load(Ordering::Relaxed))
    }
}

/// A claimed slot, freed when dropped (also if the read panics, so that
/// no writer waits for it forever).
struct Claim {
    index: usize,
}

/// Which slot a read holds, given to the read: the stripe of per-slot data
/// it alone may write until it returns.
#[derive(Clone, Copy)]
pub(crate) struct Held(usize);

impl Held {
    /// The slot's index, below [`SLOTS`].
    #[inline(always)]
    pub(crate) fn index(self) -> usize {
        // Always true; the mask lets the compiler drop bounds checks.
        self.0 & (SLOTS - 1)
    }
}

impl Drop for Claim {
    #[inline]
    fn drop(&mut self) {
        SLOTS_IN_USE[self.index].0.store(0, Ordering::Release);
    }
}

/// Whether a read counts as a hit or a miss, or not at all.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    /// Count `Some` as a hit and `None` as a miss.
    HitOrMiss,
    /// Count nothing (re-checks inside the load path).
    Nothing,
}

/// A value that many threads read and few write; see the module docs.
pub(crate) struct ReadMostly<T> {
    /// What a reader announces in its slot ([`next_id`]).
    id: u32,
    /// Raised by a writer before it waits for the fast readers to leave.
    writing: AtomicBool,
    lock: RwLock<T>,
}

impl<T> ReadMostly<T> {
    /// Wraps `value` as a lock with an id of its own.
    pub(crate) fn new(value: T) -> ReadMostly<T> {
        ReadMostly { id: next_id(), writing: AtomicBool::new(false), lock: RwLock::new(value) }
    }

    /// Runs `f` on the value and counts its answer in `readers` as `count`
    /// says. `f` is also given the slot it holds, if any (none on the slow
    /// path).
    #[inline(always)]
    pub(crate) fn read<R>(
        &self,
        readers: &Readers,
        count: Count,
        f: impl FnOnce(&T, Option<Held>) -> Option<R>,
    ) -> Option<R> {
        if let Some(claim) = claim(self.id) {
            if !self.writing.load(Ordering::SeqCst) {
                // SAFETY: this thread announced its read in its slot
                // (SeqCst) and then saw no writer (SeqCst). A writer raises
                // `writing` (SeqCst) before it looks at the slots, so it
                // either was seen here or will see this slot and wait for it
                // to be freed before changing the value; one that finished
                // cleared `writing` with Release after its last change,
                // which the load above acquired. No `&mut T` exists until
                // `claim` frees the slot.
                let answer = f(unsafe { &*self.lock.data_ptr() }, Some(Held(claim.index)));
                if count == Count::HitOrMiss {
                    // This thread holds the slot: the only writer of its counts.
                    let counts = &readers.counts[Held(claim.index).index()];
                    let counter = if answer.is_some() { &counts.hits } else { &counts.misses };
                    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                }
                return answer;
            }
            drop(claim);
        }
        let answer = f(&self.lock.read(), None);
        if count == Count::HitOrMiss {
            let counter = if answer.is_some() { &readers.slow_hits } else { &readers.slow_misses };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }

    /// Shared access through the lock, for rare whole-value reads
    /// (statistics).
    pub(crate) fn read_locked(&self) -> RwLockReadGuard<'_, T> {
        self.lock.read()
    }

    /// Exclusive access: waits for the writer before, and for every fast
    /// reader in flight, to finish.
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        let guard = self.lock.write();
        self.writing.store(true, Ordering::SeqCst);
        let mut spins = 0u32;
        while reading(self.id) {
            // A fast read lasts a hash lookup; one preempted mid-read may
            // take a time slice, so stop spinning after a while.
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        WriteGuard { guard, writing: &self.writing }
    }
}

/// Exclusive access to a [`ReadMostly`] value; fast readers resume when it
/// is dropped.
pub(crate) struct WriteGuard<'a, T> {
    guard: RwLockWriteGuard<'a, T>,
    writing: &'a AtomicBool,
}

impl<T> std::ops::Deref for WriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // After the last change through the guard (Release), before the
        // inner lock is unlocked when `guard` drops after this.
        self.writing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn readers_never_see_a_value_mid_write() {
        // The value is two halves that a writer changes one after the
        // other; a reader that saw them differ read mid-write.
        let readers = Arc::new(Readers::default());
        let lock = Arc::new(ReadMostly::new((0u64, 0u64)));
        let stop = Arc::new(AtomicBool::new(false));
        let reader_threads: Vec<_> = (0..3)
            .map(|_| {
                let (readers, lock, stop) = (readers.clone(), lock.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut reads = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let (a, b) = lock.read(&readers, Count::HitOrMiss, |v, _| Some(*v)).unwrap();
                        assert_eq!(a, b, "a read saw a write half done");
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        for i in 1..=20_000u64 {
            let mut value = lock.write();
            value.0 = i;
            std::hint::black_box(&mut *value);
            value.1 = i;
        }
        stop.store(true, Ordering::Relaxed);
        let reads: u64 = reader_threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(readers.counts(), (reads, 0), "every read counted once, as a hit");
        assert_eq!(*lock.read_locked(), (20_000, 20_000));
    }

    /// Claims the calling thread's slot, waiting while a thread of another
    /// test that hashes to it holds it.
    fn claim_when_free() -> Claim {
        loop {
            if let Some(claim) = claim(next_id()) {
                return claim;
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_taken_slot_falls_back_to_the_lock_and_still_counts() {
        let readers = Readers::default();
        let lock = ReadMostly::new(5u32);
        // Occupy the calling thread's slot, as a colliding thread would.
        let taken = claim_when_free();
        assert!(claim(lock.id).is_none(), "a held slot cannot be claimed again");
        let on_the_slow_path = |v: &u32, held: Option<Held>| held.is_none().then_some(*v);
        assert_eq!(lock.read(&readers, Count::HitOrMiss, on_the_slow_path), Some(5));
        assert_eq!(lock.read(&readers, Count::HitOrMiss, |_, _| None::<u32>), None);
        assert_eq!(lock.read(&readers, Count::Nothing, |v, _| Some(*v)), Some(5));
        assert_eq!(readers.counts(), (1, 1));
        assert_eq!(readers.slow_hits.load(Ordering::Relaxed), 1, "counted on the slow path");
        drop(taken);
        *lock.write() = 6;
        assert_eq!(lock.read(&readers, Count::HitOrMiss, |v, _| Some(*v)), Some(6));
        assert_eq!(readers.counts(), (2, 1));
    }
}
