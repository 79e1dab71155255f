//! The overhead of serving code through ebc: one call mix executed by revm
//! with the code in a plain `CacheDB`, and through [`LazyCodeDb`] with the
//! manager's cache warm, in one run. A third line runs the same mix through
//! `Vm::call`, which adds the sandbox inspector. The cold path follows: the
//! same mix with a new manager each time, WETH9's first touch loading it
//! from the SQLite store and from a local node's JSON-RPC (anvil).
//!
//! `cargo bench --bench exec`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use ebc::evm::{CallRequest, EmptyState, LazyCodeDb, Vm};
use ebc::{Address, Config, LoadOptions, Manager, keccak256};
use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::database::CacheDB;
use revm::database_interface::DatabaseRef;
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Bytes, TxKind, U256};
use revm::state::{AccountInfo, Bytecode};
use revm::{ExecuteEvm, MainBuilder, MainContext};

#[path = "../tests/common/mod.rs"]
mod common;

const WETH9: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/WETH9.hex");

const WETH: Address = Address::repeat_byte(0xee);
const READER: Address = Address::repeat_byte(0x4e);
const HOLDER: Address = Address::repeat_byte(0xa1);

fn selector(signature: &str) -> Vec<u8> {
    keccak256(signature.as_bytes())[..4].to_vec()
}

fn with_word(mut data: Vec<u8>, word: [u8; 32]) -> Vec<u8> {
    data.extend_from_slice(&word);
    data
}

fn address_word(address: Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(address.as_slice());
    w
}

/// A contract that STATICCALLs WETH9's `balanceOf(HOLDER)` and returns the
/// answer: code reached by a call, not only the transaction's target.
fn reader_code() -> Vec<u8> {
    let input = with_word(selector("balanceOf(address)"), address_word(HOLDER));
    let mut code = Vec::new();
    // Store the 36-byte input at memory 0: PUSH32 word, PUSH1 off, MSTORE (twice).
    let mut padded = input.clone();
    padded.resize(64, 0);
    for (i, chunk) in padded.chunks(32).enumerate() {
        code.push(0x7f);
        code.extend_from_slice(chunk);
        code.extend_from_slice(&[0x60, (i * 32) as u8, 0x52]);
    }
    // STATICCALL(gas, WETH, 0, 36, 0, 32), POP, RETURN(0, 32).
    code.extend_from_slice(&[0x60, 0x20, 0x5f, 0x60, 36, 0x5f, 0x73]);
    code.extend_from_slice(WETH.as_slice());
    code.extend_from_slice(&[0x5a, 0xfa, 0x50, 0x60, 0x20, 0x5f, 0xf3]);
    code
}

/// The call mix: WETH9's reads and writes from a funded holder, and a
/// contract calling WETH9.
fn mix() -> Vec<(Address, Vec<u8>, U256)> {
    let one = U256::from(10u64).pow(U256::from(18));
    vec![
        (WETH, selector("deposit()"), one),
        (WETH, with_word(selector("balanceOf(address)"), address_word(HOLDER)), U256::ZERO),
        (WETH, selector("totalSupply()"), U256::ZERO),
        (
            WETH,
            [selector("transfer(address,uint256)"), address_word(READER).to_vec(), one.to_be_bytes::<32>().to_vec()]
                .concat(),
            U256::ZERO,
        ),
        (WETH, with_word(selector("withdraw(uint256)"), one.to_be_bytes()), U256::ZERO),
        (READER, Vec::new(), U256::ZERO),
    ]
}

/// The state both databases share: the holder's ether and WETH balance.
fn base_state() -> CacheDB<EmptyState> {
    let mut state = CacheDB::new(EmptyState);
    let lots = U256::from(10u64).pow(U256::from(24));
    state.insert_account_info(HOLDER, AccountInfo { balance: lots, ..AccountInfo::default() });
    state.insert_account_info(WETH, AccountInfo { balance: lots, nonce: 1, ..AccountInfo::default() });
    // balanceOf[HOLDER] (mapping at slot 3 of WETH9).
    let slot = keccak256([address_word(HOLDER), U256::from(3).to_be_bytes()].concat());
    state.insert_account_storage(WETH, slot.into(), lots).unwrap();
    state
}

/// Runs the mix once with plain revm over `db`, returning the gas used.
fn run_mix<DB: DatabaseRef<Error = ebc::Error>>(db: &DB, mix: &[(Address, Vec<u8>, U256)]) -> u64 {
    let mut gas = 0;
    for (to, data, value) in mix {
        let mut cfg = CfgEnv::new_with_spec(SpecId::OSAKA);
        cfg.disable_nonce_check = true;
        let mut evm = Context::mainnet().with_ref_db(db).with_cfg(cfg).with_block(BlockEnv::default()).build_mainnet();
        let tx = TxEnv {
            caller: HOLDER,
            kind: TxKind::Call(*to),
            data: Bytes::copy_from_slice(data),
            value: *value,
            gas_limit: 1_000_000,
            ..TxEnv::default()
        };
        let result = evm.transact(tx).expect("the mix runs");
        gas += result.result.tx_gas_used();
    }
    gas
}

/// The mix through the lazy database, one transaction per call: each
/// transaction's first touch of an account asks the manager.
fn run_lazy(lazy: &LazyCodeDb<CacheDB<EmptyState>>, mix: &[(Address, Vec<u8>, U256)]) -> u64 {
    let mut gas = 0;
    for call in mix.chunks(1) {
        lazy.begin_transaction();
        gas += run_mix(lazy, call);
    }
    gas
}

fn exec(c: &mut Criterion) {
    let mix = mix();
    let weth9_code = ebc::codec::decode_hex(&std::fs::read(WETH9).unwrap(), WETH9).unwrap();
    let reader = reader_code();

    let mut plain = base_state();
    for (address, code) in [(WETH, &weth9_code), (READER, &reader)] {
        let mut info = plain.basic_ref(address).unwrap().unwrap_or_default();
        info.set_code(Bytecode::new_raw(Bytes::copy_from_slice(code)));
        info.code_hash = keccak256(code);
        plain.insert_account_info(address, info);
    }

    let manager = Arc::new(Manager::new(Config::development()).unwrap());
    manager.put_memory("reader", &reader);
    let mut lazy = LazyCodeDb::new(base_state(), manager.clone());
    lazy.map(WETH, WETH9, LoadOptions::default());
    lazy.map(READER, "mem:reader", LoadOptions::default());
    assert_eq!(run_mix(&plain, &mix), run_mix(&lazy, &mix), "both databases run the same code");
    assert!(lazy.stats().served >= 2, "the warm-up loaded the code through the manager");

    let mut vm = Vm::with_manager(manager.clone());
    vm.load_external_contract(WETH, WETH9, None).unwrap();
    vm.load_external_contract(READER, "mem:reader", None).unwrap();
    let lots = U256::from(10u64).pow(U256::from(24));
    vm.set_balance(HOLDER, lots).unwrap();
    vm.set_balance(WETH, lots).unwrap();
    let slot = keccak256([address_word(HOLDER), U256::from(3).to_be_bytes()].concat());
    vm.set_storage(WETH, slot.into(), lots).unwrap();
    let requests: Vec<CallRequest> = mix
        .iter()
        .map(|(to, data, value)| CallRequest {
            caller: HOLDER,
            calldata: data.clone(),
            value: *value,
            gas_limit: 1_000_000,
            ..CallRequest::to(*to)
        })
        .collect();
    for request in &requests {
        assert!(vm.call(request).unwrap().is_success(), "{request:?}");
    }

    // `EBC_EXEC_ONLY=plain|lazy:N` runs N mixes on one database and exits,
    // for counting instructions with `perf stat` (a count the machine's
    // load does not change, unlike time).
    if let Ok(only) = std::env::var("EBC_EXEC_ONLY") {
        let (which, n) = only.split_once(':').expect("EBC_EXEC_ONLY=plain|lazy:N");
        let n: usize = n.parse().expect("a number of mixes");
        for _ in 0..n {
            match which {
                "plain" => black_box(run_mix(&plain, &mix)),
                _ => black_box(run_lazy(&lazy, &mix)),
            };
        }
        std::process::exit(0);
    }

    let mut group = c.benchmark_group(format!("exec/mix-of-{}-calls", mix.len()));
    group.bench_function("revm + plain CacheDB", |b| b.iter(|| black_box(run_mix(black_box(&plain), &mix))));
    group.bench_function("revm + LazyCodeDb (warm ebc cache)", |b| b.iter(|| black_box(run_lazy(black_box(&lazy), &mix))));
    group.bench_function("Vm::call (LazyCodeDb, code fully trusted: no inspector)", |b| {
        b.iter(|| {
            for request in &requests {
                black_box(vm.call(black_box(request)).unwrap());
            }
        })
    });
    group.finish();

    if std::env::args().any(|a| a == "--bench") {
        interleaved_ratio(&plain, &lazy, &mix);
    }
    cold(c, &mix, &weth9_code, &reader);
}

/// The mix with an empty cache: a new manager per run, WETH9's first touch
/// fetching it from `uri` (setup, a new manager and database, not timed).
fn cold(c: &mut Criterion, mix: &[(Address, Vec<u8>, U256)], weth9_code: &[u8], reader: &[u8]) {
    let dir = std::env::temp_dir().join(format!("ebc-bench-exec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("code")).unwrap();
    std::fs::write(dir.join(format!("code/{WETH:#x}.bin")), weth9_code).unwrap();
    let items = ebc::source::transfer::scan(&dir.join("code")).unwrap();
    let db = dir.join("code.db");
    let store = ebc::source::SqliteStore::open(&db, true).unwrap();
    ebc::source::transfer::import(&store, &items, 24_576, &mut |_, _| {}).unwrap();
    drop(store);
    let mut sources = vec![("SQLite", format!("sqlite:{}", db.display()))];
    let anvil = common::Anvil::start(&[]);
    if let Some(anvil) = &anvil {
        let rpc = ebc::RpcClient::new(vec![anvil.url()], 10_000, 1 << 20).unwrap();
        let code = format!("0x{}", ebc::codec::to_hex(weth9_code));
        rpc.call("anvil_setCode", serde_json::json!([format!("{WETH:#x}"), code])).unwrap();
        sources.push(("JSON-RPC (anvil)", format!("jsonrpc+http://127.0.0.1:{}", anvil.port)));
    }
    let mut group = c.benchmark_group(format!("exec/mix-of-{}-calls, cold cache", mix.len()));
    for (name, uri) in &sources {
        let fresh = || {
            let manager = Arc::new(Manager::new(Config::development()).unwrap());
            manager.put_memory("reader", reader);
            let mut lazy = LazyCodeDb::new(base_state(), manager);
            lazy.map(WETH, uri, LoadOptions::default());
            lazy.map(READER, "mem:reader", LoadOptions::default());
            lazy
        };
        assert!(run_lazy(&fresh(), mix) > 0);
        group.bench_function(format!("WETH9 first touched from {name}"), |b| {
            b.iter_batched(fresh, |lazy| black_box(run_lazy(&lazy, mix)), criterion::BatchSize::PerIteration)
        });
    }
    group.finish();
    drop(anvil);
    let _ = std::fs::remove_dir_all(&dir);
}

/// On a shared machine the load drifts between criterion's groups: this
/// alternates the two databases in short rounds and reports the median of
/// the per-round ratio, which a drift affects little.
fn interleaved_ratio(plain: &CacheDB<EmptyState>, lazy: &LazyCodeDb<CacheDB<EmptyState>>, mix: &[(Address, Vec<u8>, U256)]) {
    const ROUNDS: usize = 41;
    const MIXES: usize = 200;
    let time = |f: &dyn Fn() -> u64| {
        let start = std::time::Instant::now();
        for _ in 0..MIXES {
            black_box(f());
        }
        start.elapsed().as_secs_f64() / MIXES as f64
    };
    let run_plain = || run_mix(plain, mix);
    let run_lazy = || run_lazy(lazy, mix);
    let (mut plains, mut lazies, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (p, l) = if round % 2 == 0 {
            let p = time(&run_plain);
            (p, time(&run_lazy))
        } else {
            let l = time(&run_lazy);
            (time(&run_plain), l)
        };
        plains.push(p);
        lazies.push(l);
        ratios.push(l / p);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    println!(
        "interleaved, {ROUNDS} rounds of {MIXES} mixes: plain CacheDB {:.1} us, LazyCodeDb {:.1} us per mix; \
         median ratio LazyCodeDb / plain = {:.3}",
        median(&mut plains) * 1e6,
        median(&mut lazies) * 1e6,
        median(&mut ratios)
    );
}

criterion_group!(benches, exec);
criterion_main!(benches);
