//! A read-mostly lock for the cache's shards, whose hit path writes no
//! memory that another thread's hit reads.
//!
//! A `RwLock` read makes every reader write the lock's word twice (lock and
//! unlock); two threads hitting the same shard then pass that cache line
//! back and forth on every hit. Here a reader instead claims a slot of its
//! own in [`Readers`] (one line per slot), announces there which lock it
//! reads, checks that no writer is active, reads, and frees its slot. A
//! writer takes the inner `RwLock` for writing (excluding other writers and
//! the readers of the slow path), raises its `writing` flag, and waits until
//! no slot announces its lock before it changes anything.
//!
//! The handshake is Dekker's: the reader's announcement and the writer's
//! flag are both sequentially consistent, and each side then reads the
//! other's, so at least one of them sees the other. A reader that sees the
//! flag, or finds its slot taken by another thread, reads through the
//! `RwLock` instead: the writer is done by the time it gets the read lock.
//!
//! Each slot also counts the hits and misses of the reads made through it:
//! the slot's holder is its only writer, so the counts need no atomic
//! read-modify-write and share the slot's line.
//!
//! Each slot also has a *lane*: lanes 1 to `LANES - 1` go round to the
//! slots in the order of their first hit, so the first threads to hit get
//! lanes of their own (a thread that only misses, loading, takes none).
//! A slot's first hit, and reads on the slow path, are on lane 0; the slot
//! takes its lane after that first hit, once it has let the slot go,
//! since taking one may wait for other slots' reads. The cache
//! hands each lane its own copy of an entry's object (see `Slot` in
//! `src/cache/mod.rs`), so that threads on different lanes never write the
//! same reference count.
//!
//! While a lane has one slot, a read holding that slot is the only thread
//! counting accesses on the lane's copies, and counts them without an
//! atomic read-modify-write ([`Lane::owned`]). When a second slot gets the
//! lane, the lane becomes shared for good: the second slot raises the
//! lane's `shared` flag (sequentially consistent) and waits until the
//! first slot is not reading, and a read checks the flag after claiming
//! its slot (sequentially consistent too). As with writers, one of them
//! sees the other, so no plain count can overlap an atomic one.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// How many lanes there are: the cache keeps up to this many objects per
/// entry, one per lane. Lane 0 is for reads on the slow path; the others
/// go round to the reader slots.
pub(crate) const LANES: usize = 5;

/// The lane of reads that could not claim their slot, and of
/// [`Lane::SHARED`].
pub(crate) const SHARED_LANE: usize = 0;

/// The lane a read is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lane {
    /// Which lane: `0..LANES`.
    pub(crate) index: usize,
    /// True when the reading thread is the only one on this lane for the
    /// length of the read (it holds the lane's only slot).
    pub(crate) owned: bool,
}

impl Lane {
    /// Lane 0, shared by every read that could not claim its slot.
    pub(crate) const SHARED: Lane = Lane { index: SHARED_LANE, owned: false };
}

/// How a read finds its lane, when it needs one: only hits do, so a
/// thread that only misses (one that loads, say) takes no lane.
pub(crate) struct LaneOf<'a> {
    /// The reader slot the read holds; `None` on the slow path.
    claimed: Option<&'a Slot>,
    readers: &'a Readers,
    /// Set when the read asked for a lane its slot does not have yet: the
    /// slot gets one once the read has let it go (see `give_lane`).
    wanted: std::cell::Cell<bool>,
}

impl LaneOf<'_> {
    /// The read's lane. The slot's first hit is on [`Lane::SHARED`], and
    /// asks for a lane of the slot's own for the next.
    #[inline(always)]
    pub(crate) fn get(&self) -> Lane {
        let Some(slot) = self.claimed else { return Lane::SHARED };
        let Some(index) = slot.lane() else {
            self.wanted.set(true);
            return Lane::SHARED;
        };
        // After the claim (SeqCst): see the module docs.
        Lane { index, owned: !self.readers.shared[index].load(Ordering::SeqCst) }
    }
}

/// How many reader slots a cache has: threads beyond this many (or two
/// whose stacks hash to the same slot) take the slow path when they meet.
const SLOTS: usize = 64;

/// One reader's slot, alone in its cache line pair.
#[repr(align(128))]
#[derive(Default)]
struct Slot {
    /// The id of the lock being read through this slot; 0 when free.
    reading: AtomicU32,
    /// Hits counted through this slot (written only by its holder).
    hits: AtomicU64,
    /// Misses counted through this slot (written only by its holder).
    misses: AtomicU64,
    /// This slot's lane plus one; 0 until after the slot's first hit.
    lane: AtomicU32,
}

/// Spins, then yields, while `busy` says so: for waits on reads in flight,
/// which last a hash lookup unless the reader was preempted mid-read (then
/// a time slice, so stop spinning after a while), and on the cache's read
/// buffers, held as long as a push or a replay into the policy.
pub(crate) fn wait_while(mut busy: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while busy() {
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

impl Slot {
    /// This slot's lane, if it was given one.
    #[inline(always)]
    fn lane(&self) -> Option<usize> {
        match self.lane.load(Ordering::Relaxed) {
            0 => None,
            lane => Some(lane as usize - 1),
        }
    }

    /// Gives this slot the next lane (1 to `LANES - 1`, round and round),
    /// unless a thread sharing the slot just gave it one. A lane given
    /// before is shared from now on: see the module docs. The caller must
    /// hold no reader slot: it may wait for other slots' reads to end.
    #[cold]
    #[inline(never)]
    fn give_lane(&self, readers: &Readers) {
        let given = readers.next_lane.fetch_add(1, Ordering::Relaxed) as usize;
        let lane = 1 + given % (LANES - 1);
        if self.lane.compare_exchange(0, lane as u32 + 1, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return;
        }
        if given >= LANES - 1 {
            readers.shared[lane].store(true, Ordering::SeqCst);
            wait_while(|| readers.reading_on_lane(lane, self));
        }
    }
}

/// The reader slots that several [`ReadMostly`] locks share, and the hit
/// and miss counters of the reads that could not use one.
pub(crate) struct Readers {
    slots: Box<[Slot]>,
    /// Hits and misses counted on the slow path (shared atomics).
    slow_hits: AtomicU64,
    slow_misses: AtomicU64,
    /// How many lanes were given so far.
    next_lane: AtomicU32,
    /// Per lane: raised once a second slot got it (lane 0: always).
    shared: [AtomicBool; LANES],
}

impl Default for Readers {
    fn default() -> Readers {
        Readers {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            slow_hits: AtomicU64::new(0),
            slow_misses: AtomicU64::new(0),
            next_lane: AtomicU32::new(0),
            shared: std::array::from_fn(|lane| AtomicBool::new(lane == SHARED_LANE)),
        }
    }
}

impl Readers {
    /// The slot the calling thread uses: a hash of where its stack is.
    /// Threads run on distinct stacks, megabytes apart, so they land on
    /// distinct slots unless they collide in the hash; a collision costs a
    /// slow read, never a wrong one. No thread-local storage is needed,
    /// which in a shared library would cost a call per lookup.
    #[inline]
    fn slot(&self) -> &Slot {
        &self.slots[self.stripe()]
    }

    /// The index of the calling thread's slot (see [`Readers::slot`]).
    /// The cache's read buffers no longer stripe by it: two threads share
    /// an index one time in 64, a buffer (of eight) one time in eight.
    #[inline]
    fn stripe(&self) -> usize {
        let marker = 0u8;
        let stack = std::ptr::addr_of!(marker) as usize >> 16;
        let index = (stack as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58;
        index as usize % SLOTS
    }

    /// Total hits and misses counted so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let slots = self.slots.iter();
        let hits = slots.clone().map(|s| s.hits.load(Ordering::Relaxed)).sum::<u64>();
        let misses = slots.map(|s| s.misses.load(Ordering::Relaxed)).sum::<u64>();
        (hits + self.slow_hits.load(Ordering::Relaxed), misses + self.slow_misses.load(Ordering::Relaxed))
    }

    /// True while some slot announces a read of lock `id`.
    fn reading(&self, id: u32) -> bool {
        self.slots.iter().any(|s| s.reading.load(Ordering::SeqCst) == id)
    }

    /// True while some slot on `lane`, other than `except`, announces a
    /// read of any lock.
    fn reading_on_lane(&self, lane: usize, except: &Slot) -> bool {
        self.slots
            .iter()
            .any(|s| !std::ptr::eq(s, except) && s.lane() == Some(lane) && s.reading.load(Ordering::SeqCst) != 0)
    }
}

/// A claimed slot, freed when dropped (also if the read panics, so that
/// no writer waits for it forever).
struct Claim<'a>(&'a Slot);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.reading.store(0, Ordering::Release);
    }
}

/// What a [`ReadMostly::read_with`] does with the value: an answer,
/// counted as a hit, or none, a miss. A trait rather than a closure: the
/// fast path and the slow one both call it, and a body that large is not
/// inlined twice unless its method says `#[inline(always)]`, which a
/// closure cannot.
pub(crate) trait Read<T> {
    /// What the read answers.
    type Answer;
    /// Reads `value` on the lane `lane` gives when asked.
    fn read(self, value: &T, lane: &LaneOf<'_>) -> Option<Self::Answer>;
}

/// Whether a read counts as a hit or a miss, or not at all.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    /// Count `Some` as a hit and `None` as a miss.
    HitOrMiss,
    /// Count nothing (re-checks inside the load path, and reads of what is
    /// cached; the cache then counts no access either).
    Nothing,
}

/// A value that many threads read and few write; see the module docs.
pub(crate) struct ReadMostly<T> {
    /// Nonzero and distinct among the locks sharing one [`Readers`].
    id: u32,
    /// Raised by a writer before it waits for the fast readers to leave.
    writing: AtomicBool,
    lock: RwLock<T>,
}

impl<T> ReadMostly<T> {
    /// Wraps `value` as lock `id` (nonzero, unique among the locks that
    /// share a [`Readers`]).
    pub(crate) fn new(id: u32, value: T) -> ReadMostly<T> {
        assert_ne!(id, 0, "lock id 0 marks a free slot");
        ReadMostly { id, writing: AtomicBool::new(false), lock: RwLock::new(value) }
    }

    /// Runs `f` on the value and the calling thread's lane (for it to ask
    /// for), and counts its answer as `count` says; see
    /// [`ReadMostly::read_with`].
    #[cfg(test)]
    pub(crate) fn read<R>(&self, readers: &Readers, count: Count, f: impl FnOnce(&T, &LaneOf<'_>) -> Option<R>) -> Option<R> {
        /// A closure as a [`Read`].
        struct Closure<F>(F);
        impl<T, R, F: FnOnce(&T, &LaneOf<'_>) -> Option<R>> Read<T> for Closure<F> {
            type Answer = R;
            fn read(self, value: &T, lane: &LaneOf<'_>) -> Option<R> {
                (self.0)(value, lane)
            }
        }
        self.read_with(readers, count, Closure(f))
    }

    /// Reads the value with `read`, on the calling thread's lane (for it to
    /// ask for), and counts its answer as `count` says. A read that cannot
    /// claim its reader slot is on [`Lane::SHARED`].
    #[inline(always)]
    pub(crate) fn read_with<F: Read<T>>(&self, readers: &Readers, count: Count, read: F) -> Option<F::Answer> {
        let slot = readers.slot();
        if slot.reading.compare_exchange(0, self.id, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
            let claim = Claim(slot);
            if !self.writing.load(Ordering::SeqCst) {
                // SAFETY: this thread announced its read in `slot` (SeqCst)
                // and then saw no writer (SeqCst). A writer raises `writing`
                // (SeqCst) before it looks at the slots, so it either was
                // seen here or will see this slot and wait for it to be
                // freed before changing the value; one that finished cleared
                // `writing` with Release after its last change, which the
                // load above acquired. No `&mut T` exists until `claim`
                // frees the slot.
                let value = unsafe { &*self.lock.data_ptr() };
                let lane = LaneOf { claimed: Some(slot), readers, wanted: std::cell::Cell::new(false) };
                let answer = read.read(value, &lane);
                if count == Count::HitOrMiss {
                    // This thread holds the slot: the only writer of its counts.
                    let counter = if answer.is_some() { &slot.hits } else { &slot.misses };
                    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                }
                drop(claim);
                if lane.wanted.get() {
                    slot.give_lane(readers);
                }
                return answer;
            }
            drop(claim);
        }
        self.read_slowly(readers, count, read)
    }

    /// [`ReadMostly::read_with`] through the inner lock, on
    /// [`Lane::SHARED`]: for reads that met a writer or found their slot
    /// taken.
    #[cold]
    #[inline(never)]
    fn read_slowly<F: Read<T>>(&self, readers: &Readers, count: Count, read: F) -> Option<F::Answer> {
        let answer = read.read(&self.lock.read(), &LaneOf { claimed: None, readers, wanted: std::cell::Cell::new(false) });
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
    pub(crate) fn write<'a>(&'a self, readers: &Readers) -> WriteGuard<'a, T> {
        let guard = self.lock.write();
        self.writing.store(true, Ordering::SeqCst);
        wait_while(|| readers.reading(self.id));
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
        let lock = Arc::new(ReadMostly::new(1, (0u64, 0u64)));
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
            let mut value = lock.write(&readers);
            value.0 = i;
            std::hint::black_box(&mut *value);
            value.1 = i;
        }
        stop.store(true, Ordering::Relaxed);
        let reads: u64 = reader_threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(readers.counts(), (reads, 0), "every read counted once, as a hit");
        assert_eq!(*lock.read_locked(), (20_000, 20_000));
    }

    #[test]
    fn a_taken_slot_falls_back_to_the_lock_and_still_counts() {
        let readers = Readers::default();
        let lock = ReadMostly::new(7, 5u32);
        // Occupy the calling thread's slot, as a colliding thread would.
        occupy_every_slot(&readers, 9);
        assert_eq!(lock.read(&readers, Count::HitOrMiss, |v, _| Some(*v)), Some(5));
        assert_eq!(lock.read(&readers, Count::HitOrMiss, |_, _| None::<u32>), None);
        assert_eq!(lock.read(&readers, Count::Nothing, |v, _| Some(*v)), Some(5));
        assert_eq!(readers.counts(), (1, 1));
        assert_eq!(readers.slow_hits.load(Ordering::Relaxed), 1, "counted on the slow path");
        occupy_every_slot(&readers, 0);
        *lock.write(&readers) = 6;
        assert_eq!(lock.read(&readers, Count::HitOrMiss, |v, _| Some(*v)), Some(6));
        assert_eq!(readers.counts(), (2, 1));
    }

    /// Marks every slot as reading lock `id` (0: none). A thread's slot
    /// goes by where its stack lies in 64 KiB steps, so a read a few frames
    /// deeper than the test may take another slot than the test's own
    /// `readers.slot()` (as it once did in a CI run): tests that need the
    /// read's slot taken take them all.
    fn occupy_every_slot(readers: &Readers, id: u32) {
        readers.slots.iter().for_each(|slot| slot.reading.store(id, Ordering::SeqCst));
    }

    /// Slot `i`'s lane, given as its first hit would give it.
    fn lane_of(readers: &Readers, i: usize) -> usize {
        let slot = &readers.slots[i];
        if slot.lane().is_none() {
            slot.give_lane(readers);
        }
        slot.lane().unwrap()
    }

    #[test]
    fn lanes_go_round_and_a_lane_given_twice_is_shared() {
        let readers = Readers::default();
        let lock = ReadMostly::new(1, ());
        let lane = || lock.read(&readers, Count::Nothing, |_, lane| Some(lane.get())).unwrap();
        let own = |index| Lane { index, owned: true };
        // A read that asks for no lane gives the slot none.
        assert_eq!(lock.read(&readers, Count::Nothing, |_, _| Some(())), Some(()));
        assert!(readers.slots.iter().all(|slot| slot.lane().is_none()));
        // The calling thread's first hit is on the shared lane; the slot
        // then gets lane 1, its own.
        assert_eq!(lane(), Lane::SHARED);
        assert_eq!((lane(), lane()), (own(1), own(1)));
        // Other slots, as other threads would use them, in turn: the other
        // lanes, then lane 1 again, which is then shared.
        // The read's slot, the one lane 1 went to (not `readers.stripe()`,
        // which the test's own frame may put elsewhere).
        let mine = (0..SLOTS).find(|&i| readers.slots[i].lane() == Some(1)).unwrap();
        let others = (0..SLOTS).filter(|&i| i != mine).take(LANES - 1);
        let lanes: Vec<usize> = others.clone().map(|i| lane_of(&readers, i)).collect();
        let mut expected: Vec<usize> = (2..LANES).collect();
        expected.push(1);
        assert_eq!(lanes, expected);
        let again: Vec<usize> = others.map(|i| lane_of(&readers, i)).collect();
        assert_eq!(again, expected, "a slot keeps its lane");
        assert_eq!(lane(), Lane { index: 1, owned: false });
        assert!((2..LANES).all(|l| !readers.shared[l].load(Ordering::Relaxed)), "lanes 2 and up have one slot each");
        // A read that cannot hold its slot is on the shared lane.
        occupy_every_slot(&readers, 9);
        assert_eq!(lane(), Lane::SHARED);
        occupy_every_slot(&readers, 0);
    }

    #[test]
    fn a_lane_turns_shared_only_once_its_first_slot_is_not_reading() {
        let readers = Arc::new(Readers::default());
        let first = readers.stripe();
        assert_eq!(lane_of(&readers, first), 1);
        // Lanes 2 to LANES-1 to other slots; the next new slot gets lane 1.
        let mut free = (0..SLOTS).filter(|&i| i != first);
        for _ in 2..LANES {
            lane_of(&readers, free.next().unwrap());
        }
        let second = free.next().unwrap();
        // The first slot is mid-read: the second waits for it.
        readers.slots[first].reading.store(7, Ordering::SeqCst);
        let done = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (readers, done) = (readers.clone(), done.clone());
            std::thread::spawn(move || {
                let lane = lane_of(&readers, second);
                done.store(true, Ordering::SeqCst);
                lane
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(readers.shared[1].load(Ordering::SeqCst), "the flag goes up first");
        assert!(!done.load(Ordering::SeqCst), "then it waits for the read in flight");
        readers.slots[first].reading.store(0, Ordering::SeqCst);
        assert_eq!(waiter.join().unwrap(), 1);
        assert!(done.load(Ordering::SeqCst));
    }
}
