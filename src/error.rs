//! The one error type of the crate, and its stable numeric status.
//!
//! Every fallible operation returns [`Error`]. Each variant maps to exactly
//! one [`Status`], the number a C host sees as `ebc_status`. Messages carry
//! their context (which URI, which limit, which offset) so that a log line on
//! its own says what went wrong.

use core::fmt;

/// Stable numeric codes, one per [`Error`] variant, shared with the C ABI.
///
/// Values are fixed forever and never reused; new codes are appended.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL (C ABI only).
    NullParameter = 1,
    /// An argument was out of range or malformed.
    InvalidArgument = 2,
    /// External bytecode is disabled in the configuration.
    Disabled = 3,
    /// There is no code at the requested place.
    NotFound = 4,
    /// No loader is registered for the URI's scheme or the requested kind.
    LoaderNotFound = 5,
    /// A size limit was exceeded.
    TooLarge = 6,
    /// The code failed verification.
    VerificationFailed = 7,
    /// The security policy rejected the code or the request.
    SecurityViolation = 8,
    /// A signature was missing, malformed or not by a trusted key.
    SignatureInvalid = 9,
    /// A hash or checksum did not match the expected value.
    ChecksumMismatch = 10,
    /// An operation did not finish within its time limit.
    Timeout = 11,
    /// An input/output operation failed.
    Io = 12,
    /// A panic was caught at the C boundary.
    Panic = 13,
}

impl Status {
    /// Every status, in numeric order.
    pub const ALL: [Status; 14] = [
        Status::Ok,
        Status::NullParameter,
        Status::InvalidArgument,
        Status::Disabled,
        Status::NotFound,
        Status::LoaderNotFound,
        Status::TooLarge,
        Status::VerificationFailed,
        Status::SecurityViolation,
        Status::SignatureInvalid,
        Status::ChecksumMismatch,
        Status::Timeout,
        Status::Io,
        Status::Panic,
    ];

    /// The status with this number, if there is one.
    pub fn from_u32(value: u32) -> Option<Status> {
        Status::ALL.get(value as usize).copied()
    }

    /// The C name of the status, e.g. `"EBC_TOO_LARGE"`.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().unwrap_or("EBC_UNKNOWN")
    }

    /// [`Status::name`] as a static C string.
    pub fn c_name(self) -> &'static core::ffi::CStr {
        match self {
            Status::Ok => c"EBC_OK",
            Status::NullParameter => c"EBC_NULL_PARAMETER",
            Status::InvalidArgument => c"EBC_INVALID_ARGUMENT",
            Status::Disabled => c"EBC_DISABLED",
            Status::NotFound => c"EBC_NOT_FOUND",
            Status::LoaderNotFound => c"EBC_LOADER_NOT_FOUND",
            Status::TooLarge => c"EBC_TOO_LARGE",
            Status::VerificationFailed => c"EBC_VERIFICATION_FAILED",
            Status::SecurityViolation => c"EBC_SECURITY_VIOLATION",
            Status::SignatureInvalid => c"EBC_SIGNATURE_INVALID",
            Status::ChecksumMismatch => c"EBC_CHECKSUM_MISMATCH",
            Status::Timeout => c"EBC_TIMEOUT",
            Status::Io => c"EBC_IO",
            Status::Panic => c"EBC_PANIC",
        }
    }
}

/// Everything that can go wrong in ebc.
///
/// Each variant maps to one [`Status`] through [`Error::status`]; the
/// `Display` text is the message a C host reads from `ebc_error_message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A required pointer argument was NULL; names the parameter.
    NullParameter(&'static str),
    /// An argument was out of range or malformed; says which and why.
    InvalidArgument(String),
    /// External bytecode is disabled by `enable_external_bytecode = false`.
    Disabled,
    /// There is no code at the requested place; says where.
    NotFound(String),
    /// The source knows the account but it has no code: it answered with
    /// zero bytes (or hex `0x`). Status [`Status::NotFound`], as for a load
    /// nothing is there to hand out; [`crate::AccountCode`] tells the two
    /// apart, as EVMC's code-hash semantics need.
    NoCode(String),
    /// No loader handles this request.
    LoaderNotFound(String),
    /// A size limit was exceeded.
    TooLarge {
        /// What was too large (a URI, "decoded code", ...).
        what: String,
        /// The limit in bytes.
        limit: u64,
        /// The size seen, when it is known (a streamed source stops at the limit).
        size: Option<u64>,
    },
    /// The code failed verification.
    VerificationFailed {
        /// The rule that failed.
        reason: String,
        /// The byte offset in the code, when the failure has one.
        offset: Option<usize>,
    },
    /// The security policy rejected the code or the request.
    SecurityViolation(String),
    /// A signature was missing, malformed or untrusted.
    SignatureInvalid(String),
    /// A hash or checksum did not match.
    ChecksumMismatch {
        /// The algorithm, e.g. "keccak256".
        algorithm: &'static str,
        /// The expected digest, hex.
        expected: String,
        /// The digest of the bytes received, hex.
        actual: String,
    },
    /// An operation did not finish within its time limit.
    Timeout {
        /// What timed out.
        what: String,
        /// The limit in milliseconds.
        limit_ms: u64,
    },
    /// An input/output operation failed.
    Io {
        /// What was being done, e.g. "reading /tmp/x.hex".
        what: String,
        /// The operating system's or library's explanation.
        cause: String,
    },
    /// A panic was caught at the C boundary.
    Panic(String),
}

impl Error {
    /// The numeric status of this error.
    pub fn status(&self) -> Status {
        match self {
            Error::NullParameter(_) => Status::NullParameter,
            Error::InvalidArgument(_) => Status::InvalidArgument,
            Error::Disabled => Status::Disabled,
            Error::NotFound(_) | Error::NoCode(_) => Status::NotFound,
            Error::LoaderNotFound(_) => Status::LoaderNotFound,
            Error::TooLarge { .. } => Status::TooLarge,
            Error::VerificationFailed { .. } => Status::VerificationFailed,
            Error::SecurityViolation(_) => Status::SecurityViolation,
            Error::SignatureInvalid(_) => Status::SignatureInvalid,
            Error::ChecksumMismatch { .. } => Status::ChecksumMismatch,
            Error::Timeout { .. } => Status::Timeout,
            Error::Io { .. } => Status::Io,
            Error::Panic(_) => Status::Panic,
        }
    }

    /// An [`Error::Io`] for `what`, from an `std::io::Error`.
    pub fn io(what: impl Into<String>, cause: &std::io::Error) -> Error {
        Error::Io { what: what.into(), cause: cause.to_string() }
    }

    /// The error a status from outside (a host's loader callback) stands
    /// for, with `context` saying who returned it. `None` for [`Status::Ok`].
    pub fn from_status(status: u32, context: &str) -> Option<Error> {
        let Some(status) = Status::from_u32(status) else {
            return Some(Error::InvalidArgument(format!("{context} returned unknown status {status}")));
        };
        let text = format!("{context} returned {}", status.name());
        Some(match status {
            Status::Ok => return None,
            Status::NullParameter | Status::InvalidArgument => Error::InvalidArgument(text),
            Status::Disabled => Error::Disabled,
            Status::NotFound => Error::NotFound(text),
            Status::LoaderNotFound => Error::LoaderNotFound(text),
            Status::TooLarge => Error::TooLarge { what: context.into(), limit: 0, size: None },
            Status::VerificationFailed => Error::VerificationFailed { reason: text, offset: None },
            Status::SecurityViolation => Error::SecurityViolation(text),
            Status::SignatureInvalid => Error::SignatureInvalid(text),
            Status::ChecksumMismatch => Error::ChecksumMismatch {
                algorithm: "checksum",
                expected: "(not given)".into(),
                actual: text,
            },
            Status::Timeout => Error::Timeout { what: context.into(), limit_ms: 0 },
            Status::Io => Error::Io { what: context.into(), cause: "the loader reported EBC_IO".into() },
            Status::Panic => Error::Panic(text),
        })
    }

    /// The same error with `context` put in front of its message, for
    /// variants whose message is free text (used to name the URI of a load).
    pub fn with_context(self, context: &str) -> Error {
        let join = |m: String| format!("{context}: {m}");
        match self {
            Error::InvalidArgument(m) => Error::InvalidArgument(join(m)),
            Error::NotFound(m) => Error::NotFound(join(m)),
            Error::NoCode(m) => Error::NoCode(join(m)),
            Error::LoaderNotFound(m) => Error::LoaderNotFound(join(m)),
            Error::SecurityViolation(m) => Error::SecurityViolation(join(m)),
            Error::SignatureInvalid(m) => Error::SignatureInvalid(join(m)),
            Error::VerificationFailed { reason, offset } => {
                Error::VerificationFailed { reason: join(reason), offset }
            }
            Error::Io { what, cause } => Error::Io { what: join(what), cause },
            other => other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NullParameter(name) => write!(f, "parameter `{name}` is NULL"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Disabled => {
                write!(f, "external bytecode is disabled (enable_external_bytecode = false)")
            }
            Error::NotFound(m) => write!(f, "not found: {m}"),
            Error::NoCode(m) => write!(f, "no code: {m}"),
            Error::LoaderNotFound(m) => write!(f, "no loader: {m}"),
            Error::TooLarge { what, limit, size: Some(size) } => {
                write!(f, "{what} is too large: {size} bytes, limit {limit}")
            }
            Error::TooLarge { what, limit, size: None } => {
                write!(f, "{what} is too large: more than the limit of {limit} bytes")
            }
            Error::VerificationFailed { reason, offset: Some(offset) } => {
                write!(f, "verification failed at offset {offset}: {reason}")
            }
            Error::VerificationFailed { reason, offset: None } => {
                write!(f, "verification failed: {reason}")
            }
            Error::SecurityViolation(m) => write!(f, "security violation: {m}"),
            Error::SignatureInvalid(m) => write!(f, "invalid signature: {m}"),
            Error::ChecksumMismatch { algorithm, expected, actual } => {
                write!(f, "{algorithm} mismatch: expected {expected}, got {actual}")
            }
            Error::Timeout { what, limit_ms } => write!(f, "{what} timed out after {limit_ms} ms"),
            Error::Io { what, cause } => write!(f, "i/o error {what}: {cause}"),
            Error::Panic(m) => write!(f, "panic: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// The crate's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_numbered_in_order_and_round_trip() {
        for (i, s) in Status::ALL.iter().enumerate() {
            assert_eq!(*s as u32, i as u32);
            assert_eq!(Status::from_u32(i as u32), Some(*s));
        }
        assert_eq!(Status::from_u32(14), None);
    }

    #[test]
    fn too_large_message_names_what_and_limit() {
        let e = Error::TooLarge { what: "file:/x".into(), limit: 10, size: Some(11) };
        assert_eq!(e.to_string(), "file:/x is too large: 11 bytes, limit 10");
        assert_eq!(e.status(), Status::TooLarge);
    }

    #[test]
    fn every_status_from_outside_keeps_its_number() {
        for s in Status::ALL {
            match Error::from_status(s as u32, "loader") {
                None => assert_eq!(s, Status::Ok),
                Some(e) if s == Status::NullParameter => assert_eq!(e.status(), Status::InvalidArgument),
                Some(e) => assert_eq!(e.status(), s),
            }
        }
        assert_eq!(Error::from_status(99, "x").unwrap().status(), Status::InvalidArgument);
    }

    #[test]
    fn context_is_prefixed_on_free_text_variants() {
        let e = Error::NotFound("no such entry".into()).with_context("mem:x");
        assert_eq!(e.to_string(), "not found: mem:x: no such entry");
    }
}
