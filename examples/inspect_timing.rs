//! Times one verification stage on the largest corpus contract, for
//! profiling beside `cargo bench --bench verify`. Under callgrind it gives
//! instructions per byte, which a busy machine does not disturb.
//!
//! `EBC_STAGE=inspect|analyze|verify|keccak EBC_N=200 cargo run --release --example inspect_timing`
//! `valgrind --tool=callgrind target/release/examples/inspect_timing` (EBC_N=20)

use std::time::Instant;

use ebc::verify::{Fork, analyze, inspect, verify};
use ebc::{SecurityLevel, keccak256};

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/mainnet");
    let largest = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .max_by_key(|c| c.len())
        .unwrap();
    let analysis = analyze(&largest);
    let rounds: u32 = std::env::var("EBC_N").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let stage = std::env::var("EBC_STAGE").unwrap_or_else(|_| "inspect".into());
    let started = Instant::now();
    let mut sink = 0usize;
    for _ in 0..rounds {
        let code = std::hint::black_box(&largest[..]);
        sink += match stage.as_str() {
            "inspect" => inspect(code, &analysis, Fork::LATEST).blocks,
            "analyze" => analyze(code).jumpdest_count,
            "verify" => verify(code, SecurityLevel::Standard, Fork::LATEST, 24_576, true).unwrap().inspection.blocks,
            "keccak" => keccak256(code)[0] as usize,
            other => panic!("unknown stage {other}"),
        };
    }
    println!(
        "{stage}: {} bytes: {:?} per round ({sink})",
        largest.len(),
        started.elapsed() / rounds
    );
}
