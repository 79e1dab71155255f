//! The jump-destination table of legacy code and revm's padding, built
//! without decoding every instruction.
//!
//! A JUMPDEST is a 0x5b byte that is an opcode, not PUSH data. The scan
//! takes the code 64 bytes at a time, finds the 0x5b bytes and the bytes
//! that could be PUSH opcodes with word-wide bit tricks, and then steps only
//! from one real PUSH to the next, clearing the 0x5b bits its immediate
//! covers. Every other opcode is one byte long, so nothing else needs
//! decoding. The table and the padding are bit for bit what revm's own
//! analysis produces (the corpus test and the fuzz target compare them).

use revm::bytecode::bitvec::vec::BitVec;
use revm::bytecode::{Bytecode, JumpTable};
use revm::primitives::Bytes;

const STOP: u8 = 0x00;
const JUMPDEST: u8 = 0x5b;
const PUSH1: u8 = 0x60;
/// DUPN, SWAPN and EXCHANGE (0xe6-0xe8): revm pads one more byte after a
/// final one of these, for their one-byte immediate.
const DUPN: u8 = 0xe6;

/// Bytes per scanned chunk: one bit of a `u64` mask each.
const CHUNK: usize = 64;

/// The JUMPDEST opcodes of some code and how revm pads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct JumpDests {
    /// One bit per code byte, least significant bit first (revm's layout):
    /// set on JUMPDEST opcodes. `ceil(len / 8)` bytes.
    pub bits: Vec<u8>,
    /// How many bits are set.
    pub count: usize,
    /// Zero bytes revm appends so execution never reads past the end.
    pub padding: usize,
}

impl JumpDests {
    /// The analysed bytecode revm executes: `code` padded, with this table
    /// (taken over, not copied).
    pub fn into_bytecode(self, code: &[u8]) -> Bytecode {
        if code.is_empty() {
            return Bytecode::new(); // what revm makes of empty code
        }
        let mut padded = Vec::with_capacity(code.len() + self.padding);
        extend_in_blocks(&mut padded, code);
        padded.resize(code.len() + self.padding, STOP);
        let mut bits = BitVec::<u8>::from_vec(self.bits);
        bits.truncate(code.len());
        let table = JumpTable::new(bits);
        // SAFETY: the padding is revm's own rule (`padding`), so a PUSH or
        // DUPN/SWAPN/EXCHANGE immediate at the end never reads past the
        // buffer, and the table covers every byte of the original code.
        unsafe { Bytecode::new_analyzed(Bytes::from(padded), code.len(), table) }
    }
}

/// Appends `bytes` to `out` 64 bytes at a time. Each step compiles to a
/// few vector moves; one `extend_from_slice` of the whole would call the C
/// library's memcpy, which for a 24 KiB contract took 9 µs on the
/// benchmark machine (its `rep movsb` path) against 0.7 µs this way.
fn extend_in_blocks(out: &mut Vec<u8>, bytes: &[u8]) {
    let blocks = bytes.chunks_exact(CHUNK);
    let rest = blocks.remainder();
    for block in blocks {
        let block: &[u8; CHUNK] = block.try_into().expect("64 bytes");
        out.extend_from_slice(block);
    }
    out.extend_from_slice(rest);
}

/// The zero bytes revm appends to legacy code: the part of a final PUSH's
/// immediate past the end (`decode_end - len`), then a STOP unless the last
/// instruction is one, and one more byte when the last opcode that would
/// run is DUPN, SWAPN or EXCHANGE. `last_op` and `before_last_op` are the
/// last two instructions' opcodes (0 where there is none).
pub(crate) fn padding(len: usize, decode_end: usize, last_op: u8, before_last_op: u8) -> usize {
    let takes_one_byte = |op: u8| op.wrapping_sub(DUPN) < 3;
    let overflow = decode_end - len;
    if last_op == STOP {
        overflow + takes_one_byte(before_last_op) as usize
    } else {
        overflow + 1 + takes_one_byte(last_op) as usize
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// One bit per byte of `word` (little-endian), set where the byte is zero.
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    // Bit 7 of each byte: set when the byte is zero (no carries between bytes).
    let nonzero = ((word & LOW7).wrapping_add(LOW7)) | word;
    let zero_high_bits = !nonzero & !LOW7;
    // Gathers bit 8k (after the shift) into bit 56 + k; no two products
    // land on the same bit, so nothing carries into the top byte.
    (zero_high_bits >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// A set of byte values: the opcodes a caller wants picked out of the code.
#[derive(Clone, Debug)]
pub(crate) struct ByteSet {
    /// Bit `b % 64` of word `b / 64` is set when `b` is in the set.
    members: [u64; 4],
    /// For a byte-shuffle lookup by low nibble: bit `h` of entry `l` is set
    /// when `16 * h + l` is in the set, for high nibbles `h` 0-7 ...
    low_rows: [u8; 16],
    /// ... and bit `h - 8` for high nibbles 8-15.
    high_rows: [u8; 16],
    /// `(mask, value)` when the set is the bytes `b` with `b & mask ==
    /// value`, the mask having at most one bit clear (one byte, or two such
    /// as JUMP and JUMPI): then one compare finds its members.
    compare: Option<(u8, u8)>,
}

impl ByteSet {
    /// The bytes for which `is_member` holds.
    pub fn new(is_member: impl Fn(u8) -> bool) -> ByteSet {
        let mut set = ByteSet { members: [0; 4], low_rows: [0; 16], high_rows: [0; 16], compare: None };
        for byte in (0..=255u8).filter(|&b| is_member(b)) {
            set.members[byte as usize / 64] |= 1 << (byte % 64);
            let (high, low) = (byte >> 4, (byte & 15) as usize);
            let rows = if high < 8 { &mut set.low_rows } else { &mut set.high_rows };
            rows[low] |= 1 << (high % 8);
        }
        let mut masks = std::iter::once(0xff).chain((0..8).map(|bit| !(1u8 << bit)));
        set.compare = masks.find_map(|mask| {
            let value = (0..=255u8).find(|&b| set.contains(b))? & mask;
            (0..=255u8).all(|b| set.contains(b) == (b & mask == value)).then_some((mask, value))
        });
        set
    }

    /// True when one compare finds the set's members (see
    /// [`decode_comparing`]).
    pub fn has_compare(&self) -> bool {
        self.compare.is_some()
    }

    /// True when `byte` is in the set.
    #[inline(always)]
    pub fn contains(&self, byte: u8) -> bool {
        self.members[byte as usize / 64] >> (byte % 64) & 1 != 0
    }
}

/// The masks of one 64-byte chunk, one bit per byte.
#[derive(Clone, Copy)]
struct ChunkMasks<const N: usize> {
    /// Bytes that are 0x5b.
    jumpdests: u64,
    /// Bytes that are PUSH1-PUSH32 opcodes if they are opcodes at all.
    pushes: u64,
    /// Bytes in each of the caller's [`ByteSet`]s.
    marked: [u64; N],
    /// The PUSH data as if every candidate in `pushes` were a PUSH, when
    /// worked out (see [`push_data_guessed`]).
    guess: Option<Guess>,
}

/// The PUSH data of a chunk as if every PUSH candidate in it were a PUSH
/// (none inside another's immediate), worked out for all bytes at once.
#[derive(Clone, Copy)]
struct Guess {
    /// Bytes the guessed PUSHes cover, one bit per byte.
    covered: u64,
    /// Per byte, where the furthest-reaching guessed PUSH at or before it
    /// ends (offset in the chunk of the byte after its immediate; 0 when
    /// none).
    ends: [u8; CHUNK],
}

impl<const N: usize> Default for ChunkMasks<N> {
    fn default() -> Self {
        ChunkMasks { jumpdests: 0, pushes: 0, marked: [0; N], guess: None }
    }
}

/// [`ChunkMasks`] a word at a time, on any CPU.
#[inline(always)]
fn chunk_masks<const N: usize>(bytes: &[u8; CHUNK], sets: &[ByteSet; N]) -> ChunkMasks<N> {
    let mut masks = ChunkMasks::default();
    for (i, word) in bytes.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        masks.jumpdests |= zero_bytes(word ^ (ONES * JUMPDEST as u64)) << (8 * i);
        // PUSH1-PUSH32 are 0x60-0x7f: the top three bits are 011.
        masks.pushes |= zero_bytes((word & (ONES * 0xe0)) ^ (ONES * PUSH1 as u64)) << (8 * i);
    }
    for (set, marked) in sets.iter().zip(&mut masks.marked) {
        *marked = bytes.iter().enumerate().fold(0, |m, (i, &b)| m | (set.contains(b) as u64) << i);
    }
    masks
}

/// [`ChunkMasks`] with AVX2: 32 bytes per compare, the last `COMPARED`
/// sets found with one compare each and the others looked up by nibbles
/// with byte shuffles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn chunk_masks_avx2<const N: usize, const COMPARED: usize>(bytes: &[u8; CHUNK], sets: &[ByteSet; N]) -> ChunkMasks<N> {
    use std::arch::x86_64::*;
    let splat = |b: u8| _mm256_set1_epi8(b as i8);
    let both_lanes = |table: &[u8; 16]| {
        // SAFETY: `table` is 16 readable bytes; the load needs no alignment.
        _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(table.as_ptr().cast()) })
    };
    let powers: [u8; 16] = std::array::from_fn(|h| 1 << (h % 8));
    // Offset + 1 of each byte of the chunk.
    let after: [u8; CHUNK] = std::array::from_fn(|i| i as u8 + 1);
    let mut masks = ChunkMasks::default();
    let mut guess = Guess { covered: 0, ends: [0; CHUNK] };
    // The furthest end of the first half, in every byte.
    let mut first_half_end = _mm256_setzero_si256();
    for half in 0..2 {
        // SAFETY: `bytes` is 64 bytes long, so 32 from offset 0 or 32 are
        // in bounds; the load needs no alignment.
        let v = unsafe { _mm256_loadu_si256(bytes.as_ptr().add(32 * half).cast()) };
        let bits = |m: __m256i| (_mm256_movemask_epi8(m) as u32 as u64) << (32 * half);
        masks.jumpdests |= bits(_mm256_cmpeq_epi8(v, splat(JUMPDEST)));
        let pushes = _mm256_cmpeq_epi8(_mm256_and_si256(v, splat(0xe0)), splat(PUSH1));
        masks.pushes |= bits(pushes);
        // Where each candidate would end: offset + 1 + n for PUSHn (0x5f +
        // n), at most 96; then the running maximum, by doubling shifts
        // within each 16-byte lane, then across lanes and halves.
        // SAFETY: `after` is 64 bytes long; the load needs no alignment.
        let offsets = unsafe { _mm256_loadu_si256(after.as_ptr().add(32 * half).cast()) };
        let mut ends = _mm256_and_si256(_mm256_add_epi8(offsets, _mm256_sub_epi8(v, splat(0x5f))), pushes);
        ends = _mm256_max_epu8(ends, _mm256_slli_si256::<1>(ends));
        ends = _mm256_max_epu8(ends, _mm256_slli_si256::<2>(ends));
        ends = _mm256_max_epu8(ends, _mm256_slli_si256::<4>(ends));
        ends = _mm256_max_epu8(ends, _mm256_slli_si256::<8>(ends));
        let low_lane_end = _mm256_shuffle_epi8(_mm256_permute2x128_si256::<0x08>(ends, ends), splat(15));
        ends = _mm256_max_epu8(_mm256_max_epu8(ends, low_lane_end), first_half_end);
        first_half_end = _mm256_shuffle_epi8(_mm256_permute2x128_si256::<0x11>(ends, ends), splat(15));
        // Byte i + 1 is covered when a PUSH at or before i ends past it
        // (signed compare: both are below 128).
        guess.covered |= bits(_mm256_cmpgt_epi8(ends, offsets)) << 1;
        // SAFETY: 32 bytes from offset 0 or 32 of the 64 are in bounds.
        unsafe { _mm256_storeu_si256(guess.ends.as_mut_ptr().add(32 * half).cast(), ends) };
        let low = _mm256_and_si256(v, splat(15));
        let high = _mm256_and_si256(_mm256_srli_epi16::<4>(v), splat(15));
        let column = _mm256_shuffle_epi8(both_lanes(&powers), high);
        for (i, (set, marked)) in sets.iter().zip(&mut masks.marked).enumerate() {
            // (`i` and `COMPARED` are constants once the loop is unrolled.)
            if i >= N - COMPARED {
                // (Checked by `decode_comparing`; a set without one marks nothing.)
                let (mask, value) = set.compare.unwrap_or((0, 1));
                *marked |= bits(_mm256_cmpeq_epi8(_mm256_and_si256(v, splat(mask)), splat(value)));
                continue;
            }
            // The row of the byte's low nibble, from the table its top bit picks.
            let low_rows = _mm256_shuffle_epi8(both_lanes(&set.low_rows), low);
            let high_rows = _mm256_shuffle_epi8(both_lanes(&set.high_rows), low);
            let rows = _mm256_blendv_epi8(low_rows, high_rows, v);
            *marked |= bits(_mm256_cmpeq_epi8(_mm256_and_si256(rows, column), column));
        }
    }
    masks.guess = Some(guess);
    masks
}

/// The mask of bit positions below `n`, all 64 from `n = 64` up to 127.
#[inline(always)]
fn below(n: u32) -> u64 {
    ((1u128 << n) - 1) as u64
}

/// The PUSH data of a 64-byte chunk `bytes`, one bit per byte (the PUSH
/// opcodes themselves not included), given its PUSH `candidates` (bytes
/// 0x60-0x7f) and `next`, the offset in the chunk where the next
/// instruction can begin as far as the PUSHes before say (updated; it may
/// end up past the chunk).
///
/// Candidates are visited in order. One is a real PUSH when no earlier real
/// PUSH's immediate covers it, that is when it is at or past `next`. Only
/// that compare and a conditional move depend on the candidate before, so
/// the loop does not wait for a byte load per PUSH as a decoder stepping
/// from instruction to instruction does. Only the last real PUSH of a chunk
/// can reach into the next one: what it covers there follows from `next`.
#[inline(always)]
fn push_data(bytes: &[u8; CHUNK], candidates: u64, next: &mut usize) -> u64 {
    // The bytes a PUSH from before covers (at most 32).
    push_data_from(bytes, candidates, next, below(*next as u32))
}

/// [`push_data`] given the chunk's [`Guess`]. The guess is right up to
/// the first candidate it covers, or one the PUSH from before covers: every
/// candidate before that is a PUSH. Only from there on are candidates
/// visited one by one, and in 44% of the corpus's chunks there is no such
/// candidate at all.
#[inline(always)]
fn push_data_guessed(bytes: &[u8; CHUNK], candidates: u64, guess: &Guess, next: &mut usize) -> u64 {
    let data = below(*next as u32) | guess.covered;
    // The first covered candidate, or 64 (no branch on whether there is one).
    let first = (candidates & data).trailing_zeros();
    // Where the PUSHes before it end (a masked index; none before offset 0).
    let before = usize::from(guess.ends[(first as usize).wrapping_sub(1) % CHUNK]);
    *next = (*next).max(if first > 0 { before } else { 0 });
    // Up to `first` as guessed; from there, the immediate that covers it.
    let settled = (data & below(first)) | (below(*next as u32) & !below(first));
    push_data_from(bytes, candidates & !below(first), next, settled)
}

/// The loop of [`push_data`], from `data` as known so far.
#[inline(always)]
fn push_data_from(bytes: &[u8; CHUNK], mut candidates: u64, next: &mut usize, mut data: u64) -> u64 {
    while candidates != 0 {
        let at = candidates.trailing_zeros() as usize;
        candidates &= candidates - 1;
        // (A masked index: no bounds check in the loop.)
        let op = usize::from(bytes[at % CHUNK]);
        // PUSHn is 0x5f + n: it takes n + 1 bytes, and its immediate the n
        // bits after its own (those past the chunk shift out).
        let real = at >= *next;
        *next = if real { at + op - 0x5e } else { *next };
        data |= (IMMEDIATE_BITS[op] & 0u64.wrapping_sub(real as u64)) << at;
    }
    data
}

/// The immediate of PUSHn as bits after the opcode's (n bits from bit 1),
/// by opcode (PUSHn is 0x5f + n; 0 for other bytes). Indexed by the whole
/// byte, so the lookup needs no masking and no bounds check.
const IMMEDIATE_BITS: [u64; 256] = {
    let mut bits = [0u64; 256];
    let mut n = 1;
    while n <= 32 {
        bits[0x5f + n] = (2u64 << n) - 2;
        n += 1;
    }
    bits
};

/// What decoding legacy code from offset 0 yields. The masks are one bit
/// per code byte in 64-bit words, least significant bit first.
pub(crate) struct Decoded<const N: usize> {
    /// The JUMPDEST opcodes and revm's padding.
    pub table: JumpDests,
    /// Set where an instruction begins (never on PUSH data, never past the
    /// end of the code).
    pub starts: Vec<u64>,
    /// Per word, the instructions whose opcode is in each [`ByteSet`]
    /// given to [`decode`].
    pub marked: Vec<[u64; N]>,
    /// With at least one [`ByteSet`], the JUMPDEST opcodes per word (else
    /// empty).
    pub jumpdests: Vec<u64>,
}

/// Finds the JUMPDEST opcodes of `code` and revm's padding for it.
pub(crate) fn scan(code: &[u8]) -> JumpDests {
    decode(code, &[]).table
}

/// Finds where the instructions of `code` begin, the ones whose opcode is
/// in each of `sets`, its JUMPDEST opcodes and revm's padding for it.
pub(crate) fn decode<const N: usize>(code: &[u8], sets: &[ByteSet; N]) -> Decoded<N> {
    decode_comparing::<N, 0>(code, sets)
}

/// [`decode`], the last `COMPARED` of `sets` being ones that one compare
/// finds ([`ByteSet::has_compare`]): with AVX2 that takes 3 instructions
/// per 32 bytes where a lookup by nibbles takes 6.
///
/// # Panics
/// When one of the last `COMPARED` sets has no compare.
pub(crate) fn decode_comparing<const N: usize, const COMPARED: usize>(code: &[u8], sets: &[ByteSet; N]) -> Decoded<N> {
    const { assert!(COMPARED <= N, "more sets found by compare than sets") };
    assert!(sets[N - COMPARED..].iter().all(ByteSet::has_compare), "a set found by compare has none");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("bmi2")
        && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: this CPU has AVX2, BMI1, BMI2 and POPCNT, checked just above.
        return unsafe { decode_avx2::<N, COMPARED>(code, sets) };
    }
    decode_with(code, |bytes| chunk_masks(bytes, sets))
}

/// [`decode`] compiled for AVX2, so the vector code inlines, and for the
/// bit instructions of BMI1, BMI2 and POPCNT (clearing the lowest set bit,
/// shifting by a register and counting bits in one instruction each).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
fn decode_avx2<const N: usize, const COMPARED: usize>(code: &[u8], sets: &[ByteSet; N]) -> Decoded<N> {
    decode_with(code, |bytes| chunk_masks_avx2::<N, COMPARED>(bytes, sets))
}

/// [`decode`] with `masks_of` giving the [`ChunkMasks`] of each 64-byte
/// chunk, in one pass over the chunks.
#[inline(always)]
fn decode_with<const N: usize>(code: &[u8], masks_of: impl Fn(&[u8; CHUNK]) -> ChunkMasks<N>) -> Decoded<N> {
    let len = code.len();
    let whole = code.chunks_exact(CHUNK);
    let rest = whole.remainder();
    // The last, short chunk, padded with zero bytes (STOP).
    let mut tail = [STOP; CHUNK];
    tail[..rest.len()].copy_from_slice(rest);
    let tail = (!rest.is_empty()).then_some(&tail);
    // Where the next instruction can begin, relative to the chunk at hand.
    let mut next = 0;
    // (Written in place: no capacity check per chunk, nothing to copy after.)
    let words = len.div_ceil(CHUNK);
    let (mut starts, mut jumpdests) = (vec![0u64; words], vec![0u64; words]);
    let mut marked = vec![[0u64; N]; if N > 0 { words } else { 0 }];
    let mut count = 0;
    for (c, bytes) in whole.map(|bytes| bytes.try_into().expect("64 bytes")).chain(tail).enumerate() {
        let masks = masks_of(bytes);
        let data = match &masks.guess {
            Some(guess) => push_data_guessed(bytes, masks.pushes, guess, &mut next),
            None => push_data(bytes, masks.pushes, &mut next),
        };
        next = next.saturating_sub(CHUNK);
        let begins = !data & below((len - c * CHUNK).min(CHUNK) as u32);
        starts[c] = begins;
        jumpdests[c] = masks.jumpdests & begins;
        count += jumpdests[c].count_ones() as usize;
        if N > 0 {
            marked[c] = masks.marked.map(|m| m & begins);
        }
    }
    let mut bits = Vec::with_capacity(words * 8);
    for word in &jumpdests {
        bits.extend_from_slice(&word.to_le_bytes());
    }
    bits.truncate(len.div_ceil(8));
    let padding = padding_after(code, &starts);
    let jumpdests = if N > 0 { jumpdests } else { Vec::new() };
    Decoded { table: JumpDests { bits, count, padding }, starts, marked, jumpdests }
}

/// revm's padding of `code`, whose instructions begin where `starts` says.
fn padding_after(code: &[u8], starts: &[u64]) -> usize {
    let Some(last) = previous_start(starts, code.len()) else {
        return 0; // empty code
    };
    let op = code[last];
    if op & 0xe0 == PUSH1 {
        // PUSH1-PUSH32: the code ends inside or right after its immediate.
        return padding(code.len(), last + usize::from(op) - 0x5e, op, STOP);
    }
    // A PUSH before it stands for itself: padding only asks whether it is
    // DUPN, SWAPN or EXCHANGE.
    let before = previous_start(starts, last).map_or(STOP, |at| code[at]);
    padding(code.len(), code.len(), op, before)
}

/// The instruction before the one at `pc`, from the instruction starts.
pub(crate) fn previous_start(starts: &[u64], pc: usize) -> Option<usize> {
    let (word, bit) = (pc / 64, pc % 64);
    let here = starts.get(word).map_or(0, |w| w & ((1u64 << bit) - 1));
    if here != 0 {
        return Some(word * 64 + 63 - here.leading_zeros() as usize);
    }
    let (before, &found) = starts[..word].iter().enumerate().rev().find(|(_, w)| **w != 0)?;
    Some(before * 64 + 63 - found.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our analysis and revm's agree on the padded bytes, the original
    /// length and the table.
    fn assert_same_as_revm(code: &[u8]) {
        let ours = scan(code).into_bytecode(code);
        let revm = Bytecode::new_legacy(Bytes::copy_from_slice(code));
        assert_eq!(ours.bytes_slice(), revm.bytes_slice(), "padded bytes of {code:02x?}");
        assert_eq!(ours.len(), revm.len(), "length of {code:02x?}");
        assert_eq!(ours.legacy_jump_table(), revm.legacy_jump_table(), "table of {code:02x?}");
        let count: usize = revm.legacy_jump_table().unwrap().as_slice().iter().map(|b| b.count_ones() as usize).sum();
        assert_eq!(scan(code).count, count, "count of {code:02x?}");
    }

    #[test]
    fn zero_bytes_marks_exactly_the_zero_bytes() {
        for word in [0u64, u64::MAX, 0x0100_ff00_8000_0180, 0x8080_8080_8080_8080, 0x0001_0000_0100_0001] {
            let expected = (0..8).filter(|i| (word >> (8 * i)) & 0xff == 0).fold(0, |m, i| m | 1 << i);
            assert_eq!(zero_bytes(word), expected, "{word:#018x}");
        }
    }

    #[test]
    fn edge_cases_match_revm() {
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![JUMPDEST],
            vec![STOP],
            vec![0x7f],
            vec![0x60, 0x5b],
            vec![0x60, 0x5b, 0x00],
            vec![0x01, 0x00],
            vec![DUPN],
            vec![DUPN, STOP],
            vec![0xe7, STOP, STOP],
            vec![0x60, 0xe6, STOP],
            vec![0x61, 0x00, 0xe8, STOP],
            vec![JUMPDEST; 200],
            vec![0x7f; 200],
            vec![0x7f; 33],
            vec![0x7f; 34],
        ];
        // A PUSH of every width at every position around a chunk border,
        // followed by JUMPDESTs, and cut at every length.
        for width in 1..=32u8 {
            for start in 28..70 {
                let mut code = vec![0x01; start];
                code.push(PUSH1 + width - 1);
                code.extend(std::iter::repeat_n(JUMPDEST, 40));
                cases.push(code);
            }
        }
        for code in &cases {
            for cut in 0..=code.len().min(140) {
                assert_same_as_revm(&code[..cut]);
            }
            assert_same_as_revm(code);
        }
    }

    /// Where instructions begin, decoding from offset 0 one instruction
    /// after the other: the plain way `decode` must agree with.
    fn reference_starts(code: &[u8]) -> Vec<u64> {
        let mut starts = vec![0u64; code.len().div_ceil(64)];
        let mut pc = 0;
        while pc < code.len() {
            starts[pc / 64] |= 1 << (pc % 64);
            pc += if (PUSH1..=0x7f).contains(&code[pc]) { usize::from(code[pc] - PUSH1) + 2 } else { 1 };
        }
        starts
    }

    /// `decode` gives the reference's instruction starts, marks exactly the
    /// starts whose byte is in the set, finds the JUMPDESTs, and its table
    /// and padding are revm's; the portable decoder (for CPUs without AVX2)
    /// gives the same as the one this CPU runs.
    fn assert_decode_matches_reference(code: &[u8], set: &ByteSet) {
        let sets: &[ByteSet; 1] = std::slice::from_ref(set).try_into().unwrap();
        let decoded = decode(code, sets);
        let portable = decode_with(code, |bytes| chunk_masks(bytes, sets));
        assert_eq!(
            (&portable.starts, &portable.marked, &portable.jumpdests, &portable.table),
            (&decoded.starts, &decoded.marked, &decoded.jumpdests, &decoded.table),
            "portable decoder on {code:02x?}"
        );
        let starts = reference_starts(code);
        assert_eq!(decoded.starts, starts, "starts of {code:02x?}");
        let member = |pc: usize| set.contains(code[pc]);
        let marked: Vec<[u64; 1]> = (0..starts.len())
            .map(|w| [(0..64).filter(|b| starts[w] >> b & 1 != 0 && member(64 * w + b)).fold(0, |m, b| m | 1 << b)])
            .collect();
        assert_eq!(decoded.marked, marked, "marked of {code:02x?}");
        for (w, &word) in decoded.jumpdests.iter().enumerate() {
            let jumpdests = (0..64).filter(|b| starts[w] >> b & 1 != 0 && code[64 * w + b] == JUMPDEST);
            assert_eq!(word, jumpdests.fold(0, |m, b| m | 1 << b), "JUMPDESTs of {code:02x?}");
        }
        assert_eq!(decoded.table, scan(code));
        assert_same_as_revm(code);
    }

    /// Code of `len` bytes from `next`, weighted towards PUSH opcodes.
    fn random_code(next: &mut impl FnMut() -> u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| match next() % 6 {
                0 | 1 => 0x60 + (next() % 32) as u8,
                2 => JUMPDEST,
                3 => 0x7f,
                _ => next() as u8,
            })
            .collect()
    }

    #[test]
    fn decode_matches_the_one_by_one_decoder_on_random_code() {
        let mut next = crate::verify::xorshift(0x51a7_c0de_d00d_f00du64);
        let sets = [ByteSet::new(|b| b % 3 == 0), ByteSet::new(|b| b >= 0xa0 || b == JUMPDEST), ByteSet::new(|_| true)];
        for round in 0..2000 {
            let len = (next() % 700) as usize;
            let code = random_code(&mut next, len);
            assert_decode_matches_reference(&code, &sets[round % sets.len()]);
        }
    }

    #[test]
    fn decode_matches_the_one_by_one_decoder_across_chunk_borders() {
        let set = ByteSet::new(|b| b == JUMPDEST || b == STOP || b >= 0xf0);
        let mut cases: Vec<Vec<u8>> = Vec::new();
        // Runs of PUSH32, and of PUSHes of every width, over one or more
        // chunk borders, starting anywhere around one.
        for run in [1, 2, 3, 33, 64, 65, 97, 200] {
            for start in (0..140).step_by(7).chain([31, 32, 62, 63, 64, 65, 127, 128]) {
                let mut push32 = vec![JUMPDEST; start];
                push32.extend(std::iter::repeat_n(0x7f, run));
                push32.extend([JUMPDEST; 70]);
                cases.push(push32);
                let mut widths = vec![0x01; start];
                widths.extend((0..run).map(|i| PUSH1 + (i % 32) as u8));
                widths.extend([JUMPDEST; 40]);
                cases.push(widths);
            }
        }
        // A PUSH32 whose immediate ends just before, on and just after a
        // border, with a JUMPDEST after it, at every length around there.
        for at in [0, 30, 31, 32, 33, 62, 63, 64, 94, 95, 96, 127] {
            let mut code = vec![JUMPDEST; at];
            code.push(0x7f);
            code.extend([JUMPDEST; 100]);
            for cut in at..code.len() {
                cases.push(code[..cut].to_vec());
            }
        }
        for code in &cases {
            assert_decode_matches_reference(code, &set);
        }
    }

    #[test]
    fn sets_one_compare_finds_are_recognised() {
        let compare = |set: fn(u8) -> bool| ByteSet::new(set).compare;
        assert_eq!(compare(|b| b == 0x56 || b == 0x57), Some((0xfe, 0x56)));
        assert_eq!(compare(|b| b == 0x57), Some((0xff, 0x57)));
        assert_eq!(compare(|b| b == 0x00 || b == 0x80), Some((0x7f, 0x00)));
        assert_eq!(compare(|b| b == 0x56 || b == 0x58), None);
        assert_eq!(compare(|b| (0x60..=0x63).contains(&b)), None);
        assert_eq!(compare(|_| false), None);
    }

    #[test]
    fn chunk_masks_agree_with_and_without_avx2() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let mut next = crate::verify::xorshift(0x0dd_ba11_cafe_f00du64);
            for _ in 0..500 {
                let bytes: [u8; CHUNK] = std::array::from_fn(|_| next() as u8);
                let mut set = || {
                    let chosen = next();
                    ByteSet::new(|b| (chosen.rotate_left(u32::from(b)) ^ (u64::from(b) * 0x9e37)) % 5 < 2)
                };
                let (first, second) = (set(), set());
                // Two bytes one bit apart, or one byte: one compare finds them.
                let (byte, bit) = (next() as u8, next() % 9);
                let pair = ByteSet::new(|b| b == byte || bit < 8 && b == byte ^ (1 << bit));
                let sets = [first, second, pair];
                // SAFETY: the CPU has AVX2, checked above.
                let (none, none_avx2) = (chunk_masks(&bytes, &[]), unsafe { chunk_masks_avx2::<0, 0>(&bytes, &[]) });
                let (two, two_avx2) = (chunk_masks(&bytes, &sets), unsafe { chunk_masks_avx2::<3, 1>(&bytes, &sets) });
                for (portable, vector) in [
                    ((none.jumpdests, none.pushes), (none_avx2.jumpdests, none_avx2.pushes)),
                    ((two.jumpdests, two.pushes), (two_avx2.jumpdests, two_avx2.pushes)),
                ] {
                    assert_eq!(portable, vector, "{bytes:02x?}");
                }
                assert_eq!(two.marked, two_avx2.marked, "{bytes:02x?}");
            }
        }
    }

    #[test]
    fn random_code_matches_revm() {
        // A deterministic generator weighted towards PUSH, JUMPDEST, STOP
        // and DUPN bytes, the ones the scan treats specially.
        let mut next = crate::verify::xorshift(0x2545_f491_4f6c_dd1du64);
        for _ in 0..3000 {
            let len = (next() % 300) as usize;
            let code: Vec<u8> = (0..len)
                .map(|_| match next() % 6 {
                    0 => 0x60 + (next() % 32) as u8,
                    1 => JUMPDEST,
                    2 => STOP,
                    3 => 0xe6 + (next() % 3) as u8,
                    _ => next() as u8,
                })
                .collect();
            assert_same_as_revm(&code);
        }
    }
}
