//! Content identifiers: CIDv0 (`Qm…`, base58btc) and CIDv1 (multibase
//! base32, base58btc or base16), their binary form, and the check that a
//! block hashes to its CID.

use core::fmt;

use sha2::{Digest, Sha256};

use super::varint;
use crate::codec::to_hex;
use crate::error::{Error, Result};

/// The multicodec of raw bytes (a raw leaf).
pub const RAW: u64 = 0x55;
/// The multicodec of dag-pb (UnixFS nodes).
pub const DAG_PB: u64 = 0x70;
/// The multicodec of dag-cbor (CAR headers, other IPLD data).
pub const DAG_CBOR: u64 = 0x71;
/// The multihash code of SHA2-256.
pub const SHA2_256: u64 = 0x12;
/// The multihash code of the identity "hash" (the data inline).
pub const IDENTITY: u64 = 0x00;

/// The longest CID string accepted; a sha2-256 CIDv1 in base32 has 59
/// characters, and identity CIDs carry small blocks inline.
pub const MAX_CID_TEXT: usize = 512;

/// The most bytes an identity multihash may inline.
const MAX_IDENTITY_DIGEST: u64 = 256;

/// A content identifier: version, content codec and multihash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cid {
    version: u8,
    codec: u64,
    hash_code: u64,
    digest: Vec<u8>,
}

impl Cid {
    /// A CIDv1 for `codec` whose multihash is sha2-256 of `block`.
    pub fn v1_sha256(codec: u64, block: &[u8]) -> Cid {
        Cid { version: 1, codec, hash_code: SHA2_256, digest: Sha256::digest(block).to_vec() }
    }

    /// Parses the text form: a 46-character CIDv0 (`Qm…`) or a multibase
    /// CIDv1 (`b…` base32, `B…` upper-case base32, `z…` base58btc,
    /// `f…`/`F…` base16).
    pub fn parse(text: &str) -> Result<Cid> {
        let bad = |why: &str| Error::InvalidArgument(format!("CID {:?}: {why}", shorten(text)));
        if text.len() > MAX_CID_TEXT {
            return Err(bad(&format!("longer than {MAX_CID_TEXT} characters")));
        }
        if text.len() == 46 && text.starts_with("Qm") {
            let bytes = base58btc_decode(text).ok_or_else(|| bad("not base58btc"))?;
            return match Cid::from_bytes(&bytes) {
                Ok(cid) if cid.version == 0 => Ok(cid),
                _ => Err(bad("not a sha2-256 CIDv0")),
            };
        }
        let mut chars = text.chars();
        let prefix = chars.next().ok_or_else(|| bad("empty"))?;
        let body = chars.as_str();
        let bytes = match prefix {
            'b' => base32_decode(body, false),
            'B' => base32_decode(body, true),
            'z' => base58btc_decode(body),
            'f' | 'F' => base16_decode(body),
            other => return Err(bad(&format!("unsupported multibase prefix {other:?}"))),
        }
        .ok_or_else(|| bad(&format!("not valid for its multibase prefix {prefix:?}")))?;
        let cid = Cid::from_bytes(&bytes).map_err(|e| bad(&e))?;
        if cid.version == 0 {
            return Err(bad("a CIDv0 in multibase form"));
        }
        Ok(cid)
    }

    /// Parses the binary form filling all of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> core::result::Result<Cid, String> {
        match Cid::read(bytes)? {
            (cid, used) if used == bytes.len() => Ok(cid),
            (_, used) => Err(format!("{} trailing bytes after the CID", bytes.len() - used)),
        }
    }

    /// Parses the binary form at the start of `bytes`: the CID and the
    /// number of bytes it took. A CIDv0 is a bare sha2-256 multihash
    /// (`0x12 0x20` + 32 bytes).
    pub fn read(bytes: &[u8]) -> core::result::Result<(Cid, usize), String> {
        if bytes.len() >= 2 && bytes[0] == SHA2_256 as u8 && bytes[1] == 32 {
            let digest = bytes.get(2..34).ok_or("a CIDv0 cut short")?;
            let cid = Cid { version: 0, codec: DAG_PB, hash_code: SHA2_256, digest: digest.to_vec() };
            return Ok((cid, 34));
        }
        let mut at = 0;
        let mut next = |what: &str| -> core::result::Result<u64, String> {
            let (value, used) = varint::read(&bytes[at..]).map_err(|e| format!("{what}: {e}"))?;
            at += used;
            Ok(value)
        };
        let version = next("version")?;
        if version != 1 {
            return Err(format!("CID version {version} (only 0 and 1 exist)"));
        }
        let codec = next("codec")?;
        let hash_code = next("multihash code")?;
        let len = next("multihash length")?;
        match hash_code {
            SHA2_256 if len != 32 => return Err(format!("a sha2-256 digest of {len} bytes")),
            SHA2_256 => {}
            IDENTITY if len > MAX_IDENTITY_DIGEST => {
                return Err(format!("an identity multihash of {len} bytes (limit {MAX_IDENTITY_DIGEST})"));
            }
            IDENTITY => {}
            other => return Err(format!("unsupported multihash 0x{other:x} (sha2-256 and identity are)")),
        }
        let end = at.checked_add(len as usize).filter(|&e| e <= bytes.len()).ok_or("the digest is cut short")?;
        let digest = bytes[at..end].to_vec();
        Ok((Cid { version: 1, codec, hash_code, digest }, end))
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.digest.len() + 8);
        if self.version == 1 {
            varint::write(1, &mut out);
            varint::write(self.codec, &mut out);
        }
        varint::write(self.hash_code, &mut out);
        varint::write(self.digest.len() as u64, &mut out);
        out.extend_from_slice(&self.digest);
        out
    }

    /// 0 or 1.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The content's multicodec ([`RAW`], [`DAG_PB`], …).
    pub fn codec(&self) -> u64 {
        self.codec
    }

    /// Fails with [`Error::ChecksumMismatch`] unless `block` is the content
    /// this CID names.
    pub fn verify(&self, block: &[u8]) -> Result<()> {
        let matches = match self.hash_code {
            SHA2_256 => Sha256::digest(block)[..] == self.digest[..],
            _ => block == self.digest.as_slice(),
        };
        if matches {
            return Ok(());
        }
        let actual = match self.hash_code {
            SHA2_256 => Sha256::digest(block).to_vec(),
            _ => block.to_vec(),
        };
        Err(Error::ChecksumMismatch {
            algorithm: if self.hash_code == SHA2_256 { "sha2-256 (CID)" } else { "identity (CID)" },
            expected: format!("{self} (digest 0x{})", to_hex(&self.digest)),
            actual: format!("0x{}", to_hex(&actual)),
        })
    }
}

impl fmt::Display for Cid {
    /// CIDv0 as base58btc, CIDv1 as base32 (`b…`), the forms `ipfs` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.version == 0 {
            f.write_str(&base58btc_encode(&self.to_bytes()))
        } else {
            write!(f, "b{}", base32_encode(&self.to_bytes()))
        }
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

const BASE58_ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Decodes base58btc (Bitcoin's alphabet); `None` on a character outside it.
fn base58btc_decode(text: &str) -> Option<Vec<u8>> {
    // Big-endian base-256 digits of the number, grown as characters arrive.
    let mut number: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.bytes() {
        let mut carry = BASE58_ALPHABET.iter().position(|&a| a == c)? as u32;
        for digit in number.iter_mut().rev() {
            carry += u32::from(*digit) * 58;
            *digit = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            number.insert(0, carry as u8);
            carry >>= 8;
        }
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    let mut out = vec![0u8; zeros];
    out.extend(number.into_iter().skip_while(|&d| d == 0));
    Some(out)
}

fn base58btc_encode(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for &b in bytes {
        let mut carry = u32::from(b);
        for digit in digits.iter_mut() {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    let mut out = "1".repeat(zeros);
    out.extend(digits.iter().rev().map(|&d| BASE58_ALPHABET[d as usize] as char));
    out
}

/// Decodes RFC 4648 base32 without padding, in one case only.
fn base32_decode(text: &str, upper: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        if upper == c.is_ascii_lowercase() && c.is_ascii_alphabetic() {
            return None; // mixed case
        }
        let c = c.to_ascii_lowercase();
        let value = BASE32_ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Leftover bits are padding: fewer than 5 and all zero in a canonical text.
    (bits < 5 && buffer == 0).then_some(out)
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32_ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base16_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes().chunks(2).map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // `ipfs add` of the empty file (CIDv0) and of "hello world\n" as a raw
    // leaf (CIDv1), both well-known values.
    const EMPTY_V0: &str = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH";

    #[test]
    fn v0_round_trips_and_is_dag_pb() {
        let cid = Cid::parse(EMPTY_V0).unwrap();
        assert_eq!((cid.version(), cid.codec()), (0, DAG_PB));
        assert_eq!(cid.to_string(), EMPTY_V0);
        assert_eq!(cid.to_bytes().len(), 34);
    }

    #[test]
    fn v1_forms_name_the_same_cid() {
        let cid = Cid::v1_sha256(RAW, b"hello world\n");
        let b32 = cid.to_string();
        assert!(b32.starts_with("bafkrei"), "{b32}");
        assert_eq!(Cid::parse(&b32).unwrap(), cid);
        assert_eq!(Cid::parse(&b32.to_ascii_uppercase()).unwrap(), cid);
        let z = format!("z{}", base58btc_encode(&cid.to_bytes()));
        assert_eq!(Cid::parse(&z).unwrap(), cid);
        let f = format!("f{}", to_hex(&cid.to_bytes()));
        assert_eq!(Cid::parse(&f).unwrap(), cid);
        cid.verify(b"hello world\n").unwrap();
        let err = cid.verify(b"hello world!").unwrap_err();
        assert_eq!(err.status(), crate::Status::ChecksumMismatch);
    }

    #[test]
    fn malformed_cids_are_invalid_arguments() {
        for bad in [
            "",
            "Qm",
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1Aw0H", // '0' is not base58
            "bafkreI",
            "xyz",
            "b",
            "bafy",
            "zQmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", // v0 inside multibase
        ] {
            let err = Cid::parse(bad).unwrap_err();
            assert_eq!(err.status(), crate::Status::InvalidArgument, "{bad:?}: {err}");
        }
        assert!(Cid::parse(&"b".repeat(MAX_CID_TEXT + 1)).is_err());
    }

    #[test]
    fn binary_forms_reject_bad_lengths_and_hashes() {
        let cid = Cid::v1_sha256(DAG_PB, b"x");
        let bytes = cid.to_bytes();
        assert_eq!(Cid::from_bytes(&bytes).unwrap(), cid);
        assert!(Cid::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Cid::from_bytes(&extra).is_err());
        assert!(Cid::from_bytes(&[1, 0x55, 0x13, 64]).unwrap_err().contains("unsupported multihash"));
        assert!(Cid::from_bytes(&[2, 0x55, 0x12, 32]).unwrap_err().contains("version 2"));
        let inline = [1, 0x55, 0, 3, b'a', b'b', b'c'];
        Cid::from_bytes(&inline).unwrap().verify(b"abc").unwrap();
    }

    #[test]
    fn base58_keeps_leading_zeros() {
        for bytes in [vec![], vec![0], vec![0, 0, 1], vec![255; 40]] {
            assert_eq!(base58btc_decode(&base58btc_encode(&bytes)).unwrap(), bytes);
        }
    }
}
