//! CID parsing, text and binary, never panics; what parses prints back to
//! a text that parses to the same CID.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cid) = ebc::ipfs::Cid::parse(text) {
            assert_eq!(ebc::ipfs::Cid::parse(&cid.to_string()).unwrap(), cid);
        }
    }
    if let Ok((cid, used)) = ebc::ipfs::Cid::read(data) {
        assert!(used <= data.len());
        assert_eq!(ebc::ipfs::Cid::from_bytes(&cid.to_bytes()).unwrap(), cid);
    }
});
