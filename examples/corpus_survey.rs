//! Prints what the full analysis finds across the mainnet corpus: findings
//! by kind, trailers by compiler, capabilities, dynamic jumps.
//!
//! `cargo run --release --example corpus_survey`

use std::collections::BTreeMap;

use ebc::verify::{Fork, analyze, inspect};

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/mainnet");
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut trailers: BTreeMap<String, usize> = BTreeMap::new();
    let mut caps: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut files, mut dynamic, mut with_findings) = (0, 0, 0);
    for entry in std::fs::read_dir(dir).expect("corpus") {
        let code = std::fs::read(entry.unwrap().path()).unwrap();
        let inspection = inspect(&code, &analyze(&code), Fork::LATEST);
        files += 1;
        dynamic += inspection.dynamic_jumps as usize;
        with_findings += !inspection.findings.is_empty() as usize;
        for kind in inspection.findings.iter().map(|f| f.kind.name()).collect::<std::collections::BTreeSet<_>>() {
            *kinds.entry(kind).or_default() += 1;
        }
        let trailer = inspection.trailer.map_or("none".into(), |t| format!("{:?} {}", t.compiler, t.source_hash.unwrap_or("-")));
        *trailers.entry(trailer).or_default() += 1;
        for name in inspection.capabilities.names() {
            *caps.entry(name).or_default() += 1;
        }
    }
    println!("{files} contracts, {with_findings} with findings, {dynamic} with dynamic jumps");
    println!("contracts with a finding of each kind: {kinds:?}");
    println!("trailers: {trailers:?}");
    println!("capabilities: {caps:?}");
}
