//! IPFS sources: `ipfs://<cid>[/path]` (also `ipfs:<cid>` and the path form
//! `/ipfs/<cid>`) through trustless gateways, and `car:<file>[?cid=<cid>]`
//! from a local CAR file.
//!
//! Gateways are asked for the whole DAG as a CAR (`?format=car`); a gateway
//! that does not answer with one is asked block by block (`?format=raw`).
//! Every block is checked against its CID before it is used, so a gateway
//! is trusted for nothing but availability: wrong or truncated content
//! fails the gateway and the next one is tried. The file's bytes then go
//! through the decode stage like any source's (hex, raw, compressed,
//! compiler artifact).
//!
//! A load whose bytes were verified against the CID its URI names is
//! attested (content-addressed provenance). A `car:` load without `?cid=`
//! verifies the file's blocks against the root its own header names, which
//! proves integrity but not provenance, and is not attested.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::http::HttpClient;
use super::{Attestation, FileLoader, Loader, LoaderType, Request, Sink, split_scheme};
use crate::error::{Error, Result};
use crate::ipfs::{BlockSource, Car, Cid, read_file};

/// The largest block accepted from a gateway (the IPFS network's own limit
/// is 2 MiB; the importer's default chunks are 256 KiB and 1 MiB).
pub const MAX_BLOCK: usize = 4 << 20;

/// Fails with [`Error::InvalidArgument`] unless `url` is an `http://` or
/// `https://` URL, as a gateway's base URL must be.
pub fn check_gateway(url: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) || url.contains(char::is_whitespace) {
        return Err(Error::InvalidArgument(format!("IPFS gateway {url:?} is not an http:// or https:// URL")));
    }
    Ok(())
}

/// What an IPFS URI names: a CID and a path below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpfsTarget {
    /// The root CID.
    pub cid: Cid,
    /// Directory entries from the root to the file, possibly none.
    pub path: Vec<String>,
}

impl IpfsTarget {
    /// Parses `//<cid>[/path]`, `<cid>[/path]` or `/ipfs/<cid>[/path]`.
    pub fn parse(location: &str) -> Result<IpfsTarget> {
        let rest = location
            .strip_prefix("/ipfs/")
            .or_else(|| location.strip_prefix("//"))
            .unwrap_or(location);
        if rest.contains(['?', '#']) {
            return Err(Error::InvalidArgument(format!(
                "IPFS location {location:?} has a query; name a CID and an optional path"
            )));
        }
        let mut parts = rest.split('/').filter(|p| !p.is_empty());
        let cid = Cid::parse(parts.next().unwrap_or(""))?;
        let path = parts
            .map(|part| {
                percent_decode(part).ok_or_else(|| {
                    Error::InvalidArgument(format!("IPFS path segment {part:?} is not valid percent-encoded UTF-8"))
                })
            })
            .collect::<Result<_>>()?;
        Ok(IpfsTarget { cid, path })
    }

    fn path_refs(&self) -> Vec<&str> {
        self.path.iter().map(String::as_str).collect()
    }
}

/// The loader for `ipfs:` and `car:` URIs and `/ipfs/` paths.
pub struct IpfsLoader {
    client: Arc<HttpClient>,
    gateways: Vec<String>,
    files: FileLoader,
}

impl IpfsLoader {
    /// A loader asking `gateways` (base URLs such as `https://ipfs.io`,
    /// tried in order) through `client`, and reading CAR files with
    /// `files` (so the file roots of the security level apply).
    pub fn new(client: Arc<HttpClient>, gateways: Vec<String>, files: FileLoader) -> IpfsLoader {
        let gateways = gateways.into_iter().map(|g| g.trim_end_matches('/').to_owned()).collect();
        IpfsLoader { client, gateways, files }
    }

    /// Fetches the target from the gateways in order; the first that
    /// delivers verified content wins. When all fail, the last failure is
    /// returned; a passed deadline stops at once.
    fn fetch_from_gateways(&self, target: &IpfsTarget, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
        let uri = request.uri;
        if self.gateways.is_empty() {
            return Err(Error::LoaderNotFound(format!(
                "{uri}: no IPFS gateways are configured (Config::ipfs_gateways)"
            )));
        }
        let mut last = None;
        for gateway in &self.gateways {
            sink.reset();
            let deadline = Deadline::of(sink, uri, request.timeout_ms);
            match self.fetch_from(gateway, target, deadline, sink) {
                Ok(()) => return Ok(()),
                Err(e @ Error::Timeout { .. }) => return Err(e),
                Err(e) => {
                    sink.check_deadline()?;
                    last = Some(e);
                }
            }
        }
        Err(last.expect("at least one gateway"))
    }

    /// One gateway: the DAG as a CAR, or block by block when the gateway
    /// does not answer with one.
    fn fetch_from(&self, gateway: &str, target: &IpfsTarget, deadline: Deadline<'_>, sink: &mut Sink) -> Result<()> {
        let mut url = format!("{gateway}/ipfs/{}", target.cid);
        for part in &target.path {
            url.push('/');
            url.push_str(&percent_encode(part));
        }
        let car_url = format!("{url}?format=car");
        let car_limit = dag_limit(sink);
        match get(&self.client, &car_url, "application/vnd.ipld.car", deadline, car_limit) {
            Ok((bytes, content_type)) if content_type.as_deref() == Some("application/vnd.ipld.car") => {
                let mut car = Car::parse(&bytes, &car_url)?;
                write_file(target, &mut car.blocks, sink)
            }
            // A gateway without CAR support: an error status or another body.
            Ok(_) | Err(Error::Io { .. }) => {
                let mut blocks =
                    GatewayBlocks { client: &self.client, gateway, deadline, budget: car_limit, fetched: HashMap::new() };
                write_file(target, &mut blocks, sink)
            }
            Err(e) => Err(e),
        }
    }

    /// A `car:` load: the file read through the file loader, parsed and
    /// verified, and the file under the root (or the named CID) written.
    fn fetch_car(&self, request: &Request<'_>, location: &str, sink: &mut Sink) -> Result<()> {
        let (path, cid) = match location.split_once("?cid=") {
            Some((path, cid)) => (path, Some(Cid::parse(cid)?)),
            None => (location, None),
        };
        let deadline = Deadline::of(sink, request.uri, request.timeout_ms);
        let car_limit = dag_limit(sink);
        let mut file = Sink::new(request.uri, car_limit, deadline.sink_timeout_ms());
        let inner = Request { location: path, ..*request };
        self.files.fetch(&inner, &mut file)?;
        let bytes = file.finish()?.bytes;
        let mut car = Car::parse(&bytes, path)?;
        let root = match (&cid, car.roots.as_slice()) {
            (Some(cid), _) => cid.clone(),
            (None, [root]) => root.clone(),
            (None, roots) => {
                return Err(Error::InvalidArgument(format!(
                    "{}: the CAR has {} roots; name one with ?cid=<cid>",
                    request.uri,
                    roots.len()
                )));
            }
        };
        let target = IpfsTarget { cid: root, path: Vec::new() };
        write_file(&target, &mut car.blocks, sink)?;
        if let Some(cid) = cid {
            sink.attest(Attestation { code_hash: None, anchor: format!("CID {cid}") });
        }
        Ok(())
    }
}

impl Loader for IpfsLoader {
    fn kind(&self) -> LoaderType {
        LoaderType::Ipfs
    }

    fn fetch(&self, request: &Request<'_>, sink: &mut Sink) -> Result<()> {
        if let Some(("car", location)) = split_scheme(request.uri).as_ref().map(|(s, l)| (s.as_str(), *l)) {
            return self.fetch_car(request, location, sink);
        }
        let target = IpfsTarget::parse(request.location)?;
        self.fetch_from_gateways(&target, request, sink)?;
        sink.attest(Attestation { code_hash: None, anchor: format!("CID {}", target.cid) });
        Ok(())
    }
}

/// The most bytes a DAG's blocks (as a CAR or one by one) may take for a
/// file the sink can hold: the content twice over, for the nodes and CIDs
/// around it, and a MiB more.
fn dag_limit(sink: &Sink) -> usize {
    sink.limit().saturating_mul(2).saturating_add(1 << 20)
}

/// Reads the target's file from `blocks` into `sink`.
fn write_file(target: &IpfsTarget, blocks: &mut dyn BlockSource, sink: &mut Sink) -> Result<()> {
    read_file(&target.cid, &target.path_refs(), blocks, &mut |chunk| sink.write(chunk))
}

/// The load's deadline, for the requests a loader makes on its own sinks.
#[derive(Clone, Copy)]
struct Deadline<'u> {
    at: Option<Instant>,
    limit_ms: u64,
    uri: &'u str,
}

impl<'u> Deadline<'u> {
    fn of(sink: &Sink, uri: &'u str, limit_ms: u64) -> Deadline<'u> {
        Deadline { at: sink.time_left().map(|left| Instant::now() + left), limit_ms, uri }
    }

    /// [`Error::Timeout`] for the load once the deadline has passed.
    fn check(&self) -> Result<()> {
        match self.at {
            Some(at) if Instant::now() >= at => {
                Err(Error::Timeout { what: format!("loading {}", self.uri), limit_ms: self.limit_ms })
            }
            _ => Ok(()),
        }
    }

    /// Milliseconds left (at least 1), 0 for no deadline: a sink's timeout.
    fn sink_timeout_ms(&self) -> u64 {
        self.at.map_or(0, |at| (at.saturating_duration_since(Instant::now()).as_millis() as u64).max(1))
    }
}

/// GETs `url` into a sink of its own, bounded by `limit` bytes and the
/// load's deadline: the body and its content type.
fn get(client: &HttpClient, url: &str, accept: &str, deadline: Deadline<'_>, limit: usize) -> Result<(Vec<u8>, Option<String>)> {
    deadline.check()?;
    let mut sink = Sink::new(url, limit, deadline.sink_timeout_ms());
    let response = client.get(url, Some(accept), &mut sink);
    deadline.check()?; // the load's own timeout, rather than the inner sink's
    let response = response?;
    Ok((sink.finish()?.bytes, response.content_type))
}

/// Blocks asked of a gateway one at a time (`?format=raw`), each fetched
/// once, all of them together within the byte budget a CAR would have.
struct GatewayBlocks<'c> {
    client: &'c HttpClient,
    gateway: &'c str,
    deadline: Deadline<'c>,
    budget: usize,
    fetched: HashMap<Cid, Vec<u8>>,
}

impl BlockSource for GatewayBlocks<'_> {
    fn block(&mut self, cid: &Cid) -> Result<Vec<u8>> {
        if let Some(block) = self.fetched.get(cid) {
            return Ok(block.clone());
        }
        let url = format!("{}/ipfs/{cid}?format=raw", self.gateway);
        let (block, _) = get(self.client, &url, "application/vnd.ipld.raw", self.deadline, MAX_BLOCK.min(self.budget))?;
        // Checked here too (the reader checks every block), to name the URL.
        cid.verify(&block).map_err(|e| match e {
            Error::ChecksumMismatch { algorithm, expected, actual } => {
                Error::ChecksumMismatch { algorithm, expected: format!("{expected} from {url}"), actual }
            }
            other => other,
        })?;
        self.budget -= block.len();
        self.fetched.insert(cid.clone(), block.clone());
        Ok(block)
    }
}

/// Decodes `%XX` escapes in a path segment; `None` for a bad escape or
/// bytes that are not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes a path segment (everything but unreserved characters).
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_uri_form_names_a_cid_and_a_path() {
        let cid = Cid::v1_sha256(crate::ipfs::cid::DAG_PB, b"dir");
        for location in [format!("//{cid}/a b/c"), format!("{cid}/a%20b/c/"), format!("/ipfs/{cid}/a%20b/c")] {
            let target = IpfsTarget::parse(&location).unwrap();
            assert_eq!(target, IpfsTarget { cid: cid.clone(), path: vec!["a b".into(), "c".into()] }, "{location}");
        }
        assert!(IpfsTarget::parse(&format!("//{cid}?format=car")).is_err());
        assert!(IpfsTarget::parse(&format!("//{cid}/%zz")).is_err());
        assert!(IpfsTarget::parse("//").is_err());
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    }
}
