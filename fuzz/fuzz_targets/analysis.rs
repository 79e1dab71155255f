//! The full analysis never panics, agrees with revm on jump destinations
//! and padding, with the slow reference inspection on everything, and
//! gives the same in one pass as in two.
#![no_main]

use ebc::verify::{Fork, analyze, analyze_and_inspect, inspect};
use libfuzzer_sys::fuzz_target;
use revm::bytecode::Bytecode;

fuzz_target!(|data: &[u8]| {
    let fork = Fork::ALL[data.first().map_or(0, |b| *b as usize) % Fork::ALL.len()];
    let analysis = analyze(data);
    let inspection = inspect(data, &analysis, fork);
    assert!(inspection.reachable_blocks <= inspection.blocks);
    if let Some(t) = &inspection.trailer {
        assert!(t.start < data.len());
    }
    for f in &inspection.findings {
        assert!(f.offset < data.len());
    }
    // Our jump table and padding are bit for bit revm's (delegations aside).
    if analysis.kind == ebc::verify::CodeKind::Legacy {
        let revm = Bytecode::new_legacy(data.to_vec().into());
        assert_eq!(analysis.bytecode.bytes_slice(), revm.bytes_slice());
        assert_eq!(analysis.bytecode.len(), revm.len());
        assert_eq!(analysis.bytecode.legacy_jump_table(), revm.legacy_jump_table());
        let count: usize = revm.legacy_jump_table().unwrap().as_slice().iter().map(|b| b.count_ones() as usize).sum();
        assert_eq!(analysis.jumpdest_count, count);
    }
    // The fast inspection says what the slow, plain one says.
    if analysis.kind == ebc::verify::CodeKind::Legacy && !data.is_empty() {
        assert_eq!(inspection, ebc::verify::inspect_the_long_way(data, fork));
    }
    // One pass gives what the two give.
    let (together, inspected) = analyze_and_inspect(data, fork);
    assert_eq!(inspected, inspection);
    assert_eq!(together.kind, analysis.kind);
    assert_eq!(together.jumpdest_count, analysis.jumpdest_count);
    assert_eq!(together.bytecode.bytes_slice(), analysis.bytecode.bytes_slice());
    assert_eq!(together.bytecode.legacy_jump_table(), analysis.bytecode.legacy_jump_table());
    // A JUMPDEST in the table is a 0x5b byte.
    for pc in 0..data.len() {
        if analysis.is_jumpdest(pc) {
            assert_eq!(data[pc], 0x5b);
        }
    }
});
