//! UnixFS files over dag-pb: decoding nodes and reading a file's bytes out
//! of a DAG of blocks, each checked against its CID before it is used.
//!
//! A file is a raw leaf (codec raw: the block is the content), or a dag-pb
//! node whose UnixFS data holds the first bytes and whose links, in order,
//! hold the rest; links point to raw leaves or further dag-pb nodes. Plain
//! directories are followed by link name for `<cid>/<path>`.

use std::collections::HashMap;

use super::cid::{Cid, DAG_PB, RAW};
use crate::error::{Error, Result};

/// The deepest a file's DAG may be.
pub const MAX_DEPTH: usize = 64;
/// The most blocks one file may be made of.
pub const MAX_BLOCKS: usize = 1 << 16;

/// Where blocks come from: a CAR file's contents, or a gateway asked one
/// block at a time. A source may return anything; the reader checks each
/// block against its CID.
pub trait BlockSource {
    /// The block `cid` names, or [`Error::NotFound`] when the source lacks it.
    fn block(&mut self, cid: &Cid) -> Result<Vec<u8>>;
}

/// Blocks held in memory, keyed by CID.
impl BlockSource for HashMap<Cid, Vec<u8>> {
    fn block(&mut self, cid: &Cid) -> Result<Vec<u8>> {
        self.get(cid).cloned().ok_or_else(|| Error::NotFound(format!("block {cid} is not in the CAR")))
    }
}

/// One link of a dag-pb node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbLink {
    /// The block it points to.
    pub cid: Cid,
    /// Its name (directory entries), empty for file chunks.
    pub name: String,
    /// The cumulative size of the linked DAG, when given.
    pub tsize: Option<u64>,
}

/// A decoded dag-pb node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PbNode {
    /// The links, in order.
    pub links: Vec<PbLink>,
    /// The data field (UnixFS data for UnixFS nodes).
    pub data: Option<Vec<u8>>,
}

/// The kind of a UnixFS node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// Bytes, as in old leaves.
    Raw,
    /// A plain directory.
    Directory,
    /// A file (or a chunk of one).
    File,
    /// Metadata.
    Metadata,
    /// A symbolic link.
    Symlink,
    /// A sharded directory.
    HamtShard,
}

/// A decoded UnixFS `Data` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixFsData {
    /// The node's kind.
    pub kind: NodeKind,
    /// Bytes held in the node itself.
    pub data: Vec<u8>,
    /// The file's total size, when given.
    pub filesize: Option<u64>,
    /// The content size under each link, in order.
    pub blocksizes: Vec<u64>,
    /// A sharded directory's hash function (a multihash code; 0x22 is
    /// murmur3-x64-64).
    pub hash_type: Option<u64>,
    /// A sharded directory's number of buckets per node.
    pub fanout: Option<u64>,
}

/// A protobuf field: number and value.
enum Field<'a> {
    Varint(u32, u64),
    Bytes(u32, &'a [u8]),
}

/// Iterates over the fields of a protobuf message.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> core::result::Result<u64, String> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = *self.bytes.get(self.at).ok_or("a varint cut short")?;
            self.at += 1;
            value |= u64::from(b & 0x7f).checked_shl(7 * i).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than ten bytes".into())
    }

    fn next_field(&mut self) -> core::result::Result<Option<Field<'a>>, String> {
        if self.at == self.bytes.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| format!("field number {} out of range", key >> 3))?;
        let skip = |this: &mut Self, n: usize| -> core::result::Result<(), String> {
            this.at = this.at.checked_add(n).filter(|&e| e <= this.bytes.len()).ok_or("a fixed field cut short")?;
            Ok(())
        };
        match key & 7 {
            0 => Ok(Some(Field::Varint(number, self.varint()?))),
            2 => {
                let len = self.varint()?;
                let start = self.at;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|l| start.checked_add(l))
                    .filter(|&e| e <= self.bytes.len())
                    .ok_or_else(|| format!("field {number} claims {len} bytes, {} remain", self.bytes.len() - start))?;
                self.at = end;
                Ok(Some(Field::Bytes(number, &self.bytes[start..end])))
            }
            1 => skip(self, 8).and_then(|()| self.next_field()),
            5 => skip(self, 4).and_then(|()| self.next_field()),
            wire => Err(format!("wire type {wire} of field {number} is not supported")),
        }
    }
}

fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields { bytes, at: 0 }
}

impl PbNode {
    /// Decodes a dag-pb block.
    pub fn decode(block: &[u8]) -> core::result::Result<PbNode, String> {
        let mut node = PbNode::default();
        let mut it = fields(block);
        while let Some(field) = it.next_field()? {
            match field {
                Field::Bytes(1, data) if node.data.is_none() => node.data = Some(data.to_vec()),
                Field::Bytes(2, link) => node.links.push(PbLink::decode(link)?),
                Field::Bytes(1, _) => return Err("two Data fields".into()),
                Field::Bytes(n, _) | Field::Varint(n, _) => {
                    return Err(format!("unexpected field {n} in a dag-pb node"));
                }
            }
        }
        Ok(node)
    }
}

impl PbLink {
    fn decode(bytes: &[u8]) -> core::result::Result<PbLink, String> {
        let (mut cid, mut name, mut tsize) = (None, String::new(), None);
        let mut it = fields(bytes);
        while let Some(field) = it.next_field()? {
            match field {
                Field::Bytes(1, hash) => cid = Some(Cid::from_bytes(hash).map_err(|e| format!("link hash: {e}"))?),
                Field::Bytes(2, n) => {
                    name = String::from_utf8(n.to_vec()).map_err(|_| "a link name that is not UTF-8")?;
                }
                Field::Varint(3, size) => tsize = Some(size),
                Field::Bytes(n, _) | Field::Varint(n, _) => {
                    return Err(format!("unexpected field {n} in a dag-pb link"));
                }
            }
        }
        Ok(PbLink { cid: cid.ok_or("a link without a hash")?, name, tsize })
    }
}

impl UnixFsData {
    /// Decodes the UnixFS `Data` message of a dag-pb node.
    pub fn decode(bytes: &[u8]) -> core::result::Result<UnixFsData, String> {
        let (mut kind, mut data, mut filesize, mut blocksizes) = (None, Vec::new(), None, Vec::new());
        let (mut hash_type, mut fanout) = (None, None);
        let mut it = fields(bytes);
        while let Some(field) = it.next_field()? {
            match field {
                Field::Varint(1, k) => {
                    kind = Some(match k {
                        0 => NodeKind::Raw,
                        1 => NodeKind::Directory,
                        2 => NodeKind::File,
                        3 => NodeKind::Metadata,
                        4 => NodeKind::Symlink,
                        5 => NodeKind::HamtShard,
                        other => return Err(format!("unknown UnixFS type {other}")),
                    })
                }
                Field::Bytes(2, d) => data = d.to_vec(),
                Field::Varint(3, size) => filesize = Some(size),
                Field::Varint(4, size) => blocksizes.push(size),
                Field::Bytes(4, packed) => {
                    let mut sizes = fields(packed);
                    while sizes.at < packed.len() {
                        blocksizes.push(sizes.varint()?);
                    }
                }
                Field::Varint(5, code) => hash_type = Some(code),
                Field::Varint(6, buckets) => fanout = Some(buckets),
                _ => {} // mode, mtime: not needed to read a file
            }
        }
        let kind = kind.ok_or("UnixFS data without a type")?;
        Ok(UnixFsData { kind, data, filesize, blocksizes, hash_type, fanout })
    }
}

/// Reads the file `root` (followed through directories by `path`) from
/// `blocks`, handing its bytes to `out` in order. Every block is checked
/// against its CID before it is decoded: a block that does not match fails
/// the read with [`Error::ChecksumMismatch`]. Malformed nodes, directories
/// where a file is wanted and sizes that disagree with the node's own
/// record are [`Error::InvalidArgument`].
pub fn read_file(
    root: &Cid,
    path: &[&str],
    blocks: &mut dyn BlockSource,
    out: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut reader = Reader { blocks, fetched: 0 };
    let mut cid = root.clone();
    let mut depth = 0;
    for name in path {
        let (_, node, unixfs) = reader.node(&cid, depth)?;
        depth += 1;
        cid = match unixfs.kind {
            NodeKind::Directory => match node.links.into_iter().find(|l| l.name == *name) {
                Some(link) => link.cid,
                None => return Err(Error::NotFound(format!("directory {cid} has no entry {name:?}"))),
            },
            NodeKind::HamtShard => reader.shard_entry(&cid, node, unixfs, name, &mut depth)?,
            _ => return Err(Error::InvalidArgument(format!("{cid} is not a directory, so it has no entry {name:?}"))),
        };
    }
    reader.file(&cid, depth, out).map(|_| ())
}

/// The multihash code of murmur3-x64-64, the one hash sharded directories
/// use.
const MURMUR3_X64_64: u64 = 0x22;

struct Reader<'b> {
    blocks: &'b mut dyn BlockSource,
    fetched: usize,
}

impl Reader<'_> {
    /// The verified block `cid` names.
    fn block(&mut self, cid: &Cid) -> Result<Vec<u8>> {
        self.fetched += 1;
        if self.fetched > MAX_BLOCKS {
            return Err(Error::TooLarge { what: "a UnixFS file's blocks".into(), limit: MAX_BLOCKS as u64, size: None });
        }
        let block = self.blocks.block(cid)?;
        cid.verify(&block)?;
        Ok(block)
    }

    /// A dag-pb node (raw leaves are reported as UnixFS raw data).
    fn node(&mut self, cid: &Cid, depth: usize) -> Result<(Vec<u8>, PbNode, UnixFsData)> {
        if depth > MAX_DEPTH {
            return Err(Error::TooLarge { what: format!("the DAG under {cid}"), limit: MAX_DEPTH as u64, size: None });
        }
        let block = self.block(cid)?;
        let malformed = |e: String| Error::InvalidArgument(format!("block {cid}: {e}"));
        match cid.codec() {
            RAW => {
                let data = UnixFsData {
                    kind: NodeKind::Raw,
                    data: Vec::new(),
                    filesize: None,
                    blocksizes: Vec::new(),
                    hash_type: None,
                    fanout: None,
                };
                Ok((block, PbNode::default(), data))
            }
            DAG_PB => {
                let node = PbNode::decode(&block).map_err(malformed)?;
                let data = node.data.as_deref().ok_or_else(|| malformed("a dag-pb node without UnixFS data".into()))?;
                let unixfs = UnixFsData::decode(data).map_err(malformed)?;
                Ok((Vec::new(), node, unixfs))
            }
            other => Err(Error::InvalidArgument(format!(
                "block {cid} has codec 0x{other:x}; files are raw (0x55) or dag-pb (0x70)"
            ))),
        }
    }

    /// The entry `name` of the sharded (HAMT) directory `root`, whose node
    /// is `node`, following sub-shards down; `depth` counts the nodes read.
    ///
    /// The name's murmur3-x64-64 hash, read from its most significant bit,
    /// gives the bucket at each level, log2(fanout) bits per level. A
    /// bucket is one link named by the bucket number in upper-case hex
    /// (as wide as `fanout - 1`): followed by the entry's name when it
    /// holds one entry, alone when it holds a sub-shard.
    fn shard_entry(&mut self, root: &Cid, mut node: PbNode, mut unixfs: UnixFsData, name: &str, depth: &mut usize) -> Result<Cid> {
        let malformed = |cid: &Cid, what: String| Error::InvalidArgument(format!("sharded directory {cid}: {what}"));
        let fanout = unixfs.fanout.ok_or_else(|| malformed(root, "no fanout".into()))?;
        if !fanout.is_power_of_two() || !(2..=1 << 16).contains(&fanout) {
            return Err(malformed(root, format!("a fanout of {fanout}, not a power of two from 2 to 65536")));
        }
        let bits = fanout.trailing_zeros();
        let width = format!("{:X}", fanout - 1).len();
        let hash = super::murmur3::x64_128(name.as_bytes()).0;
        let absent = || Error::NotFound(format!("sharded directory {root} has no entry {name:?}"));
        let mut cid = root.clone();
        let mut level = 0;
        loop {
            if unixfs.kind != NodeKind::HamtShard || unixfs.fanout != Some(fanout) {
                return Err(malformed(&cid, format!("a sub-shard that is not a shard of fanout {fanout}")));
            }
            if unixfs.hash_type != Some(MURMUR3_X64_64) {
                return Err(malformed(&cid, format!("hash type {:?}, not murmur3-x64-64 (0x22)", unixfs.hash_type)));
            }
            if (level + 1) * bits > 64 {
                return Err(malformed(&cid, format!("sub-shards deeper than the 64-bit hash of {name:?} reaches")));
            }
            let bucket = (hash << (level * bits)) >> (64 - bits);
            let label = format!("{bucket:0width$X}");
            let link = node.links.into_iter().find(|l| l.name.get(..width) == Some(label.as_str()));
            let link = link.ok_or_else(absent)?;
            match &link.name[width..] {
                "" => {}
                entry if entry == name => return Ok(link.cid),
                _ => return Err(absent()),
            }
            cid = link.cid;
            (_, node, unixfs) = self.node(&cid, *depth)?;
            *depth += 1;
            level += 1;
        }
    }

    /// Writes the file under `cid` to `out`; returns its size.
    fn file(&mut self, cid: &Cid, depth: usize, out: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<u64> {
        let (raw, node, unixfs) = self.node(cid, depth)?;
        if cid.codec() == RAW {
            out(&raw)?;
            return Ok(raw.len() as u64);
        }
        if !matches!(unixfs.kind, NodeKind::File | NodeKind::Raw) {
            return Err(Error::InvalidArgument(format!(
                "{cid} is a UnixFS {:?}, not a file",
                unixfs.kind
            )));
        }
        if !unixfs.blocksizes.is_empty() && unixfs.blocksizes.len() != node.links.len() {
            return Err(Error::InvalidArgument(format!(
                "file node {cid} has {} links but {} block sizes",
                node.links.len(),
                unixfs.blocksizes.len()
            )));
        }
        out(&unixfs.data)?;
        let mut total = unixfs.data.len() as u64;
        for (i, link) in node.links.iter().enumerate() {
            let size = self.file(&link.cid, depth + 1, out)?;
            if let Some(&expected) = unixfs.blocksizes.get(i) {
                if expected != size {
                    return Err(Error::InvalidArgument(format!(
                        "file node {cid}: link {i} holds {size} bytes, the node records {expected}"
                    )));
                }
            }
            total += size;
        }
        if let Some(filesize) = unixfs.filesize {
            if filesize != total {
                return Err(Error::InvalidArgument(format!(
                    "file node {cid} records {filesize} bytes and holds {total}"
                )));
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfs::varint;

    fn field_bytes(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
        varint::write(u64::from(number) << 3 | 2, out);
        varint::write(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }

    fn field_varint(number: u32, value: u64, out: &mut Vec<u8>) {
        varint::write(u64::from(number) << 3, out);
        varint::write(value, out);
    }

    /// A dag-pb UnixFS file node with `data` inline and `children` linked.
    fn file_node(data: &[u8], children: &[(Cid, u64)]) -> Vec<u8> {
        let mut unixfs = Vec::new();
        field_varint(1, 2, &mut unixfs);
        if !data.is_empty() {
            field_bytes(2, data, &mut unixfs);
        }
        let total = data.len() as u64 + children.iter().map(|c| c.1).sum::<u64>();
        field_varint(3, total, &mut unixfs);
        for (_, size) in children {
            field_varint(4, *size, &mut unixfs);
        }
        let mut node = Vec::new();
        for (cid, size) in children {
            let mut link = Vec::new();
            field_bytes(1, &cid.to_bytes(), &mut link);
            field_varint(3, *size, &mut link);
            field_bytes(2, &link, &mut node);
        }
        field_bytes(1, &unixfs, &mut node);
        node
    }

    fn read_all(root: &Cid, blocks: &mut HashMap<Cid, Vec<u8>>) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        read_file(root, &[], blocks, &mut |chunk| {
            bytes.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(bytes)
    }

    /// A sharded directory node of `fanout` buckets hashed with
    /// `hash_type`, linking `links` (name, CID).
    fn shard_node(fanout: u64, hash_type: u64, links: &[(String, Cid)]) -> Vec<u8> {
        let mut unixfs = Vec::new();
        field_varint(1, 5, &mut unixfs);
        field_varint(5, hash_type, &mut unixfs);
        field_varint(6, fanout, &mut unixfs);
        let mut node = Vec::new();
        for (name, cid) in links {
            let mut link = Vec::new();
            field_bytes(1, &cid.to_bytes(), &mut link);
            field_bytes(2, name.as_bytes(), &mut link);
            field_bytes(2, &link, &mut node);
        }
        field_bytes(1, &unixfs, &mut node);
        node
    }

    #[test]
    fn a_sharded_directory_is_read_by_the_hash_of_the_name_and_checked() {
        let leaf = Cid::v1_sha256(RAW, b"code");
        let bucket = super::super::murmur3::x64_128(b"code.bin").0 >> 56;
        let read = |fanout: u64, hash_type: u64, links: &[(String, Cid)], name: &str| {
            let root = shard_node(fanout, hash_type, links);
            let root_cid = Cid::v1_sha256(DAG_PB, &root);
            let mut blocks = HashMap::from([(root_cid.clone(), root), (leaf.clone(), b"code".to_vec())]);
            let mut bytes = Vec::new();
            read_file(&root_cid, &[name], &mut blocks, &mut |chunk| {
                bytes.extend_from_slice(chunk);
                Ok(())
            })
            .map(|()| bytes)
        };
        let entry = vec![(format!("{bucket:02X}code.bin"), leaf.clone())];
        assert_eq!(read(256, 0x22, &entry, "code.bin").unwrap(), b"code");
        let other = vec![(format!("{bucket:02X}other.bin"), leaf.clone())];
        assert_eq!(read(256, 0x22, &other, "code.bin").unwrap_err().status(), crate::Status::NotFound);
        assert_eq!(read(256, 0x22, &[], "code.bin").unwrap_err().status(), crate::Status::NotFound);
        for (fanout, hash_type) in [(300, 0x22), (256, 0x23), (1 << 20, 0x22)] {
            let err = read(fanout, hash_type, &entry, "code.bin").unwrap_err();
            assert_eq!(err.status(), crate::Status::InvalidArgument, "{fanout} {hash_type:#x}: {err}");
        }
    }

    #[test]
    fn a_two_level_file_reads_in_link_order() {
        let mut blocks = HashMap::new();
        let leaf_a = Cid::v1_sha256(RAW, b"abc");
        let leaf_b = Cid::v1_sha256(RAW, b"defg");
        blocks.insert(leaf_a.clone(), b"abc".to_vec());
        blocks.insert(leaf_b.clone(), b"defg".to_vec());
        let inner = file_node(b"", &[(leaf_a.clone(), 3), (leaf_b, 4)]);
        let inner_cid = Cid::v1_sha256(DAG_PB, &inner);
        blocks.insert(inner_cid.clone(), inner);
        let root = file_node(b"01", &[(inner_cid, 7), (leaf_a, 3)]);
        let root_cid = Cid::v1_sha256(DAG_PB, &root);
        blocks.insert(root_cid.clone(), root);
        assert_eq!(read_all(&root_cid, &mut blocks).unwrap(), b"01abcdefgabc");
    }

    /// A file node linking one raw leaf of `content`, recording `recorded`
    /// bytes for it, stored with `stored` (if any) under the leaf's CID.
    fn one_leaf_file(content: &[u8], recorded: u64, stored: Option<&[u8]>) -> (Cid, HashMap<Cid, Vec<u8>>) {
        let leaf = Cid::v1_sha256(RAW, content);
        let root = file_node(b"", &[(leaf.clone(), recorded)]);
        let root_cid = Cid::v1_sha256(DAG_PB, &root);
        let mut blocks = HashMap::from([(root_cid.clone(), root)]);
        if let Some(stored) = stored {
            blocks.insert(leaf, stored.to_vec());
        }
        (root_cid, blocks)
    }

    #[test]
    fn a_substituted_block_is_a_checksum_mismatch() {
        let (root, mut blocks) = one_leaf_file(b"good", 4, Some(b"evil"));
        let err = read_all(&root, &mut blocks).unwrap_err();
        assert_eq!(err.status(), crate::Status::ChecksumMismatch, "{err}");
    }

    #[test]
    fn sizes_that_disagree_with_the_node_are_rejected() {
        let (root, mut blocks) = one_leaf_file(b"four", 5, Some(b"four"));
        let err = read_all(&root, &mut blocks).unwrap_err();
        assert!(err.to_string().contains("records 5"), "{err}");
    }

    #[test]
    fn a_missing_block_is_not_found() {
        let (root, mut blocks) = one_leaf_file(b"gone", 4, None);
        assert_eq!(read_all(&root, &mut blocks).unwrap_err().status(), crate::Status::NotFound);
    }

    #[test]
    fn garbage_nodes_are_invalid_not_panics() {
        for junk in [&[0x0a, 0xff][..], &[0x12, 0x02, 0x0a], &[0xff; 12], &[0x0b]] {
            let cid = Cid::v1_sha256(DAG_PB, junk);
            let mut blocks = HashMap::from([(cid.clone(), junk.to_vec())]);
            let err = read_all(&cid, &mut blocks).unwrap_err();
            assert_eq!(err.status(), crate::Status::InvalidArgument, "{junk:?}: {err}");
        }
    }
}
