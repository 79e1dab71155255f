//! The C ABI. This layer converts and guards; all logic lives in the Rust
//! API it wraps.
//!
//! Every export runs its body through `guard` or `guard_status`, which
//! catch panics so none crosses the boundary. Every pointer argument is
//! checked before use. Opaque handles are Rust objects behind casts: a
//! config and load options are `Box`es, a manager is a `Box`, a bytecode is
//! an `Arc` whose strong count is the C reference count.
//!
//! The functions are safe `extern "C" fn`s taking raw pointers: C callers
//! cannot see `unsafe`, and each pointer is checked (NULL) or documented
//! (must point to a live object of the right type) in the header.
#![allow(non_camel_case_types, clippy::not_unsafe_ptr_arg_deref)]

mod bytecode;
mod config;
mod error;
mod evmc;
mod loader;
mod manager;
mod signing;
mod verify;
mod vm;

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Error, Status};

pub use self::bytecode::*;
pub use self::config::*;
pub use self::error::{ebc_error, ebc_error_free, ebc_error_message, ebc_error_status};
pub use self::evmc::*;
pub use self::loader::*;
pub use self::manager::*;
pub use self::signing::*;
pub use self::verify::*;
pub use self::vm::*;

/// The version of the C ABI this library implements. Bumped only on a
/// breaking change; additions keep it.
pub const EBC_ABI_VERSION: u32 = 1;

/// A status code: `EBC_OK` (0) or the reason a call failed. More values may
/// be added; a host should treat an unknown value as a failure.
pub type ebc_status = u32;

/// Success.
pub const EBC_OK: ebc_status = 0;
/// A required pointer argument was NULL.
pub const EBC_NULL_PARAMETER: ebc_status = 1;
/// An argument was out of range or malformed.
pub const EBC_INVALID_ARGUMENT: ebc_status = 2;
/// External bytecode is disabled in the configuration.
pub const EBC_DISABLED: ebc_status = 3;
/// There is no code at the requested place.
pub const EBC_NOT_FOUND: ebc_status = 4;
/// No loader is registered for the URI's scheme.
pub const EBC_LOADER_NOT_FOUND: ebc_status = 5;
/// A size limit was exceeded.
pub const EBC_TOO_LARGE: ebc_status = 6;
/// The code failed verification.
pub const EBC_VERIFICATION_FAILED: ebc_status = 7;
/// The security policy rejected the code or the request.
pub const EBC_SECURITY_VIOLATION: ebc_status = 8;
/// A signature was missing, malformed or untrusted.
pub const EBC_SIGNATURE_INVALID: ebc_status = 9;
/// A hash or checksum did not match the expected value.
pub const EBC_CHECKSUM_MISMATCH: ebc_status = 10;
/// An operation did not finish within its time limit.
pub const EBC_TIMEOUT: ebc_status = 11;
/// An input/output operation failed.
pub const EBC_IO: ebc_status = 12;
/// A panic inside ebc was caught; the object involved may be unusable.
pub const EBC_PANIC: ebc_status = 13;

// The C numbers are the Rust enums' discriminants; a change to either breaks the build.
const _: () = {
    assert!(EBC_OK == Status::Ok as u32 && EBC_PANIC == Status::Panic as u32);
    assert!(EBC_NULL_PARAMETER == Status::NullParameter as u32);
    assert!(EBC_INVALID_ARGUMENT == Status::InvalidArgument as u32);
    assert!(EBC_DISABLED == Status::Disabled as u32 && EBC_NOT_FOUND == Status::NotFound as u32);
    assert!(EBC_LOADER_NOT_FOUND == Status::LoaderNotFound as u32);
    assert!(EBC_TOO_LARGE == Status::TooLarge as u32);
    assert!(EBC_VERIFICATION_FAILED == Status::VerificationFailed as u32);
    assert!(EBC_SECURITY_VIOLATION == Status::SecurityViolation as u32);
    assert!(EBC_SIGNATURE_INVALID == Status::SignatureInvalid as u32);
    assert!(EBC_CHECKSUM_MISMATCH == Status::ChecksumMismatch as u32);
    assert!(EBC_TIMEOUT == Status::Timeout as u32 && EBC_IO == Status::Io as u32);
    assert!(EBC_PRESET_TESTING == crate::Preset::Testing as u32);
    assert!(EBC_CACHE_ADAPTIVE == crate::CacheStrategy::Adaptive as u32);
    assert!(EBC_SECURITY_PARANOID == crate::SecurityLevel::Paranoid as u32);
    assert!(EBC_LOADER_JSONRPC == crate::LoaderType::JsonRpc as u32);
    assert!(EBC_COMPRESSION_NONE == crate::Compression::None as u32);
    assert!(EBC_COMPRESSION_GZIP == crate::Compression::Gzip as u32);
    assert!(EBC_COMPRESSION_ZSTD == crate::Compression::Zstd as u32);
    assert!(EBC_COMPRESSION_LZ4 == crate::Compression::Lz4 as u32);
};

/// Preset: production (Standard security, large cache).
pub const EBC_PRESET_PRODUCTION: u32 = 0;
/// Preset: development (Basic security); what a NULL config means.
pub const EBC_PRESET_DEVELOPMENT: u32 = 1;
/// Preset: testing (Basic security, small cache, short timeouts).
pub const EBC_PRESET_TESTING: u32 = 2;

/// Cache strategy: no caching.
pub const EBC_CACHE_NONE: u32 = 0;
/// Cache strategy: least recently used.
pub const EBC_CACHE_LRU: u32 = 1;
/// Cache strategy: least frequently used, with aging.
pub const EBC_CACHE_LFU: u32 = 2;
/// Cache strategy: LRU with per-entry expiry.
pub const EBC_CACHE_TTL: u32 = 3;
/// Cache strategy: adaptive.
pub const EBC_CACHE_ADAPTIVE: u32 = 4;

/// Security level: hard size cap only.
pub const EBC_SECURITY_NONE: u32 = 0;
/// Security level: size limit, expected hashes, EIP-7702 form.
pub const EBC_SECURITY_BASIC: u32 = 1;
/// Security level: Basic plus analysis findings.
pub const EBC_SECURITY_STANDARD: u32 = 2;
/// Security level: Standard plus provenance.
pub const EBC_SECURITY_STRICT: u32 = 3;
/// Security level: Strict plus the capability policy.
pub const EBC_SECURITY_PARANOID: u32 = 4;

/// Loader type: local file system (`file:` and plain paths).
pub const EBC_LOADER_FILE: u32 = 0;
/// Loader type: HTTP(S).
pub const EBC_LOADER_HTTP: u32 = 1;
/// Loader type: IPFS.
pub const EBC_LOADER_IPFS: u32 = 2;
/// Loader type: a database store.
pub const EBC_LOADER_DATABASE: u32 = 3;
/// Loader type: in-process entries (`mem:`).
pub const EBC_LOADER_MEMORY: u32 = 4;
/// Loader type: a loader registered by the host.
pub const EBC_LOADER_CUSTOM: u32 = 5;
/// Loader type: an Ethereum node's JSON-RPC.
pub const EBC_LOADER_JSONRPC: u32 = 6;

/// Compression of a source's bytes: none.
pub const EBC_COMPRESSION_NONE: u32 = 0;
/// Compression of a source's bytes: gzip.
pub const EBC_COMPRESSION_GZIP: u32 = 1;
/// Compression of a source's bytes: Zstandard.
pub const EBC_COMPRESSION_ZSTD: u32 = 2;
/// Compression of a source's bytes: an LZ4 frame.
pub const EBC_COMPRESSION_LZ4: u32 = 3;

/// A 20-byte account address.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ebc_address {
    /// The address, big-endian as everywhere in Ethereum.
    pub bytes: [u8; 20],
}

/// The address a C `ebc_address` holds.
pub(crate) fn address_of(address: &ebc_address) -> crate::Address {
    crate::Address::from(address.bytes)
}

/// The address behind an `address` pointer argument; NULL is
/// `EBC_NULL_PARAMETER`.
pub(crate) fn address_arg(address: *const ebc_address) -> Result<crate::Address, Error> {
    arg(address, "address").map(address_of)
}

/// A 32-byte hash (keccak256 or SHA-256).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ebc_hash {
    /// The digest.
    pub bytes: [u8; 32],
}

/// The value an export returns when a panic is caught and for NULL handles.
pub(crate) trait FfiDefault {
    fn ffi_default() -> Self;
}

impl FfiDefault for () {
    fn ffi_default() {}
}
impl FfiDefault for bool {
    fn ffi_default() -> bool {
        false
    }
}
/// `EBC_PANIC` for functions that return a status; getters returning a
/// number document their own fallback for NULL.
impl FfiDefault for u32 {
    fn ffi_default() -> u32 {
        EBC_PANIC
    }
}
impl FfiDefault for u64 {
    fn ffi_default() -> u64 {
        0
    }
}
impl FfiDefault for f64 {
    fn ffi_default() -> f64 {
        0.0
    }
}
impl FfiDefault for usize {
    fn ffi_default() -> usize {
        0
    }
}
impl<T> FfiDefault for *const T {
    fn ffi_default() -> *const T {
        std::ptr::null()
    }
}
impl<T> FfiDefault for *mut T {
    fn ffi_default() -> *mut T {
        std::ptr::null_mut()
    }
}

/// Runs `body`, turning a panic into `T`'s default.
pub(crate) fn guard<T: FfiDefault>(body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| T::ffi_default())
}

/// Runs a fallible `body`: `EBC_OK` on success; on failure (a panic
/// included) the error's status, with a new error object in `*err` when
/// `err` is not NULL.
pub(crate) fn guard_status(
    err: *mut *mut ebc_error,
    body: impl FnOnce() -> Result<(), Error>,
) -> ebc_status {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        Err(Error::Panic(text))
    });
    match outcome {
        Ok(()) => EBC_OK,
        Err(e) => {
            let status = e.status() as ebc_status;
            if !err.is_null() {
                // SAFETY: `err` is not NULL and the header requires it to
                // point to writable storage for one pointer.
                unsafe { *err = error::into_raw(e) };
            }
            status
        }
    }
}

/// `ptr` as a reference, or [`Error::NullParameter`] naming `name`.
///
/// The header requires every non-NULL pointer to point to a live object of
/// its type for the duration of the call; that is what makes this sound.
pub(crate) fn arg<'a, T>(ptr: *const T, name: &'static str) -> Result<&'a T, Error> {
    // SAFETY: see above; NULL is handled by `as_ref`.
    unsafe { ptr.as_ref() }.ok_or(Error::NullParameter(name))
}

/// As [`arg`], for a pointer the call writes through.
pub(crate) fn arg_mut<'a, T>(ptr: *mut T, name: &'static str) -> Result<&'a mut T, Error> {
    // SAFETY: as for `arg`; the header requires exclusive access for the call.
    unsafe { ptr.as_mut() }.ok_or(Error::NullParameter(name))
}

/// A pointer + length pair as bytes. NULL with length 0 is the empty slice;
/// NULL with a length is [`Error::NullParameter`].
pub(crate) fn bytes_arg<'a>(ptr: *const u8, len: usize, name: &'static str) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::NullParameter(name));
    }
    // SAFETY: not NULL, and the header requires `len` readable bytes at `ptr`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A pointer + length pair as UTF-8 text.
pub(crate) fn str_arg<'a>(ptr: *const c_char, len: usize, name: &'static str) -> Result<&'a str, Error> {
    let bytes = bytes_arg(ptr.cast(), len, name)?;
    std::str::from_utf8(bytes)
        .map_err(|e| Error::InvalidArgument(format!("{name} is not UTF-8 (at byte {})", e.valid_up_to())))
}

/// Writes `value` through the out-pointer `out`, checked for NULL first.
pub(crate) fn write_out<T>(out: *mut T, name: &'static str, value: T) -> Result<(), Error> {
    *arg_mut(out, name)? = value;
    Ok(())
}

/// The C number of a Rust status.
pub(crate) fn status_code(status: Status) -> ebc_status {
    status as ebc_status
}

/// The version of the C ABI: always `EBC_ABI_VERSION`. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_abi_version() -> u32 {
    EBC_ABI_VERSION
}

/// The crate version, e.g. "0.1.0". Static storage: never freed. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The name of a status, e.g. "EBC_TOO_LARGE"; "EBC_UNKNOWN" for a value
/// this version does not know. Static storage: never freed. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_status_name(s: ebc_status) -> *const c_char {
    guard(|| Status::from_u32(s).map_or(c"EBC_UNKNOWN", Status::c_name).as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_agree_with_the_rust_enum() {
        for s in Status::ALL {
            // SAFETY: ebc_status_name returns a static NUL-terminated string.
            let name = unsafe { std::ffi::CStr::from_ptr(ebc_status_name(status_code(s))) };
            assert_eq!(name.to_str().unwrap(), s.name());
        }
        // SAFETY: as above.
        let unknown = unsafe { std::ffi::CStr::from_ptr(ebc_status_name(99)) };
        assert_eq!(unknown.to_str().unwrap(), "EBC_UNKNOWN");
    }

    #[test]
    fn a_panic_becomes_ebc_panic_with_its_message() {
        let mut err: *mut ebc_error = std::ptr::null_mut();
        let status = guard_status(&mut err, || panic!("boom"));
        assert_eq!(status, EBC_PANIC);
        assert_eq!(error::message_of(err), "panic: boom");
        error::ebc_error_free(err);
        assert!(guard(|| -> *const u8 { panic!("x") }).is_null());
    }
}
