//! The `ebc` command line, run as a user runs it.

use std::process::Command;

const WETH9: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/WETH9.hex");
const WETH9_HASH: &str = "0xd0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23";
/// WETH9's mainnet address.
const WETH9_ADDRESS: &str = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2";

fn ebc(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ebc")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(name).map(str::trim))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[test]
fn inspect_prints_the_published_code_hash_of_weth9() {
    let (ok, out, _) = ebc(&["inspect", WETH9]);
    assert!(ok);
    assert_eq!(field(&out, "code hash"), WETH9_HASH);
    assert_eq!(field(&out, "size"), "3124 bytes");
    assert_eq!(field(&out, "jumpdests"), "64");
    assert!(field(&out, "capabilities").contains("sstore"));
}

#[test]
fn a_missing_file_fails_with_its_status_and_path() {
    let (ok, _, err) = ebc(&["inspect", "/nonexistent/code.hex"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/code.hex") && err.contains("EBC_NOT_FOUND"), "{err}");
}

#[test]
fn verify_rejects_unsigned_code_at_strict_and_accepts_it_signed() {
    let (ok, out, err) = ebc(&["verify", WETH9, "--level", "strict"]);
    assert!(!ok, "{out}");
    assert!(out.contains("verdict      rejected"), "{out}");
    assert!(err.contains("EBC_SIGNATURE_INVALID"), "{err}");

    let dir = std::env::temp_dir().join(format!("ebc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for scheme in ["ed25519", "secp256k1"] {
        let (_, keys, _) = ebc(&["keygen", "--scheme", scheme]);
        let key_file = dir.join(format!("{scheme}.key"));
        std::fs::write(&key_file, field(&keys, "secret")).unwrap();
        let (ok, signed, err) =
            ebc(&["sign", WETH9, "--scheme", scheme, "--key-file", key_file.to_str().unwrap(), "--sig-version", "9"]);
        assert!(ok, "{err}");
        assert_eq!(field(&signed, "code hash"), WETH9_HASH);
        assert_eq!(field(&signed, "signer"), field(&keys, "public"));
        let trust_flag = if scheme == "ed25519" { "--trust-ed25519" } else { "--trust-address" };
        let signature = field(&signed, "signature");
        let public = field(&keys, "public");
        let args = ["verify", WETH9, "--level", "strict", "--scheme", scheme, "--signature", signature, "--sig-version", "9", trust_flag, public, "--json"];
        let (ok, json, err) = ebc(&args);
        assert!(ok, "{scheme}: {err}");
        assert!(json.contains("\"verdict\":\"accepted\""), "{json}");
        assert!(json.contains("\"trust\":\"fully-trusted\""), "{json}");
        // The same signature with another version label is a forgery.
        let mut forged = args;
        forged[9] = "10";
        let (ok, json, _) = ebc(&forged);
        assert!(!ok && json.contains("EBC_SIGNATURE_INVALID"), "{json}");
    }
}

#[test]
fn verify_json_reports_findings_of_old_solc_code() {
    let dir = std::env::temp_dir().join(format!("ebc-cli-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("throw.hex");
    std::fs::write(&path, "60606040526008565b600256").unwrap();
    let (ok, json, _) = ebc(&["verify", path.to_str().unwrap(), "--json"]);
    assert!(ok);
    assert!(json.contains("\"kind\":\"invalid-jumpdest\",\"offset\":11"), "{json}");
    assert!(json.contains("\"status\":\"verified-with-findings\""), "{json}");
}

#[test]
fn import_inspect_and_export_the_corpus_through_a_sqlite_store() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
    let dir = std::env::temp_dir().join(format!("ebc-cli-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("corpus.db");
    let (ok, out, err) = ebc(&["import", corpus, "--store", db.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(field(&out, "imported"), "2000 addresses, 12903904 bytes of code");
    assert!(err.contains("importing") && err.contains("2000/2000"), "progress on stderr: {err}");

    // WETH9's mainnet address, loaded by address from the store.
    let weth = WETH9_ADDRESS;
    let uri = format!("sqlite:{}", db.display());
    let (ok, out, err) = ebc(&["inspect", &uri, "--address", weth]);
    assert!(ok, "{err}");
    assert_eq!(field(&out, "code hash"), WETH9_HASH);
    let (ok, _, err) = ebc(&["inspect", &uri, "--address", "0x00000000000000000000000000000000000000ee"]);
    assert!(!ok && err.contains("EBC_NOT_FOUND"), "{err}");

    let out_dir = dir.join("exported");
    let (ok, out, err) = ebc(&["export", "--store", &uri, out_dir.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(field(&out, "exported"), "2000 addresses, 12903904 bytes of code");
    let exported = std::fs::read(out_dir.join(format!("{weth}.bin"))).unwrap();
    let original = std::fs::read_to_string(WETH9).unwrap();
    assert_eq!(ebc::codec::decode_hex(original.as_bytes(), "WETH9").unwrap(), exported);

    // The export imports again, as a directory of files named by address.
    let again = dir.join("again.db");
    let (ok, out, err) = ebc(&["import", out_dir.to_str().unwrap(), "--store", again.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(field(&out, "imported"), "2000 addresses, 12903904 bytes of code");
}

/// A fresh directory for test `name`, holding `codes/` with WETH9's code
/// named by its address, as `ebc import` reads a directory of files.
fn dir_with_weth9(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ebc-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("codes")).unwrap();
    std::fs::copy(WETH9, dir.join(format!("codes/{WETH9_ADDRESS}.hex"))).unwrap();
    dir
}

#[test]
fn import_reads_hex_files_and_refuses_misnamed_ones() {
    let dir = dir_with_weth9("hexdir");
    std::fs::write(dir.join("codes/README.txt"), "not code").unwrap();
    let db = dir.join("hex.db");
    let (ok, out, err) = ebc(&["import", dir.join("codes").to_str().unwrap(), "--store", db.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(field(&out, "imported"), "1 addresses, 3124 bytes of code");

    std::fs::write(dir.join("codes/weth.hex"), "6000").unwrap();
    let (ok, _, err) = ebc(&["import", dir.join("codes").to_str().unwrap(), "--store", db.to_str().unwrap()]);
    assert!(!ok && err.contains("weth.hex") && err.contains("EBC_INVALID_ARGUMENT"), "{err}");
    let (ok, _, err) = ebc(&["export", "--store", dir.join("none.db").to_str().unwrap(), dir.join("x").to_str().unwrap()]);
    assert!(!ok && err.contains("EBC_NOT_FOUND"), "{err}");
}

#[test]
fn import_can_store_code_compressed_and_loads_decompress_it() {
    let dir = dir_with_weth9("compressed");
    let weth = WETH9_ADDRESS;
    let codes = dir.join("codes");
    for scheme in ["none", "gzip", "zstd", "lz4"] {
        let db = dir.join(format!("{scheme}.db"));
        let (ok, out, err) = ebc(&["import", codes.to_str().unwrap(), "--store", db.to_str().unwrap(), "--compress", scheme]);
        assert!(ok, "{scheme}: {err}");
        assert_eq!(field(&out, "imported"), "1 addresses, 3124 bytes of code");
        let stored = field(&out, "stored");
        let stored_bytes: usize = stored.split(' ').next().unwrap().parse().unwrap();
        assert!(stored.ends_with(&format!("({scheme})")), "{stored}");
        if scheme == "none" {
            assert_eq!(stored_bytes, 3124);
        } else {
            assert!(stored_bytes < 3124 * 9 / 10, "{scheme} kept {stored_bytes} of 3124 bytes");
        }
        let uri = format!("sqlite:{}", db.display());
        let (ok, out, err) = ebc(&["inspect", &uri, "--address", weth]);
        assert!(ok, "{scheme}: {err}");
        assert_eq!(field(&out, "code hash"), WETH9_HASH, "{scheme}");
        let out_dir = dir.join(format!("exported-{scheme}"));
        let (ok, _, err) = ebc(&["export", "--store", &uri, out_dir.to_str().unwrap()]);
        assert!(ok, "{scheme}: {err}");
        assert_eq!(std::fs::read(out_dir.join(format!("{weth}.bin"))).unwrap().len(), 3124);
    }
    let (ok, _, err) = ebc(&["import", codes.to_str().unwrap(), "--store", "x.db", "--compress", "brotli"]);
    assert!(!ok && err.contains("brotli"), "{err}");
}

#[test]
fn import_can_sign_each_code_and_strict_loads_from_the_store_accept_it() {
    let dir = dir_with_weth9("signed");
    let weth = WETH9_ADDRESS;
    let codes = dir.join("codes");
    for scheme in ["ed25519", "secp256k1"] {
        let (_, keys, _) = ebc(&["keygen", "--scheme", scheme]);
        let key_file = dir.join(format!("{scheme}.key"));
        std::fs::write(&key_file, field(&keys, "secret")).unwrap();
        let db = dir.join(format!("{scheme}.db"));
        let import = ["import", codes.to_str().unwrap(), "--store", db.to_str().unwrap(), "--compress", "zstd"];
        let signing = ["--sign-key-file", key_file.to_str().unwrap(), "--scheme", scheme, "--sig-version", "7"];
        let (ok, _, err) = ebc(&[&import[..], &signing[..]].concat());
        assert!(ok, "{scheme}: {err}");

        let uri = format!("sqlite:{}", db.display());
        let trust_flag = if scheme == "ed25519" { "--trust-ed25519" } else { "--trust-address" };
        let strict = ["verify", &uri, "--address", weth, "--level", "strict"];
        let (ok, out, err) = ebc(&[&strict[..], &[trust_flag, field(&keys, "public")]].concat());
        assert!(ok, "{scheme}: {err}");
        assert_eq!(field(&out, "code hash"), WETH9_HASH);
        assert_eq!(field(&out, "trust"), "fully-trusted", "{out}");
        // The same store, with the publisher not trusted, is refused.
        let (ok, _, err) = ebc(&strict);
        assert!(!ok && err.contains("EBC_SIGNATURE_INVALID"), "{scheme}: {err}");
    }
}
