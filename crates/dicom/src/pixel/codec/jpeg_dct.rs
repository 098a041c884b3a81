//! Sequential DCT JPEG decoder: the baseline (SOF0) and extended sequential Huffman (SOF1) processes
//! of ITU-T T.81, with 8- or 12-bit samples.
//!
//! Why our own decoder: DICOM's JPEG Extended transfer syntax (1.2.840.10008.1.2.4.51) carries 12-bit
//! lossy JPEG, common in older CT/MR archives, and the `jpeg-decoder` crate refuses 12-bit streams.
//! This module covers what the DICOM transfer syntaxes .4.50 and .4.51 need: 1 to 4 components, any
//! sampling factors, restart intervals and several scans (non-interleaved components). Progressive,
//! lossless, hierarchical and arithmetic-coded streams are rejected with an error naming the process,
//! and so is a frame whose height is left to a DNL marker.
//!
//! The input is untrusted. Header values are validated before they size anything: the frame must
//! hold at most 2^28 samples, and a scan must carry enough entropy-coded bytes for the blocks it
//! declares (every block costs at least two bits) before its component planes are allocated, so a
//! few hostile bytes cannot make us allocate for a huge declared frame. Arithmetic is checked or
//! wrapping, and decoding always advances through the data or stops, so it cannot loop forever.
//! Entropy-coded data that ends (or hits a marker) before the scan's last MCU is an error.
//!
//! Accuracy: the inverse DCT is computed in floating point (a separable, direct evaluation of
//! T.81 A.3.3), which is within ±1 of libjpeg's integer IDCTs. Chroma upsampling by a factor of two
//! uses the centred triangle filter (3/4, 1/4) that libjpeg ("fancy upsampling") and the libjpeg
//! reference implementation both use, with a single rounding, so it may differ from them by one
//! level; other ratios (3, 4, fractional) replicate the nearest sample.

use std::sync::OnceLock;

/// Largest frame we decode, in samples (width × height × components): 512 MiB of `u16`.
const MAX_SAMPLES: u64 = 1 << 28;

/// Huffman codes up to this length are decoded with a single table look-up.
const LOOKUP_BITS: u32 = 9;

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DQT: u8 = 0xDB;
const DHT: u8 = 0xC4;
const DRI: u8 = 0xDD;
const APP0: u8 = 0xE0;
const APP14: u8 = 0xEE;

/// Natural (row-major) index of the k-th coefficient in zigzag order (T.81 figure A.6).
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// A decoded frame.
#[derive(Debug)]
pub struct DecodedJpeg {
    pub width: u16,
    pub height: u16,
    pub components: u8,
    pub precision: u8,
    /// Interleaved samples, component order as in the frame header, upsampled to full size, no
    /// colour transform.
    pub samples: Vec<u16>,
    /// Whether the stream signals YCbCr that a viewer should convert to RGB: three components and a
    /// JFIF APP0 marker, or else an Adobe APP14 marker with a transform other than 0, or else no
    /// Adobe marker and component ids 1, 2, 3. This is libjpeg's rule except for its last resort:
    /// with no marker and other ids libjpeg guesses YCbCr, we report `false` (pydicom's
    /// `SC_jpeg_no_color_transform.dcm`, ids 0, 1, 2 and RGB data, shows why; a DICOM viewer should
    /// let the Photometric Interpretation decide anyway).
    pub ycbcr: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum JpegError {
    #[error("not a JPEG stream: it does not start with an SOI marker")]
    NotJpeg,
    #[error("JPEG data truncated: {0}")]
    Truncated(&'static str),
    #[error("unexpected JPEG marker 0x{marker:02X}: {reason}")]
    BadMarker { marker: u8, reason: &'static str },
    #[error("malformed JPEG {segment} segment: {reason}")]
    Malformed {
        segment: &'static str,
        reason: &'static str,
    },
    #[error("unsupported JPEG process: {0}")]
    Unsupported(String),
    #[error("JPEG {kind} table {id} is used but not defined")]
    MissingTable { kind: &'static str, id: u8 },
    #[error("invalid Huffman code in the JPEG entropy-coded data")]
    BadHuffmanCode,
    #[error("corrupt JPEG entropy-coded data: {0}")]
    CorruptData(&'static str),
    #[error("JPEG frame too large: {width} x {height} x {components} samples exceed 2^28")]
    TooLarge {
        width: u16,
        height: u16,
        components: u8,
    },
    #[error("no JPEG image: {0}")]
    NoImage(&'static str),
}

fn malformed(segment: &'static str, reason: &'static str) -> JpegError {
    JpegError::Malformed { segment, reason }
}

/// Decodes a sequential DCT JPEG stream (one DICOM frame).
pub fn decode(data: &[u8]) -> Result<DecodedJpeg, JpegError> {
    if data.get(..2) != Some(&[0xFF, SOI][..]) {
        return Err(JpegError::NotJpeg);
    }
    let mut decoder = Decoder::new(data);
    while let Some(marker) = decoder.next_marker() {
        match marker {
            EOI => break,
            SOI => {
                return Err(JpegError::BadMarker {
                    marker,
                    reason: "second SOI",
                })
            }
            0xC0 | 0xC1 => {
                let seg = decoder.take_segment("SOF")?;
                decoder.read_frame(seg)?;
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xF7 => {
                return Err(JpegError::Unsupported(process_name(marker).to_string()));
            }
            DHT => {
                let seg = decoder.take_segment("DHT")?;
                decoder.read_huffman_tables(seg)?;
            }
            DQT => {
                let seg = decoder.take_segment("DQT")?;
                decoder.read_quant_tables(seg)?;
            }
            DRI => {
                let seg = decoder.take_segment("DRI")?;
                let &[hi, lo] = seg else {
                    return Err(malformed("DRI", "length is not 4"));
                };
                decoder.restart_interval = usize::from(u16::from_be_bytes([hi, lo]));
            }
            SOS => {
                let seg = decoder.take_segment("SOS")?;
                decoder.read_scan(seg)?;
            }
            APP0 => {
                let seg = decoder.take_segment("APP0")?;
                // libjpeg only believes a JFIF marker with its full 14-byte header.
                if seg.len() >= 14 && seg.starts_with(b"JFIF\0") {
                    decoder.jfif = true;
                }
            }
            APP14 => {
                let seg = decoder.take_segment("APP14")?;
                // Likewise an Adobe marker needs its 12 bytes; the transform flag is the last one.
                if seg.len() >= 12 && seg.starts_with(b"Adobe") {
                    decoder.adobe_transform = Some(seg[11]);
                }
            }
            // Standalone markers: stray restart markers between scans and TEM carry nothing.
            0xD0..=0xD7 | 0x01 => {}
            // APPn, COM, DNL (the height is never left to it: see `read_frame`), DAC, JPGn, ...
            _ => {
                decoder.take_segment("marker")?;
            }
        }
    }
    decoder.finish()
}

fn process_name(sof: u8) -> &'static str {
    match sof {
        0xC2 => "progressive DCT, Huffman coding (SOF2)",
        0xC3 => "lossless, Huffman coding (SOF3)",
        0xC5 => "differential sequential DCT, Huffman coding (SOF5, hierarchical)",
        0xC6 => "differential progressive DCT, Huffman coding (SOF6, hierarchical)",
        0xC7 => "differential lossless, Huffman coding (SOF7, hierarchical)",
        0xC9 => "sequential DCT, arithmetic coding (SOF9)",
        0xCA => "progressive DCT, arithmetic coding (SOF10)",
        0xCB => "lossless, arithmetic coding (SOF11)",
        0xCD => "differential sequential DCT, arithmetic coding (SOF13)",
        0xCE => "differential progressive DCT, arithmetic coding (SOF14)",
        0xCF => "differential lossless, arithmetic coding (SOF15)",
        0xF7 => "JPEG-LS (SOF55)",
        _ => "unknown frame type",
    }
}

/// One image component of the frame and its decoded samples.
struct Component {
    id: u8,
    /// Sampling factors.
    h: usize,
    v: usize,
    /// Quantization table selector.
    tq: usize,
    /// Size in samples of this component's share of the image (T.81 A.1.1).
    width: usize,
    height: usize,
    /// Size of the plane in blocks: whole MCUs, as interleaved scans code them.
    blocks_w: usize,
    blocks_h: usize,
    /// Decoded samples, `blocks_w * 8` per row; empty until a scan codes this component.
    plane: Vec<u16>,
}

struct Frame {
    precision: u8,
    width: u16,
    height: u16,
    h_max: usize,
    v_max: usize,
    /// MCUs per row and column of an interleaved scan.
    mcus_x: usize,
    mcus_y: usize,
    components: Vec<Component>,
}

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
    frame: Option<Frame>,
    quant: [Option<[u16; 64]>; 4],
    dc_tables: [Option<Box<HuffmanTable>>; 4],
    ac_tables: [Option<Box<HuffmanTable>>; 4],
    /// MCUs per restart interval, 0 when restart markers are not used.
    restart_interval: usize,
    jfif: bool,
    adobe_transform: Option<u8>,
}

impl<'a> Decoder<'a> {
    fn new(data: &'a [u8]) -> Self {
        Decoder {
            data,
            pos: 2,
            frame: None,
            quant: [None; 4],
            dc_tables: Default::default(),
            ac_tables: Default::default(),
            restart_interval: 0,
            jfif: false,
            adobe_transform: None,
        }
    }

    /// Finds the next marker and moves past it. Bytes before it are skipped, as libjpeg does (it
    /// warns about them): some encoders leave padding, and leftovers of a corrupt scan end up here.
    fn next_marker(&mut self) -> Option<u8> {
        while let Some(&[byte, marker]) = self.data.get(self.pos..self.pos.saturating_add(2)) {
            if byte == 0xFF && marker != 0x00 && marker != 0xFF {
                self.pos += 2;
                return Some(marker);
            }
            self.pos += 1;
        }
        self.pos = self.data.len();
        None
    }

    /// Returns the payload of the length-prefixed segment at the current position and moves past it.
    fn take_segment(&mut self, name: &'static str) -> Result<&'a [u8], JpegError> {
        let data = self.data;
        let Some(&[hi, lo]) = data.get(self.pos..self.pos.saturating_add(2)) else {
            return Err(JpegError::Truncated("inside a marker segment"));
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 2 {
            return Err(malformed(name, "length below 2"));
        }
        let end = self.pos.saturating_add(len);
        let payload = data
            .get(self.pos + 2..end)
            .ok_or(JpegError::Truncated("inside a marker segment"))?;
        self.pos = end;
        Ok(payload)
    }

    fn read_frame(&mut self, seg: &[u8]) -> Result<(), JpegError> {
        if self.frame.is_some() {
            return Err(malformed("SOF", "more than one frame header"));
        }
        let &[precision, y_hi, y_lo, x_hi, x_lo, count, ref specs @ ..] = seg else {
            return Err(malformed("SOF", "shorter than 6 bytes"));
        };
        let height = u16::from_be_bytes([y_hi, y_lo]);
        let width = u16::from_be_bytes([x_hi, x_lo]);
        if precision != 8 && precision != 12 {
            return Err(JpegError::Unsupported(format!(
                "{precision}-bit sample precision"
            )));
        }
        if height == 0 {
            return Err(JpegError::Unsupported(
                "frame height defined by a DNL marker".into(),
            ));
        }
        if width == 0 {
            return Err(malformed("SOF", "zero width"));
        }
        if !(1..=4).contains(&count) {
            return Err(JpegError::Unsupported(format!("{count} components")));
        }
        if specs.len() != 3 * usize::from(count) {
            return Err(malformed(
                "SOF",
                "length does not match the component count",
            ));
        }
        if u64::from(width) * u64::from(height) * u64::from(count) > MAX_SAMPLES {
            return Err(JpegError::TooLarge {
                width,
                height,
                components: count,
            });
        }

        let mut components: Vec<Component> = Vec::with_capacity(specs.len() / 3);
        for spec in specs.chunks_exact(3) {
            let (id, h, v, tq) = (spec[0], spec[1] >> 4, spec[1] & 15, spec[2]);
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                return Err(malformed("SOF", "sampling factor outside 1..4"));
            }
            if tq > 3 {
                return Err(malformed("SOF", "quantization table selector above 3"));
            }
            if components.iter().any(|c| c.id == id) {
                return Err(malformed("SOF", "two components with the same id"));
            }
            components.push(Component {
                id,
                h: usize::from(h),
                v: usize::from(v),
                tq: usize::from(tq),
                width: 0,
                height: 0,
                blocks_w: 0,
                blocks_h: 0,
                plane: Vec::new(),
            });
        }
        let h_max = components.iter().map(|c| c.h).max().unwrap_or(1);
        let v_max = components.iter().map(|c| c.v).max().unwrap_or(1);
        let (width_px, height_px) = (usize::from(width), usize::from(height));
        let mcus_x = width_px.div_ceil(8 * h_max);
        let mcus_y = height_px.div_ceil(8 * v_max);
        for c in &mut components {
            c.width = (width_px * c.h).div_ceil(h_max);
            c.height = (height_px * c.v).div_ceil(v_max);
            c.blocks_w = mcus_x * c.h;
            c.blocks_h = mcus_y * c.v;
        }
        self.frame = Some(Frame {
            precision,
            width,
            height,
            h_max,
            v_max,
            mcus_x,
            mcus_y,
            components,
        });
        Ok(())
    }

    fn read_quant_tables(&mut self, seg: &[u8]) -> Result<(), JpegError> {
        let mut rest = seg;
        while let Some((&pq_tq, tail)) = rest.split_first() {
            let (pq, tq) = (pq_tq >> 4, usize::from(pq_tq & 15));
            let size = match pq {
                0 => 64,
                1 => 128,
                _ => {
                    return Err(malformed(
                        "DQT",
                        "element precision is neither 8 nor 16 bits",
                    ))
                }
            };
            let slot = self
                .quant
                .get_mut(tq)
                .ok_or(malformed("DQT", "table id above 3"))?;
            let body = tail
                .get(..size)
                .ok_or(malformed("DQT", "shorter than its tables"))?;
            // Stored in zigzag order; keep them in natural order, like the coefficients.
            let mut table = [0u16; 64];
            for (k, &natural) in ZIGZAG.iter().enumerate() {
                table[usize::from(natural)] = if pq == 0 {
                    u16::from(body[k])
                } else {
                    u16::from_be_bytes([body[2 * k], body[2 * k + 1]])
                };
            }
            *slot = Some(table);
            rest = &tail[size..];
        }
        Ok(())
    }

    fn read_huffman_tables(&mut self, seg: &[u8]) -> Result<(), JpegError> {
        let mut rest = seg;
        while let Some((&tc_th, tail)) = rest.split_first() {
            let (tc, th) = (tc_th >> 4, usize::from(tc_th & 15));
            let counts = tail
                .get(..16)
                .ok_or(malformed("DHT", "shorter than its tables"))?;
            let total: usize = counts.iter().map(|&n| usize::from(n)).sum();
            if total > 256 {
                return Err(malformed("DHT", "more than 256 codes"));
            }
            let values = tail
                .get(16..16 + total)
                .ok_or(malformed("DHT", "shorter than its tables"))?;
            let table = HuffmanTable::build(counts, values)?;
            let tables = match tc {
                0 => &mut self.dc_tables,
                1 => &mut self.ac_tables,
                _ => return Err(malformed("DHT", "table class is neither DC nor AC")),
            };
            *tables
                .get_mut(th)
                .ok_or(malformed("DHT", "table id above 3"))? = Some(Box::new(table));
            rest = &tail[16 + total..];
        }
        Ok(())
    }

    /// Reads an SOS header and decodes the entropy-coded segment that follows it.
    fn read_scan(&mut self, seg: &[u8]) -> Result<(), JpegError> {
        let Some(frame) = self.frame.as_mut() else {
            return Err(JpegError::BadMarker {
                marker: SOS,
                reason: "scan before the frame header",
            });
        };
        let count = usize::from(seg.first().copied().unwrap_or(0));
        if count == 0 || count > 4 || seg.len() != 4 + 2 * count {
            return Err(malformed("SOS", "bad component count or length"));
        }
        // Ss, Se, Ah and Al (the last three bytes) are fixed at 0, 63, 0, 0 for the sequential
        // processes. libjpeg ignores other values with a warning, and so do we: pydicom's
        // JPEG-lossy.dcm has Se = 0.
        let mut scan: Vec<ScanComponent> = Vec::with_capacity(count);
        for spec in seg[1..1 + 2 * count].chunks_exact(2) {
            let index = frame
                .components
                .iter()
                .position(|c| c.id == spec[0])
                .ok_or(malformed("SOS", "component not in the frame"))?;
            if scan.iter().any(|s| s.index == index) {
                return Err(malformed("SOS", "component listed twice"));
            }
            let (td, ta) = (spec[1] >> 4, spec[1] & 15);
            let dc = table_ref(&self.dc_tables, td).ok_or(JpegError::MissingTable {
                kind: "DC Huffman",
                id: td,
            })?;
            let ac = table_ref(&self.ac_tables, ta).ok_or(JpegError::MissingTable {
                kind: "AC Huffman",
                id: ta,
            })?;
            let tq = frame.components[index].tq;
            let quant = self.quant[tq].ok_or(JpegError::MissingTable {
                kind: "quantization",
                id: tq as u8,
            })?;
            scan.push(ScanComponent {
                index,
                dc,
                ac,
                quant,
                pred: 0,
            });
        }

        // A non-interleaved scan codes one block per MCU over the component's own size; an
        // interleaved one codes h × v blocks of each component per MCU over the whole frame.
        let (mcus_x, mcus_y, blocks_per_mcu) = if let [only] = scan.as_slice() {
            let c = &frame.components[only.index];
            (c.width.div_ceil(8), c.height.div_ceil(8), 1)
        } else {
            let blocks = scan
                .iter()
                .map(|s| frame.components[s.index].h * frame.components[s.index].v)
                .sum();
            if blocks > 10 {
                return Err(malformed("SOS", "more than 10 blocks per MCU"));
            }
            (frame.mcus_x, frame.mcus_y, blocks)
        };
        let total_mcus = mcus_x * mcus_y;
        // Every block costs at least two bits (a DC code and an EOB code), so the bytes left bound the
        // blocks this scan can really hold. Checking before allocating the planes keeps a few
        // hostile bytes from making us allocate for a huge declared frame.
        let remaining = self.data.len().saturating_sub(self.pos);
        if (total_mcus - 1).saturating_mul(blocks_per_mcu) > remaining.saturating_mul(4) {
            return Err(JpegError::Truncated(
                "entropy-coded data too short for the frame size",
            ));
        }
        let (width, height, components) = (frame.width, frame.height, frame.components.len() as u8);
        let too_large = || JpegError::TooLarge {
            width,
            height,
            components,
        };
        for s in &scan {
            let c = &mut frame.components[s.index];
            if c.plane.is_empty() {
                // Whole MCUs of a frame within MAX_SAMPLES: at most a few million samples more.
                let len = (c.blocks_w * 8)
                    .checked_mul(c.blocks_h * 8)
                    .ok_or_else(too_large)?;
                c.plane = vec![0; len];
            }
        }

        let mut reader = BitReader::new(self.data, self.pos);
        let geometry = ScanGeometry {
            mcus_x,
            total_mcus,
            interleaved: count > 1,
        };
        let result = decode_mcus(
            frame,
            &mut scan,
            &mut reader,
            &geometry,
            self.restart_interval,
        );
        self.pos = reader.pos;
        result
    }

    /// Upsamples and interleaves the decoded planes.
    fn finish(self) -> Result<DecodedJpeg, JpegError> {
        let frame = self
            .frame
            .ok_or(JpegError::NoImage("no frame header (SOF)"))?;
        if frame.components.iter().any(|c| c.plane.is_empty()) {
            return Err(JpegError::Truncated(
                "the data ends before every component has been coded",
            ));
        }
        let (width, height) = (usize::from(frame.width), usize::from(frame.height));
        let count = frame.components.len();
        // At most 2^28 samples: checked by `read_frame`.
        let mut samples = vec![0u16; width * height * count];
        for (index, c) in frame.components.iter().enumerate() {
            upsample_into(&mut samples, count, index, c, &frame);
        }
        let ids: Vec<u8> = frame.components.iter().map(|c| c.id).collect();
        Ok(DecodedJpeg {
            width: frame.width,
            height: frame.height,
            components: count as u8,
            precision: frame.precision,
            samples,
            ycbcr: signals_ycbcr(&ids, self.jfif, self.adobe_transform),
        })
    }
}

fn table_ref(tables: &[Option<Box<HuffmanTable>>; 4], id: u8) -> Option<&HuffmanTable> {
    tables.get(usize::from(id))?.as_deref()
}

/// libjpeg's colour space guess for three components (jdapimin.c), minus its last-resort YCbCr
/// guess for unknown component ids: see [`DecodedJpeg::ycbcr`].
fn signals_ycbcr(ids: &[u8], jfif: bool, adobe_transform: Option<u8>) -> bool {
    if ids.len() != 3 {
        return false;
    }
    if jfif {
        return true;
    }
    if let Some(transform) = adobe_transform {
        // 0: RGB (no transform); 1: YCbCr; libjpeg also takes unknown values as YCbCr.
        return transform != 0;
    }
    ids == [1, 2, 3]
}

// ---------------------------------------------------------------------------------------------
// Huffman decoding

/// A Huffman table for decoding (T.81 annex C and F.2.2.3).
struct HuffmanTable {
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
    fn build(counts: &[u8], values: &[u8]) -> Result<Self, JpegError> {
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

    fn decode(&self, reader: &mut BitReader) -> Result<u8, JpegError> {
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
struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte to read; once a marker is reached, the position of its 0xFF.
    pos: usize,
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
    fn new(data: &'a [u8], pos: usize) -> Self {
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
    fn receive_extend(&mut self, n: u8) -> i32 {
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
    fn overrun(&self) -> bool {
        self.used_bits > self.data_bits
    }

    /// Moves past the restart marker that ends an interval and resets the bit buffer; the bits left
    /// in it are the 1-bits padding the interval to a whole byte.
    fn restart(&mut self) -> Result<(), JpegError> {
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

// ---------------------------------------------------------------------------------------------
// Scan decoding

/// A component of the current scan, with its tables and DC predictor.
struct ScanComponent<'t> {
    index: usize,
    dc: &'t HuffmanTable,
    ac: &'t HuffmanTable,
    quant: [u16; 64],
    pred: i32,
}

struct ScanGeometry {
    mcus_x: usize,
    total_mcus: usize,
    interleaved: bool,
}

/// The MCU loop (T.81 F.2.2, figure E.6): decodes, dequantizes and inverse-transforms every block of
/// the scan straight into the component planes.
fn decode_mcus(
    frame: &mut Frame,
    scan: &mut [ScanComponent],
    reader: &mut BitReader,
    geometry: &ScanGeometry,
    restart_interval: usize,
) -> Result<(), JpegError> {
    let mut coef = [0i32; 64];
    let mut pixels = [[0u16; 8]; 8];
    for mcu in 0..geometry.total_mcus {
        if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
            reader.restart()?;
            scan.iter_mut().for_each(|s| s.pred = 0);
        } else if reader.overrun() {
            // Padding zeros may complete the last MCU of an interval or scan, nothing before it.
            return Err(JpegError::Truncated(
                "the entropy-coded segment ends before its last MCU",
            ));
        }
        let (mx, my) = (mcu % geometry.mcus_x, mcu / geometry.mcus_x);
        for s in scan.iter_mut() {
            let component = &mut frame.components[s.index];
            let (bh, bv) = if geometry.interleaved {
                (component.h, component.v)
            } else {
                (1, 1)
            };
            for v in 0..bv {
                for h in 0..bh {
                    decode_block(reader, s.dc, s.ac, &mut s.pred, &mut coef)?;
                    idct_block(&coef, &s.quant, frame.precision, &mut pixels);
                    store_block(component, mx * bh + h, my * bv + v, &pixels)?;
                }
            }
        }
    }
    Ok(())
}

/// Decodes one block's Huffman-coded coefficients (T.81 F.2.2.1 and F.2.2.2) into `coef`, in
/// natural order.
fn decode_block(
    reader: &mut BitReader,
    dc: &HuffmanTable,
    ac: &HuffmanTable,
    pred: &mut i32,
    coef: &mut [i32; 64],
) -> Result<(), JpegError> {
    *coef = [0; 64];
    let size = dc.decode(reader)?;
    if size > 15 {
        return Err(JpegError::CorruptData("DC difference category above 15"));
    }
    // Hostile data can drive the predictor anywhere; wrap rather than overflow.
    *pred = pred.wrapping_add(reader.receive_extend(size));
    coef[0] = *pred;
    let mut k = 1;
    while k < 64 {
        let rs = ac.decode(reader)?;
        let (run, size) = (usize::from(rs >> 4), rs & 15);
        if size == 0 {
            if run != 15 {
                break; // EOB
            }
            k += 16; // ZRL: sixteen zeros
            continue;
        }
        k += run;
        let natural = ZIGZAG.get(k).ok_or(JpegError::CorruptData(
            "AC coefficient past the end of a block",
        ))?;
        coef[usize::from(*natural)] = reader.receive_extend(size);
        k += 1;
    }
    Ok(())
}

/// `BASIS[x][u] = C(u)/2 · cos((2x+1)uπ/16)`, with C(0) = 1/√2 and C(u) = 1 otherwise (T.81 A.3.3).
fn idct_basis() -> &'static [[f32; 8]; 8] {
    static BASIS: OnceLock<[[f32; 8]; 8]> = OnceLock::new();
    BASIS.get_or_init(|| {
        let mut basis = [[0f32; 8]; 8];
        for (x, row) in basis.iter_mut().enumerate() {
            for (u, value) in row.iter_mut().enumerate() {
                let c = if u == 0 {
                    std::f64::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                let angle = ((2 * x + 1) * u) as f64 * std::f64::consts::PI / 16.0;
                *value = (c / 2.0 * angle.cos()) as f32;
            }
        }
        basis
    })
}

/// Dequantizes and inverse-transforms one block, then level-shifts it by 2^(P-1) and clamps it to
/// [0, 2^P - 1]. Floating point and separable (rows, then columns): exact enough to stay within one
/// level of libjpeg's integer transforms at 8 and 12 bits.
fn idct_block(coef: &[i32; 64], quant: &[u16; 64], precision: u8, out: &mut [[u16; 8]; 8]) {
    let basis = idct_basis();
    // rows[v][x]: the horizontal transform of coefficient row v.
    let mut rows = [[0f32; 8]; 8];
    for (v, row_out) in rows.iter_mut().enumerate() {
        let mut f = [0f32; 8];
        for (u, value) in f.iter_mut().enumerate() {
            *value = coef[v * 8 + u] as f32 * f32::from(quant[v * 8 + u]);
        }
        if f[1..].iter().all(|&c| c == 0.0) {
            // Most rows hold a DC term at most: a flat row.
            *row_out = [f[0] * basis[0][0]; 8];
            continue;
        }
        for (x, value) in row_out.iter_mut().enumerate() {
            let mut sum = 0f32;
            for u in 0..8 {
                sum += basis[x][u] * f[u];
            }
            *value = sum;
        }
    }
    let center = f32::from(1u16 << (precision - 1));
    let max = f32::from(((1u32 << precision) - 1) as u16);
    for (y, out_row) in out.iter_mut().enumerate() {
        for (x, sample) in out_row.iter_mut().enumerate() {
            let mut sum = 0f32;
            for v in 0..8 {
                sum += basis[y][v] * rows[v][x];
            }
            // Round half up, as libjpeg's descaling does; the float-to-int cast saturates.
            *sample = (sum + center + 0.5).floor().clamp(0.0, max) as u16;
        }
    }
}

fn store_block(
    component: &mut Component,
    bx: usize,
    by: usize,
    pixels: &[[u16; 8]; 8],
) -> Result<(), JpegError> {
    let stride = component.blocks_w * 8;
    for (y, row) in pixels.iter().enumerate() {
        let start = (by * 8 + y) * stride + bx * 8;
        // Always inside: block indices stay below blocks_w × blocks_h by construction of the scan.
        let target = component
            .plane
            .get_mut(start..start + 8)
            .ok_or(JpegError::CorruptData("block outside its component"))?;
        target.copy_from_slice(row);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Upsampling

/// The two source samples (index, weight) an output coordinate is made of along one axis; weights
/// add up to 4.
type Taps = [(usize, u32); 2];

/// Taps for output coordinates `0..out_len` along one axis of a component sampled `factor` times for
/// every `max` samples of the image, with `src_len` meaningful samples in its plane.
fn axis_taps(out_len: usize, factor: usize, max: usize, src_len: usize) -> Vec<Taps> {
    let last = src_len.saturating_sub(1);
    (0..out_len)
        .map(|o| {
            if factor == max {
                [(o.min(last), 4), (0, 0)]
            } else if 2 * factor == max {
                // Centred samples: output o sits at source position o/2 - 1/4, so it takes 3/4 of the
                // nearer source sample and 1/4 of the next one on its side (libjpeg's "fancy"
                // triangle filter), repeating the edge samples.
                let near = (o / 2).min(last);
                let far = if o % 2 == 0 {
                    near.saturating_sub(1)
                } else {
                    (near + 1).min(last)
                };
                [(near, 3), (far, 1)]
            } else {
                // Other ratios, rare in practice: replicate the nearest sample.
                [((o * factor / max).min(last), 4), (0, 0)]
            }
        })
        .collect()
}

/// Writes component `index` of `count`, upsampled to the frame size, into the interleaved samples.
fn upsample_into(
    samples: &mut [u16],
    count: usize,
    index: usize,
    component: &Component,
    frame: &Frame,
) {
    let (width, height) = (usize::from(frame.width), usize::from(frame.height));
    let stride = component.blocks_w * 8;
    let x_taps = axis_taps(width, component.h, frame.h_max, component.width);
    let y_taps = axis_taps(height, component.v, frame.v_max, component.height);
    let row_of = |y: usize| {
        component
            .plane
            .get(y * stride..(y + 1) * stride)
            .unwrap_or(&[])
    };
    let at = |row: &[u16], x: usize| u32::from(row.get(x).copied().unwrap_or(0));
    for (out_row, &[(y0, wy0), (y1, wy1)]) in samples.chunks_exact_mut(width * count).zip(&y_taps) {
        let (row0, row1) = (row_of(y0), row_of(y1));
        for (pixel, &[(x0, wx0), (x1, wx1)]) in out_row.chunks_exact_mut(count).zip(&x_taps) {
            let sum = wy0 * (wx0 * at(row0, x0) + wx1 * at(row0, x1))
                + wy1 * (wx0 * at(row1, x0) + wx1 * at(row1, x1));
            // Weights total 16: one rounding for both directions.
            if let Some(sample) = pixel.get_mut(index) {
                *sample = ((sum + 8) >> 4) as u16;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! A small sequential JPEG encoder lets the tests build valid streams for what pydicom's files
    //! do not cover (restart intervals, several scans, 12-bit colour, 4 components, odd sampling).
    use super::*;

    /// Canonical Huffman code: (code, length) per symbol.
    fn encoding_table(counts: &[u8; 16], values: &[u8]) -> Vec<(u32, u32)> {
        let mut table = vec![(0, 0); 256];
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16u32 {
            for _ in 0..counts[len as usize - 1] {
                table[usize::from(values[k])] = (code, len);
                code += 1;
                k += 1;
            }
            code <<= 1;
        }
        table
    }

    /// Code counts giving the first four symbols 3-bit codes and the others 12-bit codes, so that
    /// decoding takes both the look-up and the long-code path.
    fn counts_for(symbols: usize) -> [u8; 16] {
        let mut counts = [0u8; 16];
        counts[2] = symbols.min(4) as u8;
        counts[11] = symbols.saturating_sub(4) as u8;
        counts
    }

    fn dc_values() -> Vec<u8> {
        (0..16).collect()
    }

    /// Every (run, size) symbol, the frequent ones first.
    fn ac_values() -> Vec<u8> {
        let mut values = vec![0x00, 0x01, 0x11, 0x02];
        values.extend((0..=255u8).filter(|v| ![0x00, 0x01, 0x11, 0x02].contains(v)));
        values
    }

    struct BitWriter {
        out: Vec<u8>,
        acc: u32,
        count: u32,
    }

    impl BitWriter {
        fn put(&mut self, value: u32, len: u32) {
            for i in (0..len).rev() {
                self.acc = (self.acc << 1) | ((value >> i) & 1);
                self.count += 1;
                if self.count == 8 {
                    let byte = self.acc as u8;
                    self.out.push(byte);
                    if byte == 0xFF {
                        self.out.push(0);
                    }
                    self.acc = 0;
                    self.count = 0;
                }
            }
        }

        fn flush(&mut self) {
            while self.count != 0 {
                self.put(1, 1);
            }
        }
    }

    /// Forward DCT (T.81 A.3.3), float.
    fn fdct(block: &[f32; 64]) -> [f32; 64] {
        let basis = idct_basis();
        let mut out = [0f32; 64];
        for v in 0..8 {
            for u in 0..8 {
                let mut sum = 0f32;
                for y in 0..8 {
                    for x in 0..8 {
                        sum += basis[x][u] * basis[y][v] * block[y * 8 + x];
                    }
                }
                out[v * 8 + u] = sum;
            }
        }
        out
    }

    fn category(value: i32) -> u32 {
        32 - value.unsigned_abs().leading_zeros()
    }

    fn put_value(w: &mut BitWriter, value: i32, size: u32) {
        let bits = if value < 0 { value - 1 } else { value };
        w.put(bits as u32 & ((1 << size) - 1), size);
    }

    struct Spec {
        width: usize,
        height: usize,
        precision: u8,
        /// (id, h, v) per component.
        components: Vec<(u8, u8, u8)>,
        restart: u16,
        interleaved: bool,
        /// The same value in every quantization table entry.
        quant: u16,
        sof: u8,
        /// Segments (marker and payload) written after SOI.
        extra: Vec<(u8, Vec<u8>)>,
        /// Value written as Se (T.81 wants 63 for sequential streams).
        se: u8,
    }

    impl Spec {
        fn new(width: usize, height: usize, precision: u8, components: &[(u8, u8, u8)]) -> Self {
            Spec {
                width,
                height,
                precision,
                components: components.to_vec(),
                restart: 0,
                interleaved: true,
                quant: 1,
                sof: if precision == 8 { 0xC0 } else { 0xC1 },
                extra: Vec::new(),
                se: 63,
            }
        }

        fn component_size(&self, c: usize) -> (usize, usize) {
            let h_max = self.components.iter().map(|c| c.1).max().unwrap() as usize;
            let v_max = self.components.iter().map(|c| c.2).max().unwrap() as usize;
            let (_, h, v) = self.components[c];
            (
                (self.width * h as usize).div_ceil(h_max),
                (self.height * v as usize).div_ceil(v_max),
            )
        }
    }

    fn segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) {
        out.extend([0xFF, marker]);
        out.extend(((payload.len() + 2) as u16).to_be_bytes());
        out.extend(payload);
    }

    /// Encodes component samples `sample(c, x, y)` (component coordinates) as a JPEG stream.
    fn encode(spec: &Spec, sample: &dyn Fn(usize, usize, usize) -> u16) -> Vec<u8> {
        let mut out = vec![0xFF, SOI];
        for (marker, payload) in &spec.extra {
            segment(&mut out, *marker, payload);
        }
        let mut dqt = vec![0x10];
        for _ in 0..64 {
            dqt.extend(spec.quant.to_be_bytes());
        }
        segment(&mut out, DQT, &dqt);
        let mut sof = vec![spec.precision];
        sof.extend((spec.height as u16).to_be_bytes());
        sof.extend((spec.width as u16).to_be_bytes());
        sof.push(spec.components.len() as u8);
        for &(id, h, v) in &spec.components {
            sof.extend([id, h << 4 | v, 0]);
        }
        segment(&mut out, spec.sof, &sof);
        let (dc_counts, ac_counts) = (counts_for(16), counts_for(256));
        let mut dht = vec![0x00];
        dht.extend(dc_counts);
        dht.extend(dc_values());
        dht.push(0x10);
        dht.extend(ac_counts);
        dht.extend(ac_values());
        segment(&mut out, DHT, &dht);
        if spec.restart > 0 {
            segment(&mut out, DRI, &spec.restart.to_be_bytes());
        }
        let dc = encoding_table(&dc_counts, &dc_values());
        let ac = encoding_table(&ac_counts, &ac_values());

        let h_max = spec.components.iter().map(|c| c.1).max().unwrap() as usize;
        let v_max = spec.components.iter().map(|c| c.2).max().unwrap() as usize;
        let scans: Vec<Vec<usize>> = if spec.interleaved {
            vec![(0..spec.components.len()).collect()]
        } else {
            (0..spec.components.len()).map(|c| vec![c]).collect()
        };
        let center = (1 << (spec.precision - 1)) as f32;
        for scan in scans {
            let mut sos = vec![scan.len() as u8];
            for &c in &scan {
                sos.extend([spec.components[c].0, 0x00]);
            }
            sos.extend([0, spec.se, 0]);
            segment(&mut out, SOS, &sos);
            let (mcus_x, mcus_y) = if scan.len() == 1 {
                let (w, h) = spec.component_size(scan[0]);
                (w.div_ceil(8), h.div_ceil(8))
            } else {
                (
                    spec.width.div_ceil(8 * h_max),
                    spec.height.div_ceil(8 * v_max),
                )
            };
            let mut w = BitWriter {
                out: Vec::new(),
                acc: 0,
                count: 0,
            };
            let mut preds = vec![0i32; scan.len()];
            for mcu in 0..mcus_x * mcus_y {
                if spec.restart > 0 && mcu > 0 && mcu % spec.restart as usize == 0 {
                    w.flush();
                    w.out
                        .extend([0xFF, 0xD0 + ((mcu / spec.restart as usize - 1) % 8) as u8]);
                    preds.iter_mut().for_each(|p| *p = 0);
                }
                let (mx, my) = (mcu % mcus_x, mcu / mcus_x);
                for (si, &c) in scan.iter().enumerate() {
                    let (_, h, v) = spec.components[c];
                    let (bh, bv) = if scan.len() == 1 {
                        (1, 1)
                    } else {
                        (h as usize, v as usize)
                    };
                    let (cw, ch) = spec.component_size(c);
                    for by in 0..bv {
                        for bx in 0..bh {
                            let (x0, y0) = ((mx * bh + bx) * 8, (my * bv + by) * 8);
                            let mut block = [0f32; 64];
                            for y in 0..8 {
                                for x in 0..8 {
                                    // Pad by repeating the edge, as encoders do.
                                    let s = sample(c, (x0 + x).min(cw - 1), (y0 + y).min(ch - 1));
                                    block[y * 8 + x] = s as f32 - center;
                                }
                            }
                            let f = fdct(&block);
                            let q: Vec<i32> = (0..64)
                                .map(|k| (f[ZIGZAG[k] as usize] / spec.quant as f32).round() as i32)
                                .collect();
                            let diff = q[0] - preds[si];
                            preds[si] = q[0];
                            let size = category(diff);
                            w.put(dc[size as usize].0, dc[size as usize].1);
                            put_value(&mut w, diff, size);
                            let mut run = 0;
                            for &value in &q[1..] {
                                if value == 0 {
                                    run += 1;
                                    continue;
                                }
                                while run > 15 {
                                    w.put(ac[0xF0].0, ac[0xF0].1);
                                    run -= 16;
                                }
                                let size = category(value);
                                let (code, len) = ac[(run << 4 | size) as usize];
                                w.put(code, len);
                                put_value(&mut w, value, size);
                                run = 0;
                            }
                            if run > 0 {
                                w.put(ac[0].0, ac[0].1);
                            }
                        }
                    }
                }
            }
            w.flush();
            out.extend(w.out);
        }
        out.extend([0xFF, EOI]);
        out
    }

    /// Where along one axis an output coordinate samples the component: the position the decoder's
    /// upsampling interpolates at.
    fn source_position(o: usize, factor: usize, max: usize, len: usize) -> f32 {
        let p = if factor == max {
            o as f32
        } else if 2 * factor == max {
            o as f32 / 2.0 - 0.25
        } else {
            (o * factor / max) as f32
        };
        p.clamp(0.0, (len - 1) as f32)
    }

    /// Encodes linear ramps (plus a little texture for the first component), decodes, and checks
    /// every upsampled sample against the ramp at the interpolated position, within `tolerance`.
    fn round_trip(spec: &Spec, tolerance: f32) -> DecodedJpeg {
        let max = ((1u32 << spec.precision) - 1) as f32;
        let slope = max / 400.0;
        let ramp = move |c: usize, x: f32, y: f32| 20.0 + (c as f32 + 1.0) * slope * (x + 0.5 * y);
        let h_max = spec.components.iter().map(|c| c.1).max().unwrap() as usize;
        let v_max = spec.components.iter().map(|c| c.2).max().unwrap() as usize;
        let full = |c: usize| {
            let (_, h, v) = spec.components[c];
            h as usize == h_max && v as usize == v_max
        };
        // Texture only where no upsampling happens: the ramp alone is what interpolation preserves.
        let texture = |c: usize, x: usize, y: usize| {
            if c == 0 && full(c) && (x / 3 + y / 2).is_multiple_of(2) {
                9.0
            } else {
                0.0
            }
        };
        let jpeg = encode(spec, &|c, x, y| {
            (ramp(c, x as f32, y as f32) + texture(c, x, y)).round() as u16
        });
        let decoded = decode(&jpeg).expect("decode");
        assert_eq!(
            (
                decoded.width as usize,
                decoded.height as usize,
                decoded.precision
            ),
            (spec.width, spec.height, spec.precision)
        );
        assert_eq!(decoded.components as usize, spec.components.len());
        let n = spec.components.len();
        for c in 0..n {
            let (_, h, v) = spec.components[c];
            let (cw, ch) = spec.component_size(c);
            for y in 0..spec.height {
                for x in 0..spec.width {
                    let got = decoded.samples[(y * spec.width + x) * n + c] as f32;
                    let expected = if full(c) {
                        ramp(c, x as f32, y as f32) + texture(c, x, y)
                    } else {
                        let sx = source_position(x, h as usize, h_max, cw);
                        let sy = source_position(y, v as usize, v_max, ch);
                        ramp(c, sx, sy)
                    };
                    assert!(
                        (got - expected).abs() <= tolerance,
                        "component {c} at ({x}, {y}): got {got}, expected {expected}"
                    );
                }
            }
        }
        decoded
    }

    #[test]
    fn grey_8_bit_odd_size() {
        round_trip(&Spec::new(37, 21, 8, &[(1, 1, 1)]), 1.5);
    }

    #[test]
    fn grey_12_bit_with_restarts_and_odd_scan_header() {
        let mut spec = Spec::new(33, 17, 12, &[(1, 1, 1)]);
        spec.restart = 2;
        spec.se = 0; // as in pydicom's JPEG-lossy.dcm
        let decoded = round_trip(&spec, 1.5);
        assert!(
            decoded.samples.iter().any(|&s| s > 255),
            "12-bit range is used"
        );
    }

    #[test]
    fn ycbcr_420_interleaved_with_restart_every_mcu() {
        let mut spec = Spec::new(30, 18, 8, &[(1, 2, 2), (2, 1, 1), (3, 1, 1)]);
        spec.restart = 1;
        round_trip(&spec, 1.5);
    }

    #[test]
    fn ycbcr_422_odd_width_12_bit() {
        round_trip(
            &Spec::new(29, 11, 12, &[(1, 2, 1), (2, 1, 1), (3, 1, 1)]),
            1.5,
        );
    }

    #[test]
    fn four_components_in_separate_scans() {
        let mut spec = Spec::new(27, 19, 12, &[(1, 2, 1), (2, 1, 1), (3, 1, 2), (4, 2, 2)]);
        spec.interleaved = false;
        spec.restart = 5;
        round_trip(&spec, 1.5);
    }

    #[test]
    fn ratio_three_replicates() {
        round_trip(
            &Spec::new(25, 9, 8, &[(1, 3, 1), (2, 1, 1), (3, 1, 1)]),
            1.5,
        );
    }

    #[test]
    fn quantized_stream_stays_close() {
        let mut spec = Spec::new(16, 16, 12, &[(1, 1, 1)]);
        spec.quant = 8;
        round_trip(&spec, 6.0);
    }

    fn ycbcr_of(ids: [u8; 3], extra: Vec<(u8, Vec<u8>)>) -> bool {
        let mut spec = Spec::new(8, 8, 8, &[(ids[0], 1, 1), (ids[1], 1, 1), (ids[2], 1, 1)]);
        spec.extra = extra;
        decode(&encode(&spec, &|_, _, _| 100)).unwrap().ycbcr
    }

    #[test]
    fn colour_space_rule() {
        let jfif = (APP0, b"JFIF\0\x01\x02\x00\x00\x01\x00\x01\x00\x00".to_vec());
        let adobe = |t: u8| (APP14, [&b"Adobe"[..], &[0, 100, 0, 0, 0, 0, t]].concat());
        assert!(ycbcr_of([1, 2, 3], vec![]));
        assert!(!ycbcr_of([0, 1, 2], vec![]));
        assert!(!ycbcr_of([b'R', b'G', b'B'], vec![]));
        assert!(ycbcr_of([0, 1, 2], vec![jfif.clone()]));
        assert!(ycbcr_of([b'R', b'G', b'B'], vec![adobe(1)]));
        assert!(!ycbcr_of([1, 2, 3], vec![adobe(0)]));
        assert!(ycbcr_of([1, 2, 3], vec![jfif, adobe(0)]));
        // A 10-byte "Adobe" segment (pydicom's SC_rgb_jpeg.dcm) is not an Adobe marker to libjpeg.
        assert!(!ycbcr_of(
            [0, 1, 2],
            vec![(APP14, b"Adobe\0\0\0\0\0".to_vec())]
        ));
        let grey = encode(&Spec::new(8, 8, 8, &[(1, 1, 1)]), &|_, _, _| 7);
        assert!(!decode(&grey).unwrap().ycbcr);
    }

    fn frame_only(sof: u8, precision: u8, height: u16, width: u16, count: u8) -> Vec<u8> {
        let mut out = vec![0xFF, SOI];
        let mut payload = vec![precision];
        payload.extend(height.to_be_bytes());
        payload.extend(width.to_be_bytes());
        payload.push(count);
        for id in 0..count {
            payload.extend([id + 1, 0x11, 0]);
        }
        segment(&mut out, sof, &payload);
        out
    }

    #[test]
    fn rejections_name_the_problem() {
        let message = |data: &[u8]| decode(data).unwrap_err().to_string();
        assert!(message(&frame_only(0xC2, 8, 8, 8, 1)).contains("progressive"));
        assert!(message(&frame_only(0xC9, 8, 8, 8, 1)).contains("arithmetic"));
        assert!(message(&frame_only(0xC3, 8, 8, 8, 1)).contains("lossless"));
        assert!(message(&frame_only(0xC1, 16, 8, 8, 1)).contains("16-bit"));
        assert!(message(&frame_only(0xC1, 12, 0, 8, 1)).contains("DNL"));
        assert!(matches!(
            decode(&frame_only(0xC0, 8, 65535, 65535, 3)),
            Err(JpegError::TooLarge { .. })
        ));
        assert!(matches!(decode(b"\x89PNG"), Err(JpegError::NotJpeg)));
        assert!(matches!(
            decode(&frame_only(0xC0, 8, 8, 8, 1)),
            Err(JpegError::Truncated(_))
        ));
    }

    #[test]
    fn huge_declared_frame_with_little_data_is_refused_before_allocating() {
        // 16384 × 16384 is within the sample limit, but a few bytes cannot code 4 million blocks.
        let small = encode(&Spec::new(8, 8, 8, &[(1, 1, 1)]), &|_, _, _| 50);
        let mut data = small.clone();
        let sof = data.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        data[sof + 5..sof + 9].copy_from_slice(&[0x40, 0, 0x40, 0]);
        let start = std::time::Instant::now();
        assert!(matches!(decode(&data), Err(JpegError::Truncated(_))));
        assert!(start.elapsed().as_secs() < 2);
    }

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Truncated and randomly mutated streams must decode or fail, never panic or hang.
    #[test]
    fn hostile_streams_never_panic() {
        let mut colour = Spec::new(24, 20, 8, &[(1, 2, 2), (2, 1, 1), (3, 1, 1)]);
        colour.restart = 2;
        colour.quant = 4;
        let mut grey = Spec::new(20, 12, 12, &[(1, 1, 1), (2, 1, 1)]);
        grey.interleaved = false;
        grey.restart = 3;
        let pattern = |c: usize, x: usize, y: usize| ((x * 7 + y * 13 + c * 50) % 200) as u16;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let (mut ok, mut failed) = (0, 0);
        for valid in [encode(&colour, &pattern), encode(&grey, &pattern)] {
            assert!(decode(&valid).is_ok());
            for len in 0..valid.len() {
                match decode(&valid[..len]) {
                    Ok(_) => ok += 1,
                    Err(_) => failed += 1,
                }
            }
            for _ in 0..400 {
                let mut data = valid.clone();
                for _ in 0..=xorshift(&mut state) % 4 {
                    let at = (xorshift(&mut state) % data.len() as u64) as usize;
                    let byte = xorshift(&mut state) as u8;
                    match xorshift(&mut state) % 5 {
                        0 | 1 => data[at] = byte,
                        2 => data[at] ^= 1 << (byte % 8),
                        3 => data.splice(at..at, [0xFF, byte]).for_each(drop),
                        _ => {
                            let end = (at + usize::from(byte % 16)).min(data.len());
                            data.drain(at..end);
                        }
                    }
                    if data.is_empty() {
                        break;
                    }
                }
                match decode(&data) {
                    Ok(d) => {
                        assert_eq!(
                            d.samples.len(),
                            d.width as usize * d.height as usize * d.components as usize
                        );
                        ok += 1;
                    }
                    Err(_) => failed += 1,
                }
            }
        }
        eprintln!("hostile streams: {ok} decoded, {failed} refused");
    }
}
