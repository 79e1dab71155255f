//! Moving code into and out of a [`CodeStore`]: import from a corpus or a
//! directory of code files, export to a directory of code files.
//!
//! Two layouts are read:
//! - a corpus (a directory with `INDEX.tsv`, as `../shared/corpus`): one
//!   raw code file per row, named in the `file` column under `mainnet/`,
//!   with its `address` and `keccak256` (checked on import);
//! - a directory of files named by address: `0x<40 hex digits>.hex` (hex
//!   text) or `.bin` (raw bytes). Other files are ignored.
//!
//! Export writes the second layout, `.bin`, so an export imports again.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use revm::primitives::{Address, B256, keccak256};

use super::store::{CodeStore, StoreEntry};
use crate::bytecode::Compression;
use crate::signing::{Scheme, sign};
use crate::codec;
use crate::error::{Error, Result};

/// Entries written per transaction.
const BATCH: usize = 256;

/// One code file to import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportItem {
    /// The account it is the code of.
    pub address: Address,
    /// The file.
    pub path: PathBuf,
    /// Whether the file is hex text (else raw bytes).
    pub hex: bool,
    /// The code hash the corpus index gives, checked on import.
    pub expected_code_hash: Option<B256>,
    /// Where the code came from, stored as the entry's source.
    pub source: String,
}

/// What an import or export did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferReport {
    /// Addresses written.
    pub addresses: usize,
    /// Bytes of code written.
    pub bytes: u64,
    /// Bytes the store keeps for that code (less when compressed; 0 for
    /// an export).
    pub stored_bytes: u64,
}

/// The files to import from `dir`: a corpus when it holds `INDEX.tsv`,
/// else the files named by address. Fails when there are none.
pub fn scan(dir: &Path) -> Result<Vec<ImportItem>> {
    let index = dir.join("INDEX.tsv");
    let items = if index.is_file() { scan_corpus(dir, &index)? } else { scan_named_files(dir)? };
    if items.is_empty() {
        return Err(Error::NotFound(format!(
            "{}: no INDEX.tsv and no code files named 0x<address>.hex or .bin",
            dir.display()
        )));
    }
    Ok(items)
}

fn scan_corpus(dir: &Path, index: &Path) -> Result<Vec<ImportItem>> {
    let text = std::fs::read_to_string(index).map_err(|e| Error::io(format!("reading {}", index.display()), &e))?;
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines.next().map(|(_, l)| l.split('\t').collect()).unwrap_or_default();
    let column = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| {
            Error::InvalidArgument(format!("{}: no {name:?} column in the header", index.display()))
        })
    };
    let (file, address, hash, repo, path) =
        (column("file")?, column("address")?, column("keccak256")?, column("source_repo")?, column("source_path")?);
    let mut items = Vec::new();
    for (n, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let field = |i: usize| {
            fields.get(i).copied().ok_or_else(|| {
                Error::InvalidArgument(format!("{} line {}: only {} columns", index.display(), n + 1, fields.len()))
            })
        };
        let bad = |what: &str, e: String| {
            Error::InvalidArgument(format!("{} line {}: {what}: {e}", index.display(), n + 1))
        };
        items.push(ImportItem {
            address: Address::from_str(field(address)?).map_err(|e| bad("address", e.to_string()))?,
            path: dir.join("mainnet").join(field(file)?),
            hex: false,
            expected_code_hash: Some(
                B256::from_str(field(hash)?.trim_start_matches("0x")).map_err(|e| bad("keccak256", e.to_string()))?,
            ),
            source: format!("{}/{}", field(repo)?, field(path)?),
        });
    }
    Ok(items)
}

fn scan_named_files(dir: &Path) -> Result<Vec<ImportItem>> {
    let listing = std::fs::read_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound(format!("no directory {}", dir.display())),
        _ => Error::io(format!("listing {}", dir.display()), &e),
    })?;
    let mut items = Vec::new();
    for entry in listing {
        let path = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), &e))?.path();
        let (Some(stem), Some(extension)) = (path.file_stem(), path.extension()) else { continue };
        let hex = match extension.to_str() {
            Some("hex") => true,
            Some("bin") => false,
            _ => continue,
        };
        let stem = stem.to_string_lossy();
        let address = Address::from_str(&stem).map_err(|_| {
            Error::InvalidArgument(format!("{}: a code file must be named 0x<40 hex digits>", path.display()))
        })?;
        let source = format!("file:{}", path.display());
        items.push(ImportItem { address, path, hex, expected_code_hash: None, source });
    }
    items.sort_by_key(|item| item.address);
    Ok(items)
}

/// Reads one item's code: at most `max_code_size` bytes, hex decoded, and
/// hashed against the index's code hash when it gives one.
pub fn read_item(item: &ImportItem, max_code_size: usize) -> Result<StoreEntry> {
    let shown = item.path.display();
    let cap = if item.hex { codec::max_encoded_len(max_code_size) } else { max_code_size };
    let size = std::fs::metadata(&item.path).map_err(|e| Error::io(format!("reading {shown}"), &e))?.len();
    if size > cap as u64 {
        return Err(Error::TooLarge { what: format!("code file {shown}"), limit: cap as u64, size: Some(size) });
    }
    let bytes = std::fs::read(&item.path).map_err(|e| Error::io(format!("reading {shown}"), &e))?;
    let code = if item.hex { codec::decode_hex(&bytes, &shown.to_string())? } else { bytes };
    if code.is_empty() {
        return Err(Error::NotFound(format!("{shown} holds no code")));
    }
    if code.len() > max_code_size {
        return Err(Error::TooLarge { what: format!("code in {shown}"), limit: max_code_size as u64, size: Some(code.len() as u64) });
    }
    let entry = StoreEntry::new(item.address, item.source.clone(), code);
    crate::integrity::expect_code_hash(item.expected_code_hash.as_ref(), &entry.code.code_hash)
        .map_err(|e| Error::InvalidArgument(format!("{shown}: the index's code hash does not match: {e}")))?;
    Ok(entry)
}

/// Writes every item into `store`, a batch per transaction, calling
/// `progress(done, total)` after each batch. Stops at the first item that
/// cannot be read; the batches before it stay written.
pub fn import(
    store: &dyn CodeStore,
    items: &[ImportItem],
    max_code_size: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TransferReport> {
    import_with(store, items, &ImportOptions { max_code_size, compression: Compression::None, signer: None }, progress)
}

/// How [`import_with`] stores what it reads.
pub struct ImportOptions<'a> {
    /// Largest accepted code size in bytes.
    pub max_code_size: usize,
    /// How each code is stored (loads decompress it, capped at the
    /// configured size).
    pub compression: Compression,
    /// A publisher who signs each code as it is imported: the scheme, the
    /// 32-byte secret key and the version label signed with the code hash.
    /// Loads hand the signature to the signature stage (Strict and
    /// Paranoid accept it when the publisher is trusted).
    pub signer: Option<(Scheme, &'a [u8; 32], &'a str)>,
}

/// Reads one item and signs and compresses it as `options` say.
fn prepare(item: &ImportItem, options: &ImportOptions<'_>) -> Result<StoreEntry> {
    let mut entry = read_item(item, options.max_code_size)?;
    if let Some((scheme, secret, version)) = options.signer {
        let (signature, _) = sign(scheme, secret, &entry.code.code_hash, version)?;
        entry.version = version.to_string();
        entry.signature = Some(signature);
    }
    entry.code = entry.code.compressed(options.compression)?;
    Ok(entry)
}

/// As [`import`], compressing and signing each code as `options` say.
pub fn import_with(
    store: &dyn CodeStore,
    items: &[ImportItem],
    options: &ImportOptions<'_>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TransferReport> {
    let mut report = TransferReport::default();
    for batch in items.chunks(BATCH) {
        let entries = batch.iter().map(|item| prepare(item, options)).collect::<Result<Vec<_>>>()?;
        store.put(&entries)?;
        report.addresses += entries.len();
        report.bytes += entries.iter().map(|e| e.code.size as u64).sum::<u64>();
        report.stored_bytes += entries.iter().map(|e| e.code.bytes.len() as u64).sum::<u64>();
        progress(report.addresses, items.len());
    }
    Ok(report)
}

/// Writes every entry of `store` to `dir` (created when missing) as
/// `0x<address>.bin`, raw code, calling `progress(done, total)` as it goes.
/// Each code is decompressed when stored compressed and checked against its
/// code hash first: a corrupt row stops the export with
/// [`Error::ChecksumMismatch`].
pub fn export(store: &dyn CodeStore, dir: &Path, progress: &mut dyn FnMut(usize, usize)) -> Result<TransferReport> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), &e))?;
    let total = usize::try_from(store.len()?).unwrap_or(usize::MAX);
    let mut report = TransferReport::default();
    store.for_each(&mut |entry| {
        let origin = format!("{} at {}", store.uri(), entry.address);
        let code = entry.code.decoded(&origin)?;
        crate::integrity::expect_code_hash(Some(&entry.code.code_hash), &keccak256(&code))?;
        let path = dir.join(format!("{:#x}.bin", entry.address));
        std::fs::write(&path, &code).map_err(|e| Error::io(format!("writing {}", path.display()), &e))?;
        report.addresses += 1;
        report.bytes += code.len() as u64;
        if report.addresses % BATCH == 0 || report.addresses == total {
            progress(report.addresses, total);
        }
        Ok(())
    })?;
    Ok(report)
}
