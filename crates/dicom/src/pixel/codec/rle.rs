//! DICOM RLE Lossless (PS3.5 Annex G), any number of segments, so 8, 16 and 32-bit samples.

use super::CodecError;

/// Decodes one RLE frame into `rows * columns * samples * bytes_per_sample` bytes, sample-interleaved
/// little endian (what native pixel data with planar configuration 0 would hold).
pub fn decode(
    data: &[u8],
    pixels: usize,
    samples: usize,
    bytes_per_sample: usize,
) -> Result<Vec<u8>, CodecError> {
    if data.len() < 64 {
        return Err(CodecError::new("RLE frame shorter than its 64-byte header"));
    }
    let word = |i: usize| {
        u32::from_le_bytes([
            data[4 * i],
            data[4 * i + 1],
            data[4 * i + 2],
            data[4 * i + 3],
        ]) as usize
    };
    let segments = word(0);
    let expected = samples * bytes_per_sample;
    if segments != expected {
        return Err(CodecError::new(format!(
            "RLE frame has {segments} segments, expected {expected}"
        )));
    }
    let mut out = vec![0u8; pixels * expected];
    for s in 0..segments {
        let start = word(1 + s);
        let end = if s + 1 < segments {
            word(2 + s)
        } else {
            data.len()
        };
        if start < 64 || start > end || end > data.len() {
            return Err(CodecError::new(format!(
                "RLE segment {s} offsets are out of range"
            )));
        }
        // Segment order: for each sample, the most significant byte first.
        let sample = s / bytes_per_sample;
        let byte = bytes_per_sample - 1 - (s % bytes_per_sample);
        let stride = expected;
        let offset = sample * bytes_per_sample + byte;
        unpack_bits(&data[start..end], pixels, |i, v| {
            out[i * stride + offset] = v
        });
    }
    Ok(out)
}

/// PackBits: a control byte n in 0..=127 copies n+1 literal bytes, in -127..=-1 repeats the next
/// byte 1-n times, -128 is a no-op. Output beyond `limit` is dropped; a short segment leaves zeros.
fn unpack_bits(src: &[u8], limit: usize, mut put: impl FnMut(usize, u8)) {
    let (mut i, mut o) = (0usize, 0usize);
    while i < src.len() && o < limit {
        let n = src[i] as i8;
        i += 1;
        if n >= 0 {
            let count = n as usize + 1;
            for _ in 0..count {
                if i >= src.len() || o >= limit {
                    return;
                }
                put(o, src[i]);
                i += 1;
                o += 1;
            }
        } else if n != -128 {
            let Some(&value) = src.get(i) else { return };
            i += 1;
            for _ in 0..(1 - n as isize) as usize {
                if o >= limit {
                    return;
                }
                put(o, value);
                o += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits() {
        let mut out = vec![0u8; 8];
        unpack_bits(&[2, 1, 2, 3, 0xFD, 9, 0x80], 8, |i, v| out[i] = v);
        assert_eq!(out, [1, 2, 3, 9, 9, 9, 9, 0]);
    }

    #[test]
    fn hostile_offsets_are_errors() {
        let mut data = vec![0u8; 64];
        data[0] = 1;
        data[4] = 200;
        assert!(decode(&data, 4, 1, 1).is_err());
        assert!(decode(&[1, 2], 4, 1, 1).is_err());
    }
}
