//! Generates the C header from src/ffi with cbindgen.
//!
//! The header always goes to `$OUT_DIR/ebc.h` (tests/header.rs compares it
//! with the committed `include/ebc.h`). With `EBC_WRITE_HEADER=1` it also
//! rewrites `include/ebc.h`.
//!
//! On Linux the shared library's SONAME is `libebc.so.<major>`, so programs
//! linked against one major version keep finding it after an upgrade;
//! `scripts/install.sh` installs `libebc.so.<version>` with the
//! `libebc.so.<major>` and `libebc.so` links.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=EBC_WRITE_HEADER");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libebc.so.{major}");
    }
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    // Only src/ffi is the C ABI: cbindgen reads its mod.rs and follows the
    // `mod` lines from there, so public Rust items elsewhere stay out.
    let builder = cbindgen::Builder::new().with_config(config).with_src(crate_dir.join("src/ffi/mod.rs"));
    let bindings = builder
        .generate()
        .expect("cbindgen can generate the header from src/ffi");
    bindings.write_to_file(out_dir.join("ebc.h"));
    if std::env::var("EBC_WRITE_HEADER").as_deref() == Ok("1") {
        bindings.write_to_file(crate_dir.join("include/ebc.h"));
    }
}
