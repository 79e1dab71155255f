//! Times `eth_getCode` round trips through ebc's JSON-RPC client against a
//! node: `cargo run --release --example rpc_timing -- http://127.0.0.1:8545`.
use std::time::Instant;
fn main() {
    let url = std::env::args().nth(1).expect("node URL");
    let rpc = ebc::RpcClient::new(vec![url], 5_000, 1 << 20).unwrap();
    let a = ebc::Address::repeat_byte(1);
    for round in 0..3 {
        let started = Instant::now();
        for _ in 0..200 {
            rpc.get_code(&a, ebc::BlockId::Latest).unwrap();
        }
        println!("round {round}: {:?} per eth_getCode", started.elapsed() / 200);
    }
}
