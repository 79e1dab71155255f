//! Verification without a manager (`ebc_verify`), hardforks and the
//! capabilities analysis finds in code.

use super::bytecode::{bytecode, ebc_bytecode, into_raw as bytecode_into_raw};
use super::{arg_mut, bytes_arg, ebc_error, ebc_status, guard, guard_status, write_out};
use crate::config::{EIP170_MAX_CODE_SIZE, SecurityLevel};
use crate::verify::{Capabilities, Fork};

/// Capability: SELFDESTRUCT in reachable code.
pub const EBC_CAP_SELFDESTRUCT: u32 = 1 << 0;
/// Capability: DELEGATECALL.
pub const EBC_CAP_DELEGATECALL: u32 = 1 << 1;
/// Capability: CALLCODE.
pub const EBC_CAP_CALLCODE: u32 = 1 << 2;
/// Capability: CREATE.
pub const EBC_CAP_CREATE: u32 = 1 << 3;
/// Capability: CREATE2.
pub const EBC_CAP_CREATE2: u32 = 1 << 4;
/// Capability: SSTORE.
pub const EBC_CAP_SSTORE: u32 = 1 << 5;
/// Capability: LOG0 to LOG4.
pub const EBC_CAP_LOG: u32 = 1 << 6;
/// Capability: a CALL whose value is not provably zero.
pub const EBC_CAP_CALL_WITH_VALUE: u32 = 1 << 7;
/// Capability: a CALL whose value is provably zero.
pub const EBC_CAP_CALL: u32 = 1 << 8;
/// Capability: STATICCALL.
pub const EBC_CAP_STATICCALL: u32 = 1 << 9;
/// Capability: TSTORE.
pub const EBC_CAP_TSTORE: u32 = 1 << 10;

/// Fork: Frontier (2015), the original instruction set.
pub const EBC_FORK_FRONTIER: u32 = 0;
/// Fork: Homestead (DELEGATECALL).
pub const EBC_FORK_HOMESTEAD: u32 = 1;
/// Fork: Tangerine Whistle (gas repricing only).
pub const EBC_FORK_TANGERINE_WHISTLE: u32 = 2;
/// Fork: Spurious Dragon (EIP-170 code size limit).
pub const EBC_FORK_SPURIOUS_DRAGON: u32 = 3;
/// Fork: Byzantium (REVERT, RETURNDATASIZE, RETURNDATACOPY, STATICCALL).
pub const EBC_FORK_BYZANTIUM: u32 = 4;
/// Fork: Constantinople (SHL, SHR, SAR, EXTCODEHASH, CREATE2).
pub const EBC_FORK_CONSTANTINOPLE: u32 = 5;
/// Fork: Petersburg.
pub const EBC_FORK_PETERSBURG: u32 = 6;
/// Fork: Istanbul (CHAINID, SELFBALANCE).
pub const EBC_FORK_ISTANBUL: u32 = 7;
/// Fork: Berlin.
pub const EBC_FORK_BERLIN: u32 = 8;
/// Fork: London (BASEFEE).
pub const EBC_FORK_LONDON: u32 = 9;
/// Fork: Paris, the Merge (PREVRANDAO).
pub const EBC_FORK_PARIS: u32 = 10;
/// Fork: Shanghai (PUSH0).
pub const EBC_FORK_SHANGHAI: u32 = 11;
/// Fork: Cancun (TLOAD, TSTORE, MCOPY, BLOBHASH, BLOBBASEFEE).
pub const EBC_FORK_CANCUN: u32 = 12;
/// Fork: Prague (EIP-7702 delegations).
pub const EBC_FORK_PRAGUE: u32 = 13;
/// Fork: Osaka (CLZ); the newest this version knows, and the presets' fork.
pub const EBC_FORK_OSAKA: u32 = 14;

// The C numbers are the Rust values; a change to either breaks the build.
const _: () = {
    assert!(EBC_CAP_SELFDESTRUCT == Capabilities::SELFDESTRUCT);
    assert!(EBC_CAP_DELEGATECALL == Capabilities::DELEGATECALL);
    assert!(EBC_CAP_CALLCODE == Capabilities::CALLCODE);
    assert!(EBC_CAP_CREATE == Capabilities::CREATE);
    assert!(EBC_CAP_CREATE2 == Capabilities::CREATE2);
    assert!(EBC_CAP_SSTORE == Capabilities::SSTORE);
    assert!(EBC_CAP_LOG == Capabilities::LOG);
    assert!(EBC_CAP_CALL_WITH_VALUE == Capabilities::CALL_WITH_VALUE);
    assert!(EBC_CAP_CALL == Capabilities::CALL);
    assert!(EBC_CAP_STATICCALL == Capabilities::STATICCALL);
    assert!(EBC_CAP_TSTORE == Capabilities::TSTORE);
    assert!(Capabilities::NAMES.len() == 11, "a new capability needs an EBC_CAP_ constant");

    assert!(EBC_FORK_FRONTIER == Fork::Frontier as u32);
    assert!(EBC_FORK_HOMESTEAD == Fork::Homestead as u32);
    assert!(EBC_FORK_TANGERINE_WHISTLE == Fork::TangerineWhistle as u32);
    assert!(EBC_FORK_SPURIOUS_DRAGON == Fork::SpuriousDragon as u32);
    assert!(EBC_FORK_BYZANTIUM == Fork::Byzantium as u32);
    assert!(EBC_FORK_CONSTANTINOPLE == Fork::Constantinople as u32);
    assert!(EBC_FORK_PETERSBURG == Fork::Petersburg as u32);
    assert!(EBC_FORK_ISTANBUL == Fork::Istanbul as u32);
    assert!(EBC_FORK_BERLIN == Fork::Berlin as u32);
    assert!(EBC_FORK_LONDON == Fork::London as u32);
    assert!(EBC_FORK_PARIS == Fork::Paris as u32);
    assert!(EBC_FORK_SHANGHAI == Fork::Shanghai as u32);
    assert!(EBC_FORK_CANCUN == Fork::Cancun as u32);
    assert!(EBC_FORK_PRAGUE == Fork::Prague as u32);
    assert!(EBC_FORK_OSAKA == Fork::Osaka as u32);
    assert!(Fork::ALL.len() == 15, "a new fork needs an EBC_FORK_ constant");
};

/// What the code's reachable instructions can do: a set of `EBC_CAP_*`
/// bits. 0 for a NULL `b`, and for code verified below
/// `EBC_SECURITY_STANDARD` or with verification switched off (the analysis
/// that finds capabilities does not run there). Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_bytecode_capabilities(b: *const ebc_bytecode) -> u32 {
    guard(|| bytecode(b).map_or(0, |b| b.inspection().capabilities.0))
}

/// Verifies code the caller holds, without a manager: decodes `code_len`
/// bytes at `code` (raw code, or hex text as `ebc_load` accepts it; read
/// during the call only) and runs every stage a load runs after its source,
/// at security level `level` (`EBC_SECURITY_*`) with the instruction set of
/// `fork` (`EBC_FORK_*`). `max_code_size` is the largest accepted code in
/// bytes, 1 to 16 MiB; 0 means the EIP-170 limit, 24576. At
/// `EBC_SECURITY_NONE` only the 16 MiB ceiling applies.
///
/// On success `*out` receives a new reference the caller releases with
/// `ebc_release`. Its getters describe the code: `ebc_bytecode_code`, the
/// hashes, jump destinations, verification status, findings and (from
/// `EBC_SECURITY_STANDARD` up) `ebc_bytecode_capabilities`. Its address is
/// all zeros, its source URI "(bytes)" and its load method
/// `EBC_LOADER_MEMORY`. Nothing is cached.
///
/// Errors: `EBC_NULL_PARAMETER` for a NULL `out`, or a NULL `code` with a
/// non-zero `code_len`; `EBC_INVALID_ARGUMENT` for an unknown level or fork,
/// a `max_code_size` above 16 MiB, or malformed hex text; `EBC_NOT_FOUND`
/// for empty code; `EBC_TOO_LARGE` past the size limit;
/// `EBC_VERIFICATION_FAILED` when the level's policy rejects the code (from
/// `EBC_SECURITY_BASIC`: 0xEF-prefixed code that is not an EIP-7702
/// delegation). There is no trust store here, so `EBC_SECURITY_STRICT` and
/// `EBC_SECURITY_PARANOID`, which require a trusted signature, always fail
/// with `EBC_SIGNATURE_INVALID`; verify through a manager
/// (`ebc_manager_trust_*`, `ebc_load_options_set_signature`) for those.
///
/// Any thread, concurrently.
#[unsafe(no_mangle)]
pub extern "C" fn ebc_verify(
    code: *const u8,
    code_len: usize,
    level: u32,
    fork: u32,
    max_code_size: usize,
    out: *mut *const ebc_bytecode,
    err: *mut *mut ebc_error,
) -> ebc_status {
    guard_status(err, || {
        arg_mut(out, "out")?;
        let code = bytes_arg(code, code_len, "code")?;
        let max = if max_code_size == 0 { EIP170_MAX_CODE_SIZE } else { max_code_size };
        let verified = crate::verify_code(code, SecurityLevel::from_u32(level)?, Fork::from_u32(fork)?, max)?;
        write_out(out, "out", bytecode_into_raw(verified))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::{EBC_INVALID_ARGUMENT, EBC_NULL_PARAMETER, EBC_OK, EBC_SECURITY_STANDARD, ebc_release};

    #[test]
    fn capability_constants_are_the_rust_flags_in_order() {
        let c = [
            EBC_CAP_SELFDESTRUCT,
            EBC_CAP_DELEGATECALL,
            EBC_CAP_CALLCODE,
            EBC_CAP_CREATE,
            EBC_CAP_CREATE2,
            EBC_CAP_SSTORE,
            EBC_CAP_LOG,
            EBC_CAP_CALL_WITH_VALUE,
            EBC_CAP_CALL,
            EBC_CAP_STATICCALL,
            EBC_CAP_TSTORE,
        ];
        let rust: Vec<u32> = Capabilities::NAMES.iter().map(|(bit, _)| *bit).collect();
        assert_eq!(c.to_vec(), rust);
        for (i, bit) in c.iter().enumerate() {
            assert_eq!(*bit, 1 << i);
        }
    }

    #[test]
    fn fork_constants_are_the_rust_forks_in_order() {
        let c = [
            (EBC_FORK_FRONTIER, "frontier"),
            (EBC_FORK_HOMESTEAD, "homestead"),
            (EBC_FORK_TANGERINE_WHISTLE, "tangerine-whistle"),
            (EBC_FORK_SPURIOUS_DRAGON, "spurious-dragon"),
            (EBC_FORK_BYZANTIUM, "byzantium"),
            (EBC_FORK_CONSTANTINOPLE, "constantinople"),
            (EBC_FORK_PETERSBURG, "petersburg"),
            (EBC_FORK_ISTANBUL, "istanbul"),
            (EBC_FORK_BERLIN, "berlin"),
            (EBC_FORK_LONDON, "london"),
            (EBC_FORK_PARIS, "paris"),
            (EBC_FORK_SHANGHAI, "shanghai"),
            (EBC_FORK_CANCUN, "cancun"),
            (EBC_FORK_PRAGUE, "prague"),
            (EBC_FORK_OSAKA, "osaka"),
        ];
        assert_eq!(c.len(), Fork::ALL.len());
        for (value, name) in c {
            assert_eq!(Fork::from_u32(value).unwrap().name(), name);
        }
        assert_eq!(Fork::from_u32(EBC_FORK_OSAKA).unwrap(), Fork::LATEST);
        assert!(Fork::from_u32(EBC_FORK_OSAKA + 1).is_err());
    }

    #[test]
    fn verify_reports_capabilities_and_checks_its_arguments() {
        // PUSH1 0 PUSH1 0 SSTORE STOP
        let code = [0x60, 0x00, 0x60, 0x00, 0x55, 0x00];
        let mut out = std::ptr::null();
        let null = std::ptr::null_mut();
        let status = ebc_verify(code.as_ptr(), code.len(), EBC_SECURITY_STANDARD, EBC_FORK_OSAKA, 0, &mut out, null);
        assert_eq!(status, EBC_OK);
        assert_eq!(ebc_bytecode_capabilities(out), EBC_CAP_SSTORE);
        ebc_release(out);
        assert_eq!(ebc_bytecode_capabilities(std::ptr::null()), 0);
        let status = ebc_verify(code.as_ptr(), code.len(), 5, EBC_FORK_OSAKA, 0, &mut out, null);
        assert_eq!(status, EBC_INVALID_ARGUMENT);
        let status = ebc_verify(code.as_ptr(), code.len(), EBC_SECURITY_STANDARD, 15, 0, &mut out, null);
        assert_eq!(status, EBC_INVALID_ARGUMENT);
        let status = ebc_verify(std::ptr::null(), 1, EBC_SECURITY_STANDARD, EBC_FORK_OSAKA, 0, &mut out, null);
        assert_eq!(status, EBC_NULL_PARAMETER);
    }
}
