//! Configuration of a [`Manager`](crate::Manager): presets and every knob.

use crate::error::{Error, Result};
use crate::verify::Fork;

/// How the cache chooses what to keep when it is full.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheStrategy {
    /// Nothing is cached; every load goes to the source.
    None = 0,
    /// Least recently used is evicted first.
    Lru = 1,
    /// Least frequently used is evicted first; counts are halved as they age.
    Lfu = 2,
    /// Least recently used, and every entry expires after `cache_ttl_ms`.
    Ttl = 3,
    /// Adapts between recency and frequency to the workload.
    Adaptive = 4,
}

impl CacheStrategy {
    /// The strategy with this C number.
    pub fn from_u32(value: u32) -> Result<CacheStrategy> {
        Ok(match value {
            0 => CacheStrategy::None,
            1 => CacheStrategy::Lru,
            2 => CacheStrategy::Lfu,
            3 => CacheStrategy::Ttl,
            4 => CacheStrategy::Adaptive,
            _ => return Err(Error::InvalidArgument(format!("unknown cache strategy {value}"))),
        })
    }
}

/// How much ebc demands of code before handing it out. See DESIGN.md.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecurityLevel {
    /// Hard size cap only; for development.
    None = 0,
    /// Size limit, expected hashes, EIP-7702 form, no other 0xEF-prefixed code.
    Basic = 1,
    /// Basic, plus full analysis recorded as findings and source allowlists.
    Standard = 2,
    /// Standard, plus provenance: a trusted signature or a proven code hash.
    Strict = 3,
    /// Strict, plus the static capability policy and a re-check on every access.
    Paranoid = 4,
}

impl SecurityLevel {
    /// The level with this C number.
    pub fn from_u32(value: u32) -> Result<SecurityLevel> {
        Ok(match value {
            0 => SecurityLevel::None,
            1 => SecurityLevel::Basic,
            2 => SecurityLevel::Standard,
            3 => SecurityLevel::Strict,
            4 => SecurityLevel::Paranoid,
            _ => return Err(Error::InvalidArgument(format!("unknown security level {value}"))),
        })
    }

    /// The level's name in lower case, as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            SecurityLevel::None => "none",
            SecurityLevel::Basic => "basic",
            SecurityLevel::Standard => "standard",
            SecurityLevel::Strict => "strict",
            SecurityLevel::Paranoid => "paranoid",
        }
    }
}

/// A named starting point for a [`Config`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// [`Config::production`].
    Production = 0,
    /// [`Config::development`].
    Development = 1,
    /// [`Config::testing`].
    Testing = 2,
}

impl Preset {
    /// The preset with this C number.
    pub fn from_u32(value: u32) -> Result<Preset> {
        Ok(match value {
            0 => Preset::Production,
            1 => Preset::Development,
            2 => Preset::Testing,
            _ => return Err(Error::InvalidArgument(format!("unknown preset {value}"))),
        })
    }

    /// The configuration this preset stands for.
    pub fn config(self) -> Config {
        match self {
            Preset::Production => Config::production(),
            Preset::Development => Config::development(),
            Preset::Testing => Config::testing(),
        }
    }
}

/// The EIP-170 limit on deployed code size, in bytes.
pub const EIP170_MAX_CODE_SIZE: usize = 24_576;

/// The absolute ceiling on code size, whatever the configuration says: EIP-7907
/// raises the deployable limit, and nothing larger is accepted at any level.
pub const HARD_MAX_CODE_SIZE: usize = 16 * 1024 * 1024;

/// The most [`Config::max_source_size`] may be.
pub const MAX_SOURCE_SIZE_LIMIT: usize = 1 << 30;

fn check_max_source_size(bytes: usize) -> Result<()> {
    if bytes > MAX_SOURCE_SIZE_LIMIT {
        return Err(Error::InvalidArgument(format!("max_source_size {bytes} is above {MAX_SOURCE_SIZE_LIMIT}")));
    }
    Ok(())
}

/// Everything a [`Manager`](crate::Manager) needs to know. Cheap to clone.
///
/// Start from a preset and change fields:
/// ```
/// let mut config = ebc::Config::production();
/// config.max_cached_contracts = 50_000;
/// config.validate().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// When false every load fails with [`Error::Disabled`].
    pub enable_external_bytecode: bool,
    /// Most addresses the cache holds at once.
    pub max_cached_contracts: usize,
    /// Most bytes the cache holds at once (0 = no byte bound): code and
    /// analysis once per distinct code, each entry's object and metadata,
    /// and the cache's own bookkeeping per entry (see `CacheStats::bytes`).
    pub max_cache_bytes: usize,
    /// Largest code accepted, in bytes (EIP-170's 24,576 by default). At
    /// [`SecurityLevel::None`] only [`HARD_MAX_CODE_SIZE`] applies.
    pub max_contract_size: usize,
    /// When true a cache miss on an address without a URI fetches it from the
    /// default source; when false such a load only finds preloaded code.
    pub enable_lazy_loading: bool,
    /// When true code must carry a signature from the trust store.
    pub enable_code_signing: bool,
    /// When true code is analysed and checked against the security level's
    /// policy; when false only the size limit applies.
    pub enable_bytecode_verification: bool,
    /// The cache's eviction strategy.
    pub cache_strategy: CacheStrategy,
    /// What the manager demands of code.
    pub security_level: SecurityLevel,
    /// The hardfork whose instruction set analysis uses.
    pub fork: Fork,
    /// Time limit for one fetch from a source, in milliseconds (0 = none).
    pub loader_timeout_ms: u64,
    /// Lifetime of a cache entry under [`CacheStrategy::Ttl`], in milliseconds.
    pub cache_ttl_ms: u64,
    /// How long the default source's answer that an address has no code
    /// ([`Error::NotFound`] or
    /// [`Error::NoCode`]) is remembered, in
    /// milliseconds; 0 asks the source every time. EVMs ask about accounts
    /// without code (senders, recipients of plain transfers) over and over;
    /// within this time they are answered without a fetch. Other failures
    /// are never remembered, and a load with `reload` asks again.
    pub absent_ttl_ms: u64,
    /// From Standard up, `file:` loads must resolve (symlinks and `..`
    /// followed) to a path under one of these directories. Empty: any path.
    pub allowed_file_roots: Vec<std::path::PathBuf>,
    /// From Standard up, URIs with a host (`scheme://host/...`) must name
    /// one of these hosts. Empty: any host.
    pub allowed_hosts: Vec<String>,
    /// URI used when a load names none; `{address}` is replaced by the
    /// address in lower-case hex with `0x`. `None`: such loads fail with
    /// [`Error::LoaderNotFound`].
    pub default_source: Option<String>,
    /// Sent with every HTTP(S) and JSON-RPC request (API keys,
    /// authorisation). Values never appear in messages or `Debug` output.
    pub http_headers: Vec<Header>,
    /// Retries of a network request after a 429, a 5xx or a failed
    /// connection, with exponential backoff and jitter, within the load's
    /// time limit.
    pub http_retries: u32,
    /// JSON-RPC endpoints for `jsonrpc:` URIs without a host, tried in order
    /// (failover): `http://host:port[/path]`.
    pub rpc_endpoints: Vec<String>,
    /// A state root the host trusts (from its consensus client or a
    /// checkpoint) and the block it belongs to. With it, JSON-RPC loads read
    /// that block and prove every account against the root (`eth_getProof`);
    /// code whose hash is not the proven one is rejected.
    pub trusted_state: Option<TrustedState>,
    /// Trustless IPFS gateways (`http(s)://host[:port][/base]`) for `ipfs:`
    /// URIs, tried in order. Every block they return is checked against
    /// its CID, so a gateway is trusted only to be available.
    pub ipfs_gateways: Vec<String>,
    /// Most bytes a source may return before decoding, and most bytes
    /// decompression may produce: compiler artifacts carry ABI, source
    /// maps and metadata beside the code. The code itself is still held to
    /// `max_contract_size`. Never below what hex text of the largest code
    /// needs.
    pub max_source_size: usize,
}

/// An HTTP header sent with requests. Its value is secret: `Debug` shows
/// only the name.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// The header name, e.g. `Authorization`.
    pub name: String,
    /// The value, e.g. an API key.
    pub value: String,
}

impl Header {
    /// A header `name: value`.
    pub fn new(name: &str, value: &str) -> Header {
        Header { name: name.to_owned(), value: value.to_owned() }
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: <redacted>", self.name)
    }
}

/// A state root the host trusts and the block it is the root of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedState {
    /// The block: its number or hash.
    pub block: crate::source::jsonrpc::BlockId,
    /// The block's state root.
    pub state_root: revm::primitives::B256,
}

impl Config {
    /// For nodes in production: verification on, Standard level, a large cache.
    pub fn production() -> Config {
        Config {
            enable_external_bytecode: true,
            max_cached_contracts: 10_000,
            max_cache_bytes: 512 * 1024 * 1024,
            max_contract_size: EIP170_MAX_CODE_SIZE,
            enable_lazy_loading: true,
            enable_code_signing: false,
            enable_bytecode_verification: true,
            cache_strategy: CacheStrategy::Lru,
            security_level: SecurityLevel::Standard,
            fork: Fork::LATEST,
            loader_timeout_ms: 5_000,
            cache_ttl_ms: 3_600_000,
            absent_ttl_ms: 1_000,
            allowed_file_roots: Vec::new(),
            allowed_hosts: Vec::new(),
            default_source: None,
            http_headers: Vec::new(),
            http_retries: 2,
            rpc_endpoints: Vec::new(),
            trusted_state: None,
            ipfs_gateways: Vec::new(),
            max_source_size: 4 * 1024 * 1024,
        }
    }

    /// For development: Basic level, a moderate cache, generous timeouts.
    pub fn development() -> Config {
        Config {
            max_cached_contracts: 1_000,
            max_cache_bytes: 64 * 1024 * 1024,
            security_level: SecurityLevel::Basic,
            loader_timeout_ms: 30_000,
            ..Config::production()
        }
    }

    /// For tests: Basic level, a small cache, short timeouts.
    pub fn testing() -> Config {
        Config {
            max_cached_contracts: 100,
            max_cache_bytes: 16 * 1024 * 1024,
            security_level: SecurityLevel::Basic,
            loader_timeout_ms: 2_000,
            cache_ttl_ms: 60_000,
            ..Config::production()
        }
    }

    /// Appends a JSON-RPC endpoint for `jsonrpc:` URIs, after checking it is
    /// an `http://` or `https://` URL.
    pub fn add_rpc_endpoint(&mut self, url: &str) -> Result<()> {
        crate::source::jsonrpc::check_endpoint(url)?;
        self.rpc_endpoints.push(url.to_owned());
        Ok(())
    }

    /// Appends a trustless IPFS gateway for `ipfs:` URIs, after checking it
    /// is an `http://` or `https://` URL.
    pub fn add_ipfs_gateway(&mut self, url: &str) -> Result<()> {
        crate::source::ipfs::check_gateway(url)?;
        self.ipfs_gateways.push(url.to_owned());
        Ok(())
    }

    /// Sets `max_source_size`, at most [`MAX_SOURCE_SIZE_LIMIT`].
    pub fn set_max_source_size(&mut self, bytes: usize) -> Result<()> {
        check_max_source_size(bytes)?;
        self.max_source_size = bytes;
        Ok(())
    }

    /// Appends a header sent with every network request, after checking
    /// that it cannot split the request (no line breaks, a token name).
    pub fn add_http_header(&mut self, name: &str, value: &str) -> Result<()> {
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(Error::InvalidArgument(format!("HTTP header name {name:?} is not a token")));
        }
        if value.contains(['\r', '\n', '\0']) {
            return Err(Error::InvalidArgument(format!("the value of HTTP header {name} contains a line break or NUL")));
        }
        self.http_headers.push(Header::new(name, value));
        Ok(())
    }

    /// Checks the fields against each other and their ranges.
    pub fn validate(&self) -> Result<()> {
        if self.max_contract_size == 0 || self.max_contract_size > HARD_MAX_CODE_SIZE {
            return Err(Error::InvalidArgument(format!(
                "max_contract_size {} is outside 1..={HARD_MAX_CODE_SIZE}",
                self.max_contract_size
            )));
        }
        if self.cache_strategy != CacheStrategy::None && self.max_cached_contracts == 0 {
            return Err(Error::InvalidArgument(
                "max_cached_contracts is 0 with a caching strategy; use CacheStrategy::None".into(),
            ));
        }
        check_max_source_size(self.max_source_size)?;
        self.ipfs_gateways.iter().try_for_each(|g| crate::source::ipfs::check_gateway(g))?;
        if self.cache_strategy == CacheStrategy::Ttl && self.cache_ttl_ms == 0 {
            return Err(Error::InvalidArgument("cache_ttl_ms is 0 with the TTL strategy".into()));
        }
        Ok(())
    }

    /// The cap on what a source returns and on decompressed output: the
    /// configured `max_source_size`, or what hex text of the largest code
    /// needs when that is more.
    pub fn effective_max_source_size(&self) -> usize {
        self.max_source_size.max(crate::codec::max_encoded_len(self.effective_max_code_size()))
    }

    /// The size limit that applies at this configuration's security level.
    pub fn effective_max_code_size(&self) -> usize {
        if self.security_level == SecurityLevel::None {
            HARD_MAX_CODE_SIZE
        } else {
            self.max_contract_size
        }
    }
}

impl Default for Config {
    /// The development preset, as `ebc_manager_new(NULL, …)` uses.
    fn default() -> Config {
        Config::development()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid() {
        for p in [Preset::Production, Preset::Development, Preset::Testing] {
            p.config().validate().unwrap();
        }
    }

    #[test]
    fn unknown_numbers_are_rejected() {
        assert!(CacheStrategy::from_u32(5).is_err());
        assert!(SecurityLevel::from_u32(5).is_err());
        assert!(Preset::from_u32(3).is_err());
        assert_eq!(SecurityLevel::from_u32(4).unwrap(), SecurityLevel::Paranoid);
    }

    #[test]
    fn zero_size_limit_is_invalid() {
        let c = Config { max_contract_size: 0, ..Config::testing() };
        assert_eq!(c.validate().unwrap_err().status(), crate::Status::InvalidArgument);
    }
}
