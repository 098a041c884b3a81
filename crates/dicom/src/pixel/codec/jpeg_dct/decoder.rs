//! The decoder state and the marker segments that fill it (frame header, tables, scan headers),
//! then the assembly of the decoded planes into the output image.

use super::huffman::{BitReader, HuffmanTable};
use super::scan::{decode_mcus, ScanComponent, ScanGeometry};
use super::upsample::upsample_into;
use super::{malformed, DecodedJpeg, JpegError, SOS, ZIGZAG};

/// Largest frame we decode, in samples (width × height × components): 512 MiB of `u16`.
const MAX_SAMPLES: u64 = 1 << 28;

/// One image component of the frame and its decoded samples.
pub(super) struct Component {
    id: u8,
    /// Sampling factors.
    pub(super) h: usize,
    pub(super) v: usize,
    /// Quantization table selector.
    tq: usize,
    /// Size in samples of this component's share of the image (T.81 A.1.1).
    pub(super) width: usize,
    pub(super) height: usize,
    /// Size of the plane in blocks: whole MCUs, as interleaved scans code them.
    pub(super) blocks_w: usize,
    blocks_h: usize,
    /// Decoded samples, `blocks_w * 8` per row; empty until a scan codes this component.
    pub(super) plane: Vec<u16>,
}

pub(super) struct Frame {
    pub(super) precision: u8,
    pub(super) width: u16,
    pub(super) height: u16,
    pub(super) h_max: usize,
    pub(super) v_max: usize,
    /// MCUs per row and column of an interleaved scan.
    mcus_x: usize,
    mcus_y: usize,
    pub(super) components: Vec<Component>,
}

pub(super) struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
    frame: Option<Frame>,
    quant: [Option<[u16; 64]>; 4],
    dc_tables: [Option<Box<HuffmanTable>>; 4],
    ac_tables: [Option<Box<HuffmanTable>>; 4],
    /// MCUs per restart interval, 0 when restart markers are not used.
    pub(super) restart_interval: usize,
    pub(super) jfif: bool,
    pub(super) adobe_transform: Option<u8>,
}

impl<'a> Decoder<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
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
    pub(super) fn next_marker(&mut self) -> Option<u8> {
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
    pub(super) fn take_segment(&mut self, name: &'static str) -> Result<&'a [u8], JpegError> {
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

    pub(super) fn read_frame(&mut self, seg: &[u8]) -> Result<(), JpegError> {
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

    pub(super) fn read_quant_tables(&mut self, seg: &[u8]) -> Result<(), JpegError> {
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

    pub(super) fn read_huffman_tables(&mut self, seg: &[u8]) -> Result<(), JpegError> {
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
    pub(super) fn read_scan(&mut self, seg: &[u8]) -> Result<(), JpegError> {
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
    pub(super) fn finish(self) -> Result<DecodedJpeg, JpegError> {
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
