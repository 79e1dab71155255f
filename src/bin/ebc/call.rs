//! `ebc call`: execute a call against external code through revm.

use ebc::codec::{decode_hex, to_hex};
use ebc::evm::{BlockSpec, CallRequest, ExecStatus, Outcome, Vm};
use ebc::verify::Fork;
use ebc::evm::RpcState;
use ebc::{Address, BlockId, Config, LoadOptions, Manager, RpcClient};
use revm::primitives::U256;
use serde_json::{Value, json};

use super::{Level, parse_fork};

/// Arguments of `ebc call`.
#[derive(clap::Args)]
pub struct CallArgs {
    /// The contract: a URI its code is loaded from (a path, file:..., mem:...,
    /// any registered scheme), or an address whose code comes from --rpc.
    target: String,
    /// The input: 0x and hex (a function selector and its arguments).
    #[arg(long, default_value = "0x")]
    calldata: String,
    /// The sender.
    #[arg(long, default_value = "0x0000000000000000000000000000000000000000")]
    from: Address,
    /// The address the code of a URI target is served at.
    #[arg(long, default_value = "0x000000000000000000000000000000000000c0de")]
    address: Address,
    /// Wei sent with the call: decimal or 0x hex, or with a unit (`1ether`,
    /// `5gwei`). Without --rpc the sender is given this much.
    #[arg(long, default_value = "0", value_parser = parse_wei)]
    value: U256,
    /// The gas limit.
    #[arg(long, default_value_t = 10_000_000)]
    gas: u64,
    /// Hardfork whose rules apply (frontier ... osaka).
    #[arg(long, default_value = "osaka", value_parser = parse_fork)]
    fork: Fork,
    /// Fork a live chain: read balances, nonces and storage from this
    /// node (`jsonrpc+http://host:port`), and load every code through ebc
    /// with the node as the default source.
    #[arg(long)]
    rpc: Option<String>,
    /// With --rpc: the block whose state the call runs on (`latest`, the
    /// default, a number, or a block hash).
    #[arg(long, value_parser = parse_block)]
    block: Option<BlockId>,
    /// Security level code is loaded at. At `none` all code is fully
    /// trusted; above it, code runs sandboxed by its trust level (code from
    /// a node's JSON-RPC is trusted low: calls and reads only).
    #[arg(long, value_enum, default_value_t = Level::None)]
    level: Level,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Parses wei: decimal, 0x hex, or a decimal with `ether`, `gwei` or `wei`.
fn parse_wei(text: &str) -> Result<U256, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ether") {
        (n, 18)
    } else if let Some(n) = text.strip_suffix("gwei") {
        (n, 9)
    } else {
        (text.strip_suffix("wei").unwrap_or(text), 0)
    };
    let base: U256 = number.trim().parse().map_err(|e| format!("{text:?} is not an amount of wei: {e}"))?;
    base.checked_mul(U256::from(10).pow(U256::from(scale))).ok_or_else(|| format!("{text} overflows 256 bits"))
}

fn parse_block(text: &str) -> Result<BlockId, String> {
    text.parse().map_err(|e: ebc::Error| e.to_string())
}

/// The HTTP endpoint of a `jsonrpc+http(s)://` URI (its query dropped).
fn endpoint_of(uri: &str) -> ebc::Result<String> {
    let without_query = uri.split(['?', '#']).next().unwrap_or(uri);
    match without_query.strip_prefix("jsonrpc+") {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(url.to_owned()),
        _ => Err(ebc::Error::InvalidArgument(format!(
            "--rpc {uri:?} is not a jsonrpc+http:// or jsonrpc+https:// URI"
        ))),
    }
}

/// A VM forking the chain behind `rpc` at `block`: the state from the node,
/// every code through ebc with the node (at the same block) as the default
/// source. Returns it with the block it runs in.
fn forked_vm(rpc: &str, block: BlockId, mut config: Config) -> ebc::Result<(Vm, BlockSpec)> {
    let endpoint = endpoint_of(rpc)?;
    let client = RpcClient::new(vec![endpoint.clone()], config.loader_timeout_ms, 64 * 1024 * 1024)?;
    let mut spec = RpcState::pin(&client, block)?;
    config.default_source = Some(format!("jsonrpc+{endpoint}?block={}", spec.number));
    let state = RpcState::new(client, spec.number);
    let mut vm = Vm::with_state(Box::new(state));
    vm.set_manager(std::sync::Arc::new(Manager::new(config)?));
    // As `eth_call` does: a call that pays no gas price runs with no base fee.
    spec.basefee = 0;
    Ok((vm, spec))
}

/// Runs `ebc call`; returns whether the call succeeded.
pub fn run(args: &CallArgs) -> ebc::Result<bool> {
    let calldata = decode_hex(args.calldata.as_bytes(), "--calldata")?;
    let config = Config { security_level: args.level.into(), fork: args.fork, ..Config::development() };
    let (mut vm, block) = match (&args.rpc, args.block) {
        (Some(rpc), block) => forked_vm(rpc, block.unwrap_or_default(), config)?,
        (None, None) => (Vm::with_manager(std::sync::Arc::new(Manager::new(config)?)), BlockSpec::default()),
        (None, Some(_)) => {
            return Err(ebc::Error::InvalidArgument("--block chooses a block of --rpc's chain; give --rpc".into()));
        }
    };
    let to = match args.target.parse::<Address>() {
        Ok(address) => address,
        Err(_) => {
            vm.load_external_contract_with(args.address, &args.target, LoadOptions::default())?;
            args.address
        }
    };
    if args.rpc.is_none() {
        // An empty state: the sender is given what it sends.
        vm.set_balance(args.from, args.value)?;
    }
    let request = CallRequest {
        caller: args.from,
        to: Some(to),
        calldata,
        value: args.value,
        gas_limit: args.gas,
        gas_price: 0,
        block,
        fork: args.fork,
    };
    let outcome = vm.call(&request)?;
    if args.json {
        println!("{}", to_json(&outcome));
    } else {
        print_text(&outcome);
    }
    Ok(outcome.status == ExecStatus::Success)
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", to_hex(bytes))
}

fn print_text(outcome: &Outcome) {
    println!("status       {}", outcome.status.name());
    if let Some(reason) = &outcome.halt_reason {
        println!("halt reason  {reason}");
    }
    println!("gas used     {}", outcome.gas_used);
    println!("output       {}", hex(&outcome.output));
    for (i, log) in outcome.logs.iter().enumerate() {
        println!("log {i:<8} {}", log.address);
        for topic in log.topics() {
            println!("  topic      {topic}");
        }
        println!("  data       {}", hex(&log.data.data));
    }
    for denial in &outcome.denials {
        println!("denied       {denial}");
    }
    for change in &outcome.state_changes {
        println!("changed      {} balance {} nonce {}", change.address, change.balance, change.nonce);
        for slot in &change.storage {
            println!("  slot       {:#x}: {:#x} -> {:#x}", slot.slot, slot.before, slot.after);
        }
    }
}

fn to_json(outcome: &Outcome) -> Value {
    json!({
        "status": outcome.status.name(),
        "gas_used": outcome.gas_used,
        "output": hex(&outcome.output),
        "halt_reason": outcome.halt_reason,
        "created_address": outcome.created_address.map(|a| a.to_string()),
        "logs": outcome.logs.iter().map(|log| json!({
            "address": log.address.to_string(),
            "topics": log.topics().iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            "data": hex(&log.data.data),
        })).collect::<Vec<_>>(),
        "denials": outcome.denials.iter().map(|d| json!({
            "code_address": d.code_address.to_string(),
            "pc": d.pc,
            "opcode": revm::bytecode::opcode::OpCode::name_by_op(d.opcode),
            "permission": d.permission.name(),
            "trust": d.trust.name(),
            "depth": d.depth,
            "message": d.to_string(),
        })).collect::<Vec<_>>(),
        "state_changes": outcome.state_changes.iter().map(|c| json!({
            "address": c.address.to_string(),
            "balance": c.balance.to_string(),
            "nonce": c.nonce,
            "code_hash": c.code_hash.to_string(),
            "created": c.created,
            "selfdestructed": c.selfdestructed,
            "storage": c.storage.iter().map(|s| json!({
                "slot": format!("{:#x}", s.slot),
                "before": format!("{:#x}", s.before),
                "after": format!("{:#x}", s.after),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
