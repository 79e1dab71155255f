//! The metadata trailer parser never panics and stays inside the code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(t) = ebc::verify::find_trailer(data) {
        assert!(t.start + 2 < data.len() + 1);
    }
});
