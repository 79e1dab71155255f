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
//! The driver is `tokio-postgres`, each connection driven by a
//! current-thread runtime of its own on the thread that waits for the
//! statement: no hand-over between threads per load, and a time limit
//! around every connect and statement, which the synchronous `postgres`
//! crate does not offer. Called from inside an async runtime, the wait
//! moves to a helper thread.

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
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

/// A current-thread runtime that drives one connection on the thread that
/// waits for it: a statement costs no hand-over between threads. Shut down
/// without blocking when dropped, so dropping it is safe anywhere.
struct Driver(Option<Runtime>);

impl Driver {
    fn new() -> Result<Driver> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build().map_err(|e| {
            Error::Io { what: "starting a PostgreSQL connection's runtime".into(), cause: e.to_string() }
        })?;
        Ok(Driver(Some(runtime)))
    }

    /// Runs `work` to completion or until `deadline` (`None` then: the
    /// work is dropped).
    fn block_on<F: Future>(&self, deadline: Option<Instant>, work: F) -> Option<F::Output> {
        let runtime = self.0.as_ref().expect("present until dropped");
        runtime.block_on(async move {
            match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline.into(), work).await.ok(),
                None => Some(work.await),
            }
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A client with its prepared reads.
struct Session {
    client: Client,
    lookup: Statement,
    page: Statement,
}

/// One pooled connection: the session and the runtime that drives it.
struct PgConnection {
    driver: Driver,
    session: Session,
}

/// Runs `work` here, or on a helper thread when this thread is inside an
/// async runtime (which refuses to block on another).
fn outside_async<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| scope.spawn(work).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
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
            store.with_connection(timeout_ms, "connecting to", |session| async { (session, Ok(())) })?;
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
            let lookup = client.prepare(lookup).await.map_err(|e| ("preparing reads of", e))?;
            let page = client.prepare(page).await.map_err(|e| ("preparing reads of", e))?;
            Ok::<_, (&'static str, tokio_postgres::Error)>((Session { client, lookup, page }, version))
        };
        let driver = Driver::new()?;
        match driver.block_on(deadline, work) {
            None => Err(store::timed_out(format!("connecting to {}", self.uri), timeout_ms)),
            Some(Err((doing, e))) => Err(self.failure(doing, &e)),
            Some(Ok((session, version))) => {
                store::check_schema_version(version.as_deref(), &self.uri)?;
                Ok(PgConnection { driver, session })
            }
        }
    }

    /// Runs `work` on a pooled connection under a deadline of `timeout_ms`;
    /// the connection goes back to the pool only when the work succeeded in
    /// time. When a connection that waited in the pool turns out closed by
    /// the server (a restart), the work runs again on a new one.
    fn with_connection<T, F>(&self, timeout_ms: u64, doing: &str, work: impl Fn(Session) -> F + Sync) -> Result<T>
    where
        T: Send,
        F: Future<Output = (Session, std::result::Result<T, tokio_postgres::Error>)>,
    {
        outside_async(|| {
            let deadline = store::deadline_after(timeout_ms);
            loop {
                let connect = || self.connect(deadline, timeout_ms);
                let mut pooled = self.pool.checkout(deadline, timeout_ms, &self.uri, connect)?;
                let PgConnection { driver, session } = pooled.take();
                match driver.block_on(deadline, work(session)) {
                    None => return Err(store::timed_out(format!("{doing} {}", self.uri), timeout_ms)),
                    Some((session, Ok(value))) => {
                        pooled.restore(PgConnection { driver, session });
                        return Ok(value);
                    }
                    Some((_, Err(e))) if pooled.is_reused() && e.as_db_error().is_none() => continue,
                    Some((_, Err(e))) => return Err(self.failure(doing, &e)),
                }
            }
        })
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
        self.with_connection(0, "writing to", |mut session| async {
            let result = async {
                let transaction = session.client.transaction().await?;
                let put_code = transaction.prepare(statements::PUT_CODE).await?;
                let put_address = transaction.prepare(statements::PUT_ADDRESS).await?;
                for entry in entries {
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
            (session, result)
        })
    }

    fn get(&self, address: &Address, limit: usize, timeout_ms: u64) -> Result<Option<StoreEntry>> {
        let cap = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.with_connection(timeout_ms, "reading", |session| async {
            let result = session.client.query(&session.lookup, &[&cap, &address.as_slice()]).await;
            (session, result)
        })?;
        Ok(self.entries(rows, limit)?.pop())
    }

    fn page(&self, after: Option<&Address>, count: usize) -> Result<Vec<StoreEntry>> {
        let after = after.map_or(Vec::new(), |a| a.to_vec());
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let rows = self.with_connection(0, "reading", |session| async {
            let result = session.client.query(&session.page, &[&i64::MAX, &after, &count]).await;
            (session, result)
        })?;
        self.entries(rows, usize::MAX)
    }

    fn len(&self) -> Result<u64> {
        let n: i64 = self.with_connection(0, "counting", |session| async {
            let result = session.client.query_one(statements::COUNT, &[]).await.and_then(|row| row.try_get(0));
            (session, result)
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
