//! Compiler metadata trailers: the CBOR that solc and Vyper append after
//! the code, with its length in the last two bytes. Its bytes are data and
//! must not be analysed as instructions.
//!
//! The parser is a bounded subset of CBOR (RFC 8949): unsigned integers,
//! byte and text strings, arrays, maps and simple values, definite lengths
//! only, nesting at most four deep. It never panics on any input.

/// Which compiler wrote the trailer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compiler {
    /// Solidity (keys `ipfs`, `bzzr0`, `bzzr1`, `solc`, `experimental`).
    Solidity,
    /// Vyper (key `vyper`).
    Vyper,
}

/// A metadata trailer found at the end of the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Byte offset where the CBOR starts; the code proper ends here.
    pub start: usize,
    /// Which compiler wrote it.
    pub compiler: Compiler,
    /// The compiler version, e.g. "0.8.19", when the trailer records it.
    pub version: Option<String>,
    /// The source hash's kind: "ipfs", "bzzr0" or "bzzr1".
    pub source_hash: Option<&'static str>,
}

/// A decoded CBOR item, as far as trailers need.
#[derive(Debug)]
enum Item<'a> {
    Uint(u64),
    Bytes(&'a [u8]),
    Text(&'a [u8]),
    Array(Vec<Item<'a>>),
    Map(Vec<(Item<'a>, Item<'a>)>),
    Simple,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

const MAX_DEPTH: usize = 4;
const MAX_ITEMS: u64 = 16;

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    fn argument(&mut self, info: u8) -> Option<u64> {
        match info {
            0..=23 => Some(info as u64),
            24 => self.byte().map(u64::from),
            25 => self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]) as u64),
            26 => self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64),
            _ => None, // 64-bit lengths and indefinite lengths do not occur in trailers
        }
    }

    fn item(&mut self, depth: usize) -> Option<Item<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 0x1f);
        if major == 7 {
            return (info < 24).then_some(Item::Simple);
        }
        let arg = self.argument(info)?;
        match major {
            0 => Some(Item::Uint(arg)),
            2 => self.take(arg).map(Item::Bytes),
            3 => self.take(arg).map(Item::Text),
            4 if arg <= MAX_ITEMS => {
                (0..arg).map(|_| self.item(depth + 1)).collect::<Option<_>>().map(Item::Array)
            }
            5 if arg <= MAX_ITEMS => (0..arg)
                .map(|_| Some((self.item(depth + 1)?, self.item(depth + 1)?)))
                .collect::<Option<_>>()
                .map(Item::Map),
            _ => None,
        }
    }
}

/// Version numbers `[major, minor, patch]` as "major.minor.patch".
fn version_of(item: &Item<'_>) -> Option<String> {
    match item {
        Item::Bytes(b) if b.len() == 3 => Some(format!("{}.{}.{}", b[0], b[1], b[2])),
        Item::Text(t) => std::str::from_utf8(t).ok().map(str::to_owned),
        Item::Array(parts) => {
            let nums: Option<Vec<String>> = parts
                .iter()
                .map(|p| if let Item::Uint(n) = p { Some(n.to_string()) } else { None })
                .collect();
            nums.map(|n| n.join("."))
        }
        _ => None,
    }
}

/// Reads a trailer map: Solidity keys or Vyper's.
fn from_map(entries: &[(Item<'_>, Item<'_>)], start: usize) -> Option<Trailer> {
    let mut trailer = Trailer { start, compiler: Compiler::Solidity, version: None, source_hash: None };
    let mut known = false;
    for (key, value) in entries {
        let Item::Text(key) = key else { return None };
        match *key {
            b"ipfs" => trailer.source_hash = Some("ipfs"),
            b"bzzr0" => trailer.source_hash = Some("bzzr0"),
            b"bzzr1" => trailer.source_hash = Some("bzzr1"),
            b"solc" => trailer.version = version_of(value),
            b"experimental" => {}
            b"vyper" => {
                trailer.compiler = Compiler::Vyper;
                trailer.version = version_of(value);
            }
            _ => continue,
        }
        known = true;
    }
    known.then_some(trailer)
}

/// Finds the metadata trailer at the end of `code`, if there is one.
///
/// The last two bytes give the CBOR's length L; the L bytes before them
/// must decode completely as a map with a known key (solc, Vyper 0.3.4 to
/// 0.3.9) or as an array ending in such a map (Vyper 0.3.10 and later).
pub fn find_trailer(code: &[u8]) -> Option<Trailer> {
    let n = code.len();
    if n < 2 {
        return None;
    }
    let len = u16::from_be_bytes([code[n - 2], code[n - 1]]) as usize;
    let start = n.checked_sub(2 + len)?;
    if len == 0 {
        return None;
    }
    let cbor = &code[start..n - 2];
    let mut reader = Reader { bytes: cbor, pos: 0 };
    let item = reader.item(0)?;
    if reader.pos != cbor.len() {
        return None;
    }
    match item {
        Item::Map(entries) => from_map(&entries, start),
        Item::Array(items) => match items.last() {
            Some(Item::Map(entries)) => from_map(entries, start),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        crate::codec::decode_hex(s.as_bytes(), "test").unwrap()
    }

    #[test]
    fn solc_ipfs_trailer_is_found_with_its_version() {
        // a2 "ipfs" bytes(34) "solc" 0x000813, length 0x0033.
        let mut code = hex("6080604052");
        let trailer = format!("a264697066735822{}64736f6c63430008130033", "12".repeat(34));
        code.extend(hex(&trailer));
        let t = find_trailer(&code).unwrap();
        assert_eq!(t.start, 5);
        assert_eq!((t.compiler, t.version.as_deref(), t.source_hash), (Compiler::Solidity, Some("0.8.19"), Some("ipfs")));
    }

    #[test]
    fn old_bzzr0_trailer_is_found() {
        let mut code = hex("60606040");
        code.extend(hex(&format!("a165627a7a72305820{}0029", "ab".repeat(32))));
        let t = find_trailer(&code).unwrap();
        assert_eq!((t.start, t.source_hash, t.version), (4, Some("bzzr0"), None));
    }

    #[test]
    fn vyper_trailers_old_and_new_are_found() {
        let mut code = hex("6003361161000c57");
        code.extend(hex("a165767970657283000307000b"));
        let t = find_trailer(&code).unwrap();
        assert_eq!((t.compiler, t.version.as_deref(), t.start), (Compiler::Vyper, Some("0.3.7"), 8));
        // Vyper 0.3.10+: [runtime size, [data section sizes], immutables, {"vyper": [0,4,0]}].
        let mut code = hex("5f5ff3");
        code.extend(hex("8419012c8000a1657679706572830004000011"));
        assert_eq!(find_trailer(&code).unwrap().version.as_deref(), Some("0.4.0"));
    }

    #[test]
    fn code_without_a_trailer_has_none() {
        assert_eq!(find_trailer(&hex("6001600201")), None);
        assert_eq!(find_trailer(&[0xff]), None);
        assert_eq!(find_trailer(&[0x00, 0x00]), None);
        assert_eq!(find_trailer(&hex("a1ff0001")), None);
    }

    #[test]
    fn no_input_makes_the_parser_panic() {
        let mut next = crate::verify::xorshift(0x1234_5678);
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len).map(|_| (next() >> 56) as u8).collect();
            let _ = find_trailer(&bytes);
        }
    }
}
