//! Real peers for the integration tests, started on loopback: anvil (an
//! Ethereum node from the npm registry) and solc (the Solidity compiler, also
//! from npm). `scripts/node-deps.sh` installs both into `scripts/node`.
//!
//! When the peers are not installed, tests that need them print why and
//! return early — unless `EBC_REQUIRE_PEERS=1` (set by the README's test
//! command), in which case a missing peer fails the test.
#![allow(dead_code)]

pub mod server;
pub mod postgres;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `scripts/node` of this repository, where the npm packages live.
pub fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/node")
}

/// Whether a missing peer is a failure rather than a skip.
pub fn peers_required() -> bool {
    std::env::var("EBC_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Reports a missing peer: panics when peers are required, else prints.
fn missing(what: &str) {
    let hint = "run `bash scripts/node-deps.sh`";
    assert!(!peers_required(), "{what} is not installed ({hint})");
    eprintln!("skipping: {what} is not installed ({hint})");
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An anvil node on 127.0.0.1, killed when dropped.
pub struct Anvil {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Anvil {
    /// Path of the anvil binary from the npm package.
    pub fn binary() -> PathBuf {
        node_dir().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    }

    /// Starts anvil with `extra` arguments and waits until it listens.
    /// `None` (after printing why) when anvil is not installed and peers
    /// are not required.
    pub fn start(extra: &[&str]) -> Option<Anvil> {
        let binary = Anvil::binary();
        if !binary.exists() {
            missing("anvil");
            return None;
        }
        let port = free_port();
        let mut child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--silent"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn anvil");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(stderr) = child.stderr.take() {
                    for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                        err.push_str(&line);
                        err.push('\n');
                    }
                }
                panic!("anvil exited with {status}: {err}");
            }
            assert!(Instant::now() < deadline, "anvil did not listen on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Anvil { child, port })
    }

    /// Its JSON-RPC endpoint as a plain HTTP URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Compiles Solidity `sources` (name, text) for `evm_version` with solc from
/// npm and returns solc's standard-JSON output, with `evm.bytecode.object`,
/// `evm.deployedBytecode.object` and `abi` selected. `None` when solc is
/// not installed and peers are not required. Panics on compile errors.
pub fn solc(sources: &[(&str, &str)], evm_version: &str) -> Option<serde_json::Value> {
    if !node_dir().join("node_modules/solc").exists() {
        missing("solc");
        return None;
    }
    let sources: serde_json::Map<String, serde_json::Value> = sources
        .iter()
        .map(|(name, text)| (name.to_string(), serde_json::json!({ "content": text })))
        .collect();
    let input = serde_json::json!({
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "evmVersion": evm_version,
            "optimizer": { "enabled": true, "runs": 200 },
            "outputSelection": { "*": { "*": [
                "abi", "evm.bytecode.object", "evm.deployedBytecode.object"
            ] } }
        }
    });
    let mut child = Command::new("node")
        .arg(node_dir().join("solc.cjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run node");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "solc failed");
    let output: serde_json::Value = serde_json::from_slice(&out.stdout).expect("solc output is JSON");
    if let Some(errors) = output["errors"].as_array() {
        let fatal: Vec<_> = errors.iter().filter(|e| e["severity"] == "error").collect();
        assert!(fatal.is_empty(), "solc errors: {fatal:?}");
    }
    Some(output)
}

/// Sends `tx` with `eth_sendTransaction` and waits for its receipt. anvil
/// answers with the hash before the block is mined, so state read right after
/// the call may not show the transaction yet; the receipt is the only signal
/// that it has landed. Panics when no receipt arrives within ten seconds.
#[allow(dead_code)]
pub fn send_and_wait(rpc: &ebc::RpcClient, tx: serde_json::Value) -> serde_json::Value {
    let hash = rpc.call("eth_sendTransaction", serde_json::json!([tx])).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let receipt = rpc.call("eth_getTransactionReceipt", serde_json::json!([hash])).unwrap();
        if !receipt.is_null() {
            return receipt;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
