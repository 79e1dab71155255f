//! The decode stage: what a source returned, into code. Compressed bytes
//! (gzip, zstd, LZ4) are decompressed under a size cap, compiler artifacts
//! (JSON) give up one contract's runtime bytecode, and what remains is raw
//! code or hex text.

pub mod artifact;
pub mod compression;

use crate::bytecode::Compression;
use crate::error::{Error, Result};

/// Choices for [`decode_source`].
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions<'a> {
    /// The most bytes decompression may produce.
    pub max_decompressed: usize,
    /// The compression the source declared; `None`: detect by magic bytes
    /// (unless the encoding is declared [`Encoding::Raw`]: such a loader
    /// has said the bytes are the code). A declared [`Compression::None`]
    /// turns detection off.
    pub declared: Option<Compression>,
    /// The encoding the source declared for the (decompressed) bytes;
    /// `None`: a compiler artifact, hex text or raw code, told apart by
    /// their content.
    pub encoding: Option<Encoding>,
    /// The contract to take from a compiler artifact (`Name` or
    /// `source:Name`); `None`: the artifact's only contract.
    pub contract: Option<&'a str>,
}

/// What [`decode_source`] made of a source's bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The code.
    pub code: Vec<u8>,
    /// How the bytes were compressed.
    pub compression: Compression,
    /// Decompressed size over compressed size (1.0 when not compressed).
    pub compression_ratio: f64,
}

/// The whole decode stage: decompresses (as declared, or as the magic bytes
/// say), takes the runtime bytecode out of a compiler artifact, and decodes
/// hex text or takes raw bytes. `origin` names the source in errors.
pub fn decode_source(bytes: Vec<u8>, origin: &str, options: &DecodeOptions<'_>) -> Result<Decoded> {
    let compression = match (options.declared, options.encoding) {
        (Some(declared), _) => declared,
        (None, Some(Encoding::Raw)) => Compression::None,
        (None, _) => compression::detect(&bytes),
    };
    let (bytes, compression_ratio) = match compression {
        Compression::None => (bytes, 1.0),
        _ => {
            let packed = bytes.len();
            let unpacked = compression::decompress(&bytes, compression, options.max_decompressed, origin)?;
            let ratio = unpacked.len() as f64 / packed.max(1) as f64;
            (unpacked, ratio)
        }
    };
    let code = if let Some(encoding) = options.encoding {
        match encoding {
            Encoding::Raw => bytes,
            Encoding::Hex => decode_hex(&bytes, origin)?,
        }
    } else if artifact::is_artifact(&bytes) {
        let hex = artifact::deployed_bytecode(&bytes, options.contract, origin)?;
        decode_hex(hex.as_bytes(), origin)?
    } else if let Some(contract) = options.contract {
        return Err(Error::InvalidArgument(format!(
            "{origin}: contract {contract:?} was asked for, but the source holds code, not a compiler artifact"
        )));
    } else {
        decode(bytes, origin)?
    };
    Ok(Decoded { code, compression, compression_ratio })
}

/// How the bytes from a source are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// The bytes are the code.
    Raw,
    /// Hex text, optionally `0x`-prefixed, with any ASCII whitespace.
    Hex,
}

/// Guesses the encoding from the content. Hex: printable text that starts
/// with `0x` (decoded strictly, so a typo is an error rather than garbage
/// code), or hex digits and whitespace only, an even count of digits.
/// Anything else is raw.
pub fn detect(bytes: &[u8]) -> Encoding {
    let trimmed = trim_ascii(bytes);
    let body = strip_0x(trimmed);
    let prefixed_text = body.len() < trimmed.len()
        && trimmed.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if prefixed_text || looks_like_hex(body) {
        Encoding::Hex
    } else {
        Encoding::Raw
    }
}

fn looks_like_hex(body: &[u8]) -> bool {
    let mut digits = 0usize;
    for &b in body {
        if b.is_ascii_hexdigit() {
            digits += 1;
        } else if !b.is_ascii_whitespace() {
            return false;
        }
    }
    digits >= 2 && digits % 2 == 0
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

fn strip_0x(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"0x").or_else(|| bytes.strip_prefix(b"0X")).unwrap_or(bytes)
}

/// Decodes hex text: optional `0x`, whitespace anywhere between digit pairs
/// ignored. `origin` names the source in error messages.
pub fn decode_hex(text: &[u8], origin: &str) -> Result<Vec<u8>> {
    let body = strip_0x(trim_ascii(text));
    let offset_base = text.len() - trim_ascii(text).len() + (trim_ascii(text).len() - body.len());
    let mut out = Vec::with_capacity(body.len() / 2);
    let mut high: Option<u8> = None;
    for (i, &b) in body.iter().enumerate() {
        if b.is_ascii_whitespace() {
            continue;
        }
        let nibble = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{origin}: invalid hex character {:?} at offset {}",
                    b as char,
                    offset_base + i
                )));
            }
        };
        match high.take() {
            None => high = Some(nibble),
            Some(h) => out.push((h << 4) | nibble),
        }
    }
    if high.is_some() {
        return Err(Error::InvalidArgument(format!(
            "{origin}: hex text has an odd number of digits"
        )));
    }
    Ok(out)
}

/// Decodes raw code or hex text into code, detecting which it is (no
/// decompression, no artifacts: see [`decode_source`] for the whole stage).
pub fn decode(bytes: Vec<u8>, origin: &str) -> Result<Vec<u8>> {
    match detect(&bytes) {
        Encoding::Raw => Ok(bytes),
        Encoding::Hex => decode_hex(&bytes, origin),
    }
}

/// The most raw bytes a source may return for code of at most `max_code`
/// bytes: hex text doubles the size, plus a prefix, line breaks and slack.
pub fn max_encoded_len(max_code: usize) -> usize {
    max_code.saturating_mul(2).saturating_add(max_code / 8).saturating_add(64)
}

/// Formats bytes as lower-case hex without a prefix.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_with_prefix_and_whitespace_decodes() {
        assert_eq!(decode(b"  0x60 01\n6002\n".to_vec(), "t").unwrap(), vec![0x60, 1, 0x60, 2]);
        assert_eq!(decode(b"6001".to_vec(), "t").unwrap(), vec![0x60, 1]);
    }

    #[test]
    fn binary_is_left_as_is() {
        let raw = vec![0x60, 0x80, 0x60, 0x40, 0x52];
        assert_eq!(decode(raw.clone(), "t").unwrap(), raw);
    }

    #[test]
    fn bad_hex_names_the_offset() {
        let err = decode_hex(b"0x60zz", "file:/a.hex").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument: file:/a.hex: invalid hex character 'z' at offset 4"
        );
        assert!(decode(b"0x601".to_vec(), "x").is_err());
    }

    #[test]
    fn compressed_hex_and_artifacts_decode_and_record_their_ratio() {
        use std::io::Write;
        let options = DecodeOptions { max_decompressed: 1 << 20, declared: None, encoding: None, contract: None };
        let hex = format!("0x{}", "6001".repeat(1000));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(hex.as_bytes()).unwrap();
        let decoded = decode_source(gz.finish().unwrap(), "t", &options).unwrap();
        assert_eq!(decoded.code.len(), 2000);
        assert_eq!(decoded.compression, Compression::Gzip);
        assert!(decoded.compression_ratio > 10.0, "{}", decoded.compression_ratio);

        let json = br#"{"deployedBytecode":{"object":"0x6002"},"metadata":{"settings":{"compilationTarget":{"src/C.sol":"C"}}}}"#;
        let named = DecodeOptions { contract: Some("C"), ..options };
        let decoded = decode_source(json.to_vec(), "t", &named).unwrap();
        assert_eq!((decoded.code, decoded.compression), (vec![0x60, 2], Compression::None));
        let other = DecodeOptions { contract: Some("D"), ..options };
        assert_eq!(decode_source(json.to_vec(), "t", &other).unwrap_err().status(), crate::Status::NotFound);
        let err = decode_source(vec![0x60, 1], "t", &named).unwrap_err();
        assert!(err.to_string().contains("not a compiler artifact"), "{err}");
    }

    #[test]
    fn a_declared_none_turns_detection_off() {
        let looks_gzipped = vec![0x1f, 0x8b, 0x08, 0x00];
        let options = DecodeOptions { max_decompressed: 100, declared: Some(Compression::None), encoding: None, contract: None };
        assert_eq!(decode_source(looks_gzipped.clone(), "t", &options).unwrap().code, looks_gzipped);
        let detect = DecodeOptions { declared: None, ..options };
        assert_eq!(decode_source(looks_gzipped.clone(), "t", &detect).unwrap_err().status(), crate::Status::InvalidArgument);
        let raw = DecodeOptions { encoding: Some(Encoding::Raw), ..detect };
        assert_eq!(decode_source(looks_gzipped.clone(), "t", &raw).unwrap().code, looks_gzipped, "declared raw code");
    }

    #[test]
    fn to_hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_hex(to_hex(&bytes).as_bytes(), "t").unwrap(), bytes);
    }
}
