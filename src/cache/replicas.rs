//! The window replicas of Adaptive's miniature simulations (see
//! `tinylfu.rs`): W-TinyLFU caches of one capacity that differ only in the
//! window's share, all fed the same sampled accesses. They keep one key
//! index and one sketch between them. A key gets a number once; each
//! replica links that number into its own three lists. So an access costs
//! one hash lookup however many replicas there are, and a key costs a few
//! bytes of links per replica instead of a boxed node and an index entry in
//! each.
//!
//! Each replica decides exactly as [`Segments`](super::tinylfu) with the
//! same window would: same lists, same order, same admission by the shared
//! sketch (the tests replay one against the other).

use std::collections::HashMap;

use revm::primitives::Address;

use super::tinylfu::Layout;
use super::{AddressHash, FrequencySketch, table_bytes, vec_bytes};

/// No key number.
const NONE: u32 = u32::MAX;

/// The segments a key can be in, in one replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Segment {
    Window = 0,
    Probation = 1,
    Protected = 2,
    /// Not held.
    Out = 3,
}

/// A key's place in one replica.
#[derive(Clone, Copy)]
struct Link {
    /// Towards the most recent.
    prev: u32,
    /// Towards the least recent.
    next: u32,
    segment: Segment,
    /// In protected: used since it was last put at the front.
    used: bool,
}

const OUT: Link = Link { prev: NONE, next: NONE, segment: Segment::Out, used: false };

/// A list of key numbers, most recent first.
#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    len: usize,
}

const EMPTY: List = List { head: NONE, tail: NONE, len: 0 };

/// One replica: its links by key number and its three lists.
struct Replica {
    links: Vec<Link>,
    lists: [List; 3],
    window_cap: usize,
    main_cap: usize,
    protected_cap: usize,
}

impl Replica {
    fn list(&mut self, segment: Segment) -> &mut List {
        &mut self.lists[segment as usize]
    }

    fn len(&self) -> usize {
        self.lists.iter().map(|list| list.len).sum()
    }

    fn main_len(&self) -> usize {
        self.lists[Segment::Probation as usize].len + self.lists[Segment::Protected as usize].len
    }

    /// Links `key` at the front of `segment`.
    fn push_front(&mut self, key: u32, segment: Segment) {
        let head = self.list(segment).head;
        self.links[key as usize] = Link { prev: NONE, next: head, segment, used: false };
        match head {
            NONE => self.list(segment).tail = key,
            head => self.links[head as usize].prev = key,
        }
        let list = self.list(segment);
        list.head = key;
        list.len += 1;
    }

    /// Unlinks `key` from its segment; returns the segment.
    fn unlink(&mut self, key: u32) -> Segment {
        let Link { prev, next, segment, .. } = self.links[key as usize];
        match prev {
            NONE => self.list(segment).head = next,
            prev => self.links[prev as usize].next = next,
        }
        match next {
            NONE => self.list(segment).tail = prev,
            next => self.links[next as usize].prev = prev,
        }
        self.list(segment).len -= 1;
        self.links[key as usize] = OUT;
        segment
    }

    /// The main space's next victim: probation's least recent, else
    /// protected's.
    fn main_victim(&mut self) -> Option<u32> {
        if self.lists[Segment::Probation as usize].len == 0 {
            self.settle_protected();
        }
        [Segment::Probation, Segment::Protected].iter().map(|&s| self.lists[s as usize].tail).find(|&key| key != NONE)
    }

    /// Puts protected's least recent keys back at its front while they
    /// were used since they were last put there, as `Segments` does.
    fn settle_protected(&mut self) {
        loop {
            let key = self.lists[Segment::Protected as usize].tail;
            if key == NONE || !self.links[key as usize].used {
                return;
            }
            self.unlink(key);
            self.push_front(key, Segment::Protected);
        }
    }

    /// Moves protected's overflow back to probation.
    fn demote_overflow(&mut self) {
        while self.lists[Segment::Protected as usize].len > self.protected_cap {
            self.settle_protected();
            let key = self.lists[Segment::Protected as usize].tail;
            self.unlink(key);
            self.push_front(key, Segment::Probation);
        }
    }

    /// Moves `key`, held, up: to the front of its segment, or from
    /// probation to protected; in protected, only marks it used.
    fn hit(&mut self, key: u32) {
        if self.links[key as usize].segment == Segment::Protected {
            self.links[key as usize].used = true;
            return;
        }
        match self.unlink(key) {
            Segment::Probation => {
                self.push_front(key, Segment::Protected);
                self.demote_overflow();
            }
            segment => self.push_front(key, segment),
        }
    }
}

/// The window replicas over one index of their keys; see the module docs.
pub(super) struct WindowReplicas {
    index: HashMap<Address, u32, AddressHash>,
    /// The key of each number.
    keys: Vec<Address>,
    /// How many replicas hold each number; a number no replica holds is
    /// free for the next new key.
    holders: Vec<u8>,
    free: Vec<u32>,
    replicas: Vec<Replica>,
    sketch: FrequencySketch,
    capacity: usize,
}

impl WindowReplicas {
    /// Heap bytes per key held, on average: its index entry, its address
    /// and holder count, and each replica's links.
    pub(super) const fn bytes_per_key(replicas: usize) -> usize {
        table_bytes::<(Address, u32)>() + vec_bytes::<Address>() + vec_bytes::<u8>() + replicas * vec_bytes::<Link>()
    }

    /// Empty replicas of `capacity` entries, one per window size in
    /// `windows` (each at least one entry and below the capacity).
    pub(super) fn new(capacity: usize, windows: impl IntoIterator<Item = usize>) -> WindowReplicas {
        let replicas = windows
            .into_iter()
            .map(|window_cap| {
                let main_cap = capacity - window_cap.min(capacity);
                Replica {
                    links: Vec::new(),
                    lists: [EMPTY; 3],
                    window_cap,
                    main_cap,
                    protected_cap: (main_cap as f64 * super::tinylfu::PROTECTED_SHARE) as usize,
                }
            })
            .collect();
        WindowReplicas {
            index: HashMap::default(),
            keys: Vec::new(),
            holders: Vec::new(),
            free: Vec::new(),
            replicas,
            sketch: FrequencySketch::new(capacity),
            capacity,
        }
    }

    /// The sketch every access is counted in.
    pub(super) fn sketch(&self) -> &FrequencySketch {
        &self.sketch
    }

    /// The capacity of each replica.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries replica `r` holds.
    pub(super) fn len(&self, r: usize) -> usize {
        self.replicas[r].len()
    }

    /// Replays one access through every replica: a hit moves the key up,
    /// a miss inserts it (admitting to the main space by the sketch, in
    /// which the access is counted first). `hit(r)` is called for each
    /// replica `r` that held the key.
    pub(super) fn access(&mut self, address: &Address, mut hit: impl FnMut(usize)) {
        self.sketch.increment(address);
        let key = match self.index.get(address) {
            Some(&key) => key,
            None => self.number(*address),
        };
        for r in 0..self.replicas.len() {
            if self.replicas[r].links[key as usize].segment == Segment::Out {
                self.insert(r, key);
            } else {
                self.replicas[r].hit(key);
                hit(r);
            }
        }
        // Every replica holds it now, in its window if nowhere else.
        debug_assert_eq!(self.holders[key as usize] as usize, self.replicas.len());
    }

    /// A number for a new key, with no replica holding it yet.
    fn number(&mut self, address: Address) -> u32 {
        let key = match self.free.pop() {
            Some(key) => {
                self.keys[key as usize] = address;
                key
            }
            None => {
                self.keys.push(address);
                self.holders.push(0);
                for replica in &mut self.replicas {
                    replica.links.push(OUT);
                }
                (self.keys.len() - 1) as u32
            }
        };
        self.index.insert(address, key);
        key
    }

    /// Frees `key`'s number once no replica holds it.
    fn release(&mut self, key: u32) {
        self.index.remove(&self.keys[key as usize]);
        self.free.push(key);
    }

    /// Counts one replica fewer holding `key`, unlinked from it already.
    fn let_go(&mut self, key: u32) {
        self.holders[key as usize] -= 1;
        if self.holders[key as usize] == 0 {
            self.release(key);
        }
    }

    /// Takes `key` out of replica `r`.
    fn evict(&mut self, r: usize, key: u32) {
        self.replicas[r].unlink(key);
        self.let_go(key);
    }

    /// Inserts `key` at the front of replica `r`'s window and restores its
    /// bounds, as `Segments::insert_new` does (the window never changes
    /// size here, so nothing moves from the main space to the window).
    fn insert(&mut self, r: usize, key: u32) {
        self.replicas[r].push_front(key, Segment::Window);
        self.holders[key as usize] += 1;
        while self.replicas[r].lists[Segment::Window as usize].len > self.replicas[r].window_cap {
            let candidate = self.replicas[r].lists[Segment::Window as usize].tail;
            self.replicas[r].unlink(candidate);
            self.admit(r, candidate);
        }
        while self.replicas[r].main_len() > self.replicas[r].main_cap {
            let Some(victim) = self.replicas[r].main_victim() else { break };
            self.evict(r, victim);
        }
        self.replicas[r].demote_overflow();
    }

    /// Offers `candidate`, just out of replica `r`'s window, to its main
    /// space: it goes in if there is room, or if the sketch counts it more
    /// than the main space's victim, which then goes; else it goes.
    fn admit(&mut self, r: usize, candidate: u32) {
        let replica = &mut self.replicas[r];
        if replica.main_len() < replica.main_cap {
            replica.push_front(candidate, Segment::Probation);
            return;
        }
        match replica.main_victim() {
            Some(victim)
                if self.sketch.frequency(&self.keys[candidate as usize])
                    > self.sketch.frequency(&self.keys[victim as usize]) =>
            {
                self.evict(r, victim);
                self.replicas[r].push_front(candidate, Segment::Probation);
            }
            _ => self.let_go(candidate),
        }
    }

    /// Replica `r`'s keys per segment, least recent first, and those it
    /// marked used.
    pub(super) fn layout(&self, r: usize) -> Layout {
        let replica = &self.replicas[r];
        let mut marked = Vec::new();
        let segments = std::array::from_fn(|segment| {
            let mut keys = Vec::with_capacity(replica.lists[segment].len);
            let mut key = replica.lists[segment].tail;
            while key != NONE {
                keys.push(self.keys[key as usize]);
                if replica.links[key as usize].used {
                    marked.push(self.keys[key as usize]);
                }
                key = replica.links[key as usize].prev;
            }
            keys
        });
        Layout { segments, marked }
    }
}
