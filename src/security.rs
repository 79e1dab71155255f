//! What a piece of code may do when it runs: trust levels and the execution
//! permissions they grant, recorded on every bytecode for the executor.

use crate::config::SecurityLevel;
use crate::error::{Error, Result};
use crate::source::LoaderType;
use crate::verify::Capabilities;

/// How far the code's origin is trusted.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrustLevel {
    /// Nothing vouches for the code.
    Untrusted = 0,
    /// A remote source the operator configured, without proof.
    Low = 1,
    /// Code whose integrity was checked against an expected hash.
    Medium = 2,
    /// The host's own store (file, memory, callback loader).
    High = 3,
    /// Signed by a trusted publisher or proven against a trusted root, or
    /// loaded with security switched off.
    FullyTrusted = 4,
}

impl TrustLevel {
    /// The level with this C number.
    pub fn from_u32(value: u32) -> Result<TrustLevel> {
        Ok(match value {
            0 => TrustLevel::Untrusted,
            1 => TrustLevel::Low,
            2 => TrustLevel::Medium,
            3 => TrustLevel::High,
            4 => TrustLevel::FullyTrusted,
            _ => return Err(Error::InvalidArgument(format!("unknown trust level {value}"))),
        })
    }

    /// The level's name in lower case.
    pub fn name(self) -> &'static str {
        match self {
            TrustLevel::Untrusted => "untrusted",
            TrustLevel::Low => "low",
            TrustLevel::Medium => "medium",
            TrustLevel::High => "high",
            TrustLevel::FullyTrusted => "fully-trusted",
        }
    }

    /// The permissions code of this trust level runs with.
    pub fn permissions(self) -> ExecutionPermissions {
        let at_least = |level: TrustLevel| self >= level;
        ExecutionPermissions {
            can_call_external: at_least(TrustLevel::Low),
            can_modify_state: at_least(TrustLevel::Medium),
            can_emit_logs: at_least(TrustLevel::Medium),
            can_create_contracts: at_least(TrustLevel::High),
            gas_limit_multiplier: match self {
                TrustLevel::Untrusted => 0.5,
                TrustLevel::Low => 0.75,
                _ => 1.0,
            },
        }
    }
}

/// What running code may do; enforced by the executor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExecutionPermissions {
    /// May CALL, STATICCALL, DELEGATECALL or CALLCODE other accounts.
    pub can_call_external: bool,
    /// May SSTORE, SELFDESTRUCT or transfer value.
    pub can_modify_state: bool,
    /// May LOG0-LOG4.
    pub can_emit_logs: bool,
    /// May CREATE or CREATE2.
    pub can_create_contracts: bool,
    /// The share of the caller's gas limit this code may use (0.0-1.0].
    pub gas_limit_multiplier: f64,
}

/// The security facts recorded on a bytecode when it is loaded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SecurityContext {
    /// The manager's level when the code was accepted.
    pub level: SecurityLevel,
    /// How far its origin is trusted.
    pub trust: TrustLevel,
    /// What it may do when it runs.
    pub permissions: ExecutionPermissions,
}

/// What is known of a load's origin when its trust is assessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// The kind of source.
    pub source: LoaderType,
    /// An expected hash or checksum from the caller matched.
    pub hash_checked: bool,
    /// The loader proved the code against a trusted anchor (a state root,
    /// a content address).
    pub proven: bool,
    /// A trusted publisher signed the code, granting this trust.
    pub signed: Option<TrustLevel>,
}

impl SecurityContext {
    /// The context for code accepted at `level` with `provenance`.
    pub fn assess(level: SecurityLevel, provenance: Provenance) -> SecurityContext {
        let trust = if level == SecurityLevel::None {
            TrustLevel::FullyTrusted
        } else if let Some(granted) = provenance.signed {
            granted
        } else {
            match provenance.source {
                LoaderType::FileSystem | LoaderType::Memory | LoaderType::Custom => TrustLevel::High,
                _ if provenance.hash_checked || provenance.proven => TrustLevel::Medium,
                _ => TrustLevel::Low,
            }
        };
        SecurityContext { level, trust, permissions: trust.permissions() }
    }

    /// Paranoid's static capability policy: every capability of reachable
    /// code must be allowed by the permissions, or the load fails with
    /// [`Error::SecurityViolation`] naming what was denied.
    pub fn admit(&self, capabilities: Capabilities) -> Result<()> {
        let p = &self.permissions;
        let needs_state = Capabilities::SELFDESTRUCT
            | Capabilities::SSTORE
            | Capabilities::TSTORE
            | Capabilities::CALL_WITH_VALUE
            | Capabilities::DELEGATECALL
            | Capabilities::CALLCODE;
        let needs_calls = Capabilities::CALL
            | Capabilities::CALL_WITH_VALUE
            | Capabilities::STATICCALL
            | Capabilities::DELEGATECALL
            | Capabilities::CALLCODE;
        let mut denied = 0;
        if !p.can_modify_state {
            denied |= capabilities.0 & needs_state;
        }
        if !p.can_call_external {
            denied |= capabilities.0 & needs_calls;
        }
        if !p.can_emit_logs {
            denied |= capabilities.0 & Capabilities::LOG;
        }
        if !p.can_create_contracts {
            denied |= capabilities.0 & (Capabilities::CREATE | Capabilities::CREATE2);
        }
        if denied == 0 {
            return Ok(());
        }
        Err(Error::SecurityViolation(format!(
            "reachable code uses {} which trust level {} does not permit",
            Capabilities(denied).names().join(", "),
            self.trust.name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_grow_with_trust() {
        let none = TrustLevel::Untrusted.permissions();
        assert!(!none.can_call_external && !none.can_modify_state && !none.can_create_contracts);
        let all = TrustLevel::FullyTrusted.permissions();
        assert!(all.can_call_external && all.can_modify_state && all.can_emit_logs);
        assert!(all.can_create_contracts && all.gas_limit_multiplier == 1.0);
    }

    fn provenance(source: LoaderType, hash_checked: bool) -> Provenance {
        Provenance { source, hash_checked, proven: false, signed: None }
    }

    #[test]
    fn remote_code_with_a_checked_hash_is_medium() {
        let ctx = SecurityContext::assess(SecurityLevel::Standard, provenance(LoaderType::Http, true));
        assert_eq!(ctx.trust, TrustLevel::Medium);
        let ctx = SecurityContext::assess(SecurityLevel::None, provenance(LoaderType::Http, false));
        assert_eq!(ctx.trust, TrustLevel::FullyTrusted);
        let signed = Provenance { signed: Some(TrustLevel::Low), ..provenance(LoaderType::Memory, false) };
        assert_eq!(SecurityContext::assess(SecurityLevel::Strict, signed).trust, TrustLevel::Low);
    }

    #[test]
    fn paranoid_denies_exactly_what_the_permissions_deny() {
        let all = Capabilities(u32::MAX >> 21);
        let low = SecurityContext::assess(
            SecurityLevel::Paranoid,
            Provenance { signed: Some(TrustLevel::Low), ..provenance(LoaderType::Http, false) },
        );
        let err = low.admit(all).unwrap_err().to_string();
        for denied in ["selfdestruct", "sstore", "log", "create2", "call-with-value"] {
            assert!(err.contains(denied), "{err}");
        }
        assert!(low.admit(Capabilities(Capabilities::STATICCALL | Capabilities::CALL)).is_ok());
        let full = SecurityContext::assess(SecurityLevel::Paranoid, provenance(LoaderType::Memory, false));
        assert!(full.admit(all).is_ok(), "the host's own store may do everything");
    }
}
