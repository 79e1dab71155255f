//! The state-proof verifier (RLP, hex-prefix paths, trie walk) never panics
//! on any proof, and accepts nothing whose first node does not hash to the
//! root. Input: 20 address bytes, then nodes as (u16 length, bytes); the
//! root is keccak256 of the first node, so the walk gets past the root.
#![no_main]

use ebc::{Address, B256, keccak256};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 20 {
        return;
    }
    let address = Address::from_slice(&data[..20]);
    let mut rest = &data[20..];
    let mut nodes = Vec::new();
    while rest.len() >= 2 {
        let len = (u16::from_le_bytes([rest[0], rest[1]]) as usize).min(rest.len() - 2);
        nodes.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    let root = nodes.first().map_or(B256::ZERO, keccak256);
    let _ = ebc::proof::verify_account(&root, &address, &nodes);
    // Another root: never anything but an error.
    if !nodes.is_empty() {
        assert!(ebc::proof::verify_account(&B256::repeat_byte(0xee), &address, &nodes).is_err());
    }
});
