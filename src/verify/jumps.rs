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
    /// Each 64-bit word of the table with how many JUMPDESTs come before
    /// it, for [`JumpDests::ordinal`].
    pub fn ranks(&self) -> Vec<(u64, u32)> {
        let mut before = 0u32;
        self.bits
            .chunks(8)
            .map(|bytes| {
                let mut word = [0u8; 8];
                word[..bytes.len()].copy_from_slice(bytes);
                let word = u64::from_le_bytes(word);
                let rank = before;
                before += word.count_ones();
                (word, rank)
            })
            .collect()
    }

    /// The position of the JUMPDEST at `pc` among all of them (0 for the
    /// first), or `None` when `pc` is not a JUMPDEST. `ranks` is
    /// [`JumpDests::ranks`].
    #[inline]
    pub fn ordinal(ranks: &[(u64, u32)], pc: usize) -> Option<usize> {
        let (word, rank) = ranks.get(pc / 64).copied().unwrap_or((0, 0));
        let bit = pc % 64;
        (word >> bit & 1 != 0).then(|| rank as usize + (word & ((1u64 << bit) - 1)).count_ones() as usize)
    }

    /// The analysed bytecode revm executes: `code` padded, with this table.
    pub fn into_bytecode(self, code: &[u8]) -> Bytecode {
        if code.is_empty() {
            return Bytecode::new(); // what revm makes of empty code
        }
        let mut padded = Vec::with_capacity(code.len() + self.padding);
        padded.extend_from_slice(code);
        padded.resize(code.len() + self.padding, STOP);
        let table = JumpTable::from_slice(&self.bits, code.len());
        // SAFETY: the padding is revm's own rule (`padding`), so a PUSH or
        // DUPN/SWAPN/EXCHANGE immediate at the end never reads past the
        // buffer, and the table covers every byte of the original code.
        unsafe { Bytecode::new_analyzed(Bytes::from(padded), code.len(), table) }
    }
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

/// The masks of one 64-byte chunk: bytes that are 0x5b, and bytes that
/// are PUSH1-PUSH32 opcodes if they are opcodes at all.
#[inline(always)]
fn chunk_masks(bytes: &[u8; CHUNK]) -> (u64, u64) {
    let (mut jumpdests, mut pushes) = (0u64, 0u64);
    for (i, word) in bytes.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        jumpdests |= zero_bytes(word ^ (ONES * JUMPDEST as u64)) << (8 * i);
        // PUSH1-PUSH32 are 0x60-0x7f: the top three bits are 011.
        pushes |= zero_bytes((word & (ONES * 0xe0)) ^ (ONES * PUSH1 as u64)) << (8 * i);
    }
    (jumpdests, pushes)
}

/// The mask of bit positions below `n`, all 64 from `n = 64` up to 127.
#[inline(always)]
fn below(n: u32) -> u64 {
    ((1u128 << n) - 1) as u64
}

/// Finds the JUMPDEST opcodes of `code` and revm's padding for it.
pub(crate) fn scan(code: &[u8]) -> JumpDests {
    let len = code.len();
    let mut bits = vec![0u8; len.div_ceil(8)];
    let mut count = 0;
    // How many bytes at the start of the next chunk are PUSH data.
    let mut carried = 0u32;
    // The last PUSH (offset) and where its immediate ends.
    let mut last_push: Option<(usize, usize)> = None;
    let mut tail = [STOP; CHUNK];
    for (chunk_index, (chunk, out)) in code.chunks(CHUNK).zip(bits.chunks_mut(CHUNK / 8)).enumerate() {
        let bytes: &[u8; CHUNK] = match chunk.try_into() {
            Ok(whole) => whole,
            Err(_) => {
                tail[..chunk.len()].copy_from_slice(chunk); // the last, short chunk
                &tail
            }
        };
        let (jumpdests, pushes) = chunk_masks(bytes);
        let mut data = below(carried);
        let mut candidates = pushes & !data;
        let (mut end, mut last_at) = (carried, None);
        while candidates != 0 {
            let lowest = candidates & candidates.wrapping_neg();
            let at = candidates.trailing_zeros();
            // PUSHn (0x5f + n) at `at`: its immediate ends at at + 1 + n.
            end = at + u32::from(bytes[at as usize & (CHUNK - 1)]) - 0x5e;
            let through_end = below(end);
            data |= through_end ^ (lowest - 1);
            candidates &= !through_end;
            last_at = Some(at);
        }
        if let Some(at) = last_at {
            let base = chunk_index * CHUNK;
            last_push = Some((base + at as usize, base + end as usize));
        }
        carried = end.saturating_sub(CHUNK as u32);
        let jumpdests = jumpdests & !data;
        count += jumpdests.count_ones() as usize;
        out.copy_from_slice(&jumpdests.to_le_bytes()[..out.len()]);
    }
    JumpDests { bits, count, padding: padding_after(code, last_push) }
}

/// revm's padding of `code` whose last PUSH is at `.0` with its immediate
/// ending at `.1` (every other instruction is one byte long).
fn padding_after(code: &[u8], last_push: Option<(usize, usize)>) -> usize {
    let len = code.len();
    let next = last_push.map_or(0, |(_, end)| end);
    let (last_op, before_last_op) = match last_push {
        // The code ends inside or right after the last PUSH.
        Some((at, end)) if end >= len => (code[at], STOP),
        _ if len == 0 => (STOP, STOP),
        // Otherwise it ends in one-byte instructions from `next` on.
        _ => {
            let before = if len >= 2 && len - 2 >= next {
                code[len - 2]
            } else {
                last_push.filter(|_| len - 1 == next).map_or(STOP, |(at, _)| code[at])
            };
            (code[len - 1], before)
        }
    };
    padding(len, next.max(len), last_op, before_last_op)
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
    fn ordinals_count_the_jumpdests_before() {
        // JUMPDESTs at 0, 63, 64, 130 (and 0x5b data at 2 inside a PUSH1).
        let mut code = vec![0x01u8; 140];
        code[0] = JUMPDEST;
        code[1] = PUSH1;
        code[2] = JUMPDEST;
        for at in [63, 64, 130] {
            code[at] = JUMPDEST;
        }
        let table = scan(&code);
        let ranks = table.ranks();
        let found: Vec<_> = (0..200).filter_map(|pc| JumpDests::ordinal(&ranks, pc).map(|k| (pc, k))).collect();
        assert_eq!(found, vec![(0, 0), (63, 1), (64, 2), (130, 3)]);
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
