//! The cache-hit path of `ebc_load` through the C ABI, beside the same hit
//! through the Rust API, on WETH9 from the real corpus.
//!
//! `cargo bench --bench load`

use std::hint::black_box;
use std::ptr;

use criterion::{Criterion, criterion_group, criterion_main};
use ebc::ffi::*;

const WETH9: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/WETH9.hex");

fn hit_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("hit/weth9");
    let mut m: *mut ebc_manager = ptr::null_mut();
    assert_eq!(ebc_manager_new(ptr::null(), &mut m, ptr::null_mut()), EBC_OK);
    let address = ebc_address { bytes: [0xc0; 20] };
    let mut code: *const ebc_bytecode = ptr::null();
    let status = ebc_load(m, &address, WETH9.as_ptr().cast(), WETH9.len(), ptr::null(), &mut code, ptr::null_mut());
    assert_eq!(status, EBC_OK);
    ebc_release(code);

    group.bench_function("ebc_load+ebc_release (C ABI)", |b| {
        b.iter(|| {
            let mut out: *const ebc_bytecode = ptr::null();
            let status = ebc_load(m, black_box(&address), ptr::null(), 0, ptr::null(), &mut out, ptr::null_mut());
            debug_assert_eq!(status, EBC_OK);
            ebc_release(black_box(out));
        })
    });
    group.bench_function("ebc_get+ebc_release (C ABI)", |b| {
        b.iter(|| ebc_release(black_box(ebc_get(m, black_box(&address)))))
    });

    let manager = ebc::Manager::new(ebc::Config::development()).unwrap();
    let rust_address = ebc::Address::repeat_byte(0xc0);
    let options = ebc::LoadOptions::default();
    manager.load(&rust_address, Some(WETH9), &options).unwrap();
    group.bench_function("Manager::load (Rust)", |b| {
        b.iter(|| black_box(manager.load(black_box(&rust_address), None, &options).unwrap()))
    });
    group.finish();
    ebc_manager_free(m);
}

criterion_group!(benches, hit_path);
criterion_main!(benches);
