//! [`RpcState`]: account state read from a node's JSON-RPC at one block,
//! the way a fork of a live chain reads it (`anvil --fork-url`): balances,
//! nonces, storage and block hashes, each fetched once and remembered.
//! Code is not read here: ebc serves it ([`LazyCodeDb`](super::LazyCodeDb)
//! with the node as its default source).

use std::collections::HashMap;

use parking_lot::Mutex;
use revm::bytecode::Bytecode;
use revm::database_interface::DatabaseRef;
use revm::primitives::{StorageKey, StorageValue, U256};
use revm::state::AccountInfo;
use serde_json::{Value, json};

use super::BlockSpec;
use crate::error::{Error, Result};
use crate::source::jsonrpc::{BlockId, RpcClient};
use crate::{Address, B256};

/// The state of a chain at one block, read through [`RpcClient`].
///
/// Every answer is remembered for the life of the value, so a value read
/// twice is the same and costs one request. Thread-safe.
pub struct RpcState {
    client: RpcClient,
    block: u64,
    accounts: Mutex<HashMap<Address, Option<AccountInfo>>>,
    slots: Mutex<HashMap<(Address, U256), U256>>,
    hashes: Mutex<HashMap<u64, B256>>,
}

impl RpcState {
    /// The state at `block` (a number; see [`RpcState::pin`] to turn
    /// `latest` or a hash into one).
    pub fn new(client: RpcClient, block: u64) -> RpcState {
        RpcState {
            client,
            block,
            accounts: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            hashes: Mutex::new(HashMap::new()),
        }
    }

    /// The header of `block` as a [`BlockSpec`] (with the node's chain id),
    /// so reads and execution agree on one block even while the chain moves.
    pub fn pin(client: &RpcClient, block: BlockId) -> Result<BlockSpec> {
        let header = header(client, block)?;
        let field = |name: &str| -> Result<u64> {
            match header.get(name) {
                None | Some(Value::Null) => Ok(0),
                Some(value) => quantity_u64(value, name),
            }
        };
        let chain_id = quantity_u64(&client.call("eth_chainId", json!([]))?, "eth_chainId")?;
        let coinbase = header["miner"].as_str().and_then(|s| s.parse::<Address>().ok()).unwrap_or(Address::ZERO);
        let prevrandao = header["mixHash"].as_str().and_then(|s| s.parse::<B256>().ok()).unwrap_or(B256::ZERO);
        Ok(BlockSpec {
            number: field("number")?,
            timestamp: field("timestamp")?,
            basefee: field("baseFeePerGas")?,
            gas_limit: field("gasLimit")?,
            coinbase,
            prevrandao,
            chain_id,
        })
    }

    /// The block number the state is read at.
    pub fn block(&self) -> u64 {
        self.block
    }

    fn at(&self) -> BlockId {
        BlockId::Number(self.block)
    }
}

/// `eth_getBlockByNumber` / `eth_getBlockByHash` without transactions.
fn header(client: &RpcClient, block: BlockId) -> Result<Value> {
    let (method, params) = match block {
        BlockId::Hash(h) => ("eth_getBlockByHash", json!([format!("{h:#x}"), false])),
        other => ("eth_getBlockByNumber", json!([other.to_param(), false])),
    };
    let header = client.call(method, params)?;
    if header.is_null() {
        return Err(Error::NotFound(format!("block {block} is not known to {}", client.endpoints().join(", "))));
    }
    Ok(header)
}

fn quantity_u64(value: &Value, what: &str) -> Result<u64> {
    let malformed = || Error::Io { what: format!("reading {what}"), cause: format!("{value} is not a quantity") };
    let text = value.as_str().ok_or_else(malformed)?;
    let hex = text.strip_prefix("0x").ok_or_else(malformed)?;
    u64::from_str_radix(hex, 16).map_err(|_| malformed())
}

impl DatabaseRef for RpcState {
    type Error = Error;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>> {
        if let Some(known) = self.accounts.lock().get(&address) {
            return Ok(known.clone());
        }
        let balance = self.client.get_balance(&address, self.at())?;
        let nonce = self.client.get_transaction_count(&address, self.at())?;
        // An account with no balance and no nonce is as good as absent
        // (EIP-161); its code, if any, comes from ebc.
        let info = (balance != U256::ZERO || nonce != 0).then(|| AccountInfo { balance, nonce, ..AccountInfo::default() });
        self.accounts.lock().insert(address, info.clone());
        Ok(info)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode> {
        Err(Error::NotFound(format!(
            "code hash {code_hash}: the node's state serves no code by hash (ebc serves code by address)"
        )))
    }

    fn storage_ref(&self, address: Address, index: StorageKey) -> Result<StorageValue> {
        if let Some(value) = self.slots.lock().get(&(address, index)) {
            return Ok(*value);
        }
        let value = self.client.get_storage_at(&address, index, self.at())?;
        self.slots.lock().insert((address, index), value);
        Ok(value)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256> {
        if let Some(hash) = self.hashes.lock().get(&number) {
            return Ok(*hash);
        }
        let header = header(&self.client, BlockId::Number(number))?;
        let hash = header["hash"].as_str().and_then(|s| s.parse::<B256>().ok()).ok_or_else(|| Error::Io {
            what: format!("reading the hash of block {number}"),
            cause: "the header has no 32-byte hash".into(),
        })?;
        self.hashes.lock().insert(number, hash);
        Ok(hash)
    }
}
