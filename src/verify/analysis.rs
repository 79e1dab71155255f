//! Analysis of legacy code, done once at ingest.
//!
//! [`analyze`] is the cheap part every level needs: the kind of code and the
//! jump-destination table (JUMPDEST opcodes only, never PUSH data; revm's
//! padded form, exactly what consensus sees). [`inspect`] is the full
//! analysis recorded from Standard up: basic blocks, reachability from
//! offset 0, per-block stack heights, the metadata trailer, capabilities
//! and findings.
//!
//! Instructions are decoded from offset 0 across the whole code, metadata
//! included, exactly as the EVM decodes them: a JUMPDEST byte inside a
//! trailer is a valid jump target to consensus, so it is one here too.
//! Findings are not reported inside the trailer.

use revm::bytecode::Bytecode;
use revm::primitives::Address;

use super::jumps::{ByteSet, Decoded, JumpDests, decode_comparing, previous_start, scan};

use super::metadata::{Trailer, find_trailer};
use super::opcodes::{Fork, info};
use super::{DELEGATION_PREFIX, Finding, FindingKind};

const PUSH0: u8 = 0x5f;
const PUSH1: u8 = 0x60;
const PUSH2: u8 = 0x61;
const PUSH32: u8 = 0x7f;
const JUMP: u8 = 0x56;
const JUMPI: u8 = 0x57;
const JUMPDEST: u8 = 0x5b;
const DUP1: u8 = 0x80;
const SWAP1: u8 = 0x90;
const STOP: u8 = 0x00;
const RETURN: u8 = 0xf3;
const REVERT: u8 = 0xfd;
const INVALID: u8 = 0xfe;
const SELFDESTRUCT: u8 = 0xff;
const CALL: u8 = 0xf1;

/// The most stack items the EVM allows.
pub const STACK_LIMIT: usize = 1024;

/// Findings of one kind beyond this many are counted, not listed: those
/// at the lowest offsets are listed.
const MAX_FINDINGS_PER_KIND: usize = 16;

/// What kind of code this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeKind {
    /// Ordinary (legacy) EVM code.
    Legacy,
    /// An EIP-7702 delegation to this address.
    Delegation(Address),
}

/// What reachable code may do, as bit flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(pub u32);

impl Capabilities {
    /// SELFDESTRUCT.
    pub const SELFDESTRUCT: u32 = 1 << 0;
    /// DELEGATECALL.
    pub const DELEGATECALL: u32 = 1 << 1;
    /// CALLCODE.
    pub const CALLCODE: u32 = 1 << 2;
    /// CREATE.
    pub const CREATE: u32 = 1 << 3;
    /// CREATE2.
    pub const CREATE2: u32 = 1 << 4;
    /// SSTORE.
    pub const SSTORE: u32 = 1 << 5;
    /// LOG0 to LOG4.
    pub const LOG: u32 = 1 << 6;
    /// CALL whose value is not provably zero.
    pub const CALL_WITH_VALUE: u32 = 1 << 7;
    /// CALL with a value provably zero.
    pub const CALL: u32 = 1 << 8;
    /// STATICCALL.
    pub const STATICCALL: u32 = 1 << 9;
    /// TSTORE.
    pub const TSTORE: u32 = 1 << 10;

    /// Every flag with its name.
    pub const NAMES: [(u32, &'static str); 11] = [
        (Self::SELFDESTRUCT, "selfdestruct"),
        (Self::DELEGATECALL, "delegatecall"),
        (Self::CALLCODE, "callcode"),
        (Self::CREATE, "create"),
        (Self::CREATE2, "create2"),
        (Self::SSTORE, "sstore"),
        (Self::LOG, "log"),
        (Self::CALL_WITH_VALUE, "call-with-value"),
        (Self::CALL, "call"),
        (Self::STATICCALL, "staticcall"),
        (Self::TSTORE, "tstore"),
    ];

    /// True when every flag in `flags` is set.
    pub fn contains(self, flags: u32) -> bool {
        self.0 & flags == flags
    }

    /// The names of the flags that are set.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES.iter().filter(|(f, _)| self.0 & f != 0).map(|(_, n)| *n).collect()
    }

    fn of(op: u8) -> u32 {
        match op {
            SELFDESTRUCT => Self::SELFDESTRUCT,
            0xf4 => Self::DELEGATECALL,
            0xf2 => Self::CALLCODE,
            0xf0 => Self::CREATE,
            0xf5 => Self::CREATE2,
            0x55 => Self::SSTORE,
            0xa0..=0xa4 => Self::LOG,
            0xfa => Self::STATICCALL,
            0x5d => Self::TSTORE,
            _ => 0,
        }
    }
}

/// The cheap analysis every level records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analysis {
    /// Legacy code or a delegation.
    pub kind: CodeKind,
    /// The analysed code, padded and with its jump table, ready for revm.
    pub bytecode: Bytecode,
    /// How many JUMPDEST opcodes (not PUSH data) the code has.
    pub jumpdest_count: usize,
}

impl Analysis {
    /// True when `pc` is a JUMPDEST opcode, not a byte inside PUSH data.
    #[inline]
    pub fn is_jumpdest(&self, pc: usize) -> bool {
        self.bytecode.legacy_jump_table().is_some_and(|t| t.is_valid(pc))
    }
}

/// Analyses `code`: its kind, the jump table and the padded form revm
/// executes. Never fails: code that is not a well-formed delegation is
/// analysed as legacy code, and the policy decides what to make of it.
pub fn analyze(code: &[u8]) -> Analysis {
    if let Some(target) = delegation_target(code) {
        return Analysis {
            kind: CodeKind::Delegation(target),
            bytecode: Bytecode::new_eip7702(target),
            jumpdest_count: 0,
        };
    }
    let jumpdests = scan(code);
    let jumpdest_count = jumpdests.count;
    Analysis { kind: CodeKind::Legacy, bytecode: jumpdests.into_bytecode(code), jumpdest_count }
}

/// The address `code` delegates to, when it is an EIP-7702 delegation.
pub(super) fn delegation_target(code: &[u8]) -> Option<Address> {
    (code.len() == 23 && code.starts_with(&DELEGATION_PREFIX)).then(|| Address::from_slice(&code[3..]))
}

/// The full analysis: what Standard and above record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspection {
    /// Observations, at most 16 per kind.
    pub findings: Vec<Finding>,
    /// Findings beyond the per-kind limit, counted.
    pub suppressed_findings: usize,
    /// What reachable code may do.
    pub capabilities: Capabilities,
    /// The compiler metadata trailer, when there is one.
    pub trailer: Option<Trailer>,
    /// Basic blocks in the code.
    pub blocks: usize,
    /// Basic blocks reachable from offset 0.
    pub reachable_blocks: usize,
    /// True when a reachable jump's target is computed at run time (then
    /// every JUMPDEST counts as reachable).
    pub dynamic_jumps: bool,
    /// The highest stack height proven on some path, when any is known.
    pub max_stack_height: usize,
}

/// One basic block: a straight run of instructions. Packed (20 bytes):
/// a large contract has thousands. Its stack effect is worked out only
/// when a path reaches it with a known height ([`StackEffect::of`]).
#[derive(Clone, Copy, Debug, Default)]
struct Block {
    start: u32,
    /// Offset after the last instruction.
    end: u32,
    /// `PUSHn X; JUMP/JUMPI`: the target X (`NO_TARGET` when dynamic).
    target: u32,
    /// Capabilities of the block's instructions (CALL's value not yet judged).
    caps: u32,
    /// `FALLS_THROUGH`, `ENDS_IN_JUMP`, `HAS_CALL`, `UNDEFINED`.
    flags: u8,
}

impl Block {
    /// Adds an instruction's [`Op::caps`] to the block's.
    fn add(&mut self, caps: u32) {
        self.caps |= caps & !CALL_MARK;
        self.flags |= if caps & CALL_MARK != 0 { HAS_CALL } else { 0 };
    }
}

/// What a block does to the stack.
#[derive(Clone, Copy, Debug)]
struct StackEffect {
    /// Stack items the block needs on entry (at most `i16::MAX`).
    needs: i64,
    /// Stack height change from entry to exit (clamped to `i16`).
    delta: i64,
    /// Most items above the entry height at any point (at most `i16::MAX`).
    peak: i64,
}

impl StackEffect {
    /// Goes over the instructions of `block`, which begin at the set bits
    /// of `starts`, so no instruction waits for the one before it to be
    /// decoded. Most blocks of recent code are entered with an unknown
    /// height (through a dynamic jump) and never need this; older code
    /// has many that do.
    fn of(code: &[u8], starts: &[u64], block: &Block, tables: &Tables) -> StackEffect {
        let (mut needs, mut height, mut peak) = (0i32, 0i32, 0i32);
        let (start, end) = (block.start as usize, block.end as usize);
        let first = start / 64;
        for (word_index, &word) in starts[first..end.div_ceil(64)].iter().enumerate() {
            let base = (first + word_index) * 64;
            let mut rest = word & bits_between(start.max(base) - base, end.min(base + 64) - base);
            while rest != 0 {
                let pc = base + rest.trailing_zeros() as usize;
                rest &= rest - 1;
                let op = tables.ops[code[pc] as usize];
                needs = needs.max(op.inputs as i32 - height);
                height += op.delta as i32;
                peak = peak.max(height);
            }
        }
        let short = |v: i32| v.clamp(i16::MIN as i32, i16::MAX as i32) as i64;
        StackEffect { needs: short(needs), delta: short(height), peak: short(peak) }
    }

    /// True when entering with `height` items underflows or overflows.
    fn troubles(self, height: i64) -> bool {
        height < self.needs || height + self.peak > STACK_LIMIT as i64
    }
}

const NO_TARGET: u32 = u32::MAX;
/// Control can continue into the next block.
const FALLS_THROUGH: u8 = 1;
/// The block ends in JUMP or JUMPI (at `end - 1`).
const ENDS_IN_JUMP: u8 = 2;
/// The block contains a CALL, whose value needs the abstract stack.
const HAS_CALL: u8 = 4;
/// An undefined opcode ends the block (at `end - 1`).
const UNDEFINED: u8 = 8;

/// How block cutting treats an opcode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Class {
    /// Runs on into the next instruction (PUSHes and CALL included).
    Straight = 0,
    /// Begins a block.
    Jumpdest,
    /// Ends a block with a jump; JUMPI also falls through.
    Jump,
    Jumpi,
    /// Ends a block: STOP, RETURN, REVERT, INVALID, SELFDESTRUCT.
    Halt,
    /// Not an instruction at this fork: ends the block.
    Undefined,
}

/// Marks CALL in [`Op::caps`]: the block needs a second look, for the
/// call's value. No [`Capabilities`] flag uses this bit.
const CALL_MARK: u32 = 1 << 31;

/// What block cutting needs of one opcode at one fork, 8 bytes for one
/// load per instruction.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Op {
    inputs: u8,
    /// Stack height change: outputs minus inputs.
    delta: i8,
    /// Bytes the instruction takes: 1, and PUSHn's n immediate bytes.
    size: u8,
    class: Class,
    /// The opcode's [`Capabilities`], and `CALL_MARK` on CALL.
    caps: u32,
}

impl Op {
    /// Stack items the instruction produces.
    fn outputs(self) -> usize {
        (self.inputs as i32 + self.delta as i32) as usize
    }
}

/// The tables of one fork: the [`Op`] and the [`Capabilities`] of each
/// byte (without `CALL_MARK`), and the sets of opcodes the inspection looks
/// at, for [`decode`] to pick out.
struct Tables {
    fork: Fork,
    ops: [Op; 256],
    caps: [u32; 256],
    sets: [ByteSet; SETS],
}

/// How many opcode sets [`Tables::sets`] has. By index: the opcodes that
/// end a block and do not fall through (JUMP, halts and bytes that are no
/// instruction; with JUMPI, the one that falls through, they are all the
/// opcodes that end a block) ...
const SETS: usize = 5;
const STOPS: usize = 0;
/// ... those with capabilities (CALL included) ...
const CAPABLE: usize = 1;
/// ... the bytes that are no instruction at the fork ...
const UNDEFINED_OPS: usize = 2;
/// ... and, last, as one compare finds them: JUMP and JUMPI ...
const JUMPS: usize = 3;
/// ... and PUSH2, the PUSH before nearly every static jump.
const PUSH2S: usize = 4;
/// How many of the sets, at the end, one compare finds.
const COMPARED: usize = 2;

/// The opcodes that end a block in one word of [`Decoded::marked`]: those
/// that stop and JUMPI.
#[inline(always)]
fn ends(marks: &[u64; SETS]) -> u64 {
    marks[STOPS] | marks[JUMPS]
}

/// The tables of `fork`, built once per process.
fn tables(fork: Fork) -> &'static Tables {
    static TABLES: std::sync::OnceLock<Vec<Tables>> = std::sync::OnceLock::new();
    let all = TABLES.get_or_init(|| Fork::ALL.iter().map(|&f| build_tables(f)).collect());
    &all[fork as usize]
}

fn build_tables(fork: Fork) -> Tables {
    let caps: [u32; 256] = std::array::from_fn(|byte| {
        let op = byte as u8;
        if info(op, fork).is_some() { Capabilities::of(op) } else { 0 }
    });
    let ops = std::array::from_fn(|byte| {
        let op = byte as u8;
        // An undefined byte is one byte long, whatever it is at other forks.
        let Some(i) = info(op, fork) else {
            return Op { class: Class::Undefined, size: 1, inputs: 0, delta: 0, caps: 0 };
        };
        let class = match op {
            JUMPDEST => Class::Jumpdest,
            JUMP => Class::Jump,
            JUMPI => Class::Jumpi,
            STOP | RETURN | REVERT | INVALID | SELFDESTRUCT => Class::Halt,
            _ => Class::Straight,
        };
        let size = if (PUSH1..=PUSH32).contains(&op) { op - PUSH1 + 2 } else { 1 };
        let call = if op == CALL { CALL_MARK } else { 0 };
        let caps = caps[byte] | call;
        let delta = i.outputs as i8 - i.inputs as i8;
        Op { class, size, inputs: i.inputs, delta, caps }
    });
    let class = |byte: u8| ops[byte as usize].class;
    let sets = [
        ByteSet::new(|byte| class(byte).ends_block() && class(byte) != Class::Jumpi),
        ByteSet::new(|byte| ops[byte as usize].caps != 0),
        ByteSet::new(|byte| class(byte) == Class::Undefined),
        ByteSet::new(|byte| matches!(class(byte), Class::Jump | Class::Jumpi)),
        ByteSet::new(|byte| byte == PUSH2),
    ];
    Tables { fork, ops, caps, sets }
}

impl Class {
    /// True for the classes that end a block after the instruction.
    fn ends_block(self) -> bool {
        self as u8 >= Class::Jump as u8
    }

    /// The flags of the block that ends at an instruction of this class, or
    /// (JUMPDEST) of the block cut just before one, which falls into it.
    fn block_flags(self) -> u8 {
        match self {
            Class::Straight | Class::Halt => 0,
            Class::Jumpdest => FALLS_THROUGH,
            Class::Jump => ENDS_IN_JUMP,
            Class::Jumpi => ENDS_IN_JUMP | FALLS_THROUGH,
            Class::Undefined => UNDEFINED,
        }
    }
}

/// The bits of a word from `from` up to `to` (exclusive), both at most 64.
fn bits_between(from: usize, to: usize) -> u64 {
    let below = |n: usize| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    below(to) & !below(from)
}

/// [`Blocks::static_target`] of a jump at `pc` that follows PUSH data:
/// the instruction before it is then the PUSH, whose immediate ends at
/// `pc`.
#[inline(always)]
fn target_after_push_data(code: &[u8], starts: &[u64], pc: usize) -> u32 {
    start_before(starts, pc).map_or(NO_TARGET, |push| pushed_target(code, push, pc))
}

/// The target of a `PUSH2 X; JUMP/JUMPI` whose jump is at `pc`, the PUSH2
/// being the instruction before it (as the decoder's PUSH2 marks tell):
/// its two bytes. Nearly every static jump is one (98% of those in the
/// corpus), and the general case searches for the instruction before and
/// masks its immediate.
#[inline(always)]
fn push2_target(code: &[u8], pc: usize) -> u32 {
    u32::from(u16::from_be_bytes(code[pc - 2..pc].try_into().expect("2 bytes")))
}

/// Where the instruction before `pc` begins, when it is at most 64 bytes
/// earlier. The one before a jump begins at most 33 bytes earlier (after
/// a PUSH32), so in `pc`'s word of `starts` or the one before: no search.
#[inline(always)]
fn start_before(starts: &[u64], pc: usize) -> Option<usize> {
    let (word, bit) = (pc / 64, pc % 64);
    let here = starts[word] & ((1u64 << bit) - 1);
    let before = if word > 0 { starts[word - 1] } else { 0 };
    let window = (here as u128) << 64 | before as u128;
    // Bit k of the window is offset (word - 1) * 64 + k.
    (window != 0).then(|| word * 64 + 63 - window.leading_zeros() as usize)
}

/// The value the PUSH at `push`, whose immediate ends at `pc`, puts on
/// the stack, as a jump target: `NO_TARGET` when it is 2^32 - 1 or more.
#[inline(always)]
fn pushed_target(code: &[u8], push: usize, pc: usize) -> u32 {
    let n = pc - push - 1;
    let last_four = if pc >= 4 {
        u32::from_be_bytes(code[pc - 4..pc].try_into().expect("4 bytes"))
    } else {
        code[..pc].iter().fold(0, |acc, b| (acc << 8) | u32::from(*b))
    };
    let value = last_four & (u64::MAX >> (64 - 8 * n.min(4))) as u32;
    // Longer immediates are offsets when their leading bytes are zero.
    let fits = n <= 4 || code[push + 1..pc - 4].iter().all(|b| *b == 0);
    if fits { value.min(NO_TARGET - 1) } else { NO_TARGET }
}

/// The basic blocks of non-empty legacy code, found by offset from the
/// decoder's word masks. A block begins at offset 0, after every
/// instruction that ends one and at every JUMPDEST, so the block heads of 64
/// offsets are a few word operations; a block is worked out when it is
/// asked for, and most questions are answered without visiting blocks.
struct Blocks<'a> {
    code: &'a [u8],
    tables: &'a Tables,
    starts: &'a [u64],
    /// [`Decoded::marked`] with the sets of [`Tables::sets`].
    marked: &'a [[u64; SETS]],
    /// [`Decoded::jumpdests`].
    jumpdests: &'a [u64],
    /// Per 64 offsets: where blocks begin, and which the block before
    /// falls into.
    heads: Vec<Heads>,
}

/// The block heads of 64 offsets.
#[derive(Clone, Copy)]
struct Heads {
    /// The bits where a block begins.
    word: u64,
    /// How many blocks begin before them.
    before: u32,
    /// The heads that the block before falls into.
    entered: u64,
}

/// The block heads of non-empty code of `len` bytes, per word of its
/// decoding: compiled with POPCNT where the CPU has it (as every x86-64 CPU
/// since 2009 does), which counts a word's heads in one instruction where
/// the baseline takes 17.
fn heads(len: usize, decoded: &Decoded<SETS>) -> Vec<Heads> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: this CPU has POPCNT, checked just above.
        return unsafe { heads_popcnt(len, decoded) };
    }
    heads_with(len, decoded)
}

/// [`heads`] compiled for POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn heads_popcnt(len: usize, decoded: &Decoded<SETS>) -> Vec<Heads> {
    heads_with(len, decoded)
}

/// [`heads`], for the caller's target features.
#[inline(always)]
fn heads_with(len: usize, decoded: &Decoded<SETS>) -> Vec<Heads> {
    let words = decoded.starts.len();
    // Bits carried from the word before: a block begins after its last
    // byte ends one, and is not entered from it when that one stops.
    let (mut after_end, mut after_stop, mut count) = (1u64, 1u64, 0u32);
    // (Written in place: a push's grow path made the loop keep its state on
    // the stack.)
    let mut heads = vec![Heads { word: 0, before: 0, entered: 0 }; words];
    for (index, (head, (marks, &jumpdests))) in
        heads.iter_mut().zip(decoded.marked.iter().zip(&decoded.jumpdests)).enumerate()
    {
        // Only an end at the last byte would mark a head past the end.
        let in_code = if index + 1 == words { bits_between(0, len - index * 64) } else { u64::MAX };
        let (ends, stops) = (ends(marks), marks[STOPS]);
        let word = ((ends << 1) | after_end | jumpdests) & in_code;
        *head = Heads { word, before: count, entered: word & !((stops << 1) | after_stop) };
        (after_end, after_stop) = (ends >> 63, stops >> 63);
        count += word.count_ones();
    }
    heads
}

impl<'a> Blocks<'a> {
    fn new(code: &'a [u8], tables: &'a Tables, decoded: &'a Decoded<SETS>) -> Blocks<'a> {
        let heads = heads(code.len(), decoded);
        Blocks { code, tables, starts: &decoded.starts, marked: &decoded.marked, jumpdests: &decoded.jumpdests, heads }
    }

    /// How many blocks there are.
    fn count(&self) -> usize {
        self.heads.last().map_or(0, |h| h.before as usize + h.word.count_ones() as usize)
    }

    /// Whether the instruction at `pc` ends a block.
    fn ends_block_at(&self, pc: usize) -> bool {
        ends(&self.marked[pc / 64]) >> (pc % 64) & 1 != 0
    }

    /// Whether the block beginning at `start` (within the code) begins with
    /// a JUMPDEST ...
    fn at_jumpdest(&self, start: usize) -> bool {
        self.jumpdests[start / 64] >> (start % 64) & 1 != 0
    }

    /// ... or is entered from the block before it.
    fn entered(&self, start: usize) -> bool {
        self.heads[start / 64].entered >> (start % 64) & 1 != 0
    }

    /// Whether a jump to `target` lands on a JUMPDEST.
    fn is_jumpdest(&self, target: u32) -> bool {
        // (The words hold no JUMPDEST past the end of the code: one bounds
        // test covers both.)
        let target = target as usize;
        self.jumpdests.get(target / 64).is_some_and(|word| word >> (target % 64) & 1 != 0)
    }

    /// The index of the block that holds `pc` (within the code).
    fn index_at(&self, pc: usize) -> usize {
        let Heads { word, before, .. } = self.heads[pc / 64];
        let upto = (2u64 << (pc % 64)).wrapping_sub(1);
        before as usize + (word & upto).count_ones() as usize - 1
    }

    /// Where the block that holds `pc` begins.
    fn start_at(&self, pc: usize) -> usize {
        let (mut index, upto) = (pc / 64, (2u64 << (pc % 64)).wrapping_sub(1));
        let mut word = self.heads[index].word & upto;
        while word == 0 {
            index -= 1; // offset 0 begins a block
            word = self.heads[index].word;
        }
        index * 64 + 63 - word.leading_zeros() as usize
    }

    /// Where the block beginning at `start` ends: the next head, or the end.
    fn end_of(&self, start: usize) -> usize {
        let mut index = start / 64;
        let mut word = self.heads[index].word & !(2u64 << (start % 64)).wrapping_sub(1);
        while word == 0 {
            index += 1;
            match self.heads.get(index) {
                Some(next) => word = next.word,
                None => return self.code.len(),
            }
        }
        index * 64 + word.trailing_zeros() as usize
    }

    /// The block beginning at `start`, with its capabilities.
    fn block(&self, start: usize) -> Block {
        let (code, end) = (self.code, self.end_of(start));
        let last = end - 1;
        // It ends with an instruction of its own, or falls into a JUMPDEST,
        // or runs off the end (an implicit STOP).
        let flags = if self.ends_block_at(last) {
            self.tables.ops[code[last] as usize].class.block_flags()
        } else if end < code.len() {
            FALLS_THROUGH
        } else {
            0
        };
        let target = if flags & ENDS_IN_JUMP != 0 { self.static_target(last) } else { NO_TARGET };
        let mut block = Block { start: start as u32, end: end as u32, target, caps: 0, flags };
        self.each(CAPABLE, start, end, |pc| block.add(self.tables.ops[code[pc] as usize].caps));
        block
    }

    /// The target of a `PUSHn X; JUMP/JUMPI` whose jump is at `pc`, or
    /// `NO_TARGET` (also when `pc` is no jump).
    fn static_target(&self, pc: usize) -> u32 {
        let after_push2 = pc.checked_sub(3).is_some_and(|push| self.marked[push / 64][PUSH2S] >> (push % 64) & 1 != 0);
        if after_push2 {
            return push2_target(self.code, pc);
        }
        let Some(previous) = start_before(self.starts, pc) else {
            return NO_TARGET; // nothing before `pc`
        };
        // PUSHn is 0x5f + n; its immediate ends at `pc`. (When `pc` is PUSH
        // data, the PUSH before it does not end there.)
        let n = self.code[previous].wrapping_sub(PUSH0) as usize;
        if n.wrapping_sub(1) < 32 && previous + 1 + n == pc {
            pushed_target(self.code, previous, pc)
        } else {
            NO_TARGET
        }
    }

    /// Calls `each` with the instructions of set `set` from `from` up to
    /// `to`, in order.
    #[inline(always)]
    fn each(&self, set: usize, from: usize, to: usize, mut each: impl FnMut(usize)) {
        if from >= to {
            return;
        }
        let (first, last) = (from / 64, (to - 1) / 64);
        for index in first..=last {
            let head = if index == first { u64::MAX << (from % 64) } else { u64::MAX };
            let tail = if index == last { bits_between(0, to - last * 64) } else { u64::MAX };
            for_each_bit(index, self.marked[index][set] & head & tail, &mut each);
        }
    }

    /// The block starts in order.
    fn starts(&self) -> impl Iterator<Item = usize> + '_ {
        self.heads.iter().enumerate().flat_map(|(index, h)| offsets(index, h.word))
    }
}

/// Collects findings with a per-kind limit, keeping those at the lowest
/// offsets whatever the order they come in.
struct Findings {
    list: Vec<Finding>,
    per_kind: [usize; 8],
    suppressed: usize,
    /// Offsets at or past this are metadata: no findings there.
    code_end: usize,
}

impl Findings {
    fn push(&mut self, kind: FindingKind, offset: usize, message: impl FnOnce() -> String) {
        if offset >= self.code_end {
            return;
        }
        let count = &mut self.per_kind[kind as usize];
        *count += 1;
        if *count <= MAX_FINDINGS_PER_KIND {
            self.list.push(Finding { kind, offset, message: message() });
        } else {
            self.over_limit(kind, offset, message);
        }
    }

    /// A finding of a kind already at the limit: it replaces the listed one
    /// of its kind at the highest offset, if that is higher.
    #[cold]
    #[inline(never)]
    fn over_limit(&mut self, kind: FindingKind, offset: usize, message: impl FnOnce() -> String) {
        self.suppressed += 1;
        let listed = self.list.iter_mut().filter(|f| f.kind == kind);
        if let Some(highest) = listed.max_by_key(|f| f.offset).filter(|f| f.offset > offset) {
            *highest = Finding { kind, offset, message: message() };
        }
    }
}

/// Walks one reachable block with an abstract stack of known constants,
/// for capabilities (a CALL's value proven zero or not) and, when the
/// entry height is known, stack underflow and overflow.
fn simulate(
    code: &[u8],
    b: &Block,
    tables: &Tables,
    entry: Option<usize>,
    findings: &mut Findings,
    known: &mut Vec<Option<bool>>,
) -> u32 {
    let mut caps = 0;
    // The values the block has put on top of its entry stack and not yet
    // taken off, bottom first: Some(true) = zero. Each instruction adds at
    // most one and takes at least a byte, so the block's length bounds
    // them: `known` is indexed, never grown, inside the loop.
    let (start, end) = (b.start as usize, b.end as usize);
    if known.len() < end - start {
        known.resize(end - start, None);
    }
    let mut len = 0;
    let mut height = entry.map(|h| h as isize);
    let mut pc = start;
    while pc < end {
        let op = code[pc];
        let op_info = tables.ops[op as usize];
        if op_info.class == Class::Undefined {
            break;
        }
        let name = || info(op, Fork::LATEST).map_or("?", |i| i.name);
        let mut next = pc + 1;
        caps |= tables.caps[op as usize];
        if op == CALL {
            let value_zero = len >= 3 && known[len - 3] == Some(true);
            caps |= if value_zero { Capabilities::CALL } else { Capabilities::CALL_WITH_VALUE };
        }
        if let Some(h) = height.as_mut() {
            if (*h) < op_info.inputs as isize {
                findings.push(FindingKind::InvalidStackOperation, pc, || {
                    format!("{} needs {} stack items; this path has {}", name(), op_info.inputs, h)
                });
                return caps;
            }
            *h += op_info.delta as isize;
            if *h > STACK_LIMIT as isize {
                findings.push(FindingKind::InvalidStackOperation, pc, || {
                    format!("{} overflows the stack limit of {STACK_LIMIT}", name())
                });
                return caps;
            }
        }
        let value = match op {
            PUSH0 => Some(Some(true)),
            PUSH1..=PUSH32 => {
                next = pc + 1 + (op - PUSH1 + 1) as usize;
                let imm = &code[pc + 1..next.min(code.len())];
                Some(Some(imm.iter().all(|b| *b == 0)))
            }
            // A copy of a value from below the block's own is not known.
            DUP1..=0x8f => Some(len.checked_sub((op - DUP1 + 1) as usize).and_then(|i| known[i])),
            SWAP1..=0x9f => {
                let depth = (op - SWAP1 + 1) as usize;
                if len > depth {
                    known.swap(len - 1, len - 1 - depth);
                } else if len > 0 {
                    known[len - 1] = None; // swapped with a value from below
                }
                None
            }
            _ => {
                len = len.saturating_sub(op_info.inputs as usize);
                // (No instruction but DUPs puts more than one value.)
                (op_info.outputs() > 0).then_some(None)
            }
        };
        if let Some(value) = value {
            known[len] = value;
            len += 1;
        }
        pc = next;
    }
    caps
}

/// Entry heights per block, one `u32` each: not yet reached, reached with
/// an unknown height (paths disagree, or a dynamic jump), or a height.
const UNSEEN: u32 = u32::MAX;
const UNKNOWN: u32 = u32::MAX - 1;

/// Records that block `i` can be entered with stack height `h` (`UNKNOWN`
/// when not known) and queues `(at, height)` when that is news, `at` being
/// how the caller finds the block again. Disagreeing heights make the entry
/// unknown, so every block is queued at most twice.
fn visit(at: u32, i: usize, h: u32, work: &mut Vec<(u32, u32)>, entry: &mut [u32]) {
    let merged = match entry[i] {
        UNSEEN => h,
        UNKNOWN => return,
        old if old == h => return,
        _ => UNKNOWN,
    };
    entry[i] = merged;
    work.push((at, merged));
}

/// The height a block hands on to the next one or a jump target when
/// entered with `h` (`UNKNOWN` in, or trouble on the way: `UNKNOWN` out).
fn exit_height(code: &[u8], starts: &[u64], tables: &Tables, b: &Block, h: u32) -> u32 {
    if h == UNKNOWN {
        return UNKNOWN;
    }
    let effect = StackEffect::of(code, starts, b, tables);
    if effect.troubles(h as i64) { UNKNOWN } else { (h as i64 + effect.delta) as u32 }
}

/// Calls `each` with the offsets of the set bits of `word`, the word for
/// offsets from `64 * index` on, in order.
#[inline(always)]
fn for_each_bit(index: usize, mut word: u64, mut each: impl FnMut(usize)) {
    while word != 0 {
        each(index * 64 + word.trailing_zeros() as usize);
        word &= word - 1;
    }
}

/// The offsets of the set bits of `word`, the word for offsets from
/// `64 * index` on, in order.
fn offsets(index: usize, mut word: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let bit = (word != 0).then(|| word.trailing_zeros() as usize)?;
        word &= word - 1;
        Some(index * 64 + bit)
    })
}

/// Records a static jump at `pc` to `target`, which is no JUMPDEST.
#[cold]
fn bad_jump(pc: usize, target: u32, tally: &mut Tally) {
    tally
        .findings
        .push(FindingKind::InvalidJumpDest, pc, || format!("static jump to {target:#x}, which is not a JUMPDEST"));
}

/// The inspection being put together.
struct Tally {
    out: Inspection,
    findings: Findings,
    /// Scratch for [`simulate`].
    known: Vec<Option<bool>>,
}

impl Blocks<'_> {
    /// Records that the block at `start` can be entered with stack height
    /// `h` ([`visit`]).
    fn visit(&self, start: usize, h: u32, work: &mut Vec<(u32, u32)>, entry: &mut [u32]) {
        visit(start as u32, self.index_at(start), h, work, entry);
    }

    /// Entry heights per block (`UNSEEN` where not reached) through
    /// fall-through and static jumps from offset 0, or `None` as soon as a
    /// reached block jumps to a computed target: then any JUMPDEST may be
    /// entered with any height ([`Blocks::inspect_with_dynamic_jumps`]).
    fn walk_static(&self) -> Option<Vec<u32>> {
        let mut entry = vec![UNSEEN; self.count()];
        let mut work = Vec::with_capacity(64);
        self.visit(0, 0, &mut work, &mut entry);
        while let Some((start, h)) = work.pop() {
            let b = self.block(start as usize);
            let exit = exit_height(self.code, self.starts, self.tables, &b, h);
            if b.flags & ENDS_IN_JUMP != 0 {
                if b.target == NO_TARGET {
                    return None;
                }
                // A static jump to a non-JUMPDEST is a finding, not an edge.
                if self.is_jumpdest(b.target) {
                    self.visit(b.target as usize, exit, &mut work, &mut entry);
                }
            }
            if b.flags & FALLS_THROUGH != 0 && (b.end as usize) < self.code.len() {
                self.visit(b.end as usize, exit, &mut work, &mut entry);
            }
        }
        Some(entry)
    }

    /// Inspects reachable block `b` entered with height `h` (or `UNKNOWN`):
    /// findings, the highest stack, capabilities. Returns the height it
    /// hands on (`UNKNOWN` when not known or in trouble).
    fn inspect_block(&self, b: &Block, h: u32, tally: &mut Tally) -> u32 {
        let (code, last) = (self.code, b.end as usize - 1);
        tally.out.reachable_blocks += 1;
        if b.flags & UNDEFINED != 0 {
            self.undefined(last, tally);
        }
        if b.flags & ENDS_IN_JUMP != 0 {
            self.check_jump(last, b.target, tally);
        }
        let h = (h != UNKNOWN).then_some(h as usize);
        let (mut trouble, mut exit) = (false, UNKNOWN);
        if let Some(h) = h {
            let effect = StackEffect::of(code, self.starts, b, self.tables);
            trouble = effect.troubles(h as i64);
            tally.out.max_stack_height = tally.out.max_stack_height.max((h as i64 + effect.peak).max(0) as usize);
            if !trouble {
                exit = (h as i64 + effect.delta) as u32;
            }
        }
        // Most blocks need no second walk: their capabilities were collected
        // with the block, and their stack provably fits.
        if b.flags & HAS_CALL != 0 || trouble {
            let entry = h.filter(|_| trouble);
            tally.out.capabilities.0 |= simulate(code, b, self.tables, entry, &mut tally.findings, &mut tally.known);
        } else {
            tally.out.capabilities.0 |= b.caps;
        }
        exit
    }

    /// The finding for the undefined byte at `pc`, in a reachable block.
    fn undefined(&self, pc: usize, tally: &mut Tally) {
        let (byte, fork) = (self.code[pc], self.tables.fork);
        tally.findings.push(FindingKind::InvalidOpcode, pc, || {
            format!("byte {byte:#04x} is not an instruction at {}", fork.name())
        });
    }

    /// The finding for a reachable jump at `pc` to static `target` when that
    /// is no JUMPDEST.
    #[inline(always)]
    fn check_jump(&self, pc: usize, target: u32, tally: &mut Tally) {
        if target != NO_TARGET && !self.is_jumpdest(target) {
            bad_jump(pc, target, tally);
        }
    }

    /// Inspects every block with a height in `entry` from
    /// [`Blocks::walk_static`].
    fn inspect_reached(&self, entry: &[u32], tally: &mut Tally) {
        for (start, &h) in self.starts().zip(entry) {
            if h != UNSEEN {
                self.inspect_block(&self.block(start), h, tally);
            }
        }
    }

    /// Inspects code with a reachable jump to a computed target. Every
    /// JUMPDEST is then reachable with an unknown height, and a block that
    /// does not begin with one is entered only from the block before it.
    /// So heights are known from block 0 up to the first JUMPDEST (a few
    /// blocks, inspected one by one); past that, the blocks no path reaches
    /// are found from the heads, and findings and capabilities come from
    /// the instructions that have them, without visiting the other blocks.
    fn inspect_with_dynamic_jumps(&self, tally: &mut Tally) {
        let (code, len) = (self.code, self.code.len());
        let mut chain_end = 0;
        if !self.at_jumpdest(0) {
            let mut h = 0;
            loop {
                let b = self.block(chain_end);
                h = self.inspect_block(&b, h, tally);
                chain_end = b.end as usize;
                if h == UNKNOWN || chain_end == len || !self.entered(chain_end) || self.at_jumpdest(chain_end) {
                    break;
                }
            }
        }
        // Past the chain, a word at a time: the blocks no path reaches, then
        // the undefined bytes, the jumps that can have a static target (only
        // one right after PUSH data can: not one after an instruction start)
        // and the instructions with capabilities, a block at a time. A block
        // with a CALL is simulated for the call's value.
        let mut open: Option<Block> = None;
        let close = |open: Option<Block>, tally: &mut Tally| match open {
            Some(b) if b.flags & HAS_CALL != 0 => {
                tally.out.capabilities.0 |= simulate(code, &b, self.tables, None, &mut tally.findings, &mut tally.known)
            }
            Some(b) => tally.out.capabilities.0 |= b.caps,
            None => {}
        };
        let first = chain_end / 64;
        let mut after_start = if first > 0 { self.starts[first - 1] >> 63 } else { 1 };
        let mut push2s_before = if first > 0 { self.marked[first - 1][PUSH2S] } else { 0 };
        let mut dead = vec![0u64; self.heads.len()];
        let mut dead_blocks = 0;
        // (Indexed: a zip of these slices kept its state on the stack. They
        // are of one length; their minimum lets the compiler drop bounds
        // checks.)
        let words = dead.len().min(self.marked.len()).min(self.starts.len()).min(self.jumpdests.len());
        for index in first..words {
            // Blocks no path reaches begin here: neither JUMPDESTs nor block
            // 0, nor entered from the block before (none of the chain's).
            // They are marked with the blocks they fall into, which may
            // reach into later words.
            let Heads { word, entered, .. } = self.heads[index];
            let not_first = if index == 0 { !1 } else { !0 };
            for_each_bit(index, word & !self.jumpdests[index] & !entered & not_first, |start| {
                dead_blocks += self.mark_dead(start, &mut dead);
            });
            let (marks, starts, dead) = (&self.marked[index], self.starts[index], dead[index]);
            let live = !dead & if index == first { u64::MAX << (chain_end % 64) } else { u64::MAX };
            let after_push_data = !((starts << 1) | after_start);
            after_start = starts >> 63;
            // Jumps three bytes after a PUSH2: their targets are its two bytes.
            let after_push2 = (marks[PUSH2S] << 3) | (push2s_before >> 61);
            push2s_before = marks[PUSH2S];
            for_each_bit(index, marks[UNDEFINED_OPS] & live, |pc| self.undefined(pc, tally));
            let static_jumps = marks[JUMPS] & live & after_push_data;
            for_each_bit(index, static_jumps & after_push2, |pc| self.check_jump(pc, push2_target(code, pc), tally));
            for_each_bit(index, static_jumps & !after_push2, |pc| {
                self.check_jump(pc, target_after_push_data(code, self.starts, pc), tally)
            });
            for_each_bit(index, marks[CAPABLE] & live, |pc| {
                if open.is_none_or(|b| pc >= b.end as usize) {
                    close(open.take(), tally);
                    let start = self.start_at(pc);
                    open = Some(Block {
                        start: start as u32,
                        end: self.end_of(start) as u32,
                        target: NO_TARGET,
                        caps: 0,
                        flags: 0,
                    });
                }
                open.as_mut().expect("opened above").add(self.tables.ops[code[pc] as usize].caps);
            });
        }
        close(open, tally);
        tally.out.reachable_blocks = self.count() - dead_blocks; // the chain's included
    }

    /// Marks in `dead` the block at `start`, which no path reaches, and the
    /// blocks it falls into up to a JUMPDEST. Returns how many blocks.
    fn mark_dead(&self, mut start: usize, dead: &mut [u64]) -> usize {
        let mut blocks = 0;
        loop {
            let end = self.end_of(start);
            for (w, word) in dead.iter_mut().enumerate().take(end.div_ceil(64)).skip(start / 64) {
                *word |= bits_between(start.max(w * 64) - w * 64, (end - w * 64).min(64));
            }
            blocks += 1;
            if end == self.code.len() || !self.entered(end) || self.at_jumpdest(end) {
                return blocks;
            }
            start = end;
        }
    }
}

/// The full analysis of legacy `code` at `fork`. Delegations and empty
/// code yield an empty inspection.
pub fn inspect(code: &[u8], analysis: &Analysis, fork: Fork) -> Inspection {
    if analysis.kind != CodeKind::Legacy || code.is_empty() {
        return Inspection::default();
    }
    inspect_legacy(code, fork).0
}

/// [`analyze`] and [`inspect`] together, with one pass over the
/// instructions: block cutting also finds the JUMPDESTs and revm's padding.
/// The results are those of the two calls.
pub fn analyze_and_inspect(code: &[u8], fork: Fork) -> (Analysis, Inspection) {
    if delegation_target(code).is_some() || code.is_empty() {
        return (analyze(code), Inspection::default());
    }
    let (inspection, table) = inspect_legacy(code, fork);
    let jumpdest_count = table.count;
    let analysis = Analysis { kind: CodeKind::Legacy, bytecode: table.into_bytecode(code), jumpdest_count };
    (analysis, inspection)
}

/// The full analysis of non-empty legacy `code`, and its jump table.
fn inspect_legacy(code: &[u8], fork: Fork) -> (Inspection, JumpDests) {
    let trailer = find_trailer(code);
    let code_end = trailer.as_ref().map_or(code.len(), |t| t.start);
    let findings = Findings { list: Vec::new(), per_kind: [0; 8], suppressed: 0, code_end };
    let mut tally = Tally { out: Inspection { trailer, ..Inspection::default() }, findings, known: Vec::new() };
    let tables = tables(fork);
    let decoded = decode_comparing::<SETS, COMPARED>(code, &tables.sets);
    let last = previous_start(&decoded.starts, code.len()).expect("non-empty code has an instruction");
    let have = code.len() - last - 1;
    let n = tables.ops[code[last] as usize].size as usize - 1;
    if have < n {
        tally.findings.push(FindingKind::TruncatedPush, last, || {
            format!("PUSH{n} at the end of the code has {have} of its {n} immediate bytes")
        });
    }
    let blocks = Blocks::new(code, tables, &decoded);
    tally.out.blocks = blocks.count();
    match blocks.walk_static() {
        Some(entry) => blocks.inspect_reached(&entry, &mut tally),
        None => {
            tally.out.dynamic_jumps = true;
            blocks.inspect_with_dynamic_jumps(&mut tally);
        }
    }
    let Tally { mut out, mut findings, .. } = tally;
    findings.list.sort_by_key(|f| (f.offset, f.kind as u32));
    out.findings = findings.list;
    out.suppressed_findings = findings.suppressed;
    (out, decoded.table)
}

/// A slow, plain inspection to check the fast one against (tests and the
/// fuzz targets, which cargo-fuzz builds with `--cfg fuzzing`).
#[cfg(any(test, fuzzing))]
pub mod long_way {
    use super::*;

    /// An immediate as an offset when it has at most four significant bytes.
    fn small_immediate(bytes: &[u8]) -> Option<usize> {
        let significant = bytes.iter().position(|b| *b != 0).map_or(&[][..], |i| &bytes[i..]);
        (significant.len() <= 4).then(|| significant.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize))
    }

    /// The blocks of `code` cut the long way, decoding instructions one by
    /// one: a block ends after each jump, halt or undefined byte and before
    /// each JUMPDEST (unless it is empty). Also a truncated final PUSH.
    pub(super) fn blocks_one_by_one(code: &[u8], tables: &Tables) -> (Vec<Block>, Option<usize>) {
        let fresh = |start: usize| Block { start: start as u32, end: 0, target: NO_TARGET, caps: 0, flags: 0 };
        let (mut blocks, mut current, mut previous, mut pc) = (Vec::new(), fresh(0), None::<usize>, 0);
        while pc < code.len() {
            let op = tables.ops[code[pc] as usize];
            if op.class == Class::Jumpdest && pc != current.start as usize {
                current.end = pc as u32;
                current.flags |= FALLS_THROUGH;
                blocks.push(std::mem::replace(&mut current, fresh(pc)));
            }
            current.add(op.caps);
            let next = pc + op.size as usize;
            if op.class.ends_block() {
                current.end = pc as u32 + 1;
                current.flags |= op.class.block_flags();
                if current.flags & ENDS_IN_JUMP != 0 {
                    let push = previous.filter(|&p| (PUSH1..=PUSH32).contains(&code[p]));
                    let target = push.and_then(|p| small_immediate(&code[p + 1..pc]));
                    current.target = target.map_or(NO_TARGET, |t| t.min(NO_TARGET as usize - 1) as u32);
                }
                blocks.push(std::mem::replace(&mut current, fresh(next)));
            }
            previous = Some(pc);
            pc = next;
        }
        if (current.start as usize) < code.len() {
            current.end = code.len() as u32; // running off the end: an implicit STOP
            blocks.push(current);
        }
        (blocks, previous.filter(|_| pc > code.len()))
    }

    /// The inspection the long way: blocks cut one by one; the full walk,
    /// which once a computed jump is reached queues every JUMPDEST with an
    /// unknown height and goes on until nothing changes; then every block
    /// reached inspected by [`Blocks::inspect_block`]. For legacy code; what
    /// [`inspect`] must give, which the tests and the analysis fuzz target
    /// check.
    pub fn inspect_the_long_way(code: &[u8], fork: Fork) -> Inspection {
        let tables = tables(fork);
        let (blocks, truncated) = blocks_one_by_one(code, tables);
        let index_of = |t: u32| {
            let i = blocks.binary_search_by_key(&t, |b| b.start).ok()?;
            (code[t as usize] == JUMPDEST).then_some(i)
        };
        let decoded = decode_comparing::<SETS, COMPARED>(code, &tables.sets);
        let (mut entry, mut work) = (vec![UNSEEN; blocks.len()], Vec::new());
        let (mut dynamic, mut queued_all) = (false, false);
        visit(0, 0, 0, &mut work, &mut entry);
        while let Some((i, h)) = work.pop() {
            let b = &blocks[i as usize];
            let exit = exit_height(code, &decoded.starts, tables, b, h);
            if b.flags & ENDS_IN_JUMP != 0 {
                match index_of(b.target) {
                    _ if b.target == NO_TARGET => dynamic = true,
                    Some(j) => visit(j as u32, j, exit, &mut work, &mut entry),
                    None => {}
                }
            }
            let next = i as usize + 1;
            if b.flags & FALLS_THROUGH != 0 && next < blocks.len() {
                visit(next as u32, next, exit, &mut work, &mut entry);
            }
            if work.is_empty() && dynamic && !queued_all {
                queued_all = true;
                for (j, _) in blocks.iter().enumerate().filter(|(_, b)| code[b.start as usize] == JUMPDEST) {
                    visit(j as u32, j, UNKNOWN, &mut work, &mut entry);
                }
            }
        }
        let trailer = find_trailer(code);
        let code_end = trailer.as_ref().map_or(code.len(), |t| t.start);
        let findings = Findings { list: Vec::new(), per_kind: [0; 8], suppressed: 0, code_end };
        let out = Inspection { trailer, blocks: blocks.len(), dynamic_jumps: dynamic, ..Inspection::default() };
        let mut tally = Tally { out, findings, known: Vec::new() };
        if let Some(pc) = truncated {
            let (n, have) = (usize::from(code[pc] - PUSH1 + 1), code.len() - pc - 1);
            tally.findings.push(FindingKind::TruncatedPush, pc, || {
                format!("PUSH{n} at the end of the code has {have} of its {n} immediate bytes")
            });
        }
        let production = Blocks::new(code, tables, &decoded);
        for (b, &h) in blocks.iter().zip(&entry).filter(|(_, h)| **h != UNSEEN) {
            production.inspect_block(b, h, &mut tally);
        }
        let Tally { mut out, mut findings, .. } = tally;
        findings.list.sort_by_key(|f| (f.offset, f.kind as u32));
        out.findings = findings.list;
        out.suppressed_findings = findings.suppressed;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::long_way::inspect_the_long_way;
    use super::*;

    fn full(code: &[u8]) -> Inspection {
        inspect(code, &analyze(code), Fork::LATEST)
    }

    /// `analyze_and_inspect` gives what `analyze` and `inspect` give.
    fn assert_one_pass_matches(code: &[u8]) {
        for fork in [Fork::Frontier, Fork::Paris, Fork::LATEST] {
            let (analysis, inspection) = analyze_and_inspect(code, fork);
            let separate = analyze(code);
            assert_eq!(analysis.kind, separate.kind, "{code:02x?}");
            assert_eq!(analysis.jumpdest_count, separate.jumpdest_count, "{code:02x?}");
            assert_eq!(analysis.bytecode.bytes_slice(), separate.bytecode.bytes_slice(), "{code:02x?}");
            assert_eq!(analysis.bytecode.legacy_jump_table(), separate.bytecode.legacy_jump_table(), "{code:02x?}");
            assert_eq!(inspection, inspect(code, &separate, fork), "{code:02x?}");
        }
    }

    #[test]
    fn one_pass_gives_what_analyze_and_inspect_give() {
        let mut delegation = DELEGATION_PREFIX.to_vec();
        delegation.extend_from_slice(&[7; 20]);
        let crafted: [&[u8]; 9] = [
            &[],
            &[0x00],
            &[0x7f],
            &[0x60, 0x5b, 0x5b, 0x61, 0x5b],
            &[0xe6],
            &[0xe7, 0x00],
            &[0x60, 0xe6, 0x00],
            &[0x60, 0x04, 0x56, 0x00, 0x5b, 0xf1, 0x00],
            &delegation,
        ];
        for code in crafted {
            assert_one_pass_matches(code);
        }
        let mut next = crate::verify::xorshift(0x9e37_79b9_7f4a_7c15u64);
        for _ in 0..1000 {
            let len = (next() % 200) as usize;
            let code: Vec<u8> = (0..len)
                .map(|_| match next() % 8 {
                    0 => 0x60 + (next() % 32) as u8,
                    1 => JUMPDEST,
                    2 => [JUMP, JUMPI, STOP, CALL, 0xe6][(next() % 5) as usize],
                    3 => 0x60,
                    _ => next() as u8,
                })
                .collect();
            assert_one_pass_matches(&code);
        }
    }

    #[test]
    fn push_data_is_not_a_jumpdest() {
        // PUSH1 0x5b JUMPDEST PUSH2 0x5b5b
        let a = analyze(&[0x60, 0x5b, 0x5b, 0x61, 0x5b, 0x5b]);
        assert!(!a.is_jumpdest(1));
        assert!(a.is_jumpdest(2));
        assert!(!a.is_jumpdest(4) && !a.is_jumpdest(5));
        assert!(!a.is_jumpdest(100));
        assert_eq!(a.jumpdest_count, 1);
    }

    #[test]
    fn every_push_width_hides_its_immediate() {
        for n in 1..=32u8 {
            let mut code = vec![PUSH1 + n - 1];
            code.extend(std::iter::repeat_n(JUMPDEST, n as usize));
            code.push(JUMPDEST);
            let a = analyze(&code);
            assert_eq!(a.jumpdest_count, 1, "PUSH{n}");
            assert!(a.is_jumpdest(n as usize + 1), "PUSH{n}");
        }
    }

    #[test]
    fn old_solc_throw_is_a_finding_not_a_failure() {
        // Old solc compiled `throw` as a jump to an invalid target: here the
        // jump at offset 11 goes to 2, a byte of PUSH data.
        let code = [0x60, 0x60, 0x60, 0x40, 0x52, 0x60, 0x08, 0x56, 0x5b, 0x60, 0x02, 0x56];
        let f = full(&code).findings;
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].kind, f[0].offset), (FindingKind::InvalidJumpDest, 11));
    }

    #[test]
    fn a_23_byte_ef01_without_version_zero_is_legacy() {
        let mut code = vec![0xef, 0x01, 0x01];
        code.extend_from_slice(&[0; 20]);
        assert_eq!(analyze(&code).kind, CodeKind::Legacy);
    }

    #[test]
    fn unreachable_selfdestruct_is_not_a_capability() {
        // PUSH1 0 PUSH1 0 RETURN | SELFDESTRUCT (after a terminator, no JUMPDEST)
        let i = full(&[0x60, 0, 0x60, 0, 0xf3, 0xff]);
        assert_eq!(i.capabilities, Capabilities(0));
        assert_eq!((i.blocks, i.reachable_blocks), (2, 1));
        // The same behind a static jump is reachable.
        let i = full(&[0x60, 0x03, 0x56, 0x5b, 0x30, 0xff]);
        assert!(i.capabilities.contains(Capabilities::SELFDESTRUCT));
    }

    #[test]
    fn a_dynamic_jump_makes_every_jumpdest_reachable() {
        // CALLDATALOAD(0) JUMP | JUMPDEST CALLER SELFDESTRUCT
        let i = full(&[0x60, 0, 0x35, 0x56, 0x5b, 0x33, 0xff]);
        assert!(i.dynamic_jumps);
        assert!(i.capabilities.contains(Capabilities::SELFDESTRUCT));
    }

    #[test]
    fn call_value_is_proven_zero_only_when_it_is() {
        // gas addr value(0) in_off in_len out_off out_len pushed in reverse.
        let zero = [
            0x60, 0, 0x60, 0, 0x60, 0, 0x60, 0, 0x5f, 0x73, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
            18, 19, 20, 0x5a, 0xf1, 0x00,
        ];
        let i = full(&zero);
        assert_eq!(i.capabilities.0 & (Capabilities::CALL | Capabilities::CALL_WITH_VALUE), Capabilities::CALL);
        let mut valued = zero;
        valued[8] = 0x34; // CALLVALUE instead of PUSH0
        let i = full(&valued);
        assert!(i.capabilities.contains(Capabilities::CALL_WITH_VALUE));
    }

    #[test]
    fn stack_underflow_on_the_entry_path_is_found() {
        let i = full(&[0x01, 0x00]); // ADD on an empty stack
        assert_eq!(i.findings[0].kind, FindingKind::InvalidStackOperation);
        assert_eq!(i.findings[0].offset, 0);
    }

    #[test]
    fn undefined_bytes_in_reachable_code_are_findings_but_not_in_metadata() {
        let i = inspect(&[0x0c, 0x00], &analyze(&[0x0c, 0x00]), Fork::LATEST);
        assert_eq!(i.findings[0].kind, FindingKind::InvalidOpcode);
        // PUSH0 is undefined before Shanghai.
        let code = [0x5f, 0x00];
        assert_eq!(inspect(&code, &analyze(&code), Fork::Paris).findings[0].kind, FindingKind::InvalidOpcode);
        assert!(inspect(&code, &analyze(&code), Fork::Shanghai).findings.is_empty());
    }

    #[test]
    fn a_bad_static_jump_reached_twice_is_one_finding() {
        // Block 0 jumps to 8 when calldata says so, else falls into a jump
        // to CALLVALUE (computed); the block at 8 jumps to 3, not a
        // JUMPDEST. It is reached with a known height and, through the
        // computed jump, with an unknown one: still one finding.
        let code = [0x60, 0x00, 0x35, 0x60, 0x08, 0x57, 0x34, 0x56, 0x5b, 0x60, 0x03, 0x56];
        let i = full(&code);
        let bad: Vec<_> = i.findings.iter().filter(|f| f.kind == FindingKind::InvalidJumpDest).collect();
        assert_eq!(bad.len(), 1, "{:?}", i.findings);
        assert_eq!(bad[0].offset, 11);
        assert!(i.dynamic_jumps);
    }

    fn assert_same_as_the_long_way(code: &[u8], fork: Fork) {
        let hex: String = code.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(inspect(code, &analyze(code), fork), inspect_the_long_way(code, fork), "code {hex} at {fork:?}");
    }

    #[test]
    fn findings_over_the_limit_keep_the_lowest_offsets() {
        // A computed jump to a JUMPDEST, then 15 PUSH2 jumps to nowhere,
        // a PUSH4 one (at 68) and a PUSH2 one (at 72) in the same word:
        // the inspection meets the PUSH2 jumps of a word before its
        // others, so the 17th bad jump it meets is the one at 68.
        let mut code = vec![0x34, JUMP, JUMPDEST];
        for _ in 0..15 {
            code.extend([PUSH2, 0xff, 0xff, JUMPI]);
        }
        code.extend([PUSH1 + 3, 0, 0, 0xff, 0xff, JUMPI, PUSH2, 0xff, 0xff, JUMPI]);
        assert_same_as_the_long_way(&code, Fork::LATEST);
        let inspection = full(&code);
        let offsets: Vec<usize> = inspection.findings.iter().map(|f| f.offset).collect();
        assert_eq!(offsets.len(), MAX_FINDINGS_PER_KIND);
        assert!(offsets.contains(&68) && !offsets.contains(&72), "{offsets:?}");
        assert_eq!(inspection.suppressed_findings, 1);
    }

    #[test]
    fn the_corpus_is_inspected_as_the_long_way_does() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/mainnet");
        let mut seen = 0;
        for file in std::fs::read_dir(dir).expect("the corpus beside the repository") {
            let code = std::fs::read(file.unwrap().path()).unwrap();
            if code.is_empty() || delegation_target(&code).is_some() {
                continue;
            }
            for fork in [Fork::Frontier, Fork::Paris, Fork::LATEST] {
                assert_same_as_the_long_way(&code, fork);
            }
            seen += 1;
        }
        assert!(seen > 1900, "only {seen} corpus contracts");
    }

    /// The capabilities of block `b` with a plain stack of known values
    /// (a growing vector, one entry per value, pushed and popped as the
    /// instructions say), to check [`simulate`]'s indexed one against.
    fn capabilities_plainly(code: &[u8], b: &Block, tables: &Tables) -> u32 {
        let mut stack: Vec<Option<bool>> = Vec::new();
        let mut caps = 0;
        let mut pc = b.start as usize;
        while pc < b.end as usize && tables.ops[code[pc] as usize].class != Class::Undefined {
            let op = tables.ops[code[pc] as usize];
            caps |= tables.caps[code[pc] as usize];
            if code[pc] == CALL {
                let zero = stack.len() >= 3 && stack[stack.len() - 3] == Some(true);
                caps |= if zero { Capabilities::CALL } else { Capabilities::CALL_WITH_VALUE };
            }
            let size = op.size as usize;
            let immediate = &code[(pc + 1).min(code.len())..(pc + size).min(code.len())];
            match code[pc] {
                PUSH0..=PUSH32 => stack.push(Some(immediate.iter().all(|b| *b == 0))),
                n @ DUP1..=0x8f => {
                    let from = stack.len().checked_sub(usize::from(n - DUP1) + 1);
                    stack.push(from.and_then(|i| stack[i]));
                }
                n @ SWAP1..=0x9f => {
                    let depth = usize::from(n - SWAP1) + 1;
                    let top = stack.pop();
                    match stack.len().checked_sub(depth) {
                        Some(i) => {
                            let below = std::mem::replace(&mut stack[i], top.flatten());
                            stack.push(below);
                        }
                        None => stack.extend(top.map(|_| None)),
                    }
                }
                _ => {
                    for _ in 0..op.inputs {
                        stack.pop();
                    }
                    stack.extend((0..op.outputs()).map(|_| None));
                }
            }
            pc += size;
        }
        caps
    }

    #[test]
    fn call_values_are_known_as_a_plain_stack_knows_them() {
        let tables = tables(Fork::LATEST);
        let (mut known, mut findings) =
            (Vec::new(), Findings { list: Vec::new(), per_kind: [0; 8], suppressed: 0, code_end: 0 });
        let mut check = |code: &[u8]| {
            let mut zero_value_calls = 0;
            for b in long_way::blocks_one_by_one(code, tables).0 {
                let caps = simulate(code, &b, tables, None, &mut findings, &mut known);
                assert_eq!(caps, capabilities_plainly(code, &b, tables), "block at {} of {code:02x?}", b.start);
                zero_value_calls += (caps & Capabilities::CALL != 0) as usize;
            }
            zero_value_calls
        };
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/mainnet");
        let mut proven = 0;
        for file in std::fs::read_dir(dir).expect("the corpus beside the repository") {
            let code = std::fs::read(file.unwrap().path()).unwrap();
            if !code.is_empty() && delegation_target(&code).is_none() {
                proven += check(&code);
            }
        }
        // Calls with a zero value, DUPs and SWAPs reaching below the
        // block's own values, and blocks deeper than the swaps reach.
        let mut next = crate::verify::xorshift(0xbb67_ae85_84ca_a73bu64);
        for _ in 0..3000 {
            let len = 1 + (next() % 120) as usize;
            let code: Vec<u8> = (0..len)
                .map(|_| match next() % 8 {
                    0 => CALL,
                    1 => 0x80 + (next() % 16) as u8,
                    2 => 0x90 + (next() % 16) as u8,
                    3 => [0x34, 0x01, 0x50, 0x15][(next() % 4) as usize],
                    4 => 0x60,
                    _ => [PUSH0, 0x00, 0x01][(next() % 3) as usize],
                })
                .collect();
            proven += check(&code);
        }
        assert!(proven > 1000, "only {proven} blocks with a zero-value call");
    }

    #[test]
    fn random_code_is_inspected_as_the_long_way_does() {
        // Short static jumps, JUMPDESTs, computed jumps, calls, undefined
        // bytes and stack operations, so that both kinds of walk, dead
        // blocks, known heights and stack trouble all come up.
        let mut next = crate::verify::xorshift(0x6a09_e667_f3bc_c908u64);
        let (mut dynamic, mut fixed, mut dead, mut troubled) = (0, 0, 0, 0);
        for _ in 0..4000 {
            let len = 1 + (next() % 150) as usize;
            let mut code = Vec::with_capacity(len + 3);
            while code.len() < len {
                match next() % 12 {
                    0..=2 => code.extend([0x60, (next() % len as u64) as u8, [JUMP, JUMPI][(next() % 2) as usize]]),
                    3 | 4 => code.push(JUMPDEST),
                    5 => code.extend([0x34, JUMP]),
                    6 => code.push([0x50, 0x80, 0x90, 0x01, STOP, 0x55, INVALID][(next() % 7) as usize]),
                    7 => code.extend([0x5f, 0x5f, 0x5f, 0x34, 0x5f, 0x5f, CALL]),
                    8 => code.push([0x0c, 0xa0, RETURN, 0x61][(next() % 4) as usize]),
                    _ => code.push(0x5f + (next() % 3) as u8),
                }
            }
            assert_same_as_the_long_way(&code, Fork::LATEST);
            let i = full(&code);
            if i.dynamic_jumps {
                dynamic += 1
            } else {
                fixed += 1
            }
            dead += (i.reachable_blocks < i.blocks) as usize;
            troubled += i.findings.iter().any(|f| f.kind == FindingKind::InvalidStackOperation) as usize;
        }
        assert!(dynamic > 300 && fixed > 300 && dead > 300 && troubled > 300, "{dynamic} {fixed} {dead} {troubled}");
    }
}
