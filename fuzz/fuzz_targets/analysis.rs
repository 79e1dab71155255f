//! The full analysis never panics, and agrees with revm on jump destinations.
#![no_main]

use ebc::verify::{Fork, analyze, inspect};
use libfuzzer_sys::fuzz_target;

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
    // A JUMPDEST in the table is a 0x5b byte.
    for pc in 0..data.len() {
        if analysis.is_jumpdest(pc) {
            assert_eq!(data[pc], 0x5b);
        }
    }
});
