//! Code signing: trust levels, signature schemes, trusting publishers,
//! signing a code hash and attaching a signature to a load.

use std::ffi::c_char;

use revm::primitives::{Address, B256};

use super::manager::{ebc_load_options, ebc_manager, manager, options_mut};
use super::{
    arg, arg_mut, bytes_arg, ebc_address, ebc_error, ebc_hash, ebc_status, guard_status, str_arg,
    write_out,
};
use crate::error::{Error, Result};
use crate::security::TrustLevel;
use crate::signing::{Publisher, Scheme, Signature, sign};

/// Trust level: nothing vouches for the code.
pub const EBC_TRUST_UNTRUSTED: u32 = 0;
/// Trust level: a remote source without proof. May call other accounts.
pub const EBC_TRUST_LOW: u32 = 1;
/// Trust level: integrity checked against an expected hash. May also
/// change state and emit logs.
pub const EBC_TRUST_MEDIUM: u32 = 2;
/// Trust level: the host's own store. May also create contracts.
pub const EBC_TRUST_HIGH: u32 = 3;
/// Trust level: signed by a fully trusted publisher, or loaded at
/// `EBC_SECURITY_NONE`.
pub const EBC_TRUST_FULLY_TRUSTED: u32 = 4;

/// Signature scheme: Ed25519 (RFC 8032); 32-byte secret and public keys,
/// 64-byte signatures.
pub const EBC_SCHEME_ED25519: u32 = 0;
/// Signature scheme: secp256k1 ECDSA in Ethereum's EIP-191
/// `personal_sign` form; 32-byte secret keys, 65-byte signatures (r, s, v),
/// the signer identified by its 20-byte address.
pub const EBC_SCHEME_SECP256K1_EIP191: u32 = 1;

/// The longest signature of any scheme, in bytes: room for `ebc_sign`.
pub const EBC_SIGNATURE_MAX_LEN: usize = 65;
/// The longest signer identity of any scheme, in bytes: room for
/// `ebc_signer_identity`.
pub const EBC_SIGNER_IDENTITY_MAX_LEN: usize = 32;

// The C numbers are the Rust discriminants; a change to either breaks the build.
const _: () = {
    assert!(EBC_TRUST_UNTRUSTED == TrustLevel::Untrusted as u32);
    assert!(EBC_TRUST_LOW == TrustLevel::Low as u32);
    assert!(EBC_TRUST_MEDIUM == TrustLevel::Medium as u32);
    assert!(EBC_TRUST_HIGH == TrustLevel::High as u32);
    assert!(EBC_TRUST_FULLY_TRUSTED == TrustLevel::FullyTrusted as u32);
    assert!(EBC_SCHEME_ED25519 == Scheme::Ed25519 as u32);
    assert!(EBC_SCHEME_SECP256K1_EIP191 == Scheme::Secp256k1Eip191 as u32);
};

/// A publisher from the C arguments.
fn publisher(name: *const c_char, name_len: usize, trust: u32) -> Result<Publisher> {
    let name = str_arg(name, name_len, "name")?.to_owned();
    Ok(Publisher { name, trust: TrustLevel::from_u32(trust)? })
}

/// A 32-byte secret key from a pointer + length pair.
fn secret_arg<'a>(secret_key: *const u8, len: usize) -> Result<&'a [u8; 32]> {
    let bytes = bytes_arg(secret_key, len, "secret_key")?;
    <&[u8; 32]>::try_from(bytes)
        .map_err(|_| Error::InvalidArgument(format!("a secret key has 32 bytes, not {len}")))
}

/// Copies `bytes` to `out` (room for `capacity`) and their count to
/// `*len_out`; `EBC_TOO_LARGE` when they do not fit.
fn write_bytes(bytes: &[u8], out: *mut u8, capacity: usize, len_out: *mut usize, what: &str) -> Result<()> {
    if out.is_null() {
        return Err(Error::NullParameter("out"));
    }
    arg_mut(len_out, "len_out")?;
    if bytes.len() > capacity {
        return Err(Error::TooLarge {
            what: format!("the {what} for a buffer of {capacity} bytes"),
            limit: capacity as u64,
            size: Some(bytes.len() as u64),
        });
    }
    // SAFETY: `out` is not NULL and the header requires `capacity` writable
    // bytes there; `bytes.len() <= capacity`; a caller's buffer cannot
    // overlap ebc's own `bytes`.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) };
    write_out(len_out, "len_out", bytes.len())
}

/// Trusts code signed with the Ed25519 key `public_key` (exactly 32 bytes,
/// copied) by a publisher called `name` (UTF-8, `name_len` bytes, copied;
/// may be empty, NULL only with 0), whose signatures grant trust level
/// `trust` (`EBC_TRUST_*`). Trusting the same key again replaces its name
/// and level.
///
/// Loads through `m` that carry a signature (`ebc_load_options_set_signature`)
/// succeed only if a trusted key made it; from `EBC_SECURITY_STRICT` up a
/// load must carry one. The signed code runs at the granted level (see
/// `ebc_bytecode_permissions`); at `EBC_SECURITY_PARANOID` what the level
/// does not permit is refused with `EBC_SECURITY_VIOLATION`.
///
/// Errors: `EBC_NULL_PARAMETER` for a NULL `m` or `public_key`;
/// `EBC_INVALID_ARGUMENT` for an unknown trust level, a name that is not
/// UTF-8, or 32 bytes that are not an Ed25519 public key. Any thread,
/// concurrently with loads (a load in progress sees the store before or
/// after the change).
#[unsafe(no_mangle)]
pub extern "C" fn ebc_manager_trust_ed25519(
    m: *mut ebc_manager,
    public_key: *const u8,
    name: *const c_char,
    name_len: usize,
    trust: u32,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let manager = manager(m)?;
        let key = arg(public_key.cast::<[u8; 32]>(), "public_key")?;
        manager.trust_ed25519(*key, publisher(name, name_len, trust)?)
    })
}

/// Trusts code signed in EIP-191 form (`EBC_SCHEME_SECP256K1_EIP191`) by the
/// Ethereum account `*signer` (copied), a publisher called `name` (UTF-8,
/// `name_len` bytes, copied; may be empty, NULL only with 0), whose
/// signatures grant trust level `trust` (`EBC_TRUST_*`). Trusting the same
/// address again replaces its name and level. What trust means for loads is
/// as for `ebc_manager_trust_ed25519`.
///
/// Errors: `EBC_NULL_PARAMETER` for a NULL `m` or `signer`;
/// `EBC_INVALID_ARGUMENT` for an unknown trust level or a name that is not
/// UTF-8. Any thread, concurrently with loads.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_manager_trust_ethereum(
    m: *mut ebc_manager,
    signer: *const ebc_address,
    name: *const c_char,
    name_len: usize,
    trust: u32,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let manager = manager(m)?;
        let signer = Address::from(arg(signer, "signer")?.bytes);
        manager.trust_ethereum(signer, publisher(name, name_len, trust)?);
        Ok(())
    })
}

/// Attaches a publisher's signature to loads with these options: the
/// signature (`signature_len` bytes at `signature`, copied) made with
/// `scheme` (`EBC_SCHEME_*`) over the loaded code's keccak256 hash and the
/// version label `version` (UTF-8, `version_len` bytes, copied; may be
/// empty, NULL only with 0), as `ebc_sign` makes it. The load checks it
/// against the manager's trusted publishers before it accepts the code and
/// fails with `EBC_SIGNATURE_INVALID` when it is malformed (wrong length),
/// does not match the code or was made by no trusted key. It is not checked
/// on a cache hit, and ignored at `EBC_SECURITY_NONE`.
///
/// `signature_len` 0 (`signature` may then be NULL) removes the signature.
///
/// Errors: `EBC_NULL_PARAMETER` for a NULL `o`, or a NULL `signature` or
/// `version` with a non-zero length; `EBC_INVALID_ARGUMENT` for an unknown
/// scheme (also when removing) or a version that is not UTF-8. The options
/// are unchanged on failure. One thread at a time per options object.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_load_options_set_signature(
    o: *mut ebc_load_options,
    scheme: u32,
    signature: *const u8,
    signature_len: usize,
    version: *const c_char,
    version_len: usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let options = options_mut(o)?;
        let scheme = Scheme::from_u32(scheme)?;
        let bytes = bytes_arg(signature, signature_len, "signature")?;
        let version = str_arg(version, version_len, "version")?;
        options.signature = (!bytes.is_empty()).then(|| Signature {
            scheme,
            bytes: bytes.to_vec(),
            version: version.to_owned(),
        });
        Ok(())
    })
}

/// Signs `*code_hash` (the code's keccak256, as `ebc_bytecode_code_hash`
/// gives it) and the version label `version` (UTF-8, `version_len` bytes;
/// may be empty, NULL only with 0) with `secret_key` (exactly 32 bytes;
/// read during the call only, never kept) under `scheme` (`EBC_SCHEME_*`),
/// for publishers and tests. Pass the result to
/// `ebc_load_options_set_signature` with the same scheme and version.
///
/// Writes the signature, 64 bytes for Ed25519 or 65 for secp256k1
/// (`EBC_SIGNATURE_MAX_LEN` always suffices), to `signature_out` (room for
/// `signature_capacity` bytes) and its length to `*signature_len_out`.
/// Nothing is written on failure.
///
/// Errors: `EBC_NULL_PARAMETER` for a NULL `code_hash`, `signature_out` or
/// `signature_len_out`, or a NULL `secret_key` or `version` with a non-zero
/// length; `EBC_INVALID_ARGUMENT` for an unknown scheme, a key that is not
/// 32 bytes or not a valid secp256k1 secret, or a version that is not UTF-8;
/// `EBC_TOO_LARGE` when the signature does not fit in `signature_capacity`.
/// Any thread, concurrently.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ebc_sign(
    scheme: u32,
    secret_key: *const u8,
    secret_key_len: usize,
    code_hash: *const ebc_hash,
    version: *const c_char,
    version_len: usize,
    signature_out: *mut u8,
    signature_capacity: usize,
    signature_len_out: *mut usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let scheme = Scheme::from_u32(scheme)?;
        let secret = secret_arg(secret_key, secret_key_len)?;
        let code_hash = B256::from(arg(code_hash, "code_hash")?.bytes);
        let version = str_arg(version, version_len, "version")?;
        if signature_out.is_null() {
            return Err(Error::NullParameter("signature_out"));
        }
        arg_mut(signature_len_out, "signature_len_out")?;
        let (signature, _) = sign(scheme, secret, &code_hash, version)?;
        write_bytes(&signature.bytes, signature_out, signature_capacity, signature_len_out, "signature")
    })
}

/// The identity that trusts the signer of `secret_key` (exactly `len` = 32
/// bytes; read during the call only, never kept) under `scheme`
/// (`EBC_SCHEME_*`): for Ed25519 the 32-byte public key, for
/// `ebc_manager_trust_ed25519`; for secp256k1 the 20-byte Ethereum address,
/// the bytes of an `ebc_address` for `ebc_manager_trust_ethereum`.
///
/// Writes it to `out` (room for `capacity` bytes;
/// `EBC_SIGNER_IDENTITY_MAX_LEN` always suffices) and its length to
/// `*len_out`. Nothing is written on failure.
///
/// Errors: `EBC_NULL_PARAMETER` for a NULL `out` or `len_out`, or a NULL
/// `secret_key` with a non-zero `len`; `EBC_INVALID_ARGUMENT` for an
/// unknown scheme or a key that is not 32 bytes or not a valid secp256k1
/// secret; `EBC_TOO_LARGE` when the identity does not fit in `capacity`.
/// Any thread, concurrently.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_signer_identity(
    scheme: u32,
    secret_key: *const u8,
    len: usize,
    out: *mut u8,
    capacity: usize,
    len_out: *mut usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let scheme = Scheme::from_u32(scheme)?;
        let secret = secret_arg(secret_key, len)?;
        if out.is_null() {
            return Err(Error::NullParameter("out"));
        }
        arg_mut(len_out, "len_out")?;
        // `sign` reports the identity as hex; what it signs does not matter.
        let identity = crate::signing::identity(scheme, secret)?;
        write_bytes(&identity, out, capacity, len_out, "signer identity")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::{EBC_INVALID_ARGUMENT, EBC_NULL_PARAMETER, EBC_OK, EBC_TOO_LARGE};

    #[test]
    fn trust_levels_and_schemes_round_trip_and_unknown_values_are_rejected() {
        for (c, rust) in [
            (EBC_TRUST_UNTRUSTED, TrustLevel::Untrusted),
            (EBC_TRUST_LOW, TrustLevel::Low),
            (EBC_TRUST_MEDIUM, TrustLevel::Medium),
            (EBC_TRUST_HIGH, TrustLevel::High),
            (EBC_TRUST_FULLY_TRUSTED, TrustLevel::FullyTrusted),
        ] {
            assert_eq!(TrustLevel::from_u32(c).unwrap(), rust);
            assert_eq!(rust as u32, c);
        }
        assert!(TrustLevel::from_u32(5).is_err());
        assert_eq!(Scheme::from_u32(EBC_SCHEME_ED25519).unwrap(), Scheme::Ed25519);
        assert_eq!(Scheme::from_u32(EBC_SCHEME_SECP256K1_EIP191).unwrap(), Scheme::Secp256k1Eip191);
        assert!(Scheme::from_u32(2).is_err());
    }

    #[test]
    fn sign_and_identity_write_exactly_what_the_rust_api_makes() {
        let secret = [7u8; 32];
        let hash = ebc_hash { bytes: [0x42; 32] };
        let mut buf = [0u8; EBC_SIGNATURE_MAX_LEN];
        let mut len = 0usize;
        let null = std::ptr::null_mut();
        for (scheme, want_sig, want_id) in [(EBC_SCHEME_ED25519, 64, 32), (EBC_SCHEME_SECP256K1_EIP191, 65, 20)] {
            let status = ebc_sign(scheme, secret.as_ptr(), 32, &hash, c"v1".as_ptr(), 2, buf.as_mut_ptr(), buf.len(), &mut len, null);
            assert_eq!((status, len), (EBC_OK, want_sig));
            let (rust, id) = sign(Scheme::from_u32(scheme).unwrap(), &secret, &B256::from(hash.bytes), "v1").unwrap();
            assert_eq!(&buf[..len], &rust.bytes[..]);
            let mut idbuf = [0u8; EBC_SIGNER_IDENTITY_MAX_LEN];
            let status = ebc_signer_identity(scheme, secret.as_ptr(), 32, idbuf.as_mut_ptr(), idbuf.len(), &mut len, null);
            assert_eq!((status, len), (EBC_OK, want_id));
            assert_eq!(format!("0x{}", crate::codec::to_hex(&idbuf[..len])), id);
            // One byte short: nothing written.
            len = 99;
            let status = ebc_sign(scheme, secret.as_ptr(), 32, &hash, std::ptr::null(), 0, buf.as_mut_ptr(), want_sig - 1, &mut len, null);
            assert_eq!((status, len), (EBC_TOO_LARGE, 99));
        }
        let status = ebc_sign(0, secret.as_ptr(), 31, &hash, std::ptr::null(), 0, buf.as_mut_ptr(), 65, &mut len, null);
        assert_eq!(status, EBC_INVALID_ARGUMENT);
        let status = ebc_sign(0, std::ptr::null(), 32, &hash, std::ptr::null(), 0, buf.as_mut_ptr(), 65, &mut len, null);
        assert_eq!(status, EBC_NULL_PARAMETER);
        let status = ebc_sign(2, secret.as_ptr(), 32, &hash, std::ptr::null(), 0, buf.as_mut_ptr(), 65, &mut len, null);
        assert_eq!(status, EBC_INVALID_ARGUMENT);
    }
}
