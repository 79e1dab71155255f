//! CAR parsing and reading a UnixFS file out of it never panic, and what
//! is read never exceeds the cap it is written under.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(car) = ebc::ipfs::Car::parse(data, "fuzz") else { return };
    for block in car.blocks.values() {
        assert!(block.len() <= data.len());
    }
    let mut blocks = car.blocks.clone();
    for root in &car.roots {
        let mut written = 0usize;
        let _ = ebc::ipfs::read_file(root, &[], &mut blocks, &mut |chunk| {
            written += chunk.len();
            if written > 1 << 20 {
                return Err(ebc::Error::TooLarge { what: "fuzz".into(), limit: 1 << 20, size: None });
            }
            Ok(())
        });
    }
});
