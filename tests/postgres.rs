//! The PostgreSQL code store (`postgres://`) against a real server on
//! 127.0.0.1 (one per test, from `scripts/postgres.sh`): the corpus loads
//! by address; a restart mid-load and a server that is down give clear
//! statuses, cached code keeps being served, and loads succeed again once
//! the server is back; a server that never answers costs one time limit.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::postgres::Postgres;
use ebc::source::store::{CodeStore, StoreEntry};
use ebc::source::transfer::{self, ImportItem};
use ebc::source::PostgresStore;
use ebc::{Address, Config, LoadOptions, Manager, SecurityLevel, Status};

fn corpus() -> Vec<ImportItem> {
    let items = transfer::scan(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")).unwrap();
    assert_eq!(items.len(), 2000, "the corpus has 2,000 contracts");
    items
}

/// The server with `items` imported.
fn server_with(name: &str, items: &[ImportItem]) -> Option<Postgres> {
    let server = Postgres::start(name)?;
    let store = PostgresStore::open(&server.url, true, 10_000).unwrap();
    transfer::import(&store, items, ebc::config::EIP170_MAX_CODE_SIZE, &mut |_, _| {}).unwrap();
    assert_eq!(store.len().unwrap(), items.len() as u64);
    Some(server)
}

fn new_manager(timeout_ms: u64) -> Manager {
    Manager::new(Config {
        security_level: SecurityLevel::Basic,
        max_cached_contracts: 4096,
        max_cache_bytes: 256 * 1024 * 1024,
        loader_timeout_ms: timeout_ms,
        ..Config::testing()
    })
    .unwrap()
}

/// A failure a caller can act on: the server is away or slow.
fn unavailable(status: Status) -> bool {
    matches!(status, Status::Io | Status::Timeout)
}

#[test]
fn every_corpus_contract_loads_from_postgres_with_its_published_code_hash() {
    let items = corpus();
    let Some(server) = server_with("corpus", &items) else { return };
    let manager = new_manager(5_000);
    let loaded = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let (manager, items, server, loaded) = (&manager, &items, &server, &loaded);
            scope.spawn(move || {
                for item in items.iter().skip(worker).step_by(4) {
                    let code = manager.load(&item.address, Some(&server.url), &LoadOptions::default()).unwrap();
                    assert_eq!(Some(code.code_hash()), item.expected_code_hash, "{}", item.path.display());
                    loaded.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(loaded.load(Ordering::Relaxed), 2000);

    // More workers than the pool has connections: they take turns.
    let busy = new_manager(5_000);
    let preload: Vec<ebc::PreloadItem> = items[..400]
        .iter()
        .map(|i| ebc::PreloadItem { address: i.address, uri: Some(server.url.clone()), priority: ebc::Priority::Normal })
        .collect();
    for (result, item) in busy.preload_items(&preload, 40).into_iter().zip(&items) {
        assert_eq!(Some(result.unwrap().code_hash()), item.expected_code_hash);
    }

    let err = manager.load(&Address::repeat_byte(0xee), Some(&server.url), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "{err}");

    // A host that calls from inside an async runtime is served too.
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let reload = LoadOptions { reload: true, ..LoadOptions::default() };
    let code = runtime.block_on(async { manager.load(&items[7].address, Some(&server.url), &reload) }).unwrap();
    assert_eq!(Some(code.code_hash()), items[7].expected_code_hash);

    // Stored bytes over the cap are refused by the query.
    let writer = PostgresStore::open(&server.url, true, 10_000).unwrap();
    let big = StoreEntry::new(Address::repeat_byte(0x61), "big", vec![0x5b; 60_000]);
    writer.put(std::slice::from_ref(&big)).unwrap();
    let err = manager.load(&big.address, Some(&server.url), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::TooLarge, "{err}");

    // A database without the schema is named as such.
    let plain = format!("{}/template1", server.url.rsplit_once('/').unwrap().0);
    let err = manager.load(&items[0].address, Some(&plain), &reload).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument, "{err}");
    assert!(err.to_string().contains("not an ebc code store"), "{err}");
}

#[test]
fn a_restart_mid_load_fails_only_the_loads_it_cut_and_they_succeed_after() {
    let items = corpus();
    let Some(server) = server_with("restart", &items) else { return };
    let manager = new_manager(5_000);
    let done = AtomicUsize::new(0);
    let mut failures: Vec<(usize, ebc::Error)> = Vec::new();
    std::thread::scope(|scope| {
        let loader = scope.spawn(|| {
            let mut failed = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match manager.load(&item.address, Some(&server.url), &LoadOptions::default()) {
                    Ok(code) => assert_eq!(Some(code.code_hash()), item.expected_code_hash),
                    Err(e) => failed.push((i, e)),
                }
                done.fetch_add(1, Ordering::Release);
            }
            failed
        });
        while done.load(Ordering::Acquire) < 300 {
            std::thread::sleep(Duration::from_millis(5));
        }
        server.restart();
        failures = loader.join().unwrap();
    });
    assert!(done.load(Ordering::Acquire) == 2000);
    eprintln!("{} of 2000 loads failed across the restart", failures.len());
    for (i, e) in &failures {
        assert!(unavailable(e.status()), "load {i}: {e}");
        assert!(manager.get(&items[*i].address).is_none(), "a failed load is not cached");
    }
    for (i, _) in &failures {
        let code = manager.load(&items[*i].address, Some(&server.url), &LoadOptions::default()).unwrap();
        assert_eq!(Some(code.code_hash()), items[*i].expected_code_hash);
    }
    // Every address is served now, from the cache or the restarted server.
    for item in &items {
        manager.load(&item.address, Some(&server.url), &LoadOptions::default()).unwrap();
    }
}

#[test]
fn while_the_server_is_down_cached_code_is_served_and_new_loads_fail_until_it_is_back() {
    let items = corpus();
    let Some(server) = server_with("down", &items[..200]) else { return };
    let manager = new_manager(2_000);
    let (cached, fresh) = items[..200].split_at(100);
    for item in cached {
        manager.load(&item.address, Some(&server.url), &LoadOptions::default()).unwrap();
    }
    server.stop();
    for item in cached {
        let code = manager.load(&item.address, Some(&server.url), &LoadOptions::default()).unwrap();
        assert_eq!(Some(code.code_hash()), item.expected_code_hash);
    }
    for item in &fresh[..10] {
        let err = manager.load(&item.address, Some(&server.url), &LoadOptions::default()).unwrap_err();
        assert!(unavailable(err.status()), "{err}");
        assert!(err.to_string().contains(&format!("127.0.0.1:{}", server.port)), "{err}");
        assert!(manager.get(&item.address).is_none(), "a failed load is not cached");
    }
    server.resume();
    for item in fresh {
        let code = manager.load(&item.address, Some(&server.url), &LoadOptions::default()).unwrap();
        assert_eq!(Some(code.code_hash()), item.expected_code_hash);
    }
}

#[test]
fn a_server_that_never_answers_costs_one_time_limit() {
    // Accepted by the kernel's backlog, never spoken to.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", silent.local_addr().unwrap().port());
    let manager = new_manager(300);
    let started = Instant::now();
    let err = manager.load(&Address::repeat_byte(1), Some(&url), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    assert!(err.to_string().contains("300 ms"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "the load returned ({:?})", started.elapsed());

    // A closed port is refused at once, as I/O.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://postgres@127.0.0.1:{closed}/postgres");
    let err = manager.load(&Address::repeat_byte(1), Some(&url), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::Io, "{err}");
    drop(silent);
}

#[test]
fn a_statement_stuck_behind_a_lock_times_out_and_the_next_load_succeeds() {
    let items = corpus();
    let Some(server) = server_with("lock", &items[..20]) else { return };
    let manager = new_manager(500);
    manager.load(&items[0].address, Some(&server.url), &LoadOptions::default()).unwrap();

    // Another session holds the table: statements on it wait.
    let mut holder = std::process::Command::new("psql")
        .args(["-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", &server.url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run psql");
    let mut input = holder.stdin.take().unwrap();
    use std::io::{BufRead, Write};
    writeln!(input, "BEGIN; LOCK TABLE ebc_address IN ACCESS EXCLUSIVE MODE; SELECT 'locked';").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("locked"), "{line}");

    let started = Instant::now();
    let err = manager.load(&items[1].address, Some(&server.url), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    assert!(err.to_string().contains("500 ms"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(manager.get(&items[1].address).is_none());

    writeln!(input, "COMMIT;").unwrap();
    drop(input);
    assert!(holder.wait().unwrap().success());
    let code = manager.load(&items[1].address, Some(&server.url), &LoadOptions::default()).unwrap();
    assert_eq!(Some(code.code_hash()), items[1].expected_code_hash);
}
