//! `postgres://` URIs: code from a code store (the schema of
//! [`store`](super::store)) in a PostgreSQL server, which a fleet of nodes
//! shares.
//!
//! The URI is a libpq-style connection URL,
//! `postgres://user[:password]@host[:port]/database`; the request's address
//! picks the row. Each URI gets a pool of at most [`MAX_CONNECTIONS`]
//! connections; a connection that failed is closed and replaced on the next
//! load, so loads resume by themselves once a restarted server is back.
//! While the server is away, addresses already in the manager's cache keep
//! loading from there; new loads fail with [`Error::Io`] or
//! [`Error::Timeout`] and are not cached.
//!
//! Every connect and statement runs under the load's time limit (the
//! configuration's `loader_timeout_ms`), enforced here on the client: a
//! server that accepts a connection and never answers costs one time limit,
//! not a hang. Stored bytes longer than the sink's size cap are refused by
//! the query itself, so they never cross the network.
//!
//! The driver is `tokio-postgres` on a small runtime of ebc's own (two
//! threads, started on first use): the synchronous `postgres` crate has no
//! time limit for a statement, and a runtime shared by every store lets one
//! thread wait on many connections.

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::RwLock;
use revm::primitives::Address;
use tokio::runtime::Runtime;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::store::{self, CodeStore, Pool, RawRow, StoreEntry, statements};
use super::{Loader, LoaderType, Request, Sink};
use crate::error::{Error, Result};

/// At most this many connections per server URI.
pub const MAX_CONNECTIONS: usize = 16;

/// One connection with its prepared reads.
struct PgConnection {
    client: Client,
    lookup: Statement,
    page: Statement,
}

/// The runtime every PostgreSQL connection of the process runs on.
fn runtime() -> Result<&'static Runtime> {
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("ebc-postgres")
                .enable_io()
                .enable_time()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|cause| Error::Io { what: "starting the PostgreSQL client runtime".into(), cause: cause.clone() })
}

/// Runs `work` on the runtime and waits for it until `deadline`; `None`
/// when the deadline passed first (the work is dropped). Callable from any
/// thread, also from inside another async runtime.
fn run<T: Send + 'static>(
    deadline: Option<Instant>,
    work: impl Future<Output = T> + Send + 'static,
) -> Result<Option<T>> {
    let (done, result) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let outcome = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), work).await.ok(),
            None => Some(work.await),
        };
        let _ = done.send(outcome);
    });
    result.recv().map_err(|_| Error::Panic("a PostgreSQL task ended without a result".into()))
}

/// The driver's error with its causes, one after the other.
fn cause_of(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `uri` with its password, if any, replaced by `***`, for messages.
fn redacted(uri: &str) -> String {
    let Some(start) = uri.find("://").map(|i| i + 3) else { return uri.to_owned() };
    let authority_end = uri[start..].find(['/', '?']).map_or(uri.len(), |i| start + i);
    let authority = &uri[start..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!("{}{}:***{}", &uri[..start], &authority[..colon], &uri[start + at..])
        }
        _ => uri.to_owned(),
    }
}

/// A code store in a PostgreSQL database.
pub struct PostgresStore {
    uri: String,
    config: tokio_postgres::Config,
    create: bool,
    pool: Pool<PgConnection>,
}

impl PostgresStore {
    /// The store at `uri`. Connects lazily (on the first call that needs
    /// the server) unless `create`, which connects now, within
    /// `timeout_ms`, and makes the schema where it is missing; only then
    /// does the store accept [`CodeStore::put`].
    pub fn open(uri: &str, create: bool, timeout_ms: u64) -> Result<PostgresStore> {
        let shown = redacted(uri);
        let config = tokio_postgres::Config::from_str(uri)
            .map_err(|e| Error::InvalidArgument(format!("{shown}: {}", cause_of(&e))))?;
        let store = PostgresStore { uri: shown, config, create, pool: Pool::new(MAX_CONNECTIONS) };
        if create {
            let deadline = store::deadline_after(timeout_ms);
            drop(store.checkout(deadline, timeout_ms)?);
        }
        Ok(store)
    }

    /// The error for a failed driver call while `doing` something: a
    /// missing table means the database is no code store.
    fn failure(&self, doing: &str, e: &tokio_postgres::Error) -> Error {
        if e.code() == Some(&SqlState::UNDEFINED_TABLE) {
            return Error::InvalidArgument(format!("{}: not an ebc code store ({})", self.uri, cause_of(e)));
        }
        Error::Io { what: format!("{doing} {}", self.uri), cause: cause_of(e) }
    }

    fn connect(&self, deadline: Option<Instant>, timeout_ms: u64) -> Result<PgConnection> {
        let mut config = self.config.clone();
        if let Some(deadline) = deadline {
            config.connect_timeout(deadline.saturating_duration_since(Instant::now()));
        }
        let schema = self.create.then(|| store::schema_with("BYTEA"));
        let (lookup, page) = (store::lookup_statement(), store::page_statement());
        let work = async move {
            let (client, connection) = config.connect(NoTls).await.map_err(|e| ("connecting to", e))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            if let Some(schema) = schema {
                client.batch_execute(&schema).await.map_err(|e| ("creating the schema of", e))?;
            }
            let version = client
                .query_opt(statements::SCHEMA_VERSION, &[])
                .await
                .map_err(|e| ("reading the schema version of", e))?;
            let version: Option<String> = match version {
                Some(row) => Some(row.try_get(0).map_err(|e| ("reading the schema version of", e))?),
                None => None,
            };
            let lookup = client.prepare(&lookup).await.map_err(|e| ("preparing reads of", e))?;
            let page = client.prepare(&page).await.map_err(|e| ("preparing reads of", e))?;
            Ok::<_, (&'static str, tokio_postgres::Error)>((PgConnection { client, lookup, page }, version))
        };
        match run(deadline, work)? {
            None => Err(store::timed_out(format!("connecting to {}", self.uri), timeout_ms)),
            Some(Err((doing, e))) => Err(self.failure(doing, &e)),
            Some(Ok((connection, version))) => {
                store::check_schema_version(version.as_deref(), &self.uri)?;
                Ok(connection)
            }
        }
    }

    /// A live pooled connection: connections the server has closed (a
    /// restart) are dropped on the way.
    fn checkout(&self, deadline: Option<Instant>, timeout_ms: u64) -> Result<store::Pooled<'_, PgConnection>> {
        loop {
            let mut pooled = self.pool.checkout(deadline, timeout_ms, &self.uri, || self.connect(deadline, timeout_ms))?;
            if !pooled.get().client.is_closed() {
                return Ok(pooled);
            }
            pooled.discard();
        }
    }

    /// Runs `work` with a pooled connection under a deadline of
    /// `timeout_ms`; the connection goes back to the pool only when the
    /// work succeeded in time.
    fn with_connection<T, F>(&self, timeout_ms: u64, doing: &str, work: impl FnOnce(PgConnection) -> F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = (PgConnection, std::result::Result<T, tokio_postgres::Error>)> + Send + 'static,
    {
        let deadline = store::deadline_after(timeout_ms);
        let mut pooled = self.checkout(deadline, timeout_ms)?;
        let outcome = run(deadline, work(pooled.take()))?;
        match outcome {
            None => Err(store::timed_out(format!("{doing} {}", self.uri), timeout_ms)),
            Some((connection, Ok(value))) => {
                pooled.restore(connection);
                Ok(value)
            }
            Some((_, Err(e))) => Err(self.failure(doing, &e)),
        }
    }

    /// The checked entries of `rows`.
    fn entries(&self, rows: Vec<Row>, limit: usize) -> Result<Vec<StoreEntry>> {
        rows.iter()
            .map(|row| {
                let raw = raw_row(row).map_err(|e| self.failure("reading", &e))?;
                raw.into_entry(&self.uri, limit)
            })
            .collect()
    }
}

/// The columns of one joined row.
fn raw_row(row: &Row) -> std::result::Result<RawRow, tokio_postgres::Error> {
    Ok(RawRow {
        address: row.try_get(0)?,
        code_hash: row.try_get(1)?,
        source: row.try_get(2)?,
        version: row.try_get(3)?,
        signature_scheme: row.try_get::<_, Option<i32>>(4)?.map(i64::from),
        signature: row.try_get(5)?,
        compression: row.try_get::<_, i32>(6)?.into(),
        size: row.try_get::<_, i32>(7)?.into(),
        stored_len: row.try_get::<_, i32>(8)?.into(),
        bytes: row.try_get(9)?,
    })
}

impl CodeStore for PostgresStore {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn put(&self, entries: &[StoreEntry]) -> Result<()> {
        if !self.create {
            return Err(Error::InvalidArgument(format!("{} was opened for reading only", self.uri)));
        }
        let entries = entries.to_vec();
        self.with_connection(0, "writing to", move |mut connection| async move {
            let result = async {
                let transaction = connection.client.transaction().await?;
                let put_code = transaction.prepare(statements::PUT_CODE).await?;
                let put_address = transaction.prepare(statements::PUT_ADDRESS).await?;
                for entry in &entries {
                    let code = &entry.code;
                    let (compression, size) = (code.compression as i32, code.size as i32);
                    transaction.execute(&put_code, &[&code.code_hash.as_slice(), &compression, &size, &code.bytes]).await?;
                    let signature = entry.signature.as_ref();
                    let scheme = signature.map(|s| s.scheme as i32);
                    let signature = signature.map(|s| s.bytes.as_slice());
                    let row: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
                        &entry.address.as_slice(),
                        &code.code_hash.as_slice(),
                        &entry.source,
                        &entry.version,
                        &scheme,
                        &signature,
                    ];
                    transaction.execute(&put_address, &row).await?;
                }
                transaction.commit().await
            }
            .await;
            (connection, result)
        })
    }

    fn get(&self, address: &Address, limit: usize, timeout_ms: u64) -> Result<Option<StoreEntry>> {
        let (cap, address) = (i64::try_from(limit).unwrap_or(i64::MAX), address.to_vec());
        let rows = self.with_connection(timeout_ms, "reading", move |connection| async move {
            let result = connection.client.query(&connection.lookup, &[&cap, &address]).await;
            (connection, result)
        })?;
        Ok(self.entries(rows, limit)?.pop())
    }

    fn page(&self, after: Option<&Address>, count: usize) -> Result<Vec<StoreEntry>> {
        let after = after.map_or(Vec::new(), |a| a.to_vec());
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let rows = self.with_connection(0, "reading", move |connection| async move {
            let result = connection.client.query(&connection.page, &[&i64::MAX, &after, &count]).await;
            (connection, result)
        })?;
        self.entries(rows, usize::MAX)
    }

    fn len(&self) -> Result<u64> {
        let n: i64 = self.with_connection(0, "counting", |connection| async move {
            let result = connection.client.query_one(statements::COUNT, &[]).await.and_then(|row| row.try_get(0));
            (connection, result)
        })?;
        Ok(n.max(0) as u64)
    }
}

/// Serves `postgres://` and `postgresql://` URIs: the code the store in
/// that database maps to the request's address. One [`PostgresStore`] (one
/// pool) per URI, made on first use.
#[derive(Default)]
pub struct PostgresLoader {
    stores: RwLock<HashMap<String, Arc<PostgresStore>>>,
}

impl PostgresLoader {
    fn store(&self, uri: &str) -> Result<Arc<PostgresStore>> {
        if let Some(store) = self.stores.read().get(uri) {
            return Ok(store.clone());
        }
        let opened = Arc::new(PostgresStore::open(uri, false, 0)?);
        Ok(self.stores.write().entry(uri.to_owned()).or_insert(opened).clone())
    }
}

impl Loader for PostgresLoader {
    fn kind(&self) -> LoaderType {
        LoaderType::Database
    }

    fn fetch(&self, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
        let store = self.store(request.uri)?;
        store::serve(&*store, request, sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_kept_out_of_messages() {
        assert_eq!(redacted("postgres://ebc:secret@127.0.0.1:5432/db"), "postgres://ebc:***@127.0.0.1:5432/db");
        assert_eq!(redacted("postgres://ebc@127.0.0.1/db"), "postgres://ebc@127.0.0.1/db");
        assert_eq!(redacted("postgres://127.0.0.1:5/db"), "postgres://127.0.0.1:5/db");
    }

    #[test]
    fn a_malformed_url_is_an_invalid_argument() {
        let err = PostgresStore::open("postgres://h:notaport/db", false, 0).err().unwrap();
        assert_eq!(err.status(), crate::Status::InvalidArgument, "{err}");
    }
}
