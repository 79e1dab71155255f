//! One linear pass over legacy code: jump destinations, PUSH data, static
//! jumps and the trailing truncated PUSH.

use revm::bytecode::Bytecode;
use revm::primitives::{Address, Bytes};

use super::{DELEGATION_PREFIX, Finding, FindingKind};

const PUSH1: u8 = 0x60;
const PUSH32: u8 = 0x7f;
const JUMP: u8 = 0x56;
const JUMPI: u8 = 0x57;
const JUMPDEST: u8 = 0x5b;

/// What kind of code this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeKind {
    /// Ordinary (legacy) EVM code.
    Legacy,
    /// An EIP-7702 delegation to this address.
    Delegation(Address),
}

/// The result of analysing code once, at ingest.
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

    /// The observations about `code` (the code this analysis was made of):
    /// static jumps to non-JUMPDEST targets and a truncated final PUSH.
    pub fn findings(&self, code: &[u8]) -> Vec<Finding> {
        let mut findings = Vec::new();
        if self.kind != CodeKind::Legacy {
            return findings;
        }
        // The previous instruction, if it was a PUSH: (offset, immediate value).
        let mut last_push: Option<(usize, Option<usize>)> = None;
        let mut pc = 0;
        while pc < code.len() {
            let op = code[pc];
            if (PUSH1..=PUSH32).contains(&op) {
                let n = (op - PUSH1 + 1) as usize;
                let end = pc + 1 + n;
                if end > code.len() {
                    findings.push(Finding {
                        kind: FindingKind::TruncatedPush,
                        offset: pc,
                        message: format!(
                            "PUSH{n} at the end of the code has {} of its {n} immediate bytes",
                            code.len() - pc - 1
                        ),
                    });
                    break;
                }
                last_push = Some((pc, small_immediate(&code[pc + 1..end])));
                pc = end;
                continue;
            }
            if op == JUMP || op == JUMPI {
                if let Some((_, Some(target))) = last_push {
                    if !self.is_jumpdest(target) {
                        findings.push(Finding {
                            kind: FindingKind::InvalidJumpDest,
                            offset: pc,
                            message: format!("static jump to {target:#x}, which is not a JUMPDEST"),
                        });
                    }
                }
            }
            last_push = None;
            pc += 1;
        }
        findings
    }
}

/// The immediate as an offset, when it fits in a `usize` comfortably.
fn small_immediate(bytes: &[u8]) -> Option<usize> {
    let significant = bytes.iter().position(|b| *b != 0).map_or(&[][..], |i| &bytes[i..]);
    if significant.len() > 4 {
        return None;
    }
    Some(significant.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize))
}

/// Analyses `code`: its kind, the jump table (JUMPDEST opcodes only, never
/// PUSH data) and the padded form revm executes. Never fails: code that is
/// not a well-formed delegation is analysed as legacy code, and the policy
/// decides what to make of it.
pub fn analyze(code: &[u8]) -> Analysis {
    if code.len() == 23 && code.starts_with(&DELEGATION_PREFIX) {
        let target = Address::from_slice(&code[3..]);
        return Analysis {
            kind: CodeKind::Delegation(target),
            bytecode: Bytecode::new_eip7702(target),
            jumpdest_count: 0,
        };
    }
    let bytecode = Bytecode::new_legacy(Bytes::copy_from_slice(code));
    let jumpdest_count = bytecode.legacy_jump_table().map_or(0, |table| {
        (0..code.len()).filter(|&pc| code[pc] == JUMPDEST && table.is_valid(pc)).count()
    });
    Analysis { kind: CodeKind::Legacy, bytecode, jumpdest_count }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let a = analyze(&code);
        let f = a.findings(&code);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].kind, f[0].offset), (FindingKind::InvalidJumpDest, 11));
    }

    #[test]
    fn a_23_byte_ef01_without_version_zero_is_legacy() {
        let mut code = vec![0xef, 0x01, 0x01];
        code.extend_from_slice(&[0; 20]);
        assert_eq!(analyze(&code).kind, CodeKind::Legacy);
    }
}
