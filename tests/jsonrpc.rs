//! The JSON-RPC source against a real node: anvil on loopback, contracts
//! compiled by solc and deployed to it, then loaded by `eth_getCode`, as the
//! default source, with failover, and proven against the state root by
//! `eth_getProof`. Hostile nodes (a proxy in front of anvil that alters
//! answers, a node that never answers, malformed JSON) get their statuses.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::server::{Reply, Server};
use common::{Anvil, send_and_wait, solc};
use ebc::{
    Address, B256, BlockId, Config, LoadOptions, LoaderType, Manager, RpcClient, SecurityLevel, Status,
    TrustedState, keccak256,
};
use serde_json::{Value, json};

const SOURCE: &str = r#"
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Counter {
    uint256 public count;
    event Bumped(uint256 to);
    function bump() external { count += 1; emit Bumped(count); }
}
contract Registry {
    mapping(address => string) public names;
    function register(string calldata name) external { names[msg.sender] = name; }
}
"#;

/// A running anvil with the two contracts deployed.
struct Chain {
    anvil: Anvil,
    rpc: RpcClient,
    counter: Address,
    registry: Address,
    /// The runtime code solc produced for each.
    counter_code: Vec<u8>,
    registry_code: Vec<u8>,
}

fn hex(text: &str) -> Vec<u8> {
    ebc::codec::decode_hex(text.as_bytes(), "test").unwrap()
}

fn deploy(rpc: &RpcClient, from: &str, creation: &str) -> Address {
    let receipt = send_and_wait(rpc, json!({ "from": from, "data": format!("0x{creation}") }));
    assert_eq!(receipt["status"], "0x1", "deployment succeeded: {receipt}");
    receipt["contractAddress"].as_str().unwrap().parse().unwrap()
}

fn chain() -> Option<Chain> {
    let output = solc(&[("Counter.sol", SOURCE)], "cancun")?;
    let anvil = Anvil::start(&[])?;
    let rpc = RpcClient::new(vec![anvil.url()], 10_000, 1 << 20).unwrap();
    let accounts = rpc.call("eth_accounts", json!([])).unwrap();
    let from = accounts[0].as_str().unwrap().to_owned();
    let contract = |name: &str| -> &Value { &output["contracts"]["Counter.sol"][name]["evm"] };
    let counter = deploy(&rpc, &from, contract("Counter")["bytecode"]["object"].as_str().unwrap());
    let registry = deploy(&rpc, &from, contract("Registry")["bytecode"]["object"].as_str().unwrap());
    let counter_code = hex(contract("Counter")["deployedBytecode"]["object"].as_str().unwrap());
    let registry_code = hex(contract("Registry")["deployedBytecode"]["object"].as_str().unwrap());
    Some(Chain { anvil, rpc, counter, registry, counter_code, registry_code })
}

fn endpoint(chain: &Chain) -> String {
    format!("jsonrpc+http://127.0.0.1:{}", chain.anvil.port)
}

fn load(m: &Manager, address: &Address, uri: Option<&str>) -> ebc::Result<Arc<ebc::ExternalBytecode>> {
    m.load(address, uri, &LoadOptions::default())
}

fn latest_state(rpc: &RpcClient) -> TrustedState {
    let number = rpc.call("eth_blockNumber", json!([])).unwrap();
    let number = u64::from_str_radix(number.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let block = BlockId::Number(number);
    TrustedState { block, state_root: rpc.state_root(block).unwrap() }
}

#[test]
fn deployed_contracts_load_by_eth_get_code() {
    let Some(chain) = chain() else { return };
    let m = Manager::new(Config::testing()).unwrap();
    let code = load(&m, &chain.counter, Some(&endpoint(&chain))).unwrap();
    assert_eq!(code.code(), &chain.counter_code[..], "the code solc compiled");
    assert_eq!(code.code_hash(), keccak256(&chain.counter_code));
    assert_eq!(code.metadata().load_method, LoaderType::JsonRpc);
    let at_block = format!("{}?block=latest", endpoint(&chain));
    let registry = load(&m, &chain.registry, Some(&at_block)).unwrap();
    assert_eq!(registry.code(), &chain.registry_code[..]);

    // Before the deployment (block 0) the account had no code.
    let m = Manager::new(Config::testing()).unwrap();
    let err = load(&m, &chain.counter, Some(&format!("{}?block=0", endpoint(&chain)))).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "{err}");
    // An account without code is NotFound, never empty code.
    let eoa: Address = chain.rpc.call("eth_accounts", json!([])).unwrap()[0].as_str().unwrap().parse().unwrap();
    let err = load(&m, &eoa, Some(&endpoint(&chain))).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "{err}");
    assert!(m.get(&eoa).is_none());
}

#[test]
fn the_default_source_loads_any_address_lazily_with_failover() {
    let Some(chain) = chain() else { return };
    let dead = format!("http://127.0.0.1:{}", common::free_port());
    let config = Config {
        rpc_endpoints: vec![dead, chain.anvil.url()],
        default_source: Some("jsonrpc:".into()),
        ..Config::testing()
    };
    let m = Manager::new(config).unwrap();
    for (address, code) in [(chain.counter, &chain.counter_code), (chain.registry, &chain.registry_code)] {
        let loaded = load(&m, &address, None).unwrap();
        assert_eq!(loaded.code(), &code[..], "fetched from the second endpoint");
        assert_eq!(loaded.metadata().source_uri, "jsonrpc:");
    }
    // Every endpoint down: an I/O error naming each one.
    let config = Config {
        rpc_endpoints: vec![format!("http://127.0.0.1:{}", common::free_port()); 2],
        default_source: Some("jsonrpc:".into()),
        http_retries: 0,
        ..Config::testing()
    };
    let err = load(&Manager::new(config).unwrap(), &chain.counter, None).unwrap_err();
    assert_eq!(err.status(), Status::Io, "{err}");
    assert!(err.to_string().contains("2 endpoints"), "{err}");
}

#[test]
fn code_is_proven_against_a_trusted_state_root() {
    let Some(chain) = chain() else { return };
    let trusted = latest_state(&chain.rpc);
    let config = Config {
        security_level: SecurityLevel::Strict,
        trusted_state: Some(trusted),
        ..Config::testing()
    };
    let m = Manager::new(config).unwrap();
    // Strict demands provenance: the proof gives it, no signature needed.
    let code = load(&m, &chain.counter, Some(&endpoint(&chain))).unwrap();
    assert_eq!(code.code(), &chain.counter_code[..]);
    assert_eq!(code.security().trust, ebc::TrustLevel::Medium);
    // An account that does not exist is proven absent.
    let err = load(&m, &Address::repeat_byte(0x42), Some(&endpoint(&chain))).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    // Through the EVMC helpers with the node as default source: the proof
    // tells a missing account (zero hash) from one without code (the hash
    // of empty code); plain eth_getCode cannot.
    let evmc = Manager::new(Config {
        trusted_state: Some(trusted),
        rpc_endpoints: vec![chain.anvil.url()],
        default_source: Some("jsonrpc:".into()),
        ..Config::testing()
    })
    .unwrap();
    let eoa: Address = chain.rpc.call("eth_accounts", json!([])).unwrap()[0].as_str().unwrap().parse().unwrap();
    assert_eq!(evmc.code_hash(&Address::repeat_byte(0x42)).unwrap(), B256::ZERO);
    assert_eq!(evmc.code_hash(&eoa).unwrap(), ebc::KECCAK_EMPTY);
    assert_eq!(evmc.code_hash(&chain.counter).unwrap(), keccak256(&chain.counter_code));
    assert_eq!(evmc.code_size(&chain.counter).unwrap(), chain.counter_code.len());
    // A URI naming another block than the trusted one is refused.
    let err = load(&m, &chain.registry, Some(&format!("{}?block=0", endpoint(&chain)))).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument, "{err}");

    // Strict without a trusted root and without a signature: refused.
    let strict = Manager::new(Config { security_level: SecurityLevel::Strict, ..Config::testing() }).unwrap();
    let err = load(&strict, &chain.counter, Some(&endpoint(&chain))).unwrap_err();
    assert_eq!(err.status(), Status::SignatureInvalid, "{err}");
    // ... and with a per-load root it passes.
    let options = LoadOptions { state_root: Some(trusted.state_root), ..LoadOptions::default() };
    let uri = format!("{}?block={}", endpoint(&chain), trusted.block);
    strict.load(&chain.counter, Some(&uri), &options).unwrap();
    // A per-load root that is not the block's: the proof fails.
    let options = LoadOptions { state_root: Some(B256::repeat_byte(7)), reload: true, ..LoadOptions::default() };
    let err = strict.load(&chain.counter, Some(&uri), &options).unwrap_err();
    assert_eq!(err.status(), Status::SecurityViolation, "{err}");
    assert!(err.to_string().contains("node 0"), "{err}");
}

/// A JSON-RPC proxy in front of anvil that passes every call through
/// `alter` on its way back.
fn proxy<F>(chain: &Chain, alter: F) -> Server
where
    F: Fn(&str, &mut Value) + Send + Sync + 'static,
{
    let upstream = RpcClient::new(vec![chain.anvil.url()], 10_000, 1 << 20).unwrap();
    Server::start(move |seen| {
        let request: Value = serde_json::from_slice(&seen.body).unwrap();
        let method = request["method"].as_str().unwrap().to_owned();
        let mut result = upstream.call(&method, request["params"].clone()).unwrap();
        alter(&method, &mut result);
        let body = json!({ "jsonrpc": "2.0", "id": request["id"], "result": result });
        Reply::Respond(200, "application/json", body.to_string().into_bytes())
    })
}

fn flip_last_hex_digit(text: &str) -> String {
    let mut s = text.to_owned();
    let last = s.pop().unwrap();
    s.push(if last == '0' { '1' } else { '0' });
    s
}

#[test]
fn a_node_lying_about_code_or_proof_is_caught() {
    let Some(chain) = chain() else { return };
    let trusted = latest_state(&chain.rpc);
    let proven = |server: &Server| {
        let m = Manager::new(Config { trusted_state: Some(trusted), ..Config::testing() }).unwrap();
        load(&m, &chain.counter, Some(&format!("jsonrpc+http://127.0.0.1:{}", server.port)))
    };
    // The proof is genuine, the code is altered.
    let lying_code = proxy(&chain, |method, result| {
        if method == "eth_getCode" {
            *result = json!(flip_last_hex_digit(result.as_str().unwrap()));
        }
    });
    let err = proven(&lying_code).unwrap_err();
    assert_eq!(err.status(), Status::ChecksumMismatch, "{err}");
    assert!(err.to_string().contains(&format!("{:#x}", keccak256(&chain.counter_code))), "{err}");
    // The proof is forged: a byte of the account's leaf changed.
    let forged_proof = proxy(&chain, |method, result| {
        if method == "eth_getProof" {
            let nodes = result["accountProof"].as_array_mut().unwrap();
            let leaf = nodes.last_mut().unwrap();
            *leaf = json!(flip_last_hex_digit(leaf.as_str().unwrap()));
        }
    });
    let err = proven(&forged_proof).unwrap_err();
    assert_eq!(err.status(), Status::SecurityViolation, "{err}");
    assert!(err.to_string().contains("hashes to"), "{err}");
    // An honest proxy passes: the checks are not what fails.
    let honest = proxy(&chain, |_, _| {});
    proven(&honest).unwrap();
}

#[test]
fn malformed_silent_and_oversized_nodes_get_their_status() {
    let m = Manager::new(Config { loader_timeout_ms: 500, http_retries: 0, ..Config::testing() }).unwrap();
    let uri = |s: &Server| format!("jsonrpc+http://127.0.0.1:{}", s.port);
    let a = Address::repeat_byte(9);

    let html = Server::start(|_| Reply::Respond(200, "text/html", b"<html>oops</html>".to_vec()));
    let err = load(&m, &a, Some(&uri(&html))).unwrap_err();
    assert_eq!(err.status(), Status::Io, "{err}");
    assert!(err.to_string().contains("malformed JSON-RPC response"), "{err}");

    let rpc_error = Server::start(|_| {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "error": { "code": -32601, "message": "no such method" } });
        Reply::Respond(200, "application/json", body.to_string().into_bytes())
    });
    let err = load(&m, &a, Some(&uri(&rpc_error))).unwrap_err();
    assert!(err.to_string().contains("-32601"), "{err}");

    let silent = Server::start(|_| Reply::Hang);
    let started = Instant::now();
    let err = load(&m, &a, Some(&uri(&silent))).unwrap_err();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // Ten times the size limit, as valid JSON-RPC.
    let huge = format!("0x{}", "5b".repeat(10 * m.config().max_contract_size));
    let big = Server::start(move |seen| {
        let id: Value = serde_json::from_slice::<Value>(&seen.body).unwrap()["id"].clone();
        let body = json!({ "jsonrpc": "2.0", "id": id, "result": huge });
        Reply::Respond(200, "application/json", body.to_string().into_bytes())
    });
    let err = load(&m, &a, Some(&uri(&big))).unwrap_err();
    assert_eq!(err.status(), Status::TooLarge, "{err}");

    let endless = Server::start(|_| Reply::Endless);
    let err = load(&m, &a, Some(&uri(&endless))).unwrap_err();
    assert!(matches!(err.status(), Status::TooLarge | Status::Timeout), "{err}");
    assert!(html.requests.load(Ordering::SeqCst) >= 1);
    assert!(m.get(&a).is_none(), "nothing failed is cached");
}

#[test]
fn the_client_reads_account_state() {
    let Some(chain) = chain() else { return };
    let rpc = &chain.rpc;
    // Bump the counter once: slot 0 becomes 1.
    let from = rpc.call("eth_accounts", json!([])).unwrap()[0].clone();
    let bump = format!("{:#x}", keccak256("bump()"))[..10].to_owned();
    let receipt = send_and_wait(rpc, json!({ "from": from, "to": format!("{:#x}", chain.counter), "data": bump }));
    assert_eq!(receipt["status"], "0x1", "bump() succeeded: {receipt}");
    assert_eq!(rpc.get_storage_at(&chain.counter, ebc::U256::ZERO, BlockId::Latest).unwrap(), ebc::U256::from(1));
    let sender: Address = from.as_str().unwrap().parse().unwrap();
    assert!(rpc.get_transaction_count(&sender, BlockId::Latest).unwrap() >= 3);
    assert!(rpc.get_balance(&sender, BlockId::Latest).unwrap() > ebc::U256::ZERO);
    assert_eq!(rpc.get_code(&chain.counter, BlockId::Latest).unwrap(), chain.counter_code);
    let proof = rpc.get_proof(&chain.counter, BlockId::Latest).unwrap();
    assert_eq!(proof.code_hash, keccak256(&chain.counter_code));
}
