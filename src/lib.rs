//! # ebc: external bytecode for EVMs
//!
//! A host EVM asks ebc for an address's code; ebc fetches it from an external
//! source, proves it is the right code, applies a security policy, analyses
//! it once, caches it for all threads and hands back an immutable, shared
//! [`ExternalBytecode`].
//!
//! ```
//! let manager = ebc::Manager::new(ebc::Config::testing()).unwrap();
//! manager.put_memory("tiny", &[0x60, 0x00, 0x5b, 0x00]);
//! let address = ebc::Address::repeat_byte(1);
//! let code = manager.load(&address, Some("mem:tiny"), &Default::default()).unwrap();
//! assert!(code.is_jumpdest(2) && !code.is_jumpdest(1));
//! ```
//!
//! | module | stage |
//! |---|---|
//! | [`manager`] | the pipeline: cache, single-flight, the stages below |
//! | [`source`] | loaders by URI scheme: `file:`, `mem:`, `sqlite:`, `postgres:`, host callbacks; code stores, import and export |
//! | [`codec`] | raw or hex bytes into code |
//! | [`integrity`] | code hash and checksum, checked against expectations |
//! | [`ipfs`] | CIDs, CAR files, UnixFS: IPFS content checked block by block |
//! | [`verify`] | analysis and the security level's policy |
//! | [`security`] | trust levels and execution permissions |
//! | [`cache`] | eviction policies, sharding, deduplication by code hash |
//! | [`metrics`] | the performance tracker |
//! | [`evm`] | executing code through revm: `Vm`, the lazy code database, the sandbox |
//! | [`evmc`] | account code with EVMC's size, hash and copy semantics |
//! | `ffi` | the C ABI (`include/ebc.h`) |

mod absent;
pub mod bytecode;
pub mod cache;
pub mod codec;
pub mod config;
pub mod error;
pub mod evm;
pub mod evmc;
pub mod integrity;
pub mod ipfs;
pub mod manager;
pub mod metrics;
pub mod proof;
pub mod security;
pub mod signing;
pub mod source;
pub mod verify;

pub mod ffi;

pub use bytecode::{Code, Compression, ExternalBytecode, Metadata, live_bytecodes};
pub use cache::CacheStats;
pub use config::{CacheStrategy, Config, Header, Preset, SecurityLevel, TrustedState};
pub use error::{Error, Result, Status};
pub use evmc::AccountCode;
pub use manager::{BytecodeInfo, LoadOptions, Manager, PreloadItem, Priority, verify_code};
pub use metrics::MetricsSnapshot;
pub use revm::primitives::{Address, B256, KECCAK_EMPTY, U256, keccak256};
pub use security::{ExecutionPermissions, SecurityContext, TrustLevel};
pub use source::jsonrpc::{BlockId, RpcClient};
pub use source::{Attestation, Fetched, FnLoader, Loader, LoaderType, Request, Sink};
pub use verify::{CodeKind, Finding, FindingKind, VerificationStatus};
