//! `ebc_config`: a mutable builder for a manager's configuration.

use std::ffi::c_char;

use super::{arg_mut, ebc_error, ebc_status, guard, guard_status, str_arg};
use crate::config::{CacheStrategy, Config, HARD_MAX_CODE_SIZE, Preset, SecurityLevel};
use crate::error::{Error, Result};

/// A manager configuration under construction. Created by
/// `ebc_config_new`, owned by the caller, freed with `ebc_config_free`.
/// Not thread-safe: one thread at a time may change it.
pub struct ebc_config {
    _private: [u8; 0],
}

pub(crate) fn config_ref<'a>(c: *const ebc_config) -> Option<&'a Config> {
    // SAFETY: a non-NULL `ebc_config*` comes from `ebc_config_new` and is
    // live (the header requires it).
    unsafe { c.cast::<Config>().as_ref() }
}

/// Runs `change` on the config behind `c`; `EBC_NULL_PARAMETER` for NULL.
fn update(c: *mut ebc_config, change: impl FnOnce(&mut Config) -> Result<()>) -> ebc_status {
    guard_status(std::ptr::null_mut(), || change(arg_mut(c.cast::<Config>(), "config")?))
}

/// A new configuration from a preset (`EBC_PRESET_*`). NULL for an unknown
/// preset. The caller owns the result and frees it with `ebc_config_free`.
/// Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_new(preset: u32) -> *mut ebc_config {
    guard(|| match Preset::from_u32(preset) {
        Ok(p) => Box::into_raw(Box::new(p.config())).cast(),
        Err(_) => std::ptr::null_mut(),
    })
}

/// Frees `c`. NULL is fine; freeing the same config twice is not. Managers
/// made from it keep their own copy.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_free(c: *mut ebc_config) {
    guard(|| {
        if !c.is_null() {
            // SAFETY: made by `ebc_config_new` and not yet freed (the header requires it).
            drop(unsafe { Box::from_raw(c.cast::<Config>()) });
        }
    })
}

/// Sets the cache strategy (`EBC_CACHE_*`). `EBC_INVALID_ARGUMENT` for an
/// unknown value, `EBC_NULL_PARAMETER` for a NULL `c`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_cache_strategy(c: *mut ebc_config, strategy: u32) -> ebc_status {
    update(c, |c| {
        c.cache_strategy = CacheStrategy::from_u32(strategy)?;
        Ok(())
    })
}

/// Sets the security level (`EBC_SECURITY_*`). `EBC_INVALID_ARGUMENT` for
/// an unknown value.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_security_level(c: *mut ebc_config, level: u32) -> ebc_status {
    update(c, |c| {
        c.security_level = SecurityLevel::from_u32(level)?;
        Ok(())
    })
}

/// Sets the most addresses the cache holds. 0 is allowed only with
/// `EBC_CACHE_NONE` (checked by `ebc_manager_new`).
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_max_cached_contracts(c: *mut ebc_config, n: u32) -> ebc_status {
    update(c, |c| {
        c.max_cached_contracts = n as usize;
        Ok(())
    })
}

/// Sets the largest accepted code in bytes, 1 to 16 MiB;
/// `EBC_INVALID_ARGUMENT` outside that range.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_max_contract_size(c: *mut ebc_config, bytes: usize) -> ebc_status {
    // Only this field's range: the other fields are checked together by
    // `ebc_manager_new`, so the order of the setters must not matter.
    update(c, |c| {
        if bytes == 0 || bytes > HARD_MAX_CODE_SIZE {
            return Err(Error::InvalidArgument(format!(
                "max_contract_size {bytes} is outside 1..={HARD_MAX_CODE_SIZE}"
            )));
        }
        c.max_contract_size = bytes;
        Ok(())
    })
}

/// Sets the most bytes the cache holds (code, analysis, bookkeeping);
/// 0 means no byte bound.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_max_cache_bytes(c: *mut ebc_config, bytes: usize) -> ebc_status {
    update(c, |c| {
        c.max_cache_bytes = bytes;
        Ok(())
    })
}

/// A boolean field of `ebc_config`, for `ebc_config_set_flag`.
fn flag(c: &mut Config, which: u32) -> Result<&mut bool> {
    Ok(match which {
        EBC_FLAG_EXTERNAL_BYTECODE => &mut c.enable_external_bytecode,
        EBC_FLAG_LAZY_LOADING => &mut c.enable_lazy_loading,
        EBC_FLAG_CODE_SIGNING => &mut c.enable_code_signing,
        EBC_FLAG_BYTECODE_VERIFICATION => &mut c.enable_bytecode_verification,
        _ => return Err(Error::InvalidArgument(format!("unknown config flag {which}"))),
    })
}

/// Flag: external bytecode on at all (off: every load is `EBC_DISABLED`).
pub const EBC_FLAG_EXTERNAL_BYTECODE: u32 = 0;
/// Flag: fetch uncached addresses from the default source on first use.
pub const EBC_FLAG_LAZY_LOADING: u32 = 1;
/// Flag: require signatures from the trust store.
pub const EBC_FLAG_CODE_SIGNING: u32 = 2;
/// Flag: analyse code and apply the security level's policy.
pub const EBC_FLAG_BYTECODE_VERIFICATION: u32 = 3;

/// Turns the boolean setting `which` (`EBC_FLAG_*`) on or off.
/// `EBC_INVALID_ARGUMENT` for an unknown flag.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_flag(c: *mut ebc_config, which: u32, on: bool) -> ebc_status {
    update(c, |c| {
        *flag(c, which)? = on;
        Ok(())
    })
}

/// Sets the time limit for one fetch from a source, in milliseconds
/// (0 = none).
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_loader_timeout_ms(c: *mut ebc_config, ms: u64) -> ebc_status {
    update(c, |c| {
        c.loader_timeout_ms = ms;
        Ok(())
    })
}

/// Sets the lifetime of cache entries under `EBC_CACHE_TTL`, in milliseconds.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_cache_ttl_ms(c: *mut ebc_config, ms: u64) -> ebc_status {
    update(c, |c| {
        c.cache_ttl_ms = ms;
        Ok(())
    })
}

/// Sets how long the default source's "no code at this address" answer is
/// remembered, in milliseconds (0 = ask every time; 1000 by default).
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_absent_ttl_ms(c: *mut ebc_config, ms: u64) -> ebc_status {
    update(c, |c| {
        c.absent_ttl_ms = ms;
        Ok(())
    })
}

/// Sets the URI used by loads that name none. `{address}` in it is
/// replaced by the address as `0x` + 40 lower-case hex digits, e.g.
/// "file:/var/code/{address}.hex". `uri` is UTF-8, `uri_len` bytes, no NUL
/// needed, copied. NULL with `uri_len` 0 removes the default source.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_default_source(
    c: *mut ebc_config,
    uri: *const c_char,
    uri_len: usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let config = arg_mut(c.cast::<Config>(), "config")?;
        let uri = str_arg(uri, uri_len, "uri")?;
        config.default_source = (!uri.is_empty()).then(|| uri.to_owned());
        Ok(())
    })
}

/// Sets the hardfork whose instruction set analysis uses (`EBC_FORK_*`;
/// the presets use the newest, `EBC_FORK_OSAKA`). `EBC_INVALID_ARGUMENT`
/// for an unknown value, `EBC_NULL_PARAMETER` for a NULL `c`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_fork(c: *mut ebc_config, fork: u32) -> ebc_status {
    update(c, |c| {
        c.fork = crate::verify::Fork::from_u32(fork)?;
        Ok(())
    })
}

/// Appends a directory to the allowed file roots: from
/// `EBC_SECURITY_STANDARD` up, `file:` loads (and plain paths) must then
/// resolve, symlinks and `..` followed, to a path under one of the roots,
/// or fail with `EBC_SECURITY_VIOLATION`. With no roots any path is
/// allowed; below Standard the roots are ignored.
///
/// `path` is UTF-8, `path_len` bytes, no NUL needed, copied; an empty path
/// or one containing a NUL byte is `EBC_INVALID_ARGUMENT`. The directory
/// is resolved by `ebc_manager_new`, which fails with `EBC_IO` when it
/// does not exist. One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_add_file_root(
    c: *mut ebc_config,
    path: *const c_char,
    path_len: usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    add_text(c, path, path_len, "path", err, |config, path| {
        config.allowed_file_roots.push(std::path::PathBuf::from(path));
        Ok(())
    })
}

/// Appends a host to the allowed hosts: from `EBC_SECURITY_STANDARD` up, a
/// URI naming a host (`scheme://host/...`, any loader but the file system)
/// must name one of them (compared without case, port ignored), or the
/// load fails with `EBC_SECURITY_VIOLATION`. With no hosts any host is
/// allowed.
///
/// `host` is UTF-8, `host_len` bytes, no NUL needed, copied; empty or with
/// a NUL byte is `EBC_INVALID_ARGUMENT`. One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_add_allowed_host(
    c: *mut ebc_config,
    host: *const c_char,
    host_len: usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    add_text(c, host, host_len, "host", err, |config, host| {
        config.allowed_hosts.push(host.to_owned());
        Ok(())
    })
}

/// Appends a JSON-RPC endpoint (`http://host:port[/path]` or `https://…`)
/// to the list `jsonrpc:` URIs use, tried in order: a request that fails on
/// one endpoint goes to the next. With `ebc_config_set_default_source(c,
/// "jsonrpc:", 8, …)`, `ebc_load` with a NULL URI fetches any address from
/// these nodes. `url` is UTF-8, `url_len` bytes, no NUL needed, copied;
/// empty, with a NUL byte or without http(s):// is `EBC_INVALID_ARGUMENT`.
/// One thread at a time per config.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_add_rpc_endpoint(
    c: *mut ebc_config,
    url: *const c_char,
    url_len: usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    add_text(c, url, url_len, "url", err, Config::add_rpc_endpoint)
}

/// Appends a header sent with every HTTP(S) and JSON-RPC request, e.g. an
/// API key. `name` and `value` are UTF-8 with their lengths, no NUL needed,
/// copied; the value never appears in messages. An empty name, a NUL byte
/// or a line break is `EBC_INVALID_ARGUMENT`. One thread at a time per
/// config.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_add_http_header(
    c: *mut ebc_config,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let config = arg_mut(c.cast::<Config>(), "config")?;
        let name = nonempty_str_arg(name, name_len, "name")?;
        let value = str_arg(value, value_len, "value")?;
        config.add_http_header(name, value)
    })
}

/// Sets how often a network request is retried after a 429, a 5xx or a
/// failed connection (exponential backoff with jitter, within the load's
/// time limit; the presets retry twice). `EBC_NULL_PARAMETER` for a NULL `c`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_http_retries(c: *mut ebc_config, retries: u32) -> ebc_status {
    update(c, |c| {
        c.http_retries = retries;
        Ok(())
    })
}

/// Trusts `*state_root` (copied) as the state root of block `block_number`:
/// JSON-RPC loads then read that block, prove each account against the
/// root with `eth_getProof`, and reject code whose keccak256 is not the
/// proven code hash (`EBC_CHECKSUM_MISMATCH`) or a proof that does not
/// check (`EBC_SECURITY_VIOLATION`). Proven code counts as provenance at
/// `EBC_SECURITY_STRICT`. NULL `state_root` removes the trusted state.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_trusted_state(
    c: *mut ebc_config,
    block_number: u64,
    state_root: *const super::ebc_hash,
) -> ebc_status {
    update(c, |c| {
        // SAFETY: a non-NULL `state_root` points to an `ebc_hash` (the header requires it).
        c.trusted_state = unsafe { state_root.as_ref() }.map(|root| crate::config::TrustedState {
            block: crate::source::jsonrpc::BlockId::Number(block_number),
            state_root: revm::primitives::B256::from(root.bytes),
        });
        Ok(())
    })
}

/// Appends a trustless IPFS gateway (`http://` or `https://` base URL,
/// e.g. `https://ipfs.io`) for `ipfs://<cid>` loads; gateways are tried in
/// the order added. Every block a gateway returns is checked against its
/// CID, so a gateway is trusted only to be available.
///
/// `url` is UTF-8, `url_len` bytes, no NUL needed, copied; empty, with a
/// NUL byte or not http(s) is `EBC_INVALID_ARGUMENT`. One thread at a
/// time per config.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_add_ipfs_gateway(
    c: *mut ebc_config,
    url: *const c_char,
    url_len: usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    add_text(c, url, url_len, "url", err, Config::add_ipfs_gateway)
}

/// Sets the most bytes a source may return before decoding, which is also
/// the cap on decompressed output (a zip bomb fails with `EBC_TOO_LARGE`).
/// Compiler artifacts need room for ABI and metadata beside the code; the
/// presets allow 4 MiB. Never effectively below what hex text of the
/// largest code needs, so 0 means just that. `EBC_INVALID_ARGUMENT` above
/// 1 GiB, `EBC_NULL_PARAMETER` for a NULL `c`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_config_set_max_source_size(c: *mut ebc_config, bytes: usize) -> ebc_status {
    update(c, |c| c.set_max_source_size(bytes))
}

/// Runs `add` on the config behind `c` with the non-empty UTF-8 text
/// `ptr`/`len` (named `name` in errors): the shape of every list setter.
fn add_text(
    c: *mut ebc_config,
    ptr: *const c_char,
    len: usize,
    name: &'static str,
    err: *mut *mut ebc_error,
    add: impl FnOnce(&mut Config, &str) -> Result<()>,
) -> ebc_status {
    guard_status(err, || {
        let config = arg_mut(c.cast::<Config>(), "config")?;
        add(config, nonempty_str_arg(ptr, len, name)?)
    })
}

/// A pointer + length pair as UTF-8 text that is neither empty nor holds a NUL.
fn nonempty_str_arg<'a>(ptr: *const c_char, len: usize, name: &'static str) -> Result<&'a str> {
    let text = str_arg(ptr, len, name)?;
    if text.is_empty() {
        return Err(Error::InvalidArgument(format!("{name} is empty")));
    }
    if text.contains('\0') {
        return Err(Error::InvalidArgument(format!("{name} {text:?} contains a NUL byte")));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::{EBC_INVALID_ARGUMENT, EBC_OK, EBC_PRESET_TESTING};

    #[test]
    fn max_contract_size_is_checked_alone_whatever_the_order_of_setters() {
        let c = ebc_config_new(EBC_PRESET_TESTING);
        // Invalid together with the LRU strategy, until the strategy changes.
        assert_eq!(ebc_config_set_max_cached_contracts(c, 0), EBC_OK);
        assert_eq!(ebc_config_set_max_contract_size(c, 100), EBC_OK);
        assert_eq!(ebc_config_set_max_contract_size(c, 0), EBC_INVALID_ARGUMENT);
        assert_eq!(ebc_config_set_max_contract_size(c, HARD_MAX_CODE_SIZE + 1), EBC_INVALID_ARGUMENT);
        assert_eq!(config_ref(c).unwrap().max_contract_size, 100);
        ebc_config_free(c);
    }
}
