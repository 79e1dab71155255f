//! Account code with EVMC's semantics: what an EVMC host's
//! `get_code_size`, `get_code_hash` and `copy_code` forward to.

use super::manager::{ebc_manager, manager};
use super::{address_arg, arg_mut, ebc_address, ebc_error, ebc_hash, ebc_status, guard_status, write_out};
use crate::error::Error;

/// The size of `*address`'s code, as EVMC's `get_code_size` reports it,
/// into `*size_out`.
///
/// The code comes from the cache or, on a miss, from the manager's default
/// source (`ebc_config_set_default_source`), loaded, verified and cached as
/// by `ebc_load` with no URI; concurrent calls for one address fetch once.
/// How the source's answer reads, for this function and for
/// `ebc_code_hash` and `ebc_copy_code`:
/// - a missing account: the loader fails with `EBC_NOT_FOUND` (a callback
///   loader returns it; `file:` has no such file; `mem:` no such entry), or
///   lazy loading is off and the address is not cached. Size 0, code hash
///   all zeros, nothing copied; the call returns `EBC_OK`.
/// - an account without code: the loader succeeds and writes zero bytes
///   (or the hex text `0x`). Size 0, code hash keccak256 of the empty
///   string (`c5d2…a470`), nothing copied; `EBC_OK`.
/// - code: its size, its keccak256, its bytes.
///
/// Only code is cached; a missing or empty account is remembered as such
/// for the configuration's `absent_ttl_ms` (`ebc_config_set_absent_ttl_ms`,
/// 1 s by default) and then asked again. Any other failure is returned as it is, never taken for a
/// missing account: `EBC_LOADER_NOT_FOUND` when no default source is
/// configured, `EBC_TIMEOUT`, `EBC_IO`, `EBC_TOO_LARGE`, the security
/// level's rejections, `EBC_DISABLED`. Nothing is written then.
///
/// Errors also: `EBC_NULL_PARAMETER` for a NULL `m`, `address` or
/// `size_out`. Any thread, concurrently.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_code_size(
    m: *mut ebc_manager,
    address: *const ebc_address,
    size_out: *mut usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let manager = manager(m)?;
        let address = address_arg(address)?;
        arg_mut(size_out, "size_out")?;
        write_out(size_out, "size_out", manager.code_size(&address)?)
    })
}

/// The code hash of `*address`, as EVMC's `get_code_hash` reports it, into
/// `*hash_out`: keccak256 of the code; keccak256 of the empty string for
/// an account without code; all zeros for a missing account. Loads and
/// fails as `ebc_code_size` does.
///
/// Errors: `EBC_NULL_PARAMETER` for a NULL `m`, `address` or `hash_out`,
/// and the load's failures as for `ebc_code_size`. Any thread,
/// concurrently.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_code_hash(
    m: *mut ebc_manager,
    address: *const ebc_address,
    hash_out: *mut ebc_hash,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let manager = manager(m)?;
        let address = address_arg(address)?;
        arg_mut(hash_out, "hash_out")?;
        write_out(hash_out, "hash_out", ebc_hash { bytes: manager.code_hash(&address)?.0 })
    })
}

/// Copies `*address`'s code, from byte `code_offset` on, into `buffer`
/// (room for `buffer_size` bytes; owned by the caller), as EVMC's
/// `copy_code` does, and writes the number of bytes copied to
/// `*copied_out`: at most `buffer_size`, 0 when `code_offset` is at or past
/// the end of the code or the account has none. The rest of `buffer` is
/// left as it was. Loads and fails as `ebc_code_size` does; on failure
/// nothing is written.
///
/// Errors: `EBC_NULL_PARAMETER` for a NULL `m`, `address` or `copied_out`,
/// or a NULL `buffer` with a non-zero `buffer_size`, and the load's
/// failures as for `ebc_code_size`. Any thread, concurrently.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_copy_code(
    m: *mut ebc_manager,
    address: *const ebc_address,
    code_offset: usize,
    buffer: *mut u8,
    buffer_size: usize,
    copied_out: *mut usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let manager = manager(m)?;
        let address = address_arg(address)?;
        arg_mut(copied_out, "copied_out")?;
        let buffer: &mut [u8] = if buffer_size == 0 {
            &mut []
        } else if buffer.is_null() {
            return Err(Error::NullParameter("buffer"));
        } else {
            // SAFETY: not NULL, and the header requires `buffer_size`
            // writable bytes at `buffer`, not used by anything else during
            // the call.
            unsafe { std::slice::from_raw_parts_mut(buffer, buffer_size) }
        };
        let copied = manager.copy_code(&address, code_offset, buffer)?;
        write_out(copied_out, "copied_out", copied)
    })
}
