//! CAR files (content-addressed archives), version 1 and the version 2
//! wrapper: a dag-cbor header naming the roots, then blocks, each with its
//! CID. Every block is checked against its CID while the file is parsed.

use std::collections::HashMap;

use super::cid::Cid;
use super::varint;
use crate::error::{Error, Result};

/// The largest CAR header accepted.
pub const MAX_HEADER: u64 = 64 * 1024;

/// The first bytes of a CARv2 file: a varint 10, then the dag-cbor map
/// `{"version": 2}`.
const V2_PRAGMA: [u8; 11] = [0x0a, 0xa1, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x02];

/// A parsed CAR: its roots and its blocks, all verified.
#[derive(Clone, Debug, Default)]
pub struct Car {
    /// The roots the header names.
    pub roots: Vec<Cid>,
    /// Every block, by CID.
    pub blocks: HashMap<Cid, Vec<u8>>,
}

impl Car {
    /// Parses a whole CAR file. Malformed or truncated files are
    /// [`Error::InvalidArgument`] (naming the offset), a block that does not
    /// hash to its CID is [`Error::ChecksumMismatch`]. `origin` names the
    /// file or URL in messages.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Car> {
        let bad = |offset: usize, why: String| {
            Error::InvalidArgument(format!("{origin}: CAR at offset {offset}: {why}"))
        };
        if bytes.starts_with(&V2_PRAGMA) {
            let header = bytes.get(11..51).ok_or_else(|| bad(11, "a CARv2 header cut short".into()))?;
            let word = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().expect("8 bytes"));
            let (offset, size) = (word(16), word(24));
            let inner = offset
                .checked_add(size)
                .filter(|&end| end <= bytes.len() as u64 && offset >= 51)
                .map(|end| &bytes[offset as usize..end as usize])
                .ok_or_else(|| bad(27, format!("CARv2 data at {offset}+{size} lies outside the {} byte file", bytes.len())))?;
            return Car::parse_v1(inner, offset as usize, origin);
        }
        Car::parse_v1(bytes, 0, origin)
    }

    fn parse_v1(bytes: &[u8], base: usize, origin: &str) -> Result<Car> {
        let bad = |offset: usize, why: String| {
            Error::InvalidArgument(format!("{origin}: CAR at offset {}: {why}", base + offset))
        };
        let (header_len, used) = varint::read(bytes).map_err(|e| bad(0, format!("header length: {e}")))?;
        if header_len == 0 || header_len > MAX_HEADER {
            return Err(bad(0, format!("a header of {header_len} bytes (1 to {MAX_HEADER} allowed)")));
        }
        let header = bytes
            .get(used..used + header_len as usize)
            .ok_or_else(|| bad(used, format!("the header claims {header_len} bytes, {} remain", bytes.len() - used)))?;
        let roots = parse_header(header).map_err(|e| bad(used, format!("header: {e}")))?;
        let mut car = Car { roots, blocks: HashMap::new() };
        let mut at = used + header_len as usize;
        while at < bytes.len() {
            let (len, used) = varint::read(&bytes[at..]).map_err(|e| bad(at, format!("section length: {e}")))?;
            let start = at + used;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| start.checked_add(l))
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| {
                    bad(at, format!("truncated: a section claims {len} bytes, {} remain", bytes.len() - start))
                })?;
            let section = &bytes[start..end];
            let (cid, cid_len) = Cid::read(section).map_err(|e| bad(start, format!("block CID: {e}")))?;
            let block = &section[cid_len..];
            cid.verify(block).map_err(|e| match e {
                Error::ChecksumMismatch { algorithm, expected, actual } => Error::ChecksumMismatch {
                    algorithm,
                    expected: format!("{expected} for the block at offset {} of {origin}", base + start),
                    actual,
                },
                other => other,
            })?;
            car.blocks.insert(cid, block.to_vec());
            at = end;
        }
        Ok(car)
    }
}

/// The roots of a CARv1 header, `{"version": 1, "roots": [CID, ...]}` in
/// dag-cbor (CIDs as tag 42 over a zero byte and the binary CID).
fn parse_header(header: &[u8]) -> core::result::Result<Vec<Cid>, String> {
    let mut cbor = Cbor { bytes: header, at: 0 };
    let entries = cbor.expect(5, "a map")?;
    let (mut version, mut roots) = (None, None);
    for _ in 0..entries {
        let key_len = cbor.expect(3, "a text key")?;
        let key = cbor.take(key_len)?;
        match key {
            b"version" => version = Some(cbor.expect(0, "an unsigned version")?),
            b"roots" => {
                let count = cbor.expect(4, "an array of roots")?;
                let mut list = Vec::new();
                for _ in 0..count {
                    if cbor.expect(6, "a CID tag")? != 42 {
                        return Err("a root that is not tagged 42 (CID)".into());
                    }
                    let len = cbor.expect(2, "CID bytes")?;
                    let bytes = cbor.take(len)?;
                    let binary = bytes.strip_prefix(&[0]).ok_or("a CID without its zero prefix")?;
                    list.push(Cid::from_bytes(binary)?);
                }
                roots = Some(list);
            }
            _ => cbor.skip(0)?,
        }
    }
    if cbor.at != header.len() {
        return Err("bytes after the header map".into());
    }
    match version {
        Some(1) => roots.ok_or_else(|| "no roots".into()),
        Some(v) => Err(format!("version {v} where 1 was expected")),
        None => Err("no version".into()),
    }
}

/// Just enough CBOR to read a CAR header: heads, and skipping values.
struct Cbor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cbor<'_> {
    /// Reads a head: major type and argument.
    fn head(&mut self) -> core::result::Result<(u8, u64), String> {
        let first = *self.bytes.get(self.at).ok_or("the header is cut short")?;
        self.at += 1;
        let (major, info) = (first >> 5, first & 31);
        let width = match info {
            0..=23 => return Ok((major, u64::from(info))),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(format!("indefinite or reserved length {info} (dag-cbor forbids it)")),
        };
        let raw = self.take(width)?;
        Ok((major, raw.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b))))
    }

    fn expect(&mut self, major: u8, what: &str) -> core::result::Result<u64, String> {
        match self.head()? {
            (m, value) if m == major => Ok(value),
            (m, _) => Err(format!("CBOR major type {m} where {what} was expected")),
        }
    }

    fn take(&mut self, len: u64) -> core::result::Result<&[u8], String> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| self.at.checked_add(l))
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("a CBOR item of {len} bytes runs past the header"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// Skips one value, nested at most 16 deep.
    fn skip(&mut self, depth: usize) -> core::result::Result<(), String> {
        if depth > 16 {
            return Err("CBOR nested too deep".into());
        }
        let (major, value) = self.head()?;
        match major {
            2 | 3 => self.take(value).map(|_| ()),
            4 | 5 => {
                let items = if major == 5 { value.saturating_mul(2) } else { value };
                (0..items).try_for_each(|_| self.skip(depth + 1))
            }
            6 => self.skip(depth + 1),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfs::cid::RAW;

    /// A CARv1 with `roots` and `blocks`, written the way the spec lays it out.
    pub(crate) fn car_v1(roots: &[&Cid], blocks: &[(&Cid, &[u8])]) -> Vec<u8> {
        let mut header = vec![0xa2, 0x65];
        header.extend_from_slice(b"roots");
        header.push(0x80 | roots.len() as u8);
        for root in roots {
            let bytes = root.to_bytes();
            header.extend_from_slice(&[0xd8, 42, 0x58, bytes.len() as u8 + 1, 0]);
            header.extend_from_slice(&bytes);
        }
        header.push(0x67);
        header.extend_from_slice(b"version");
        header.push(1);
        let mut out = Vec::new();
        varint::write(header.len() as u64, &mut out);
        out.extend_from_slice(&header);
        for (cid, data) in blocks {
            let bytes = cid.to_bytes();
            varint::write((bytes.len() + data.len()) as u64, &mut out);
            out.extend_from_slice(&bytes);
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn blocks_and_roots_are_read() {
        let a = Cid::v1_sha256(RAW, b"a");
        let b = Cid::v1_sha256(RAW, b"bb");
        let car = Car::parse(&car_v1(&[&a], &[(&a, b"a"), (&b, b"bb")]), "t").unwrap();
        assert_eq!(car.roots, vec![a.clone()]);
        assert_eq!(car.blocks[&b], b"bb");
    }

    #[test]
    fn every_truncation_is_an_error_naming_an_offset() {
        let a = Cid::v1_sha256(RAW, b"some block data");
        let whole = car_v1(&[&a], &[(&a, b"some block data")]);
        for cut in 0..whole.len() {
            let header_end = whole.len() - (a.to_bytes().len() + 16);
            match Car::parse(&whole[..cut], "t") {
                Ok(car) => assert_eq!(cut, header_end, "only the bare header parses ({:?})", car.blocks),
                Err(e) => assert!(e.to_string().contains("offset"), "{cut}: {e}"),
            }
        }
    }

    #[test]
    fn a_block_that_does_not_match_its_cid_is_rejected() {
        let a = Cid::v1_sha256(RAW, b"a");
        let err = Car::parse(&car_v1(&[&a], &[(&a, b"not a")]), "gw").unwrap_err();
        assert_eq!(err.status(), crate::Status::ChecksumMismatch);
        assert!(err.to_string().contains("of gw"), "{err}");
    }

    #[test]
    fn v2_wraps_a_v1_payload() {
        let a = Cid::v1_sha256(RAW, b"a");
        let v1 = car_v1(&[&a], &[(&a, b"a")]);
        let mut v2 = V2_PRAGMA.to_vec();
        v2.extend_from_slice(&[0; 16]);
        v2.extend_from_slice(&51u64.to_le_bytes());
        v2.extend_from_slice(&(v1.len() as u64).to_le_bytes());
        v2.extend_from_slice(&0u64.to_le_bytes());
        v2.extend_from_slice(&v1);
        assert_eq!(Car::parse(&v2, "t").unwrap().roots, vec![a]);
        v2.truncate(v2.len() - 1);
        assert!(Car::parse(&v2, "t").is_err());
    }
}
