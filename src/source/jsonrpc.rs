//! Ethereum JSON-RPC sources: the [`RpcClient`] (`eth_getCode`,
//! `eth_getProof`, balances, nonces, storage; failover across endpoints) and
//! the [`JsonRpcLoader`] behind these URIs:
//!
//! - `jsonrpc+http://host:port[/path][?block=latest|<number>|<hash>]` and
//!   `jsonrpc+https://…`: one node;
//! - `jsonrpc:[?block=…]`: the configured `rpc_endpoints`, tried in order.
//!
//! With a trusted state root (configured as `trusted_state`, or given per
//! load) the loader fetches `eth_getProof` at that block, proves the account
//! against the root ([`crate::proof`]), and attests the proven code hash: the
//! manager rejects code that does not hash to it. An account without code
//! is [`Error::NoCode`] and one proven absent [`Error::NotFound`] (both
//! `EBC_NOT_FOUND` in C; the EVMC helpers tell them apart), never empty code.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use revm::primitives::{Address, B256, KECCAK_EMPTY, U256};
use serde_json::{Value, json};

use super::http::{HttpClient, HttpOptions};
use super::{Attestation, Encoding, Loader, LoaderType, Request, Sink};
use crate::codec;
use crate::config::TrustedState;
use crate::error::{Error, Result};
use crate::proof;

/// Room for a JSON-RPC envelope around a result.
const FRAMING: usize = 4 * 1024;

/// The largest `eth_getProof` response accepted (a proof is a dozen nodes
/// of at most 532 bytes, hex-encoded).
const MAX_PROOF_RESPONSE: usize = 256 * 1024;

/// A block, as JSON-RPC methods take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum BlockId {
    /// The node's latest block.
    #[default]
    Latest,
    /// A block by number.
    Number(u64),
    /// A block by hash (EIP-1898).
    Hash(B256),
}

impl BlockId {
    /// The block parameter of `eth_getCode` and friends.
    pub fn to_param(self) -> Value {
        match self {
            BlockId::Latest => json!("latest"),
            BlockId::Number(n) => json!(format!("{n:#x}")),
            BlockId::Hash(h) => json!({ "blockHash": format!("{h:#x}") }),
        }
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockId::Latest => f.write_str("latest"),
            BlockId::Number(n) => write!(f, "{n}"),
            BlockId::Hash(h) => write!(f, "{h:#x}"),
        }
    }
}

impl FromStr for BlockId {
    type Err = Error;

    /// `latest`, a decimal or `0x` number, or a `0x` 32-byte hash.
    fn from_str(s: &str) -> Result<BlockId> {
        let bad = || Error::InvalidArgument(format!("block {s:?} is not `latest`, a number or a 32-byte hash"));
        if s.eq_ignore_ascii_case("latest") {
            return Ok(BlockId::Latest);
        }
        match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) if hex.len() == 64 => s.parse::<B256>().map(BlockId::Hash).map_err(|_| bad()),
            Some(hex) => u64::from_str_radix(hex, 16).map(BlockId::Number).map_err(|_| bad()),
            None => s.parse().map(BlockId::Number).map_err(|_| bad()),
        }
    }
}

/// What `eth_getProof` returned for an account, as the node claims it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProof {
    /// The RLP trie nodes from the state root to the account, root first.
    pub account_proof: Vec<Vec<u8>>,
    /// The code hash the node claims (the proof decides what is true).
    pub code_hash: B256,
}

/// A JSON-RPC client for one or more endpoints of the same chain, tried in
/// order: a request that fails on one endpoint (transport, HTTP status,
/// malformed response, JSON-RPC error) is sent to the next. Thread-safe.
pub struct RpcClient {
    endpoints: Vec<String>,
    http: Arc<HttpClient>,
    timeout_ms: u64,
    max_response: usize,
    next_id: AtomicU64,
}

impl RpcClient {
    /// A client for `endpoints` (`http(s)://host:port[/path]`) with a time
    /// limit per call (0 = none) and a cap on each response's size.
    pub fn new(endpoints: Vec<String>, timeout_ms: u64, max_response_bytes: usize) -> Result<RpcClient> {
        RpcClient::with_http(endpoints, Arc::new(HttpClient::new(HttpOptions::default())), timeout_ms, max_response_bytes)
    }

    /// As [`RpcClient::new`], over a shared HTTP client (its headers,
    /// retries and connection pool).
    pub fn with_http(
        endpoints: Vec<String>,
        http: Arc<HttpClient>,
        timeout_ms: u64,
        max_response_bytes: usize,
    ) -> Result<RpcClient> {
        if endpoints.is_empty() {
            return Err(Error::InvalidArgument("a JSON-RPC client needs at least one endpoint".into()));
        }
        for endpoint in &endpoints {
            check_endpoint(endpoint)?;
        }
        Ok(RpcClient { endpoints, http, timeout_ms, max_response: max_response_bytes, next_id: AtomicU64::new(1) })
    }

    /// The endpoints, in the order they are tried.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// Calls `method` with `params` and returns the `result`.
    pub fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.call_capped(method, params, self.max_response, self.timeout_ms)
    }

    /// Calls `method` with a response cap and time limit of its own, trying
    /// each endpoint in turn within the time limit.
    fn call_capped(&self, method: &str, params: Value, cap: usize, timeout_ms: u64) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string();
        let deadline = (timeout_ms > 0).then(|| std::time::Instant::now() + Duration::from_millis(timeout_ms));
        let mut failures = Vec::new();
        for endpoint in &self.endpoints {
            let left_ms = match deadline {
                Some(d) => match d.checked_duration_since(std::time::Instant::now()) {
                    Some(left) if !left.is_zero() => left.as_millis().max(1) as u64,
                    _ => break,
                },
                None => 0,
            };
            let mut sink = Sink::new(endpoint, cap, left_ms);
            let outcome = self
                .http
                .post_json(endpoint, body.as_bytes(), &mut sink)
                .and_then(|_| sink.finish())
                .and_then(|fetched| parse_response(endpoint, method, id, &fetched.bytes));
            match outcome {
                Ok(result) => return Ok(result),
                Err(e) => failures.push(e),
            }
        }
        Err(combine(method, &self.endpoints, failures, timeout_ms))
    }

    /// `eth_getCode`: the account's code at `block` (empty when none).
    pub fn get_code(&self, address: &Address, block: BlockId) -> Result<Vec<u8>> {
        let cap = codec::max_encoded_len(crate::config::HARD_MAX_CODE_SIZE) + FRAMING;
        self.get_code_capped(address, block, cap.min(self.max_response.max(FRAMING)), self.timeout_ms)
    }

    fn get_code_capped(&self, address: &Address, block: BlockId, cap: usize, timeout_ms: u64) -> Result<Vec<u8>> {
        let result = self.call_capped("eth_getCode", json!([format!("{address:#x}"), block.to_param()]), cap, timeout_ms)?;
        hex_bytes(&result, "eth_getCode")
    }

    /// `eth_getBalance` at `block`.
    pub fn get_balance(&self, address: &Address, block: BlockId) -> Result<U256> {
        let result = self.call("eth_getBalance", json!([format!("{address:#x}"), block.to_param()]))?;
        quantity(&result, "eth_getBalance")
    }

    /// `eth_getTransactionCount` (the nonce) at `block`.
    pub fn get_transaction_count(&self, address: &Address, block: BlockId) -> Result<u64> {
        let result = self.call("eth_getTransactionCount", json!([format!("{address:#x}"), block.to_param()]))?;
        let n = quantity(&result, "eth_getTransactionCount")?;
        u64::try_from(n).map_err(|_| malformed("eth_getTransactionCount", "a nonce above 2^64"))
    }

    /// `eth_getStorageAt`: the value of `slot` at `block`.
    pub fn get_storage_at(&self, address: &Address, slot: U256, block: BlockId) -> Result<U256> {
        let slot = format!("{:#066x}", slot);
        let result = self.call("eth_getStorageAt", json!([format!("{address:#x}"), slot, block.to_param()]))?;
        let bytes = hex_bytes(&result, "eth_getStorageAt")?;
        if bytes.len() > 32 {
            return Err(malformed("eth_getStorageAt", "a value longer than 32 bytes"));
        }
        Ok(U256::from_be_slice(&bytes))
    }

    /// `eth_getProof` for the account (no storage keys) at `block`.
    pub fn get_proof(&self, address: &Address, block: BlockId) -> Result<AccountProof> {
        self.get_proof_within(address, block, self.timeout_ms)
    }

    fn get_proof_within(&self, address: &Address, block: BlockId, timeout_ms: u64) -> Result<AccountProof> {
        let params = json!([format!("{address:#x}"), [], block.to_param()]);
        let result = self.call_capped("eth_getProof", params, MAX_PROOF_RESPONSE, timeout_ms)?;
        let nodes = result["accountProof"]
            .as_array()
            .ok_or_else(|| malformed("eth_getProof", "no accountProof array"))?;
        let account_proof = nodes.iter().map(|n| hex_bytes(n, "eth_getProof")).collect::<Result<Vec<_>>>()?;
        let code_hash = result["codeHash"]
            .as_str()
            .and_then(|s| s.parse::<B256>().ok())
            .ok_or_else(|| malformed("eth_getProof", "no 32-byte codeHash"))?;
        Ok(AccountProof { account_proof, code_hash })
    }

    /// The state root of `block` (`eth_getBlockByNumber` / `ByHash`), for
    /// tests and tools; a host should take its trusted root from its
    /// consensus client, not from the node it is checking.
    pub fn state_root(&self, block: BlockId) -> Result<B256> {
        let (method, params) = match block {
            BlockId::Hash(h) => ("eth_getBlockByHash", json!([format!("{h:#x}"), false])),
            other => ("eth_getBlockByNumber", json!([other.to_param(), false])),
        };
        let result = self.call(method, params)?;
        result["stateRoot"]
            .as_str()
            .and_then(|s| s.parse::<B256>().ok())
            .ok_or_else(|| malformed(method, &format!("no stateRoot for block {block}")))
    }
}

/// Checks that `url` can be a JSON-RPC endpoint: `http://` or `https://`,
/// no whitespace.
pub fn check_endpoint(url: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) || url.contains(char::is_whitespace) {
        return Err(Error::InvalidArgument(format!("JSON-RPC endpoint {url:?} is not an http:// or https:// URL")));
    }
    Ok(())
}

/// Reads a JSON-RPC response: the `result`, or the `error` as an error.
fn parse_response(endpoint: &str, method: &str, id: u64, body: &[u8]) -> Result<Value> {
    let what = format!("{method} on {endpoint}");
    let response: Value = serde_json::from_slice(body).map_err(|e| Error::Io {
        what: what.clone(),
        cause: format!("malformed JSON-RPC response ({} bytes): {e}", body.len()),
    })?;
    if let Some(error) = response.get("error").filter(|e| !e.is_null()) {
        let code = error["code"].as_i64().unwrap_or(0);
        let message = error["message"].as_str().unwrap_or("no message");
        return Err(Error::Io { what, cause: format!("JSON-RPC error {code}: {message}") });
    }
    if response.get("id").and_then(Value::as_u64) != Some(id) {
        return Err(Error::Io { what, cause: format!("the response's id is not the request's ({id})") });
    }
    response.get("result").cloned().ok_or_else(|| Error::Io { what, cause: "a response with no result".into() })
}

/// One error for a call that failed on every endpoint: the only failure
/// itself, or (several endpoints) an I/O error listing each one's failure.
/// A time limit that ran out before any endpoint answered is a timeout.
fn combine(method: &str, endpoints: &[String], mut failures: Vec<Error>, timeout_ms: u64) -> Error {
    match failures.len() {
        0 => Error::Timeout { what: format!("{method} on {}", endpoints.join(", ")), limit_ms: timeout_ms },
        1 => failures.pop().unwrap(),
        _ if failures.iter().all(|f| matches!(f, Error::Timeout { .. })) => failures.pop().unwrap(),
        _ => Error::Io {
            what: format!("{method} on {} endpoints", failures.len()),
            cause: failures.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "),
        },
    }
}

fn malformed(method: &str, what: &str) -> Error {
    Error::Io { what: method.to_owned(), cause: format!("malformed JSON-RPC result: {what}") }
}

/// A `0x` hex data string as bytes.
fn hex_bytes(value: &Value, method: &str) -> Result<Vec<u8>> {
    let text = value.as_str().ok_or_else(|| malformed(method, "expected a hex string"))?;
    if !text.starts_with("0x") {
        return Err(malformed(method, "a hex string without 0x"));
    }
    codec::decode_hex(text.as_bytes(), method)
}

/// A `0x` hex quantity as a number.
fn quantity(value: &Value, method: &str) -> Result<U256> {
    let text = value.as_str().ok_or_else(|| malformed(method, "expected a hex quantity"))?;
    let digits = text.strip_prefix("0x").ok_or_else(|| malformed(method, "a quantity without 0x"))?;
    U256::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16)
        .map_err(|_| malformed(method, &format!("{text:?} is not a quantity")))
}

/// The loader for `jsonrpc:`, `jsonrpc+http:` and `jsonrpc+https:` URIs.
pub struct JsonRpcLoader {
    http: Arc<HttpClient>,
    endpoints: Vec<String>,
    trusted: Option<TrustedState>,
}

impl JsonRpcLoader {
    /// A loader over `http`, with the configured endpoints (for `jsonrpc:`)
    /// and trusted state.
    pub fn new(http: Arc<HttpClient>, endpoints: Vec<String>, trusted: Option<TrustedState>) -> JsonRpcLoader {
        JsonRpcLoader { http, endpoints, trusted }
    }

    /// The endpoints and block a URI names.
    fn target(&self, uri: &str, location: &str) -> Result<(Vec<String>, Option<BlockId>)> {
        let (path, query) = match location.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (location, None),
        };
        let mut block = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("block", value)) => block = Some(value.parse::<BlockId>().map_err(|e| e.with_context(uri))?),
                _ => return Err(Error::InvalidArgument(format!("{uri}: unknown parameter {pair:?} (only block=)"))),
            }
        }
        let scheme = super::split_scheme(uri).map(|(s, _)| s).unwrap_or_default();
        let endpoints = match scheme.strip_prefix("jsonrpc+") {
            Some(transport @ ("http" | "https")) => {
                if !path.starts_with("//") || path.len() <= 2 {
                    return Err(Error::InvalidArgument(format!("{uri}: expected {scheme}://host[:port][/path]")));
                }
                vec![format!("{transport}:{path}")]
            }
            Some(other) => {
                return Err(Error::InvalidArgument(format!("{uri}: JSON-RPC over {other:?} is not supported (http, https)")));
            }
            None if path.is_empty() => {
                if self.endpoints.is_empty() {
                    return Err(Error::LoaderNotFound(format!("{uri}: no rpc_endpoints are configured")));
                }
                self.endpoints.clone()
            }
            None => {
                return Err(Error::InvalidArgument(format!(
                    "{uri}: `jsonrpc:` takes no host (it uses rpc_endpoints); use jsonrpc+http://host"
                )));
            }
        };
        Ok((endpoints, block))
    }
}

impl Loader for JsonRpcLoader {
    fn kind(&self) -> LoaderType {
        LoaderType::JsonRpc
    }

    fn fetch(&self, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
        let (endpoints, block) = self.target(request.uri, request.location)?;
        // A per-load root goes with the URI's block; a configured one with
        // its own block, which the URI may only repeat.
        let anchor = match (request.state_root, self.trusted) {
            (Some(root), _) => Some((block.unwrap_or_default(), root)),
            (None, Some(trusted)) => match block {
                Some(b) if b != trusted.block => {
                    return Err(Error::InvalidArgument(format!(
                        "{}: block {b} differs from the trusted state's block {}",
                        request.uri, trusted.block
                    )));
                }
                _ => Some((trusted.block, trusted.state_root)),
            },
            (None, None) => None,
        };
        let block = anchor.map_or(block.unwrap_or_default(), |(b, _)| b);
        let client = RpcClient::with_http(endpoints, self.http.clone(), 0, sink.limit() + FRAMING)?;
        let left_ms = || sink.time_left().map_or(0, |t| t.as_millis().max(1) as u64);
        let address = request.address;

        let attestation = match anchor {
            None => None,
            Some((block, root)) => {
                let claimed = client.get_proof_within(address, block, left_ms())?;
                let account = proof::verify_account(&root, address, &claimed.account_proof)?;
                let account = account.ok_or_else(|| {
                    Error::NotFound(format!("{address} does not exist at block {block} (proven against {root:#x})"))
                })?;
                if account.code_hash == KECCAK_EMPTY {
                    return Err(Error::NoCode(format!("{address} has no code at block {block} (proven)")));
                }
                Some(Attestation {
                    code_hash: Some(account.code_hash),
                    anchor: format!("state root {root:#x} of block {block}"),
                })
            }
        };
        let cap = codec::max_encoded_len(sink.limit()) + FRAMING;
        let code = client.get_code_capped(address, block, cap, left_ms())?;
        if code.is_empty() {
            // `eth_getCode` cannot tell an account without code from one
            // that does not exist; only a proof can (above).
            return Err(Error::NoCode(format!("{address} has no code at block {block}")));
        }
        sink.write(&code)?;
        sink.declare_encoding(Encoding::Raw);
        if let Some(attestation) = attestation {
            sink.attest(attestation);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_parse_from_uris() {
        assert_eq!("latest".parse::<BlockId>().unwrap(), BlockId::Latest);
        assert_eq!("19000000".parse::<BlockId>().unwrap(), BlockId::Number(19_000_000));
        assert_eq!("0x10".parse::<BlockId>().unwrap(), BlockId::Number(16));
        let hash = format!("{:#x}", B256::repeat_byte(0xaa));
        assert_eq!(hash.parse::<BlockId>().unwrap(), BlockId::Hash(B256::repeat_byte(0xaa)));
        assert!("pending".parse::<BlockId>().is_err());
        assert_eq!(BlockId::Number(16).to_param(), json!("0x10"));
    }

    #[test]
    fn uris_name_endpoints_and_blocks() {
        let loader = JsonRpcLoader::new(Arc::new(HttpClient::new(HttpOptions::default())), vec![], None);
        let (endpoints, block) =
            loader.target("jsonrpc+http://127.0.0.1:8545/rpc?block=7", "//127.0.0.1:8545/rpc?block=7").unwrap();
        assert_eq!(endpoints, vec!["http://127.0.0.1:8545/rpc".to_string()]);
        assert_eq!(block, Some(BlockId::Number(7)));
        assert!(matches!(loader.target("jsonrpc:", ""), Err(Error::LoaderNotFound(_))));
        assert!(matches!(loader.target("jsonrpc+ws://h", "//h"), Err(Error::InvalidArgument(_))));
        assert!(matches!(loader.target("jsonrpc+http://h?x=1", "//h?x=1"), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn responses_are_checked() {
        assert_eq!(parse_response("e", "m", 1, br#"{"jsonrpc":"2.0","id":1,"result":"0x"}"#).unwrap(), json!("0x"));
        let err = parse_response("e", "m", 1, br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"boom"}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("JSON-RPC error -32000: boom"), "{err}");
        assert!(parse_response("e", "m", 1, b"<html>").unwrap_err().to_string().contains("malformed"));
        assert!(parse_response("e", "m", 2, br#"{"id":1,"result":1}"#).unwrap_err().to_string().contains("id"));
        assert_eq!(quantity(&json!("0x"), "m").unwrap(), U256::ZERO);
        assert!(hex_bytes(&json!("abcd"), "m").is_err());
    }
}
