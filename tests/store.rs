//! The SQLite code store (`sqlite:<path>`): the whole mainnet corpus
//! imported and loaded by address, readers beside a writer, signatures
//! stored with a mapping, and hostile files (not a database, damaged pages,
//! a tampered row) that fail with a clear status and are never cached.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ebc::signing::{Publisher, Scheme, sign};
use ebc::source::store::{CodeStore, StoreEntry};
use ebc::source::transfer::{self, ImportItem};
use ebc::source::SqliteStore;
use ebc::{Address, Config, LoadOptions, Manager, SecurityLevel, Status, TrustLevel};

fn corpus() -> Vec<ImportItem> {
    let items = transfer::scan(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")).unwrap();
    assert_eq!(items.len(), 2000, "the corpus has 2,000 contracts");
    items
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ebc-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A store at `dir/corpus.db` holding `items`.
fn imported(dir: &Path, items: &[ImportItem]) -> PathBuf {
    let path = dir.join("corpus.db");
    let store = SqliteStore::open(&path, true).unwrap();
    let report = transfer::import(&store, items, ebc::config::EIP170_MAX_CODE_SIZE, &mut |_, _| {}).unwrap();
    assert_eq!(report.addresses, items.len());
    path
}

fn manager(level: SecurityLevel) -> Manager {
    Manager::new(Config {
        security_level: level,
        max_cached_contracts: 4096,
        max_cache_bytes: 256 * 1024 * 1024,
        ..Config::testing()
    })
    .unwrap()
}

fn uri(path: &Path) -> String {
    format!("sqlite:{}", path.display())
}

#[test]
fn every_corpus_contract_loads_from_sqlite_with_its_published_code_hash() {
    let items = corpus();
    let dir = temp_dir("corpus");
    let path = imported(&dir, &items);
    let manager = manager(SecurityLevel::Standard);
    for item in &items {
        let code = manager.load(&item.address, Some(&uri(&path)), &LoadOptions::default()).unwrap();
        assert_eq!(Some(code.code_hash()), item.expected_code_hash, "{}", item.path.display());
        assert_eq!(code.metadata().load_method, ebc::LoaderType::Database);
    }
    let unknown = manager.load(&Address::repeat_byte(0xee), Some(&uri(&path)), &LoadOptions::default()).unwrap_err();
    assert_eq!(unknown.status(), Status::NotFound, "{unknown}");
    assert!(unknown.to_string().contains(&path.display().to_string()), "{unknown}");
}

#[test]
fn a_file_that_is_not_a_database_fails_with_io_naming_it_and_is_not_cached() {
    let dir = temp_dir("garbage");
    let path = dir.join("garbage.db");
    std::fs::write(&path, vec![0x5a; 64 * 1024]).unwrap();
    let manager = manager(SecurityLevel::Basic);
    let address = Address::repeat_byte(1);
    for _ in 0..2 {
        let err = manager.load(&address, Some(&uri(&path)), &LoadOptions::default()).unwrap_err();
        assert_eq!(err.status(), Status::Io, "{err}");
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()) && text.contains("not a database"), "{text}");
    }
    assert!(manager.get(&address).is_none(), "a failed load is not cached");
    let missing = dir.join("missing.db");
    let err = manager.load(&address, Some(&uri(&missing)), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "{err}");
    assert!(!missing.exists(), "a load never creates a store");
}

#[test]
fn damaged_pages_give_clear_statuses_and_never_wrong_code() {
    let items = corpus();
    let dir = temp_dir("damaged");
    let path = imported(&dir, &items[..400]);
    let mut bytes = std::fs::read(&path).unwrap();
    // Overwrite every fifth 4 KiB page after the first with a pattern:
    // b-tree pages and code pages alike.
    let mut page = 4096;
    while page + 4096 <= bytes.len() {
        bytes[page + 100..page + 4000].fill(0xa5);
        page += 5 * 4096;
    }
    std::fs::write(&path, &bytes).unwrap();
    let manager = manager(SecurityLevel::Basic);
    let mut failed = 0;
    for item in &items[..400] {
        match manager.load(&item.address, Some(&uri(&path)), &LoadOptions::default()) {
            Ok(code) => assert_eq!(Some(code.code_hash()), item.expected_code_hash, "wrong code served"),
            Err(e) => {
                failed += 1;
                let clear = [Status::Io, Status::ChecksumMismatch, Status::InvalidArgument, Status::NotFound, Status::TooLarge];
                assert!(clear.contains(&e.status()), "{e}");
                assert!(manager.get(&item.address).is_none(), "a failed load is not cached");
            }
        }
    }
    assert!(failed > 0, "the damage was noticed");
}

#[test]
fn a_row_whose_bytes_do_not_hash_to_its_code_hash_is_a_checksum_mismatch() {
    let items = corpus();
    let dir = temp_dir("tampered");
    let path = imported(&dir, &items[..3]);
    let connection = rusqlite::Connection::open(&path).unwrap();
    let changed = connection
        .execute("UPDATE ebc_code SET bytes = x'6001600055' WHERE code_hash = ?1", [items[1].expected_code_hash.unwrap().as_slice()])
        .unwrap();
    assert_eq!(changed, 1);
    drop(connection);
    let manager = manager(SecurityLevel::Basic);
    let err = manager.load(&items[1].address, Some(&uri(&path)), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::ChecksumMismatch, "{err}");
    assert!(err.to_string().contains("the code hash the source recorded"), "{err}");
    assert!(manager.get(&items[1].address).is_none());
    manager.load(&items[0].address, Some(&uri(&path)), &LoadOptions::default()).unwrap();
}

#[test]
fn loads_read_while_an_import_writes() {
    let items = corpus();
    let dir = temp_dir("concurrent");
    let path = imported(&dir, &items[..500]);
    let writer = SqliteStore::open(&path, true).unwrap();
    let manager = manager(SecurityLevel::Basic);
    let writing = AtomicBool::new(true);
    let loads = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for reader in 0..3 {
            let (manager, writing, loads, items, path) = (&manager, &writing, &loads, &items, &path);
            scope.spawn(move || {
                let options = LoadOptions { reload: true, ..LoadOptions::default() };
                let mut i = reader;
                while writing.load(Ordering::Acquire) || i < 500 {
                    let item = &items[i % 500];
                    let code = manager.load(&item.address, Some(&uri(path)), &options).unwrap();
                    assert_eq!(Some(code.code_hash()), item.expected_code_hash);
                    loads.fetch_add(1, Ordering::Relaxed);
                    i += 3;
                }
            });
        }
        for batch in items[500..].chunks(50) {
            let entries: Vec<StoreEntry> = batch.iter().map(|item| transfer::read_item(item, 24_576).unwrap()).collect();
            writer.put(&entries).unwrap();
        }
        writing.store(false, Ordering::Release);
    });
    assert_eq!(writer.len().unwrap(), 2000);
    assert!(loads.load(Ordering::Relaxed) >= 500);
    let last = &items[1999];
    let code = manager.load(&last.address, Some(&uri(&path)), &LoadOptions::default()).unwrap();
    assert_eq!(Some(code.code_hash()), last.expected_code_hash, "what the writer committed is read");
}

#[test]
fn a_stored_signature_reaches_the_signature_check() {
    let dir = temp_dir("signed");
    let path = dir.join("signed.db");
    let store = SqliteStore::open(&path, true).unwrap();
    let secret = [7u8; 32];
    let code = vec![0x60, 0x2a, 0x60, 0x00, 0x55, 0x00];
    let mut signed = StoreEntry::new(Address::repeat_byte(0x51), "publisher", code.clone());
    let (signature, _) = sign(Scheme::Ed25519, &secret, &signed.code.code_hash, "1.0").unwrap();
    signed.version = "1.0".into();
    signed.signature = Some(signature);
    let unsigned = StoreEntry::new(Address::repeat_byte(0x52), "publisher", code);
    store.put(&[signed.clone(), unsigned.clone()]).unwrap();

    let strict = manager(SecurityLevel::Strict);
    let public: [u8; 32] = ebc::signing::identity(Scheme::Ed25519, &secret).unwrap().try_into().unwrap();
    let err = strict.load(&signed.address, Some(&uri(&path)), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::SignatureInvalid, "an untrusted publisher: {err}");
    strict.trust_ed25519(public, Publisher { name: "p".into(), trust: TrustLevel::FullyTrusted }).unwrap();
    let code = strict.load(&signed.address, Some(&uri(&path)), &LoadOptions::default()).unwrap();
    assert_eq!(code.security().trust, TrustLevel::FullyTrusted);
    assert_eq!(code.metadata().version.as_deref(), Some("1.0"));
    let err = strict.load(&unsigned.address, Some(&uri(&path)), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::SignatureInvalid, "unsigned code at Strict: {err}");
}

#[test]
fn stored_code_past_the_size_limit_is_too_large() {
    let dir = temp_dir("large");
    let path = dir.join("large.db");
    let store = SqliteStore::open(&path, true).unwrap();
    let big = StoreEntry::new(Address::repeat_byte(0x61), "big", vec![0x5b; 60_000]);
    store.put(std::slice::from_ref(&big)).unwrap();
    let err = manager(SecurityLevel::Basic).load(&big.address, Some(&uri(&path)), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::TooLarge, "{err}");
}

#[test]
fn at_standard_a_store_outside_the_file_roots_is_refused() {
    let dir = temp_dir("roots");
    let path = imported(&dir, &corpus()[..1]);
    let elsewhere = temp_dir("roots-allowed");
    let manager = Manager::new(Config {
        security_level: SecurityLevel::Standard,
        allowed_file_roots: vec![elsewhere],
        ..Config::testing()
    })
    .unwrap();
    let err = manager.load(&corpus()[0].address, Some(&uri(&path)), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::SecurityViolation, "{err}");
}
