//! MurmurHash3, x64 variant, 128 bits, seed 0: the hash UnixFS uses to
//! place the entries of a sharded (HAMT) directory. Not a cryptographic
//! hash, and it needs not be one here: it only says which bucket to look
//! in, and every block reached is verified against its CID.

const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

/// The final mix of one half.
fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// The first lane's input mix.
fn mix_k1(k1: u64) -> u64 {
    k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
}

/// The second lane's input mix.
fn mix_k2(k2: u64) -> u64 {
    k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
}

/// The two 64-bit halves (h1, h2) of MurmurHash3_x64_128 of `data`.
pub fn x64_128(data: &[u8]) -> (u64, u64) {
    let (mut h1, mut h2) = (0u64, 0u64);
    let blocks = data.chunks_exact(16);
    let tail = blocks.remainder();
    let word = |bytes: &[u8]| bytes.iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    for block in blocks {
        h1 ^= mix_k1(word(&block[..8]));
        h1 = h1.rotate_left(27).wrapping_add(h2).wrapping_mul(5).wrapping_add(0x52dc_e729);
        h2 ^= mix_k2(word(&block[8..]));
        h2 = h2.rotate_left(31).wrapping_add(h1).wrapping_mul(5).wrapping_add(0x3849_5ab5);
    }
    if tail.len() > 8 {
        h2 ^= mix_k2(word(&tail[8..]));
    }
    if !tail.is_empty() {
        h1 ^= mix_k1(word(&tail[..tail.len().min(8)]));
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1, h2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_implementation() {
        // Computed with the JavaScript implementation the reference UnixFS
        // importer uses (its hex output is h1 then h2, big-endian).
        let cases: [(&str, u64, u64); 6] = [
            ("", 0, 0),
            ("hello", 0xcbd8_a7b3_41bd_9b02, 0x5b1e_906a_48ae_1d19),
            ("weth9.hex", 0x6611_0c64_6ff8_d71a, 0x296b_9580_727a_708d),
            ("filler-17.txt", 0xd960_bcc2_9d99_1f7d, 0x4642_bf4a_8acc_32ca),
            ("a sixteen byte!!", 0x64ec_23e4_0630_f3d7, 0xe0ef_066e_6a64_cfc7),
            ("seventeen bytes!!", 0x4932_487f_bc4d_71b6, 0xcc6a_47d9_8135_d9a0),
        ];
        for (input, h1, h2) in cases {
            assert_eq!(x64_128(input.as_bytes()), (h1, h2), "{input:?}");
        }
    }
}
