//! The committed C header is what cbindgen generates from src/ffi now.

#[test]
fn committed_header_matches_a_fresh_generation() {
    let fresh = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/ebc.h")).unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/ebc.h")).unwrap();
    assert!(
        fresh == committed,
        "include/ebc.h is stale: run `EBC_WRITE_HEADER=1 cargo build` and commit it"
    );
}

#[test]
fn header_declares_the_fixed_abi() {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/ebc.h")).unwrap();
    for needle in [
        "#define EBC_ABI_VERSION 1",
        "typedef uint32_t ebc_status;",
        "#define EBC_PANIC 13",
        "typedef struct ebc_address {",
        "uint8_t bytes[20];",
        "typedef ebc_status (*ebc_loader_fn)(void *user_data,",
        "ebc_status ebc_load(struct ebc_manager *m,",
        "const struct ebc_bytecode *ebc_get(struct ebc_manager *m,",
        "void ebc_release(const struct ebc_bytecode *b);",
    ] {
        assert!(header.contains(needle), "header lacks {needle:?}");
    }
}
