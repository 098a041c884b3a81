//! Typed views of a value's bytes (numbers, tags), shared by the data set, the text dump and
//! the JSON model.

use super::tag::Tag;
use super::vr::Vr;

/// A binary number of one of the numeric VRs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Unsigned(u64),
    Float(f64),
}

impl Number {
    pub fn as_i64(self) -> i64 {
        match self {
            Number::Int(v) => v,
            Number::Unsigned(v) => v as i64,
            Number::Float(v) => v as i64,
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(v) => v as f64,
            Number::Unsigned(v) => v as f64,
            Number::Float(v) => v,
        }
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Number::Int(v) => write!(f, "{v}"),
            Number::Unsigned(v) => write!(f, "{v}"),
            Number::Float(v) => write!(f, "{v}"),
        }
    }
}

/// The values of a US, SS, UL, SL, UV, SV, FL or FD value; `None` for other VRs.
pub fn binary_numbers(vr: Vr, b: &[u8], big_endian: bool) -> Option<Vec<Number>> {
    let be = big_endian;
    Some(match vr {
        Vr::US => b
            .chunks_exact(2)
            .map(|c| Number::Unsigned(u16_of(c, be) as u64))
            .collect(),
        Vr::SS => b
            .chunks_exact(2)
            .map(|c| Number::Int(u16_of(c, be) as i16 as i64))
            .collect(),
        Vr::UL => b
            .chunks_exact(4)
            .map(|c| Number::Unsigned(u32_of(c, be) as u64))
            .collect(),
        Vr::SL => b
            .chunks_exact(4)
            .map(|c| Number::Int(u32_of(c, be) as i32 as i64))
            .collect(),
        Vr::UV => b
            .chunks_exact(8)
            .map(|c| Number::Unsigned(u64_of(c, be)))
            .collect(),
        Vr::SV => b
            .chunks_exact(8)
            .map(|c| Number::Int(u64_of(c, be) as i64))
            .collect(),
        Vr::FL => b
            .chunks_exact(4)
            .map(|c| Number::Float(f32::from_bits(u32_of(c, be)) as f64))
            .collect(),
        Vr::FD => b
            .chunks_exact(8)
            .map(|c| Number::Float(f64::from_bits(u64_of(c, be))))
            .collect(),
        _ => return None,
    })
}

/// The values of an AT value.
pub fn tags(b: &[u8], big_endian: bool) -> Vec<Tag> {
    b.chunks_exact(4)
        .map(|c| Tag(u16_of(&c[0..2], big_endian), u16_of(&c[2..4], big_endian)))
        .collect()
}

/// Standard base64 (RFC 4648) with padding, for InlineBinary.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn u16_of(c: &[u8], big_endian: bool) -> u16 {
    let b = [c[0], c[1]];
    if big_endian {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    }
}

pub(crate) fn u32_of(c: &[u8], big_endian: bool) -> u32 {
    let b = [c[0], c[1], c[2], c[3]];
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

pub(crate) fn u64_of(c: &[u8], big_endian: bool) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&c[..8]);
    if big_endian {
        u64::from_be_bytes(b)
    } else {
        u64::from_le_bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
