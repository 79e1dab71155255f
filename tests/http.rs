//! The HTTP(S) source against a real server on loopback that misbehaves on
//! demand: raw and hex bodies, configured headers, 404, retries after 503,
//! a server that never answers, one that streams forever, one that declares
//! ten times the size limit, one that hangs up. Each failure has its status
//! and the manager stays usable; nothing failed is cached.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::server::{Reply, Server};
use ebc::{Address, Config, Header, LoadOptions, LoaderType, Manager, SecurityLevel, Status};

const WETH9_HEX: &str = include_str!("../contracts/WETH9.hex");

fn weth9() -> Vec<u8> {
    ebc::codec::decode_hex(WETH9_HEX.as_bytes(), "WETH9").unwrap()
}

fn manager(timeout_ms: u64) -> Manager {
    Manager::new(Config { loader_timeout_ms: timeout_ms, ..Config::testing() }).unwrap()
}

fn load(m: &Manager, n: u8, uri: &str) -> ebc::Result<Arc<ebc::ExternalBytecode>> {
    m.load(&Address::repeat_byte(n), Some(uri), &LoadOptions::default())
}

#[test]
fn raw_and_hex_bodies_load_by_content_type() {
    let server = Server::start(|seen| match seen.path.as_str() {
        "/raw" => Reply::Respond(200, "application/octet-stream", weth9()),
        "/hex" => Reply::Respond(200, "text/plain; charset=utf-8", WETH9_HEX.as_bytes().to_vec()),
        // Untyped: told apart by content.
        "/guess" => Reply::Respond(200, "application/x-unknown", WETH9_HEX.as_bytes().to_vec()),
        _ => Reply::Respond(404, "text/plain", b"no".to_vec()),
    });
    let m = manager(5_000);
    for (n, path) in [(1, "raw"), (2, "hex"), (3, "guess")] {
        let code = load(&m, n, &format!("{}/{path}", server.url())).unwrap();
        assert_eq!(code.code(), &weth9()[..], "{path}");
        assert_eq!(code.metadata().load_method, LoaderType::Http);
    }
    // A host name goes through the system resolver (IP literals do not).
    let by_name = format!("http://localhost:{}/raw", server.port);
    assert_eq!(load(&m, 5, &by_name).unwrap().code(), &weth9()[..]);
    // Raw bytes that happen to be hex digits stay raw when typed so.
    let digits = b"6060".to_vec();
    let server2 = Server::start(move |_| Reply::Respond(200, "application/octet-stream", digits.clone()));
    let code = load(&m, 4, &server2.url()).unwrap();
    assert_eq!(code.code(), b"6060", "octet-stream is never hex-decoded");
}

#[test]
fn compressed_bodies_are_unpacked_by_type_or_magic() {
    use std::io::Write;
    let gzip = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let raw_gz = gzip(&weth9());
    let hex_gz = gzip(WETH9_HEX.as_bytes());
    let server = Server::start(move |seen| match seen.path.as_str() {
        "/raw.gz" => Reply::Respond(200, "application/gzip", raw_gz.clone()),
        "/hex.gz" => Reply::Respond(200, "application/octet-stream", hex_gz.clone()),
        _ => Reply::Respond(404, "text/plain", Vec::new()),
    });
    let m = manager(5_000);
    for (n, path) in [(1, "raw.gz"), (2, "hex.gz")] {
        let code = load(&m, n, &format!("{}/{path}", server.url())).unwrap();
        assert_eq!(code.code(), &weth9()[..], "{path}");
        assert_eq!(code.metadata().compression, ebc::Compression::Gzip, "{path}");
    }
}

#[test]
fn configured_headers_are_sent_and_never_shown() {
    let server = Server::start(|seen| {
        let key = seen.headers.iter().find(|(n, _)| n == "x-api-key").map(|(_, v)| v.as_str());
        match key {
            Some("s3cret-key") => Reply::Respond(200, "application/octet-stream", weth9()),
            _ => Reply::Respond(401, "text/plain", b"who are you".to_vec()),
        }
    });
    let bare = manager(5_000);
    let err = load(&bare, 1, &server.url()).unwrap_err();
    assert_eq!(err.status(), Status::Io, "{err}");
    assert!(err.to_string().contains("HTTP 401"), "{err}");

    let config = Config { http_headers: vec![Header::new("X-Api-Key", "s3cret-key")], ..Config::testing() };
    assert!(!format!("{config:?}").contains("s3cret"), "Debug output hides header values");
    let m = Manager::new(config).unwrap();
    load(&m, 1, &server.url()).unwrap();
}

#[test]
fn not_found_is_not_found_and_not_cached() {
    let server = Server::start(|_| Reply::Respond(404, "text/plain", b"gone".to_vec()));
    let m = manager(5_000);
    let err = load(&m, 1, &format!("{}/x", server.url())).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "{err}");
    assert!(err.to_string().contains("/x"), "the message names the URI: {err}");
    assert!(m.get(&Address::repeat_byte(1)).is_none());
    // A password in the URI is not shown.
    let with_password = format!("http://ebc:s3cret@127.0.0.1:{}/x", server.port);
    let err = load(&m, 2, &with_password).unwrap_err();
    assert!(err.to_string().contains("ebc:***@") && !err.to_string().contains("s3cret"), "{err}");
}

#[test]
fn server_errors_are_retried_with_backoff_then_given_up() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // 503, 429, then the code.
    let server = Server::start(move |_| match seen.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::Respond(503, "text/plain", b"busy".to_vec()),
        1 => Reply::Respond(429, "text/plain", b"slow down".to_vec()),
        _ => Reply::Respond(200, "application/octet-stream", weth9()),
    });
    let m = manager(10_000);
    let started = Instant::now();
    load(&m, 1, &server.url()).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "two retries");
    assert!(started.elapsed() >= Duration::from_millis(300), "backoff of 100 + 200 ms at least");

    let always = Server::start(|_| Reply::Respond(500, "text/plain", b"down".to_vec()));
    let err = load(&m, 2, &always.url()).unwrap_err();
    assert_eq!(err.status(), Status::Io);
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    assert_eq!(always.requests.load(Ordering::SeqCst), 3, "one try and http_retries = 2 retries");

    let no_retry = Manager::new(Config { http_retries: 0, ..Config::testing() }).unwrap();
    let once = Server::start(|_| Reply::Respond(502, "text/plain", Vec::new()));
    load(&no_retry, 3, &once.url()).unwrap_err();
    assert_eq!(once.requests.load(Ordering::SeqCst), 1);
}

#[test]
fn a_silent_server_times_out_on_time() {
    let server = Server::start(|_| Reply::Hang);
    let m = manager(400);
    let started = Instant::now();
    let err = load(&m, 1, &server.url()).unwrap_err();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    // Usable afterwards, and the failure was not cached.
    let good = Server::start(|_| Reply::Respond(200, "application/octet-stream", weth9()));
    load(&m, 1, &good.url()).unwrap();
}

#[test]
fn endless_and_oversized_bodies_stop_at_the_cap() {
    let m = manager(10_000);
    let endless = Server::start(|_| Reply::Endless);
    let started = Instant::now();
    let err = load(&m, 1, &endless.url()).unwrap_err();
    assert_eq!(err.status(), Status::TooLarge, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Ten times the contract limit, declared up front: refused unread
    // (with the source cap derived from the code limit).
    let m = Manager::new(Config { max_source_size: 0, ..Config::testing() }).unwrap();
    let huge = vec![0x5b; 10 * m.config().max_contract_size];
    let big = Server::start(move |_| Reply::Respond(200, "application/octet-stream", huge.clone()));
    let err = load(&m, 2, &big.url()).unwrap_err();
    assert_eq!(err.status(), Status::TooLarge);
    assert!(err.to_string().contains(&format!("{}", 10 * m.config().max_contract_size)), "{err}");
}

#[test]
fn a_dropped_connection_is_an_io_error() {
    let server = Server::start(|_| Reply::Drop);
    let m = Manager::new(Config { http_retries: 0, ..Config::testing() }).unwrap();
    let err = load(&m, 1, &server.url()).unwrap_err();
    assert_eq!(err.status(), Status::Io, "{err}");
    let dead = format!("http://127.0.0.1:{}/", common::free_port());
    let err = load(&m, 2, &dead).unwrap_err();
    assert_eq!(err.status(), Status::Io, "{err}");
    assert!(err.to_string().contains("connect"), "{err}");
}

#[test]
fn hosts_outside_the_allowlist_are_refused_from_standard() {
    let server = Server::start(|_| Reply::Respond(200, "application/octet-stream", weth9()));
    let config = Config {
        security_level: SecurityLevel::Standard,
        allowed_hosts: vec!["code.example".into()],
        ..Config::testing()
    };
    let m = Manager::new(config).unwrap();
    let err = load(&m, 1, &server.url()).unwrap_err();
    assert_eq!(err.status(), Status::SecurityViolation, "{err}");
    assert_eq!(server.requests.load(Ordering::SeqCst), 0, "no request leaves for a refused host");
}
