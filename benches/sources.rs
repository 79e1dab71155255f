//! Loads per second from each kind of source for the mainnet corpus: the
//! file system, the SQLite store, the PostgreSQL store (a server on
//! 127.0.0.1 started through `scripts/postgres.sh`) and a local Ethereum
//! node's JSON-RPC (anvil from `scripts/node`, the corpus put in its state
//! with `anvil_setCode`).
//!
//! `cargo bench --bench sources`
//!
//! For each source, each of five rounds makes a new manager (Basic level,
//! LRU cache large enough for the corpus, new connections) and loads all
//! 2,000 addresses on one thread three times:
//! - cold: the first load of each address, the whole pipeline (fetch,
//!   decode, hashes, analysis, cache insert);
//! - warm: `reload`, so the source is asked again with its connections and
//!   page caches warm; the analysis is reused by code hash;
//! - cached: plain loads again, every one a cache hit.
//!
//! The operating system's page cache is warm throughout (the corpus and
//! the SQLite file are read before the first round). The table gives the
//! median round in loads per second. Under `cargo test --all-targets`
//! (no `--bench`) one round over 50 contracts checks the harness.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ebc::source::transfer::{self, ImportItem};
use ebc::source::{PostgresStore, SqliteStore};
use ebc::{Config, LoadOptions, Manager, RpcClient, SecurityLevel};

#[path = "../tests/common/mod.rs"]
mod common;

fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn manager() -> Manager {
    Manager::new(Config {
        security_level: SecurityLevel::Basic,
        max_cached_contracts: 4096,
        max_cache_bytes: 256 * 1024 * 1024,
        ..Config::production()
    })
    .unwrap()
}

/// Loads per second of `load` over `items`.
fn pass(items: &[(ImportItem, String)], manager: &Manager, options: &LoadOptions) -> f64 {
    let started = Instant::now();
    for (item, uri) in items {
        let code = manager.load(&item.address, Some(uri), options).unwrap();
        debug_assert_eq!(Some(code.code_hash()), item.expected_code_hash);
        black_box(code);
    }
    items.len() as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Median cold, warm and cached loads per second.
fn measure(items: &[(ImportItem, String)], rounds: usize) -> [f64; 3] {
    let (mut cold, mut warm, mut cached) = (Vec::new(), Vec::new(), Vec::new());
    let reload = LoadOptions { reload: true, ..LoadOptions::default() };
    for _ in 0..rounds {
        let manager = manager();
        cold.push(pass(items, &manager, &LoadOptions::default()));
        warm.push(pass(items, &manager, &reload));
        cached.push(pass(items, &manager, &LoadOptions::default()));
    }
    [median(cold), median(warm), median(cached)]
}

/// A PostgreSQL server for the run; stopped when dropped.
struct Server {
    dir: PathBuf,
    url: String,
}

fn script(args: &[&str]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres.sh");
    Command::new("bash").arg(script).args(args).output().expect("run scripts/postgres.sh")
}

impl Server {
    /// `None` when PostgreSQL is not installed and peers are not required
    /// (`EBC_REQUIRE_PEERS=1`).
    fn start() -> Option<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("ebc-bench-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = script(&["start", dir.to_str().unwrap(), &port.to_string()]);
        if out.status.code() == Some(3) && std::env::var("EBC_REQUIRE_PEERS").map_or(true, |v| v != "1") {
            eprintln!("skipping PostgreSQL: not installed (run `bash scripts/postgres.sh install`)");
            return None;
        }
        assert!(out.status.success(), "postgres.sh start: {}", String::from_utf8_lossy(&out.stderr));
        Some(Server { dir, url: String::from_utf8(out.stdout).unwrap().trim().to_owned() })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = script(&["stop", self.dir.to_str().unwrap()]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut items = transfer::scan(&corpus).unwrap();
    let rounds = if benchmarking() { 5 } else { 1 };
    if !benchmarking() {
        items.truncate(50);
    }
    let max = ebc::config::EIP170_MAX_CODE_SIZE;
    let dir = std::env::temp_dir().join(format!("ebc-bench-sources-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let db = dir.join("corpus.db");
    transfer::import(&SqliteStore::open(&db, true).unwrap(), &items, max, &mut |_, _| {}).unwrap();
    let file: Vec<_> = items.iter().map(|i| (i.clone(), format!("file:{}", i.path.display()))).collect();
    let sqlite: Vec<_> = items.iter().map(|i| (i.clone(), format!("sqlite:{}", db.display()))).collect();
    let mut results = vec![("file", measure(&file, rounds)), ("SQLite", measure(&sqlite, rounds))];
    let server = Server::start();
    if let Some(server) = &server {
        transfer::import(&PostgresStore::open(&server.url, true, 10_000).unwrap(), &items, max, &mut |_, _| {}).unwrap();
        let postgres: Vec<_> = items.iter().map(|i| (i.clone(), server.url.clone())).collect();
        results.push(("PostgreSQL", measure(&postgres, rounds)));
    }
    let anvil = common::Anvil::start(&["--code-size-limit", "1000000"]);
    if let Some(anvil) = &anvil {
        let rpc = RpcClient::new(vec![anvil.url()], 10_000, 1 << 20).unwrap();
        for item in &items {
            let bytes = std::fs::read(&item.path).unwrap();
            let code = if item.hex { ebc::codec::decode_hex(&bytes, "corpus").unwrap() } else { bytes };
            let params = serde_json::json!([format!("{:#x}", item.address), format!("0x{}", ebc::codec::to_hex(&code))]);
            rpc.call("anvil_setCode", params).unwrap();
        }
        let uri = format!("jsonrpc+http://127.0.0.1:{}", anvil.port);
        let jsonrpc: Vec<_> = items.iter().map(|i| (i.clone(), uri.clone())).collect();
        results.push(("JSON-RPC (anvil)", measure(&jsonrpc, rounds)));
    }

    println!("loads per second, {} contracts, median of {rounds} rounds, one thread", items.len());
    let names: Vec<&str> = results.iter().map(|(name, _)| *name).collect();
    println!("| pass | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(results.len()));
    for (row, name) in ["cold", "warm (reload)", "cached"].iter().enumerate() {
        let cells: Vec<String> = results.iter().map(|(_, r)| format!("{:.0}", r[row])).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
