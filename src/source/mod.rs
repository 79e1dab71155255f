//! Sources of code: the [`Loader`] trait, URI parsing and the registry that
//! picks a loader for each load.
//!
//! A URI is `<scheme>:<location>`; a string without a scheme is a file path.
//! The registry maps schemes to loaders: `file`, `mem`, `sqlite` and
//! `postgres` (code stores, see [`store`]) are built in, and
//! hosts add their own (from Rust with [`Manager::register_loader`], from C
//! with `ebc_register_loader`).
//!
//! [`Manager::register_loader`]: crate::Manager::register_loader

mod file;
pub mod http;
pub mod ipfs;
pub mod jsonrpc;
mod memory;
mod postgres;
mod sqlite;
pub mod store;
pub mod transfer;

pub use file::FileLoader;
pub use memory::MemoryLoader;
pub use postgres::{PostgresLoader, PostgresStore};
pub use sqlite::{SqliteLoader, SqliteStore};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use revm::primitives::{Address, B256};

pub use crate::codec::Encoding;
use crate::error::{Error, Result};

/// The kind of place code comes from (the seed's `LoaderType`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoaderType {
    /// A file on a local file system.
    FileSystem = 0,
    /// An HTTP(S) server.
    Http = 1,
    /// IPFS, by content identifier.
    Ipfs = 2,
    /// A database (SQLite, PostgreSQL).
    Database = 3,
    /// Entries held in this process.
    Memory = 4,
    /// A loader registered by the host.
    Custom = 5,
    /// An Ethereum node's JSON-RPC.
    JsonRpc = 6,
}

impl LoaderType {
    /// The type with this C number.
    pub fn from_u32(value: u32) -> Result<LoaderType> {
        Ok(match value {
            0 => LoaderType::FileSystem,
            1 => LoaderType::Http,
            2 => LoaderType::Ipfs,
            3 => LoaderType::Database,
            4 => LoaderType::Memory,
            5 => LoaderType::Custom,
            6 => LoaderType::JsonRpc,
            _ => return Err(Error::InvalidArgument(format!("unknown loader type {value}"))),
        })
    }

    /// The type's name in lower case.
    pub fn name(self) -> &'static str {
        match self {
            LoaderType::FileSystem => "file",
            LoaderType::Http => "http",
            LoaderType::Ipfs => "ipfs",
            LoaderType::Database => "database",
            LoaderType::Memory => "memory",
            LoaderType::Custom => "custom",
            LoaderType::JsonRpc => "jsonrpc",
        }
    }
}

/// One fetch, as a loader sees it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The account whose code is wanted.
    pub address: &'a Address,
    /// The whole URI, as given (or as built from the default source).
    pub uri: &'a str,
    /// The URI without its scheme: a path, a name, a host and path.
    pub location: &'a str,
    /// The time limit in milliseconds (0 = none).
    pub timeout_ms: u64,
    /// A state root the caller trusts for this load: sources that can prove
    /// accounts (JSON-RPC) prove the code against it.
    pub state_root: Option<B256>,
}

/// A loader's statement that it proved the bytes it wrote against a trusted
/// anchor: a state root (JSON-RPC with `eth_getProof`) or a content address
/// (an IPFS CID). The manager counts proven code as having provenance
/// (enough for Strict without a signature) and, when a code hash was
/// proven, checks that the decoded code hashes to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    /// The keccak256 code hash the anchor commits to, when it commits to
    /// one (a state proof does; a CID commits to the bytes themselves).
    pub code_hash: Option<B256>,
    /// What the bytes were proven against, for messages and metadata,
    /// e.g. "state root 0x… of block 19000000" or "CID bafk…".
    pub anchor: String,
}

/// What a loader produced: the bytes and what it declared about them.
#[derive(Debug)]
pub struct Fetched {
    /// The bytes written, as the source returned them (or as the loader
    /// converted them).
    pub bytes: Vec<u8>,
    /// How the bytes are encoded, when the loader knows; `None`: detect.
    pub encoding: Option<Encoding>,
    /// How the bytes are compressed, when the loader knows; `None`: detect.
    pub compression: Option<crate::bytecode::Compression>,
    /// The proof the loader checked, if any.
    pub attestation: Option<Attestation>,
    /// The code hash the source recorded beside the code (a store's row),
    /// checked against the code: a mismatch means a corrupt source.
    pub recorded_code_hash: Option<B256>,
}

/// Where a loader writes what it fetched. Bounded in size and time: a write
/// past the size cap fails with [`Error::TooLarge`], a write after the
/// deadline with [`Error::Timeout`], so a loader can stop early.
#[derive(Debug)]
pub struct Sink {
    buf: Vec<u8>,
    limit: usize,
    deadline: Option<Instant>,
    timeout_ms: u64,
    origin: String,
    failure: Option<Error>,
    encoding: Option<Encoding>,
    compression: Option<crate::bytecode::Compression>,
    attestation: Option<Attestation>,
    claims: SourceClaims,
}

/// What a source says about the code it wrote, beyond the bytes: a store
/// that keeps a code hash and a publisher's signature with each address
/// hands them to the pipeline here. The code hash is checked against the
/// code (a mismatch fails the load: the source is corrupt); the signature
/// goes to the signature stage as if the load had carried it, unless the
/// load carries its own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceClaims {
    /// keccak256 of the code, as the source recorded it.
    pub code_hash: Option<revm::primitives::B256>,
    /// A publisher's signature over the code hash, as the source stored it.
    pub signature: Option<crate::signing::Signature>,
}

impl Sink {
    /// A sink for bytes from `origin` (named in errors), holding at most
    /// `limit` bytes and accepting writes for `timeout_ms` (0 = forever).
    pub fn new(origin: &str, limit: usize, timeout_ms: u64) -> Sink {
        let deadline = (timeout_ms > 0)
            .then(|| Instant::now() + std::time::Duration::from_millis(timeout_ms));
        Sink {
            buf: Vec::new(),
            limit,
            deadline,
            timeout_ms,
            origin: origin.to_owned(),
            failure: None,
            encoding: None,
            compression: None,
            attestation: None,
            claims: SourceClaims::default(),
        }
    }

    /// Appends `data`. Fails, writing nothing, when the total would pass the
    /// size cap or the deadline has passed. A failure is remembered: the
    /// load fails with it even if the loader carries on and reports success,
    /// so a truncated write can never become code.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        let checked = self.check_deadline().and_then(|()| {
            if data.len() > self.remaining() {
                return Err(Error::TooLarge {
                    what: self.origin.clone(),
                    limit: self.limit as u64,
                    size: None,
                });
            }
            Ok(())
        });
        if let Err(e) = checked {
            self.failure = Some(e.clone());
            return Err(e);
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Declares how the bytes are encoded (a JSON-RPC loader writes raw code
    /// it decoded itself; an HTTP response's Content-Type may say). Without
    /// a declaration the decode stage detects the encoding from the content.
    pub fn declare_encoding(&mut self, encoding: Encoding) {
        self.encoding = Some(encoding);
    }

    /// Declares how the bytes are compressed (a source that knows, such as
    /// a file's extension or a response's content type). Without a
    /// declaration the decode stage detects gzip, zstd and LZ4 by their
    /// magic bytes.
    pub fn declare_compression(&mut self, compression: crate::bytecode::Compression) {
        self.compression = Some(compression);
    }

    /// Records that the loader proved the bytes against a trusted anchor.
    pub fn attest(&mut self, attestation: Attestation) {
        self.attestation = Some(attestation);
    }

    /// Discards what was written (not a sticky failure): for a loader that
    /// retries from the start after a partial response.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.encoding = None;
        self.compression = None;
        self.attestation = None;
        self.claims = SourceClaims::default();
    }

    /// What was written, or the first write failure. Also fails once the
    /// deadline has passed: a loader that overran its time limit produced
    /// nothing.
    pub fn finish(self) -> Result<Fetched> {
        match self.failure {
            Some(failure) => Err(failure),
            None => self.check_deadline().map(|()| Fetched {
                bytes: self.buf,
                encoding: self.encoding,
                compression: self.compression,
                attestation: self.attestation,
                recorded_code_hash: None,
            }),
        }
    }

    /// The time left before the deadline (`None`: no deadline), zero once
    /// it has passed: what a loader gives its own network timeouts.
    pub fn time_left(&self) -> Option<std::time::Duration> {
        self.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf
    }

    /// The origin named in errors (the URI being loaded).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// How many more bytes the sink accepts.
    pub fn remaining(&self) -> usize {
        self.limit - self.buf.len()
    }

    /// The size cap in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Fails with [`Error::Timeout`] once the deadline has passed.
    pub fn check_deadline(&self) -> Result<()> {
        match self.deadline {
            Some(deadline) if Instant::now() > deadline => Err(Error::Timeout {
                what: format!("loading {}", self.origin),
                limit_ms: self.timeout_ms,
            }),
            _ => Ok(()),
        }
    }

    /// Records what the source says about the code it writes (see
    /// [`SourceClaims`]); a later call replaces an earlier one.
    pub fn claim(&mut self, claims: SourceClaims) {
        self.claims = claims;
    }

    /// Takes the claims the loader recorded, leaving none.
    pub fn take_claims(&mut self) -> SourceClaims {
        std::mem::take(&mut self.claims)
    }
}

/// A source of code. Implementations must be thread-safe: one loader serves
/// every thread, several fetches at once.
pub trait Loader: Send + Sync {
    /// The kind of source, recorded as the bytecode's load method.
    fn kind(&self) -> LoaderType;

    /// Fetches the code `request` names into `sink`, raw or hex-encoded.
    /// Returns [`Error::NotFound`] when the source knows nothing at that
    /// place (a missing account), and writes nothing and returns `Ok` when
    /// the account is known but has no code.
    fn fetch(&self, request: &Request<'_>, sink: &mut Sink) -> Result<()>;
}

/// A [`Loader`] from a closure, for hosts and tests written in Rust.
pub struct FnLoader<F> {
    kind: LoaderType,
    fetch: F,
}

impl<F> FnLoader<F>
where
    F: Fn(&Request<'_>, &mut Sink) -> Result<()> + Send + Sync,
{
    /// A loader of `kind` that runs `fetch`.
    pub fn new(kind: LoaderType, fetch: F) -> FnLoader<F> {
        FnLoader { kind, fetch }
    }
}

impl<F> Loader for FnLoader<F>
where
    F: Fn(&Request<'_>, &mut Sink) -> Result<()> + Send + Sync,
{
    fn kind(&self) -> LoaderType {
        self.kind
    }

    fn fetch(&self, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
        (self.fetch)(request, sink)
    }
}

/// The host a URI location names (`//[user@]host[:port]/...`), if any.
pub fn host_of(location: &str) -> Option<&str> {
    let authority = location.strip_prefix("//")?;
    let authority = &authority[..authority.find(['/', '?', '#']).unwrap_or(authority.len())];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = if host.starts_with('[') {
        &host[..host.find(']').map_or(host.len(), |i| i + 1)]
    } else {
        host.split(':').next().unwrap_or(host)
    };
    (!host.is_empty()).then_some(host)
}

/// `uri` with the password of its `//user:password@host` part, if any,
/// replaced by `***`: what messages and metadata show.
pub fn redact_password(uri: &str) -> String {
    let Some((scheme, location)) = split_scheme(uri) else { return uri.to_owned() };
    let Some(authority_and_rest) = location.strip_prefix("//") else { return uri.to_owned() };
    let authority_end = authority_and_rest.find(['/', '?', '#']).unwrap_or(authority_and_rest.len());
    let authority = &authority_and_rest[..authority_end];
    let Some(at) = authority.rfind('@') else { return uri.to_owned() };
    let Some(colon) = authority[..at].find(':') else { return uri.to_owned() };
    let prefix = &uri[..uri.len() - location.len()];
    debug_assert!(prefix.to_ascii_lowercase().starts_with(&scheme));
    format!("{prefix}//{}:***{}", &authority[..colon], &authority_and_rest[at..])
}

/// Splits `uri` into its scheme (lower-cased) and the rest. A string
/// without a scheme (no `:`, or characters a scheme cannot have before it)
/// is a file path and yields `None`. One-letter schemes are treated as
/// paths too (Windows drive letters).
pub fn split_scheme(uri: &str) -> Option<(String, &str)> {
    let colon = uri.find(':')?;
    let scheme = &uri[..colon];
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok && scheme.len() > 1).then(|| (scheme.to_ascii_lowercase(), &uri[colon + 1..]))
}

/// The scheme → loader table of one manager.
pub struct Registry {
    loaders: RwLock<HashMap<String, Arc<dyn Loader>>>,
}

impl Registry {
    /// A registry with the built-in loaders: `file`, `memory` under `mem`,
    /// the SQLite store under `sqlite` and PostgreSQL under `postgres` and
    /// `postgresql`.
    pub fn new(memory: Arc<MemoryLoader>) -> Registry {
        Registry::with_file_loader(FileLoader::default(), memory)
    }

    /// As [`Registry::new`], with a configured file loader, whose roots
    /// also confine the paths of `sqlite:` stores.
    pub fn with_file_loader(file: FileLoader, memory: Arc<MemoryLoader>) -> Registry {
        let mut loaders: HashMap<String, Arc<dyn Loader>> = HashMap::new();
        loaders.insert("file".into(), Arc::new(file.clone()));
        loaders.insert("mem".into(), memory);
        loaders.insert("sqlite".into(), Arc::new(SqliteLoader::new(file)));
        let postgres: Arc<dyn Loader> = Arc::new(PostgresLoader::default());
        loaders.insert("postgres".into(), postgres.clone());
        loaders.insert("postgresql".into(), postgres);
        Registry { loaders: RwLock::new(loaders) }
    }

    /// Routes `scheme` to `loader`, replacing (and dropping) any loader
    /// registered for it before. Schemes are case-insensitive.
    pub fn register(&self, scheme: &str, loader: Arc<dyn Loader>) -> Result<()> {
        let valid = split_scheme(&format!("{scheme}:")).is_some_and(|(s, _)| s.len() == scheme.len());
        if !valid {
            return Err(Error::InvalidArgument(format!(
                "{scheme:?} is not a URI scheme (a letter, then letters, digits, '+', '-', '.'; \
                 at least two characters)"
            )));
        }
        let old = self.loaders.write().insert(scheme.to_ascii_lowercase(), loader);
        drop(old); // outside the lock: a host's free function may take its time
        Ok(())
    }

    /// The loader for `uri` and the location it should read. With
    /// `explicit`, the loader of that kind is used whatever the scheme says.
    pub fn resolve<'u>(
        &self,
        uri: &'u str,
        explicit: Option<LoaderType>,
    ) -> Result<(Arc<dyn Loader>, &'u str)> {
        let (scheme, location) = match split_scheme(uri) {
            Some((scheme, rest)) => (scheme, rest),
            // `/ipfs/<cid>` is the IPFS path form, not a file.
            None if uri.starts_with("/ipfs/") => ("ipfs".to_owned(), uri),
            None => ("file".to_owned(), uri),
        };
        let loaders = self.loaders.read();
        if let Some(kind) = explicit {
            let by_scheme = loaders.get(&scheme).filter(|l| l.kind() == kind);
            let loader = by_scheme.or_else(|| loaders.values().find(|l| l.kind() == kind));
            return match loader {
                Some(loader) if by_scheme.is_some() => Ok((loader.clone(), location)),
                Some(loader) => Ok((loader.clone(), uri)),
                None => Err(Error::LoaderNotFound(format!(
                    "no {} loader is registered (for {uri})",
                    kind.name()
                ))),
            };
        }
        match loaders.get(&scheme) {
            Some(loader) => Ok((loader.clone(), location)),
            None => Err(Error::LoaderNotFound(format!("unknown URI scheme {scheme:?} in {uri}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_paths_are_told_apart() {
        assert_eq!(split_scheme("file:/a/b"), Some(("file".into(), "/a/b")));
        assert_eq!(split_scheme("JSONRPC+HTTP://h:1"), Some(("jsonrpc+http".into(), "//h:1")));
        assert_eq!(split_scheme("/abs/path:with/colon"), None);
        assert_eq!(split_scheme("relative/path.hex"), None);
        assert_eq!(split_scheme("c:\\x"), None);
        assert_eq!(split_scheme("./x:y"), None);
    }

    #[test]
    fn passwords_are_hidden_from_what_is_shown() {
        assert_eq!(redact_password("postgres://ebc:s3cret@127.0.0.1:5432/code"), "postgres://ebc:***@127.0.0.1:5432/code");
        assert_eq!(redact_password("https://user:pw@h/x?y=1"), "https://user:***@h/x?y=1");
        assert_eq!(redact_password("postgres://ebc@127.0.0.1/db"), "postgres://ebc@127.0.0.1/db");
        assert_eq!(redact_password("/path/with:colon@x"), "/path/with:colon@x");
        assert_eq!(redact_password("http://h/a:b@c"), "http://h/a:b@c");
    }

    #[test]
    fn hosts_are_read_from_authorities() {
        assert_eq!(host_of("//node.example:8545/rpc"), Some("node.example"));
        assert_eq!(host_of("//user:pw@10.0.0.1/x"), Some("10.0.0.1"));
        assert_eq!(host_of("//[::1]:8545"), Some("[::1]"));
        assert_eq!(host_of("/abs/path"), None);
        assert_eq!(host_of("///abs"), None);
    }

    #[test]
    fn sink_refuses_past_its_cap_and_the_refusal_sticks() {
        let mut sink = Sink::new("mem:x", 4, 0);
        sink.write(&[1, 2, 3]).unwrap();
        let err = sink.write(&[4, 5]).unwrap_err();
        assert_eq!(err.to_string(), "mem:x is too large: more than the limit of 4 bytes");
        assert_eq!(sink.write(&[4]).unwrap_err(), err, "the failure sticks");
        assert_eq!(sink.finish().unwrap_err(), err);
    }

    #[test]
    fn unknown_scheme_is_loader_not_found() {
        let registry = Registry::new(Arc::new(MemoryLoader::default()));
        let err = registry.resolve("nope:x", None).err().unwrap();
        assert_eq!(err.status(), crate::Status::LoaderNotFound);
        assert!(err.to_string().contains("\"nope\""), "{err}");
    }

    #[test]
    fn an_explicit_type_picks_its_loader() {
        let registry = Registry::new(Arc::new(MemoryLoader::default()));
        let (loader, location) = registry.resolve("weth", Some(LoaderType::Memory)).unwrap();
        assert_eq!((loader.kind(), location), (LoaderType::Memory, "weth"));
        let err = registry.resolve("x", Some(LoaderType::Ipfs)).err().unwrap();
        assert_eq!(err.status(), crate::Status::LoaderNotFound);
    }
}
