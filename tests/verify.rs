//! Verification through the public API, on code made to stress the
//! decoder: PUSH runs over its 64-byte chunk borders, PUSH32 immediates
//! ending on and around them, and contracts as large as mainnet allows.
//! The jump table and padding must be revm's, and Standard verification
//! must give what `analyze` and `inspect` give separately.

use ebc::SecurityLevel;
use ebc::verify::{Fork, analyze, analyze_and_inspect, inspect, verify};
use revm::bytecode::Bytecode;

const PUSH1: u8 = 0x60;
const PUSH32: u8 = 0x7f;
const JUMPDEST: u8 = 0x5b;

/// `len` deterministic bytes for `seed`, two in five a PUSH opcode, one in
/// five a JUMPDEST (a linear congruential generator's high bits).
fn push_heavy(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let draw = (state >> 33) as u8;
            match draw % 5 {
                0 | 1 => PUSH1 + draw / 5 % 32,
                2 => JUMPDEST,
                _ => (state >> 41) as u8,
            }
        })
        .collect()
}

/// Our analysis is revm's, and the one-pass analysis at Standard is the
/// two passes, at three forks.
fn assert_revm_and_one_pass_agree(code: &[u8]) {
    let ours = analyze(code);
    let revm = Bytecode::new_legacy(code.to_vec().into());
    assert_eq!(ours.bytecode.bytes_slice(), revm.bytes_slice(), "padded code of {code:02x?}");
    assert_eq!(ours.bytecode.legacy_jump_table(), revm.legacy_jump_table(), "jump table of {code:02x?}");
    for fork in [Fork::Frontier, Fork::Paris, Fork::LATEST] {
        let (analysis, inspection) = analyze_and_inspect(code, fork);
        assert_eq!(analysis, ours, "{fork:?}: {code:02x?}");
        assert_eq!(inspection, inspect(code, &ours, fork), "{fork:?}: {code:02x?}");
    }
}

#[test]
fn push_heavy_code_agrees_with_revm_at_every_length_to_three_chunks() {
    for seed in 1..40 {
        let code = push_heavy(seed, 200);
        for cut in 0..=code.len() {
            assert_revm_and_one_pass_agree(&code[..cut]);
        }
    }
}

#[test]
fn push32_runs_over_chunk_borders_agree_with_revm() {
    for start in 0..130 {
        for run in [1, 2, 31, 32, 33, 64, 65, 66] {
            let mut code = vec![JUMPDEST; start];
            code.extend(std::iter::repeat_n(PUSH32, run));
            code.extend([JUMPDEST, 0x56, JUMPDEST, 0x00]);
            assert_revm_and_one_pass_agree(&code);
        }
    }
}

#[test]
fn a_24_kib_push_heavy_contract_agrees_with_revm_and_verifies_as_analysed() {
    let code = push_heavy(0x2024, 24_576);
    assert_revm_and_one_pass_agree(&code);
    let report = verify(&code, SecurityLevel::Standard, Fork::LATEST, 24_576, true).unwrap();
    let (analysis, inspection) = analyze_and_inspect(&code, Fork::LATEST);
    assert_eq!((report.analysis, report.inspection), (analysis, inspection));
}
