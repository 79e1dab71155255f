//! [`LazyCodeDb`]: a revm database that serves contract code through a
//! [`Manager`] the first time the EVM touches an account.
//!
//! It wraps any inner state database (balances, nonces, storage) and
//! replaces the code part of each account it serves: `basic` answers with
//! the code hash and the analysed [`Bytecode`] ebc built once at ingest (an
//! `Arc` clone, never a re-analysis), and `code_by_hash` returns the same
//! object. Every way the EVM reaches code (the transaction's target, CALL,
//! CALLCODE, DELEGATECALL, STATICCALL, EXTCODESIZE, EXTCODEHASH,
//! EXTCODECOPY) loads the account through `basic`, so all of them resolve
//! through the manager.

use std::cell::{Cell, RefCell};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

use revm::bytecode::Bytecode;
use revm::database_interface::{DBErrorMarker, DatabaseRef};
use revm::primitives::{Address, AddressMap, B256, StorageKey, StorageValue};
use revm::state::AccountInfo;

use crate::bytecode::ExternalBytecode;
use crate::error::{Error, Result};
use crate::manager::{LoadOptions, Manager};

/// ebc's error is the database error of every database in this module: a
/// failed code load stops the transaction with the load's own error.
impl DBErrorMarker for Error {}

/// The manager a database serves code through: shared by `Arc`, or owned
/// by a C host that promised to keep it alive.
#[derive(Clone)]
pub(crate) enum ManagerHandle {
    /// A manager shared with the rest of a Rust program.
    Shared(Arc<Manager>),
    /// A manager owned by a C host (`ebc_manager*`).
    Host(NonNull<Manager>),
}

// SAFETY: `Manager` is `Send + Sync`; `Host` is only built by
// `ManagerHandle::host`, whose caller guarantees the manager outlives the
// handle, so sending or sharing the pointer is sending or sharing `&Manager`.
unsafe impl Send for ManagerHandle {}
// SAFETY: as above.
unsafe impl Sync for ManagerHandle {}

impl ManagerHandle {
    /// A handle on a manager owned by a C host.
    ///
    /// # Safety
    /// `manager` must point to a live `Manager` that outlives every use of
    /// the handle and its clones. The safe alternative is
    /// [`ManagerHandle::Shared`].
    pub(crate) unsafe fn host(manager: NonNull<Manager>) -> ManagerHandle {
        ManagerHandle::Host(manager)
    }
}

impl Deref for ManagerHandle {
    type Target = Manager;

    fn deref(&self) -> &Manager {
        match self {
            ManagerHandle::Shared(manager) => manager,
            // SAFETY: `host`'s contract: the manager outlives the handle.
            ManagerHandle::Host(manager) => unsafe { manager.as_ref() },
        }
    }
}

/// Where one address's code comes from when it is not the default source:
/// what `load_external_contract` recorded.
#[derive(Clone, Debug)]
pub(crate) struct Mapping {
    pub(crate) uri: String,
    pub(crate) options: LoadOptions,
}

/// What the database knows of one address: its mapping, and the answer of
/// the last transaction that touched it.
#[derive(Clone, Debug, Default)]
struct Account {
    /// Where its code comes from, when [`LazyCodeDb::map`] said so.
    mapping: Option<Mapping>,
    /// The transaction the answer below belongs to (see `generation`); 0
    /// for none.
    generation: u64,
    /// ebc's code in that transaction: an index into `served`.
    served: Option<u32>,
    /// ebc served code for the address at some point: it must never fall
    /// back to the state's code.
    served_before: bool,
    /// The manager's cache had no code for it (no mapping, no default
    /// source) when its insertion count was this: while the count stays,
    /// later transactions need not ask again.
    missed_at: Option<u64>,
}

/// Counters of what the database served, readable at any time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeStats {
    /// Account lookups answered with code from ebc.
    pub served: u64,
    /// Account lookups for which ebc had no code (the inner state's code,
    /// or none, was used).
    pub not_external: u64,
    /// Account lookups that failed because a load failed.
    pub failures: u64,
}

/// A revm database that serves code through a [`Manager`].
///
/// Resolution of an account's code, on the first touch in a transaction:
/// 1. an address mapped with [`LazyCodeDb::map`] loads from its URI;
/// 2. otherwise the manager is asked for the address with no URI: its cache,
///    then its default source (when one is configured and lazy loading is on);
/// 3. when ebc has no code for it ([`Error::NotFound`], [`Error::NoCode`],
///    [`Error::LoaderNotFound`], [`Error::Disabled`]) the inner state's code
///    is used, or none.
///
/// Any other load error (a timeout, a checksum mismatch, a security
/// violation) fails the lookup, and so the transaction, with that error:
/// nothing else is run in the code's place. For the same reason an address
/// ebc served once never falls back to the state's code (a committed copy
/// would run outside the sandbox): when the manager no longer has its code
/// (evicted or unloaded, with no mapping or default source to reload it
/// from), the lookup fails with [`Error::NotFound`].
///
/// Answers are remembered until [`LazyCodeDb::begin_transaction`], so a
/// transaction sees one code per address and asks the manager once per
/// account; the next transaction asks again (a cache hit), so unloads,
/// expiry and reloads in the manager take effect between transactions.
/// One exception saves the senders, coinbases and other accounts without
/// code a lookup each: when an address has no mapping, the manager no
/// default source, and its cache missed, the miss is remembered until the
/// cache gains an entry ([`Manager::cache_insertions`]), since nothing
/// else can turn that miss into code.
///
/// `Send`, not `Sync`: one transaction at a time uses it.
pub struct LazyCodeDb<S> {
    state: S,
    manager: Option<ManagerHandle>,
    /// One entry per address mapped or asked about; holds no code, so code
    /// the manager evicted is not kept alive here past its transaction.
    accounts: RefCell<AddressMap<Account>>,
    /// The code served in the current transaction.
    served: RefCell<Vec<Arc<ExternalBytecode>>>,
    /// The current transaction's number; `begin_transaction` moves it on,
    /// which makes every remembered answer stale at once.
    generation: Cell<u64>,
    stats: Cell<ServeStats>,
}

impl<S> LazyCodeDb<S> {
    /// Serves code through `manager` over the inner `state`.
    pub fn new(state: S, manager: Arc<Manager>) -> LazyCodeDb<S> {
        LazyCodeDb::with_handle(state, Some(ManagerHandle::Shared(manager)))
    }

    /// The inner state alone: no code is served through ebc.
    pub fn without_manager(state: S) -> LazyCodeDb<S> {
        LazyCodeDb::with_handle(state, None)
    }

    pub(crate) fn with_handle(state: S, manager: Option<ManagerHandle>) -> LazyCodeDb<S> {
        LazyCodeDb {
            state,
            manager,
            accounts: RefCell::new(AddressMap::default()),
            served: RefCell::new(Vec::new()),
            generation: Cell::new(1),
            stats: Cell::new(ServeStats::default()),
        }
    }

    /// The inner state database.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The inner state database, to set it up or commit changes to it.
    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
    }

    /// The manager code is served through, if any.
    pub fn manager(&self) -> Option<&Manager> {
        self.manager.as_deref()
    }

    pub(crate) fn set_manager(&mut self, manager: Option<ManagerHandle>) {
        self.manager = manager;
        self.accounts.get_mut().clear();
        self.begin_transaction();
    }

    /// Serves `address`'s code from `uri` (loaded with `options`) instead of
    /// the default source.
    pub fn map(&mut self, address: Address, uri: &str, options: LoadOptions) {
        let account = self.accounts.get_mut().entry(address).or_default();
        account.mapping = Some(Mapping { uri: uri.to_owned(), options });
        account.generation = 0;
        account.missed_at = None;
    }

    /// Forgets what the last transaction resolved: the next touch of each
    /// account asks the manager again.
    pub fn begin_transaction(&self) {
        self.generation.set(self.generation.get() + 1);
        self.served.borrow_mut().clear();
    }

    /// What was served so far.
    pub fn stats(&self) -> ServeStats {
        self.stats.get()
    }

    /// The ebc code this transaction resolved for `address`: `None` when
    /// the account was not touched yet or ebc has no code for it.
    pub fn external_code(&self, address: &Address) -> Option<Arc<ExternalBytecode>> {
        let accounts = self.accounts.borrow();
        let account = accounts.get(address)?;
        let index = account.served.filter(|_| account.generation == self.generation.get())?;
        self.served.borrow().get(index as usize).cloned()
    }

    /// Whether this transaction touched code whose permissions restrict
    /// anything (a denied operation or a gas share below 1).
    pub fn touched_restricted_code(&self) -> bool {
        self.served.borrow().iter().any(|code| super::sandbox::restricts(&code.security().permissions))
    }

    /// Resolves `address` through the manager (memoised per transaction;
    /// a cache miss without a source to load from is remembered until the
    /// manager's cache gains an entry).
    pub(crate) fn resolve(&self, address: Address) -> Result<Option<Arc<ExternalBytecode>>> {
        let Some(manager) = &self.manager else { return Ok(None) };
        let generation = self.generation.get();
        let mut accounts = self.accounts.borrow_mut();
        let account = accounts.entry(address).or_default();
        if account.generation == generation {
            return Ok(account.served.and_then(|i| self.served.borrow().get(i as usize).cloned()));
        }
        let cache_only = account.mapping.is_none() && manager.config().default_source.is_none();
        let insertions = cache_only.then(|| manager.cache_insertions());
        let mut stats = self.stats.get();
        if insertions.is_some() && account.missed_at == insertions {
            account.generation = generation;
            account.served = None;
            stats.not_external += 1;
            self.stats.set(stats);
            return Ok(None);
        }
        let loaded = match &account.mapping {
            Some(mapping) => manager.load(&address, Some(&mapping.uri), &mapping.options),
            None if !cache_only => manager.load(&address, None, &LoadOptions::default()),
            None => manager.get(&address).ok_or(Error::NotFound(String::new())),
        };
        let outcome = match loaded {
            Ok(code) => {
                let mut served = self.served.borrow_mut();
                account.generation = generation;
                account.served = Some(served.len() as u32);
                account.served_before = true;
                account.missed_at = None;
                served.push(code.clone());
                stats.served += 1;
                Ok(Some(code))
            }
            Err(Error::NotFound(_) | Error::NoCode(_) | Error::LoaderNotFound(_) | Error::Disabled)
                if account.served_before =>
            {
                stats.failures += 1;
                Err(Error::NotFound(format!(
                    "{address}: ebc served its code before and the manager no longer has it \
                     (evicted or unloaded, with no mapping or default source to reload it from)"
                )))
            }
            Err(Error::NotFound(_) | Error::NoCode(_) | Error::LoaderNotFound(_) | Error::Disabled) => {
                account.generation = generation;
                account.served = None;
                account.missed_at = insertions;
                stats.not_external += 1;
                Ok(None)
            }
            Err(e) => {
                stats.failures += 1;
                Err(e)
            }
        };
        self.stats.set(stats);
        outcome
    }
}

impl<S: DatabaseRef> DatabaseRef for LazyCodeDb<S>
where
    Error: From<S::Error>,
{
    type Error = Error;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>> {
        let info = self.state.basic_ref(address)?;
        let Some(code) = self.resolve(address)? else { return Ok(info) };
        // A contract's nonce starts at 1 (EIP-161); an account the state
        // does not know yet is a deployed contract with no balance.
        let mut info = info.unwrap_or(AccountInfo { nonce: 1, ..AccountInfo::default() });
        info.code_hash = code.code_hash();
        info.code = Some(code.revm_bytecode().clone());
        Ok(Some(info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode> {
        let served = self.served.borrow();
        let found = served.iter().find(|code| code.code_hash() == code_hash);
        match found {
            Some(code) => Ok(code.revm_bytecode().clone()),
            None => Ok(self.state.code_by_hash_ref(code_hash)?),
        }
    }

    fn storage_ref(&self, address: Address, index: StorageKey) -> Result<StorageValue> {
        Ok(self.state.storage_ref(address, index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256> {
        Ok(self.state.block_hash_ref(number)?)
    }
}
