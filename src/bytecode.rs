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

use parking_lot::Mutex;

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
/// A cache hit may hand out a *lane copy* instead of the object that was
/// loaded: an object of its own (its own `Arc`, its own access counter)
/// that shares everything else with the loaded one, made once per cached
/// entry and thread lane so that threads hitting the same popular address
/// do not all write one reference count (see `Slot` in
/// `src/cache/mod.rs`; threads take four lanes in turn, so the first four
/// threads to hit a cache get one each). Copies answer every
/// accessor alike; [`ExternalBytecode::access_count`] counts the accesses
/// of all of them. Compare objects by code hash, not with `Arc::ptr_eq`.
///
/// `repr(C)` keeps the fields in this order: the access counter, which
/// every cache hit writes, comes first, in the cache line that holds the
/// `Arc`'s reference count, so a hit touches one line of the object.
#[derive(Debug)]
#[repr(C)]
pub struct ExternalBytecode {
    access_count: AtomicU64,
    code: Arc<Code>,
    account: Arc<Account>,
}

/// What one address's objects share beyond the code: the loaded object
/// and its lane copies all point here.
#[derive(Debug)]
struct Account {
    address: Address,
    metadata: Metadata,
    source_uri_c: CString,
    security: SecurityContext,
    /// The access counters of the objects that share this account, once
    /// the first lane copy was made (empty before: the loaded object then
    /// counts alone).
    counters: Mutex<Counters>,
}

/// The access counters of one account's objects.
#[derive(Debug, Default)]
struct Counters {
    /// Accesses counted by objects already freed.
    retired: u64,
    /// The counters of the live objects, by address.
    live: Vec<CounterRef>,
}

/// The address of a live object's access counter.
#[derive(Debug, PartialEq, Eq)]
struct CounterRef(std::ptr::NonNull<AtomicU64>);

// SAFETY: a `CounterRef` is only dereferenced under its account's lock,
// and the object owning the counter removes it under that lock before its
// memory is freed (`ExternalBytecode::drop`); the counter is atomic.
unsafe impl Send for CounterRef {}

impl CounterRef {
    fn of(object: &ExternalBytecode) -> CounterRef {
        CounterRef(std::ptr::NonNull::from(&object.access_count))
    }
}

/// Bytes an `Arc` allocation holds beyond its value: the strong and weak
/// counts.
const ARC_COUNTS: usize = 2 * size_of::<usize>();

/// How many `ExternalBytecode` objects exist in this process.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many bytecode objects are alive in this process right now, in every
/// manager and every reference a host holds, lane copies included: a leak
/// check for hosts and tests (it returns to its old value once everything
/// is released).
pub fn live_bytecodes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

impl Drop for ExternalBytecode {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        let mut counters = self.account.counters.lock();
        let me = CounterRef::of(self);
        if let Some(index) = counters.live.iter().position(|c| *c == me) {
            counters.live.swap_remove(index);
            counters.retired += self.access_count.load(Ordering::Relaxed);
        }
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
        let counters = Mutex::new(Counters::default());
        let account = Arc::new(Account { address, metadata, source_uri_c, security, counters });
        LIVE.fetch_add(1, Ordering::Relaxed);
        ExternalBytecode { access_count: AtomicU64::new(0), code, account }
    }

    /// A lane copy of `self`: a new object sharing `self`'s code and
    /// account, with an access counter of its own that
    /// [`ExternalBytecode::access_count`] adds to the others'.
    pub(crate) fn lane_copy(self: &Arc<ExternalBytecode>) -> Arc<ExternalBytecode> {
        LIVE.fetch_add(1, Ordering::Relaxed);
        let copy = Arc::new(ExternalBytecode {
            access_count: AtomicU64::new(0),
            code: self.code.clone(),
            account: self.account.clone(),
        });
        let mut counters = self.account.counters.lock();
        let original = CounterRef::of(self);
        if !counters.live.contains(&original) {
            counters.live.push(original);
        }
        counters.live.push(CounterRef::of(&copy));
        copy
    }

    /// Bytes one object holds, a loaded one or a lane copy: the struct and
    /// its `Arc` counts.
    pub(crate) const OBJECT_SIZE: usize = size_of::<ExternalBytecode>() + ARC_COUNTS;

    /// The account this code belongs to.
    #[inline]
    pub fn address(&self) -> Address {
        self.account.address
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
        &self.account.metadata
    }

    /// The source URI as a C string, valid as long as `self`.
    pub fn source_uri_c(&self) -> &std::ffi::CStr {
        &self.account.source_uri_c
    }

    /// Trust level and execution permissions.
    pub fn security(&self) -> &SecurityContext {
        &self.account.security
    }

    /// How many times the code was handed out by a cache hit or a load:
    /// this object's accesses and those of every lane copy of the same
    /// load, live or freed.
    pub fn access_count(&self) -> u64 {
        let counters = self.account.counters.lock();
        if counters.live.is_empty() {
            return self.access_count.load(Ordering::Relaxed);
        }
        // SAFETY: see `CounterRef`: each listed counter's object is alive
        // while it is listed, and we hold the lock it is unlisted under.
        let live: u64 = counters.live.iter().map(|c| unsafe { c.0.as_ref() }.load(Ordering::Relaxed)).sum();
        counters.retired + live
    }

    /// Records one access. Relaxed atomics: counters, not synchronisation.
    #[inline]
    pub(crate) fn touch(&self) {
        self.access_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one access without an atomic read-modify-write, for a lane
    /// copy whose lane the calling thread owns: it must be the only thread
    /// that counts on this object, now and until the count is next read
    /// with a happens-before edge (the cache's reader-slot claims give it).
    /// Anywhere else an access would be lost; use
    /// [`ExternalBytecode::touch`].
    #[inline]
    pub(crate) fn touch_owned(&self) {
        let count = self.access_count.load(Ordering::Relaxed);
        self.access_count.store(count + 1, Ordering::Relaxed);
    }

    /// Bytes of memory this address's entry holds beyond the shared code.
    /// Lane copies are counted by the cache that makes them
    /// (`ExternalBytecode::OBJECT_SIZE` bytes each).
    pub fn entry_memory_size(&self) -> usize {
        let account = &self.account;
        Self::OBJECT_SIZE
            + size_of::<Account>()
            + ARC_COUNTS
            + account.metadata.source_uri.len()
            + account.source_uri_c.as_bytes().len()
            + account.metadata.version.as_ref().map_or(0, String::len)
            + account.metadata.signature.as_ref().map_or(0, Vec::len)
    }
}
