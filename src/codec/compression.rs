//! Decompression of what a source returned: gzip, Zstandard and LZ4 frames,
//! recognised by their magic bytes or declared by the source. Output is
//! produced through a reader with a hard cap, so a small bomb fails with
//! [`Error::TooLarge`] after at most `limit` bytes, never exhausting memory.

use std::io::Read;

use crate::bytecode::Compression;
use crate::error::{Error, Result};

const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

/// The compression `bytes` starts with, by magic number: gzip (with
/// deflate), a Zstandard frame or an LZ4 frame; [`Compression::None`]
/// otherwise. Raw code starting with one of these byte strings would be
/// taken for compressed: a source can declare `None` to prevent that.
pub fn detect(bytes: &[u8]) -> Compression {
    if bytes.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if bytes.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else if bytes.starts_with(&LZ4_MAGIC) {
        Compression::Lz4
    } else {
        Compression::None
    }
}

/// The name of a compression, for messages and metrics.
pub fn name(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
        Compression::Lz4 => "lz4",
    }
}

/// Decompresses `bytes` as `compression`, producing at most `limit` bytes.
/// More output fails with [`Error::TooLarge`]; corrupt input with
/// [`Error::InvalidArgument`] naming the format and the decoder's reason.
/// [`Compression::None`] returns the input (checked against the limit).
pub fn decompress(bytes: &[u8], compression: Compression, limit: usize, origin: &str) -> Result<Vec<u8>> {
    let corrupt = |cause: String| {
        Error::InvalidArgument(format!("{origin}: corrupt {} data: {cause}", name(compression)))
    };
    let too_large = || Error::TooLarge {
        what: format!("{} output of {origin}", name(compression)),
        limit: limit as u64,
        size: None,
    };
    match compression {
        Compression::None if bytes.len() > limit => Err(too_large()),
        Compression::None => Ok(bytes.to_vec()),
        Compression::Gzip => read_capped(flate2::read::GzDecoder::new(bytes), limit, corrupt, too_large),
        Compression::Lz4 => read_capped(lz4_flex::frame::FrameDecoder::new(bytes), limit, corrupt, too_large),
        Compression::Zstd => {
            let window = zstd_window(bytes).map_err(|e| corrupt(e.into()))?;
            // The decoder reserves the frame's window up front: refuse a
            // window larger than the output allowed (or 1 MiB, which the
            // reference encoder's small levels use) before it does.
            if window > limit.max(1 << 20) as u64 {
                return Err(Error::TooLarge {
                    what: format!("the zstd window of {origin}"),
                    limit: limit.max(1 << 20) as u64,
                    size: Some(window),
                });
            }
            let mut rest = bytes;
            let decoder = ruzstd::decoding::StreamingDecoder::new(&mut rest).map_err(|e| corrupt(e.to_string()))?;
            let out = read_capped(decoder, limit, corrupt, too_large)?;
            if !rest.is_empty() {
                return Err(corrupt(format!("{} bytes after the frame", rest.len())));
            }
            Ok(out)
        }
    }
}

/// Compresses `code` as `compression` (the writer's side of
/// [`decompress`], for stores that keep code compressed): gzip at its best
/// level, Zstandard at the pure-Rust encoder's fastest level, an LZ4 frame.
/// [`Compression::None`] returns the input.
pub fn compress(code: &[u8], compression: Compression) -> Result<Vec<u8>> {
    use std::io::Write;
    let failed = |e: std::io::Error| Error::io(format!("{} compression", name(compression)), &e);
    match compression {
        Compression::None => Ok(code.to_vec()),
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(code).map_err(failed)?;
            encoder.finish().map_err(failed)
        }
        Compression::Zstd => Ok(ruzstd::encoding::compress_to_vec(code, ruzstd::encoding::CompressionLevel::Fastest)),
        Compression::Lz4 => {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            encoder.write_all(code).map_err(failed)?;
            encoder.finish().map_err(|e| failed(std::io::Error::other(e)))
        }
    }
}

/// Reads `reader` to its end, failing once it yields more than `limit` bytes.
fn read_capped(
    reader: impl Read,
    limit: usize,
    corrupt: impl Fn(String) -> Error,
    too_large: impl Fn() -> Error,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(cap).read_to_end(&mut out).map_err(|e| corrupt(e.to_string()))?;
    if out.len() > limit {
        return Err(too_large());
    }
    Ok(out)
}

/// The window size a Zstandard frame header declares (RFC 8878 3.1.1.1).
fn zstd_window(bytes: &[u8]) -> core::result::Result<u64, &'static str> {
    let descriptor = *bytes.get(4).ok_or("the frame header is cut short")?;
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let window = *bytes.get(5).ok_or("the frame header is cut short")?;
        let log = 10 + u64::from(window >> 3);
        let base = 1u64 << log;
        return Ok(base + (base / 8) * u64::from(window & 7));
    }
    // Single segment: the window is the content size, after the dictionary id.
    let dictionary_len = [0usize, 1, 2, 4][usize::from(descriptor & 3)];
    let size_len = [1usize, 2, 4, 8][usize::from(descriptor >> 6)];
    let start = 5 + dictionary_len;
    let field = bytes.get(start..start + size_len).ok_or("the frame header is cut short")?;
    let size = field.iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    Ok(if size_len == 2 { size + 256 } else { size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        compress(data, Compression::Gzip).unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        compress(data, Compression::Zstd).unwrap()
    }

    fn lz4(data: &[u8]) -> Vec<u8> {
        compress(data, Compression::Lz4).unwrap()
    }

    #[test]
    fn each_format_is_detected_and_round_trips() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        for (packed, kind) in [(gzip(&data), Compression::Gzip), (zstd(&data), Compression::Zstd), (lz4(&data), Compression::Lz4)] {
            assert_eq!(detect(&packed), kind);
            assert_eq!(decompress(&packed, kind, data.len(), "t").unwrap(), data, "{kind:?}");
            let err = decompress(&packed, kind, data.len() - 1, "t").unwrap_err();
            assert_eq!(err.status(), crate::Status::TooLarge, "{kind:?}: {err}");
        }
        assert_eq!(detect(&[0x60, 0x80, 0x60, 0x40]), Compression::None);
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let zeros = vec![0u8; 64 << 20];
        for (packed, kind) in [(gzip(&zeros), Compression::Gzip), (zstd(&zeros), Compression::Zstd), (lz4(&zeros), Compression::Lz4)] {
            assert!(packed.len() < 1 << 20, "{kind:?} packs 64 MiB of zeros into {}", packed.len());
            let err = decompress(&packed, kind, 1 << 20, "bomb").unwrap_err();
            assert_eq!(err.status(), crate::Status::TooLarge, "{kind:?}: {err}");
        }
    }

    #[test]
    fn corrupt_input_is_an_invalid_argument_naming_the_format() {
        let data = vec![7u8; 10_000];
        for (mut packed, kind) in [(gzip(&data), Compression::Gzip), (zstd(&data), Compression::Zstd), (lz4(&data), Compression::Lz4)] {
            let middle = packed.len() / 2;
            packed.truncate(middle);
            let err = decompress(&packed, kind, 1 << 20, "cut").unwrap_err();
            assert_eq!(err.status(), crate::Status::InvalidArgument, "{kind:?}: {err}");
            assert!(err.to_string().contains(name(kind)), "{err}");
        }
    }

    #[test]
    fn a_huge_zstd_window_is_refused_before_allocation() {
        // Magic, descriptor without single segment, window log 10+31.
        let header = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 31 << 3, 0, 0, 0];
        let err = decompress(&header, Compression::Zstd, 1 << 20, "w").unwrap_err();
        assert_eq!(err.status(), crate::Status::TooLarge, "{err}");
    }
}
