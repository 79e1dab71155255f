//! `ebc_bytecode`: reading code handed out by a manager.

use std::ffi::c_char;
use std::sync::Arc;

use super::{ebc_address, ebc_hash, guard};
use crate::bytecode::ExternalBytecode;

/// Code of one address: immutable, reference-counted, thread-safe. Every
/// `ebc_load`, `ebc_get` and `ebc_retain` gives the caller one reference,
/// which it returns with `ebc_release`. Any thread may read it and release
/// it, also after its manager was freed.
///
/// A cache hit may return a different object from the one the load
/// returned: threads take four lanes in turn (the first four threads to
/// hit in a manager get one each), and each lane gets copies of its own
/// (one per cached address, with the same code, address, metadata and
/// findings), so that threads do not all update one reference count.
/// Compare code by `ebc_bytecode_code_hash`, not by pointer.
pub struct ebc_bytecode {
    _private: [u8; 0],
}

/// A new C reference to `code`.
pub(crate) fn into_raw(code: Arc<ExternalBytecode>) -> *const ebc_bytecode {
    Arc::into_raw(code).cast()
}

/// The bytecode behind a C reference, borrowed for the call.
pub(crate) fn bytecode<'a>(b: *const ebc_bytecode) -> Option<&'a ExternalBytecode> {
    // SAFETY: a non-NULL `ebc_bytecode*` is a reference made by `into_raw`
    // that the caller still holds (the header requires it), so the Arc's
    // allocation is live.
    unsafe { b.cast::<ExternalBytecode>().as_ref() }
}

/// Adds a reference to `b` and returns `b`; NULL gives NULL. Release each
/// reference once. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_retain(b: *const ebc_bytecode) -> *const ebc_bytecode {
    guard(|| {
        if !b.is_null() {
            // SAFETY: `b` is a live reference from `into_raw` (the header requires it).
            unsafe { Arc::increment_strong_count(b.cast::<ExternalBytecode>()) };
        }
        b
    })
}

/// Returns one reference to `b`; the code is freed with its last reference.
/// NULL is fine; releasing a reference twice is not. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_release(b: *const ebc_bytecode) {
    guard(|| {
        if !b.is_null() {
            // SAFETY: `b` is a live reference from `into_raw`, given up here.
            unsafe { Arc::decrement_strong_count(b.cast::<ExternalBytecode>()) };
        }
    })
}

/// The code bytes (unpadded), with their count in `*len` (when `len` is
/// not NULL). Valid while the caller holds a reference to `b`. NULL when
/// `b` is NULL (and `*len` untouched). Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_code(b: *const ebc_bytecode, len: *mut usize) -> *const u8 {
    guard(|| {
        let Some(b) = bytecode(b) else { return std::ptr::null() };
        if !len.is_null() {
            // SAFETY: not NULL; the header requires it to be writable.
            unsafe { *len = b.code().len() };
        }
        b.code().as_ptr()
    })
}

/// Writes keccak256 of the code (the Ethereum code hash) to `*out`.
/// Does nothing when either pointer is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_code_hash(b: *const ebc_bytecode, out: *mut ebc_hash) {
    write_to(b, out, |b| ebc_hash { bytes: b.code_hash().0 })
}

/// Writes SHA-256 of the code to `*out`. Does nothing when either pointer
/// is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_sha256(b: *const ebc_bytecode, out: *mut ebc_hash) {
    write_to(b, out, |b| ebc_hash { bytes: b.sha256() })
}

/// Writes the address the code was loaded for to `*out`. Does nothing when
/// either pointer is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_address(b: *const ebc_bytecode, out: *mut ebc_address) {
    write_to(b, out, |b| ebc_address { bytes: b.address().0.0 })
}

/// Writes `value(b)` to `*out` when neither pointer is NULL.
fn write_to<T>(b: *const ebc_bytecode, out: *mut T, value: impl FnOnce(&ExternalBytecode) -> T) {
    guard(|| {
        if let Some(b) = bytecode(b) {
            let _ = super::write_out(out, "out", value(b));
        }
    })
}

/// True when `pc` is the offset of a JUMPDEST opcode (not a byte of PUSH
/// data) in the code; false past the end and for a NULL `b`. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_is_jumpdest(b: *const ebc_bytecode, pc: usize) -> bool {
    guard(|| bytecode(b).is_some_and(|b| b.is_jumpdest(pc)))
}

/// How many JUMPDEST opcodes the code has; 0 for a NULL `b`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_jumpdest_count(b: *const ebc_bytecode) -> usize {
    guard(|| bytecode(b).map_or(0, ExternalBytecode::jumpdest_count))
}

/// Verification status: 0 unverified (verification off), 1 verified,
/// 2 verified with findings. 0 for a NULL `b`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_verification_status(b: *const ebc_bytecode) -> u32 {
    guard(|| bytecode(b).map_or(0, |b| b.verification_status() as u32))
}

/// How many findings verification recorded; 0 for a NULL `b`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_findings_count(b: *const ebc_bytecode) -> usize {
    guard(|| bytecode(b).map_or(0, |b| b.findings().len()))
}

/// One finding as C reads it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ebc_finding {
    /// 0 invalid opcode, 1 invalid jump destination, 2 invalid stack
    /// operation, 3 security violation, 4 signature invalid, 5 checksum
    /// mismatch, 6 truncated PUSH.
    pub kind: u32,
    /// Byte offset in the code.
    pub offset: usize,
    /// NUL-terminated text; valid while a reference to the bytecode is held.
    pub message: *const c_char,
}

/// Writes finding `index` (0-based, below `ebc_bytecode_findings_count`) to
/// `*out` and returns true; false (and `*out` untouched) when `b` or `out`
/// is NULL or `index` is out of range. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_finding(b: *const ebc_bytecode, index: usize, out: *mut ebc_finding) -> bool {
    guard(|| {
        let Some(b) = bytecode(b) else { return false };
        let (Some(finding), Some(message)) =
            (b.findings().get(index), b.shared().finding_message_c(index))
        else {
            return false;
        };
        let finding = ebc_finding {
            kind: finding.kind as u32,
            offset: finding.offset,
            message: message.as_ptr(),
        };
        super::write_out(out, "out", finding).is_ok()
    })
}

/// The URI the code was loaded from: NUL-terminated, valid while a
/// reference to `b` is held. An empty string for a NULL `b`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_source_uri(b: *const ebc_bytecode) -> *const c_char {
    guard(|| bytecode(b).map_or(c"".as_ptr(), |b| b.source_uri_c().as_ptr()))
}

/// The kind of source it came from (`EBC_LOADER_*`); `EBC_LOADER_CUSTOM` for a NULL `b`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_load_method(b: *const ebc_bytecode) -> u32 {
    guard(|| bytecode(b).map_or(super::EBC_LOADER_CUSTOM, |b| b.metadata().load_method as u32))
}

/// How the source's bytes were compressed (`EBC_COMPRESSION_*`);
/// `EBC_COMPRESSION_NONE` for a NULL `b`. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_compression(b: *const ebc_bytecode) -> u32 {
    guard(|| bytecode(b).map_or(super::EBC_COMPRESSION_NONE, |b| b.metadata().compression as u32))
}

/// Decompressed size over the size the source returned: 1.0 for
/// uncompressed code, 0.0 for a NULL `b`. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_compression_ratio(b: *const ebc_bytecode) -> f64 {
    guard(|| bytecode(b).map_or(0.0, |b| b.metadata().compression_ratio))
}

/// How often the code was handed out (loads and cache hits), counting every
/// lane copy of the same load; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_access_count(b: *const ebc_bytecode) -> u64 {
    guard(|| bytecode(b).map_or(0, ExternalBytecode::access_count))
}

/// What the code may do when executed, from its trust level.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ebc_permissions {
    /// 0 untrusted, 1 low, 2 medium, 3 high, 4 fully trusted.
    pub trust_level: u32,
    /// May CALL other accounts.
    pub can_call_external: bool,
    /// May SSTORE, SELFDESTRUCT or move value.
    pub can_modify_state: bool,
    /// May emit logs.
    pub can_emit_logs: bool,
    /// May CREATE or CREATE2.
    pub can_create_contracts: bool,
    /// Share of the caller's gas limit it may use.
    pub gas_limit_multiplier: f64,
}

/// Writes the code's trust level and execution permissions to `*out`.
/// Does nothing when either pointer is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_permissions(b: *const ebc_bytecode, out: *mut ebc_permissions) {
    write_to(b, out, |b| {
        let s = b.security();
        ebc_permissions {
            trust_level: s.trust as u32,
            can_call_external: s.permissions.can_call_external,
            can_modify_state: s.permissions.can_modify_state,
            can_emit_logs: s.permissions.can_emit_logs,
            can_create_contracts: s.permissions.can_create_contracts,
            gas_limit_multiplier: s.permissions.gas_limit_multiplier,
        }
    })
}

/// How many bytecode objects are alive in this process: in every manager's
/// cache and in every reference a host holds. It returns to its earlier
/// value once every manager is freed and every reference released, so a
/// host can check itself for leaked references. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_live_bytecodes() -> usize {
    guard(crate::bytecode::live_bytecodes)
}
