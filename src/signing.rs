//! Code signing: publishers sign a code hash, hosts trust publishers.
//!
//! The signed message is domain-separated text naming the code hash and a
//! version label:
//!
//! ```text
//! ebc code signature v1
//! code hash: 0x<64 hex digits>
//! version: <label, may be empty>
//! ```
//!
//! Two schemes: Ed25519 over those bytes, and secp256k1 in Ethereum's
//! EIP-191 `personal_sign` form (`"\x19Ethereum Signed Message:\n" + len +
//! message`, keccak256, 65-byte r‖s‖v), where the signer is recovered to an
//! address and matched against trusted addresses: any Ethereum wallet can
//! sign code.

use std::collections::HashMap;

use ed25519_dalek::Verifier as _;
use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, SigningKey as EcdsaKey, VerifyingKey as EcdsaPublic};
use revm::primitives::{Address, B256, keccak256};

use crate::codec::to_hex;
use crate::error::{Error, Result};
use crate::security::TrustLevel;

/// A signature scheme.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Ed25519 (RFC 8032) over the message; 64-byte signatures, 32-byte keys.
    Ed25519 = 0,
    /// secp256k1 ECDSA in EIP-191 form; 65-byte signatures, signer as address.
    Secp256k1Eip191 = 1,
}

impl Scheme {
    /// The scheme with this C number.
    pub fn from_u32(value: u32) -> Result<Scheme> {
        match value {
            0 => Ok(Scheme::Ed25519),
            1 => Ok(Scheme::Secp256k1Eip191),
            _ => Err(Error::InvalidArgument(format!("unknown signature scheme {value}"))),
        }
    }

    /// The scheme's name, as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Ed25519 => "ed25519",
            Scheme::Secp256k1Eip191 => "secp256k1",
        }
    }
}

/// A publisher's signature over a code hash and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// How it was made.
    pub scheme: Scheme,
    /// The signature bytes (64 for Ed25519, 65 for secp256k1).
    pub bytes: Vec<u8>,
    /// The version label that was signed with the hash (may be empty).
    pub version: String,
}

/// The exact bytes a publisher signs for `code_hash` and `version`.
pub fn message(code_hash: &B256, version: &str) -> Vec<u8> {
    format!("ebc code signature v1\ncode hash: {code_hash:#x}\nversion: {version}").into_bytes()
}

/// keccak256 of the EIP-191 `personal_sign` envelope of `message`.
pub fn eip191_hash(message: &[u8]) -> B256 {
    let mut envelope = format!("\x19Ethereum Signed Message:\n{}", message.len()).into_bytes();
    envelope.extend_from_slice(message);
    keccak256(envelope)
}

/// The Ethereum address of a secp256k1 public key.
fn address_of(key: &EcdsaPublic) -> Address {
    let point = key.to_encoded_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

/// The public identity of a 32-byte secret key: the Ed25519 public key (32
/// bytes), or the Ethereum address (20 bytes) that EIP-191 signatures by it
/// recover to. This is what a trust store is given.
pub fn identity(scheme: Scheme, secret: &[u8; 32]) -> Result<Vec<u8>> {
    Ok(match scheme {
        Scheme::Ed25519 => ed25519_dalek::SigningKey::from_bytes(secret).verifying_key().as_bytes().to_vec(),
        Scheme::Secp256k1Eip191 => address_of(secp256k1_key(secret)?.verifying_key()).to_vec(),
    })
}

fn secp256k1_key(secret: &[u8; 32]) -> Result<EcdsaKey> {
    EcdsaKey::from_slice(secret).map_err(|_| Error::InvalidArgument("not a valid secp256k1 secret key".into()))
}

/// Signs `code_hash` and `version` with a 32-byte secret key. Returns the
/// signature and the publisher's identity (the Ed25519 public key, or the
/// Ethereum address) as hex.
pub fn sign(scheme: Scheme, secret: &[u8; 32], code_hash: &B256, version: &str) -> Result<(Signature, String)> {
    let msg = message(code_hash, version);
    let (bytes, identity) = match scheme {
        Scheme::Ed25519 => {
            let key = ed25519_dalek::SigningKey::from_bytes(secret);
            let sig = ed25519_dalek::Signer::sign(&key, &msg);
            (sig.to_bytes().to_vec(), format!("0x{}", to_hex(key.verifying_key().as_bytes())))
        }
        Scheme::Secp256k1Eip191 => {
            let key = secp256k1_key(secret)?;
            let (sig, recid) = key
                .sign_prehash_recoverable(eip191_hash(&msg).as_slice())
                .map_err(|e| Error::InvalidArgument(format!("secp256k1 signing failed: {e}")))?;
            let mut bytes = sig.to_bytes().to_vec();
            bytes.push(27 + recid.to_byte());
            (bytes, format!("{:#x}", address_of(key.verifying_key())))
        }
    };
    Ok((Signature { scheme, bytes, version: version.to_owned() }, identity))
}

/// A trusted publisher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publisher {
    /// A name for messages and logs.
    pub name: String,
    /// The trust its signatures grant.
    pub trust: TrustLevel,
}

/// The publishers whose signatures a manager accepts.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    ed25519: HashMap<[u8; 32], Publisher>,
    ethereum: HashMap<Address, Publisher>,
}

impl TrustStore {
    /// Trusts Ed25519 `public_key` (32 bytes).
    pub fn add_ed25519(&mut self, public_key: [u8; 32], publisher: Publisher) -> Result<()> {
        ed25519_dalek::VerifyingKey::from_bytes(&public_key)
            .map_err(|_| Error::InvalidArgument(format!("0x{} is not an Ed25519 public key", to_hex(&public_key))))?;
        self.ed25519.insert(public_key, publisher);
        Ok(())
    }

    /// Trusts signatures that recover to Ethereum `address`.
    pub fn add_ethereum(&mut self, address: Address, publisher: Publisher) {
        self.ethereum.insert(address, publisher);
    }

    /// How many publishers are trusted.
    pub fn len(&self) -> usize {
        self.ed25519.len() + self.ethereum.len()
    }

    /// True when no publisher is trusted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The trusted publisher who signed `code_hash` with `signature`, or
    /// [`Error::SignatureInvalid`] saying why not (malformed, wrong message,
    /// untrusted signer).
    pub fn verify(&self, code_hash: &B256, signature: &Signature) -> Result<&Publisher> {
        let msg = message(code_hash, &signature.version);
        match signature.scheme {
            Scheme::Ed25519 => {
                let sig = ed25519_dalek::Signature::from_slice(&signature.bytes).map_err(|_| {
                    Error::SignatureInvalid(format!(
                        "an Ed25519 signature has 64 bytes, not {}",
                        signature.bytes.len()
                    ))
                })?;
                self.ed25519
                    .iter()
                    .find(|(key, _)| {
                        ed25519_dalek::VerifyingKey::from_bytes(key)
                            .is_ok_and(|k| k.verify(&msg, &sig).is_ok())
                    })
                    .map(|(_, p)| p)
                    .ok_or_else(|| {
                        Error::SignatureInvalid(format!(
                            "no trusted Ed25519 key signed code hash {code_hash:#x}"
                        ))
                    })
            }
            Scheme::Secp256k1Eip191 => {
                let signer = recover(&msg, &signature.bytes)?;
                self.ethereum.get(&signer).ok_or_else(|| {
                    Error::SignatureInvalid(format!(
                        "code hash {code_hash:#x} was signed by {signer:#x}, which is not trusted"
                    ))
                })
            }
        }
    }
}

/// The address that made a 65-byte EIP-191 signature of `message`.
pub fn recover(message: &[u8], signature: &[u8]) -> Result<Address> {
    if signature.len() != 65 {
        return Err(Error::SignatureInvalid(format!(
            "a secp256k1 signature has 65 bytes, not {}",
            signature.len()
        )));
    }
    let v = signature[64];
    let recid = RecoveryId::from_byte(if v >= 27 { v - 27 } else { v })
        .ok_or_else(|| Error::SignatureInvalid(format!("recovery byte v = {v} is not 0, 1, 27 or 28")))?;
    let sig = EcdsaSignature::from_slice(&signature[..64])
        .map_err(|_| Error::SignatureInvalid("r or s is out of range".into()))?;
    let key = EcdsaPublic::recover_from_prehash(eip191_hash(message).as_slice(), &sig, recid)
        .map_err(|_| Error::SignatureInvalid("no public key recovers from this signature".into()))?;
    Ok(address_of(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publisher() -> Publisher {
        Publisher { name: "acme".into(), trust: TrustLevel::FullyTrusted }
    }

    #[test]
    fn ed25519_signatures_verify_and_forgeries_do_not() {
        let hash = keccak256(b"code");
        let (sig, public) = sign(Scheme::Ed25519, &[7; 32], &hash, "1.0").unwrap();
        let mut store = TrustStore::default();
        let key: [u8; 32] = crate::codec::decode_hex(public.as_bytes(), "k").unwrap().try_into().unwrap();
        store.add_ed25519(key, publisher()).unwrap();
        assert_eq!(store.verify(&hash, &sig).unwrap().name, "acme");
        let other = keccak256(b"cod3");
        assert!(store.verify(&other, &sig).is_err(), "a different code hash");
        let relabelled = Signature { version: "2.0".into(), ..sig.clone() };
        assert!(store.verify(&hash, &relabelled).is_err(), "a different version");
        let (untrusted, _) = sign(Scheme::Ed25519, &[8; 32], &hash, "1.0").unwrap();
        assert_eq!(store.verify(&hash, &untrusted).unwrap_err().status(), crate::Status::SignatureInvalid);
    }

    #[test]
    fn secp256k1_eip191_recovers_the_signer_address() {
        // The web3.js documentation's example key and its address.
        let secret: [u8; 32] = crate::codec::decode_hex(
            b"4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318", "k").unwrap().try_into().unwrap();
        let hash = keccak256(b"code");
        let (sig, address) = sign(Scheme::Secp256k1Eip191, &secret, &hash, "").unwrap();
        assert_eq!(address, "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23");
        assert_eq!(sig.bytes.len(), 65);
        let signer = recover(&message(&hash, ""), &sig.bytes).unwrap();
        assert_eq!(format!("{signer:#x}"), address);
        let mut store = TrustStore::default();
        assert!(store.verify(&hash, &sig).is_err(), "nobody trusted yet");
        store.add_ethereum(signer, publisher());
        assert!(store.verify(&hash, &sig).is_ok());
        let mut flipped = sig.clone();
        flipped.bytes[10] ^= 1;
        assert!(store.verify(&hash, &flipped).is_err());
    }

    #[test]
    fn eip191_envelope_matches_a_known_vector() {
        // personal_sign of "hello": the hash every wallet computes.
        assert_eq!(
            format!("{:#x}", eip191_hash(b"hello")),
            "0x50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750"
        );
    }
}
