//! Account code with EVMC's semantics, so a host can forward its
//! `get_code_size`, `get_code_hash` and `copy_code` callbacks to a
//! [`Manager`].
//!
//! An address is looked up in the cache and, on a miss, loaded from the
//! configured default source (`Config::default_source`), once; concurrent
//! callers share that fetch. What the source answers decides the account:
//!
//! | the source | [`AccountCode`] | size | hash | copy |
//! |---|---|---|---|---|
//! | [`Error::NotFound`] (nothing known there) | `Missing` | 0 | zero | 0 bytes |
//! | `Ok` with zero bytes, or hex `0x` | `Empty` | 0 | keccak256 of empty | 0 bytes |
//! | code | `Code` | its length | its keccak256 | the bytes |
//!
//! Any other failure (timeout, I/O, a size limit, the security policy, no
//! default source configured) is an error, never taken for a missing
//! account. With lazy loading disabled an uncached address is `Missing`.
//! Only code is cached; an empty or missing account is remembered as such
//! for `Config::absent_ttl_ms` (1 s by default) and then asked again.

use std::sync::Arc;

use revm::primitives::{Address, B256, KECCAK_EMPTY};

use crate::bytecode::ExternalBytecode;
use crate::error::{Error, Result};
use crate::manager::{LoadOptions, Manager};

/// What an account holds, as an EVM host sees it.
#[derive(Clone, Debug)]
pub enum AccountCode {
    /// The source knows no such account: size 0, code hash zero.
    Missing,
    /// The account exists without code (an externally owned account): size
    /// 0, code hash keccak256 of the empty string.
    Empty,
    /// The account's code, loaded and verified.
    Code(Arc<ExternalBytecode>),
}

impl AccountCode {
    /// The code bytes; empty for `Missing` and `Empty`.
    pub fn bytes(&self) -> &[u8] {
        match self {
            AccountCode::Code(code) => code.code(),
            AccountCode::Missing | AccountCode::Empty => &[],
        }
    }

    /// EVMC's code hash: zero for `Missing`, keccak256 of empty for `Empty`.
    pub fn code_hash(&self) -> B256 {
        match self {
            AccountCode::Missing => B256::ZERO,
            AccountCode::Empty => KECCAK_EMPTY,
            AccountCode::Code(code) => code.code_hash(),
        }
    }
}

impl Manager {
    /// The code of `address` from the cache or, on a miss, from the default
    /// source; see the [module docs](crate::evmc) for how the source's
    /// answer becomes an [`AccountCode`].
    pub fn account_code(&self, address: &Address) -> Result<AccountCode> {
        match self.load(address, None, &LoadOptions::default()) {
            Ok(code) => Ok(AccountCode::Code(code)),
            Err(Error::NoCode(_)) => Ok(AccountCode::Empty),
            Err(Error::NotFound(_)) => Ok(AccountCode::Missing),
            Err(e) => Err(e),
        }
    }

    /// EVMC's `get_code_size`: the code's length, 0 for a missing account
    /// or one without code.
    pub fn code_size(&self, address: &Address) -> Result<usize> {
        Ok(self.account_code(address)?.bytes().len())
    }

    /// EVMC's `get_code_hash`: keccak256 of the code, keccak256 of empty
    /// for an account without code, zero for a missing account.
    pub fn code_hash(&self, address: &Address) -> Result<B256> {
        Ok(self.account_code(address)?.code_hash())
    }

    /// EVMC's `copy_code`: copies the code from `offset` into `buffer`, as
    /// much as fits, and returns how many bytes it copied (0 when `offset`
    /// is at or past the end, or the account has no code).
    pub fn copy_code(&self, address: &Address, offset: usize, buffer: &mut [u8]) -> Result<usize> {
        let account = self.account_code(address)?;
        let code = account.bytes();
        let from = offset.min(code.len());
        let n = buffer.len().min(code.len() - from);
        buffer[..n].copy_from_slice(&code[from..from + n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::source::{FnLoader, LoaderType};

    /// A manager whose default source is `acct:{address}`, served by a loader
    /// that knows 0x01…01 (code), 0x02…02 (no code) and fails for 0x03…03.
    fn manager() -> Manager {
        let config = Config { default_source: Some("acct:{address}".into()), ..Config::testing() };
        let m = Manager::new(config).unwrap();
        let loader = FnLoader::new(LoaderType::Custom, |req, sink| match req.address.0[0] {
            1 => sink.write(&[0x60, 0x01, 0x5b, 0x00]),
            2 => Ok(()),
            3 => Err(Error::Io { what: "reading the account".into(), cause: "disk on fire".into() }),
            _ => Err(Error::NotFound(format!("no account {}", req.address))),
        });
        m.register_loader("acct", Arc::new(loader)).unwrap();
        m
    }

    #[test]
    fn a_missing_account_has_size_zero_and_a_zero_hash() {
        let m = manager();
        let a = Address::repeat_byte(9);
        assert_eq!(m.code_size(&a).unwrap(), 0);
        assert_eq!(m.code_hash(&a).unwrap(), B256::ZERO);
        assert_eq!(m.copy_code(&a, 0, &mut [0u8; 4]).unwrap(), 0);
    }

    #[test]
    fn an_account_without_code_hashes_to_keccak_of_empty() {
        let m = manager();
        let a = Address::repeat_byte(2);
        assert_eq!(m.code_size(&a).unwrap(), 0);
        assert_eq!(m.code_hash(&a).unwrap(), KECCAK_EMPTY);
        assert!(matches!(m.account_code(&a).unwrap(), AccountCode::Empty));
    }

    #[test]
    fn code_is_loaded_once_and_copied_from_an_offset() {
        let m = manager();
        let a = Address::repeat_byte(1);
        assert_eq!(m.code_size(&a).unwrap(), 4);
        assert_eq!(m.code_hash(&a).unwrap(), crate::keccak256([0x60, 0x01, 0x5b, 0x00]));
        let mut buf = [0xaa; 3];
        assert_eq!(m.copy_code(&a, 2, &mut buf).unwrap(), 2);
        assert_eq!(buf, [0x5b, 0x00, 0xaa]);
        assert_eq!(m.copy_code(&a, 4, &mut buf).unwrap(), 0);
        assert_eq!(m.copy_code(&a, usize::MAX, &mut buf).unwrap(), 0);
        assert_eq!(m.metrics().loads, 1, "later calls hit the cache");
    }

    #[test]
    fn a_failing_source_is_an_error_not_a_missing_account() {
        let m = manager();
        let e = m.code_size(&Address::repeat_byte(3)).unwrap_err();
        assert_eq!(e.status(), crate::Status::Io);
    }

    #[test]
    fn without_a_default_source_the_lookup_fails() {
        let m = Manager::new(Config::testing()).unwrap();
        let e = m.code_hash(&Address::repeat_byte(1)).unwrap_err();
        assert_eq!(e.status(), crate::Status::LoaderNotFound);
    }
}
