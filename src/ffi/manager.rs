//! `ebc_manager` and `ebc_load_options`: loading, caching and statistics.

use std::ffi::c_char;

use revm::primitives::{Address, B256};

use super::bytecode::{ebc_bytecode, into_raw as bytecode_into_raw};
use super::config::{config_ref, ebc_config};
use super::{
    address_arg, address_of, arg, arg_mut, bytes_arg, ebc_address, ebc_error, ebc_hash, ebc_status, guard, guard_status,
    str_arg, write_out,
};
use crate::config::Config;
use crate::error::Error;
use crate::manager::{LoadOptions, Manager};
use crate::source::LoaderType;

/// The manager: loads, verifies and caches code. Thread-safe: every
/// function taking an `ebc_manager*` may be called from any thread, from
/// many at once, except `ebc_manager_free`, which must be the last call.
pub struct ebc_manager {
    _private: [u8; 0],
}

/// Per-load choices. Created by `ebc_load_options_new`, owned by the
/// caller, freed with `ebc_load_options_free`. One thread at a time may
/// change it; once set up, any number of threads may pass it to `ebc_load`.
pub struct ebc_load_options {
    _private: [u8; 0],
}

pub(crate) fn manager<'a>(m: *const ebc_manager) -> Result<&'a Manager, Error> {
    arg(m.cast::<Manager>(), "manager")
}

pub(crate) fn options_mut<'a>(o: *mut ebc_load_options) -> Result<&'a mut LoadOptions, Error> {
    arg_mut(o.cast::<LoadOptions>(), "options")
}


/// Creates a manager from `config` (copied; NULL means the development
/// preset) into `*out`. The caller owns the manager and frees it with
/// `ebc_manager_free`. `EBC_INVALID_ARGUMENT` (with a message) when the
/// configuration is inconsistent. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_manager_new(
    config: *const ebc_config,
    out: *mut *mut ebc_manager,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        arg_mut(out, "out")?;
        let config = config_ref(config).cloned().unwrap_or_else(Config::development);
        let m = Box::new(Manager::new(config)?);
        write_out(out, "out", Box::into_raw(m).cast())
    })
}

/// Frees `m`, its cache and its loaders (running their `user_data_free`).
/// NULL is fine; a second free is not. No other call on `m` may be running
/// or follow. Bytecode references obtained from `m` stay valid until
/// released.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_manager_free(m: *mut ebc_manager) {
    guard(|| {
        if !m.is_null() {
            // SAFETY: made by `ebc_manager_new` and not yet freed; no other
            // call is using it (the header requires both).
            drop(unsafe { Box::from_raw(m.cast::<Manager>()) });
        }
    })
}

/// The code of `address`: from the cache, or fetched from the URI (`uri`,
/// `uri_len` bytes of UTF-8; NULL and 0 for the manager's default source),
/// decoded, checked, verified and cached.
///
/// On success `*out` receives a new reference the caller releases with
/// `ebc_release`. `options` may be NULL (defaults). Concurrent loads of one
/// uncached address fetch once; the others wait for that result. A failed
/// load is never cached. Any thread, concurrently.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_load(
    m: *mut ebc_manager,
    address: *const ebc_address,
    uri: *const c_char,
    uri_len: usize,
    options: *const ebc_load_options,
    out: *mut *const ebc_bytecode,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let manager = manager(m)?;
        let address = address_arg(address)?;
        arg_mut(out, "out")?;
        let uri = if uri.is_null() && uri_len == 0 { None } else { Some(str_arg(uri, uri_len, "uri")?) };
        let defaults = LoadOptions::default();
        // SAFETY: a non-NULL options pointer comes from `ebc_load_options_new`.
        let options = unsafe { options.cast::<LoadOptions>().as_ref() }.unwrap_or(&defaults);
        let code = manager.load(&address, uri, options)?;
        write_out(out, "out", bytecode_into_raw(code))
    })
}

/// The cached code of `address`, or NULL when it is not cached (or `m` or
/// `address` is NULL). Never fetches. A non-NULL result is a new reference
/// the caller releases with `ebc_release`. Any thread, concurrently.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_get(m: *mut ebc_manager, address: *const ebc_address) -> *const ebc_bytecode {
    guard(|| {
        let (Ok(manager), Ok(address)) = (manager(m), arg(address, "address")) else {
            return std::ptr::null();
        };
        manager.get(&address_of(address)).map_or(std::ptr::null(), bytecode_into_raw)
    })
}

/// Removes `address` from the cache; `EBC_NOT_FOUND` when it was not
/// cached. References already handed out stay valid. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_unload(m: *mut ebc_manager, address: *const ebc_address) -> ebc_status {
    guard_status(std::ptr::null_mut(), || {
        manager(m)?.unload(&address_arg(address)?)
    })
}

/// Loads `count` addresses, `addresses[i]` from the default source, in
/// order; a failure does not stop the rest. When `statuses_out` is not
/// NULL it receives `count` statuses. `*loaded_out` (may be NULL) receives
/// how many succeeded. Returns `EBC_OK` when the arguments were usable,
/// whatever the loads did. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_preload(
    m: *mut ebc_manager,
    addresses: *const ebc_address,
    count: usize,
    statuses_out: *mut ebc_status,
    loaded_out: *mut usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let manager = manager(m)?;
        if count > 0 && addresses.is_null() {
            return Err(Error::NullParameter("addresses"));
        }
        let items: Vec<(Address, Option<String>)> = (0..count)
            // SAFETY: the header requires `count` addresses at `addresses`.
            .map(|i| (address_of(unsafe { &*addresses.add(i) }), None))
            .collect();
        let results = manager.preload(&items);
        if !statuses_out.is_null() {
            for (i, r) in results.iter().enumerate() {
                let status = r.as_ref().err().map_or(super::EBC_OK, |e| e.status() as ebc_status);
                // SAFETY: not NULL; the header requires room for `count` statuses.
                unsafe { *statuses_out.add(i) = status };
            }
        }
        if !loaded_out.is_null() {
            let loaded = results.iter().filter(|r| r.is_ok()).count();
            write_out(loaded_out, "loaded_out", loaded)?;
        }
        Ok(())
    })
}

/// Stores `len` bytes at `data` (raw code or hex text; copied) as the
/// in-process entry `mem:<name>`, replacing one of the same name.
/// `name` is UTF-8, `name_len` bytes. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_manager_put_memory(
    m: *mut ebc_manager,
    name: *const c_char,
    name_len: usize,
    data: *const u8,
    len: usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let manager = manager(m)?;
        let name = str_arg(name, name_len, "name")?;
        manager.put_memory(name, bytes_arg(data, len, "data")?);
        Ok(())
    })
}

/// Cache counters of a manager.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ebc_cache_stats {
    /// Lookups that found an entry.
    pub hits: u64,
    /// Lookups that found none.
    pub misses: u64,
    /// Entries removed to make room.
    pub evictions: u64,
    /// Addresses cached now.
    pub entries: u64,
    /// Bytes held now: each distinct code once, plus every entry with the
    /// cache's bookkeeping for it (slot, policy node and index).
    pub bytes: u64,
}

/// Writes `m`'s cache counters to `*out`. Does nothing when either is NULL.
/// Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_manager_cache_stats(m: *const ebc_manager, out: *mut ebc_cache_stats) {
    guard(|| {
        if let (Ok(manager), false) = (manager(m), out.is_null()) {
            let s = manager.cache_stats();
            let stats = ebc_cache_stats {
                hits: s.hits,
                misses: s.misses,
                evictions: s.evictions,
                entries: s.entries,
                bytes: s.bytes,
            };
            let _ = write_out(out, "out", stats);
        }
    })
}

/// The performance counters of a manager.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ebc_metrics {
    /// Fetches that produced accepted code.
    pub loads: u64,
    /// Loads that failed.
    pub load_failures: u64,
    /// Addresses removed by `ebc_unload`.
    pub unloads: u64,
    /// Codes analysed and checked against the policy.
    pub verifications: u64,
    /// Codes the policy rejected.
    pub verification_failures: u64,
    /// Code bytes accepted from sources.
    pub bytes_loaded: u64,
    /// Total time of successful loads, nanoseconds.
    pub load_time_ns: u64,
    /// The slowest successful load, nanoseconds.
    pub max_load_time_ns: u64,
}

/// Writes `m`'s performance counters to `*out`. Does nothing when either
/// is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_manager_metrics(m: *const ebc_manager, out: *mut ebc_metrics) {
    guard(|| {
        if let (Ok(manager), false) = (manager(m), out.is_null()) {
            let s = manager.metrics();
            let metrics = ebc_metrics {
                loads: s.loads,
                load_failures: s.load_failures,
                unloads: s.unloads,
                verifications: s.verifications,
                verification_failures: s.verification_failures,
                bytes_loaded: s.bytes_loaded,
                load_time_ns: s.load_time_ns,
                max_load_time_ns: s.max_load_time_ns,
            };
            let _ = write_out(out, "out", metrics);
        }
    })
}

/// Writes `m`'s counters and cache statistics as Prometheus text
/// (exposition format 0.0.4, every name prefixed `ebc_`) into `buf`.
///
/// With `buf` NULL and `capacity` 0, only `*len_out` is written: the bytes
/// needed, NUL included. Otherwise the text and a NUL are copied and
/// `*len_out` receives the text's length without the NUL;
/// `EBC_TOO_LARGE` (nothing written) when `capacity` is smaller than
/// that length + 1. The caller owns `buf`. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_manager_metrics_prometheus(
    m: *const ebc_manager,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> ebc_status {
    guard_status(std::ptr::null_mut(), || {
        let text = manager(m)?.metrics_prometheus();
        arg_mut(len_out, "len_out")?;
        if buf.is_null() && capacity == 0 {
            return write_out(len_out, "len_out", text.len() + 1);
        }
        if buf.is_null() {
            return Err(Error::NullParameter("buf"));
        }
        if capacity < text.len() + 1 {
            return Err(Error::TooLarge {
                what: "the Prometheus text".into(),
                limit: capacity as u64,
                size: Some(text.len() as u64 + 1),
            });
        }
        // SAFETY: `buf` is not NULL and the header requires `capacity`
        // writable bytes there; text.len() + 1 <= capacity.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
            *buf.add(text.len()) = 0;
        }
        write_out(len_out, "len_out", text.len())
    })
}

/// Drops cache entries that must no longer be served and frees spare
/// memory. `*removed_out` (may be NULL) receives how many entries went.
/// Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_manager_compact(m: *mut ebc_manager, removed_out: *mut usize) -> ebc_status {
    guard_status(std::ptr::null_mut(), || {
        let removed = manager(m)?.compact();
        if !removed_out.is_null() {
            write_out(removed_out, "removed_out", removed)?;
        }
        Ok(())
    })
}

/// New load options with every choice at its default. The caller owns them
/// and frees them with `ebc_load_options_free`. NULL only if out of memory.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_load_options_new() -> *mut ebc_load_options {
    guard(|| Box::into_raw(Box::<LoadOptions>::default()).cast())
}

/// Frees `o`. NULL is fine; a second free is not.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_load_options_free(o: *mut ebc_load_options) {
    guard(|| {
        if !o.is_null() {
            // SAFETY: made by `ebc_load_options_new` and not yet freed.
            drop(unsafe { Box::from_raw(o.cast::<LoadOptions>()) });
        }
    })
}

/// The load fails with `EBC_CHECKSUM_MISMATCH` unless the code's keccak256
/// equals `*hash` (copied); checked on cache hits too. NULL `hash` clears it.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_load_options_set_expected_code_hash(
    o: *mut ebc_load_options,
    hash: *const ebc_hash,
) -> ebc_status {
    guard_status(std::ptr::null_mut(), || {
        // SAFETY: a non-NULL `hash` points to an `ebc_hash` (the header requires it).
        options_mut(o)?.expected_code_hash = unsafe { hash.as_ref() }.map(|h| B256::from(h.bytes));
        Ok(())
    })
}

/// The load fails with `EBC_CHECKSUM_MISMATCH` unless the code's SHA-256
/// equals `*hash` (copied). NULL `hash` clears it.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_load_options_set_expected_sha256(
    o: *mut ebc_load_options,
    hash: *const ebc_hash,
) -> ebc_status {
    guard_status(std::ptr::null_mut(), || {
        // SAFETY: as above.
        options_mut(o)?.expected_sha256 = unsafe { hash.as_ref() }.map(|h| h.bytes);
        Ok(())
    })
}

/// A state root the caller trusts for loads with these options (copied;
/// NULL clears it): a JSON-RPC URI's `?block=` names the block it belongs
/// to, and the account is proven against it as with
/// `ebc_config_set_trusted_state`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_load_options_set_state_root(
    o: *mut ebc_load_options,
    root: *const ebc_hash,
) -> ebc_status {
    guard_status(std::ptr::null_mut(), || {
        // SAFETY: a non-NULL `root` points to an `ebc_hash` (the header requires it).
        options_mut(o)?.state_root = unsafe { root.as_ref() }.map(|h| B256::from(h.bytes));
        Ok(())
    })
}

/// Overrides the configuration's loader timeout for loads with these
/// options, in milliseconds (0 = none).
#[unsafe(no_mangle)]
pub extern "C" fn ebc_load_options_set_timeout_ms(o: *mut ebc_load_options, ms: u64) -> ebc_status {
    guard_status(std::ptr::null_mut(), || {
        options_mut(o)?.timeout_ms = Some(ms);
        Ok(())
    })
}

/// When `reload` is true the load fetches from the source even if the
/// address is cached, and replaces the cached entry.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_load_options_set_reload(o: *mut ebc_load_options, reload: bool) -> ebc_status {
    guard_status(std::ptr::null_mut(), || {
        options_mut(o)?.reload = reload;
        Ok(())
    })
}

/// Uses the loader of `loader_type` (`EBC_LOADER_*`) instead of choosing by
/// URI scheme. `EBC_INVALID_ARGUMENT` for an unknown value.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_load_options_set_loader_type(
    o: *mut ebc_load_options,
    loader_type: u32,
) -> ebc_status {
    guard_status(std::ptr::null_mut(), || {
        options_mut(o)?.loader_type = Some(LoaderType::from_u32(loader_type)?);
        Ok(())
    })
}
