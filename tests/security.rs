//! Security levels, signatures and allowlists, on real contracts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ebc::signing::{Publisher, Scheme, Signature, sign};
use ebc::{Address, Config, LoadOptions, Manager, SecurityLevel, Status, TrustLevel, keccak256};

const WETH9: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/WETH9.hex");

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/mainnet")
}

fn manager(level: SecurityLevel) -> Manager {
    Manager::new(Config { security_level: level, max_cached_contracts: 64, ..Config::testing() }).unwrap()
}

const KEY: [u8; 32] = [42; 32];

fn publisher(trust: TrustLevel) -> Publisher {
    Publisher { name: "corpus signer".into(), trust }
}

fn trusting(level: SecurityLevel, trust: TrustLevel) -> Manager {
    let m = manager(level);
    let (_, public) = sign(Scheme::Ed25519, &KEY, &keccak256([]), "").unwrap();
    let key: [u8; 32] = ebc::codec::decode_hex(public.as_bytes(), "key").unwrap().try_into().unwrap();
    m.trust_ed25519(key, publisher(trust)).unwrap();
    m
}

fn signed(code: &[u8]) -> LoadOptions {
    let (signature, _) = sign(Scheme::Ed25519, &KEY, &keccak256(code), "v1").unwrap();
    LoadOptions { signature: Some(signature), ..LoadOptions::default() }
}

#[test]
fn the_whole_corpus_passes_strict_when_signed() {
    let m = trusting(SecurityLevel::Strict, TrustLevel::FullyTrusted);
    let mut count = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        let code = std::fs::read(&path).unwrap();
        let address = Address::from_slice(&keccak256(&code)[..20]);
        let loaded = m
            .load(&address, Some(path.to_str().unwrap()), &signed(&code))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(loaded.security().trust, TrustLevel::FullyTrusted);
        assert_eq!(loaded.metadata().version.as_deref(), Some("v1"));
        count += 1;
    }
    assert_eq!(count, 2000);
}

#[test]
fn forged_inputs_get_their_status() {
    let m = trusting(SecurityLevel::Strict, TrustLevel::FullyTrusted);
    let weth = ebc::codec::decode_hex(&std::fs::read(WETH9).unwrap(), "weth").unwrap();

    // A flipped byte under a signature: the signature names the old hash.
    let mut flipped = weth.clone();
    flipped[100] ^= 0xff;
    m.put_memory("flipped", &flipped);
    let err = m.load(&Address::repeat_byte(1), Some("mem:flipped"), &signed(&weth)).unwrap_err();
    assert_eq!(err.status(), Status::SignatureInvalid, "{err}");

    // A signature by a key nobody trusts.
    let (rogue, _) = sign(Scheme::Ed25519, &[1; 32], &keccak256(&weth), "v1").unwrap();
    let options = LoadOptions { signature: Some(rogue), ..Default::default() };
    let err = m.load(&Address::repeat_byte(2), Some(WETH9), &options).unwrap_err();
    assert_eq!(err.status(), Status::SignatureInvalid);

    // Garbage where a signature should be.
    let junk = Signature { scheme: Scheme::Secp256k1Eip191, bytes: vec![0; 12], version: String::new() };
    let options = LoadOptions { signature: Some(junk), ..Default::default() };
    let err = m.load(&Address::repeat_byte(3), Some(WETH9), &options).unwrap_err();
    assert!(err.to_string().contains("65 bytes"), "{err}");

    // A wrong expected hash, though the signature is good.
    let options = LoadOptions { expected_code_hash: Some(keccak256(b"other")), ..signed(&weth) };
    let err = m.load(&Address::repeat_byte(4), Some(WETH9), &options).unwrap_err();
    assert_eq!(err.status(), Status::ChecksumMismatch);

    // 0xEF code that is no delegation, signed.
    let ef = [0xef, 0x00, 0x01, 0x00, 0x04];
    m.put_memory("ef", &ef);
    let err = m.load(&Address::repeat_byte(5), Some("mem:ef"), &signed(&ef)).unwrap_err();
    assert_eq!(err.status(), Status::VerificationFailed);

    // Over the size limit, signed.
    let big = vec![0x5b; 24_577];
    m.put_memory("big", &big);
    let err = m.load(&Address::repeat_byte(6), Some("mem:big"), &signed(&big)).unwrap_err();
    assert_eq!(err.status(), Status::TooLarge);
    assert!(err.to_string().contains("24577") && err.to_string().contains("24576"), "{err}");

    // And a good one still loads.
    m.load(&Address::repeat_byte(7), Some(WETH9), &signed(&weth)).unwrap();
}

#[test]
fn a_delegation_passes_every_level_when_signed() {
    let mut code = vec![0xef, 0x01, 0x00];
    code.extend_from_slice(&[0x22; 20]);
    for level in [SecurityLevel::Basic, SecurityLevel::Standard, SecurityLevel::Strict, SecurityLevel::Paranoid] {
        let m = trusting(level, TrustLevel::Low);
        m.put_memory("d", &code);
        let loaded = m.load(&Address::repeat_byte(1), Some("mem:d"), &signed(&code)).unwrap();
        assert_eq!(loaded.kind(), ebc::CodeKind::Delegation(Address::repeat_byte(0x22)));
    }
}

#[test]
fn paranoid_refuses_capabilities_the_publishers_trust_does_not_permit() {
    let weth = ebc::codec::decode_hex(&std::fs::read(WETH9).unwrap(), "weth").unwrap();
    let low = trusting(SecurityLevel::Paranoid, TrustLevel::Low);
    let err = low.load(&Address::repeat_byte(1), Some(WETH9), &signed(&weth)).unwrap_err();
    assert_eq!(err.status(), Status::SecurityViolation);
    // WETH9 stores balances, logs events and sends ether on withdraw.
    for cap in ["sstore", "log", "call-with-value"] {
        assert!(err.to_string().contains(cap), "{err}");
    }
    let full = trusting(SecurityLevel::Paranoid, TrustLevel::FullyTrusted);
    let code = full.load(&Address::repeat_byte(1), Some(WETH9), &signed(&weth)).unwrap();
    // Paranoid re-checks integrity on every access; an intact entry passes.
    let again = full.load(&Address::repeat_byte(1), None, &LoadOptions::default()).unwrap();
    assert!(Arc::ptr_eq(code.shared(), again.shared()));
    assert_eq!(full.cache_stats().hits, 1);
}

#[test]
fn file_roots_stop_traversal_and_symlinks_from_standard() {
    let base = std::env::temp_dir().join(format!("ebc-roots-{}", std::process::id()));
    let root = base.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("ok.hex"), "0x6001").unwrap();
    std::fs::write(base.join("secret.hex"), "0x6002").unwrap();
    let _ = std::fs::remove_file(root.join("link.hex"));
    std::os::unix::fs::symlink(base.join("secret.hex"), root.join("link.hex")).unwrap();
    let config = Config {
        security_level: SecurityLevel::Standard,
        allowed_file_roots: vec![root.clone()],
        ..Config::testing()
    };
    let m = Manager::new(config.clone()).unwrap();
    let load = |uri: String| m.load(&Address::repeat_byte(9), Some(&uri), &LoadOptions { reload: true, ..Default::default() });
    load(root.join("ok.hex").display().to_string()).unwrap();
    for escape in [root.join("../secret.hex"), root.join("link.hex")] {
        let err = load(escape.display().to_string()).unwrap_err();
        assert_eq!(err.status(), Status::SecurityViolation, "{}: {err}", escape.display());
        assert!(err.to_string().contains("outside the allowed file roots"), "{err}");
    }
    // Basic does not confine.
    let basic = Manager::new(Config { security_level: SecurityLevel::Basic, ..config }).unwrap();
    basic.load(&Address::repeat_byte(9), Some(root.join("link.hex").to_str().unwrap()), &LoadOptions::default()).unwrap();
}

#[test]
fn hosts_outside_the_allowlist_are_refused_from_standard() {
    let config = Config {
        security_level: SecurityLevel::Standard,
        allowed_hosts: vec!["node.local".into()],
        ..Config::testing()
    };
    let m = Manager::new(config).unwrap();
    let loader = ebc::FnLoader::new(ebc::LoaderType::Http, |_req, sink| sink.write(b"0x6001"));
    m.register_loader("test+http", Arc::new(loader)).unwrap();
    m.load(&Address::repeat_byte(1), Some("test+http://node.local:8545/x"), &LoadOptions::default()).unwrap();
    let err = m.load(&Address::repeat_byte(2), Some("test+http://evil.example/x"), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::SecurityViolation);
    assert!(err.to_string().contains("evil.example"), "{err}");
}
