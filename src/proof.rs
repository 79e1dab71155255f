//! State proofs: an account proven against a trusted state root through the
//! Merkle-Patricia trie (`eth_getProof`'s `accountProof`), the way light
//! clients check what an untrusted node says.
//!
//! [`verify_account`] walks the proof from the root along keccak256(address),
//! checks every node's hash against the reference its parent holds, and
//! returns the proven account, or `None` when the proof shows the account
//! does not exist. Anything else (a node that does not hash to its
//! reference, malformed RLP, a proof that stops early) is rejected with
//! [`Error::SecurityViolation`] naming the node and offset.

use revm::primitives::{Address, B256, U256, keccak256};

use crate::error::{Error, Result};

/// The account fields a state root commits to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Account {
    /// Transactions sent (or contracts created, for a contract).
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Root of the account's storage trie.
    pub storage_root: B256,
    /// keccak256 of the account's code (of the empty string when none).
    pub code_hash: B256,
}

/// Checks `proof` (RLP nodes, root first) for `address` against
/// `state_root`. `Ok(Some)`: the account as proven; `Ok(None)`: proven
/// absent.
pub fn verify_account(state_root: &B256, address: &Address, proof: &[Vec<u8>]) -> Result<Option<Account>> {
    let key = keccak256(address);
    let fail = |what: String| Error::SecurityViolation(format!("state proof of {address} is invalid: {what}"));
    match walk(state_root, key.as_slice(), proof).map_err(fail)? {
        None => Ok(None),
        Some(value) => decode_account(&value)
            .map(Some)
            .map_err(|e| Error::SecurityViolation(format!("proven account {address} is malformed: {e}"))),
    }
}

/// A reference to a child node: its hash, or the node itself when its
/// encoding is shorter than 32 bytes.
enum Child<'a> {
    Hash(B256),
    Inline(&'a [u8]),
    Empty,
}

/// Follows `key` (bytes, read as nibbles) from `root` through `proof`.
/// Returns the value at the key, or `None` when the trie proves it absent.
fn walk(root: &B256, key: &[u8], proof: &[Vec<u8>]) -> std::result::Result<Option<Vec<u8>>, String> {
    let nibbles: Vec<u8> = key.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect();
    let mut at = 0usize; // nibbles consumed
    let mut expected = *root;
    let mut index = 0usize; // next proof node
    // An inline node to decode instead of the next proof node.
    let mut inline: Option<Vec<u8>> = None;
    loop {
        let node: Vec<u8> = match inline.take() {
            Some(node) => node,
            None => {
                let node = proof.get(index).ok_or_else(|| format!("the proof ends after {index} nodes"))?;
                let hash = keccak256(node);
                if hash != expected {
                    return Err(format!("node {index} hashes to {hash:#x}, its parent references {expected:#x}"));
                }
                index += 1;
                node.clone()
            }
        };
        let items = list_items(&node).map_err(|e| format!("node {}: {e}", index.saturating_sub(1)))?;
        let child = match items.len() {
            17 => {
                if at == nibbles.len() {
                    let value = string(items[16]).map_err(|e| format!("branch value: {e}"))?;
                    return Ok((!value.is_empty()).then(|| value.to_vec()));
                }
                let child = child_ref(items[nibbles[at] as usize])?;
                at += 1;
                child
            }
            2 => {
                let encoded = string(items[0]).map_err(|e| format!("node path: {e}"))?;
                let (is_leaf, path) = decode_path(encoded)?;
                let rest = &nibbles[at..];
                if is_leaf {
                    if path != rest {
                        return Ok(None); // a different key's leaf: ours is absent
                    }
                    let value = string(items[1]).map_err(|e| format!("leaf value: {e}"))?;
                    return Ok(Some(value.to_vec()));
                }
                if !rest.starts_with(&path) || path.is_empty() {
                    return Ok(None); // the extension leads elsewhere
                }
                at += path.len();
                child_ref(items[1])?
            }
            n => return Err(format!("a trie node has {n} items (expected 2 or 17)")),
        };
        match child {
            Child::Empty => return Ok(None),
            Child::Hash(hash) => expected = hash,
            Child::Inline(node) => inline = Some(node.to_vec()),
        }
        if at > nibbles.len() {
            return Err("the path is longer than the key".into());
        }
    }
}

/// Reads a branch or extension slot: a 32-byte hash, an embedded node, or
/// empty.
fn child_ref(item: &[u8]) -> std::result::Result<Child<'_>, String> {
    let header = header(item, 0)?;
    if header.list {
        if item.len() >= 32 {
            return Err("an embedded node of 32 bytes or more".into());
        }
        return Ok(Child::Inline(item));
    }
    let payload = &item[header.offset..header.offset + header.length];
    match payload.len() {
        0 => Ok(Child::Empty),
        32 => Ok(Child::Hash(B256::from_slice(payload))),
        n => Err(format!("a child reference of {n} bytes")),
    }
}

/// Hex-prefix decoding: (is it a leaf, the nibbles).
fn decode_path(encoded: &[u8]) -> std::result::Result<(bool, Vec<u8>), String> {
    let first = *encoded.first().ok_or("an empty node path")?;
    let flag = first >> 4;
    if flag > 3 {
        return Err(format!("path flag {flag} (expected 0 to 3)"));
    }
    let mut path = Vec::with_capacity(encoded.len() * 2);
    if flag & 1 == 1 {
        path.push(first & 0x0f);
    } else if first & 0x0f != 0 {
        return Err("an even path with a non-zero padding nibble".into());
    }
    for b in &encoded[1..] {
        path.extend([b >> 4, b & 0x0f]);
    }
    Ok((flag >= 2, path))
}

fn decode_account(value: &[u8]) -> std::result::Result<Account, String> {
    let items = list_items(value)?;
    if items.len() != 4 {
        return Err(format!("{} fields (expected 4)", items.len()));
    }
    let nonce = string(items[0])?;
    let balance = string(items[1])?;
    let storage_root = string(items[2])?;
    let code_hash = string(items[3])?;
    if nonce.len() > 8 || balance.len() > 32 || storage_root.len() != 32 || code_hash.len() != 32 {
        return Err("a field of the wrong length".into());
    }
    Ok(Account {
        nonce: nonce.iter().fold(0u64, |n, &b| (n << 8) | b as u64),
        balance: U256::from_be_slice(balance),
        storage_root: B256::from_slice(storage_root),
        code_hash: B256::from_slice(code_hash),
    })
}

/// An RLP item's header: where its payload starts, how long it is, whether
/// it is a list.
#[derive(Debug)]
struct Header {
    list: bool,
    offset: usize,
    length: usize,
}

/// Reads the header of the item at `at` in `data` and checks that the
/// payload fits.
fn header(data: &[u8], at: usize) -> std::result::Result<Header, String> {
    let prefix = *data.get(at).ok_or_else(|| format!("RLP ends at offset {at}"))?;
    let (list, offset, length) = match prefix {
        0x00..=0x7f => (false, at, 1),
        0x80..=0xb7 => (false, at + 1, (prefix - 0x80) as usize),
        0xc0..=0xf7 => (true, at + 1, (prefix - 0xc0) as usize),
        0xb8..=0xbf | 0xf8..=0xff => {
            let list = prefix >= 0xf8;
            let size_len = (prefix - if list { 0xf7 } else { 0xb7 }) as usize;
            let size = data
                .get(at + 1..at + 1 + size_len)
                .ok_or_else(|| format!("RLP length at offset {} runs past the end", at + 1))?;
            if size[0] == 0 || size_len > 4 {
                return Err(format!("RLP length at offset {} is not canonical", at + 1));
            }
            let length = size.iter().fold(0usize, |n, &b| (n << 8) | b as usize);
            if length < 56 {
                return Err(format!("RLP long form for {length} bytes at offset {at}"));
            }
            (list, at + 1 + size_len, length)
        }
    };
    if offset.checked_add(length).is_none_or(|end| end > data.len()) {
        return Err(format!("RLP item at offset {at} ({length} bytes) runs past the end ({} bytes)", data.len()));
    }
    Ok(Header { list, offset, length })
}

/// The items of the RLP list that is all of `data`, each as its full
/// encoding.
fn list_items(data: &[u8]) -> std::result::Result<Vec<&[u8]>, String> {
    let outer = header(data, 0)?;
    if !outer.list {
        return Err("expected an RLP list, found a string".into());
    }
    if outer.offset + outer.length != data.len() {
        return Err(format!("{} bytes after the RLP list", data.len() - outer.offset - outer.length));
    }
    let mut items = Vec::new();
    let mut at = outer.offset;
    while at < data.len() {
        let item = header(data, at)?;
        let end = item.offset + item.length;
        if end > data.len() {
            return Err(format!("RLP item at offset {at} runs past its list"));
        }
        items.push(&data[at..end]);
        at = end;
    }
    Ok(items)
}

/// The payload of an RLP string item.
fn string(item: &[u8]) -> std::result::Result<&[u8], String> {
    let h = header(item, 0)?;
    if h.list {
        return Err("expected an RLP string, found a list".into());
    }
    Ok(&item[h.offset..h.offset + h.length])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RLP of a byte string.
    fn rlp_string(bytes: &[u8]) -> Vec<u8> {
        match bytes.len() {
            1 if bytes[0] < 0x80 => bytes.to_vec(),
            n if n < 56 => [&[0x80 + n as u8][..], bytes].concat(),
            n => {
                let len = (n as u32).to_be_bytes();
                let len: Vec<u8> = len.iter().copied().skip_while(|&b| b == 0).collect();
                [&[0xb7 + len.len() as u8][..], &len, bytes].concat()
            }
        }
    }

    /// RLP of a list of encoded items.
    fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
        let payload: Vec<u8> = items.concat();
        if payload.len() < 56 {
            [&[0xc0 + payload.len() as u8][..], &payload].concat()
        } else {
            let len = (payload.len() as u32).to_be_bytes();
            let len: Vec<u8> = len.iter().copied().skip_while(|&b| b == 0).collect();
            [&[0xf7 + len.len() as u8][..], &len, &payload].concat()
        }
    }

    fn account_rlp(code_hash: B256) -> Vec<u8> {
        rlp_list(&[
            rlp_string(&[1]),
            rlp_string(&[0x0d, 0xe0]),
            rlp_string(B256::repeat_byte(0x56).as_slice()),
            rlp_string(code_hash.as_slice()),
        ])
    }

    /// A two-level trie: a branch at the root, a leaf below for `address`.
    fn proof_for(address: &Address, code_hash: B256) -> (B256, Vec<Vec<u8>>) {
        let key = keccak256(address);
        let nibbles: Vec<u8> = key.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect();
        // Leaf path: the 63 nibbles after the branch, odd → flag 3.
        let rest = &nibbles[1..];
        let mut path = vec![0x30 | rest[0]];
        path.extend(rest[1..].chunks(2).map(|p| (p[0] << 4) | p[1]));
        let leaf = rlp_list(&[rlp_string(&path), rlp_string(&account_rlp(code_hash))]);
        let mut slots: Vec<Vec<u8>> = vec![rlp_string(&[]); 17];
        slots[nibbles[0] as usize] = rlp_string(keccak256(&leaf).as_slice());
        let other = (nibbles[0] as usize + 1) % 16;
        slots[other] = rlp_string(B256::repeat_byte(0x77).as_slice());
        let branch = rlp_list(&slots);
        (keccak256(&branch), vec![branch, leaf])
    }

    #[test]
    fn a_valid_proof_yields_the_account() {
        let address = Address::repeat_byte(0xab);
        let code_hash = keccak256(b"code");
        let (root, proof) = proof_for(&address, code_hash);
        let account = verify_account(&root, &address, &proof).unwrap().unwrap();
        assert_eq!(account.code_hash, code_hash);
        assert_eq!(account.nonce, 1);
        assert_eq!(account.balance, U256::from(0x0de0));
    }

    #[test]
    fn forged_proofs_are_rejected() {
        let address = Address::repeat_byte(0xab);
        let (root, proof) = proof_for(&address, keccak256(b"code"));
        // A leaf for other code under the same branch: the hash breaks.
        let (_, forged) = proof_for(&address, keccak256(b"evil"));
        let mixed = vec![proof[0].clone(), forged[1].clone()];
        let err = verify_account(&root, &address, &mixed).unwrap_err();
        assert!(matches!(err, Error::SecurityViolation(ref m) if m.contains("node 1 hashes to")), "{err}");
        // Another root.
        let err = verify_account(&B256::repeat_byte(1), &address, &proof).unwrap_err();
        assert!(err.to_string().contains("node 0"), "{err}");
        // Truncated.
        let err = verify_account(&root, &address, &proof[..1]).unwrap_err();
        assert!(err.to_string().contains("ends after 1 nodes"), "{err}");
    }

    #[test]
    fn an_empty_slot_proves_absence() {
        let address = Address::repeat_byte(0xab);
        let (root, proof) = proof_for(&address, keccak256(b"code"));
        // Find an address whose first nibble hits an empty slot of the branch.
        let first = keccak256(address)[0] >> 4;
        let taken = [first, (first + 1) % 16];
        let absent = (0u8..=255)
            .map(Address::repeat_byte)
            .find(|a| !taken.contains(&(keccak256(a)[0] >> 4)))
            .unwrap();
        assert_eq!(verify_account(&root, &absent, &proof[..1]).unwrap(), None);
    }

    #[test]
    fn malformed_rlp_reports_offsets() {
        assert!(header(&[0xb8, 0x01, 0], 0).unwrap_err().contains("long form"));
        assert!(header(&[0xb8, 0x00], 0).unwrap_err().contains("not canonical"));
        assert!(header(&[0x85, 1, 2], 0).unwrap_err().contains("runs past the end"));
        assert!(list_items(&[0x80]).unwrap_err().contains("expected an RLP list"));
    }
}
