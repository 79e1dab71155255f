//! `sqlite:<path>` URIs: code from an embedded SQLite code store (the
//! schema of [`store`](super::store)), the default store of `ebc import`.
//!
//! The file is in WAL mode, so loads on any number of threads read while
//! one writer imports. Loads open the file read-only and never create it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use revm::primitives::Address;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::store::{self, CodeStore, Pool, RawRow, StoreEntry, sql_for_sqlite, statements};
use super::{FileLoader, Loader, LoaderType, Request, Sink};
use crate::error::{Error, Result};

/// At most this many connections per store file.
const MAX_CONNECTIONS: usize = 16;

/// How long a statement waits for a lock held by another connection when
/// the caller gives no time limit.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One SQLite connection with the deadline its progress handler enforces.
struct SqliteConnection {
    connection: Connection,
    deadline: Arc<Mutex<Option<Instant>>>,
}

/// A code store in one SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    uri: String,
    writable: bool,
    pool: Pool<SqliteConnection>,
    lookup: String,
    page: String,
}

impl SqliteStore {
    /// Opens the store at `path`. With `create`, a missing file is created,
    /// switched to WAL mode and given the schema, and the store accepts
    /// [`CodeStore::put`]; without, the file must exist and is read-only.
    /// The file's schema version is checked now.
    pub fn open(path: impl AsRef<Path>, create: bool) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        if path.as_os_str().is_empty() {
            return Err(Error::InvalidArgument("sqlite: an empty path".into()));
        }
        let uri = format!("sqlite:{}", path.display());
        if !create && !path.exists() {
            return Err(Error::NotFound(format!("no code store at {uri}")));
        }
        if path.is_dir() {
            return Err(Error::InvalidArgument(format!("{uri} is a directory, not a code store file")));
        }
        let store = SqliteStore {
            path,
            uri,
            writable: create,
            pool: Pool::new(MAX_CONNECTIONS),
            lookup: sql_for_sqlite(store::lookup_statement()),
            page: sql_for_sqlite(store::page_statement()),
        };
        let mut first = store.pool.checkout(None, 0, &store.uri, || store.connect())?;
        if create {
            let schema = store::schema_with("BLOB");
            first.get().connection.execute_batch(&schema).map_err(|e| store.failure("creating the schema of", e))?;
        }
        let version: Option<String> = first
            .get()
            .connection
            .query_row(statements::SCHEMA_VERSION, [], |row| row.get(0))
            .optional()
            .map_err(|e| match e.to_string() {
                text if text.contains("no such table") => {
                    Error::InvalidArgument(format!("{}: not an ebc code store ({text})", store.uri))
                }
                _ => store.failure("reading the schema version of", e),
            })?;
        store::check_schema_version(version.as_deref(), &store.uri)?;
        drop(first);
        Ok(store)
    }

    fn connect(&self) -> Result<SqliteConnection> {
        let flags = if self.writable {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags).map_err(|e| self.failure("opening", e))?;
        connection.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(|e| self.failure("configuring", e))?;
        if self.writable {
            let mode: String = connection
                .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                .map_err(|e| self.failure("switching to WAL mode", e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::Io {
                    what: format!("switching {} to WAL mode", self.uri),
                    cause: format!("the journal mode stayed {mode}"),
                });
            }
            connection.pragma_update(None, "synchronous", "NORMAL").map_err(|e| self.failure("configuring", e))?;
        }
        let deadline = Arc::new(Mutex::new(None::<Instant>));
        let watched = deadline.clone();
        connection.progress_handler(1000, Some(move || watched.lock().is_some_and(|d| Instant::now() > d)));
        Ok(SqliteConnection { connection, deadline })
    }

    /// The error for a failed SQLite call while `doing` something to this
    /// store: a time-out for an interrupted statement, else I/O naming the
    /// store and SQLite's reason (a corrupt file reads "file is not a
    /// database" or "database disk image is malformed").
    fn failure(&self, doing: &str, e: rusqlite::Error) -> Error {
        Error::Io { what: format!("{doing} {}", self.uri), cause: e.to_string() }
    }

    /// Runs `work` on a pooled connection under a deadline of `timeout_ms`.
    /// A connection whose statement failed is closed, not reused.
    fn with_connection<T>(
        &self,
        timeout_ms: u64,
        doing: &str,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let deadline = store::deadline_after(timeout_ms);
        let mut pooled = self.pool.checkout(deadline, timeout_ms, &self.uri, || self.connect())?;
        let connection = pooled.get();
        *connection.deadline.lock() = deadline;
        let busy = deadline.map_or(DEFAULT_BUSY_TIMEOUT, |d| {
            d.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
        });
        connection.connection.busy_timeout(busy).map_err(|e| self.failure("configuring", e))?;
        let result = work(&mut connection.connection);
        *connection.deadline.lock() = None;
        match result {
            Ok(value) => Ok(value),
            Err(e) => {
                pooled.discard();
                let interrupted = e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted);
                Err(if interrupted {
                    store::timed_out(format!("{doing} {}", self.uri), timeout_ms)
                } else {
                    self.failure(doing, e)
                })
            }
        }
    }

    /// The rows of `statement` (SQLite's form of one that selects the
    /// joined row columns) with `params`, checked.
    fn rows(&self, statement: &str, params: &[&dyn rusqlite::ToSql], limit: usize, timeout_ms: u64) -> Result<Vec<StoreEntry>> {
        let raws = self.with_connection(timeout_ms, "reading", |connection| {
            let mut statement = connection.prepare_cached(statement)?;
            let rows = statement.query_map(params, |row| {
                Ok(RawRow {
                    address: row.get(0)?,
                    code_hash: row.get(1)?,
                    source: row.get(2)?,
                    version: row.get(3)?,
                    signature_scheme: row.get(4)?,
                    signature: row.get(5)?,
                    compression: row.get(6)?,
                    size: row.get(7)?,
                    stored_len: row.get(8)?,
                    bytes: row.get(9)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<RawRow>>>()
        })?;
        raws.into_iter().map(|raw| raw.into_entry(&self.uri, limit)).collect()
    }
}

impl CodeStore for SqliteStore {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn put(&self, entries: &[StoreEntry]) -> Result<()> {
        if !self.writable {
            return Err(Error::InvalidArgument(format!("{} was opened read-only", self.uri)));
        }
        self.with_connection(0, "writing to", |connection| {
            let transaction = connection.transaction()?;
            {
                let mut put_code = transaction.prepare_cached(&sql_for_sqlite(statements::PUT_CODE))?;
                let mut put_address = transaction.prepare_cached(&sql_for_sqlite(statements::PUT_ADDRESS))?;
                for entry in entries {
                    let code = &entry.code;
                    put_code.execute(params![
                        code.code_hash.as_slice(),
                        code.compression as i64,
                        code.size as i64,
                        &code.bytes
                    ])?;
                    let signature = entry.signature.as_ref();
                    put_address.execute(params![
                        entry.address.as_slice(),
                        code.code_hash.as_slice(),
                        &entry.source,
                        &entry.version,
                        signature.map(|s| s.scheme as i64),
                        signature.map(|s| s.bytes.as_slice()),
                    ])?;
                }
            }
            transaction.commit()
        })
    }

    fn get(&self, address: &Address, limit: usize, timeout_ms: u64) -> Result<Option<StoreEntry>> {
        let cap = limit as i64;
        Ok(self.rows(&self.lookup, &[&cap, &address.as_slice()], limit, timeout_ms)?.pop())
    }

    fn page(&self, after: Option<&Address>, count: usize) -> Result<Vec<StoreEntry>> {
        let after: &[u8] = after.map_or(&[], |a| a.as_slice());
        let (cap, count) = (i64::MAX, count as i64);
        self.rows(&self.page, &[&cap, &after, &count], usize::MAX, 0)
    }

    fn len(&self) -> Result<u64> {
        let n: i64 = self.with_connection(0, "counting", |c| c.query_row(statements::COUNT, [], |row| row.get(0)))?;
        Ok(n.max(0) as u64)
    }
}

/// Serves `sqlite:<path>`: the code the store at `path` maps to the
/// request's address. Stores are opened on first use and kept open; paths
/// are confined to the file loader's roots when it has any.
pub struct SqliteLoader {
    admission: FileLoader,
    stores: RwLock<HashMap<PathBuf, Arc<SqliteStore>>>,
}

impl SqliteLoader {
    /// A loader that admits the paths `admission` admits.
    pub fn new(admission: FileLoader) -> SqliteLoader {
        SqliteLoader { admission, stores: RwLock::new(HashMap::new()) }
    }

    fn store(&self, location: &str) -> Result<Arc<SqliteStore>> {
        let path = self.admission.admit(location)?;
        if let Some(store) = self.stores.read().get(&path) {
            return Ok(store.clone());
        }
        let opened = Arc::new(SqliteStore::open(&path, false)?);
        Ok(self.stores.write().entry(path).or_insert(opened).clone())
    }
}

impl Loader for SqliteLoader {
    fn kind(&self) -> LoaderType {
        LoaderType::Database
    }

    fn fetch(&self, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
        if request.location.is_empty() {
            return Err(Error::InvalidArgument(format!("{}: empty store path", request.uri)));
        }
        let store = self.store(request.location)?;
        store::serve(&*store, request, sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{Scheme, Signature};

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ebc-sqlite-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn entries_round_trip_with_their_signature() {
        let path = temp_path("round.db");
        let store = SqliteStore::open(&path, true).unwrap();
        let mut signed = StoreEntry::new(Address::repeat_byte(2), "test", vec![0x60, 0x01, 0x00]);
        signed.version = "v7".into();
        signed.signature = Some(Signature { scheme: Scheme::Ed25519, bytes: vec![9; 64], version: "v7".into() });
        let twin = StoreEntry::new(Address::repeat_byte(1), "test", vec![0x60, 0x01, 0x00]);
        store.put(&[signed.clone(), twin.clone()]).unwrap();
        assert_eq!(store.len().unwrap(), 2);
        assert_eq!(store.get(&signed.address, 100, 1000).unwrap(), Some(signed.clone()));
        assert_eq!(store.get(&Address::repeat_byte(3), 100, 1000).unwrap(), None);
        let mut all = Vec::new();
        store.for_each(&mut |e| {
            all.push(e);
            Ok(())
        })
        .unwrap();
        assert_eq!(all, vec![twin, signed]);
        let read_only = SqliteStore::open(&path, false).unwrap();
        assert_eq!(read_only.put(&[]).unwrap_err().status(), crate::Status::InvalidArgument);
    }

    #[test]
    fn a_database_without_the_schema_is_not_a_code_store() {
        let path = temp_path("other.db");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let err = SqliteStore::open(&path, false).err().unwrap();
        assert_eq!(err.status(), crate::Status::InvalidArgument, "{err}");
        assert!(err.to_string().contains("not an ebc code store"), "{err}");
    }

    #[test]
    fn a_missing_file_is_not_found_and_is_not_created() {
        let path = temp_path("missing.db");
        let err = SqliteStore::open(&path, false).err().unwrap();
        assert_eq!(err.status(), crate::Status::NotFound);
        assert!(!path.exists());
    }

    #[test]
    fn code_past_the_cap_is_too_large_without_being_read() {
        let path = temp_path("cap.db");
        let store = SqliteStore::open(&path, true).unwrap();
        store.put(&[StoreEntry::new(Address::repeat_byte(5), "t", vec![0x5b; 1000])]).unwrap();
        let err = store.get(&Address::repeat_byte(5), 999, 1000).unwrap_err();
        assert_eq!(err.status(), crate::Status::TooLarge);
        assert!(err.to_string().contains("1000 bytes, limit 999"), "{err}");
    }
}
