//! [`Manager`]: the load pipeline, wired together.
//!
//! ```text
//! load(address, uri?) ─► cache ─miss─► single-flight ─► source ─► decode
//!   ─► integrity ─► verification ─► security context ─► cache insert
//! ```
//! Each stage lives in its own module; this one only connects them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Condvar, Mutex};
use revm::primitives::{Address, B256};

use crate::absent::AbsentAccounts;
use crate::bytecode::{Code, ExternalBytecode, Metadata};
use crate::cache::{Cache, CacheStats};
use crate::codec;
use crate::config::{Config, SecurityLevel};
use crate::error::{Error, Result};
use crate::integrity::{self, Digests};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::security::{Provenance, SecurityContext, TrustLevel};
use crate::signing::{Publisher, Signature, TrustStore};
use crate::source::redact_password;
use crate::source::http::{HttpClient, HttpLoader, HttpOptions};
use crate::source::ipfs::IpfsLoader;
use crate::source::jsonrpc::JsonRpcLoader;
use crate::source::{
    Attestation, Fetched, FileLoader, Loader, LoaderType, MemoryLoader, Registry, Request, Sink, host_of,
};
use crate::verify;

/// Per-load choices. `Default` gives a plain load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The code must hash to this (keccak256) or the load fails with
    /// [`Error::ChecksumMismatch`]. Checked on cache hits too.
    pub expected_code_hash: Option<B256>,
    /// The code's SHA-256 must be this.
    pub expected_sha256: Option<[u8; 32]>,
    /// Overrides the configuration's `loader_timeout_ms` (0 = none).
    pub timeout_ms: Option<u64>,
    /// Fetch from the source even when the address is cached, and replace
    /// the cached entry.
    pub reload: bool,
    /// Use the loader of this kind instead of choosing by URI scheme.
    pub loader_type: Option<LoaderType>,
    /// A publisher's signature over the code hash, checked against the
    /// trust store. Required at Strict and Paranoid and when code signing
    /// is enabled.
    pub signature: Option<Signature>,
    /// A state root the caller trusts for this load (with the URI's
    /// `block=`): JSON-RPC sources prove the account against it and the
    /// code against the proven code hash.
    pub state_root: Option<B256>,
}

/// How urgently a preloaded address is wanted: higher priorities are
/// loaded first.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Needed before anything else (system contracts, the hottest code).
    Critical = 0,
    /// Wanted soon.
    High = 1,
    /// The default.
    Normal = 2,
    /// When there is time.
    Low = 3,
}

/// One address to preload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreloadItem {
    /// The account.
    pub address: Address,
    /// Where its code is; `None` for the default source.
    pub uri: Option<String>,
    /// How urgently it is wanted.
    pub priority: Priority,
}

/// A snapshot of one cached address, as [`Manager::info`] returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct BytecodeInfo {
    /// The account.
    pub address: Address,
    /// keccak256 of the code.
    pub code_hash: B256,
    /// Code size in bytes.
    pub size: usize,
    /// JUMPDEST count.
    pub jumpdest_count: usize,
    /// Where verification left the code.
    pub verification_status: verify::VerificationStatus,
    /// Number of recorded findings.
    pub findings: usize,
    /// The URI it was loaded from.
    pub source_uri: String,
    /// The kind of source.
    pub load_method: LoaderType,
    /// Accesses so far.
    pub access_count: u64,
}

/// Verifies host-held `bytes` (raw code or hex text) at `level` and `fork`
/// with a size limit of `max_code_size` bytes, as a manager of that level
/// would, without a manager or a cache: the result carries the hashes,
/// analysis, findings and capabilities. Strict and Paranoid fail with
/// [`Error::SignatureInvalid`]: there is no signature or trust store here.
pub fn verify_code(
    bytes: &[u8],
    level: SecurityLevel,
    fork: verify::Fork,
    max_code_size: usize,
) -> Result<Arc<ExternalBytecode>> {
    let config = Config {
        security_level: level,
        fork,
        max_contract_size: max_code_size,
        cache_strategy: crate::config::CacheStrategy::None,
        ..Config::development()
    };
    Manager::new(config)?.verify_bytes(&Address::ZERO, bytes, &LoadOptions::default())
}

/// One origin fetch in progress, which concurrent loads of the same address
/// wait for instead of fetching again.
#[derive(Default)]
struct Flight {
    result: Mutex<Option<Result<Arc<ExternalBytecode>>>>,
    done: Condvar,
}

impl Flight {
    fn finish(&self, result: Result<Arc<ExternalBytecode>>) {
        *self.result.lock() = Some(result);
        self.done.notify_all();
    }

    fn wait(&self, limit: Option<Duration>, address: &Address) -> Result<Arc<ExternalBytecode>> {
        let mut result = self.result.lock();
        let deadline = limit.map(|l| Instant::now() + l);
        while result.is_none() {
            match deadline {
                Some(d) => {
                    if self.done.wait_until(&mut result, d).timed_out() && result.is_none() {
                        return Err(Error::Timeout {
                            what: format!("waiting for a concurrent load of {address}"),
                            limit_ms: limit.map_or(0, |l| l.as_millis() as u64),
                        });
                    }
                }
                None => self.done.wait(&mut result),
            }
        }
        result.clone().expect("checked above")
    }
}

/// Removes the flight from the table and wakes its waiters, also when the
/// leader unwinds from a panic in a loader.
struct FlightGuard<'a> {
    manager: &'a Manager,
    address: Address,
    flight: Arc<Flight>,
    result: Option<Result<Arc<ExternalBytecode>>>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let result = self.result.take().unwrap_or_else(|| {
            Err(Error::Panic(format!("the loader for {} panicked", self.address)))
        });
        // The entry is in the cache (on success) before the flight leaves
        // the table, so a caller that misses the flight finds the cache.
        self.manager.inflight.lock().remove(&self.address);
        self.flight.finish(result);
    }
}

/// External bytecode management: loads, proves, verifies, caches and hands
/// out code. `Send + Sync`: share one manager between all threads.
///
/// # Examples
/// ```
/// use ebc::{Config, LoadOptions, Manager};
/// let manager = Manager::new(Config::testing()).unwrap();
/// manager.put_memory("proxy", b"0x363d3d373d3d3d363d73");
/// let address = ebc::Address::repeat_byte(0x11);
/// let code = manager.load(&address, Some("mem:proxy"), &LoadOptions::default()).unwrap();
/// assert_eq!(code.code().len(), 10);
/// assert!(manager.get(&address).is_some());
/// ```
pub struct Manager {
    config: Config,
    cache: Cache,
    sources: Registry,
    memory: Arc<MemoryLoader>,
    inflight: Mutex<HashMap<Address, Arc<Flight>>>,
    /// The default source's recent "no code here" answers.
    absent: AbsentAccounts,
    trust_store: parking_lot::RwLock<TrustStore>,
    metrics: Metrics,
}

impl Manager {
    /// A manager for `config`, which is validated first.
    pub fn new(config: Config) -> Result<Manager> {
        config.validate()?;
        let memory = Arc::new(MemoryLoader::default());
        let file = if config.security_level >= SecurityLevel::Standard {
            FileLoader::confined_to(&config.allowed_file_roots)?
        } else {
            FileLoader::default()
        };
        let sources = Registry::with_file_loader(file.clone(), memory.clone());
        let http = Arc::new(HttpClient::new(HttpOptions {
            headers: config.http_headers.clone(),
            retries: config.http_retries,
            ..HttpOptions::default()
        }));
        let web: Arc<dyn Loader> = Arc::new(HttpLoader::from_client(http.clone()));
        sources.register("http", web.clone())?;
        sources.register("https", web)?;
        let ipfs: Arc<dyn Loader> = Arc::new(IpfsLoader::new(http.clone(), config.ipfs_gateways.clone(), file));
        sources.register("ipfs", ipfs.clone())?;
        sources.register("car", ipfs)?;
        let rpc: Arc<dyn Loader> =
            Arc::new(JsonRpcLoader::new(http, config.rpc_endpoints.clone(), config.trusted_state));
        for scheme in ["jsonrpc", "jsonrpc+http", "jsonrpc+https"] {
            sources.register(scheme, rpc.clone())?;
        }
        Ok(Manager {
            cache: Cache::new(&config)?,
            sources,
            memory,
            inflight: Mutex::new(HashMap::new()),
            absent: AbsentAccounts::new(config.absent_ttl_ms, config.max_cached_contracts.max(1024)),
            trust_store: parking_lot::RwLock::new(TrustStore::default()),
            metrics: Metrics::default(),
            config,
        })
    }

    /// The configuration the manager runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The code of `address`: from the cache, or fetched from `uri` (the
    /// default source when `None`), decoded, checked and cached.
    ///
    /// # Concurrent calls on the same address
    /// Only one caller fetches; the others wait for its result, success or
    /// error, for at most the load's timeout. A failed load is never cached.
    pub fn load(
        &self,
        address: &Address,
        uri: Option<&str>,
        options: &LoadOptions,
    ) -> Result<Arc<ExternalBytecode>> {
        if !self.config.enable_external_bytecode {
            return Err(Error::Disabled);
        }
        if !options.reload {
            if let Some(hit) = self.cache.get(address) {
                // The cache counted the access.
                return self.checked(hit, options);
            }
        }
        if uri.is_none() && !self.config.enable_lazy_loading {
            return Err(Error::NotFound(format!(
                "{address} is not cached and lazy loading is disabled; preload it or give a URI"
            )));
        }
        if uri.is_none() && !options.reload {
            if let Some(answer) = self.absent.recall(address) {
                return Err(answer);
            }
        }
        let flight = {
            let mut inflight = self.inflight.lock();
            if !options.reload {
                if let Some(hit) = self.cache.peek(address) {
                    return self.hand_out(hit, options);
                }
            }
            match inflight.get(address) {
                Some(flight) => Err(flight.clone()),
                None => {
                    let flight = Arc::new(Flight::default());
                    inflight.insert(*address, flight.clone());
                    Ok(flight)
                }
            }
        };
        match flight {
            Ok(flight) => {
                let mut guard = FlightGuard { manager: self, address: *address, flight, result: None };
                let result = self.fetch(address, uri, options);
                match &result {
                    Ok(code) => {
                        self.cache.insert(code.clone());
                        self.absent.forget(address);
                    }
                    Err(e) => {
                        self.metrics.record_failure();
                        if uri.is_none() {
                            self.absent.remember(address, e);
                        }
                    }
                }
                guard.result = Some(result.clone());
                drop(guard);
                result.and_then(|code| self.hand_out(code, options))
            }
            Err(flight) => {
                let limit = self.timeout_ms(options);
                let wait = (limit > 0).then(|| Duration::from_millis(limit.saturating_mul(2)));
                let code = flight.wait(wait, address)?;
                self.hand_out(code, options)
            }
        }
    }

    /// Checks a found entry against the caller's expectations and counts the access.
    fn hand_out(&self, code: Arc<ExternalBytecode>, options: &LoadOptions) -> Result<Arc<ExternalBytecode>> {
        let code = self.checked(code, options)?;
        code.touch();
        Ok(code)
    }

    /// Checks a found entry against the caller's expectations.
    fn checked(&self, code: Arc<ExternalBytecode>, options: &LoadOptions) -> Result<Arc<ExternalBytecode>> {
        if self.config.security_level == SecurityLevel::Paranoid {
            let now = Digests::of(code.code()).code_hash;
            integrity::expect_code_hash(Some(&code.code_hash()), &now)
                .map_err(|e| Error::SecurityViolation(format!("cached code of {} changed: {e}", code.address())))?;
        }
        integrity::expect_code_hash(options.expected_code_hash.as_ref(), &code.code_hash())?;
        if options.expected_sha256.is_some() {
            integrity::expect_sha256(options.expected_sha256.as_ref(), &code.sha256())?;
        }
        Ok(code)
    }

    fn timeout_ms(&self, options: &LoadOptions) -> u64 {
        options.timeout_ms.unwrap_or(self.config.loader_timeout_ms)
    }

    /// The URI to load `address` from: the given one, or the default source.
    fn resolve_uri(&self, address: &Address, uri: Option<&str>) -> Result<String> {
        let uri = match uri {
            Some(uri) => uri.to_owned(),
            None => match &self.config.default_source {
                Some(template) => template.replace("{address}", &format!("{address:#x}")),
                None => {
                    return Err(Error::LoaderNotFound(format!(
                        "no URI given for {address} and no default source configured"
                    )));
                }
            },
        };
        if uri.is_empty() {
            return Err(Error::InvalidArgument("empty URI".into()));
        }
        if uri.contains('\0') {
            return Err(Error::InvalidArgument(format!("URI {:?} contains a NUL byte", uri)));
        }
        Ok(uri)
    }

    /// The pipeline below the cache: source, decode, integrity, verification,
    /// security context.
    fn fetch(
        &self,
        address: &Address,
        uri: Option<&str>,
        options: &LoadOptions,
    ) -> Result<Arc<ExternalBytecode>> {
        let started = Instant::now();
        let uri = self.resolve_uri(address, uri)?;
        // `#Name` selects a contract in a compiler artifact; the source
        // never sees it.
        let source_uri = uri.split_once('#').map_or(uri.as_str(), |(source, _)| source);
        let (loader, location) = self.sources.resolve(source_uri, options.loader_type)?;
        self.check_host(&uri, location, loader.kind())?;
        let timeout_ms = self.timeout_ms(options);
        // Messages and metadata show the URI without its password.
        let shown = redact_password(&uri);
        let mut sink = Sink::new(&shown, self.config.effective_max_source_size(), timeout_ms);
        let request = Request { address, uri: source_uri, location, timeout_ms, state_root: options.state_root };
        loader.fetch(&request, &mut sink).map_err(|e| e.with_context(&shown))?;
        let claims = sink.take_claims();
        let mut fetched = sink.finish()?;
        fetched.recorded_code_hash = claims.code_hash;
        let with_stored_signature;
        let options = match claims.signature {
            Some(signature) if options.signature.is_none() => {
                with_stored_signature = LoadOptions { signature: Some(signature), ..options.clone() };
                &with_stored_signature
            }
            _ => options,
        };
        self.ingest(address, fetched, shown, loader.kind(), options, started)
    }

    /// The stages after the source: decode, integrity, signature,
    /// verification, security context. Does not cache.
    fn ingest(
        &self,
        address: &Address,
        fetched: Fetched,
        uri: String,
        source: LoaderType,
        options: &LoadOptions,
        started: Instant,
    ) -> Result<Arc<ExternalBytecode>> {
        let max_code = self.config.effective_max_code_size();
        let Fetched { bytes: raw, encoding, compression, attestation, recorded_code_hash } = fetched;
        let original_size = raw.len();
        let decode = codec::DecodeOptions {
            max_decompressed: self.config.effective_max_source_size(),
            declared: compression,
            encoding,
            contract: uri.split_once('#').map(|(_, contract)| contract).filter(|c| !c.is_empty()),
        };
        let codec::Decoded { code, compression, compression_ratio } = codec::decode_source(raw, &uri, &decode)?;
        if code.is_empty() {
            return Err(Error::NoCode(format!("{uri}: the source returned no code for {address}")));
        }
        if code.len() > max_code {
            return Err(Error::TooLarge {
                what: format!("code from {uri}"),
                limit: max_code as u64,
                size: Some(code.len() as u64),
            });
        }

        let digests = Digests::of(&code);
        integrity::expect_code_hash(options.expected_code_hash.as_ref(), &digests.code_hash)
            .map_err(|e| e.with_context(&uri))?;
        integrity::expect_sha256(options.expected_sha256.as_ref(), &digests.sha256)?;
        if let Some(Attestation { code_hash: Some(proven), .. }) = &attestation {
            integrity::expect_code_hash(Some(proven), &digests.code_hash)?;
        }
        // The source's own record of the hash: a mismatch means the store
        // is corrupt, and the load fails before any further work.
        if let Some(recorded) = recorded_code_hash.filter(|recorded| *recorded != digests.code_hash) {
            return Err(Error::ChecksumMismatch {
                algorithm: "keccak256 (the code hash the source recorded)",
                expected: format!("{recorded:#x}"),
                actual: format!("{:#x}", digests.code_hash),
            });
        }

        let proven = attestation.is_some();
        let signed = self.check_signature(&uri, &digests.code_hash, options.signature.as_ref(), proven)?;

        let shared = match self.cache.code(&digests.code_hash) {
            Some(shared) => shared,
            None => Arc::new(self.verify(code, digests, &uri)?),
        };
        let provenance = Provenance {
            source,
            hash_checked: options.expected_code_hash.is_some() || options.expected_sha256.is_some(),
            proven,
            signed,
        };
        let security = SecurityContext::assess(self.config.security_level, provenance);
        if self.config.security_level == SecurityLevel::Paranoid {
            security.admit(shared.report().inspection.capabilities).map_err(|e| e.with_context(&uri))?;
        }
        let metadata = Metadata {
            version: options.signature.as_ref().map(|s| s.version.clone()),
            source_uri: uri,
            signature: options.signature.as_ref().map(|s| s.bytes.clone()),
            compression,
            compression_ratio,
            original_size,
            load_method: source,
            loaded_at: SystemTime::now(),
        };
        let bytes = shared.bytes().len();
        let bytecode = Arc::new(ExternalBytecode::new(*address, shared, metadata, security));
        self.metrics.record_load(bytes, started.elapsed());
        Ok(bytecode)
    }

    /// Runs `bytes` (raw code or hex text) through every stage after the
    /// source, as if loaded for `address` from the host's memory, without
    /// caching it: for hosts that hold code themselves and want it checked.
    pub fn verify_bytes(
        &self,
        address: &Address,
        bytes: &[u8],
        options: &LoadOptions,
    ) -> Result<Arc<ExternalBytecode>> {
        if bytes.len() > codec::max_encoded_len(self.config.effective_max_code_size()) {
            return Err(Error::TooLarge {
                what: "code given for verification".into(),
                limit: self.config.effective_max_code_size() as u64,
                size: Some(bytes.len() as u64),
            });
        }
        let uri = "(bytes)".to_owned();
        let fetched = Fetched {
            bytes: bytes.to_vec(),
            encoding: None,
            compression: None,
            attestation: None,
            recorded_code_hash: None,
        };
        let result = self.ingest(address, fetched, uri, LoaderType::Memory, options, Instant::now());
        if result.is_err() {
            self.metrics.record_failure();
        }
        result
    }

    /// Analyses `code` and applies the level's policy.
    fn verify(&self, code: Vec<u8>, digests: Digests, uri: &str) -> Result<Code> {
        let report = verify::verify(
            &code,
            self.config.security_level,
            self.config.fork,
            self.config.effective_max_code_size(),
            self.config.enable_bytecode_verification,
        );
        if self.config.enable_bytecode_verification {
            self.metrics.record_verification(report.is_ok());
        }
        let report = report.map_err(|e| e.with_context(uri))?;
        Ok(Code::new(digests.code_hash, digests.sha256, report))
    }

    /// The signature stage: checks a supplied signature against the trust
    /// store and returns the trust it grants. Strict, Paranoid and enabled
    /// code signing require one: provenance, a trusted signature over the
    /// code hash. At None a signature is ignored.
    fn check_signature(
        &self,
        uri: &str,
        code_hash: &B256,
        signature: Option<&Signature>,
        proven: bool,
    ) -> Result<Option<TrustLevel>> {
        let level = self.config.security_level;
        if level == SecurityLevel::None {
            return Ok(None);
        }
        let strict_unproven = level >= SecurityLevel::Strict && !proven;
        match signature {
            Some(signature) => {
                let store = self.trust_store.read();
                let publisher = store.verify(code_hash, signature).map_err(|e| e.with_context(uri))?;
                Ok(Some(publisher.trust))
            }
            None if strict_unproven || self.config.enable_code_signing => {
                let demand = if self.config.enable_code_signing {
                    "code signing requires a trusted publisher's signature"
                } else {
                    "requires a trusted publisher's signature or a proof against a trusted anchor"
                };
                Err(Error::SignatureInvalid(format!(
                    "{uri}: {} {demand} over code hash {code_hash:#x}, and the load carries neither",
                    level.name()
                )))
            }
            None => Ok(None),
        }
    }

    /// From Standard up, a URI naming a host must name an allowed one.
    /// Files and IPFS content are exempt: an `ipfs://` URI names a CID, not
    /// a host, and its gateways are the operator's own configuration.
    fn check_host(&self, uri: &str, location: &str, kind: LoaderType) -> Result<()> {
        let hosts = &self.config.allowed_hosts;
        if self.config.security_level < SecurityLevel::Standard || hosts.is_empty() || matches!(kind, LoaderType::FileSystem | LoaderType::Ipfs) {
            return Ok(());
        }
        match host_of(location) {
            Some(host) if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) => Err(Error::SecurityViolation(
                format!("{uri}: host {host} is not in the allowed hosts"),
            )),
            _ => Ok(()),
        }
    }

    /// Trusts signatures by `publisher`'s Ed25519 `public_key`.
    pub fn trust_ed25519(&self, public_key: [u8; 32], publisher: Publisher) -> Result<()> {
        self.trust_store.write().add_ed25519(public_key, publisher)
    }

    /// Trusts EIP-191 signatures that recover to `address`.
    pub fn trust_ethereum(&self, address: Address, publisher: Publisher) {
        self.trust_store.write().add_ethereum(address, publisher);
    }

    /// The cached code of `address`, if any; never fetches. Counts as a hit
    /// or a miss. Threads on different lanes get copies of their own that
    /// answer alike (see [`ExternalBytecode`]): compare by code hash, not
    /// with `Arc::ptr_eq`.
    pub fn get(&self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        if !self.config.enable_external_bytecode {
            return None;
        }
        // The cache counts the access.
        self.cache.get(address)
    }

    /// A number that changes whenever code enters the cache. A miss of
    /// [`Manager::get`] taken while it read `n` still stands while it reads
    /// `n`: callers that ask about the same accounts over and over (the
    /// lazy database, for senders and other accounts without code) remember
    /// the miss instead of asking again.
    #[inline]
    pub fn cache_insertions(&self) -> u64 {
        self.cache.insertions()
    }

    /// Removes `address` from the cache. References already handed out stay
    /// valid. [`Error::NotFound`] when it was not cached.
    pub fn unload(&self, address: &Address) -> Result<()> {
        match self.cache.remove(address) {
            Some(_) => {
                self.metrics.record_unload();
                Ok(())
            }
            None => Err(Error::NotFound(format!("{address} is not cached"))),
        }
    }

    /// Loads every `(address, uri)` pair at normal priority on a pool of up
    /// to four worker threads; see [`Manager::preload_items`].
    pub fn preload(&self, items: &[(Address, Option<String>)]) -> Vec<Result<Arc<ExternalBytecode>>> {
        let items: Vec<PreloadItem> = items
            .iter()
            .map(|(address, uri)| PreloadItem { address: *address, uri: uri.clone(), priority: Priority::Normal })
            .collect();
        self.preload_items(&items, 4)
    }

    /// Loads `items` on a pool of at most `workers` threads (1 to 64), the
    /// higher priorities first, and returns one result per item in the
    /// order given. A failure is reported in its slot and never stops the
    /// rest. Returns when every item is done.
    pub fn preload_items(&self, items: &[PreloadItem], workers: usize) -> Vec<Result<Arc<ExternalBytecode>>> {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by_key(|&i| items[i].priority);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<Mutex<Option<Result<Arc<ExternalBytecode>>>>> =
            items.iter().map(|_| Mutex::new(None)).collect();
        let options = LoadOptions::default();
        let work = || {
            loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                let item = &items[i];
                *results[i].lock() = Some(self.load(&item.address, item.uri.as_deref(), &options));
            }
        };
        let threads = workers.clamp(1, 64).min(items.len().max(1));
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(work);
            }
            work();
        });
        results
            .into_iter()
            .map(|r| r.into_inner().unwrap_or_else(|| Err(Error::Panic("a preload worker panicked".into()))))
            .collect()
    }

    /// Routes URIs with `scheme` to `loader`. A loader registered before for
    /// the scheme is dropped once no load uses it any more.
    pub fn register_loader(&self, scheme: &str, loader: Arc<dyn Loader>) -> Result<()> {
        self.sources.register(scheme, loader)
    }

    /// Stores `bytes` (raw code or hex text) as the entry `mem:<name>`.
    pub fn put_memory(&self, name: &str, bytes: &[u8]) {
        self.memory.insert(name, bytes);
    }

    /// Removes the entry `mem:<name>`; true if there was one.
    pub fn remove_memory(&self, name: &str) -> bool {
        self.memory.remove(name)
    }

    /// What the cache knows about `address`, without counting an access.
    pub fn info(&self, address: &Address) -> Option<BytecodeInfo> {
        let b = self.cache.peek(address)?;
        Some(BytecodeInfo {
            address: b.address(),
            code_hash: b.code_hash(),
            size: b.code().len(),
            jumpdest_count: b.jumpdest_count(),
            verification_status: b.verification_status(),
            findings: b.findings().len(),
            source_uri: b.metadata().source_uri.clone(),
            load_method: b.metadata().load_method,
            access_count: b.access_count(),
        })
    }

    /// Drops cache entries that must no longer be served and frees spare
    /// memory; returns how many entries went.
    pub fn compact(&self) -> usize {
        self.cache.compact()
    }

    /// Empties the cache.
    pub fn clear(&self) {
        self.cache.clear();
    }

    /// The cache's counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The performance counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// The performance counters and cache statistics as Prometheus text.
    pub fn metrics_prometheus(&self) -> String {
        crate::metrics::prometheus(&self.metrics.snapshot(), &self.cache.stats())
    }
}
