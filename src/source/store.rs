//! Code stores: databases that map addresses to code, shared by the
//! `sqlite:` and `postgres:` sources. One schema, one row format, one
//! [`CodeStore`] trait, one connection pool; each database supplies only
//! how it connects and runs a statement.
//!
//! # Schema
//! [`SCHEMA`] (with the database's binary type for `{blob}`):
//!
//! | table | row | key |
//! |---|---|---|
//! | `ebc_code` | stored bytes, their compression, the code size | keccak256 code hash: identical code is stored once |
//! | `ebc_address` | the code hash, where the code came from, a version label, a publisher's signature | 20-byte address |
//! | `ebc_meta` | `schema` = [`SCHEMA_VERSION`] | name |
//!
//! A load asks for one address: address → code hash → stored bytes. The
//! loader writes the stored bytes as they are (the decode stage handles
//! compression) and tells the pipeline the recorded code hash and
//! signature through [`SourceClaims`]: a row whose bytes do not hash to
//! its code hash fails the load with [`Error::ChecksumMismatch`].

use std::borrow::Cow;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use revm::primitives::{Address, B256, keccak256};

use super::{Request, Sink, SourceClaims, split_scheme};
use crate::bytecode::Compression;
use crate::codec::{self, Encoding};
use crate::error::{Error, Result};
use crate::signing::{Scheme, Signature};

/// The version of [`SCHEMA`] this build reads and writes, kept in
/// `ebc_meta` under `schema`.
pub const SCHEMA_VERSION: &str = "1";

/// The tables of a code store, for both databases. `{blob}` stands for the
/// binary column type (`BLOB` in SQLite, `BYTEA` in PostgreSQL).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ebc_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ebc_code (
    code_hash   {blob} PRIMARY KEY,
    compression INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    bytes       {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS ebc_address (
    address          {blob} PRIMARY KEY,
    code_hash        {blob} NOT NULL REFERENCES ebc_code (code_hash),
    source           TEXT NOT NULL,
    version          TEXT NOT NULL,
    signature_scheme INTEGER,
    signature        {blob}
);
INSERT INTO ebc_meta (key, value) VALUES ('schema', '1') ON CONFLICT (key) DO NOTHING;
";

/// The columns of one address row joined with its code, as every read
/// selects them. `$1` is the size cap: longer stored bytes are not fetched.
const JOINED_ROWS: &str = "a.address, a.code_hash, a.source, a.version, a.signature_scheme, a.signature, \
     c.compression, c.size, length(c.bytes), \
     CASE WHEN length(c.bytes) <= CAST($1 AS BIGINT) THEN c.bytes END \
     FROM ebc_address a JOIN ebc_code c ON c.code_hash = a.code_hash";

/// The statements of a code store, in PostgreSQL's `$n` parameter form;
/// [`sql_for_sqlite`] turns them into SQLite's `?n`.
pub mod statements {
    /// The schema version: `SELECT value FROM ebc_meta WHERE key = 'schema'`.
    pub const SCHEMA_VERSION: &str = "SELECT value FROM ebc_meta WHERE key = 'schema'";
    /// Stores code once per code hash: `$1` hash, `$2` compression, `$3` size, `$4` bytes.
    pub const PUT_CODE: &str = "INSERT INTO ebc_code (code_hash, compression, size, bytes) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (code_hash) DO NOTHING";
    /// Maps an address, replacing an earlier mapping: `$1` address, `$2`
    /// code hash, `$3` source, `$4` version, `$5` scheme, `$6` signature.
    pub const PUT_ADDRESS: &str = "INSERT INTO ebc_address \
         (address, code_hash, source, version, signature_scheme, signature) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (address) DO UPDATE SET \
         code_hash = excluded.code_hash, source = excluded.source, version = excluded.version, \
         signature_scheme = excluded.signature_scheme, signature = excluded.signature";
    /// How many addresses are mapped.
    pub const COUNT: &str = "SELECT COUNT(*) FROM ebc_address";
}

/// One address's row: `$1` size cap, `$2` address.
pub fn lookup_statement() -> &'static str {
    static STATEMENT: LazyLock<String> = LazyLock::new(|| format!("SELECT {JOINED_ROWS} WHERE a.address = $2"));
    &STATEMENT
}

/// One page of rows in address order: `$1` size cap, `$2` the last address
/// of the page before (empty for the first), `$3` the page size.
pub fn page_statement() -> &'static str {
    static STATEMENT: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {JOINED_ROWS} WHERE a.address > $2 ORDER BY a.address LIMIT CAST($3 AS BIGINT)")
    });
    &STATEMENT
}

/// `statement` with SQLite's `?n` parameters for PostgreSQL's `$n`.
pub fn sql_for_sqlite(statement: &str) -> String {
    statement.replace('$', "?")
}

/// [`SCHEMA`] with `blob` as the binary column type.
pub fn schema_with(blob: &str) -> String {
    SCHEMA.replace("{blob}", blob)
}

/// Code as a store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCode {
    /// keccak256 of the code (after decompression): the key.
    pub code_hash: B256,
    /// How `bytes` are compressed.
    pub compression: Compression,
    /// The code's size in bytes, after decompression.
    pub size: usize,
    /// The stored bytes.
    pub bytes: Vec<u8>,
}

impl StoredCode {
    /// Uncompressed `code`, hashed.
    pub fn raw(code: Vec<u8>) -> StoredCode {
        StoredCode { code_hash: keccak256(&code), compression: Compression::None, size: code.len(), bytes: code }
    }

    /// The same code stored compressed as `compression` (its hash and size
    /// kept). Code already compressed is returned as it is.
    pub fn compressed(self, compression: Compression) -> Result<StoredCode> {
        if compression == Compression::None || self.compression != Compression::None {
            return Ok(self);
        }
        let bytes = codec::compression::compress(&self.bytes, compression)?;
        Ok(StoredCode { compression, bytes, ..self })
    }

    /// The code itself: the stored bytes, decompressed when they are
    /// compressed (to at most the recorded size). Not checked against the
    /// code hash.
    pub fn decoded(&self, origin: &str) -> Result<Vec<u8>> {
        match self.compression {
            Compression::None => Ok(self.bytes.clone()),
            packed => codec::compression::decompress(&self.bytes, packed, self.size, origin),
        }
    }

    /// The bytes to hand to the decode stage. Stored bytes go as they are,
    /// except uncompressed code that happens to read as hex text (a few
    /// bytes, all ASCII hex digits), which goes hex-encoded so that the
    /// decode stage gives back the same code.
    pub fn wire_bytes(&self) -> Cow<'_, [u8]> {
        if self.compression == Compression::None && codec::detect(&self.bytes) == Encoding::Hex {
            Cow::Owned(format!("0x{}", codec::to_hex(&self.bytes)).into_bytes())
        } else {
            Cow::Borrowed(&self.bytes)
        }
    }
}

/// One address's entry: its code and what the store records with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreEntry {
    /// The account.
    pub address: Address,
    /// Where the code came from (a file, a corpus entry, a node), free text.
    pub source: String,
    /// A version label (the one signed, when there is a signature).
    pub version: String,
    /// A publisher's signature over the code hash and `version`.
    pub signature: Option<Signature>,
    /// The code.
    pub code: StoredCode,
}

impl StoreEntry {
    /// An unsigned entry for uncompressed `code`.
    pub fn new(address: Address, source: impl Into<String>, code: Vec<u8>) -> StoreEntry {
        StoreEntry { address, source: source.into(), version: String::new(), signature: None, code: StoredCode::raw(code) }
    }

    /// What a load of this entry tells the pipeline besides the bytes.
    pub fn claims(&self) -> SourceClaims {
        SourceClaims { code_hash: Some(self.code.code_hash), signature: self.signature.clone() }
    }
}

/// The columns of one read row as the database returned them, before any
/// check: each store fills one from its driver's row, and
/// [`RawRow::into_entry`] checks it.
#[derive(Debug, Default)]
pub struct RawRow {
    /// `ebc_address.address`.
    pub address: Vec<u8>,
    /// `ebc_address.code_hash`.
    pub code_hash: Vec<u8>,
    /// `ebc_address.source`.
    pub source: String,
    /// `ebc_address.version`.
    pub version: String,
    /// `ebc_address.signature_scheme`.
    pub signature_scheme: Option<i64>,
    /// `ebc_address.signature`.
    pub signature: Option<Vec<u8>>,
    /// `ebc_code.compression`.
    pub compression: i64,
    /// `ebc_code.size`.
    pub size: i64,
    /// The length of `ebc_code.bytes`.
    pub stored_len: i64,
    /// `ebc_code.bytes`, or `None` when longer than the size cap.
    pub bytes: Option<Vec<u8>>,
}

impl RawRow {
    /// The entry this row holds. A row that breaks the schema (wrong key
    /// lengths, an unknown compression or scheme) is
    /// [`Error::InvalidArgument`] naming `uri`; bytes past the size cap
    /// `limit` are [`Error::TooLarge`].
    pub fn into_entry(self, uri: &str, limit: usize) -> Result<StoreEntry> {
        let corrupt = |what: String| Error::InvalidArgument(format!("{uri}: corrupt store row: {what}"));
        let address: [u8; 20] = self.address.as_slice().try_into().map_err(|_| {
            corrupt(format!("an address of {} bytes, not 20", self.address.len()))
        })?;
        let address = Address::from(address);
        let code_hash: [u8; 32] = self.code_hash.as_slice().try_into().map_err(|_| {
            corrupt(format!("{address} maps to a code hash of {} bytes, not 32", self.code_hash.len()))
        })?;
        let compression = match self.compression {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Zstd,
            3 => Compression::Lz4,
            other => return Err(corrupt(format!("unknown compression {other} for {address}"))),
        };
        let signature = match (self.signature_scheme, self.signature) {
            (Some(scheme), Some(bytes)) => {
                let scheme = u32::try_from(scheme)
                    .map_err(|_| corrupt(format!("signature scheme {scheme} for {address}")))
                    .and_then(|s| Scheme::from_u32(s).map_err(|e| corrupt(format!("{e} for {address}"))))?;
                Some(Signature { scheme, bytes, version: self.version.clone() })
            }
            (None, None) => None,
            _ => return Err(corrupt(format!("a signature without its scheme, or a scheme alone, for {address}"))),
        };
        let Some(bytes) = self.bytes else {
            return Err(Error::TooLarge {
                what: format!("{uri}: the stored code of {address}"),
                limit: limit as u64,
                size: u64::try_from(self.stored_len).ok(),
            });
        };
        let size = usize::try_from(self.size).map_err(|_| corrupt(format!("code size {} for {address}", self.size)))?;
        Ok(StoreEntry {
            address,
            source: self.source,
            version: self.version,
            signature,
            code: StoredCode { code_hash: B256::from(code_hash), compression, size, bytes },
        })
    }
}

/// A database of code by address. `Send + Sync`: one store serves every
/// thread, each call on a pooled connection of its own.
pub trait CodeStore: Send + Sync {
    /// The store's URI, as errors name it.
    fn uri(&self) -> &str;

    /// Writes `entries` in one transaction: code once per code hash, each
    /// address mapped to its code (replacing an earlier mapping).
    fn put(&self, entries: &[StoreEntry]) -> Result<()>;

    /// The entry of `address`, if mapped. Stored bytes longer than `limit`
    /// are [`Error::TooLarge`] and are not fetched; the call gives up with
    /// [`Error::Timeout`] after `timeout_ms` (0 = no limit).
    fn get(&self, address: &Address, limit: usize, timeout_ms: u64) -> Result<Option<StoreEntry>>;

    /// Up to `count` entries in address order, after `after` (from the
    /// first when `None`).
    fn page(&self, after: Option<&Address>, count: usize) -> Result<Vec<StoreEntry>>;

    /// How many addresses are mapped.
    fn len(&self) -> Result<u64>;

    /// True when no address is mapped.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Calls `visit` with every entry, in address order, a page at a time.
    fn for_each(&self, visit: &mut dyn FnMut(StoreEntry) -> Result<()>) -> Result<()> {
        let mut after = None;
        loop {
            let page = self.page(after.as_ref(), 512)?;
            let Some(last) = page.last().map(|e| e.address) else { return Ok(()) };
            for entry in page {
                visit(entry)?;
            }
            after = Some(last);
        }
    }
}

/// Opens the store `uri` names: `postgres://...` / `postgresql://...`, or
/// `sqlite:<path>` or a plain path for SQLite. With `create`, a missing
/// SQLite file is created and the schema is made where it is missing;
/// without, the store must exist.
pub fn open_store(uri: &str, create: bool, timeout_ms: u64) -> Result<Box<dyn CodeStore>> {
    match split_scheme(uri) {
        Some((scheme, _)) if scheme == "postgres" || scheme == "postgresql" => {
            Ok(Box::new(super::PostgresStore::open(uri, create, timeout_ms)?))
        }
        Some((scheme, path)) if scheme == "sqlite" => Ok(Box::new(super::SqliteStore::open(path, create)?)),
        Some((scheme, _)) => Err(Error::InvalidArgument(format!(
            "{uri}: a code store is sqlite:<path>, a path, or postgres://...; not {scheme:?}"
        ))),
        None => Ok(Box::new(super::SqliteStore::open(uri, create)?)),
    }
}

/// A loader's whole job for a code store: fetch the entry of the request's
/// address, record the claims and write the bytes.
pub(crate) fn serve(store: &dyn CodeStore, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
    let entry = store.get(request.address, sink.limit(), request.timeout_ms)?.ok_or_else(|| {
        Error::NotFound(format!("the code store {} maps no code to {}", store.uri(), request.address))
    })?;
    sink.claim(entry.claims());
    sink.write(&entry.code.wire_bytes())
}

/// Fails with [`Error::InvalidArgument`] unless the schema version read
/// from a store (`None`: no version row) is [`SCHEMA_VERSION`].
pub(crate) fn check_schema_version(found: Option<&str>, uri: &str) -> Result<()> {
    match found {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(other) => Err(Error::InvalidArgument(format!(
            "{uri}: code store schema version {other}; this build reads version {SCHEMA_VERSION}"
        ))),
        None => Err(Error::InvalidArgument(format!("{uri}: not an ebc code store (no schema version)"))),
    }
}

/// The instant `timeout_ms` from now (`None` for 0: no limit).
pub(crate) fn deadline_after(timeout_ms: u64) -> Option<Instant> {
    (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms))
}

/// The [`Error::Timeout`] for `what`, limited to `timeout_ms`.
pub(crate) fn timed_out(what: String, timeout_ms: u64) -> Error {
    Error::Timeout { what, limit_ms: timeout_ms }
}

/// A bounded pool of database connections. At most `max` are open at once;
/// a caller that finds none idle and the pool full waits for one until its
/// deadline. A connection that failed is discarded, not reused.
pub(crate) struct Pool<C> {
    idle: Mutex<Vec<C>>,
    open: AtomicUsize,
    returned: Condvar,
    max: usize,
}

impl<C> Pool<C> {
    /// An empty pool of at most `max` connections.
    pub(crate) fn new(max: usize) -> Pool<C> {
        Pool { idle: Mutex::new(Vec::new()), open: AtomicUsize::new(0), returned: Condvar::new(), max: max.max(1) }
    }

    /// An idle connection, or a new one from `connect` while the pool has
    /// room; else waits for one until `deadline` ([`Error::Timeout`] naming
    /// `what` then). `connect` runs outside the pool's lock.
    pub(crate) fn checkout(
        &self,
        deadline: Option<Instant>,
        timeout_ms: u64,
        what: &str,
        connect: impl FnOnce() -> Result<C>,
    ) -> Result<Pooled<'_, C>> {
        let mut idle = self.idle.lock();
        loop {
            if let Some(connection) = idle.pop() {
                return Ok(Pooled { pool: self, connection: Some(connection), reused: true });
            }
            if self.open.load(Ordering::Acquire) < self.max {
                self.open.fetch_add(1, Ordering::AcqRel);
                drop(idle);
                return match connect() {
                    Ok(connection) => Ok(Pooled { pool: self, connection: Some(connection), reused: false }),
                    Err(e) => {
                        self.release_slot();
                        Err(e)
                    }
                };
            }
            match deadline {
                Some(deadline) => {
                    if self.returned.wait_until(&mut idle, deadline).timed_out() && idle.is_empty() {
                        return Err(timed_out(format!("waiting for a free connection to {what}"), timeout_ms));
                    }
                }
                None => self.returned.wait(&mut idle),
            }
        }
    }

    fn release_slot(&self) {
        let _idle = self.idle.lock();
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.returned.notify_one();
    }
}

/// A connection checked out of a [`Pool`]; back to the pool when dropped,
/// unless [`Pooled::discard`] was called.
pub(crate) struct Pooled<'p, C> {
    pool: &'p Pool<C>,
    connection: Option<C>,
    reused: bool,
}

impl<C> Pooled<'_, C> {
    /// True when the connection was idle in the pool (and may have been
    /// closed by the server since), false when it was just opened.
    pub(crate) fn is_reused(&self) -> bool {
        self.reused
    }

    /// The connection.
    pub(crate) fn get(&mut self) -> &mut C {
        self.connection.as_mut().expect("present until dropped or discarded")
    }

    /// Takes the connection out; give it back with [`Pooled::restore`] or
    /// it is discarded when the guard drops.
    pub(crate) fn take(&mut self) -> C {
        self.connection.take().expect("present until dropped or discarded")
    }

    /// Puts a taken connection back into the guard.
    pub(crate) fn restore(&mut self, connection: C) {
        self.connection = Some(connection);
    }

    /// Closes the connection instead of returning it to the pool.
    pub(crate) fn discard(mut self) {
        self.connection = None;
    }
}

impl<C> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        match self.connection.take() {
            Some(connection) => {
                self.pool.idle.lock().push(connection);
                self.pool.returned.notify_one();
            }
            None => self.pool.release_slot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> RawRow {
        RawRow {
            address: vec![0x11; 20],
            code_hash: keccak256([0x00]).to_vec(),
            compression: 0,
            size: 1,
            stored_len: 1,
            bytes: Some(vec![0x00]),
            ..RawRow::default()
        }
    }

    #[test]
    fn a_well_formed_row_becomes_its_entry() {
        let entry = row().into_entry("sqlite:x", 10).unwrap();
        assert_eq!(entry.address, Address::repeat_byte(0x11));
        assert_eq!(entry.code, StoredCode::raw(vec![0x00]));
        assert_eq!(entry.claims().code_hash, Some(keccak256([0x00])));
    }

    #[test]
    fn rows_that_break_the_schema_are_named_corrupt() {
        let cases = [
            RawRow { address: vec![1; 19], ..row() },
            RawRow { code_hash: vec![1; 31], ..row() },
            RawRow { compression: 9, ..row() },
            RawRow { signature_scheme: Some(7), signature: Some(vec![1]), ..row() },
            RawRow { signature: Some(vec![1]), ..row() },
            RawRow { size: -1, ..row() },
        ];
        for case in cases {
            let err = case.into_entry("sqlite:/s.db", 10).unwrap_err();
            assert_eq!(err.status(), crate::Status::InvalidArgument, "{err}");
            assert!(err.to_string().contains("sqlite:/s.db: corrupt store row"), "{err}");
        }
    }

    #[test]
    fn bytes_past_the_cap_are_too_large_with_their_size() {
        let err = RawRow { bytes: None, stored_len: 99, ..row() }.into_entry("postgres://h/db", 10).unwrap_err();
        assert_eq!(err, Error::TooLarge { what: format!("postgres://h/db: the stored code of {}", Address::repeat_byte(0x11)), limit: 10, size: Some(99) });
    }

    #[test]
    fn raw_code_that_reads_as_hex_goes_hex_encoded() {
        let looks_like_hex = StoredCode::raw(b"60".to_vec());
        assert_eq!(&*looks_like_hex.wire_bytes(), b"0x3630");
        assert_eq!(codec::decode(looks_like_hex.wire_bytes().into_owned(), "t").unwrap(), b"60");
        let plain = StoredCode::raw(vec![0x60, 0x80, 0x60, 0x40]);
        assert!(matches!(plain.wire_bytes(), Cow::Borrowed(_)));
    }

    #[test]
    fn sqlite_statements_use_numbered_question_marks() {
        assert!(sql_for_sqlite(statements::PUT_CODE).contains("VALUES (?1, ?2, ?3, ?4)"));
        assert!(!schema_with("BLOB").contains('{'));
    }

    #[test]
    fn the_pool_hands_out_at_most_its_size_and_times_out_waiting() {
        let pool: Pool<u32> = Pool::new(1);
        let first = pool.checkout(None, 0, "db", || Ok(1)).unwrap();
        let deadline = deadline_after(20);
        let err = pool.checkout(deadline, 20, "db", || Ok(2)).err().unwrap();
        assert_eq!(err.status(), crate::Status::Timeout);
        drop(first);
        let mut again = pool.checkout(None, 0, "db", || Ok(3)).unwrap();
        assert_eq!(*again.get(), 1, "the idle connection is reused");
        again.discard();
        let mut fresh = pool.checkout(None, 0, "db", || Ok(4)).unwrap();
        assert_eq!(*fresh.get(), 4, "a discarded connection frees its slot");
    }
}
