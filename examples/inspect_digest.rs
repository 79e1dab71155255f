//! Prints one line per corpus contract with everything the analysis says
//! about it (kind, jump table, padded length, and the inspection at three
//! forks), so an optimisation can be checked to change nothing: run it
//! before and after and compare the outputs.
//!
//! `cargo run --release --example inspect_digest > before.txt`

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use ebc::verify::{Fork, analyze, inspect};

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/mainnet");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files {
        let code = std::fs::read(&path).unwrap();
        let analysis = analyze(&code);
        let mut hasher = DefaultHasher::new();
        analysis.kind.hash(&mut hasher);
        analysis.bytecode.bytes_slice().hash(&mut hasher);
        analysis.bytecode.legacy_jump_table().map(|t| t.as_slice().to_vec()).hash(&mut hasher);
        analysis.jumpdest_count.hash(&mut hasher);
        for fork in [Fork::Frontier, Fork::Paris, Fork::LATEST] {
            format!("{:?}", inspect(&code, &analysis, fork)).hash(&mut hasher);
        }
        println!("{} {:016x}", path.file_name().unwrap().to_string_lossy(), hasher.finish());
    }
}
