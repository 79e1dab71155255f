//! Executing external code through revm: WETH9 from the corpus, the lazy
//! code database, and the sandbox, permission by permission.

use std::sync::Arc;

use ebc::evm::{CallRequest, ExecStatus, LazyCodeDb, Outcome, Permission, Vm};
use ebc::signing::{Publisher, Scheme, identity, sign};
use ebc::{Address, B256, Config, Error, LoadOptions, Manager, Status, TrustLevel, keccak256};
use revm::DatabaseRef;
use revm::primitives::U256;

const WETH9: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/WETH9.hex");

fn word(value: U256) -> [u8; 32] {
    value.to_be_bytes()
}

fn address_word(address: Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(address.as_slice());
    w
}

fn calldata(selector: &str, args: &[[u8; 32]]) -> Vec<u8> {
    let mut data = keccak256(selector.as_bytes())[..4].to_vec();
    for a in args {
        data.extend_from_slice(a);
    }
    data
}

fn uint(outcome: &Outcome) -> U256 {
    assert!(outcome.is_success(), "{outcome:?}");
    U256::from_be_slice(&outcome.output)
}

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

#[test]
fn weth9_deposits_transfers_and_withdraws() {
    let mut vm = Vm::new();
    vm.enable_external_bytecode(Config::testing()).unwrap();
    let weth = Address::repeat_byte(0xee);
    let code = vm.load_external_contract(weth, WETH9, None).unwrap();
    assert_eq!(code.code().len(), 3124);
    let (alice, bob) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb0));
    vm.set_balance(alice, ether(10)).unwrap();
    let tx = |caller, data: Vec<u8>, value| CallRequest {
        caller,
        to: Some(weth),
        calldata: data,
        value,
        ..CallRequest::default()
    };

    let deposit = vm.transact(&tx(alice, calldata("deposit()", &[]), ether(3))).unwrap();
    assert!(deposit.is_success(), "{deposit:?}");
    assert_eq!(deposit.logs.len(), 1);
    assert_eq!(deposit.logs[0].topics()[0], keccak256("Deposit(address,uint256)"));
    assert_eq!(deposit.logs[0].data.data.as_ref(), word(ether(3)));
    assert_eq!(vm.account(alice).unwrap().unwrap().balance, ether(7));

    let balance_of = |vm: &mut Vm, who| uint(&vm.call(&tx(alice, calldata("balanceOf(address)", &[address_word(who)]), U256::ZERO)).unwrap());
    assert_eq!(balance_of(&mut vm, alice), ether(3));

    let transfer = calldata("transfer(address,uint256)", &[address_word(bob), word(ether(1))]);
    let sent = vm.transact(&tx(alice, transfer, U256::ZERO)).unwrap();
    assert_eq!(uint(&sent), U256::from(1), "transfer returns true");
    assert_eq!(sent.logs[0].topics()[0], keccak256("Transfer(address,address,uint256)"));
    assert_eq!((balance_of(&mut vm, alice), balance_of(&mut vm, bob)), (ether(2), ether(1)));

    let withdraw = vm.transact(&tx(alice, calldata("withdraw(uint256)", &[word(ether(2))]), U256::ZERO)).unwrap();
    assert!(withdraw.is_success(), "{withdraw:?}");
    assert_eq!(withdraw.logs[0].topics()[0], keccak256("Withdrawal(address,uint256)"));
    assert_eq!(vm.account(alice).unwrap().unwrap().balance, ether(9));
    assert_eq!(balance_of(&mut vm, alice), U256::ZERO);
    let supply = vm.call(&tx(alice, calldata("totalSupply()", &[]), U256::ZERO)).unwrap();
    assert_eq!(uint(&supply), ether(1));

    // Withdrawing more than the balance reverts (WETH9's require), and the
    // state change list of a call names what a transaction would change.
    let too_much = vm.call(&tx(bob, calldata("withdraw(uint256)", &[word(ether(5))]), U256::ZERO)).unwrap();
    assert_eq!(too_much.status, ExecStatus::Revert);
    let change = vm.call(&tx(bob, calldata("transfer(address,uint256)", &[address_word(alice), word(U256::from(7))]), U256::ZERO)).unwrap();
    let weth_change = change.state_changes.iter().find(|c| c.address == weth).unwrap();
    assert_eq!(weth_change.storage.len(), 2, "two balances change: {weth_change:?}");
    assert_eq!(balance_of(&mut vm, alice), U256::ZERO, "a call commits nothing");

    let stats = vm.external_bytecode_stats();
    assert!(stats.enabled && stats.executions >= 9 && stats.serve.served >= 9, "{stats:?}");
    assert!(stats.cache.hits >= 9, "each transaction's first touch is a cache hit: {stats:?}");
}

/// Returns the word at the top of the stack: `... PUSH0 MSTORE PUSH1 32 PUSH0 RETURN`.
const RETURN_TOP: [u8; 6] = [0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3];

fn returning(prefix: &[u8]) -> Vec<u8> {
    [prefix, &RETURN_TOP].concat()
}

#[test]
fn code_reached_by_every_opcode_resolves_through_the_default_source() {
    let config = Config { default_source: Some("mem:{address}".into()), ..Config::testing() };
    let manager = Arc::new(Manager::new(config).unwrap());
    let mut vm = Vm::with_manager(manager.clone());
    let target = Address::repeat_byte(0x77);
    // The target returns 5 for any call.
    let target_code = returning(&[0x60, 0x05]);
    manager.put_memory(&format!("{target:#x}"), &target_code);
    let push_target = [&[0x73][..], target.as_slice()].concat();
    // CALL-family probes forward no input and return the callee's first word.
    let call_and_return = |call: &[u8]| {
        // retSize 32, retOffset 0, (value 0,) argsSize 0, argsOffset 0, target, GAS, CALL*, then MLOAD 0.
        [&[0x60, 0x20, 0x5f, 0x5f, 0x5f][..], call, &[0x50, 0x5f, 0x51], &RETURN_TOP].concat()
    };
    let probes: Vec<(&str, Vec<u8>, U256)> = vec![
        ("extcodesize", returning(&[&push_target[..], &[0x3b]].concat()), U256::from(target_code.len())),
        ("extcodehash", returning(&[&push_target[..], &[0x3f]].concat()), U256::from_be_bytes(keccak256(&target_code).0)),
        (
            "extcodecopy",
            // EXTCODECOPY(target, 0, 0, 1) then MLOAD 0: the first code byte, left-aligned.
            [&[0x60, 0x01, 0x5f, 0x5f][..], &push_target, &[0x3c, 0x5f, 0x51], &RETURN_TOP].concat(),
            U256::from(0x60) << 248,
        ),
        ("call", call_and_return(&[&[0x5f][..], &push_target, &[0x5a, 0xf1]].concat()), U256::from(5)),
        ("staticcall", call_and_return(&[&push_target[..], &[0x5a, 0xfa]].concat()), U256::from(5)),
        ("delegatecall", call_and_return(&[&push_target[..], &[0x5a, 0xf4]].concat()), U256::from(5)),
        ("callcode", call_and_return(&[&[0x5f][..], &push_target, &[0x5a, 0xf2]].concat()), U256::from(5)),
    ];
    for (i, (name, probe, expected)) in probes.into_iter().enumerate() {
        let probe_address = Address::repeat_byte(0x10 + i as u8);
        manager.put_memory(&format!("{probe_address:#x}"), &probe);
        let before = vm.external_bytecode_stats().serve.served;
        let outcome = vm.call(&CallRequest::to(probe_address)).unwrap();
        assert_eq!(uint(&outcome), expected, "{name}");
        assert_eq!(vm.external_bytecode_stats().serve.served - before, 2, "{name}: the probe and the target");
    }
    // Only the code served: the sender (an unknown address) has none.
    assert!(vm.external_bytecode_stats().serve.not_external > 0);
}

#[test]
fn code_by_hash_is_the_analysed_object_from_ingest() {
    let manager = Arc::new(Manager::new(Config::testing()).unwrap());
    manager.put_memory("weth", std::fs::read(WETH9).unwrap().as_slice());
    let mut db = LazyCodeDb::new(ebc::evm::EmptyState, manager.clone());
    let weth = Address::repeat_byte(0xee);
    db.map(weth, "mem:weth", LoadOptions::default());
    let info = db.basic_ref(weth).unwrap().unwrap();
    let cached = manager.get(&weth).unwrap();
    assert_eq!(info.code_hash, cached.code_hash());
    let served = info.code.unwrap();
    let by_hash = db.code_by_hash_ref(info.code_hash).unwrap();
    for code in [&served, &by_hash] {
        assert_eq!(code.bytes_ref().as_ptr(), cached.revm_bytecode().bytes_ref().as_ptr(), "an Arc clone, not a copy");
    }
    assert_eq!(db.basic_ref(Address::ZERO).unwrap(), None, "unknown and unserved: no account");
}

#[test]
fn a_remembered_miss_gives_way_to_code_the_manager_gains() {
    let manager = Arc::new(Manager::new(Config::testing()).unwrap());
    manager.put_memory("weth", std::fs::read(WETH9).unwrap().as_slice());
    let db = LazyCodeDb::new(ebc::evm::EmptyState, manager.clone());
    let weth = Address::repeat_byte(0xee);
    let misses = || manager.cache_stats().misses;
    assert_eq!(db.basic_ref(weth).unwrap(), None);
    assert_eq!(misses(), 1);
    // Later transactions remember the miss: the cache is not asked again.
    for _ in 0..3 {
        db.begin_transaction();
        assert_eq!(db.basic_ref(weth).unwrap(), None);
    }
    assert_eq!(misses(), 1, "a miss stands while nothing enters the cache");
    assert_eq!(db.stats().not_external, 4);
    // Code entering the cache for any address makes the next transaction ask.
    manager.load(&weth, Some("mem:weth"), &LoadOptions::default()).unwrap();
    assert_eq!(db.basic_ref(weth).unwrap(), None, "within a transaction the answer is fixed");
    db.begin_transaction();
    let info = db.basic_ref(weth).unwrap().expect("served once cached");
    assert_eq!(info.code_hash, manager.get(&weth).unwrap().code_hash());
    assert_eq!(db.stats().served, 1);
}

#[test]
fn a_failed_load_fails_the_transaction_with_its_error() {
    let config = Config { default_source: Some("flaky:{address}".into()), ..Config::testing() };
    let manager = Arc::new(Manager::new(config).unwrap());
    let loader = ebc::FnLoader::new(ebc::LoaderType::Custom, |request: &ebc::Request<'_>, _sink: &mut ebc::Sink| {
        Err(Error::Timeout { what: format!("loading {}", request.uri), limit_ms: 5 })
    });
    manager.register_loader("flaky", Arc::new(loader)).unwrap();
    let mut vm = Vm::with_manager(manager);
    let err = vm.call(&CallRequest::to(Address::repeat_byte(3))).unwrap_err();
    assert_eq!(err.status(), Status::Timeout, "{err}");
    // The first account the EVM touches (the sender) already fails.
    assert!(err.to_string().contains("flaky:0x0000000000000000000000000000000000000000"), "{err}");
    assert_eq!(vm.external_bytecode_stats().serve.failures, 1);
}

#[test]
fn served_code_never_falls_back_to_a_committed_copy() {
    let manager = Arc::new(Manager::new(Config::testing()).unwrap());
    manager.put_memory("store", &[0x60, 0x01, 0x5f, 0x55, 0x00]);
    let mut vm = Vm::with_manager(manager.clone());
    let contract = Address::repeat_byte(0x5e);
    manager.load(&contract, Some("mem:store"), &LoadOptions::default()).unwrap();
    assert!(vm.transact(&CallRequest::to(contract)).unwrap().is_success());
    assert_eq!(vm.storage(contract, U256::ZERO).unwrap(), U256::from(1));
    // Unloaded from the manager, with no mapping or default source: the
    // committed state holds the code hash, but ebc will not run a copy.
    manager.unload(&contract).unwrap();
    let err = vm.call(&CallRequest::to(contract)).unwrap_err();
    assert_eq!(err.status(), Status::NotFound, "{err}");
    // Turning external bytecode off runs the state's own code again.
    vm.disable_external_bytecode();
    let stats = vm.external_bytecode_stats();
    assert!(!stats.enabled);
}

/// A manager that trusts one Ed25519 publisher per trust level, and the
/// signed load options for code at each level.
struct Publishers {
    keys: Vec<(TrustLevel, [u8; 32])>,
}

impl Publishers {
    const LEVELS: [TrustLevel; 5] =
        [TrustLevel::Untrusted, TrustLevel::Low, TrustLevel::Medium, TrustLevel::High, TrustLevel::FullyTrusted];

    fn trusted_by(manager: &Manager) -> Publishers {
        let keys: Vec<_> = Publishers::LEVELS.iter().enumerate().map(|(i, &t)| (t, [i as u8 + 1; 32])).collect();
        for (trust, secret) in &keys {
            let public: [u8; 32] = identity(Scheme::Ed25519, secret).unwrap().try_into().unwrap();
            manager.trust_ed25519(public, Publisher { name: trust.name().into(), trust: *trust }).unwrap();
        }
        Publishers { keys }
    }

    fn options(&self, trust: TrustLevel, code: &[u8]) -> LoadOptions {
        let secret = &self.keys.iter().find(|(t, _)| *t == trust).unwrap().1;
        let (signature, _) = sign(Scheme::Ed25519, secret, &keccak256(code), "1").unwrap();
        LoadOptions { signature: Some(signature), ..LoadOptions::default() }
    }
}

fn sandboxed_vm() -> (Vm, Publishers) {
    let mut vm = Vm::new();
    vm.enable_external_bytecode(Config::testing()).unwrap();
    let publishers = Publishers::trusted_by(vm.manager().unwrap());
    (vm, publishers)
}

fn load_signed(vm: &mut Vm, publishers: &Publishers, address: Address, name: &str, code: &[u8], trust: TrustLevel) {
    vm.manager().unwrap().put_memory(name, code);
    let loaded = vm
        .load_external_contract_with(address, &format!("mem:{name}"), publishers.options(trust, code))
        .unwrap();
    assert_eq!(loaded.security().trust, trust);
}

#[test]
fn the_sandbox_denies_exactly_what_the_permissions_deny() {
    let identity_precompile = 0x04;
    // Each probe performs one operation and stops.
    let probes: [(&str, Vec<u8>, &[Permission]); 12] = [
        ("sstore", vec![0x60, 0x01, 0x5f, 0x55, 0x00], &[Permission::ModifyState]),
        ("tstore", vec![0x60, 0x01, 0x5f, 0x5d, 0x00], &[Permission::ModifyState]),
        ("selfdestruct", vec![0x5f, 0xff], &[Permission::ModifyState]),
        ("log0", vec![0x5f, 0x5f, 0xa0, 0x00], &[Permission::EmitLogs]),
        ("log4", vec![0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0xa4, 0x00], &[Permission::EmitLogs]),
        ("staticcall", vec![0x5f, 0x5f, 0x5f, 0x5f, 0x60, identity_precompile, 0x5a, 0xfa, 0x00], &[Permission::CallExternal]),
        ("call", vec![0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x60, identity_precompile, 0x5a, 0xf1, 0x00], &[Permission::CallExternal]),
        (
            "call with value",
            vec![0x5f, 0x5f, 0x5f, 0x5f, 0x60, 0x01, 0x60, identity_precompile, 0x5a, 0xf1, 0x00],
            &[Permission::CallExternal, Permission::ModifyState],
        ),
        (
            "delegatecall",
            vec![0x5f, 0x5f, 0x5f, 0x5f, 0x60, identity_precompile, 0x5a, 0xf4, 0x00],
            &[Permission::CallExternal, Permission::ModifyState],
        ),
        (
            "callcode",
            vec![0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x60, identity_precompile, 0x5a, 0xf2, 0x00],
            &[Permission::CallExternal, Permission::ModifyState],
        ),
        ("create", vec![0x5f, 0x5f, 0x5f, 0xf0, 0x00], &[Permission::CreateContracts]),
        ("create2", vec![0x5f, 0x5f, 0x5f, 0x5f, 0xf5, 0x00], &[Permission::CreateContracts]),
    ];
    let (mut vm, publishers) = sandboxed_vm();
    let mut seen_denied = std::collections::HashSet::new();
    for (p, (name, code, needs)) in probes.iter().enumerate() {
        for (t, &trust) in Publishers::LEVELS.iter().enumerate() {
            let address = Address::from_word(B256::from(U256::from(0x1000 + p * 16 + t)));
            load_signed(&mut vm, &publishers, address, &format!("{name}-{t}"), code, trust);
            vm.set_balance(address, U256::from(10)).unwrap();
            let outcome = vm.call(&CallRequest::to(address)).unwrap();
            let permissions = trust.permissions();
            let missing = needs.iter().find(|n| !n.granted_by(&permissions));
            match missing {
                None => {
                    assert!(outcome.is_success(), "{name} at {}: {outcome:?}", trust.name());
                    assert!(outcome.denials.is_empty());
                }
                Some(&permission) => {
                    seen_denied.insert(permission);
                    assert_eq!(outcome.status, ExecStatus::Halt, "{name} at {}", trust.name());
                    assert_eq!(outcome.denials.len(), 1, "{name}: {:?}", outcome.denials);
                    let denial = &outcome.denials[0];
                    assert_eq!((denial.permission, denial.trust, denial.code_address), (permission, trust, address));
                    let reason = outcome.halt_reason.as_deref().unwrap();
                    assert!(reason.contains(permission.name()) && reason.contains(trust.name()), "{reason}");
                    assert!(outcome.state_changes.iter().all(|c| c.storage.is_empty()), "nothing was stored");
                }
            }
        }
    }
    assert_eq!(seen_denied.len(), 4, "every permission was denied somewhere");
}

#[test]
fn a_denial_halts_only_the_frame_that_tried() {
    let (mut vm, publishers) = sandboxed_vm();
    let logger = Address::repeat_byte(0x4c);
    load_signed(&mut vm, &publishers, logger, "logger", &[0x5f, 0x5f, 0xa0, 0x00], TrustLevel::Low);
    // The caller (fully trusted) calls the logger and returns CALL's result (0: failed).
    let caller_code = returning(&[&[0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x73][..], logger.as_slice(), &[0x5a, 0xf1]].concat());
    let caller = Address::repeat_byte(0xca);
    load_signed(&mut vm, &publishers, caller, "caller", &caller_code, TrustLevel::FullyTrusted);
    let outcome = vm.call(&CallRequest::to(caller)).unwrap();
    assert_eq!(uint(&outcome), U256::ZERO, "the inner call failed, the outer one succeeded");
    assert_eq!(outcome.denials.len(), 1);
    assert_eq!((outcome.denials[0].depth, outcome.denials[0].code_address), (1, logger));
    assert_eq!(outcome.denials[0].opcode, 0xa0);
    assert!(outcome.halt_reason.is_none());
    assert_eq!(vm.external_bytecode_stats().denials, 1);
}

#[test]
fn the_gas_multiplier_limits_what_code_may_use() {
    let (mut vm, publishers) = sandboxed_vm();
    // GAS, returned: the gas the frame was given, less 2 for GAS itself.
    let gas_probe = returning(&[0x5a]);
    let mut given = Vec::new();
    for (i, trust) in [TrustLevel::Untrusted, TrustLevel::Low, TrustLevel::High].into_iter().enumerate() {
        let address = Address::repeat_byte(0x90 + i as u8);
        load_signed(&mut vm, &publishers, address, &format!("gas-{i}"), &gas_probe, trust);
        let outcome = vm.call(&CallRequest { gas_limit: 1_021_000, ..CallRequest::to(address) }).unwrap();
        given.push(uint(&outcome).to::<u64>() + 2);
        // Withheld gas goes back: the transaction pays only what ran.
        assert!(outcome.gas_used < 21_100, "{outcome:?}");
    }
    assert_eq!(given, vec![500_000, 750_000, 1_000_000]);
}

fn ebc_cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ebc")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn ebc_call_deposits_into_weth9_and_reports_the_log() {
    let (code, out, err) = ebc_cli(&["call", WETH9, "--calldata", "0xd0e30db0", "--value", "1ether"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("status       success"), "{out}");
    assert!(out.contains("topic      0xe1fffcc4923d04b559f4d29a8bfc6cda04eb5b0d3c460751c2402c5c5cc9109c"), "{out}");
    assert!(out.contains("data       0x0000000000000000000000000000000000000000000000000de0b6b3a7640000"), "{out}");

    let (code, json, _) = ebc_cli(&["call", WETH9, "--calldata", "0x2e1a7d4d00000000000000000000000000000000000000000000000000000000000000ff", "--json"]);
    assert_eq!(code, 2, "a revert exits 2");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["status"], "revert");

    // Code loaded at a level that trusts the host's files runs unrestricted;
    // a bad calldata string is a clear error.
    let (code, _, err) = ebc_cli(&["call", WETH9, "--calldata", "0xzz"]);
    assert_eq!(code, 1);
    assert!(err.contains("--calldata") && err.contains("EBC_INVALID_ARGUMENT"), "{err}");
    let (code, _, err) = ebc_cli(&["call", "0x00000000000000000000000000000000000000aa", "--rpc", "http://127.0.0.1:1"]);
    assert_eq!(code, 1);
    assert!(err.contains("jsonrpc+http://"), "{err}");
}

#[test]
fn a_vm_moves_between_threads_and_keeps_its_state() {
    fn assert_send<T: Send>(_: &T) {}
    let mut vm = Vm::new();
    assert_send(&vm);
    let account = Address::repeat_byte(9);
    vm.set_balance(account, U256::from(5)).unwrap();
    let vm = std::thread::spawn(move || {
        vm.set_nonce(account, 3).unwrap();
        vm
    })
    .join()
    .unwrap();
    let info = vm.account(account).unwrap().unwrap();
    assert_eq!((info.balance, info.nonce), (U256::from(5), 3));
}
