//! [`ExternalBytecode`]: code as ebc hands it out, immutable and shared.
//!
//! Two layers: [`Code`] is everything that depends only on the bytes (hashes,
//! analysis, findings) and is shared by every address with the same code
//! hash; [`ExternalBytecode`] is one address's view of it, with where it was
//! loaded from and how often it is used.

use std::ffi::CString;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::SystemTime;

use revm::primitives::{Address, B256};

use crate::security::SecurityContext;
use crate::source::LoaderType;
use crate::verify::{CodeKind, Finding, Report, VerificationStatus};

/// How the bytes from the source were compressed.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Not compressed.
    None = 0,
    /// gzip.
    Gzip = 1,
    /// Zstandard.
    Zstd = 2,
    /// LZ4 frame.
    Lz4 = 3,
}

/// What depends only on the code bytes: shared by every address whose code
/// has the same keccak256 hash, built once at ingest.
#[derive(Debug)]
pub struct Code {
    code_hash: B256,
    sha256: [u8; 32],
    report: Report,
    /// The findings' messages as C strings, for the C ABI's lifetime rule
    /// ("valid while a reference is held").
    finding_messages_c: Box<[CString]>,
}

impl Code {
    /// Wraps analysed code. `code_hash` is keccak256 of the code and
    /// `sha256` its SHA-256, both computed by the caller at ingest.
    pub fn new(code_hash: B256, sha256: [u8; 32], report: Report) -> Code {
        let finding_messages_c = report
            .findings()
            .iter()
            .map(|f| CString::new(f.message.replace('\0', "")).unwrap_or_default())
            .collect();
        Code { code_hash, sha256, report, finding_messages_c }
    }

    /// Finding `index`'s message as a C string.
    pub fn finding_message_c(&self, index: usize) -> Option<&std::ffi::CStr> {
        self.finding_messages_c.get(index).map(CString::as_c_str)
    }

    /// The code, unpadded.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        self.report.analysis.bytecode.original_byte_slice()
    }

    /// The keccak256 code hash.
    #[inline]
    pub fn code_hash(&self) -> B256 {
        self.code_hash
    }

    /// The SHA-256 checksum of the code.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The verification outcome: status, analysis and findings.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Bytes of memory this code holds: the padded code, the jump table,
    /// findings and the struct itself.
    pub fn memory_size(&self) -> usize {
        let bytecode = &self.report.analysis.bytecode;
        let jump_table = bytecode.legacy_jump_table().map_or(0, |t| t.as_slice().len());
        let findings: usize = self
            .report
            .findings()
            .iter()
            .map(|f| size_of::<Finding>() + size_of::<CString>() + 2 * f.message.len() + 1)
            .sum();
        size_of::<Code>() + bytecode.bytecode().len() + jump_table + findings
    }
}

/// Where a bytecode came from.
#[derive(Clone, Debug)]
pub struct Metadata {
    /// A version label given by the source or the publisher.
    pub version: Option<String>,
    /// The URI the code was loaded from.
    pub source_uri: String,
    /// A publisher's signature over the code hash, when one came with it.
    pub signature: Option<Vec<u8>>,
    /// How the source's bytes were compressed.
    pub compression: Compression,
    /// Decompressed size over compressed size (1.0 when not compressed).
    pub compression_ratio: f64,
    /// How many bytes the source returned, before decoding.
    pub original_size: usize,
    /// The kind of source.
    pub load_method: LoaderType,
    /// When the load finished.
    pub loaded_at: SystemTime,
}

/// One address's code, as returned by [`Manager::load`](crate::Manager::load).
/// Immutable apart from its access counter; share it as `Arc`.
///
/// `repr(C)` keeps the fields in this order: the access counter, which
/// every cache hit writes, and the code pointer it reads come first, in
/// the cache line that holds the `Arc`'s reference count, so a hit touches
/// one line of the object.
#[derive(Debug)]
#[repr(C)]
pub struct ExternalBytecode {
    access_count: AtomicU64,
    code: Arc<Code>,
    address: Address,
    metadata: Metadata,
    source_uri_c: CString,
    security: SecurityContext,
}

/// How many `ExternalBytecode` objects exist in this process.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many bytecode objects are alive in this process right now, in every
/// manager and every reference a host holds: a leak check for hosts and
/// tests (it returns to its old value once everything is released).
pub fn live_bytecodes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

impl Drop for ExternalBytecode {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ExternalBytecode {
    /// Binds `code` to `address`. `metadata.source_uri` must not contain NUL
    /// (URIs are checked for that when a load starts); a NUL cuts it short in
    /// the C view.
    pub fn new(
        address: Address,
        code: Arc<Code>,
        metadata: Metadata,
        security: SecurityContext,
    ) -> ExternalBytecode {
        let visible = metadata.source_uri.split('\0').next().unwrap_or_default();
        let source_uri_c = CString::new(visible).unwrap_or_default();
        LIVE.fetch_add(1, Ordering::Relaxed);
        ExternalBytecode {
            address,
            code,
            metadata,
            source_uri_c,
            security,
            access_count: AtomicU64::new(0),
        }
    }

    /// The account this code belongs to.
    #[inline]
    pub fn address(&self) -> Address {
        self.address
    }

    /// The code, unpadded.
    #[inline]
    pub fn code(&self) -> &[u8] {
        self.code.bytes()
    }

    /// The shared, address-independent part.
    #[inline]
    pub fn shared(&self) -> &Arc<Code> {
        &self.code
    }

    /// keccak256 of the code, computed once at ingest.
    #[inline]
    pub fn code_hash(&self) -> B256 {
        self.code.code_hash
    }

    /// SHA-256 of the code.
    pub fn sha256(&self) -> [u8; 32] {
        self.code.sha256
    }

    /// True when `pc` is a JUMPDEST opcode (not PUSH data).
    #[inline]
    pub fn is_jumpdest(&self, pc: usize) -> bool {
        self.code.report.analysis.is_jumpdest(pc)
    }

    /// How many JUMPDESTs the code has.
    pub fn jumpdest_count(&self) -> usize {
        self.code.report.analysis.jumpdest_count
    }

    /// Legacy code or an EIP-7702 delegation.
    pub fn kind(&self) -> CodeKind {
        self.code.report.analysis.kind
    }

    /// The analysed code, padded with its jump table, ready for revm.
    pub fn revm_bytecode(&self) -> &revm::bytecode::Bytecode {
        &self.code.report.analysis.bytecode
    }

    /// Where verification left the code.
    pub fn verification_status(&self) -> VerificationStatus {
        self.code.report.status
    }

    /// The findings recorded when the code was verified.
    pub fn findings(&self) -> &[Finding] {
        self.code.report.findings()
    }

    /// The full analysis: capabilities, blocks, metadata trailer (empty
    /// below Standard).
    pub fn inspection(&self) -> &crate::verify::Inspection {
        &self.code.report.inspection
    }

    /// Where the code came from.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The source URI as a C string, valid as long as `self`.
    pub fn source_uri_c(&self) -> &std::ffi::CStr {
        &self.source_uri_c
    }

    /// Trust level and execution permissions.
    pub fn security(&self) -> &SecurityContext {
        &self.security
    }

    /// How many times the code was handed out by a cache hit or a load.
    pub fn access_count(&self) -> u64 {
        self.access_count.load(Ordering::Relaxed)
    }

    /// Records one access. Relaxed atomics: counters, not synchronisation.
    #[inline]
    pub(crate) fn touch(&self) {
        self.access_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes of memory this address's entry holds beyond the shared code.
    pub fn entry_memory_size(&self) -> usize {
        size_of::<ExternalBytecode>()
            + self.metadata.source_uri.len()
            + self.source_uri_c.as_bytes().len()
            + self.metadata.version.as_ref().map_or(0, String::len)
            + self.metadata.signature.as_ref().map_or(0, Vec::len)
    }
}
