//! Unsigned LEB128 varints, as multiformats and CAR files use them: at most
//! nine bytes (63 bits), minimally encoded.

/// Reads a varint at the start of `bytes`: its value and length.
pub fn read(bytes: &[u8]) -> Result<(u64, usize), &'static str> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(9) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err("a varint that is not minimally encoded");
            }
            return Ok((value, i + 1));
        }
    }
    if bytes.len() >= 9 { Err("a varint longer than nine bytes") } else { Err("a varint cut short") }
}

/// Appends `value` as a varint.
pub fn write(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_overlong_forms() {
        for value in [0, 1, 127, 128, 300, 0x55, 1 << 35, (1 << 63) - 1] {
            let mut out = Vec::new();
            write(value, &mut out);
            assert_eq!(read(&out), Ok((value, out.len())));
        }
        assert!(read(&[0x80, 0x00]).is_err(), "overlong zero");
        assert!(read(&[0x80]).is_err(), "cut short");
        assert!(read(&[0xff; 10]).is_err(), "ten bytes");
        assert!(read(&[]).is_err());
    }
}
