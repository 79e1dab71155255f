//! Integrity: the hashes of the code, and the checks against what the
//! caller or the source said they should be.

use revm::primitives::{B256, keccak256};
use sha2::{Digest, Sha256};

use crate::codec::to_hex;
use crate::error::{Error, Result};

/// The digests of one code, computed once at ingest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digests {
    /// keccak256, the Ethereum code hash.
    pub code_hash: B256,
    /// SHA-256.
    pub sha256: [u8; 32],
}

impl Digests {
    /// Hashes `code`.
    pub fn of(code: &[u8]) -> Digests {
        Digests { code_hash: keccak256(code), sha256: Sha256::digest(code).into() }
    }
}

/// Fails with [`Error::ChecksumMismatch`] (both digests in the message) when
/// `expected` is given and differs from `actual`.
pub fn expect_code_hash(expected: Option<&B256>, actual: &B256) -> Result<()> {
    match expected {
        Some(e) if e != actual => Err(mismatch("keccak256", e.as_slice(), actual.as_slice())),
        _ => Ok(()),
    }
}

/// As [`expect_code_hash`], for the SHA-256 checksum.
pub fn expect_sha256(expected: Option<&[u8; 32]>, actual: &[u8; 32]) -> Result<()> {
    match expected {
        Some(e) if e != actual => Err(mismatch("sha256", e, actual)),
        _ => Ok(()),
    }
}

fn mismatch(algorithm: &'static str, expected: &[u8], actual: &[u8]) -> Error {
    Error::ChecksumMismatch {
        algorithm,
        expected: format!("0x{}", to_hex(expected)),
        actual: format!("0x{}", to_hex(actual)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_code_hashes_to_the_known_constants() {
        let d = Digests::of(&[]);
        assert_eq!(d.code_hash, revm::primitives::KECCAK_EMPTY);
        assert_eq!(
            to_hex(&d.sha256),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_wrong_hash_names_both() {
        let actual = keccak256([1u8]);
        let err = expect_code_hash(Some(&B256::ZERO), &actual).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("0x{}", to_hex(B256::ZERO.as_slice()))), "{msg}");
        assert!(msg.contains(&to_hex(actual.as_slice())), "{msg}");
        assert!(expect_code_hash(Some(&actual), &actual).is_ok());
        assert!(expect_code_hash(None, &actual).is_ok());
    }
}
