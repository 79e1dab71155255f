//! A count-min sketch of access frequencies with periodic halving: the
//! "TinyLFU" filter that decides whether a newcomer deserves a place.

use revm::primitives::Address;

/// Approximate access counts for any number of keys in a fixed table.
///
/// Four rows of saturating 4-bit counts (kept in bytes, capped at 15),
/// each four times as wide as the cache so that keys rarely collide; a
/// key's estimate is the least of its four counters. After `10 × capacity`
/// increments every counter is halved, so old popularity fades.
/// Memory: 16 bytes per cache entry.
#[derive(Clone, Debug)]
pub struct FrequencySketch {
    rows: [Vec<u8>; 4],
    mask: usize,
    additions: usize,
    sample_size: usize,
    capacity: usize,
}

impl FrequencySketch {
    /// Bytes per cache entry, on average over a cache's growth: 16 at a
    /// power of two, up to 32 just past one, where a growing cache doubles
    /// its sketch.
    pub const BYTES_PER_ENTRY: usize = 16 * 144 / 100;
}

const SEEDS: [u64; 4] = [0x9e37_79b9_7f4a_7c15, 0xc2b2_ae3d_27d4_eb4f, 0x1656_67b1_9e37_79f9, 0x85eb_ca77_c2b2_ae63];
const MAX_COUNT: u8 = 15;

impl FrequencySketch {
    /// A sketch sized for a cache of `capacity` entries.
    pub fn new(capacity: usize) -> FrequencySketch {
        let width = capacity.max(16).next_power_of_two().saturating_mul(4);
        FrequencySketch {
            rows: std::array::from_fn(|_| vec![0; width]),
            mask: width - 1,
            additions: 0,
            sample_size: capacity.max(16).saturating_mul(10),
            capacity,
        }
    }

    /// The cache size this sketch was made for.
    pub fn sized_for(&self) -> usize {
        self.capacity
    }

    fn slots(&self, key: &Address) -> [usize; 4] {
        let mut low = [0u8; 8];
        low.copy_from_slice(&key[12..]);
        let mut high = [0u8; 8];
        high.copy_from_slice(&key[..8]);
        let h = u64::from_le_bytes(low) ^ u64::from_le_bytes(high).rotate_left(29);
        std::array::from_fn(|i| {
            let x = h.wrapping_add(SEEDS[i]).wrapping_mul(SEEDS[(i + 1) % 4]);
            ((x ^ (x >> 31)) as usize) & self.mask
        })
    }

    /// The estimated number of recent accesses of `key` (0 to 15).
    pub fn frequency(&self, key: &Address) -> u8 {
        let slots = self.slots(key);
        (0..4).map(|i| self.rows[i][slots[i]]).min().unwrap_or(0)
    }

    /// Records one access of `key`.
    pub fn increment(&mut self, key: &Address) {
        let slots = self.slots(key);
        let min = (0..4).map(|i| self.rows[i][slots[i]]).min().unwrap_or(0);
        if min == MAX_COUNT {
            return;
        }
        // Conservative update: raise only the counters at the minimum.
        for (row, slot) in self.rows.iter_mut().zip(slots) {
            if row[slot] == min {
                row[slot] += 1;
            }
        }
        self.additions += 1;
        if self.additions >= self.sample_size {
            self.halve();
        }
    }

    fn halve(&mut self) {
        for row in &mut self.rows {
            for c in row.iter_mut() {
                *c >>= 1;
            }
        }
        self.additions /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_grow_saturate_and_fade() {
        let mut s = FrequencySketch::new(64);
        let hot = Address::repeat_byte(1);
        for _ in 0..20 {
            s.increment(&hot);
        }
        assert_eq!(s.frequency(&hot), 15);
        assert_eq!(s.frequency(&Address::repeat_byte(2)), 0);
        // Enough other traffic halves the hot key's count.
        for i in 0..1000u32 {
            let mut a = [0u8; 20];
            a[..4].copy_from_slice(&i.to_le_bytes());
            s.increment(&Address::from(a));
        }
        assert!(s.frequency(&hot) < 15);
    }
}
