//! IPFS sources against the reference implementation: files are imported by
//! `ipfs-unixfs-importer` (CIDv0 as `ipfs add` makes them, CIDv1 with raw
//! leaves, single- and multi-block, wrapped in a directory) and served by a
//! trustless gateway on loopback (`scripts/node/ipfs-gateway.mjs`), which
//! also writes a CAR file of each import and misbehaves on demand: a wrong
//! block, a truncated CAR, no answer, an endless body. Real mainnet code
//! from ../shared/corpus goes through every layout.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ebc::{Address, Config, LoadOptions, LoaderType, Manager, SecurityLevel, Status, TrustLevel, keccak256};

const WETH9_HEX: &str = include_str!("../contracts/WETH9.hex");

fn weth9() -> Vec<u8> {
    ebc::codec::decode_hex(WETH9_HEX.as_bytes(), "WETH9").unwrap()
}

/// The gateway script, its directory of imported files, and their CIDs.
struct Gateway {
    child: Child,
    port: u16,
    dir: PathBuf,
    /// file name → layout → CID.
    cids: HashMap<String, HashMap<String, String>>,
    /// A sharded (HAMT) directory of every file and 400 fillers.
    sharded: String,
    /// How many buckets of its root node are sub-shards.
    sub_shards: u64,
}

impl Gateway {
    /// Writes `files` into a fresh directory and starts the gateway on it.
    /// `None` (after saying why) when the npm packages are missing and
    /// peers are not required.
    fn start(files: &[(&str, Vec<u8>)]) -> Option<Gateway> {
        if !common::node_dir().join("node_modules/ipfs-unixfs-importer").exists() {
            assert!(!common::peers_required(), "the IPFS importer is not installed (run `bash scripts/node-deps.sh`)");
            eprintln!("skipping: the IPFS importer is not installed (run `bash scripts/node-deps.sh`)");
            return None;
        }
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ebc-ipfs-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let mut child = Command::new("node")
            .arg(common::node_dir().join("ipfs-gateway.mjs"))
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(120)).expect("the gateway did not start within 120 s");
        let info: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("gateway said {line:?}: {e}"));
        let cids = serde_json::from_value(info["files"].clone()).unwrap();
        let sharded = info["sharded"].as_str().expect("the sharded directory's CID").to_string();
        let sub_shards = info["sub_shards"].as_u64().expect("the count of sub-shards");
        Some(Gateway { child, port: info["port"].as_u64().unwrap() as u16, dir, cids, sharded, sub_shards })
    }

    /// The gateway's base URL in `mode` (`ok`, `wrong-block`, …).
    fn url(&self, mode: &str) -> String {
        format!("http://127.0.0.1:{}/{mode}", self.port)
    }

    fn cid(&self, file: &str, layout: &str) -> &str {
        &self.cids[file][layout]
    }

    fn car(&self, file: &str, layout: &str) -> PathBuf {
        self.dir.join(format!("{file}.{layout}.car"))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const LAYOUTS: [&str; 4] = ["v0", "v1", "v0-small", "v1-small"];

fn manager(gateways: Vec<String>, level: SecurityLevel, timeout_ms: u64) -> Manager {
    let config = Config {
        ipfs_gateways: gateways,
        security_level: level,
        loader_timeout_ms: timeout_ms,
        max_cached_contracts: 1_000,
        ..Config::testing()
    };
    Manager::new(config).unwrap()
}

fn addr(n: u16) -> Address {
    let mut address = [0u8; 20];
    address[18..].copy_from_slice(&n.to_be_bytes());
    Address::from(address)
}

fn load(m: &Manager, n: u16, uri: &str) -> ebc::Result<Arc<ebc::ExternalBytecode>> {
    m.load(&addr(n), Some(uri), &LoadOptions::default())
}

fn corpus_sample(count: usize) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/mainnet");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("../shared/corpus/mainnet")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // Spread over the corpus, and the largest contract for the deepest DAG.
    let step = names.len() / count;
    let mut picked: Vec<String> = names.iter().step_by(step).take(count - 1).cloned().collect();
    let largest = names.iter().max_by_key(|n| std::fs::metadata(dir.join(n)).unwrap().len()).unwrap();
    picked.push(largest.clone());
    picked.into_iter().map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap())).collect()
}

#[test]
fn mainnet_code_loads_by_cid_in_every_layout_and_counts_as_proven() {
    let corpus = corpus_sample(12);
    let mut files: Vec<(&str, Vec<u8>)> = corpus.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    files.push(("weth9.hex", WETH9_HEX.as_bytes().to_vec()));
    let Some(gw) = Gateway::start(&files) else { return };
    // Strict: no signature, so only the content address gives provenance.
    let m = manager(vec![gw.url("ok")], SecurityLevel::Strict, 10_000);
    let mut n = 0;
    let mut multi_block = 0;
    for (name, bytes) in &corpus {
        for layout in LAYOUTS {
            n += 1;
            let cid = gw.cid(name, layout);
            let code = load(&m, n, &format!("ipfs://{cid}")).unwrap_or_else(|e| panic!("{name} {layout} {cid}: {e}"));
            assert_eq!(code.code_hash(), keccak256(bytes), "{name} {layout}");
            assert_eq!(code.metadata().load_method, LoaderType::Ipfs);
            assert_eq!(code.security().trust, TrustLevel::Medium, "content-addressed provenance");
            if layout.ends_with("small") && bytes.len() > 1024 {
                multi_block += 1;
            }
        }
    }
    assert!(multi_block >= 10, "only {multi_block} multi-block loads");
    // The other spellings of the same content, and a path in a directory.
    let weth = weth9();
    for (i, uri) in [
        format!("ipfs:{}", gw.cid("weth9.hex", "v0")),
        format!("/ipfs/{}", gw.cid("weth9.hex", "v1-small")),
        format!("ipfs://{}/weth9.hex", gw.cid("weth9.hex", "dir")),
    ]
    .iter()
    .enumerate()
    {
        let code = load(&m, 1000 + i as u16, uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(code.code(), &weth[..], "{uri}");
    }
    let err = load(&m, 1100, &format!("ipfs://{}/absent", gw.cid("weth9.hex", "dir"))).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "{err}");
}

/// A directory big enough to be sharded (a HAMT of 256 buckets, some of
/// them sub-shards): every file loads by its name through it, block by
/// block (the gateway cannot resolve HAMT paths for a CAR), and a name it
/// lacks is NotFound, not a malformed directory.
#[test]
fn paths_are_followed_through_sharded_directories() {
    let files = corpus_sample(12);
    let named: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let Some(gw) = Gateway::start(&named) else { return };
    assert!(gw.sub_shards > 10, "{} sub-shards: the walk must go two levels deep", gw.sub_shards);
    let m = manager(vec![gw.url("ok")], SecurityLevel::Standard, 20_000);
    for (i, (name, bytes)) in files.iter().enumerate() {
        let uri = format!("ipfs://{}/{name}", gw.sharded);
        let code = load(&m, 2000 + i as u16, &uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(code.code_hash(), keccak256(bytes), "{uri}");
    }
    for (i, absent) in ["absent.bin", "filler-400.txt", ""].iter().enumerate() {
        let uri = format!("ipfs://{}/{absent}", gw.sharded);
        if let Err(err) = load(&m, 2100 + i as u16, &uri) {
            assert!(matches!(err.status(), Status::NotFound | Status::InvalidArgument), "{uri}: {err}");
            if !absent.is_empty() {
                assert_eq!(err.status(), Status::NotFound, "{uri}: {err}");
            }
        } else {
            panic!("{uri} loaded");
        }
    }
    // Every filler is reached too, in whichever bucket or sub-shard the
    // importer put it (its text loads as raw bytes).
    for i in 0..400u16 {
        let uri = format!("ipfs://{}/filler-{i}.txt", gw.sharded);
        let code = load(&m, 3000 + i, &uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(code.code(), format!("filler {i}\n").as_bytes(), "{uri}");
    }
    // Without CAR responses the client walks the shards block by block.
    let raw = manager(vec![gw.url("raw-only")], SecurityLevel::Standard, 20_000);
    let (name, bytes) = &files[0];
    let code = load(&raw, 4000, &format!("ipfs://{}/{name}", gw.sharded)).unwrap();
    assert_eq!(code.code_hash(), keccak256(bytes));
}

#[test]
fn our_cids_are_the_reference_importers() {
    let Some(gw) = Gateway::start(&[("weth9.bin", weth9())]) else { return };
    // A single raw leaf under the v1 profile: the CID is sha2-256 of the file.
    let ours = ebc::ipfs::Cid::v1_sha256(ebc::ipfs::cid::RAW, &weth9());
    assert_eq!(ours.to_string(), gw.cid("weth9.bin", "v1"));
    for layout in LAYOUTS {
        let parsed = ebc::ipfs::Cid::parse(gw.cid("weth9.bin", layout)).unwrap();
        assert_eq!(parsed.to_string(), gw.cid("weth9.bin", layout), "{layout} round-trips");
        assert_eq!(parsed.version(), if layout.starts_with("v0") { 0 } else { 1 });
    }
    // The command line verifies IPFS content at Strict on its CID alone.
    let out = Command::new(env!("CARGO_BIN_EXE_ebc"))
        .args(["verify", "--level", "strict", "--json", "--ipfs-gateway", &gw.url("ok")])
        .arg(format!("ipfs://{}", gw.cid("weth9.bin", "v0-small")))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(report["trust"], "medium", "{report}");
    assert_eq!(report["code_hash"], format!("{}", keccak256(weth9())), "{report}");
}

#[test]
fn local_car_files_load_and_prove_only_the_cid_they_are_asked_for() {
    let Some(gw) = Gateway::start(&[("weth9.hex", WETH9_HEX.as_bytes().to_vec())]) else { return };
    let weth = weth9();
    let basic = manager(vec![], SecurityLevel::Basic, 5_000);
    let strict = manager(vec![], SecurityLevel::Strict, 5_000);
    for (i, layout) in LAYOUTS.iter().enumerate() {
        let car = gw.car("weth9.hex", layout).display().to_string();
        let i = i as u16 * 3;
        let code = load(&basic, i, &format!("car:{car}")).unwrap();
        assert_eq!(code.code(), &weth[..], "{layout}");
        assert_eq!(code.security().trust, TrustLevel::Low, "the file's own root proves nothing");
        let err = load(&strict, i + 1, &format!("car:{car}")).unwrap_err();
        assert_eq!(err.status(), Status::SignatureInvalid, "{layout}: {err}");
        let proven = load(&strict, i + 2, &format!("car:{car}?cid={}", gw.cid("weth9.hex", layout))).unwrap();
        assert_eq!(proven.code(), &weth[..]);
        assert_eq!(proven.security().trust, TrustLevel::Medium);
    }
    // A CID that the file does not hold.
    let car = gw.car("weth9.hex", "v1").display().to_string();
    let err = load(&basic, 100, &format!("car:{car}?cid={}", gw.cid("weth9.hex", "v0-small"))).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "{err}");
    // A CAR cut short, and one with a block that does not match its CID.
    let whole = std::fs::read(gw.car("weth9.hex", "v1-small")).unwrap();
    let cut = gw.dir.join("cut.car");
    std::fs::write(&cut, &whole[..whole.len() - 100]).unwrap();
    let err = load(&basic, 101, &format!("car:{}", cut.display())).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument, "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
    let mut flipped = whole.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let bad = gw.dir.join("flipped.car");
    std::fs::write(&bad, &flipped).unwrap();
    let err = load(&basic, 102, &format!("car:{}", bad.display())).unwrap_err();
    assert_eq!(err.status(), Status::ChecksumMismatch, "{err}");
    for n in 100..=102 {
        assert!(basic.get(&addr(n)).is_none(), "a failed load was cached");
    }
}

#[test]
fn hostile_gateways_get_a_clear_status_and_the_next_gateway_is_tried() {
    let Some(gw) = Gateway::start(&[("weth9.hex", WETH9_HEX.as_bytes().to_vec())]) else { return };
    let weth = weth9();
    let multi = gw.cid("weth9.hex", "v1-small").to_owned();
    let uri = format!("ipfs://{multi}");
    let cases = [
        ("wrong-block", Status::ChecksumMismatch),
        ("raw-only+wrong-block", Status::ChecksumMismatch),
        ("truncated-car", Status::InvalidArgument),
        ("hang", Status::Timeout),
        ("endless", Status::TooLarge),
    ];
    for (i, (mode, status)) in cases.iter().enumerate() {
        let m = manager(vec![gw.url(mode)], SecurityLevel::Standard, 1_500);
        let err = load(&m, i as u16, &uri).unwrap_err();
        assert_eq!(err.status(), *status, "{mode}: {err}");
        assert!(m.get(&addr(i as u16)).is_none() && m.cache_stats().entries == 0, "{mode}: nothing cached");
        // The manager stays usable, and an honest gateway after the hostile
        // one delivers (except after a hang, which used up the time limit).
        if *mode != "hang" {
            let m = manager(vec![gw.url(mode), gw.url("ok")], SecurityLevel::Standard, 5_000);
            let code = load(&m, 100 + i as u16, &uri).unwrap_or_else(|e| panic!("{mode} then ok: {e}"));
            assert_eq!(code.code(), &weth[..]);
        }
    }
    // A gateway without CAR support is asked block by block.
    let m = manager(vec![gw.url("raw-only")], SecurityLevel::Standard, 5_000);
    assert_eq!(load(&m, 200, &uri).unwrap().code(), &weth[..]);
    // No gateway configured, and a CID nobody has.
    let none = manager(vec![], SecurityLevel::Standard, 5_000);
    assert_eq!(load(&none, 201, &uri).unwrap_err().status(), Status::LoaderNotFound);
    let absent = ebc::ipfs::Cid::v1_sha256(ebc::ipfs::cid::RAW, b"nobody has this").to_string();
    let err = load(&m, 202, &format!("ipfs://{absent}")).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "{err}");
    let err = load(&m, 203, "ipfs://not-a-cid").unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument, "{err}");
    // A host allowlist does not apply to a CID (the gateways are configured).
    let config = Config {
        ipfs_gateways: vec![gw.url("ok")],
        allowed_hosts: vec!["example.org".into()],
        security_level: SecurityLevel::Standard,
        ..Config::testing()
    };
    let listed = Manager::new(config).unwrap();
    assert_eq!(load(&listed, 204, &uri).unwrap().code(), &weth[..]);
}

/// solc's standard-JSON output for `sources` (solc from npm).
fn compile(sources: &[(&str, &str)]) -> Option<serde_json::Value> {
    common::solc(sources, "cancun")
}

const COUNTER: &str = r#"// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
interface ICounter { function bump() external; }
contract Counter is ICounter {
    uint256 public count;
    function bump() external { count += 1; }
}
library Adder { function add(uint256 a, uint256 b) external pure returns (uint256) { return a + b; } }
contract UsesAdder {
    function sum(uint256 a, uint256 b) external pure returns (uint256) { return Adder.add(a, b); }
}
"#;

/// A directory of test files, removed with everything in it when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ebc-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes `bytes` to `name` in the directory; its path.
    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn compiler_artifacts_give_the_named_contracts_runtime_code() {
    let Some(out) = compile(&[("src/Counter.sol", COUNTER)]) else { return };
    let contract = &out["contracts"]["src/Counter.sol"]["Counter"];
    let deployed_hex = contract["evm"]["deployedBytecode"]["object"].as_str().unwrap();
    let runtime = ebc::codec::decode_hex(deployed_hex.as_bytes(), "solc").unwrap();
    let m = manager(vec![], SecurityLevel::Standard, 5_000);
    let scratch = Scratch::new("artifacts");
    let tmp = |name: &str, bytes: &[u8]| scratch.file(name, bytes);

    // solc's standard JSON output: several contracts, chosen by name.
    let standard = tmp("standard.json", out.to_string().as_bytes());
    for (n, uri) in [format!("{standard}#Counter"), format!("file:{standard}#src/Counter.sol:Counter")].iter().enumerate() {
        assert_eq!(load(&m, n as u16, uri).unwrap().code(), &runtime[..], "{uri}");
    }
    let err = load(&m, 10, &standard).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument, "several contracts: {err}");
    assert!(err.to_string().contains("src/Counter.sol:Counter"), "{err}");
    let err = load(&m, 11, &format!("{standard}#ICounter")).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "an interface has no code: {err}");
    let err = load(&m, 12, &format!("{standard}#UsesAdder")).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument, "unlinked library: {err}");
    assert!(err.to_string().contains("unlinked library"), "{err}");

    // Foundry's out/Counter.sol/Counter.json layout, built from the same output.
    let foundry = serde_json::json!({
        "abi": contract["abi"],
        "bytecode": { "object": format!("0x{}", contract["evm"]["bytecode"]["object"].as_str().unwrap()),
                      "sourceMap": "", "linkReferences": {} },
        "deployedBytecode": { "object": format!("0x{deployed_hex}"), "sourceMap": "",
                              "linkReferences": {}, "immutableReferences": {} },
        "methodIdentifiers": { "bump()": "a2e62045", "count()": "06661abd" },
        "metadata": { "compiler": { "version": "0.8.37" }, "language": "Solidity",
                      "settings": { "compilationTarget": { "src/Counter.sol": "Counter" } } },
        "id": 0
    });
    let foundry_path = tmp("Counter.json", foundry.to_string().as_bytes());
    assert_eq!(load(&m, 20, &foundry_path).unwrap().code(), &runtime[..]);
    assert_eq!(load(&m, 21, &format!("{foundry_path}#Counter")).unwrap().code(), &runtime[..]);
    assert_eq!(load(&m, 22, &format!("{foundry_path}#Other")).unwrap_err().status(), Status::NotFound);

    // A Hardhat artifact (hh-sol-artifact-1).
    let hardhat = serde_json::json!({
        "_format": "hh-sol-artifact-1",
        "contractName": "Counter",
        "sourceName": "src/Counter.sol",
        "abi": contract["abi"],
        "bytecode": format!("0x{}", contract["evm"]["bytecode"]["object"].as_str().unwrap()),
        "deployedBytecode": format!("0x{deployed_hex}"),
        "linkReferences": {},
        "deployedLinkReferences": {}
    });
    let hardhat_path = tmp("Counter.hardhat.json", hardhat.to_string().as_bytes());
    assert_eq!(load(&m, 30, &format!("{hardhat_path}#Counter")).unwrap().code(), &runtime[..]);

    // Artifacts a few times larger than the code are within the source cap.
    assert!(out.to_string().len() > runtime.len() * 2);
}

#[test]
fn compressed_sources_decode_under_a_cap_and_record_their_ratio() {
    use std::io::Write;
    let weth = weth9();
    let gzip = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let zstd = |data: &[u8]| ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest);
    let lz4 = |data: &[u8]| {
        let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let m = manager(vec![], SecurityLevel::Standard, 5_000);
    let scratch = Scratch::new("compressed");
    let tmp = |name: &str, bytes: &[u8]| scratch.file(name, bytes);
    let mut n = 0;
    for (kind, pack) in [
        (ebc::Compression::Gzip, &gzip as &dyn Fn(&[u8]) -> Vec<u8>),
        (ebc::Compression::Zstd, &zstd),
        (ebc::Compression::Lz4, &lz4),
    ] {
        for (what, content) in [("raw", weth.clone()), ("hex", WETH9_HEX.as_bytes().to_vec())] {
            n += 1;
            let packed = pack(&content);
            let path = tmp(&format!("weth9.{what}.{kind:?}"), &packed);
            let code = load(&m, n, &path).unwrap_or_else(|e| panic!("{kind:?} {what}: {e}"));
            assert_eq!(code.code(), &weth[..], "{kind:?} {what}");
            assert_eq!(code.metadata().compression, kind);
            let ratio = content.len() as f64 / packed.len() as f64;
            assert!((code.metadata().compression_ratio - ratio).abs() < 1e-9, "{kind:?} {what}");
            assert_eq!(code.metadata().original_size, packed.len());
        }
        // A bomb: 64 MiB of zeros, far past the 4 MiB source cap.
        n += 1;
        let bomb = tmp(&format!("bomb.{kind:?}"), &pack(&vec![0u8; 64 << 20]));
        let err = load(&m, n, &bomb).unwrap_err();
        assert_eq!(err.status(), Status::TooLarge, "{kind:?}: {err}");
    }
    let plain = load(&m, 99, concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/WETH9.hex")).unwrap();
    assert_eq!((plain.metadata().compression, plain.metadata().compression_ratio), (ebc::Compression::None, 1.0));
}

#[test]
fn compressed_artifacts_travel_over_ipfs() {
    use std::io::Write;
    let Some(out) = compile(&[("src/Counter.sol", COUNTER)]) else { return };
    let deployed = out["contracts"]["src/Counter.sol"]["Counter"]["evm"]["deployedBytecode"]["object"].as_str().unwrap();
    let runtime = ebc::codec::decode_hex(deployed.as_bytes(), "solc").unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(out.to_string().as_bytes()).unwrap();
    let Some(gw) = Gateway::start(&[("out.json.gz", gz.finish().unwrap())]) else { return };
    let m = manager(vec![gw.url("ok")], SecurityLevel::Strict, 5_000);
    for (n, layout) in LAYOUTS.iter().enumerate() {
        let uri = format!("ipfs://{}#Counter", gw.cid("out.json.gz", layout));
        let code = load(&m, n as u16, &uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(code.code(), &runtime[..]);
        assert_eq!(code.metadata().compression, ebc::Compression::Gzip);
        assert!(code.metadata().compression_ratio > 1.0);
    }
}
