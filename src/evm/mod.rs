//! Executing external code: [`Vm`] runs calls and transactions through revm
//! with contract code served by a [`Manager`] ([`LazyCodeDb`]) and each
//! code's execution permissions enforced while it runs ([`Sandbox`]).
//!
//! ```
//! use ebc::evm::{CallRequest, Vm};
//! use ebc::{Address, Config};
//!
//! let mut vm = Vm::new();
//! vm.enable_external_bytecode(Config::testing()).unwrap();
//! // PUSH1 42, PUSH0, MSTORE, PUSH1 32, PUSH0, RETURN: returns the word 42.
//! vm.manager().unwrap().put_memory("answer", &[0x60, 42, 0x5f, 0x52, 0x60, 32, 0x5f, 0xf3]);
//! let contract = Address::repeat_byte(0xaa);
//! vm.load_external_contract(contract, "mem:answer", None).unwrap();
//! let outcome = vm.call(&CallRequest::to(contract)).unwrap();
//! assert!(outcome.is_success());
//! assert_eq!(outcome.output[31], 42);
//! ```

mod db;
mod rpc_state;
mod sandbox;

pub use db::{LazyCodeDb, ServeStats};
pub use rpc_state::RpcState;
pub(crate) use db::ManagerHandle;
pub use sandbox::{Denial, Permission, Sandbox};

use std::sync::Arc;

use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::context_interface::result::{EVMError, ExecutionResult, Output};
use revm::database::CacheDB;
use revm::database_interface::{DatabaseCommit, DatabaseRef};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Bytes, Log, StorageKey, StorageValue, TxKind, U256};
use revm::state::{AccountInfo, Bytecode};
use revm::{ExecuteEvm, InspectEvm, MainBuilder, MainContext};

use crate::bytecode::ExternalBytecode;
use crate::cache::CacheStats;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::manager::{LoadOptions, Manager};
use crate::source::LoaderType;
use crate::verify::Fork;
use crate::{Address, B256};

/// The account state a [`Vm`] reads from: balances, nonces, storage, and
/// the code of accounts ebc does not serve. Any `DatabaseRef` with ebc's
/// error fits (an empty state, a node's state at a block).
pub type StateSource = Box<dyn DatabaseRef<Error = Error> + Send>;

/// The empty state: no accounts, every slot zero, no block hashes.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyState;

impl DatabaseRef for EmptyState {
    type Error = Error;

    fn basic_ref(&self, _address: Address) -> Result<Option<AccountInfo>> {
        Ok(None)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode> {
        Err(Error::NotFound(format!("code hash {code_hash} is not in the empty state")))
    }

    fn storage_ref(&self, _address: Address, _index: StorageKey) -> Result<StorageValue> {
        Ok(StorageValue::ZERO)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256> {
        // No chain behind it: a stand-in hash per number, the one revm's
        // own EmptyDB gives, so BLOCKHASH is deterministic.
        Ok(revm::primitives::keccak256(number.to_string().as_bytes()))
    }
}

/// The block a call executes in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSpec {
    /// Block number.
    pub number: u64,
    /// Unix time in seconds.
    pub timestamp: u64,
    /// Base fee per gas, in wei.
    pub basefee: u64,
    /// The block's gas limit.
    pub gas_limit: u64,
    /// The fee recipient (COINBASE).
    pub coinbase: Address,
    /// PREVRANDAO (the beacon randomness).
    pub prevrandao: B256,
    /// CHAINID.
    pub chain_id: u64,
}

impl Default for BlockSpec {
    /// Block 1 of chain 1 at time 1, no base fee, a 30M gas limit.
    fn default() -> BlockSpec {
        BlockSpec {
            number: 1,
            timestamp: 1,
            basefee: 0,
            gas_limit: 30_000_000,
            coinbase: Address::ZERO,
            prevrandao: B256::ZERO,
            chain_id: 1,
        }
    }
}

/// One call or transaction for [`Vm::call`] and [`Vm::transact`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRequest {
    /// The sender.
    pub caller: Address,
    /// The account called; `None` deploys `calldata` as init code.
    pub to: Option<Address>,
    /// The input (or init code).
    pub calldata: Vec<u8>,
    /// Wei sent with the call.
    pub value: U256,
    /// The transaction's gas limit.
    pub gas_limit: u64,
    /// Price per gas in wei (0: free, as `eth_call` runs by default).
    pub gas_price: u128,
    /// The block it runs in.
    pub block: BlockSpec,
    /// The hardfork whose rules apply.
    pub fork: Fork,
}

impl CallRequest {
    /// A call to `to` from the zero address with no input, no value,
    /// 10M gas, at the latest fork.
    pub fn to(to: Address) -> CallRequest {
        CallRequest { to: Some(to), ..CallRequest::default() }
    }
}

impl Default for CallRequest {
    fn default() -> CallRequest {
        CallRequest {
            caller: Address::ZERO,
            to: None,
            calldata: Vec::new(),
            value: U256::ZERO,
            gas_limit: 10_000_000,
            gas_price: 0,
            block: BlockSpec::default(),
            fork: Fork::LATEST,
        }
    }
}

/// How a call ended.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExecStatus {
    /// It returned (or stopped) normally.
    Success = 0,
    /// It reverted (REVERT); unused gas was returned.
    Revert = 1,
    /// It halted exceptionally (out of gas, invalid opcode, a sandbox
    /// denial ...); all gas was consumed.
    Halt = 2,
}

impl ExecStatus {
    /// The status's name in lower case.
    pub fn name(self) -> &'static str {
        match self {
            ExecStatus::Success => "success",
            ExecStatus::Revert => "revert",
            ExecStatus::Halt => "halt",
        }
    }
}

/// One changed storage slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotChange {
    /// The slot.
    pub slot: U256,
    /// Its value before the call.
    pub before: U256,
    /// Its value after.
    pub after: U256,
}

/// One account the call changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountChange {
    /// The account.
    pub address: Address,
    /// Its balance after the call.
    pub balance: U256,
    /// Its nonce after the call.
    pub nonce: u64,
    /// Its code hash after the call.
    pub code_hash: B256,
    /// It was created by the call.
    pub created: bool,
    /// It self-destructed in the call.
    pub selfdestructed: bool,
    /// Storage slots whose value changed.
    pub storage: Vec<SlotChange>,
}

/// What a call did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Success, revert or halt.
    pub status: ExecStatus,
    /// Return data (or revert data; empty on a halt; a deployment returns
    /// the deployed code).
    pub output: Vec<u8>,
    /// Gas used by the transaction, after refunds, as a receipt's `gasUsed`.
    pub gas_used: u64,
    /// Logs emitted (none unless it succeeded).
    pub logs: Vec<Log>,
    /// The address of a contract a deployment created.
    pub created_address: Option<Address>,
    /// Why it halted, when it did: the sandbox's denial of the
    /// transaction's own frame, or the EVM's reason.
    pub halt_reason: Option<String>,
    /// Every operation the sandbox refused, in any frame. A denied inner
    /// call halts only that frame; the caller may still succeed.
    pub denials: Vec<Denial>,
    /// The accounts it changed (touched accounts, changed slots only).
    pub state_changes: Vec<AccountChange>,
}

impl Outcome {
    /// True when the call succeeded.
    pub fn is_success(&self) -> bool {
        self.status == ExecStatus::Success
    }
}

/// What [`Vm::external_bytecode_stats`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExternalBytecodeStats {
    /// External bytecode is on (a manager serves code).
    pub enabled: bool,
    /// Calls and transactions executed.
    pub executions: u64,
    /// What the lazy database served.
    pub serve: ServeStats,
    /// Operations the sandbox refused.
    pub denials: u64,
    /// The manager's cache counters (zero when disabled).
    pub cache: CacheStats,
}

/// A revm instance whose contract code comes from ebc.
///
/// State (balances, nonces, storage, locally deployed code) lives in a
/// `CacheDB` over a [`StateSource`] (empty by default); [`Vm::transact`]
/// commits to it, [`Vm::call`] does not. Code is served through the
/// manager by [`LazyCodeDb`] and sandboxed by [`Sandbox`].
///
/// Each call runs revm without the inspector first; when the transaction
/// touched code whose permissions restrict anything, it runs again under
/// the sandbox (nothing is committed before a call returns, and execution
/// is deterministic, so fully trusted code pays nothing for the sandbox).
///
/// `Send`: move it between threads, use it from one at a time.
pub struct Vm {
    db: LazyCodeDb<CacheDB<StateSource>>,
    executions: u64,
    denials: u64,
}

impl Default for Vm {
    fn default() -> Vm {
        Vm::new()
    }
}

impl Vm {
    /// A VM over an empty state with external bytecode off.
    pub fn new() -> Vm {
        Vm::with_state(Box::new(EmptyState))
    }

    /// A VM over `state` with external bytecode off.
    pub fn with_state(state: StateSource) -> Vm {
        Vm { db: LazyCodeDb::without_manager(CacheDB::new(state)), executions: 0, denials: 0 }
    }

    /// A VM over an empty state whose code comes through `manager`.
    pub fn with_manager(manager: Arc<Manager>) -> Vm {
        let mut vm = Vm::new();
        vm.set_manager(manager);
        vm
    }

    /// Serves code through `manager` from now on, replacing any manager and
    /// forgetting per-address mappings.
    pub fn set_manager(&mut self, manager: Arc<Manager>) {
        self.db.set_manager(Some(ManagerHandle::Shared(manager)));
    }

    pub(crate) fn set_manager_handle(&mut self, manager: Option<ManagerHandle>) {
        self.db.set_manager(manager);
    }

    /// Serves code through a new manager made from `config`, replacing any
    /// manager and forgetting per-address mappings.
    pub fn enable_external_bytecode(&mut self, config: Config) -> Result<()> {
        let manager = Arc::new(Manager::new(config)?);
        self.db.set_manager(Some(ManagerHandle::Shared(manager)));
        Ok(())
    }

    /// Stops serving code through ebc: only the state's own code runs.
    pub fn disable_external_bytecode(&mut self) {
        self.db.set_manager(None);
    }

    /// The manager code is served through, when external bytecode is on.
    pub fn manager(&self) -> Option<&Manager> {
        self.db.manager()
    }

    /// Loads `address`'s code from `uri` now (through the loader of type
    /// `loader` when given, else by the URI's scheme) and serves it from
    /// there from now on. [`Error::Disabled`] when external bytecode is off.
    pub fn load_external_contract(
        &mut self,
        address: Address,
        uri: &str,
        loader: Option<LoaderType>,
    ) -> Result<Arc<ExternalBytecode>> {
        let options = LoadOptions { loader_type: loader, ..LoadOptions::default() };
        self.load_external_contract_with(address, uri, options)
    }

    /// As [`Vm::load_external_contract`], with full load options (an
    /// expected hash, a publisher's signature).
    pub fn load_external_contract_with(
        &mut self,
        address: Address,
        uri: &str,
        options: LoadOptions,
    ) -> Result<Arc<ExternalBytecode>> {
        let manager = self.db.manager().ok_or(Error::Disabled)?;
        let code = manager.load(&address, Some(uri), &options)?;
        self.db.map(address, uri, options);
        Ok(code)
    }

    /// What was served and refused so far, and the manager's cache counters.
    pub fn external_bytecode_stats(&self) -> ExternalBytecodeStats {
        ExternalBytecodeStats {
            enabled: self.db.manager().is_some(),
            executions: self.executions,
            serve: self.db.stats(),
            denials: self.denials,
            cache: self.db.manager().map(Manager::cache_stats).unwrap_or_default(),
        }
    }

    /// The account's state now (`None`: it does not exist).
    pub fn account(&self, address: Address) -> Result<Option<AccountInfo>> {
        self.db.state().basic_ref(address)
    }

    /// A storage slot's value now.
    pub fn storage(&self, address: Address, slot: U256) -> Result<U256> {
        self.db.state().storage_ref(address, slot)
    }

    /// Changes `address`'s account with `change`, starting from its current
    /// state (or an empty account).
    fn modify_account(&mut self, address: Address, change: impl FnOnce(&mut AccountInfo)) -> Result<()> {
        let state = self.db.state_mut();
        let mut info = state.basic_ref(address)?.unwrap_or_default();
        if info.code.is_none() && !info.is_empty_code_hash() {
            info.code = Some(state.code_by_hash_ref(info.code_hash)?);
        }
        change(&mut info);
        state.insert_account_info(address, info);
        Ok(())
    }

    /// Sets `address`'s balance in wei.
    pub fn set_balance(&mut self, address: Address, balance: U256) -> Result<()> {
        self.modify_account(address, |info| info.balance = balance)
    }

    /// Sets `address`'s nonce.
    pub fn set_nonce(&mut self, address: Address, nonce: u64) -> Result<()> {
        self.modify_account(address, |info| info.nonce = nonce)
    }

    /// Puts `code` in the state at `address`: code the state owns, which
    /// runs outside the sandbox and is used only when ebc has no code for
    /// the address.
    pub fn set_code(&mut self, address: Address, code: &[u8]) -> Result<()> {
        let bytecode = Bytecode::new_raw_checked(Bytes::copy_from_slice(code))
            .map_err(|e| Error::InvalidArgument(format!("code for {address}: {e:?}")))?;
        self.modify_account(address, |info| {
            info.code_hash = bytecode.hash_slow();
            info.code = Some(bytecode);
        })
    }

    /// Sets a storage slot of `address`.
    pub fn set_storage(&mut self, address: Address, slot: U256, value: U256) -> Result<()> {
        self.db.state_mut().insert_account_storage(address, slot, value)
    }

    /// Executes `request` like `eth_call`: the outcome and the state
    /// changes it would make, none of them kept.
    pub fn call(&mut self, request: &CallRequest) -> Result<Outcome> {
        self.execute(request, false)
    }

    /// Executes `request` as a transaction and commits its state changes.
    pub fn transact(&mut self, request: &CallRequest) -> Result<Outcome> {
        self.execute(request, true)
    }

    fn execute(&mut self, request: &CallRequest, commit: bool) -> Result<Outcome> {
        self.db.begin_transaction();
        let nonce = self.db.state().basic_ref(request.caller)?.map_or(0, |info| info.nonce);
        let spec = spec_of(request.fork);
        let mut cfg = CfgEnv::new_with_spec(spec);
        cfg.chain_id = request.block.chain_id;
        // The nonce is the sender's current one (filled in above).
        cfg.disable_nonce_check = true;
        let block = BlockEnv {
            number: U256::from(request.block.number),
            beneficiary: request.block.coinbase,
            timestamp: U256::from(request.block.timestamp),
            gas_limit: request.block.gas_limit,
            basefee: request.block.basefee,
            prevrandao: Some(request.block.prevrandao),
            ..BlockEnv::default()
        };
        let tx = TxEnv {
            caller: request.caller,
            gas_limit: request.gas_limit,
            gas_price: request.gas_price,
            kind: request.to.map_or(TxKind::Create, TxKind::Call),
            value: request.value,
            data: Bytes::copy_from_slice(&request.calldata),
            nonce,
            chain_id: Some(request.block.chain_id),
            ..TxEnv::default()
        };
        // Fast path: run without the inspector. When every code the run
        // touched is fully permitted the sandbox would have changed nothing
        // (execution is deterministic, and nothing was committed yet), so
        // the result stands; otherwise run again under the sandbox.
        let context = || Context::mainnet().with_ref_db(&self.db).with_cfg(cfg.clone()).with_block(block.clone());
        let mut executed = context().build_mainnet().transact(tx.clone());
        let mut denials = Vec::new();
        if executed.is_ok() && self.db.touched_restricted_code() {
            let mut evm = context().build_mainnet_with_inspector(Sandbox::new(&self.db));
            executed = evm.inspect_tx(tx);
            denials = std::mem::replace(&mut evm.inspector, Sandbox::new(&self.db)).into_denials();
        }
        self.executions += 1;
        self.denials += denials.len() as u64;
        let executed = executed.map_err(|e| match e {
            EVMError::Database(e) => e,
            EVMError::Transaction(e) => Error::InvalidArgument(format!("the transaction is invalid: {e}")),
            other => Error::InvalidArgument(format!("the EVM refused the call: {other}")),
        })?;
        let state_changes = changes_of(&executed.state);
        if commit {
            self.db.state_mut().commit(executed.state);
        }
        Ok(outcome_of(executed.result, denials, state_changes))
    }
}

/// revm's hardfork for ebc's.
pub fn spec_of(fork: Fork) -> SpecId {
    match fork {
        Fork::Frontier => SpecId::FRONTIER,
        Fork::Homestead => SpecId::HOMESTEAD,
        Fork::TangerineWhistle => SpecId::TANGERINE,
        Fork::SpuriousDragon => SpecId::SPURIOUS_DRAGON,
        Fork::Byzantium => SpecId::BYZANTIUM,
        // revm folds Constantinople into Petersburg (EIP-1283 was never live).
        Fork::Constantinople | Fork::Petersburg => SpecId::PETERSBURG,
        Fork::Istanbul => SpecId::ISTANBUL,
        Fork::Berlin => SpecId::BERLIN,
        Fork::London => SpecId::LONDON,
        Fork::Paris => SpecId::MERGE,
        Fork::Shanghai => SpecId::SHANGHAI,
        Fork::Cancun => SpecId::CANCUN,
        Fork::Prague => SpecId::PRAGUE,
        Fork::Osaka => SpecId::OSAKA,
    }
}

fn changes_of(state: &revm::state::EvmState) -> Vec<AccountChange> {
    let mut changes: Vec<AccountChange> = state
        .iter()
        .filter(|(_, account)| account.is_touched())
        .map(|(address, account)| {
            let mut storage: Vec<SlotChange> = account
                .storage
                .iter()
                .filter(|(_, slot)| slot.is_changed())
                .map(|(key, slot)| SlotChange {
                    slot: *key,
                    before: slot.original_value(),
                    after: slot.present_value(),
                })
                .collect();
            storage.sort_by_key(|s| s.slot);
            AccountChange {
                address: *address,
                balance: account.info.balance,
                nonce: account.info.nonce,
                code_hash: account.info.code_hash,
                created: account.is_created(),
                selfdestructed: account.is_selfdestructed(),
                storage,
            }
        })
        .collect();
    changes.sort_by_key(|c| c.address);
    changes
}

fn outcome_of(result: ExecutionResult, denials: Vec<Denial>, state_changes: Vec<AccountChange>) -> Outcome {
    let gas_used = result.tx_gas_used();
    let (status, output, logs, created_address, halt_reason) = match result {
        ExecutionResult::Success { logs, output, .. } => {
            let created = match &output {
                Output::Create(_, address) => *address,
                Output::Call(_) => None,
            };
            (ExecStatus::Success, output.into_data().to_vec(), logs, created, None)
        }
        ExecutionResult::Revert { output, logs, .. } => (ExecStatus::Revert, output.to_vec(), logs, None, None),
        ExecutionResult::Halt { reason, logs, .. } => {
            let own = denials.iter().find(|d| d.depth == 0).map(Denial::to_string);
            (ExecStatus::Halt, Vec::new(), logs, None, Some(own.unwrap_or_else(|| format!("{reason:?}"))))
        }
    };
    Outcome { status, output, gas_used, logs, created_address, halt_reason, denials, state_changes }
}
