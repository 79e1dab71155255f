//! Opcode tables per hardfork: which bytes are defined instructions, and
//! what each takes from and puts on the stack.

/// Ethereum mainnet hardforks that changed the instruction set (and the
/// ones between them, so a host can name the fork it runs).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fork {
    /// 2015: the original instruction set.
    Frontier = 0,
    /// DELEGATECALL.
    Homestead = 1,
    /// Gas repricing only.
    TangerineWhistle = 2,
    /// EIP-170 code size limit.
    SpuriousDragon = 3,
    /// REVERT, RETURNDATASIZE, RETURNDATACOPY, STATICCALL.
    Byzantium = 4,
    /// SHL, SHR, SAR, EXTCODEHASH, CREATE2.
    Constantinople = 5,
    /// Constantinople without EIP-1283.
    Petersburg = 6,
    /// CHAINID, SELFBALANCE.
    Istanbul = 7,
    /// Access lists; no new opcodes.
    Berlin = 8,
    /// BASEFEE.
    London = 9,
    /// The Merge: DIFFICULTY becomes PREVRANDAO.
    Paris = 10,
    /// PUSH0.
    Shanghai = 11,
    /// TLOAD, TSTORE, MCOPY, BLOBHASH, BLOBBASEFEE.
    Cancun = 12,
    /// EIP-7702 delegations; no new legacy opcodes.
    Prague = 13,
    /// CLZ.
    Osaka = 14,
}

impl Fork {
    /// The newest fork this version knows.
    pub const LATEST: Fork = Fork::Osaka;

    /// Every fork, oldest first.
    pub const ALL: [Fork; 15] = [
        Fork::Frontier,
        Fork::Homestead,
        Fork::TangerineWhistle,
        Fork::SpuriousDragon,
        Fork::Byzantium,
        Fork::Constantinople,
        Fork::Petersburg,
        Fork::Istanbul,
        Fork::Berlin,
        Fork::London,
        Fork::Paris,
        Fork::Shanghai,
        Fork::Cancun,
        Fork::Prague,
        Fork::Osaka,
    ];

    /// The fork with this C number.
    pub fn from_u32(value: u32) -> crate::Result<Fork> {
        Fork::ALL
            .get(value as usize)
            .copied()
            .ok_or_else(|| crate::Error::InvalidArgument(format!("unknown fork {value}")))
    }

    /// The fork's name in lower case, e.g. "cancun".
    pub fn name(self) -> &'static str {
        match self {
            Fork::Frontier => "frontier",
            Fork::Homestead => "homestead",
            Fork::TangerineWhistle => "tangerine-whistle",
            Fork::SpuriousDragon => "spurious-dragon",
            Fork::Byzantium => "byzantium",
            Fork::Constantinople => "constantinople",
            Fork::Petersburg => "petersburg",
            Fork::Istanbul => "istanbul",
            Fork::Berlin => "berlin",
            Fork::London => "london",
            Fork::Paris => "paris",
            Fork::Shanghai => "shanghai",
            Fork::Cancun => "cancun",
            Fork::Prague => "prague",
            Fork::Osaka => "osaka",
        }
    }

    /// The fork named `name` (as [`Fork::name`] spells it, any case).
    pub fn from_name(name: &str) -> Option<Fork> {
        Fork::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The largest deployable code at this fork (EIP-170 from Spurious Dragon).
    pub fn max_code_size(self) -> usize {
        if self >= Fork::SpuriousDragon { crate::config::EIP170_MAX_CODE_SIZE } else { usize::MAX }
    }
}

/// One defined instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpInfo {
    /// Mnemonic, e.g. "SSTORE".
    pub name: &'static str,
    /// Stack items consumed.
    pub inputs: u8,
    /// Stack items produced.
    pub outputs: u8,
    /// The fork that introduced it.
    pub since: Fork,
}

const fn op(name: &'static str, inputs: u8, outputs: u8, since: Fork) -> Option<OpInfo> {
    Some(OpInfo { name, inputs, outputs, since })
}

/// The instruction `byte` stands for at `fork`, or `None` when it is
/// undefined there.
pub fn info(byte: u8, fork: Fork) -> Option<OpInfo> {
    TABLE[byte as usize].filter(|i| i.since <= fork)
}

use Fork::*;

const PUSH_NAMES: [&str; 32] = [
    "PUSH1", "PUSH2", "PUSH3", "PUSH4", "PUSH5", "PUSH6", "PUSH7", "PUSH8", "PUSH9", "PUSH10",
    "PUSH11", "PUSH12", "PUSH13", "PUSH14", "PUSH15", "PUSH16", "PUSH17", "PUSH18", "PUSH19",
    "PUSH20", "PUSH21", "PUSH22", "PUSH23", "PUSH24", "PUSH25", "PUSH26", "PUSH27", "PUSH28",
    "PUSH29", "PUSH30", "PUSH31", "PUSH32",
];
const DUP_NAMES: [&str; 16] = [
    "DUP1", "DUP2", "DUP3", "DUP4", "DUP5", "DUP6", "DUP7", "DUP8", "DUP9", "DUP10", "DUP11",
    "DUP12", "DUP13", "DUP14", "DUP15", "DUP16",
];
const SWAP_NAMES: [&str; 16] = [
    "SWAP1", "SWAP2", "SWAP3", "SWAP4", "SWAP5", "SWAP6", "SWAP7", "SWAP8", "SWAP9", "SWAP10",
    "SWAP11", "SWAP12", "SWAP13", "SWAP14", "SWAP15", "SWAP16",
];
const LOG_NAMES: [&str; 5] = ["LOG0", "LOG1", "LOG2", "LOG3", "LOG4"];

static TABLE: [Option<OpInfo>; 256] = build_table();

const fn build_table() -> [Option<OpInfo>; 256] {
    let mut t: [Option<OpInfo>; 256] = [None; 256];
    t[0x00] = op("STOP", 0, 0, Frontier);
    t[0x01] = op("ADD", 2, 1, Frontier);
    t[0x02] = op("MUL", 2, 1, Frontier);
    t[0x03] = op("SUB", 2, 1, Frontier);
    t[0x04] = op("DIV", 2, 1, Frontier);
    t[0x05] = op("SDIV", 2, 1, Frontier);
    t[0x06] = op("MOD", 2, 1, Frontier);
    t[0x07] = op("SMOD", 2, 1, Frontier);
    t[0x08] = op("ADDMOD", 3, 1, Frontier);
    t[0x09] = op("MULMOD", 3, 1, Frontier);
    t[0x0a] = op("EXP", 2, 1, Frontier);
    t[0x0b] = op("SIGNEXTEND", 2, 1, Frontier);
    t[0x10] = op("LT", 2, 1, Frontier);
    t[0x11] = op("GT", 2, 1, Frontier);
    t[0x12] = op("SLT", 2, 1, Frontier);
    t[0x13] = op("SGT", 2, 1, Frontier);
    t[0x14] = op("EQ", 2, 1, Frontier);
    t[0x15] = op("ISZERO", 1, 1, Frontier);
    t[0x16] = op("AND", 2, 1, Frontier);
    t[0x17] = op("OR", 2, 1, Frontier);
    t[0x18] = op("XOR", 2, 1, Frontier);
    t[0x19] = op("NOT", 1, 1, Frontier);
    t[0x1a] = op("BYTE", 2, 1, Frontier);
    t[0x1b] = op("SHL", 2, 1, Constantinople);
    t[0x1c] = op("SHR", 2, 1, Constantinople);
    t[0x1d] = op("SAR", 2, 1, Constantinople);
    t[0x1e] = op("CLZ", 1, 1, Osaka);
    t[0x20] = op("KECCAK256", 2, 1, Frontier);
    t[0x30] = op("ADDRESS", 0, 1, Frontier);
    t[0x31] = op("BALANCE", 1, 1, Frontier);
    t[0x32] = op("ORIGIN", 0, 1, Frontier);
    t[0x33] = op("CALLER", 0, 1, Frontier);
    t[0x34] = op("CALLVALUE", 0, 1, Frontier);
    t[0x35] = op("CALLDATALOAD", 1, 1, Frontier);
    t[0x36] = op("CALLDATASIZE", 0, 1, Frontier);
    t[0x37] = op("CALLDATACOPY", 3, 0, Frontier);
    t[0x38] = op("CODESIZE", 0, 1, Frontier);
    t[0x39] = op("CODECOPY", 3, 0, Frontier);
    t[0x3a] = op("GASPRICE", 0, 1, Frontier);
    t[0x3b] = op("EXTCODESIZE", 1, 1, Frontier);
    t[0x3c] = op("EXTCODECOPY", 4, 0, Frontier);
    t[0x3d] = op("RETURNDATASIZE", 0, 1, Byzantium);
    t[0x3e] = op("RETURNDATACOPY", 3, 0, Byzantium);
    t[0x3f] = op("EXTCODEHASH", 1, 1, Constantinople);
    t[0x40] = op("BLOCKHASH", 1, 1, Frontier);
    t[0x41] = op("COINBASE", 0, 1, Frontier);
    t[0x42] = op("TIMESTAMP", 0, 1, Frontier);
    t[0x43] = op("NUMBER", 0, 1, Frontier);
    t[0x44] = op("PREVRANDAO", 0, 1, Frontier);
    t[0x45] = op("GASLIMIT", 0, 1, Frontier);
    t[0x46] = op("CHAINID", 0, 1, Istanbul);
    t[0x47] = op("SELFBALANCE", 0, 1, Istanbul);
    t[0x48] = op("BASEFEE", 0, 1, London);
    t[0x49] = op("BLOBHASH", 1, 1, Cancun);
    t[0x4a] = op("BLOBBASEFEE", 0, 1, Cancun);
    t[0x50] = op("POP", 1, 0, Frontier);
    t[0x51] = op("MLOAD", 1, 1, Frontier);
    t[0x52] = op("MSTORE", 2, 0, Frontier);
    t[0x53] = op("MSTORE8", 2, 0, Frontier);
    t[0x54] = op("SLOAD", 1, 1, Frontier);
    t[0x55] = op("SSTORE", 2, 0, Frontier);
    t[0x56] = op("JUMP", 1, 0, Frontier);
    t[0x57] = op("JUMPI", 2, 0, Frontier);
    t[0x58] = op("PC", 0, 1, Frontier);
    t[0x59] = op("MSIZE", 0, 1, Frontier);
    t[0x5a] = op("GAS", 0, 1, Frontier);
    t[0x5b] = op("JUMPDEST", 0, 0, Frontier);
    t[0x5c] = op("TLOAD", 1, 1, Cancun);
    t[0x5d] = op("TSTORE", 2, 0, Cancun);
    t[0x5e] = op("MCOPY", 3, 0, Cancun);
    t[0x5f] = op("PUSH0", 0, 1, Shanghai);
    let mut i = 0;
    while i < 32 {
        t[0x60 + i] = op(PUSH_NAMES[i], 0, 1, Frontier);
        i += 1;
    }
    let mut i = 0;
    while i < 16 {
        t[0x80 + i] = op(DUP_NAMES[i], i as u8 + 1, i as u8 + 2, Frontier);
        t[0x90 + i] = op(SWAP_NAMES[i], i as u8 + 2, i as u8 + 2, Frontier);
        i += 1;
    }
    let mut i = 0;
    while i < 5 {
        t[0xa0 + i] = op(LOG_NAMES[i], i as u8 + 2, 0, Frontier);
        i += 1;
    }
    t[0xf0] = op("CREATE", 3, 1, Frontier);
    t[0xf1] = op("CALL", 7, 1, Frontier);
    t[0xf2] = op("CALLCODE", 7, 1, Frontier);
    t[0xf3] = op("RETURN", 2, 0, Frontier);
    t[0xf4] = op("DELEGATECALL", 6, 1, Homestead);
    t[0xf5] = op("CREATE2", 4, 1, Constantinople);
    t[0xfa] = op("STATICCALL", 6, 1, Byzantium);
    t[0xfd] = op("REVERT", 2, 0, Byzantium);
    t[0xfe] = op("INVALID", 0, 0, Frontier);
    t[0xff] = op("SELFDESTRUCT", 1, 0, Frontier);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_appear_at_their_fork() {
        assert!(info(0x5f, Paris).is_none() && info(0x5f, Shanghai).is_some());
        for byte in [0x5c, 0x5d, 0x5e, 0x49, 0x4a] {
            assert!(info(byte, Shanghai).is_none() && info(byte, Cancun).is_some(), "{byte:#x}");
        }
        assert!(info(0x1e, Prague).is_none() && info(0x1e, Osaka).unwrap().name == "CLZ");
        assert!(info(0xf4, Frontier).is_none() && info(0xf4, Homestead).is_some());
        assert!(info(0xfd, SpuriousDragon).is_none() && info(0xfd, Byzantium).is_some());
        // DUPN, SWAPN and EXCHANGE are EOF-only: block cutting relies on
        // their being undefined in legacy code (for revm's padding).
        for byte in 0xe6..=0xe8 {
            assert!(Fork::ALL.iter().all(|f| info(byte, *f).is_none()), "{byte:#x}");
        }
    }

    #[test]
    fn the_latest_fork_defines_150_instructions() {
        // 0x00-0x0b (12), 0x10-0x1e (15), 0x20, 0x30-0x4a (27), 0x50-0x5f
        // (16), PUSH1-32, DUP, SWAP (64), LOG (5), 0xf0-0xf5 (6), 0xfa,
        // 0xfd, 0xfe, 0xff.
        let defined = (0..=255u8).filter(|b| info(*b, Fork::LATEST).is_some()).count();
        assert_eq!(defined, 12 + 15 + 1 + 27 + 16 + 64 + 5 + 6 + 4);
        let frontier = (0..=255u8).filter(|b| info(*b, Frontier).is_some()).count();
        assert!(frontier < defined);
    }

    #[test]
    fn dup_and_swap_reach_the_right_depth() {
        assert_eq!(info(0x8f, Frontier).unwrap(), OpInfo { name: "DUP16", inputs: 16, outputs: 17, since: Frontier });
        assert_eq!(info(0x9f, Frontier).unwrap().inputs, 17);
        assert_eq!(info(0xa4, Frontier).unwrap().inputs, 6);
    }
}
