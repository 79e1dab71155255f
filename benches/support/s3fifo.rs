//! S3-FIFO (Yang et al., SOSP 2023), as the paper's Algorithm 1 states
//! it: a reference point for the hit-ratio bench, not a cache ebc runs.
//!
//! Three FIFO queues: a small one (a tenth of the capacity) that new keys
//! enter, a main one, and a ghost queue of keys recently dropped from the
//! small one, as many as the main one holds. Each cached key counts its
//! hits up to 3. A key leaving the small queue with enough hits there (one,
//! or two: descriptions differ, and the caller chooses) moves to the main
//! one, else it becomes a ghost; a ghost requested again enters the main
//! queue directly. The main queue reinserts a key with hits left
//! (taking one off) and evicts one without.

use std::collections::{HashMap, VecDeque};

/// An S3-FIFO cache of keys (values play no part in hit ratios).
pub struct S3Fifo {
    capacity: usize,
    small_capacity: usize,
    /// The main queue's share, and the ghost queue's length.
    main_capacity: usize,
    small: VecDeque<u64>,
    main: VecDeque<u64>,
    /// The cached keys, each with its hits (at most 3, one taken off each
    /// time the main queue gives it another round).
    held: HashMap<u64, u8>,
    /// Hits that move a key leaving the small queue to the main one.
    hits_to_main: u8,
    /// Ghost keys, oldest first, each with the number of its entry: a key
    /// requested again leaves `ghost_numbers` at once and its stale entry
    /// here when it reaches the front.
    ghosts: VecDeque<(u64, u64)>,
    ghost_numbers: HashMap<u64, u64>,
    next_ghost: u64,
}

impl S3Fifo {
    /// An empty cache of `capacity` keys, in which a key leaving the small
    /// queue moves to the main one if it had `hits_to_main` hits there.
    pub fn new(capacity: usize, hits_to_main: u8) -> S3Fifo {
        let small_capacity = (capacity / 10).max(1);
        S3Fifo {
            capacity,
            small_capacity,
            main_capacity: capacity.saturating_sub(small_capacity).max(1),
            small: VecDeque::new(),
            main: VecDeque::new(),
            held: HashMap::new(),
            hits_to_main,
            ghosts: VecDeque::new(),
            ghost_numbers: HashMap::new(),
            next_ghost: 0,
        }
    }

    /// Requests `key`: whether it was cached. On a miss the key is cached.
    pub fn access(&mut self, key: u64) -> bool {
        if let Some(hits) = self.held.get_mut(&key) {
            *hits = (*hits + 1).min(3);
            return true;
        }
        if self.capacity == 0 {
            return false;
        }
        while self.held.len() >= self.capacity {
            self.evict();
        }
        if self.ghost_numbers.remove(&key).is_some() {
            self.main.push_back(key);
        } else {
            self.small.push_back(key);
        }
        self.held.insert(key, 0);
        false
    }

    fn evict(&mut self) {
        if self.small.len() >= self.small_capacity {
            self.evict_small();
        } else {
            self.evict_main();
        }
    }

    /// Drops keys from the small queue until one leaves the cache: those
    /// hit more than once move to the main queue instead.
    fn evict_small(&mut self) {
        while let Some(key) = self.small.pop_front() {
            if self.held[&key] >= self.hits_to_main {
                self.main.push_back(key);
                if self.main.len() > self.main_capacity {
                    self.evict_main();
                }
            } else {
                self.held.remove(&key);
                self.add_ghost(key);
                return;
            }
        }
    }

    /// Evicts one key from the main queue, giving those with hits left
    /// another round, one hit fewer.
    fn evict_main(&mut self) {
        while let Some(key) = self.main.pop_front() {
            let hits = self.held.get_mut(&key).expect("a queued key is held");
            if *hits > 0 {
                *hits -= 1;
                self.main.push_back(key);
            } else {
                self.held.remove(&key);
                return;
            }
        }
    }

    /// Remembers `key` as a ghost, forgetting the oldest beyond as many as
    /// the main queue may hold.
    fn add_ghost(&mut self, key: u64) {
        let number = self.next_ghost;
        self.next_ghost += 1;
        self.ghost_numbers.insert(key, number);
        self.ghosts.push_back((key, number));
        while self.ghost_numbers.len() > self.main_capacity {
            let Some((old, number)) = self.ghosts.pop_front() else { break };
            if self.ghost_numbers.get(&old) == Some(&number) {
                self.ghost_numbers.remove(&old);
            }
        }
        // Keys requested again leave stale entries behind, which the loop
        // above drops only as they reach the front: sweep them out once
        // they could outnumber the live ones (amortised constant time).
        if self.ghosts.len() > 2 * self.main_capacity {
            self.ghosts.retain(|(key, number)| self.ghost_numbers.get(key) == Some(number));
        }
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        self.held.len()
    }
}
