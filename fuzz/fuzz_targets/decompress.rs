//! The whole decode stage (gzip, zstd and LZ4 detection and decompression,
//! compiler artifacts, hex) never panics and never produces more than its
//! cap. The first byte picks a declared compression, or detection.
#![no_main]

use ebc::Compression;
use ebc::codec::{DecodeOptions, decode_source};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let declared = match first % 5 {
        0 => Some(Compression::Gzip),
        1 => Some(Compression::Zstd),
        2 => Some(Compression::Lz4),
        3 => Some(Compression::None),
        _ => None,
    };
    let options = DecodeOptions { max_decompressed: CAP, declared, encoding: None, contract: None };
    if let Ok(decoded) = decode_source(rest.to_vec(), "fuzz", &options) {
        assert!(decoded.code.len() <= CAP);
        assert!(decoded.compression_ratio >= 0.0);
    }
});
