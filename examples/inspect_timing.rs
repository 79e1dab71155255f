//! Times the full analysis of the largest corpus contract, for profiling
//! beside `cargo bench --bench verify`.
//!
//! `cargo run --release --example inspect_timing`

use std::time::Instant;

use ebc::verify::{Fork, analyze, inspect};

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/mainnet");
    let largest = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .max_by_key(|c| c.len())
        .unwrap();
    let analysis = analyze(&largest);
    let rounds: u32 = std::env::var("EBC_N").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let started = Instant::now();
    let mut blocks = 0;
    for _ in 0..rounds {
        blocks += std::hint::black_box(inspect(&largest, &analysis, Fork::LATEST)).blocks;
    }
    println!("{} bytes, {} blocks: {:?} per inspection", largest.len(), blocks / rounds as usize, started.elapsed() / rounds);
}
