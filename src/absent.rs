//! Addresses the default source said have no code, remembered for a short
//! while (`Config::absent_ttl_ms`).
//!
//! An EVM asks about accounts without code all the time: the sender of
//! every transaction, the recipient of every plain transfer, the coinbase.
//! With a node's JSON-RPC as the default source each question is a round
//! trip, and the answer ("no account", "an account without code") is the
//! same the next time. Only those two answers are remembered, never as code
//! and never any other failure; they are forgotten when their time is up,
//! when code for the address enters the cache, or when a load asks with
//! `reload`.

use std::time::{Duration, Instant};

use lru::LruCache;
use parking_lot::Mutex;
use revm::primitives::Address;

use crate::cache::AddressHash;
use crate::error::Error;

/// The remembered answers, at most `capacity` of them (least recently
/// asked go first).
pub(crate) struct AbsentAccounts {
    ttl: Duration,
    /// The answer and until when it holds.
    entries: Mutex<LruCache<Address, (Error, Instant), AddressHash>>,
    capacity: usize,
}

impl AbsentAccounts {
    /// Remembers answers for `ttl_ms` (0: never), at most `capacity`.
    pub(crate) fn new(ttl_ms: u64, capacity: usize) -> AbsentAccounts {
        AbsentAccounts {
            ttl: Duration::from_millis(ttl_ms),
            entries: Mutex::new(LruCache::unbounded_with_hasher(AddressHash::default())),
            capacity: capacity.max(1),
        }
    }

    /// The answer remembered for `address`, while it holds.
    pub(crate) fn recall(&self, address: &Address) -> Option<Error> {
        if self.ttl.is_zero() {
            return None;
        }
        let mut entries = self.entries.lock();
        let (error, until) = entries.get(address)?;
        if Instant::now() < *until {
            return Some(error.clone());
        }
        entries.pop(address);
        None
    }

    /// Remembers `error` for `address` when it says the address has no
    /// code; any other error is left alone.
    pub(crate) fn remember(&self, address: &Address, error: &Error) {
        if self.ttl.is_zero() || !matches!(error, Error::NotFound(_) | Error::NoCode(_)) {
            return;
        }
        let mut entries = self.entries.lock();
        entries.push(*address, (error.clone(), Instant::now() + self.ttl));
        while entries.len() > self.capacity {
            entries.pop_lru();
        }
    }

    /// Forgets `address` (its code was just loaded).
    pub(crate) fn forget(&self, address: &Address) {
        if !self.ttl.is_zero() {
            self.entries.lock().pop(address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_no_code_answers_are_remembered_and_only_for_their_time() {
        let absent = AbsentAccounts::new(50, 2);
        let (a, b, c) = (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        absent.remember(&a, &Error::Timeout { what: "x".into(), limit_ms: 1 });
        assert!(absent.recall(&a).is_none(), "a timeout says nothing about the account");
        absent.remember(&a, &Error::NotFound("a".into()));
        absent.remember(&b, &Error::NoCode("b".into()));
        assert!(matches!(absent.recall(&a), Some(Error::NotFound(_))));
        assert!(matches!(absent.recall(&b), Some(Error::NoCode(_))));
        absent.remember(&c, &Error::NoCode("c".into()));
        assert!(absent.recall(&a).is_none(), "the least recently asked went at the bound");
        absent.forget(&b);
        assert!(absent.recall(&b).is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(absent.recall(&c).is_none(), "expired");
        let off = AbsentAccounts::new(0, 8);
        off.remember(&a, &Error::NotFound("a".into()));
        assert!(off.recall(&a).is_none());
    }
}
