//! Hex/raw decoding never panics and never grows its input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(code) = ebc::codec::decode(data.to_vec(), "fuzz") {
        assert!(code.len() <= data.len());
    }
});
