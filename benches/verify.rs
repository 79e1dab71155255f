//! Analysis and verification throughput over the whole mainnet corpus,
//! beside keccak256 of the same bytes as the reference ceiling, and one
//! verification of the largest corpus contract (24,572 bytes).
//!
//! `cargo bench --bench verify`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ebc::verify::{Fork, analyze, inspect, verify};
use ebc::{SecurityLevel, keccak256};

fn corpus() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/mainnet");
    let mut codes: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("the corpus beside the repository")
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    codes.sort();
    codes
}

fn throughput(c: &mut Criterion) {
    let codes = corpus();
    let bytes: usize = codes.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("corpus/2000-contracts");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    group.bench_function("keccak256 (ceiling)", |b| {
        b.iter(|| codes.iter().map(|c| keccak256(black_box(c))[0] as usize).sum::<usize>())
    });
    group.bench_function("analyze (jump table, revm padding)", |b| {
        b.iter(|| codes.iter().map(|c| analyze(black_box(c)).jumpdest_count).sum::<usize>())
    });
    group.bench_function("verify at Standard (full analysis)", |b| {
        b.iter(|| {
            codes
                .iter()
                .map(|c| verify(black_box(c), SecurityLevel::Standard, Fork::LATEST, 24_576, true).unwrap().inspection.blocks)
                .sum::<usize>()
        })
    });
    group.finish();

    let largest = codes.iter().max_by_key(|c| c.len()).unwrap();
    let mut group = c.benchmark_group(format!("largest/{}-bytes", largest.len()));
    group.throughput(Throughput::Bytes(largest.len() as u64));
    group.bench_function("keccak256", |b| b.iter(|| keccak256(black_box(largest))));
    group.bench_function("verify at Standard", |b| {
        b.iter(|| verify(black_box(largest), SecurityLevel::Standard, Fork::LATEST, 24_576, true).unwrap())
    });
    group.bench_function("inspect only", |b| {
        let analysis = analyze(largest);
        b.iter(|| inspect(black_box(largest), &analysis, Fork::LATEST))
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
