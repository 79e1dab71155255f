//! HTTP(S) sources, on ureq with rustls: the [`HttpClient`] every network
//! source shares (bounded streaming into a [`Sink`], timeouts from the load's
//! deadline, bounded retries with backoff and jitter) and the [`HttpLoader`]
//! for `http://` and `https://` URIs.
//!
//! A response body is streamed into the sink chunk by chunk, so it is never
//! buffered past the sink's cap; a declared `Content-Length` above the cap
//! is refused before the body is read. Configured headers (API keys) are
//! sent with every request and appear in no message.

use std::io::Read;
use std::time::{Duration, Instant};

use super::{Encoding, Loader, LoaderType, Request, Sink};
use crate::bytecode::Compression;
use crate::config::Header;
use crate::error::{Error, Result};

/// How long a read may stall when a load has no deadline: a silent server
/// must not hold a thread forever even when the host disabled timeouts.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// Bytes read from a response body per write into the sink.
const CHUNK: usize = 16 * 1024;

/// The settings of an [`HttpClient`].
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Sent with every request (API keys, authorisation). Never logged.
    pub headers: Vec<Header>,
    /// Retries after a 429, a 5xx or a failed connection (0 = one attempt).
    pub retries: u32,
    /// The first backoff; each retry doubles it, plus up to 50% jitter.
    pub backoff_ms: u64,
    /// Longest time to set up a connection, within the load's deadline.
    pub connect_timeout_ms: u64,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions { headers: Vec::new(), retries: 2, backoff_ms: 100, connect_timeout_ms: 2_000 }
    }
}

/// What a successful response said about its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status (2xx).
    pub status: u16,
    /// The media type, without parameters, lower case.
    pub content_type: Option<String>,
}

/// An HTTP(S) client shared by the network sources. Thread-safe; keeps
/// connections alive between requests.
pub struct HttpClient {
    agent: ureq::Agent,
    options: HttpOptions,
}

/// One attempt's outcome when it did not succeed: whether to try again.
enum Attempt {
    Retry(Error),
    Fail(Error),
}

impl HttpClient {
    /// A client with `options`.
    pub fn new(options: HttpOptions) -> HttpClient {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(5)
            .user_agent(concat!("ebc/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::with_parts(config, ureq::unversioned::transport::DefaultConnector::new(), LiteralFirst);
        HttpClient { agent, options }
    }

    /// GETs `url` and streams a 2xx body into `sink`; `accept` is sent as the
    /// Accept header. 404 and 410 are [`Error::NotFound`].
    pub fn get(&self, url: &str, accept: Option<&str>, sink: &mut Sink) -> Result<Response> {
        self.exchange(url, sink, |agent, timeouts| {
            let request = agent.get(url).header("Accept", accept.unwrap_or("*/*"));
            timeouts.apply(request, &self.options.headers).call()
        })
    }

    /// POSTs `body` as `application/json` to `url` and streams a 2xx
    /// response into `sink`.
    pub fn post_json(&self, url: &str, body: &[u8], sink: &mut Sink) -> Result<Response> {
        self.exchange(url, sink, |agent, timeouts| {
            let request = agent.post(url).header("Content-Type", "application/json");
            timeouts.apply(request, &self.options.headers).send(body)
        })
    }

    /// Runs `send` until it succeeds, fails for good, runs out of retries,
    /// or the sink's deadline would pass during the backoff.
    fn exchange<F>(&self, url: &str, sink: &mut Sink, send: F) -> Result<Response>
    where
        F: Fn(&ureq::Agent, &Timeouts) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    {
        let shown = super::redact_password(url);
        let url = shown.as_str(); // messages never carry the password
        let mut attempt = 0u32;
        loop {
            let timeouts = Timeouts::for_sink(sink, self.options.connect_timeout_ms, url)?;
            let outcome = match send(&self.agent, &timeouts) {
                Ok(response) => self.receive(url, response, sink),
                Err(e) => Err(classify(url, e, &timeouts)),
            };
            let error = match outcome {
                Ok(response) => return Ok(response),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(e)) => e,
            };
            if attempt >= self.options.retries {
                return Err(error);
            }
            let pause = backoff(self.options.backoff_ms, attempt);
            if sink.time_left().is_some_and(|left| left <= pause) {
                return Err(error);
            }
            std::thread::sleep(pause);
            attempt += 1;
        }
    }

    /// Checks the status and streams the body into `sink`.
    fn receive(
        &self,
        url: &str,
        mut response: ureq::http::Response<ureq::Body>,
        sink: &mut Sink,
    ) -> std::result::Result<Response, Attempt> {
        let status = response.status().as_u16();
        match status {
            200..=299 => {}
            404 | 410 => return Err(Attempt::Fail(Error::NotFound(format!("{url}: HTTP {status}")))),
            429 | 500..=599 => return Err(Attempt::Retry(http_error(url, status))),
            _ => return Err(Attempt::Fail(http_error(url, status))),
        }
        let body = response.body_mut();
        if let Some(length) = body.content_length() {
            if length > sink.remaining() as u64 {
                return Err(Attempt::Fail(Error::TooLarge {
                    what: url.to_owned(),
                    limit: sink.limit() as u64,
                    size: Some(length),
                }));
            }
        }
        let content_type = body.mime_type().map(|m| m.to_ascii_lowercase());
        let mut reader = body.as_reader();
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Attempt::Fail(read_error(url, e, sink))),
            };
            sink.write(&chunk[..n]).map_err(Attempt::Fail)?;
        }
        Ok(Response { status, content_type })
    }
}

/// A resolver that answers IP literals (`127.0.0.1`, `[::1]`) itself. ureq's
/// own resolver, when a request has a time limit, resolves on a new thread
/// every request, literals included: a thread per JSON-RPC call to a local
/// node, most of its round trip.
#[derive(Debug)]
struct LiteralFirst;

impl ureq::unversioned::resolver::Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> std::result::Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let literal = uri.host().and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().ok());
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        match (literal, port) {
            (Some(ip), Some(port)) => {
                let mut addresses = self.empty();
                addresses.push(std::net::SocketAddr::new(ip, port));
                Ok(addresses)
            }
            _ => ureq::unversioned::resolver::DefaultResolver::default().resolve(uri, config, timeout),
        }
    }
}

/// The timeouts of one attempt: what is left of the load's deadline.
struct Timeouts {
    total: Option<Duration>,
    connect: Duration,
    limit_ms: u64,
}

impl Timeouts {
    fn for_sink(sink: &Sink, connect_ms: u64, url: &str) -> Result<Timeouts> {
        sink.check_deadline()?;
        let total = sink.time_left();
        if total.is_some_and(|t| t.is_zero()) {
            sink.check_deadline()?;
            return Err(Error::Timeout { what: format!("GET {url}"), limit_ms: 0 });
        }
        let connect = Duration::from_millis(connect_ms.max(1));
        let connect = total.map_or(connect, |t| t.min(connect));
        let limit_ms = total.map_or(0, |t| t.as_millis() as u64);
        Ok(Timeouts { total, connect, limit_ms })
    }

    /// `request` with these timeouts and `headers`.
    fn apply<B>(&self, mut request: ureq::RequestBuilder<B>, headers: &[Header]) -> ureq::RequestBuilder<B> {
        for header in headers {
            request = request.header(header.name.as_str(), header.value.as_str());
        }
        let config = request.config().timeout_connect(Some(self.connect));
        match self.total {
            Some(total) => config.timeout_global(Some(total)).build(),
            None => config.timeout_per_read(Some(STALL_LIMIT)).build(),
        }
    }
}

/// Whether a transport error is worth retrying, as an [`Error`].
fn classify(url: &str, error: ureq::Error, timeouts: &Timeouts) -> Attempt {
    match error {
        ureq::Error::Timeout(ureq::Timeout::Connect) => Attempt::Retry(Error::Timeout {
            what: format!("connecting to {url}"),
            limit_ms: timeouts.connect.as_millis() as u64,
        }),
        ureq::Error::Timeout(which) => Attempt::Fail(Error::Timeout {
            what: format!("{url} ({which})"),
            limit_ms: timeouts.limit_ms,
        }),
        ureq::Error::Io(e) if is_connect_failure(&e) => Attempt::Retry(Error::Io {
            what: format!("connecting to {url}"),
            cause: e.to_string(),
        }),
        ureq::Error::Io(e) => Attempt::Fail(Error::Io { what: format!("requesting {url}"), cause: e.to_string() }),
        ureq::Error::BadUri(reason) => Attempt::Fail(Error::InvalidArgument(format!("{url}: {reason}"))),
        ureq::Error::HostNotFound => Attempt::Fail(Error::Io {
            what: format!("resolving the host of {url}"),
            cause: "host not found".into(),
        }),
        ureq::Error::ConnectionFailed => Attempt::Retry(Error::Io {
            what: format!("connecting to {url}"),
            cause: "connection failed".into(),
        }),
        other => Attempt::Fail(Error::Io { what: format!("requesting {url}"), cause: other.to_string() }),
    }
}

fn is_connect_failure(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected)
}

/// A failed body read: the sink's deadline error when it has passed (ureq's
/// global timeout surfaces as an I/O error mid-body), else an I/O error.
fn read_error(url: &str, e: std::io::Error, sink: &Sink) -> Error {
    if let Err(timeout) = sink.check_deadline() {
        return timeout;
    }
    let timed_out = e.kind() == std::io::ErrorKind::TimedOut
        || e.get_ref().is_some_and(|inner| inner.to_string().contains("timeout"));
    if timed_out {
        return Error::Timeout {
            what: format!("reading the body of {url}"),
            limit_ms: sink.time_left().map_or(STALL_LIMIT.as_millis() as u64, |t| t.as_millis() as u64),
        };
    }
    Error::Io { what: format!("reading the body of {url}"), cause: e.to_string() }
}

fn http_error(url: &str, status: u16) -> Error {
    let reason = ureq::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    Error::Io { what: format!("requesting {url}"), cause: format!("HTTP {status} {reason}").trim_end().to_owned() }
}

/// The pause before retry `attempt` (0-based): `base · 2^attempt`, plus up
/// to half of it again, so that clients that failed together do not retry
/// together.
fn backoff(base_ms: u64, attempt: u32) -> Duration {
    let pause = base_ms.saturating_mul(1u64 << attempt.min(16));
    let nanos = Instant::now().elapsed().as_nanos() as u64 ^ std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let jitter = if pause > 1 { splitmix(nanos) % (pause / 2 + 1) } else { 0 };
    Duration::from_millis(pause + jitter)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The loader for `http://` and `https://` URIs: GETs the URI itself. A body
/// typed `application/octet-stream` is raw code (or, when it starts with a
/// compression format's magic bytes, that format, its content told apart
/// once unpacked), `application/gzip` and `application/zstd` are those
/// formats, `text/plain` is hex text; anything else is told apart by its
/// content (JSON artifacts by the decode stage).
pub struct HttpLoader {
    client: std::sync::Arc<HttpClient>,
}

impl HttpLoader {
    /// A loader over a client with `options`.
    pub fn new(options: HttpOptions) -> HttpLoader {
        HttpLoader::from_client(std::sync::Arc::new(HttpClient::new(options)))
    }

    /// A loader over a shared client.
    pub fn from_client(client: std::sync::Arc<HttpClient>) -> HttpLoader {
        HttpLoader { client }
    }
}

impl Loader for HttpLoader {
    fn kind(&self) -> LoaderType {
        LoaderType::Http
    }

    fn fetch(&self, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
        let response = self.client.get(request.uri, Some("application/octet-stream, text/plain;q=0.9, */*;q=0.5"), sink)?;
        match response.content_type.as_deref() {
            // Bytes as they are, unless they are compressed bytes (whose
            // content is told apart once unpacked).
            Some("application/octet-stream") => match crate::codec::compression::detect(sink.written()) {
                Compression::None => sink.declare_encoding(Encoding::Raw),
                packed => sink.declare_compression(packed),
            },
            Some("application/gzip" | "application/x-gzip") => sink.declare_compression(Compression::Gzip),
            Some("application/zstd") => sink.declare_compression(Compression::Zstd),
            Some("text/plain") => sink.declare_encoding(Encoding::Hex),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        for attempt in 0..5 {
            let base = 100u64 << attempt;
            let pause = backoff(100, attempt).as_millis() as u64;
            assert!((base..=base + base / 2).contains(&pause), "attempt {attempt}: {pause} ms");
        }
    }

    #[test]
    fn header_values_do_not_reach_debug_output() {
        let options = HttpOptions {
            headers: vec![Header::new("Authorization", "Bearer secret-token")],
            ..HttpOptions::default()
        };
        let shown = format!("{options:?}");
        assert!(shown.contains("Authorization") && !shown.contains("secret-token"), "{shown}");
    }
}
