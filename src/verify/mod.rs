//! Verification: analyse code once and apply the security level's policy.
//!
//! [`verify`] is the pipeline stage: it takes decoded code, runs the linear
//! [`analysis`](Analysis), and either rejects the code with an [`Error`] or
//! returns a [`Report`] with the findings, which travel with the bytecode.
//!
//! Real deployed code contains undefined bytes in data, PUSHes truncated by
//! the end of the code and deliberate jumps to non-JUMPDEST targets; those are
//! recorded as findings and never rejected below Paranoid.

mod analysis;
mod jumps;
mod metadata;
mod opcodes;

pub use analysis::{
    Analysis, Capabilities, CodeKind, Inspection, STACK_LIMIT, analyze, analyze_and_inspect, inspect,
};
#[cfg(fuzzing)]
#[doc(hidden)]
pub use analysis::long_way::inspect_the_long_way;
pub use metadata::{Compiler, Trailer, find_trailer};
pub use opcodes::{Fork, OpInfo, info};

use crate::config::SecurityLevel;
use crate::error::{Error, Result};

/// What a finding is about.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// A byte in executable position that is not a defined opcode.
    InvalidOpcode = 0,
    /// A static jump (`PUSHn X; JUMP/JUMPI`) to a target that is not a JUMPDEST.
    InvalidJumpDest = 1,
    /// A stack underflow or overflow that analysis can prove.
    InvalidStackOperation = 2,
    /// The code breaks the security policy.
    SecurityViolation = 3,
    /// The code's signature did not verify.
    SignatureInvalid = 4,
    /// A hash or checksum of the code did not match.
    ChecksumMismatch = 5,
    /// The last PUSH's immediate runs past the end of the code.
    TruncatedPush = 6,
}

impl FindingKind {
    /// The kind's name, as the command line prints it.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::InvalidOpcode => "invalid-opcode",
            FindingKind::InvalidJumpDest => "invalid-jumpdest",
            FindingKind::InvalidStackOperation => "invalid-stack-operation",
            FindingKind::SecurityViolation => "security-violation",
            FindingKind::SignatureInvalid => "signature-invalid",
            FindingKind::ChecksumMismatch => "checksum-mismatch",
            FindingKind::TruncatedPush => "truncated-push",
        }
    }
}

/// One observation about the code, at a byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What the finding is about.
    pub kind: FindingKind,
    /// Byte offset in the code.
    pub offset: usize,
    /// A sentence a person can read.
    pub message: String,
}

/// Where verification left a piece of code.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerificationStatus {
    /// Verification is switched off; only the size limit was applied.
    Unverified = 0,
    /// Analysed and accepted with no findings.
    Verified = 1,
    /// Analysed and accepted; findings are recorded.
    VerifiedWithFindings = 2,
}

/// The outcome of verifying accepted code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Where verification left the code.
    pub status: VerificationStatus,
    /// The kind of code and its jump destinations.
    pub analysis: Analysis,
    /// The full analysis (empty below Standard): findings, capabilities,
    /// blocks, metadata trailer.
    pub inspection: Inspection,
}

impl Report {
    /// Observations recorded at this level (none below Standard).
    pub fn findings(&self) -> &[Finding] {
        &self.inspection.findings
    }
}

/// The EIP-7702 delegation prefix.
pub const DELEGATION_PREFIX: [u8; 3] = [0xef, 0x01, 0x00];

/// Checks `code` against `level` and `max_size` and analyses it.
///
/// `analyse` false (verification disabled in the configuration) applies the
/// size limit only. Errors: [`Error::TooLarge`] past `max_size`,
/// [`Error::VerificationFailed`] for 0xEF-prefixed code that is not an
/// EIP-7702 delegation (Basic and above).
pub fn verify(
    code: &[u8],
    level: SecurityLevel,
    fork: Fork,
    max_size: usize,
    analyse: bool,
) -> Result<Report> {
    if code.len() > max_size {
        return Err(Error::TooLarge {
            what: "code".into(),
            limit: max_size as u64,
            size: Some(code.len() as u64),
        });
    }
    if !analyse {
        let inspection = Inspection::default();
        return Ok(Report { status: VerificationStatus::Unverified, analysis: analyze(code), inspection });
    }
    let delegation = analysis::delegation_target(code).is_some();
    if level >= SecurityLevel::Basic && code.first() == Some(&0xef) && !delegation {
        return Err(Error::VerificationFailed {
            reason: format!(
                "0xEF-prefixed code that is not an EIP-7702 delegation \
                 (0xef0100 followed by a 20-byte address, 23 bytes; got {} bytes starting {:02x?})",
                code.len(),
                &code[..code.len().min(3)]
            ),
            offset: Some(0),
        });
    }
    // From Standard up, one pass over the instructions gives both.
    let (analysis, inspection) = if level >= SecurityLevel::Standard {
        analyze_and_inspect(code, fork)
    } else {
        (analyze(code), Inspection::default())
    };
    let status = if inspection.findings.is_empty() {
        VerificationStatus::Verified
    } else {
        VerificationStatus::VerifiedWithFindings
    };
    Ok(Report { status, analysis, inspection })
}

/// A deterministic xorshift64 generator seeded with `seed` (nonzero), for
/// tests' random inputs (the analysis tests' code, the cache tests' keys).
#[cfg(test)]
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_over_the_limit_is_too_large_with_both_numbers() {
        let err = verify(&[0u8; 11], SecurityLevel::Basic, Fork::LATEST, 10, true).unwrap_err();
        assert_eq!(err, Error::TooLarge { what: "code".into(), limit: 10, size: Some(11) });
    }

    #[test]
    fn ef_code_that_is_no_delegation_is_rejected_from_basic_up() {
        let code = [0xef, 0x00, 0x01, 0x00];
        assert!(verify(&code, SecurityLevel::None, Fork::LATEST, 100, true).is_ok());
        let err = verify(&code, SecurityLevel::Basic, Fork::LATEST, 100, true).unwrap_err();
        assert!(matches!(err, Error::VerificationFailed { offset: Some(0), .. }), "{err}");
    }

    #[test]
    fn a_delegation_is_accepted_and_recognised() {
        let mut code = DELEGATION_PREFIX.to_vec();
        code.extend_from_slice(&[0x11; 20]);
        let report = verify(&code, SecurityLevel::Standard, Fork::LATEST, 100, true).unwrap();
        assert_eq!(report.analysis.kind, CodeKind::Delegation([0x11; 20].into()));
        assert_eq!(report.status, VerificationStatus::Verified);
    }

    #[test]
    fn findings_are_recorded_only_from_standard() {
        // PUSH1 0x08 JUMP (target 8 is out of range) and a truncated PUSH2.
        let code = [0x60, 0x08, 0x56, 0x61, 0x01];
        let basic = verify(&code, SecurityLevel::Basic, Fork::LATEST, 100, true).unwrap();
        assert!(basic.findings().is_empty());
        let standard = verify(&code, SecurityLevel::Standard, Fork::LATEST, 100, true).unwrap();
        assert_eq!(standard.status, VerificationStatus::VerifiedWithFindings);
        let kinds: Vec<_> = standard.findings().iter().map(|f| (f.kind, f.offset)).collect();
        assert_eq!(
            kinds,
            vec![(FindingKind::InvalidJumpDest, 2), (FindingKind::TruncatedPush, 3)]
        );
    }
}
