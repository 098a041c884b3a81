//! Huffman decoding: the tables of DHT segments and the bit reader of entropy-coded segments.

use super::{malformed, JpegError};

/// Huffman codes up to this length are decoded with a single table look-up.
const LOOKUP_BITS: u32 = 9;

/// A Huffman table for decoding (T.81 annex C and F.2.2.3).
pub(super) struct HuffmanTable {
    /// Indexed by the next `LOOKUP_BITS` bits: `(code length << 8) | symbol`, or 0 when the code is
    /// longer than `LOOKUP_BITS`.
    lookup: [u16; 1 << LOOKUP_BITS],
    /// Largest code of each length (indexed by length), -1 when there is none.
    max_code: [i32; 17],
    /// For each length, index of its first value minus its first code, so value = code + offset.
    offset: [i32; 17],
    values: [u8; 256],
}

impl HuffmanTable {
    /// Builds the canonical code from the 16 code counts and the values of a DHT table.
    pub(super) fn build(counts: &[u8], values: &[u8]) -> Result<Self, JpegError> {
        let mut table = HuffmanTable {
            lookup: [0; 1 << LOOKUP_BITS],
            max_code: [-1; 17],
            offset: [0; 17],
            values: [0; 256],
        };
        table.values[..values.len()].copy_from_slice(values);
        let mut code: u32 = 0;
        let mut index: usize = 0;
        for (len, &n) in (1..=16u32).zip(counts) {
            let n = u32::from(n);
            table.offset[len as usize] = index as i32 - code as i32;
            // Canonical codes of one length are consecutive; they must fit in `len` bits.
            if code + n > 1 << len {
                return Err(malformed("DHT", "over-subscribed Huffman code lengths"));
            }
            for _ in 0..n {
                if len <= LOOKUP_BITS {
                    // Every LOOKUP_BITS-bit pattern starting with this code decodes to it.
                    let shift = LOOKUP_BITS - len;
                    let first = (code << shift) as usize;
                    let entry = (len << 8) as u16 | u16::from(values[index]);
                    table.lookup[first..first + (1 << shift)].fill(entry);
                }
                code += 1;
                index += 1;
            }
            if n > 0 {
                table.max_code[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Ok(table)
    }

    pub(super) fn decode(&self, reader: &mut BitReader) -> Result<u8, JpegError> {
        reader.ensure_bits();
        let entry = self.lookup[reader.peek(LOOKUP_BITS) as usize];
        if entry != 0 {
            reader.consume(u32::from(entry >> 8));
            return Ok(entry as u8);
        }
        // Longer code: the first length whose largest code is not below the next bits is the one
        // (T.81 F.2.2.3, as libjpeg's jpeg_huff_decode).
        let bits = reader.peek(16);
        for len in LOOKUP_BITS + 1..=16 {
            let code = (bits >> (16 - len)) as i32;
            if code <= self.max_code[len as usize] {
                reader.consume(len);
                let index = usize::try_from(code + self.offset[len as usize]).ok();
                return index
                    .and_then(|i| self.values.get(i).copied())
                    .ok_or(JpegError::BadHuffmanCode);
            }
        }
        Err(JpegError::BadHuffmanCode)
    }
}

/// Reads the bits of an entropy-coded segment, undoing byte stuffing and stopping at markers.
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte to read; once a marker is reached, the position of its 0xFF.
    pub(super) pos: usize,
    /// Buffered bits, most significant first; `count` of them are valid.
    acc: u64,
    count: u32,
    /// Set when a marker ends the segment. From then on, like end of data, zero bits are supplied
    /// (as T.81 decoders customarily do), and `overrun` tells whether any of them was consumed.
    marker_reached: bool,
    data_bits: u64,
    used_bits: u64,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader {
            data,
            pos,
            acc: 0,
            count: 0,
            marker_reached: false,
            data_bits: 0,
            used_bits: 0,
        }
    }

    /// The next data byte, or `None` at a marker or at the end of the data.
    fn next_byte(&mut self) -> Option<u8> {
        if self.marker_reached {
            return None;
        }
        let byte = *self.data.get(self.pos)?;
        if byte != 0xFF {
            self.pos += 1;
            return Some(byte);
        }
        // 0xFF: a stuffed data byte (FF 00), possibly after fill bytes (FF FF ...), or a marker.
        let mut next = self.pos + 1;
        while self.data.get(next) == Some(&0xFF) {
            next += 1;
        }
        match self.data.get(next) {
            Some(0) => {
                self.pos = next + 1;
                Some(0xFF)
            }
            Some(_) => {
                self.pos = next - 1;
                self.marker_reached = true;
                None
            }
            None => {
                self.pos = self.data.len();
                None
            }
        }
    }

    /// Tops the buffer up to at least 57 bits, with zeros past the end of the segment.
    fn fill(&mut self) {
        while self.count <= 56 {
            if let Some(byte) = self.next_byte() {
                self.acc |= u64::from(byte) << (56 - self.count);
                self.data_bits += 8;
            }
            self.count += 8;
        }
    }

    /// Makes sure 16 bits can be peeked.
    fn ensure_bits(&mut self) {
        if self.count < 16 {
            self.fill();
        }
    }

    /// The next `n` bits (1 to 16); `ensure_bits` must have been called.
    fn peek(&self, n: u32) -> u32 {
        (self.acc >> (64 - n)) as u32
    }

    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
        self.used_bits += u64::from(n);
    }

    /// Reads an `n`-bit magnitude (0 to 16 bits) and sign-extends it (T.81 F.2.2.1 EXTEND).
    pub(super) fn receive_extend(&mut self, n: u8) -> i32 {
        if n == 0 {
            return 0;
        }
        let n = u32::from(n.min(16));
        self.ensure_bits();
        let value = self.peek(n) as i32;
        self.consume(n);
        if value < 1 << (n - 1) {
            value - (1 << n) + 1
        } else {
            value
        }
    }

    /// Whether more bits were consumed than the segment holds.
    pub(super) fn overrun(&self) -> bool {
        self.used_bits > self.data_bits
    }

    /// Moves past the restart marker that ends an interval and resets the bit buffer; the bits left
    /// in it are the 1-bits padding the interval to a whole byte.
    pub(super) fn restart(&mut self) -> Result<(), JpegError> {
        self.acc = 0;
        self.count = 0;
        self.data_bits = 0;
        self.used_bits = 0;
        // If decoding stopped short of the marker (corrupt data), skip to it, as libjpeg does.
        while !self.marker_reached && self.pos < self.data.len() {
            self.next_byte();
        }
        match self.data.get(self.pos + 1) {
            Some(0xD0..=0xD7) if self.marker_reached => {
                // The marker's number is not checked: a wrong one means lost data, which we cannot
                // recover anyway, and skipping ahead would not be safer.
                self.pos += 2;
                self.marker_reached = false;
                Ok(())
            }
            _ => Err(JpegError::Truncated(
                "a restart interval ends without its RST marker",
            )),
        }
    }
}
