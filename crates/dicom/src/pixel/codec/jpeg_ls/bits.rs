//! Bit reader for one entropy-coded segment (the bytes between two markers).
//!
//! JPEG-LS stuffs a zero bit after every 0xFF byte instead of JPEG's 0x00 byte, so the
//! byte after 0xFF contributes only its low seven bits. The caller hands over a slice that
//! already stops at the next marker (see [`segment_end`]), so no marker test is needed here.

/// Where the entropy-coded data starting at `start` ends: the first 0xFF followed by a byte
/// with the high bit set (a marker, or 0xFF fill bytes leading to one), or the end of data.
pub(crate) fn segment_end(data: &[u8], start: usize) -> usize {
    let mut i = start;
    while let Some(off) = data
        .get(i..)
        .and_then(|d| d.iter().position(|&b| b == 0xFF))
    {
        let at = i + off;
        match data.get(at + 1) {
            Some(&next) if next >= 0x80 => return at,
            Some(_) => i = at + 2,
            None => return data.len(),
        }
    }
    data.len()
}

pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Unread bits, most significant first; bits below the valid ones are zero.
    cache: u64,
    count: u32,
    /// Zero bits appended after the data ran out. Once more bits than were really there
    /// have been consumed the stream was truncated, which `overrun` reports.
    padded: u32,
    after_ff: bool,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            cache: 0,
            count: 0,
            padded: 0,
            after_ff: false,
        }
    }

    /// Tops the cache up to at least 57 bits, so any read of up to 56 bits needs one refill.
    fn refill(&mut self) {
        // Fast path: when the next eight bytes hold no 0xFF (so no stuffing), as many
        // whole bytes as fit go in with one load.
        if !self.after_ff {
            if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
                let word = u64::from_be_bytes(chunk.try_into().unwrap_or([0xFF; 8]));
                let inverted = !word;
                let has_ff =
                    inverted.wrapping_sub(0x0101_0101_0101_0101) & word & 0x8080_8080_8080_8080;
                if has_ff == 0 {
                    let nbytes = (64 - self.count) / 8;
                    let top = word & (u64::MAX << (64 - 8 * nbytes));
                    self.cache |= top >> self.count;
                    self.count += 8 * nbytes;
                    self.pos += nbytes as usize;
                    return;
                }
            }
        }
        while self.count <= 56 {
            let (byte, bits) = match self.data.get(self.pos) {
                Some(&b) => {
                    self.pos += 1;
                    let bits = if self.after_ff { 7 } else { 8 };
                    self.after_ff = b == 0xFF;
                    (u64::from(b & if bits == 7 { 0x7F } else { 0xFF }), bits)
                }
                None => {
                    self.padded = self.padded.saturating_add(8);
                    (0, 8)
                }
            };
            self.cache |= byte << (64 - self.count - bits);
            self.count += bits;
        }
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        self.cache = self.cache.checked_shl(n).unwrap_or(0);
        self.count -= n;
    }

    /// True once bits beyond the end of the data had to be invented.
    pub(crate) fn overrun(&self) -> bool {
        self.padded > self.count
    }

    /// Reads `n` bits (n <= 56) as an unsigned number.
    #[inline]
    pub(crate) fn read_bits(&mut self, n: u32) -> u64 {
        debug_assert!(n <= 56);
        if n == 0 {
            return 0;
        }
        if self.count < n {
            self.refill();
        }
        let v = self.cache >> (64 - n);
        self.consume(n);
        v
    }

    #[inline]
    pub(crate) fn read_bit(&mut self) -> bool {
        if self.count == 0 {
            self.refill();
        }
        let bit = self.cache >> 63 != 0;
        self.consume(1);
        bit
    }

    /// Counts zero bits up to and including the terminating one bit; `None` when more than
    /// `max` zeros come first (a corrupt code, or invented bits after truncation).
    #[inline]
    pub(crate) fn read_unary(&mut self, max: u32) -> Option<u32> {
        let mut zeros = 0u32;
        loop {
            if self.count == 0 {
                self.refill();
            }
            let lz = self.cache.leading_zeros();
            if lz < self.count {
                zeros += lz;
                self.consume(lz + 1);
                return (zeros <= max).then_some(zeros);
            }
            zeros += self.count;
            self.consume(self.count);
            if zeros > max {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing_drops_high_bit_after_ff() {
        // 0xFF then 0x7F: 8 ones, then 7 ones (the stuffed zero bit is skipped).
        let data = [0xFF, 0x7F, 0x80];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_bits(15), 0x7FFF);
        assert!(r.read_bit());
        assert!(!r.overrun());
        assert_eq!(r.read_bits(7), 0);
        assert!(!r.overrun());
        r.read_bit();
        assert!(r.overrun());
    }

    #[test]
    fn unary_counts_zeros() {
        let data = [0b0001_0000, 0, 0, 0, 0, 0, 0, 0, 0, 0b0100_0000];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_unary(100), Some(3));
        assert_eq!(r.read_unary(100), Some(4 + 64 + 1));
        assert_eq!(r.read_unary(10), None);
    }

    #[test]
    fn finds_segment_end() {
        assert_eq!(segment_end(&[1, 2, 0xFF, 0x00, 0xFF, 0xFF, 0xD9], 0), 4);
        assert_eq!(segment_end(&[1, 0xFF, 0x7F, 3], 0), 4);
        assert_eq!(segment_end(&[1, 0xFF], 0), 2);
        assert_eq!(segment_end(&[0xFF, 0xD0], 0), 0);
    }
}
