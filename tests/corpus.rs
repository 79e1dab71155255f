//! The real mainnet corpus in ../shared/corpus: every contract loads, hashes
//! to its recorded code hash, and is accepted at None, Basic and Standard.

use std::path::{Path, PathBuf};

use ebc::codec::to_hex;
use ebc::{Address, Config, LoadOptions, Manager, SecurityLevel, VerificationStatus};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

struct Row {
    file: String,
    address: Address,
    size: usize,
    keccak: String,
}

fn index() -> Vec<Row> {
    let text = std::fs::read_to_string(corpus_dir().join("INDEX.tsv")).expect("corpus INDEX.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file, address, size, keccak) = (col("file"), col("address"), col("size_bytes"), col("keccak256"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                file: f[file].to_owned(),
                address: f[address].parse().unwrap(),
                size: f[size].parse().unwrap(),
                keccak: f[keccak].to_owned(),
            }
        })
        .collect()
}

fn manager(level: SecurityLevel) -> Manager {
    let config = Config {
        security_level: level,
        max_cached_contracts: 64,
        ..Config::testing()
    };
    Manager::new(config).unwrap()
}

#[test]
fn every_corpus_contract_loads_with_its_code_hash_at_none_basic_and_standard() {
    let rows = index();
    assert_eq!(rows.len(), 2000, "the corpus has 2,000 contracts");
    for level in [SecurityLevel::None, SecurityLevel::Basic, SecurityLevel::Standard] {
        let manager = manager(level);
        let mut rejected = Vec::new();
        for row in &rows {
            let uri = format!("file:{}", corpus_dir().join("mainnet").join(&row.file).display());
            match manager.load(&row.address, Some(&uri), &LoadOptions::default()) {
                Ok(code) => {
                    assert_eq!(code.code().len(), row.size, "{}", row.file);
                    assert_eq!(to_hex(code.code_hash().as_slice()), row.keccak, "{}", row.file);
                    assert_ne!(code.verification_status(), VerificationStatus::Unverified);
                }
                Err(e) => rejected.push(format!("{}: {e}", row.file)),
            }
        }
        assert!(rejected.is_empty(), "{level:?} rejected {} contracts: {:?}", rejected.len(), &rejected[..rejected.len().min(5)]);
        assert_eq!(manager.metrics().loads, 2000);
    }
}

#[test]
fn known_code_hashes_are_reproduced() {
    let text = std::fs::read_to_string(corpus_dir().join("KNOWN_CODEHASHES.tsv")).unwrap();
    let manager = manager(SecurityLevel::Standard);
    let mut checked = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 || f[3].is_empty() {
            continue; // rows with a published hash only
        }
        let address: Address = f[1].parse().unwrap();
        let expected: ebc::B256 = format!("0x{}", f[2]).parse().unwrap();
        let uri = corpus_dir().join("mainnet").join(f[3]).display().to_string();
        let options = LoadOptions { expected_code_hash: Some(expected), ..LoadOptions::default() };
        let code = manager.load(&address, Some(&uri), &options).unwrap_or_else(|e| panic!("{}: {e}", f[0]));
        assert_eq!(code.code_hash(), expected, "{}", f[0]);
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} known hashes checked");
}

#[test]
fn trailers_are_found_on_the_solidity_contracts_that_have_them() {
    let rows = index();
    let manager = manager(SecurityLevel::Standard);
    let mut with_trailer = 0;
    for row in &rows {
        let uri = corpus_dir().join("mainnet").join(&row.file).display().to_string();
        let code = manager.load(&row.address, Some(&uri), &LoadOptions::default()).unwrap();
        with_trailer += code.inspection().trailer.is_some() as usize;
    }
    // About 1,024 with CBOR (ipfs) and 587 with bzzr metadata (README).
    assert!(with_trailer >= 1_590, "trailers found: {with_trailer}");
}

#[test]
fn findings_at_standard_include_the_real_shapes_of_deployed_code() {
    let rows = index();
    let manager = manager(SecurityLevel::Standard);
    let (mut truncated, mut bad_jumps) = (0, 0);
    for row in &rows {
        let uri = corpus_dir().join("mainnet").join(&row.file).display().to_string();
        let code = manager.load(&row.address, Some(&uri), &LoadOptions::default()).unwrap();
        truncated += code.findings().iter().any(|f| f.kind == ebc::FindingKind::TruncatedPush) as usize;
        bad_jumps += code.findings().iter().any(|f| f.kind == ebc::FindingKind::InvalidJumpDest) as usize;
    }
    // The corpus README counts 818 codes ending in a truncated PUSH (most of
    // them inside the metadata trailer, where ebc reports nothing) and 399
    // with static jumps to non-JUMPDEST targets. Findings, never rejections.
    assert!((50..818).contains(&truncated), "truncated PUSH findings: {truncated}");
    assert!((300..=399).contains(&bad_jumps), "invalid static jump findings: {bad_jumps}");
}

#[test]
fn the_jump_table_and_padding_are_revms_on_every_contract() {
    use revm::bytecode::Bytecode;
    for row in index() {
        let code = std::fs::read(corpus_dir().join("mainnet").join(&row.file)).unwrap();
        let ours = ebc::verify::analyze(&code);
        let revm = Bytecode::new_legacy(code.clone().into());
        assert_eq!(ours.bytecode.bytes_slice(), revm.bytes_slice(), "{}: padded code", row.file);
        assert_eq!(ours.bytecode.len(), revm.len(), "{}", row.file);
        assert_eq!(ours.bytecode.legacy_jump_table(), revm.legacy_jump_table(), "{}: jump table", row.file);
        let count: usize = revm.legacy_jump_table().unwrap().as_slice().iter().map(|b| b.count_ones() as usize).sum();
        assert_eq!(ours.jumpdest_count, count, "{}", row.file);
    }
}

#[test]
fn one_pass_analysis_is_the_two_passes_on_every_contract() {
    use ebc::verify::{Fork, analyze, analyze_and_inspect, inspect};
    for row in index() {
        let code = std::fs::read(corpus_dir().join("mainnet").join(&row.file)).unwrap();
        let separate = analyze(&code);
        for fork in [Fork::Frontier, Fork::Paris, Fork::LATEST] {
            let (analysis, inspection) = analyze_and_inspect(&code, fork);
            assert_eq!(analysis.bytecode.bytes_slice(), separate.bytecode.bytes_slice(), "{}", row.file);
            assert_eq!(analysis.bytecode.legacy_jump_table(), separate.bytecode.legacy_jump_table(), "{}", row.file);
            assert_eq!(analysis.jumpdest_count, separate.jumpdest_count, "{}", row.file);
            assert_eq!(inspection, inspect(&code, &separate, fork), "{}", row.file);
        }
    }
}
