//! Differential test against anvil: contracts compiled by solc are deployed
//! on anvil; the same calls through `ebc call --rpc` (state from the node,
//! every code loaded through ebc by JSON-RPC) give the same return data and
//! the same success or revert as anvil's `eth_call`, and the same gas as
//! anvil's receipts when the same transactions are mined.

mod common;

use std::process::Command;

use common::{Anvil, send_and_wait, solc};
use ebc::{Address, RpcClient, keccak256};
use serde_json::{Value, json};

const SOURCE: &str = r#"
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Token {
    string public name = "Differential";
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    constructor(uint256 supply) {
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }
    function transfer(address to, uint256 value) external returns (bool) {
        require(balanceOf[msg.sender] >= value, "insufficient balance");
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }
    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        require(allowance[from][msg.sender] >= value, "allowance");
        require(balanceOf[from] >= value, "insufficient balance");
        allowance[from][msg.sender] -= value;
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
        return true;
    }
}

contract Caller {
    function balanceThrough(Token token, address who) external view returns (uint256) {
        return token.balanceOf(who);
    }
    function pull(Token token, address from, uint256 value) external returns (bool) {
        return token.transferFrom(from, address(this), value);
    }
    function codeInfo(address account) external view returns (uint256 size, bytes32 hash, bytes memory head) {
        head = new bytes(8);
        assembly { extcodecopy(account, add(head, 32), 0, 8) }
        return (account.code.length, account.codehash, head);
    }
}

contract Child {
    uint256 public value;
    address public creator;
    constructor(uint256 v) { value = v; creator = msg.sender; }
}

contract Factory {
    event Deployed(address child, bytes32 salt);
    function deploy(bytes32 salt, uint256 v) external returns (address child) {
        child = address(new Child{salt: salt}(v));
        emit Deployed(child, salt);
    }
    function deployAndRead(bytes32 salt, uint256 v) external returns (uint256) {
        return Child(address(new Child{salt: salt}(v))).value();
    }
}

contract Emitter {
    event Ping(address indexed from, uint256 indexed n, string note);
    event Raw(uint256 a, uint256 b) anonymous;
    function emitMany(uint256 n) external {
        for (uint256 i = 0; i < n; i++) emit Ping(msg.sender, i, "hello");
        emit Raw(n, block.number);
    }
}

contract Reverter {
    error Custom(uint256 code, string why);
    function fail() external pure { revert("no way"); }
    function failCustom() external pure { revert Custom(42, "custom"); }
    function ok(uint256 x) external pure returns (uint256) { return x * 7; }
}
"#;

const FORK: &str = "prague";

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", ebc::codec::to_hex(bytes))
}

fn unhex(text: &str) -> Vec<u8> {
    ebc::codec::decode_hex(text.as_bytes(), "test").unwrap()
}

fn word_u(n: u64) -> Vec<u8> {
    let mut w = vec![0u8; 32];
    w[24..].copy_from_slice(&n.to_be_bytes());
    w
}

fn word_a(a: Address) -> Vec<u8> {
    let mut w = vec![0u8; 32];
    w[12..].copy_from_slice(a.as_slice());
    w
}

fn call_data(signature: &str, args: &[Vec<u8>]) -> Vec<u8> {
    let mut data = keccak256(signature.as_bytes())[..4].to_vec();
    for a in args {
        data.extend_from_slice(a);
    }
    data
}

fn send(rpc: &RpcClient, from: Address, to: Option<Address>, data: &[u8]) -> Value {
    let mut tx = json!({ "from": format!("{from:#x}"), "data": hex(data), "gas": "0x1e8480" });
    if let Some(to) = to {
        tx["to"] = json!(format!("{to:#x}"));
    }
    send_and_wait(rpc, tx)
}

fn block_number(rpc: &RpcClient) -> u64 {
    let n = rpc.call("eth_blockNumber", json!([])).unwrap();
    u64::from_str_radix(n.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// anvil's `eth_call` at `block`: `(success, return or revert data)`. Sent
/// over plain HTTP: a revert is a JSON-RPC error whose `data` holds the
/// revert data.
fn anvil_call(anvil: &Anvil, from: Address, to: Address, data: &[u8], block: u64) -> (bool, Vec<u8>) {
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [
        { "from": format!("{from:#x}"), "to": format!("{to:#x}"), "data": hex(data), "gas": "0x1e8480" },
        format!("{block:#x}")
    ] });
    let mut response = ureq::post(&anvil.url())
        .header("content-type", "application/json")
        .send(request.to_string())
        .unwrap();
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    match (&body["result"], &body["error"]) {
        (Value::String(result), _) => (true, unhex(result)),
        (_, Value::Object(error)) => (false, error.get("data").and_then(Value::as_str).map(unhex).unwrap_or_default()),
        _ => panic!("eth_call answered neither a result nor an error: {body}"),
    }
}

/// `ebc call` against the node at `block`, as JSON.
fn ebc_call(anvil: &Anvil, from: Address, to: Address, data: &[u8], block: u64) -> Value {
    ebc_call_at(anvil, from, to, data, block, "none")
}

/// `ebc call` with code loaded at security `level`.
fn ebc_call_at(anvil: &Anvil, from: Address, to: Address, data: &[u8], block: u64, level: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ebc"))
        .args(["call", &format!("{to:#x}"), "--rpc", &format!("jsonrpc+{}", anvil.url()), "--level", level])
        .args(["--block", &block.to_string(), "--from", &format!("{from:#x}"), "--calldata", &hex(data)])
        .args(["--gas", "2000000", "--fork", FORK, "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("ebc call printed no JSON ({e}): {stdout} {stderr}"))
}

struct Case {
    name: &'static str,
    to: Address,
    data: Vec<u8>,
    succeeds: bool,
}

#[test]
fn ebc_call_over_json_rpc_matches_anvil() {
    let Some(anvil) = Anvil::start(&["--hardfork", FORK]) else { return };
    let Some(output) = solc(&[("Diff.sol", SOURCE)], FORK) else { return };
    let rpc = RpcClient::new(vec![anvil.url()], 10_000, 16 << 20).unwrap();
    let accounts = rpc.call("eth_accounts", json!([])).unwrap();
    let account = |i: usize| accounts[i].as_str().unwrap().parse::<Address>().unwrap();
    let owner = account(0);
    let creation = |name: &str| unhex(output["contracts"]["Diff.sol"][name]["evm"]["bytecode"]["object"].as_str().unwrap());
    let deploy = |name: &str, args: &[Vec<u8>]| -> Address {
        let receipt = send(&rpc, owner, None, &[creation(name), args.concat()].concat());
        assert_eq!(receipt["status"], "0x1", "{name} deployed: {receipt}");
        receipt["contractAddress"].as_str().unwrap().parse().unwrap()
    };
    let token = deploy("Token", &[word_u(1_000_000)]);
    let caller = deploy("Caller", &[]);
    let factory = deploy("Factory", &[]);
    let emitter = deploy("Emitter", &[]);
    let reverter = deploy("Reverter", &[]);
    let bob = Address::repeat_byte(0xb0);
    // The Caller may pull 500 of the owner's tokens.
    let approve = call_data("approve(address,uint256)", &[word_a(caller), word_u(500)]);
    assert_eq!(send(&rpc, owner, Some(token), &approve)["status"], "0x1");

    let cases = vec![
        Case { name: "erc20 transfer", to: token, data: call_data("transfer(address,uint256)", &[word_a(bob), word_u(250)]), succeeds: true },
        Case { name: "erc20 transfer beyond balance", to: token, data: call_data("transfer(address,uint256)", &[word_a(bob), word_u(5_000_000)]), succeeds: false },
        Case { name: "erc20 balanceOf", to: token, data: call_data("balanceOf(address)", &[word_a(owner)]), succeeds: true },
        Case { name: "erc20 name (a string in storage)", to: token, data: call_data("name()", &[]), succeeds: true },
        Case { name: "call by address", to: caller, data: call_data("balanceThrough(address,address)", &[word_a(token), word_a(owner)]), succeeds: true },
        Case { name: "transferFrom through another contract", to: caller, data: call_data("pull(address,address,uint256)", &[word_a(token), word_a(owner), word_u(120)]), succeeds: true },
        Case { name: "extcodesize, extcodehash, extcodecopy", to: caller, data: call_data("codeInfo(address)", &[word_a(token)]), succeeds: true },
        Case { name: "create2 factory", to: factory, data: call_data("deploy(bytes32,uint256)", &[word_u(7), word_u(99)]), succeeds: true },
        Case { name: "create2 and call the child", to: factory, data: call_data("deployAndRead(bytes32,uint256)", &[word_u(8), word_u(41)]), succeeds: true },
        Case { name: "logs", to: emitter, data: call_data("emitMany(uint256)", &[word_u(3)]), succeeds: true },
        Case { name: "revert with a reason", to: reverter, data: call_data("fail()", &[]), succeeds: false },
        Case { name: "revert with a custom error", to: reverter, data: call_data("failCustom()", &[]), succeeds: false },
        Case { name: "pure", to: reverter, data: call_data("ok(uint256)", &[word_u(6)]), succeeds: true },
    ];
    for case in &cases {
        let block = block_number(&rpc);
        let ours = ebc_call(&anvil, owner, case.to, &case.data, block);
        let (anvil_ok, anvil_data) = anvil_call(&anvil, owner, case.to, &case.data, block);
        let name = case.name;
        assert_eq!(anvil_ok, case.succeeds, "{name}: anvil's eth_call");
        let status = ours["status"].as_str().unwrap();
        assert_eq!(status, if case.succeeds { "success" } else { "revert" }, "{name}: {ours}");
        assert_eq!(unhex(ours["output"].as_str().unwrap()), anvil_data, "{name}: return data");
        assert!(ours["denials"].as_array().unwrap().is_empty(), "{name}");

        // The same transaction, mined: the receipt's status, gas and logs.
        let receipt = send(&rpc, owner, Some(case.to), &case.data);
        assert_eq!(block_number(&rpc), block + 1, "one transaction per block");
        assert_eq!(receipt["status"], if case.succeeds { "0x1" } else { "0x0" }, "{name}");
        let gas = u64::from_str_radix(receipt["gasUsed"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(ours["gas_used"].as_u64().unwrap(), gas, "{name}: gasUsed");
        let logs = receipt["logs"].as_array().unwrap();
        let our_logs = ours["logs"].as_array().unwrap();
        assert_eq!(our_logs.len(), logs.len(), "{name}: logs");
        for (a, b) in our_logs.iter().zip(logs) {
            assert!(a["address"].as_str().unwrap().eq_ignore_ascii_case(b["address"].as_str().unwrap()), "{name}");
            let topics = |v: &Value| v.as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_lowercase()).collect::<Vec<_>>();
            assert_eq!(topics(&a["topics"]), topics(&b["topics"]), "{name}: topics");
            // Emitter's anonymous log carries block.number: the call runs
            // on block N's header, the mined transaction in block N + 1.
            if name != "logs" {
                assert_eq!(a["data"], b["data"], "{name}: log data");
            }
        }
    }

    // Above level none, code from the node is trusted low: it may read and
    // call, not write state or emit logs, and the sandbox says so.
    let block = block_number(&rpc);
    let read = ebc_call_at(&anvil, owner, token, &call_data("balanceOf(address)", &[word_a(owner)]), block, "basic");
    assert_eq!(read["status"], "success", "{read}");
    let transfer = call_data("transfer(address,uint256)", &[word_a(bob), word_u(1)]);
    let denied = ebc_call_at(&anvil, owner, token, &transfer, block, "basic");
    assert_eq!(denied["status"], "halt", "{denied}");
    let denial = &denied["denials"][0];
    assert_eq!((denial["opcode"].as_str(), denial["permission"].as_str()), (Some("SSTORE"), Some("can_modify_state")));
    assert_eq!(denial["trust"], "low");
    assert!(denied["halt_reason"].as_str().unwrap().contains("trust level low"), "{denied}");
}
