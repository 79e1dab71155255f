//! The Adaptive strategy: W-TinyLFU (the design of Caffeine, Einziger,
//! Friedman and Manes, "TinyLFU", 2017) whose window, or a switch to plain
//! LFU, is chosen by miniature simulations.
//!
//! ```text
//! new entry ─► window (LRU, ~1% at first) ─overflow─► candidate
//!                                                        │ admitted only if the sketch says
//!                                                        ▼ it is used more than the victim
//!        main: probation (LRU) ─hit─► protected (LRU, 80% of main)
//!                  ▲                        │ overflow
//!                  └────────────────────────┘
//! ```
//! The window catches bursts of recency; the frequency filter keeps one-hit
//! keys (most contract codes are used in one block only) from flushing the
//! popular ones. A hit in protected marks its entry rather than moving it
//! to the front; a marked entry at the end goes back to the front instead
//! of leaving (see [`Segments`]). The window's size is tuned while running
//! by miniature simulations (Waldspurger et al., "Cache Modeling and
//! Optimization using Miniature Simulations", 2017): a fixed sample of the
//! keys, chosen by hash, is replayed through five small W-TinyLFU caches
//! with windows from 1% (frequency first) to 99% (recency first, close to
//! plain LRU) of their capacity, and through a small plain LFU cache (with
//! aging, as [`LfuPolicy`]), all scaled down by the sampling rate. Sixteen
//! times a period the real cache follows whichever did best lately, if it
//! did clearly better than the current choice. ("Lately": scores fade by
//! half over three miniature capacities of accesses, or over 256 hits of
//! the best choice where hits are rarer, so that a choice stands on enough
//! hits to mean something.) Choosing LFU moves every entry into an
//! [`LfuPolicy`] (counted as the sketch estimates, and halving its counts
//! when a plain LFU cache started with this one would); choosing a window
//! again moves them back. A trace that favours recency thus gets an
//! LRU-like cache, one that favours frequency an LFU-like one, without the
//! hill climber's blind steps.
//!
//! Below 1,024 entries every key is sampled: the miniature caches are
//! full-size replicas, and on a switch the real cache takes on the chosen
//! replica's layout (segments and order, or LFU counts) for the entries it
//! holds, so it behaves as that replica at once instead of converging.
//!
//! Until the cache first fills, every choice holds every key and the
//! simulations cannot tell them apart, yet the first evictions decide what
//! the cache keeps. So a second set of miniature caches, a quarter the
//! size ("scouts"), runs until then: they fill first, and when the real
//! cache is about to evict for the first time it starts with the scouts'
//! best choice if that did clearly and significantly better than the 1%
//! window (by two standard deviations; by four, they may stop early and
//! keep their verdict for the fill). Then the scouts stop. (On a trace
//! where every reuse is near, the 1% window loses every reuse between the
//! fill and the first switch.) When the cache is sampled, the scouts sample
//! a quarter of the sampled keys, at a sixteenth of the size; and a long
//! run of hits before the fill, a cache that stopped growing, stops them
//! with no verdict, so that a cache which never fills does not pay for
//! them. Among equal scores the largest window wins, LFU last.
//!
//! A cache of 1,024 entries or more is split into 4 to 16 shards, each
//! with a policy of its own, over hash-split shares of one stream of keys;
//! so one choice serves them all: the shards' policies feed one set of
//! simulations for the whole capacity ([`SharedSims`], sampling as one
//! policy of that capacity would, and scouting until the first shard
//! fills), and follow its choice. Simulations of their own (of 16 shards)
//! would each see a sixteenth of the accesses and choose apart on noise,
//! and sample sixteen times as large a share of them: sixteen times the
//! simulation work per hit.

use lru::LruCache;
use revm::primitives::Address;

use super::lfu::LfuPolicy;
use super::replicas::WindowReplicas;
use super::{AddressHash, FrequencySketch, Policy, lru_bytes};

/// The choice the policy starts with (of [`WINDOW_CHOICES`]).
const INITIAL_CHOICE: usize = 0;
/// Share of the capacity the window starts with.
const INITIAL_WINDOW: f64 = WINDOW_CHOICES[INITIAL_CHOICE];
/// Share of the main space that is protected.
pub(super) const PROTECTED_SHARE: f64 = 0.80;
/// The window shares the miniature simulations try.
/// (Tried also with one entry and the whole capacity at the ends: no
/// better over the traces of BENCHMARKS.md, and worse on OLTP@50000.)
const WINDOW_CHOICES: [f64; 5] = [0.01, 0.05, 0.20, 0.50, 0.99];
/// The miniature caches' capacity, at most: the sampling rate is chosen so
/// that the sampled keys fit caches of about this size.
const MINI_CAPACITY: usize = 512;
/// Sampled accesses over which a score fades by half, in miniature
/// capacities, at least.
const MINI_PERIOD: usize = 3;
/// Hits of the best choice over which a score fades by half, at least:
/// where hits are rare, [`MINI_PERIOD`] holds too few of them to tell the
/// choices apart (15 to 45 on P3 at 1,000 entries, where the cache then
/// followed noise from choice to choice). With 256 hits a half-life, a
/// steady score is about 370, give or take 19.
const FADE_HITS: f64 = 256.0;
/// How much better than the current choice another must have done to
/// replace it: a switch costs the real cache hits while its contents
/// follow (1.005 switched too often on OLTP@50000).
const HYSTERESIS: f64 = 1.03;
/// Choices per period of [`MINI_PERIOD`] miniature capacities.
const CHECKS: usize = 16;

/// The scouts' capacity is the main replicas' divided by this.
const SCOUT_SHRINK: usize = 4;
/// How many standard deviations the scouts' best must lead the current
/// choice by at the fill ([`Replicas::clear_lead`]).
const SCOUT_Z: f64 = 2.0;
/// The same, for the scouts to stop early and keep their verdict until the
/// fill: stricter, as the verdict may grow stale.
const SCOUT_EARLY_Z: f64 = 4.0;

/// Sampled accesses a shard's policy may hold back from [`SharedSims`]
/// while another shard's replays its own (see [`SharedSims::observe`]).
const DEFERRED_SAMPLES: usize = 256;

/// Entries the sketch is first sized for; it doubles as the cache fills.
const INITIAL_SKETCH: usize = 4096;

pub(crate) struct TinyLfuPolicy<V> {
    /// The entries, unless in LFU mode.
    segments: Segments<V>,
    /// In LFU mode every entry is here and the segments are empty.
    lfu: Option<Box<LfuPolicy<V>>>,
    /// The access counts admission goes by, unless `shares_sketch`.
    sketch: FrequencySketch,
    /// The simulations that choose the window.
    sims: Option<Box<MiniSims>>,
    /// Every key is simulated (below 1,024 entries): the replicas' sketch
    /// counts the very accesses this policy would, so admission goes by
    /// it, and `sketch` is left empty.
    shares_sketch: bool,
    /// Accesses recorded since the policy started: the clock LFU mode ages
    /// by, whenever it is entered.
    accesses: u64,
    /// The simulations of a whole sharded cache, whose choice this policy
    /// (one shard's) follows instead of running its own.
    shared: Option<std::sync::Arc<SharedSims>>,
    /// The choice this policy follows now, of `shared`'s.
    following: usize,
    /// Accesses of keys `shared` samples, not yet replayed there: a batch
    /// of hits ([`Policy::record_hits`]) replays them at its end, under
    /// one lock (or, if another shard's policy holds it, a later call
    /// does; see [`SharedSims::observe`]).
    pending: Vec<Address>,
    /// True during a batch of hits.
    batching: bool,
}

/// W-TinyLFU's layout: a window, and a main space of probation and
/// protected, each in LRU order. It admits by a sketch its owner keeps and
/// counts in, so that replicas which see the same accesses share one.
///
/// A hit in protected, where most hits land, only marks its entry used
/// (and writes nothing if it is marked already); the segment hears of it
/// when its least recent entry is about to leave: a used one goes back to
/// the front, unmarked, instead. Moving every hit to the front writes the
/// entry's neighbours and the list's head: on two threads, draining the
/// same shard's hits in turn, those lines passed from core to core on
/// nearly every hit. (The order is that of LRU but for entries used since
/// they were last put at the front, as the cache's LRU strategy keeps its
/// own, `Listed::used_after`.)
struct Segments<V> {
    window: LruCache<Address, Held<V>, AddressHash>,
    probation: LruCache<Address, Held<V>, AddressHash>,
    protected: LruCache<Address, Held<V>, AddressHash>,
    capacity: usize,
    /// The window's target size; the main space has the rest.
    window_cap: usize,
}

/// Where a W-TinyLFU cache holds its keys: per segment (window,
/// probation, protected), least recent first; and those of protected
/// marked used since they were last put at its front.
#[derive(Debug, PartialEq)]
pub(super) struct Layout {
    pub(super) segments: [Vec<Address>; 3],
    pub(super) marked: Vec<Address>,
}

/// A value in [`Segments`], and (in protected) whether it was used since
/// it was last put at its segment's front.
struct Held<V> {
    value: V,
    used: bool,
}

impl<V> Held<V> {
    fn new(value: V) -> Held<V> {
        Held { value, used: false }
    }
}

/// The index of plain LFU among the miniature simulations' choices, after
/// the window shares.
const LFU_CHOICE: usize = WINDOW_CHOICES.len();

/// One cache per choice: a W-TinyLFU one per window share in
/// [`WINDOW_CHOICES`] (over one key index and one sketch, see
/// `src/cache/replicas.rs`), then a plain LFU one ([`LFU_CHOICE`]), all of
/// one capacity, each with its score of hits.
struct Replicas {
    windows: WindowReplicas,
    lfu: LfuPolicy<()>,
    scores: Vec<f64>,
    /// The scores as they were after they last faded.
    faded: Vec<f64>,
}

impl Replicas {
    fn new(capacity: usize) -> Replicas {
        Replicas {
            windows: WindowReplicas::new(capacity, WINDOW_CHOICES.iter().map(|&share| window_size(capacity, share))),
            lfu: LfuPolicy::new(capacity),
            scores: vec![0.0; LFU_CHOICE + 1],
            faded: vec![0.0; LFU_CHOICE + 1],
        }
    }

    /// Replays one access through every cache, scoring their hits; returns
    /// whether the first cache hit.
    fn replay(&mut self, address: &Address) -> bool {
        let before = self.scores[0];
        let scores = &mut self.scores;
        self.windows.access(address, |r| scores[r] += 1.0);
        if self.lfu.get(address).is_some() {
            self.scores[LFU_CHOICE] += 1.0;
        } else {
            self.lfu.insert(*address, ());
        }
        self.scores[0] > before
    }

    /// Whether the caches are full (all fill at the same access).
    fn full(&self) -> bool {
        self.windows.len(0) >= self.windows.capacity()
    }

    /// Fades the scores after one check: by half over [`CHECKS`] checks,
    /// or over [`FADE_HITS`] hits of the choice that gained most since the
    /// last fade, whichever takes longer.
    fn fade(&mut self) {
        let gained = self.scores.iter().zip(&self.faded).map(|(now, then)| now - then).fold(0.0, f64::max);
        let halves = (1.0 / CHECKS as f64).min(gained / FADE_HITS);
        let left = 0.5f64.powf(halves);
        for score in &mut self.scores {
            *score *= left;
        }
        self.faded.clone_from(&self.scores);
    }

    /// The choice with the best score, unless it did not do clearly better
    /// than `current`. Among equals, the largest window wins, and LFU
    /// loses: the choices closest to LRU lose least while wrong.
    fn best(&self, current: usize) -> usize {
        let best = std::iter::once(LFU_CHOICE)
            .chain(0..LFU_CHOICE)
            .max_by(|&a, &b| self.scores[a].total_cmp(&self.scores[b]))
            .unwrap_or(current);
        if self.scores[best] > self.scores[current] * HYSTERESIS { best } else { current }
    }

    /// The best choice, if it is not `current` and leads it by at least
    /// `z` standard deviations of its score (hits counted as Poisson): the
    /// scouts' counts are small, and a lead of a hit or two is noise.
    fn clear_lead(&self, current: usize, z: f64) -> Option<usize> {
        let best = self.best(current);
        (best != current && self.scores[best] - self.scores[current] >= z * self.scores[best].sqrt()).then_some(best)
    }
}

/// Miniature caches over a hash-sampled share of the keys, one per choice
/// ([`Replicas`]), scored by their recent hits.
struct MiniSims {
    /// A key is sampled when the low bits of its hash under this mask are 0.
    mask: u64,
    /// The same for the scouts.
    scout_mask: u64,
    /// Scores fade by half every period (see [`Replicas::fade`]).
    main: Replicas,
    /// The scouts, until the real cache first fills.
    scouting: Scouting,
    /// Accesses in a row, of the scouts' sample, that hit in `main` while
    /// the scouts run.
    idle: usize,
    /// Sampled accesses until the next choice.
    until_check: usize,
    /// Sampled accesses between two choices.
    check_every: usize,
    chosen: usize,
}

/// The miniature simulations of a whole sharded cache: every shard's
/// policy feeds it the accesses of its sampled keys, and follows the
/// choice it makes. The shards hold hash-split shares of one stream of
/// keys, so one choice serves them all: it is made on the evidence of all
/// of them (each shard's own simulations would each see a sixteenth, and
/// choose apart), and the simulations' work per access is a shard's
/// divided by the number of shards.
pub(crate) struct SharedSims {
    /// The simulations, on cache lines of their own: every batch of hits
    /// that samples a key writes the lock and the replicas, while the
    /// fields below are read on every access a shard records.
    sims: LinesOfItsOwn<parking_lot::Mutex<MiniSims>>,
    /// The simulations' sampling mask, to leave unsampled keys unlocked.
    mask: u64,
    /// The choice made last.
    chosen: std::sync::atomic::AtomicUsize,
    /// Whether the scouts run or have advice (see [`MiniSims::scouting`]).
    scouting: std::sync::atomic::AtomicBool,
    /// Heap bytes of the simulations per entry of the cache.
    bytes_per_entry: usize,
    /// The whole cache's capacity.
    capacity: usize,
}

impl SharedSims {
    /// Simulations for a cache of `capacity` entries in all; none when
    /// they would be full-size replicas (below 1,024 entries), whose
    /// layouts and sketch a shard's policy could not take on: its shards
    /// then run their own.
    pub(crate) fn new(capacity: usize) -> Option<SharedSims> {
        let sims = MiniSims::new(capacity);
        if sims.exact() {
            return None;
        }
        Some(SharedSims {
            mask: sims.mask,
            chosen: std::sync::atomic::AtomicUsize::new(sims.chosen),
            scouting: std::sync::atomic::AtomicBool::new(sims.scouting()),
            bytes_per_entry: sims.bytes_per_entry(),
            capacity,
            sims: LinesOfItsOwn(parking_lot::Mutex::new(sims)),
        })
    }

    /// Whether the simulations replay accesses of `address`.
    fn samples(&self, address: &Address) -> bool {
        use std::hash::BuildHasher;
        AddressHash::default().hash_one(address) & self.mask == 0
    }

    /// Replays accesses of sampled keys, in order, and empties `sampled`
    /// (and, while the scouts run, hears whether a shard is full); returns
    /// the choice to follow. While another shard's policy replays its
    /// own, up to [`DEFERRED_SAMPLES`] are left in `sampled` for the next
    /// call, rather than waiting.
    fn observe(&self, sampled: &mut Vec<Address>, shard_full: bool) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        let scouting = shard_full && self.scouting.load(Relaxed);
        if !sampled.is_empty() || scouting {
            let mut sims = match self.sims.try_lock() {
                Some(sims) => sims,
                None if sampled.len() < DEFERRED_SAMPLES && !scouting => return self.chosen.load(Relaxed),
                None => self.sims.lock(),
            };
            if scouting {
                sims.check_fill(true);
            }
            for address in sampled.drain(..) {
                sims.observe(&address, shard_full);
            }
            // Stored only when changed: a store, even of the same value,
            // takes the line from the other threads that read it.
            if self.chosen.load(Relaxed) != sims.chosen {
                self.chosen.store(sims.chosen, Relaxed);
            }
            if !sims.scouting() && self.scouting.load(Relaxed) {
                self.scouting.store(false, Relaxed);
            }
        }
        self.chosen.load(Relaxed)
    }
}

/// A value alone in its cache lines (two, as the processor may fetch
/// lines in pairs).
#[repr(align(128))]
struct LinesOfItsOwn<T>(T);

impl<T> std::ops::Deref for LinesOfItsOwn<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Smaller replicas than the main ones, run before the real cache first
/// fills: they fill first, and tell which choice to start with once the
/// real cache is about to evict (until then the main replicas hold every
/// key, and score alike).
enum Scouting {
    Running(Box<Replicas>),
    /// The scouts stopped early with a clear verdict, kept for the fill.
    Advised(usize),
    Done,
}

impl MiniSims {
    fn new(capacity: usize) -> MiniSims {
        // Sample 1 in 2^k keys so that capacity / 2^k is about MINI_CAPACITY.
        let rate_log2 = (capacity / MINI_CAPACITY).max(1).ilog2();
        let mini = (capacity >> rate_log2).max(2);
        let check_every = (mini * MINI_PERIOD / CHECKS).max(1);
        // Scouts a quarter the size, or when sampled, a sixteenth over a
        // quarter of the sampled keys: as cheap as a sixteenth.
        let (scouts, scout_mask) = if rate_log2 == 0 {
            (mini / SCOUT_SHRINK, 0)
        } else {
            (mini / (SCOUT_SHRINK * SCOUT_SHRINK), (1u64 << (rate_log2 + SCOUT_SHRINK.ilog2())) - 1)
        };
        MiniSims {
            mask: (1u64 << rate_log2) - 1,
            scout_mask,
            main: Replicas::new(mini),
            scouting: if scouts >= 2 { Scouting::Running(Box::new(Replicas::new(scouts))) } else { Scouting::Done },
            idle: 0,
            until_check: check_every,
            check_every,
            chosen: INITIAL_CHOICE,
        }
    }

    /// Heap bytes of the simulations per entry of the real cache: every
    /// choice's replica holds the sampled share of the keys the real cache
    /// holds (all of them below 1,024 entries), up to its capacity. The
    /// scouts, a sixteenth of that, stop at the first fill.
    fn bytes_per_entry(&self) -> usize {
        let window_replicas = WindowReplicas::bytes_per_key(WINDOW_CHOICES.len()) + FrequencySketch::BYTES_PER_ENTRY;
        let lfu_replica = LfuPolicy::<()>::BYTES_PER_ENTRY;
        (window_replicas + lfu_replica) / (self.mask as usize + 1)
    }

    /// Whether every key is sampled: the miniature caches are then
    /// full-size replicas, and the real cache can take on one's layout.
    fn exact(&self) -> bool {
        self.mask == 0
    }

    /// Whether the scouts run or have advice: the policy then tells
    /// [`MiniSims::observe`] when it is full.
    fn scouting(&self) -> bool {
        !matches!(self.scouting, Scouting::Done)
    }

    /// Replays one access if its key is sampled; now and then returns the
    /// index of the choice that did best lately, and whether it is a new one.
    /// `real_full`: the real cache holds its capacity (about to evict).
    fn observe(&mut self, address: &Address, real_full: bool) -> Option<(usize, bool)> {
        use std::hash::BuildHasher;
        let scouted = self.check_fill(real_full);
        let hash = AddressHash::default().hash_one(address);
        if hash & self.mask != 0 {
            return scouted;
        }
        let hit = self.main.replay(address);
        if let Scouting::Running(scouts) = &mut self.scouting
            && hash & self.scout_mask == 0
        {
            scouts.replay(address);
            self.idle = if hit { self.idle + 1 } else { 0 };
            // A long run of hits before the fill (as long as the scouts'
            // capacity once they are full, else the main replicas'): the
            // cache has stopped growing, and may not fill for long (if
            // ever), by when what the scouts saw would be stale.
            let idle_limit = if scouts.full() { scouts.windows.capacity() } else { self.main.windows.capacity() };
            if scouts.full()
                && let Some(verdict) = scouts.clear_lead(self.chosen, SCOUT_EARLY_Z)
            {
                self.scouting = Scouting::Advised(verdict);
            } else if self.idle >= idle_limit {
                self.scouting = Scouting::Done;
            }
        }
        self.until_check -= 1;
        if self.until_check > 0 {
            return scouted;
        }
        self.until_check = self.check_every;
        // Keep the current choice unless another did clearly better.
        let best = self.main.best(self.chosen);
        let changed = best != self.chosen;
        self.chosen = best;
        self.main.fade();
        Some((self.chosen, changed || scouted.is_some_and(|(_, changed)| changed)))
    }

    /// Whether the scouts have spoken: at the fill (the real cache's, or
    /// the main replicas'), their verdict if they ran and had a clear one
    /// (see [`MiniSims::follow_scouts`]).
    fn check_fill(&mut self, real_full: bool) -> Option<(usize, bool)> {
        if self.scouting() && (real_full || self.main.full()) { self.follow_scouts() } else { None }
    }

    /// At the fill, takes the scouts' verdict (if they have a clear one)
    /// and stops them.
    fn follow_scouts(&mut self) -> Option<(usize, bool)> {
        let verdict = match std::mem::replace(&mut self.scouting, Scouting::Done) {
            Scouting::Running(scouts) => scouts.clear_lead(self.chosen, SCOUT_Z),
            Scouting::Advised(verdict) => Some(verdict),
            Scouting::Done => return None,
        };
        let changed = verdict.is_some_and(|verdict| verdict != self.chosen);
        self.chosen = verdict.unwrap_or(self.chosen);
        Some((self.chosen, changed))
    }
}

/// A window of `share` of `capacity` entries: one at least, and one fewer
/// than the capacity at most.
fn window_size(capacity: usize, share: f64) -> usize {
    let target = (capacity as f64 * share).round() as usize;
    target.clamp(1, capacity.saturating_sub(1).max(1))
}

impl<V> Segments<V> {
    /// Empty segments for at most `capacity` values, the window `share` of
    /// them.
    fn new(capacity: usize, share: f64) -> Segments<V> {
        Segments {
            window: LruCache::unbounded_with_hasher(Default::default()),
            probation: LruCache::unbounded_with_hasher(Default::default()),
            protected: LruCache::unbounded_with_hasher(Default::default()),
            capacity,
            window_cap: window_size(capacity, share),
        }
    }

    /// Makes the window `share` of the capacity (one entry at least, and
    /// one fewer than the capacity at most). Takes effect at the next
    /// insert.
    fn set_window(&mut self, share: f64) {
        self.window_cap = window_size(self.capacity, share);
    }

    fn main_cap(&self) -> usize {
        self.capacity - self.window_cap.min(self.capacity)
    }

    fn protected_cap(&self) -> usize {
        (self.main_cap() as f64 * PROTECTED_SHARE) as usize
    }

    fn len(&self) -> usize {
        self.window.len() + self.main_len()
    }

    fn main_len(&self) -> usize {
        self.probation.len() + self.protected.len()
    }

    /// The main space's next victim: probation's LRU, else protected's.
    fn main_victim(&mut self) -> Option<Address> {
        if self.probation.is_empty() {
            self.settle_protected();
        }
        self.probation.peek_lru().or_else(|| self.protected.peek_lru()).map(|(a, _)| *a)
    }

    fn pop_main(&mut self, address: &Address) -> Option<V> {
        self.probation.pop(address).or_else(|| self.protected.pop(address)).map(|held| held.value)
    }

    /// Puts protected's least recent entries back at its front, unmarked,
    /// while they were used since they were last put there: its least
    /// recent entry is then one no hit has marked. (Each pass unmarks one,
    /// so this ends; amortised, one pass per hit at most.)
    fn settle_protected(&mut self) {
        while self.protected.peek_lru().is_some_and(|(_, held)| held.used) {
            let Some((a, held)) = self.protected.pop_lru() else { break };
            self.protected.push(a, Held::new(held.value));
        }
    }

    /// Moves protected's overflow back to probation.
    fn demote_overflow(&mut self) {
        while self.protected.len() > self.protected_cap() {
            self.settle_protected();
            let Some((a, held)) = self.protected.pop_lru() else { break };
            self.probation.push(a, held);
        }
    }

    /// Replaces the value held for `address`, returning the old one; gives
    /// `value` back when `address` is not held.
    fn replace(&mut self, address: &Address, value: V) -> Result<V, V> {
        for segment in [&mut self.window, &mut self.probation, &mut self.protected] {
            if let Some(old) = segment.peek_mut(address) {
                return Ok(std::mem::replace(&mut old.value, value));
            }
        }
        Err(value)
    }

    /// Puts a new entry at the window's front and restores the bounds,
    /// admitting to the main space by `sketch`'s counts. What is pushed
    /// out goes to `out`.
    fn insert_new(&mut self, address: Address, value: V, sketch: &FrequencySketch, out: &mut Vec<V>) {
        self.window.push(address, Held::new(value));
        self.rebalance(sketch, out);
    }

    /// Offers a candidate from the window to the main space; returns what
    /// was evicted (the victim or the candidate itself).
    fn admit(&mut self, address: Address, value: V, sketch: &FrequencySketch, out: &mut Vec<V>) {
        if self.main_len() < self.main_cap() {
            self.probation.push(address, Held::new(value));
            return;
        }
        match self.main_victim() {
            Some(victim) if sketch.frequency(&address) > sketch.frequency(&victim) => {
                out.extend(self.pop_main(&victim));
                self.probation.push(address, Held::new(value));
            }
            _ => out.push(value),
        }
    }

    /// Restores the segment bounds after an insert or a window resize.
    fn rebalance(&mut self, sketch: &FrequencySketch, out: &mut Vec<V>) {
        // A grown window takes main's least valuable entries rather than
        // letting them be evicted. They go behind the window's own (more
        // recent) entries, the least valuable last.
        let mut moved = Vec::new();
        while self.window.len() + moved.len() < self.window_cap && self.main_len() > self.main_cap() {
            let Some(victim) = self.main_victim() else { break };
            let Some(value) = self.pop_main(&victim) else { break };
            moved.push((victim, value));
        }
        for (address, value) in moved.into_iter().rev() {
            self.window.push(address, Held::new(value));
            self.window.demote(&address);
        }
        while self.window.len() > self.window_cap {
            let Some((a, held)) = self.window.pop_lru() else { break };
            self.admit(a, held.value, sketch, out);
        }
        while self.main_len() > self.main_cap() {
            let Some(victim) = self.main_victim() else { break };
            out.extend(self.pop_main(&victim));
        }
        self.demote_overflow();
    }

    fn remove(&mut self, address: &Address) -> Option<V> {
        self.window.pop(address).map(|held| held.value).or_else(|| self.pop_main(address))
    }

    /// Removes the entry to go first: probation's least recent, else the
    /// window's, else protected's.
    fn evict_one(&mut self) -> Option<V> {
        if self.probation.is_empty() && self.window.is_empty() {
            self.settle_protected();
        }
        self.probation.pop_lru().or_else(|| self.window.pop_lru()).or_else(|| self.protected.pop_lru()).map(|(_, held)| held.value)
    }

    /// Rearranges the entries held as a model (a full-size replica with
    /// the same window) holds them, given its `layout`: each in the
    /// model's segment, in its order, marked used where the model's is.
    /// Entries the model lacks go to probation's end, to be evicted first.
    /// Nothing is evicted here (this may run within a `get`); the next
    /// insert restores the segment bounds.
    fn adopt(&mut self, layout: &Layout) {
        let mut held = self.take();
        let modelled: std::collections::HashSet<&Address, AddressHash> = layout.segments.iter().flatten().collect();
        let marked: std::collections::HashSet<&Address, AddressHash> = layout.marked.iter().collect();
        let mut rest: Vec<Address> = held.keys().filter(|a| !modelled.contains(a)).copied().collect();
        rest.sort_unstable();
        for a in rest {
            if let Some(v) = held.remove(&a) {
                self.probation.push(a, Held::new(v));
            }
        }
        for (segment, from) in [&mut self.window, &mut self.probation, &mut self.protected].into_iter().zip(&layout.segments) {
            for a in from {
                if let Some(value) = held.remove(a) {
                    segment.push(*a, Held { value, used: marked.contains(a) });
                }
            }
        }
        debug_assert!(held.is_empty());
    }

    /// The keys per segment, least recent first, and those marked used.
    #[cfg(test)]
    fn layout(&self) -> Layout {
        let segments = [&self.window, &self.probation, &self.protected];
        let marked = segments.iter().flat_map(|segment| segment.iter().rev().filter(|(_, held)| held.used).map(|(a, _)| *a));
        Layout {
            marked: marked.collect(),
            segments: segments.map(|segment| segment.iter().rev().map(|(a, _)| *a).collect()),
        }
    }

    /// Empties the three segments.
    fn take(&mut self) -> std::collections::HashMap<Address, V, AddressHash> {
        let mut held: std::collections::HashMap<Address, V, AddressHash> = Default::default();
        for segment in [&mut self.window, &mut self.probation, &mut self.protected] {
            while let Some((a, v)) = segment.pop_lru() {
                held.insert(a, v.value);
            }
        }
        held
    }
}

impl<V: Clone> Segments<V> {
    /// The value for `address`, if held, after moving it up: to the front
    /// of its segment, or from probation to protected.
    fn hit(&mut self, address: &Address) -> Option<V> {
        // An address lives in one segment only; protected, the largest
        // (80% of main), is asked first: most hits end there after one
        // lookup instead of three.
        if let Some(held) = self.protected.peek_mut(address) {
            if !held.used {
                held.used = true;
            }
            Some(held.value.clone())
        } else if let Some(held) = self.window.get(address) {
            Some(held.value.clone())
        } else if let Some(held) = self.probation.pop(address) {
            let v = held.value.clone();
            self.protected.push(*address, held);
            self.demote_overflow();
            Some(v)
        } else {
            None
        }
    }
}

impl<V> TinyLfuPolicy<V> {
    /// An empty policy holding at most `capacity` values, its window tuned
    /// by miniature simulations.
    pub(crate) fn new(capacity: usize) -> TinyLfuPolicy<V> {
        TinyLfuPolicy::with_window(capacity, INITIAL_WINDOW, true)
    }

    /// An empty policy for one shard of a cache, of `capacity` entries,
    /// that follows the choices of `shared`, the whole cache's simulations.
    /// Its sketch starts at the shard's share of the size one policy of
    /// the whole capacity would start with, so that it grows, and starts
    /// its counts afresh, when that one's would. (Sized for the shard at
    /// once, the shards of OLTP@50000 through a manager trailed the one
    /// policy by up to 3.9 points per 50,000 requests before either left
    /// the 1% window, and made 73.61 over the trace; now they make what it
    /// makes there, and 74.07 over the trace.)
    pub(crate) fn following(capacity: usize, shared: std::sync::Arc<SharedSims>) -> TinyLfuPolicy<V> {
        let share = (INITIAL_SKETCH * capacity).div_ceil(shared.capacity.max(1));
        TinyLfuPolicy {
            sketch: FrequencySketch::new(capacity.min(share)),
            shared: Some(shared),
            ..TinyLfuPolicy::with_window(capacity, INITIAL_WINDOW, false)
        }
    }

    /// An empty policy with a window of `share` of the capacity, tuned
    /// while running when `tuned`.
    fn with_window(capacity: usize, share: f64, tuned: bool) -> TinyLfuPolicy<V> {
        let sims = (tuned && capacity >= 2).then(|| Box::new(MiniSims::new(capacity)));
        let shares_sketch = sims.as_ref().is_some_and(|sims| sims.exact());
        TinyLfuPolicy {
            segments: Segments::new(capacity, share),
            lfu: None,
            // Sized for what is held, not for the bound: a host may set a
            // bound of billions and cache thousands. `grow_sketch` follows.
            sketch: FrequencySketch::new(if shares_sketch { 0 } else { capacity.min(INITIAL_SKETCH) }),
            sims,
            shares_sketch,
            accesses: 0,
            shared: None,
            following: INITIAL_CHOICE,
            pending: Vec::new(),
            batching: false,
        }
    }

    /// The sketch admission goes by (see `shares_sketch`); takes the two
    /// fields, not `self`, so that the segments stay free to change.
    fn admission_sketch<'a>(
        sketch: &'a FrequencySketch,
        sims: &'a Option<Box<MiniSims>>,
        shares_sketch: bool,
    ) -> &'a FrequencySketch {
        match sims {
            Some(sims) if shares_sketch => sims.main.windows.sketch(),
            _ => sketch,
        }
    }

    /// Entries held, in LFU mode or in the segments.
    fn held(&self) -> usize {
        self.lfu.as_ref().map_or(0, |lfu| lfu.held()) + self.segments.len()
    }

    /// Doubles the sketch (its counts start afresh) once the cache holds
    /// more than it was sized for, up to the capacity.
    fn grow_sketch(&mut self) {
        if self.shares_sketch {
            return;
        }
        let sized = self.sketch.sized_for();
        let capacity = self.segments.capacity;
        if self.held() > sized && sized < capacity {
            self.sketch = FrequencySketch::new(sized.saturating_mul(2).min(capacity));
        }
    }

    /// Counts an access in the sketch and the miniature simulations, and
    /// follows their choice. A switch moves entries between segments (or
    /// into or out of LFU mode) but evicts nothing; a new window size takes
    /// effect at the next insert, where the policy may report what it
    /// pushes out.
    fn record(&mut self, address: &Address) {
        self.accesses += 1;
        if !self.shares_sketch {
            self.sketch.increment(address);
        }
        if let Some(shared) = &self.shared {
            if shared.samples(address) {
                self.pending.push(*address);
            }
            if !self.batching {
                self.follow_shared();
            }
            return;
        }
        // Whether the cache is full matters only while the scouts run.
        let full = self.sims.as_ref().is_some_and(|sims| sims.scouting()) && self.held() >= self.segments.capacity;
        let Some((chosen, changed)) = self.sims.as_mut().and_then(|sims| sims.observe(address, full)) else { return };
        self.follow(chosen, changed);
    }

    /// Replays the pending accesses in the shared simulations and follows
    /// their choice.
    fn follow_shared(&mut self) {
        let Some(shared) = &self.shared else { return };
        let full = self.held() >= self.segments.capacity;
        let chosen = shared.observe(&mut self.pending, full);
        let changed = std::mem::replace(&mut self.following, chosen) != chosen;
        self.follow(chosen, changed);
    }

    /// Takes on choice `chosen` of the simulations, `changed` since the
    /// last. Where this policy's own simulations are full-size replicas,
    /// the entries also take on the chosen one's layout or LFU counts.
    fn follow(&mut self, chosen: usize, changed: bool) {
        let sims = self.sims.take();
        let model = sims.as_ref().filter(|sims| sims.exact());
        if chosen == LFU_CHOICE {
            if changed {
                self.become_lfu(model.map(|sims| &sims.main.lfu));
            }
        } else {
            self.segments.set_window(WINDOW_CHOICES[chosen]);
            if changed {
                self.leave_lfu();
                if let Some(sims) = model {
                    self.segments.adopt(&sims.main.windows.layout(chosen));
                }
            }
        }
        self.sims = sims;
    }

    /// Moves every entry into a plain LFU policy. With a full-size `model`
    /// the entries take its counts (and those it lacks go first);
    /// otherwise they are counted as the sketch estimates, the most recent
    /// ranking highest among equals. Nothing is evicted.
    fn become_lfu(&mut self, model: Option<&LfuPolicy<()>>) {
        if self.lfu.is_some() {
            return;
        }
        let mut lfu = Box::new(LfuPolicy::new(self.segments.capacity));
        match model {
            Some(model) => {
                lfu.set_clock_as(model);
                // In the model's order, which the LFU policy appends in.
                let rank = |a: &Address| model.rank(a).unwrap_or_default();
                let mut held: Vec<(Address, V)> = self.segments.take().into_iter().collect();
                held.sort_unstable_by_key(|(a, _)| (rank(a), *a));
                for (a, v) in held {
                    lfu.place(a, v, rank(&a));
                }
            }
            None => {
                lfu.age_in_step_with(self.accesses);
                // Least recent first: probation, protected, then the window.
                let segments = &mut self.segments;
                for segment in [&mut segments.probation, &mut segments.protected, &mut segments.window] {
                    while let Some((a, v)) = segment.pop_lru() {
                        let count = self.sketch.frequency(&a) as u32;
                        lfu.place_now(a, v.value, count);
                    }
                }
            }
        }
        self.lfu = Some(lfu);
    }

    /// Moves every entry of LFU mode back to probation, the most used at
    /// its front. Nothing is evicted; the next insert restores the bounds.
    fn leave_lfu(&mut self) {
        let Some(mut lfu) = self.lfu.take() else { return };
        for (a, v) in lfu.drain_by_rank() {
            self.segments.probation.push(a, Held::new(v));
        }
    }
}

impl<V: Clone + Send> Policy<V> for TinyLfuPolicy<V> {
    fn get(&mut self, address: &Address) -> Option<V> {
        let found = match &mut self.lfu {
            Some(lfu) => lfu.get(address),
            None => self.segments.hit(address),
        };
        // A miss is recorded by the insert that follows it, so that a cache
        // which tells the policy only about hits and inserts counts each
        // access once.
        if found.is_some() {
            self.record(address);
        }
        found
    }

    fn record_hits(&mut self, addresses: &[Address]) {
        self.batching = true;
        for address in addresses {
            self.get(address);
        }
        self.batching = false;
        self.follow_shared();
    }

    fn insert(&mut self, address: Address, value: V) -> Vec<V> {
        let mut out = Vec::new();
        if self.segments.capacity == 0 {
            out.push(value);
            return out;
        }
        if let Some(lfu) = &mut self.lfu
            && lfu.contains(&address)
        {
            return lfu.insert(address, value);
        }
        let value = match self.segments.replace(&address, value) {
            Ok(old) => {
                out.push(old);
                return out;
            }
            Err(value) => value,
        };
        self.record(&address);
        match &mut self.lfu {
            Some(lfu) => out = lfu.insert(address, value),
            None => {
                let sketch = TinyLfuPolicy::<V>::admission_sketch(&self.sketch, &self.sims, self.shares_sketch);
                self.segments.insert_new(address, value, sketch, &mut out);
            }
        }
        self.grow_sketch();
        out
    }

    fn remove(&mut self, address: &Address) -> Option<V> {
        match &mut self.lfu {
            Some(lfu) => lfu.remove(address),
            None => self.segments.remove(address),
        }
    }

    fn evict_one(&mut self) -> Option<V> {
        match &mut self.lfu {
            Some(lfu) => lfu.evict_one(),
            None => self.segments.evict_one(),
        }
    }

    fn purge(&mut self) -> Vec<V> {
        Vec::new()
    }

    fn len(&self) -> usize {
        self.held()
    }

    fn bytes_per_entry(&self) -> usize {
        // A node in one of the three lists, or in LFU mode `LfuPolicy`'s
        // larger one: counted as the larger whatever the mode, so that an
        // entry gives back what it added, and the mode left keeps its
        // tables' room. And the sketch's share.
        let node = lru_bytes::<Held<V>>().max(LfuPolicy::<V>::BYTES_PER_ENTRY);
        let own = node + if self.shares_sketch { 0 } else { FrequencySketch::BYTES_PER_ENTRY };
        let shared = self.shared.as_ref().map_or(0, |shared| shared.bytes_per_entry);
        own + self.sims.as_ref().map_or(0, |sims| sims.bytes_per_entry()) + shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u32) -> Address {
        let mut bytes = [0u8; 20];
        bytes[16..].copy_from_slice(&n.to_be_bytes());
        Address::from(bytes)
    }

    /// Replays `keys` (get, and insert on a miss); returns the hit count.
    fn replay(p: &mut TinyLfuPolicy<u32>, keys: impl Iterator<Item = u32>) -> usize {
        let mut hits = 0;
        for k in keys {
            if p.get(&a(k)).is_some() {
                hits += 1;
            } else {
                p.insert(a(k), k);
            }
            assert!(p.len() <= p.segments.capacity);
        }
        hits
    }

    #[test]
    fn a_scan_of_one_hit_keys_does_not_flush_the_popular_ones() {
        let mut p = TinyLfuPolicy::new(100);
        // 50 popular keys, used often.
        replay(&mut p, (0..20).flat_map(|_| 0..50));
        // A scan of 10,000 keys used once each.
        replay(&mut p, 1_000..11_000);
        let hits = replay(&mut p, 0..50);
        assert!(hits >= 45, "only {hits} of 50 popular keys survived the scan");
    }

    #[test]
    fn capacity_holds_and_replacement_returns_the_old_value() {
        let mut p = TinyLfuPolicy::new(10);
        replay(&mut p, 0..1_000);
        assert_eq!(p.len(), 10);
        let held = (0..1_000).find(|k| p.get(&a(*k)).is_some()).unwrap();
        assert_eq!(p.insert(a(held), 7), vec![held]);
        assert_eq!(p.get(&a(held)), Some(7));
        assert_eq!(p.remove(&a(held)), Some(7));
        assert_eq!(p.len(), 9);
    }

    /// Which segment holds `address`: 0 window, 1 probation, 2 protected.
    fn segment_of<W>(p: &TinyLfuPolicy<W>, address: &Address) -> Option<usize> {
        [&p.segments.window, &p.segments.probation, &p.segments.protected].iter().position(|s| s.contains(address))
    }

    #[test]
    fn scores_fade_by_half_over_a_period_or_over_fade_hits_if_longer() {
        let mut replicas = Replicas::new(16);
        // Plenty of hits: half over CHECKS checks.
        for _ in 0..CHECKS {
            replicas.scores[1] += FADE_HITS;
            replicas.scores[2] += 1.0;
            replicas.fade();
        }
        let steady = replicas.scores[1];
        for _ in 0..CHECKS {
            replicas.scores[2] += FADE_HITS;
            replicas.fade();
        }
        assert!((replicas.scores[1] / steady - 0.5).abs() < 1e-9, "{} then {steady}", replicas.scores[1]);
        // Few hits: a check that brought the best choice 8 of them fades
        // by 8 / FADE_HITS of a half.
        replicas.scores = vec![100.0; LFU_CHOICE + 1];
        replicas.faded.clone_from(&replicas.scores);
        replicas.scores[3] += 8.0;
        replicas.scores[0] += 2.0;
        replicas.fade();
        let left = 0.5f64.powf(8.0 / FADE_HITS);
        assert!((replicas.scores[3] - 108.0 * left).abs() < 1e-9);
        assert!((replicas.scores[0] - 102.0 * left).abs() < 1e-9);
        assert!((replicas.scores[5] - 100.0 * left).abs() < 1e-9);
    }

    #[test]
    fn a_protected_hit_only_marks_its_entry_which_protected_then_keeps() {
        // One entry of window, ten of main, eight of them protected.
        let mut segments = Segments::<u32>::new(11, 0.0);
        assert_eq!(segments.protected_cap(), 8);
        for k in 0..8 {
            segments.protected.push(a(k), Held::new(k));
        }
        segments.probation.push(a(8), Held::new(8));
        let before = segments.layout().segments;
        assert_eq!(segments.hit(&a(0)), Some(0));
        let after = segments.layout();
        assert_eq!(after.segments, before, "a hit in protected moves nothing");
        assert_eq!(after.marked, vec![a(0)]);
        // Promoting 8 overflows protected. Its least recent entry, 0, was
        // used since it was put there: it goes back to the front, and 1
        // leaves for probation instead.
        assert_eq!(segments.hit(&a(8)), Some(8));
        let [_, probation, protected] = segments.layout().segments;
        assert_eq!(probation, vec![a(1)]);
        assert_eq!(protected, [2, 3, 4, 5, 6, 7, 8, 0].map(a).to_vec());
        assert!(segments.layout().marked.is_empty(), "put back unmarked");
    }

    #[test]
    fn adopting_a_replica_s_layout_moves_entries_and_evicts_none() {
        let mut real = TinyLfuPolicy::<u32>::with_window(20, 0.05, false);
        replay(&mut real, (0..5).flat_map(|_| 0..20));
        let mut model = TinyLfuPolicy::<()>::with_window(20, 0.50, false);
        for k in (10..30).chain(10..20).chain(15..18) {
            if model.get(&a(k)).is_none() {
                model.insert(a(k), ());
            }
        }
        real.segments.window_cap = model.segments.window_cap;
        let layout = model.segments.layout();
        real.segments.adopt(&layout);
        assert_eq!(real.len(), 20, "nothing evicted");
        assert!(!layout.marked.is_empty());
        assert_eq!(real.segments.layout().marked, layout.marked, "marked where the model's are");
        for k in 10..20 {
            assert_eq!(segment_of(&real, &a(k)), segment_of(&model, &a(k)), "key {k} sits where the model has it");
        }
        // The keys the model lacks (0..10) go first.
        let mut first: Vec<u32> = (0..10).map(|_| real.evict_one().unwrap()).collect();
        first.sort_unstable();
        assert_eq!(first, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn lfu_mode_keeps_every_entry_and_the_bound_both_ways() {
        let mut p = TinyLfuPolicy::<u32>::with_window(10, 0.2, false);
        replay(&mut p, 0..10);
        // 0..5 used often: in LFU mode they outlive newcomers.
        replay(&mut p, (0..5).flat_map(|_| 0..5));
        p.become_lfu(None);
        assert!(p.lfu.is_some() && p.segments.len() == 0);
        assert_eq!(p.len(), 10);
        let mut evicted = 0;
        for k in 100..120 {
            assert!(p.get(&a(k)).is_none());
            evicted += p.insert(a(k), k).len();
            assert!(p.len() <= 10);
        }
        assert_eq!(evicted, 20, "every insert into a full cache reports one value");
        assert_eq!(replay(&mut p, 0..5), 5, "the most used survived");
        assert_eq!(p.remove(&a(0)), Some(0));
        p.leave_lfu();
        assert!(p.lfu.is_none());
        assert_eq!(p.len(), 9);
        assert_eq!(p.insert(a(200), 200).len(), 0, "room for one");
        assert_eq!(p.insert(a(201), 201).len(), 1);
        assert!(p.segments.window.len() <= p.segments.window_cap && p.segments.main_len() <= p.segments.main_cap());
    }

    /// A trace where LRU is optimal: every step brings a new key, and
    /// every other new key comes back once, 10 to 100 steps later (so at
    /// most 100 other keys in between). Returns the keys and how many
    /// reuses they hold.
    fn near_reuse_trace(steps: usize) -> (Vec<u32>, usize) {
        let mut next = crate::verify::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut due: std::collections::BTreeMap<usize, u32> = Default::default();
        let (mut keys, mut reuses, mut fresh) = (Vec::with_capacity(steps), 0, 0u32);
        for step in 0..steps {
            if let Some(k) = due.remove(&step) {
                keys.push(k);
                reuses += 1;
                continue;
            }
            fresh += 1;
            keys.push(fresh);
            if fresh % 2 == 0 {
                let mut at = step + 10 + (next() % 91) as usize;
                while due.contains_key(&at) {
                    at += 1;
                }
                due.insert(at, fresh);
            }
        }
        (keys, reuses)
    }

    #[test]
    fn where_lru_is_optimal_a_small_cache_hits_every_reuse() {
        let (keys, reuses) = near_reuse_trace(50_000);
        let mut lru = crate::cache::lru::LruPolicy::<u32>::new(256);
        let lru_hits = keys
            .iter()
            .filter(|&&k| {
                let hit = lru.get(&a(k)).is_some();
                if !hit {
                    lru.insert(a(k), k);
                }
                hit
            })
            .count();
        assert_eq!(lru_hits, reuses, "LRU hits every reuse");
        let mut p = TinyLfuPolicy::<u32>::new(256);
        assert_eq!(replay(&mut p, keys.into_iter()), reuses, "Adaptive hits every reuse too, as LRU does");
        assert!(p.sims.as_ref().is_some_and(|sims| !sims.scouting()), "the scouts stopped at the fill");
    }

    #[test]
    fn scouts_are_followed_only_on_a_clear_lead() {
        let mut sims = MiniSims::new(256);
        let mut verdict = |scores: [f64; LFU_CHOICE + 1]| {
            sims.chosen = INITIAL_CHOICE;
            let mut scouts = Replicas::new(16);
            scouts.scores = scores.to_vec();
            sims.scouting = Scouting::Running(Box::new(scouts));
            let verdict = sims.follow_scouts();
            assert!(!sims.scouting(), "the scouts stop");
            verdict
        };
        // One hit ahead of 4 is noise.
        assert_eq!(verdict([4.0, 4.0, 5.0, 5.0, 4.0, 4.0]), Some((INITIAL_CHOICE, false)));
        // 121 against 69 is not; of equals the largest window wins over LFU.
        assert_eq!(verdict([69.0, 64.0, 82.0, 121.0, 121.0, 121.0]), Some((4, true)));
        assert_eq!(verdict([69.0, 64.0, 82.0, 110.0, 100.0, 121.0]), Some((LFU_CHOICE, true)));
        // Done: nothing more to follow.
        assert_eq!(sims.follow_scouts(), None);
    }

    #[test]
    fn scouts_stop_when_the_cache_stops_growing() {
        // 2,000 entries (sampled: 1 key in 2) that hold 300 keys and hit
        // forever: the scouts stop, with no verdict, long before any fill.
        let mut p = TinyLfuPolicy::<u32>::new(2_000);
        replay(&mut p, (0..100).flat_map(|_| 0..300));
        let sims = p.sims.as_ref().unwrap();
        assert!(!sims.scouting(), "the scouts stopped");
        assert_eq!(sims.chosen, INITIAL_CHOICE);
        assert!(p.len() < 2_000);
    }

    #[test]
    fn window_replicas_decide_as_segments_of_their_own_would() {
        // Five `Segments` with one sketch, replayed as the replicas once
        // were, against `WindowReplicas`: same hits, same layouts.
        let capacity = 200;
        let windows = WINDOW_CHOICES.map(|share| window_size(capacity, share));
        let mut replicas = WindowReplicas::new(capacity, windows);
        let mut segments: Vec<Segments<()>> = WINDOW_CHOICES.iter().map(|&share| Segments::new(capacity, share)).collect();
        let mut sketch = FrequencySketch::new(capacity);
        let mut next = crate::verify::xorshift(0x5851_f42d_4c95_7f2d);
        for step in 0..60_000u32 {
            // Frequency-favouring and recency-favouring phases, and scans.
            let k = match (step / 5_000) % 3 {
                0 => (next() % 600).min(next() % 600) as u32,
                1 => 10_000 + step / 4 + (next() % 50) as u32,
                _ => (next() % 5_000) as u32,
            };
            sketch.increment(&a(k));
            let expected: Vec<bool> = segments
                .iter_mut()
                .map(|s| {
                    let hit = s.hit(&a(k)).is_some();
                    if !hit {
                        s.insert_new(a(k), (), &sketch, &mut Vec::new());
                    }
                    hit
                })
                .collect();
            let mut hits = vec![false; windows.len()];
            replicas.access(&a(k), |r| hits[r] = true);
            assert_eq!(hits, expected, "step {step}, key {k}");
        }
        for (r, s) in segments.iter().enumerate() {
            assert_eq!(replicas.layout(r), s.layout(), "replica {r}");
            assert_eq!(replicas.len(r), s.len());
        }
    }

    #[test]
    fn below_1024_entries_admission_by_the_replicas_sketch_decides_as_its_own_would() {
        let mut shared = TinyLfuPolicy::<u32>::new(256);
        assert!(shared.shares_sketch);
        let mut own = TinyLfuPolicy::<u32>::new(256);
        own.shares_sketch = false;
        own.sketch = FrequencySketch::new(256);
        let mut next = crate::verify::xorshift(0x1405_7b7e_f767_814f);
        // A popular set that moves every 5,000 accesses, and one-hit keys.
        for step in 0..40_000u32 {
            let k = match next() % 3 {
                0 => 1_000_000 + step,
                _ => (step / 5_000) * 1_000 + (next() % 800).min(next() % 800) as u32,
            };
            let hits = [&mut shared, &mut own].map(|p| {
                let hit = p.get(&a(k)).is_some();
                if !hit {
                    p.insert(a(k), k);
                }
                hit
            });
            assert_eq!(hits[0], hits[1], "step {step}, key {k}");
        }
        // The sketch admission went by counts as the policy's own would.
        let admission = TinyLfuPolicy::<u32>::admission_sketch(&shared.sketch, &shared.sims, shared.shares_sketch);
        let counted: Vec<u8> = (7_000..7_800).map(|k| admission.frequency(&a(k))).collect();
        assert_eq!(counted, (7_000..7_800).map(|k| own.sketch.frequency(&a(k))).collect::<Vec<_>>());
        assert!(counted.iter().any(|&count| count > 2), "the popular keys are counted");
    }

    #[test]
    fn values_are_held_or_reported_exactly_once_across_choices() {
        // Phases that favour frequency, then recency, then frequency again,
        // so the simulations switch the policy between its modes.
        let mut p = TinyLfuPolicy::<u32>::new(64);
        let mut next = crate::verify::xorshift(0x2545_f491_4f6c_dd1d);
        let (mut held, mut modes) = (std::collections::HashSet::new(), [false; 2]);
        for step in 0..60_000u32 {
            let k = match (step / 10_000) % 2 {
                0 => (next() % 1000).min(next() % 1000) as u32,
                _ => 5000 + step / 3 + (next() % 40) as u32,
            };
            modes[p.lfu.is_some() as usize] = true;
            if p.get(&a(k)).is_some() {
                assert!(held.contains(&k));
                continue;
            }
            assert!(!held.contains(&k), "key {k} is held but missed");
            held.insert(k);
            for out in p.insert(a(k), k) {
                assert!(held.remove(&out), "{out} reported but not held");
            }
            assert_eq!(p.len(), held.len());
            assert!(p.len() <= 64);
        }
        assert!(modes[0], "ran as W-TinyLFU");
        assert!(modes[1], "ran as LFU");
    }

    #[test]
    fn lfu_mode_halves_its_counts_when_plain_lfu_would() {
        // Sampled (above 1,024 entries), so LFU mode starts from the
        // sketch's counts and not from a full-size model's clock.
        let capacity = 2_048;
        let period = 8 * capacity;
        let mut adaptive = TinyLfuPolicy::<u32>::with_window(capacity, 0.01, false);
        let mut plain = LfuPolicy::<u32>::new(capacity);
        let hot = a(1);
        let access = |p: &mut dyn Policy<u32>, step: u32| {
            let k = if step % 2 == 0 { hot } else { a(100 + step % 3_000) };
            if p.get(&k).is_none() {
                p.insert(k, step);
            }
        };
        let switch_at = 10_001;
        for step in 0..switch_at {
            access(&mut adaptive, step);
            access(&mut plain, step);
        }
        adaptive.become_lfu(None);
        // The hot key gains one a hit: a halving shows as a fall, in
        // either policy, and must come at the same access in both.
        let in_lfu_mode = |p: &TinyLfuPolicy<u32>| p.lfu.as_ref().and_then(|lfu| lfu.rank(&hot)).map(|rank| rank.accesses());
        let in_plain = |p: &LfuPolicy<u32>| p.rank(&hot).map(|rank| rank.accesses());
        let mut falls = (Vec::new(), Vec::new());
        for step in switch_at..switch_at + 2 * period as u32 {
            let before = (in_lfu_mode(&adaptive), in_plain(&plain));
            access(&mut adaptive, step);
            access(&mut plain, step);
            if in_lfu_mode(&adaptive) < before.0 {
                falls.0.push(step);
            }
            if in_plain(&plain) < before.1 {
                falls.1.push(step);
            }
        }
        assert_eq!(falls.0.len(), 2, "LFU mode halved twice in two periods");
        assert_eq!(falls.0, falls.1, "and when plain LFU did");
    }

    #[test]
    fn the_shards_of_a_cache_follow_one_simulation() {
        // Four shards of 1,024 entries (keys split by their number), fed
        // phases that favour frequency, then recency, then frequency. As
        // in the cache, each shard hears of its hits in batches, before
        // its next insert.
        let shared = std::sync::Arc::new(SharedSims::new(4 * 1_024).unwrap());
        let mut shards: Vec<TinyLfuPolicy<u32>> =
            (0..4).map(|_| TinyLfuPolicy::following(1_024, shared.clone())).collect();
        let mut held: Vec<std::collections::HashSet<u32>> = vec![Default::default(); 4];
        let mut hits: Vec<Vec<Address>> = vec![Vec::new(); 4];
        let mut next = crate::verify::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut chosen = std::collections::BTreeSet::new();
        for step in 0..600_000u32 {
            let k = match (step / 200_000) % 2 {
                0 => (next() % 50_000).min(next() % 50_000) as u32,
                _ => 100_000 + step / 4 + (next() % 6_000) as u32,
            };
            let s = k as usize % 4;
            if held[s].contains(&k) {
                hits[s].push(a(k));
                continue;
            }
            shards[s].record_hits(&std::mem::take(&mut hits[s]));
            held[s].insert(k);
            for out in shards[s].insert(a(k), k) {
                assert!(held[s].remove(&out), "{out} reported but not held");
            }
            chosen.insert(shared.chosen.load(std::sync::atomic::Ordering::Relaxed));
        }
        // The last batches, so that every shard has heard the last choice.
        for (shard, hits) in shards.iter_mut().zip(&hits) {
            shard.record_hits(hits);
            assert!(shard.pending.is_empty(), "a batch replays its samples at its end");
        }
        // An empty batch hears the choice a later shard's batch made.
        shards.iter_mut().for_each(|shard| shard.record_hits(&[]));
        let now = shared.chosen.load(std::sync::atomic::Ordering::Relaxed);
        assert!(chosen.len() > 1, "the simulations changed their choice: {chosen:?}");
        for shard in &shards {
            assert!(shard.sims.is_none(), "no shard runs simulations of its own");
            assert_eq!(shard.following, now);
            assert_eq!(shard.lfu.is_some(), now == LFU_CHOICE);
        }
    }

    #[test]
    fn a_busy_shared_simulation_defers_a_shards_samples_up_to_a_bound() {
        let shared = std::sync::Arc::new(SharedSims::new(20_000).unwrap());
        let sampled: Vec<Address> = (0..).map(a).filter(|k| shared.samples(k)).take(3 + DEFERRED_SAMPLES).collect();
        let replayed = || shared.sims.lock().main.windows.len(0);
        // While another shard replays, a few samples wait for the next call
        // (on a thread of its own, so that a wait fails the test instead
        // of hanging it).
        let mut pending = sampled[..3].to_vec();
        let busy = shared.sims.lock();
        let (done, returned) = std::sync::mpsc::channel();
        let sims = shared.clone();
        std::thread::spawn(move || {
            sims.observe(&mut pending, false);
            done.send(pending).unwrap();
        });
        let mut pending = returned.recv_timeout(std::time::Duration::from_secs(10)).expect("the shard did not wait");
        drop(busy);
        assert_eq!((pending.len(), replayed()), (3, 0), "kept back, not replayed");
        shared.observe(&mut pending, false);
        assert_eq!((pending.len(), replayed()), (0, 3), "replayed once the simulations are free");
        // At the bound, the shard waits for the simulations instead.
        let mut pending = sampled[3..].to_vec();
        let busy = shared.sims.lock();
        std::thread::scope(|s| {
            let waiting = s.spawn(|| {
                shared.observe(&mut pending, false);
                pending.len()
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiting.is_finished(), "a shard holding {DEFERRED_SAMPLES} samples waits");
            drop(busy);
            assert_eq!(waiting.join().unwrap(), 0);
        });
        assert_eq!(replayed(), 3 + DEFERRED_SAMPLES);
    }

    #[test]
    fn a_shards_sketch_grows_as_the_whole_caches_would() {
        // One policy of 50,000 entries starts its sketch at 4,096 and
        // doubles it as it fills; a sixteenth of it, at 256.
        let shared = std::sync::Arc::new(SharedSims::new(16 * 3_125).unwrap());
        let mut shard = TinyLfuPolicy::<u32>::following(3_125, shared);
        assert_eq!(shard.sketch.sized_for(), 256);
        for k in 0..300 {
            shard.insert(a(k), k);
        }
        assert_eq!(shard.sketch.sized_for(), 512, "doubled once the shard held more");
        for k in 300..3_125 {
            shard.insert(a(k), k);
        }
        assert_eq!(shard.sketch.sized_for(), 3_125, "up to the shard's capacity");
    }
}
