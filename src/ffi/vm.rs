//! `ebc_vm` and `ebc_vm_result`: executing calls through revm with code
//! served by a manager and sandboxed by its trust level.

use std::ffi::{CString, c_char};
use std::ptr::NonNull;

use revm::primitives::U256;

use super::manager::ebc_manager;
use super::{address_arg, arg, arg_mut, bytes_arg, ebc_address, ebc_error, ebc_hash, ebc_status, guard, guard_status, str_arg, write_out};
use crate::error::Error;
use crate::evm::{BlockSpec, CallRequest, ExecStatus, ManagerHandle, Outcome, Vm};
use crate::manager::Manager;
use crate::verify::Fork;
use crate::{Address, B256};

/// A VM: revm with account state of its own and contract code served by a
/// manager, each code sandboxed by its trust level. Created by
/// `ebc_vm_new`, owned by the caller, freed with `ebc_vm_free`. One thread
/// at a time may use a VM (it may move between threads); several VMs may
/// share one manager from several threads.
pub struct ebc_vm {
    _private: [u8; 0],
}

/// What one call did: status, output, gas used, logs, sandbox denials.
/// Returned by `ebc_vm_call` and `ebc_vm_transact`, owned by the caller,
/// freed with `ebc_vm_result_free`; immutable, so any thread may read it.
/// Everything its accessors return stays valid until it is freed.
pub struct ebc_vm_result {
    _private: [u8; 0],
}

/// A 256-bit unsigned number (a balance, a value, a storage slot or word),
/// big-endian.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ebc_u256 {
    /// The number, most significant byte first.
    pub bytes: [u8; 32],
}

/// Message kind: a call to `to`.
pub const EBC_VM_CALL: u32 = 0;
/// Message kind: a deployment of `input` as init code (`to` is ignored).
pub const EBC_VM_CREATE: u32 = 1;

/// Result status: the call returned or stopped normally.
pub const EBC_VM_SUCCESS: u32 = 0;
/// Result status: it reverted; unused gas was returned.
pub const EBC_VM_REVERT: u32 = 1;
/// Result status: it halted exceptionally (out of gas, invalid opcode, a
/// sandbox denial of its own frame); all gas was consumed.
pub const EBC_VM_HALT: u32 = 2;

const _: () = {
    assert!(EBC_VM_SUCCESS == ExecStatus::Success as u32 && EBC_VM_REVERT == ExecStatus::Revert as u32);
    assert!(EBC_VM_HALT == ExecStatus::Halt as u32);
};

/// One call or transaction. Fill it with `ebc_vm_message_init` and change
/// the fields that matter.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ebc_vm_message {
    /// `EBC_VM_CALL` or `EBC_VM_CREATE`.
    pub kind: u32,
    /// The sender.
    pub caller: ebc_address,
    /// The account called (for `EBC_VM_CALL`).
    pub to: ebc_address,
    /// The input (or init code): `input_len` bytes; NULL only when
    /// `input_len` is 0. Read during the call only.
    pub input: *const u8,
    /// Length of `input` in bytes.
    pub input_len: usize,
    /// Wei sent with the call.
    pub value: ebc_u256,
    /// The transaction's gas limit.
    pub gas_limit: u64,
    /// Hardfork whose rules apply (`EBC_FORK_*`).
    pub fork: u32,
    /// Block number.
    pub block_number: u64,
    /// Block time, Unix seconds.
    pub block_timestamp: u64,
    /// Block base fee per gas, in wei.
    pub block_basefee: u64,
    /// Block gas limit.
    pub block_gas_limit: u64,
    /// CHAINID.
    pub chain_id: u64,
    /// COINBASE.
    pub coinbase: ebc_address,
}

fn vm_mut<'a>(vm: *mut ebc_vm) -> Result<&'a mut Vm, Error> {
    arg_mut(vm.cast::<Vm>(), "vm")
}

fn vm_ref<'a>(vm: *const ebc_vm) -> Result<&'a Vm, Error> {
    arg(vm.cast::<Vm>(), "vm")
}

/// A call's outcome with its strings ready for C.
struct ResultData {
    outcome: Outcome,
    halt_reason_c: Option<CString>,
    denials_c: Vec<CString>,
}

fn result<'a>(r: *const ebc_vm_result) -> Option<&'a ResultData> {
    // SAFETY: a non-NULL `ebc_vm_result*` comes from `ebc_vm_call` or
    // `ebc_vm_transact` and is not freed yet (the header requires it).
    unsafe { r.cast::<ResultData>().as_ref() }
}

fn c_string(text: String) -> CString {
    CString::new(text.replace('\0', "")).unwrap_or_default()
}

fn u256_of(value: &ebc_u256) -> U256 {
    U256::from_be_bytes(value.bytes)
}

/// Creates a VM over an empty state into `*out`, serving code through `m`:
/// the code `m` has cached (`ebc_load`, `ebc_preload`), its default source,
/// and URIs mapped with `ebc_vm_load_contract`. `m` may be NULL: then only
/// code set with `ebc_vm_set_code` runs. A non-NULL `m` is borrowed, not
/// owned: it MUST outlive the VM (free the VM first). The caller owns the
/// VM and frees it with `ebc_vm_free`. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_new(m: *mut ebc_manager, out: *mut *mut ebc_vm, err: *mut *mut ebc_error) -> ebc_status {
    guard_status(err, || {
        arg_mut(out, "out")?;
        let mut vm = Vm::new();
        if let Some(manager) = NonNull::new(m.cast::<Manager>()) {
            // SAFETY: `m` is a live manager from `ebc_manager_new`, and the
            // header requires it to outlive the VM.
            vm.set_manager_handle(Some(unsafe { ManagerHandle::host(manager) }));
        }
        write_out(out, "out", Box::into_raw(Box::new(vm)).cast())
    })
}

/// Frees `vm` and its state (not its manager). NULL is fine; a second free
/// is not. Results it returned stay valid until freed themselves.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_free(vm: *mut ebc_vm) {
    guard(|| {
        if !vm.is_null() {
            // SAFETY: made by `ebc_vm_new` and not yet freed (the header requires it).
            drop(unsafe { Box::from_raw(vm.cast::<Vm>()) });
        }
    })
}

/// Loads `address`'s code from `uri` (`uri_len` bytes of UTF-8) through
/// the VM's manager now, and serves it from there for every later call.
/// `EBC_DISABLED` when the VM has no manager; otherwise the load's own
/// status (`EBC_NOT_FOUND`, `EBC_CHECKSUM_MISMATCH`, ...).
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_load_contract(
    vm: *mut ebc_vm,
    address: *const ebc_address,
    uri: *const c_char,
    uri_len: usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let vm = vm_mut(vm)?;
        let address = address_arg(address)?;
        let uri = str_arg(uri, uri_len, "uri")?;
        vm.load_external_contract(address, uri, None).map(drop)
    })
}

/// Sets `address`'s balance in wei, in the VM's state.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_set_balance(
    vm: *mut ebc_vm,
    address: *const ebc_address,
    balance: *const ebc_u256,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let vm = vm_mut(vm)?;
        let address = address_arg(address)?;
        vm.set_balance(address, u256_of(arg(balance, "balance")?))
    })
}

/// Sets `address`'s nonce, in the VM's state.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_set_nonce(
    vm: *mut ebc_vm,
    address: *const ebc_address,
    nonce: u64,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let vm = vm_mut(vm)?;
        vm.set_nonce(address_arg(address)?, nonce)
    })
}

/// Sets storage slot `slot` of `address` to `value`, in the VM's state.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_set_storage(
    vm: *mut ebc_vm,
    address: *const ebc_address,
    slot: *const ebc_u256,
    value: *const ebc_u256,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let vm = vm_mut(vm)?;
        let address = address_arg(address)?;
        vm.set_storage(address, u256_of(arg(slot, "slot")?), u256_of(arg(value, "value")?))
    })
}

/// Puts `code` (`code_len` bytes, raw) in the VM's state at `address`:
/// the state's own code, which runs unsandboxed and only when the manager
/// has no code for the address.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_set_code(
    vm: *mut ebc_vm,
    address: *const ebc_address,
    code: *const u8,
    code_len: usize,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let vm = vm_mut(vm)?;
        let address = address_arg(address)?;
        vm.set_code(address, bytes_arg(code, code_len, "code")?)
    })
}

/// Writes `address`'s balance in the VM's state to `*balance_out` (zero
/// for an account that does not exist).
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_get_balance(
    vm: *const ebc_vm,
    address: *const ebc_address,
    balance_out: *mut ebc_u256,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let vm = vm_ref(vm)?;
        arg_mut(balance_out, "balance_out")?;
        let account = vm.account(address_arg(address)?)?;
        let balance = account.map_or(U256::ZERO, |a| a.balance);
        write_out(balance_out, "balance_out", ebc_u256 { bytes: balance.to_be_bytes() })
    })
}

/// Writes storage slot `slot` of `address` in the VM's state to `*value_out`.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_get_storage(
    vm: *const ebc_vm,
    address: *const ebc_address,
    slot: *const ebc_u256,
    value_out: *mut ebc_u256,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        let vm = vm_ref(vm)?;
        arg_mut(value_out, "value_out")?;
        let value = vm.storage(address_arg(address)?, u256_of(arg(slot, "slot")?))?;
        write_out(value_out, "value_out", ebc_u256 { bytes: value.to_be_bytes() })
    })
}

/// Fills `*msg` with the defaults: a call from and to the zero address, no
/// input, no value, 10,000,000 gas, the newest fork, block 1 at time 1 of
/// chain 1 with no base fee and a 30,000,000 gas limit. Does nothing when
/// `msg` is NULL. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_message_init(msg: *mut ebc_vm_message) {
    guard(|| {
        let Ok(msg) = arg_mut(msg, "msg") else { return };
        let request = CallRequest::default();
        *msg = ebc_vm_message {
            kind: EBC_VM_CALL,
            caller: ebc_address { bytes: [0; 20] },
            to: ebc_address { bytes: [0; 20] },
            input: std::ptr::null(),
            input_len: 0,
            value: ebc_u256 { bytes: [0; 32] },
            gas_limit: request.gas_limit,
            fork: request.fork as u32,
            block_number: request.block.number,
            block_timestamp: request.block.timestamp,
            block_basefee: request.block.basefee,
            block_gas_limit: request.block.gas_limit,
            chain_id: request.block.chain_id,
            coinbase: ebc_address { bytes: [0; 20] },
        };
    })
}

fn request_of(msg: &ebc_vm_message) -> Result<CallRequest, Error> {
    let to = match msg.kind {
        EBC_VM_CALL => Some(Address::from(msg.to.bytes)),
        EBC_VM_CREATE => None,
        other => return Err(Error::InvalidArgument(format!("unknown message kind {other}"))),
    };
    Ok(CallRequest {
        caller: Address::from(msg.caller.bytes),
        to,
        calldata: bytes_arg(msg.input, msg.input_len, "msg.input")?.to_vec(),
        value: u256_of(&msg.value),
        gas_limit: msg.gas_limit,
        gas_price: 0,
        block: BlockSpec {
            number: msg.block_number,
            timestamp: msg.block_timestamp,
            basefee: msg.block_basefee,
            gas_limit: msg.block_gas_limit,
            coinbase: Address::from(msg.coinbase.bytes),
            prevrandao: B256::ZERO,
            chain_id: msg.chain_id,
        },
        fork: Fork::from_u32(msg.fork)?,
    })
}

fn execute(
    vm: *mut ebc_vm,
    msg: *const ebc_vm_message,
    out: *mut *mut ebc_vm_result,
    err: *mut *mut ebc_error,
    commit: bool,
) -> ebc_status {
    guard_status(err, || {
        let vm = vm_mut(vm)?;
        let request = request_of(arg(msg, "msg")?)?;
        arg_mut(out, "out")?;
        let outcome = if commit { vm.transact(&request)? } else { vm.call(&request)? };
        let data = ResultData {
            halt_reason_c: outcome.halt_reason.clone().map(c_string),
            denials_c: outcome.denials.iter().map(|d| c_string(d.to_string())).collect(),
            outcome,
        };
        write_out(out, "out", Box::into_raw(Box::new(data)).cast())
    })
}

/// Executes `msg` like `eth_call`: nothing it changes is kept. On success
/// (`EBC_OK`: the call ran, whatever its own status) `*out` receives a
/// result the caller frees with `ebc_vm_result_free`. A failure to run it
/// at all (an invalid message, a sender that cannot pay, a code load that
/// failed) is the status, with `*err`. `msg->input` is read during the call only.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_call(
    vm: *mut ebc_vm,
    msg: *const ebc_vm_message,
    out: *mut *mut ebc_vm_result,
    err: *mut *mut ebc_error,
) -> ebc_status {
    execute(vm, msg, out, err, false)
}

/// As `ebc_vm_call`, as a transaction: its state changes are committed to
/// the VM's state (nonce, balances, storage, created contracts).
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_transact(
    vm: *mut ebc_vm,
    msg: *const ebc_vm_message,
    out: *mut *mut ebc_vm_result,
    err: *mut *mut ebc_error,
) -> ebc_status {
    execute(vm, msg, out, err, true)
}

/// Frees `r`. NULL is fine; a second free is not.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_free(r: *mut ebc_vm_result) {
    guard(|| {
        if !r.is_null() {
            // SAFETY: made by `execute` and not yet freed (the header requires it).
            drop(unsafe { Box::from_raw(r.cast::<ResultData>()) });
        }
    })
}

/// `EBC_VM_SUCCESS`, `EBC_VM_REVERT` or `EBC_VM_HALT`; `EBC_VM_HALT` for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_status(r: *const ebc_vm_result) -> u32 {
    guard(|| result(r).map_or(EBC_VM_HALT, |d| d.outcome.status as u32))
}

/// The return data (revert data after a revert; the deployed code after a
/// deployment; empty after a halt), with its length in `*len` when `len`
/// is not NULL. Valid until `r` is freed. NULL when `r` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_output(r: *const ebc_vm_result, len: *mut usize) -> *const u8 {
    guard(|| {
        let Some(d) = result(r) else { return std::ptr::null() };
        if let Ok(len) = arg_mut(len, "len") {
            *len = d.outcome.output.len();
        }
        d.outcome.output.as_ptr()
    })
}

/// Gas used by the transaction after refunds (a receipt's `gasUsed`); 0
/// for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_gas_used(r: *const ebc_vm_result) -> u64 {
    guard(|| result(r).map_or(0, |d| d.outcome.gas_used))
}

/// Writes the address a deployment created to `*out` and returns true;
/// false (writing nothing) when there is none or a pointer is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_created_address(r: *const ebc_vm_result, out: *mut ebc_address) -> bool {
    guard(|| {
        let (Some(d), Ok(out)) = (result(r), arg_mut(out, "out")) else { return false };
        let Some(created) = d.outcome.created_address else { return false };
        *out = ebc_address { bytes: created.0.0 };
        true
    })
}

/// Why the call halted, as text, when its status is `EBC_VM_HALT` (a
/// sandbox denial names the opcode, the code's address, the permission and
/// the trust level); NULL otherwise. Valid until `r` is freed.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_halt_reason(r: *const ebc_vm_result) -> *const c_char {
    guard(|| result(r).and_then(|d| d.halt_reason_c.as_ref()).map_or(std::ptr::null(), |s| s.as_ptr()))
}

/// How many operations the sandbox refused in the call, in any frame (a
/// denied inner call halts only that frame); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_denial_count(r: *const ebc_vm_result) -> usize {
    guard(|| result(r).map_or(0, |d| d.denials_c.len()))
}

/// Denial `index`'s message; NULL when out of range or `r` is NULL. Valid
/// until `r` is freed.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_denial_message(r: *const ebc_vm_result, index: usize) -> *const c_char {
    guard(|| result(r).and_then(|d| d.denials_c.get(index)).map_or(std::ptr::null(), |s| s.as_ptr()))
}

/// How many logs the call emitted; 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_log_count(r: *const ebc_vm_result) -> usize {
    guard(|| result(r).map_or(0, |d| d.outcome.logs.len()))
}

/// Log `index`: writes the emitting account to `*address_out` and its
/// topic count to `*topic_count_out`, and returns its data with the length
/// in `*data_len_out` (valid until `r` is freed). Each out-pointer may be
/// NULL. Returns NULL, writing nothing, when `index` is out of range or `r`
/// is NULL; a log with no data returns a non-NULL pointer and length 0.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_log(
    r: *const ebc_vm_result,
    index: usize,
    address_out: *mut ebc_address,
    topic_count_out: *mut usize,
    data_len_out: *mut usize,
) -> *const u8 {
    guard(|| {
        let Some(log) = result(r).and_then(|d| d.outcome.logs.get(index)) else { return std::ptr::null() };
        if let Ok(out) = arg_mut(address_out, "address_out") {
            *out = ebc_address { bytes: log.address.0.0 };
        }
        if let Ok(out) = arg_mut(topic_count_out, "topic_count_out") {
            *out = log.topics().len();
        }
        if let Ok(out) = arg_mut(data_len_out, "data_len_out") {
            *out = log.data.data.len();
        }
        log.data.data.as_ptr()
    })
}

/// Writes topic `topic` of log `index` to `*out` and returns true; false
/// (writing nothing) when either index is out of range or a pointer is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_vm_result_log_topic(
    r: *const ebc_vm_result,
    index: usize,
    topic: usize,
    out: *mut ebc_hash,
) -> bool {
    guard(|| {
        let Ok(out) = arg_mut(out, "out") else { return false };
        let found = result(r).and_then(|d| d.outcome.logs.get(index)).and_then(|l| l.topics().get(topic));
        let Some(found) = found else { return false };
        *out = ebc_hash { bytes: found.0 };
        true
    })
}
