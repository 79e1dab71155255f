//! IPFS content, verified: CIDs, CAR files and UnixFS files over dag-pb.
//!
//! The loaders in [`crate::source`] (`ipfs:` through trustless gateways,
//! `car:` from local files) fetch blocks; this module checks every block
//! against the CID that names it and reassembles the file. Nothing here
//! trusts the bytes it is given: content that does not hash to its CID is
//! [`Error::ChecksumMismatch`](crate::Error::ChecksumMismatch).

pub mod car;
pub mod cid;
mod murmur3;
pub mod unixfs;
mod varint;

pub use car::Car;
pub use cid::Cid;
pub use unixfs::{BlockSource, read_file};
