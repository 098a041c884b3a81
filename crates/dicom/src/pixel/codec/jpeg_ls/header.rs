//! Marker segments: SOF55, SOS, LSE, DRI and the ones that are skipped.

use super::{Error, Interleave};

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DNL: u8 = 0xDC;
const DRI: u8 = 0xDD;
const SOF55: u8 = 0xF7;
const LSE: u8 = 0xF8;
const APP8: u8 = 0xE8;

/// Most components this decoder handles (T.87 allows 255, DICOM uses 1 or 3).
pub(crate) const MAX_COMPONENTS: usize = 4;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub width: u32,
    pub height: u32,
    pub bits: u8,
    pub count: usize,
    pub ids: [u8; MAX_COMPONENTS],
}

/// LSE type 1 values; zero means "use the default".
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Preset {
    pub maxval: u16,
    pub t1: u16,
    pub t2: u16,
    pub t3: u16,
    pub reset: u16,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanHeader {
    /// Frame component indices coded in this scan, in coding order.
    pub comps: [usize; MAX_COMPONENTS],
    pub count: usize,
    pub near: u8,
    pub interleave: Interleave,
}

pub(crate) enum Event {
    /// An SOS segment was read; its entropy-coded data starts at the parser position.
    Scan(ScanHeader),
    /// The EOI marker.
    End,
    /// The data ended without EOI.
    Eof,
}

pub(crate) struct Parser<'a> {
    data: &'a [u8],
    pub pos: usize,
    frame: Option<Frame>,
    /// Dimensions from an LSE type 4 segment, used where SOF55 says 0.
    oversize: Option<(u32, u32)>,
    pub preset: Preset,
    pub restart_interval: u32,
}

fn be(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |v, &b| (v << 8) | u32::from(b))
}

impl<'a> Parser<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Result<Self, Error> {
        if data.len() < 2 || data[0] != 0xFF || data[1] != SOI {
            return Err(Error::NotJpegLs);
        }
        Ok(Parser {
            data,
            pos: 2,
            frame: None,
            oversize: None,
            preset: Preset::default(),
            restart_interval: 0,
        })
    }

    /// The frame with any oversize dimensions applied; only valid once a scan was seen.
    pub(crate) fn frame(&self) -> Result<Frame, Error> {
        let mut f = self
            .frame
            .ok_or(Error::Invalid("scan before frame header"))?;
        if let Some((w, h)) = self.oversize {
            if f.width == 0 {
                f.width = w;
            }
            if f.height == 0 {
                f.height = h;
            }
        }
        if f.height == 0 {
            return Err(Error::Unsupported("height defined by a DNL marker"));
        }
        if f.width == 0 {
            return Err(Error::Invalid("image width is zero"));
        }
        Ok(f)
    }

    /// Reads segments up to the next SOS (whose header is parsed) or EOI.
    pub(crate) fn next_event(&mut self) -> Result<Event, Error> {
        loop {
            let marker = match self.next_marker()? {
                Some(m) => m,
                None => return Ok(Event::Eof),
            };
            match marker {
                EOI => return Ok(Event::End),
                // A SPIFF end-of-directory entry is followed by a second SOI.
                SOI => {}
                0xD0..=0xD7 => return Err(Error::Invalid("restart marker outside a scan")),
                SOS => {
                    let body = self.segment()?;
                    return self.scan_header(body).map(Event::Scan);
                }
                SOF55 => {
                    let body = self.segment()?;
                    self.frame_header(body)?;
                }
                LSE => {
                    let body = self.segment()?;
                    self.preset_segment(body)?;
                }
                DRI => {
                    let body = self.segment()?;
                    if body.is_empty() || body.len() > 4 {
                        return Err(Error::Invalid("DRI segment length"));
                    }
                    self.restart_interval = be(body);
                }
                APP8 => {
                    let body = self.segment()?;
                    if body.len() >= 5 && &body[..4] == b"mrfx" && body[4] != 0 {
                        return Err(Error::Unsupported("HP colour transform (APP8 mrfx)"));
                    }
                }
                DNL => return Err(Error::Unsupported("DNL marker")),
                // Other frame types: baseline/progressive/lossless JPEG, not JPEG-LS.
                0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                    return Err(Error::NotJpegLs)
                }
                // APPn, COM and anything else with a length field: skipped.
                _ => {
                    self.segment()?;
                }
            }
        }
    }

    /// Skips 0xFF fill bytes and returns the marker code, or `None` at end of data.
    fn next_marker(&mut self) -> Result<Option<u8>, Error> {
        match self.data.get(self.pos) {
            None => return Ok(None),
            Some(0xFF) => {}
            Some(_) => return Err(Error::Invalid("expected a marker")),
        }
        while self.data.get(self.pos) == Some(&0xFF) {
            self.pos += 1;
        }
        match self.data.get(self.pos) {
            None => Ok(None),
            Some(0) => Err(Error::Invalid("expected a marker")),
            Some(&m) => {
                self.pos += 1;
                Ok(Some(m))
            }
        }
    }

    /// The body of the segment at the current position (after its length field).
    fn segment(&mut self) -> Result<&'a [u8], Error> {
        let len = match self.data.get(self.pos..self.pos + 2) {
            Some(b) => be(b) as usize,
            None => return Err(Error::Truncated),
        };
        if len < 2 {
            return Err(Error::Invalid("segment length below 2"));
        }
        let body = self
            .data
            .get(self.pos + 2..self.pos + len)
            .ok_or(Error::Truncated)?;
        self.pos += len;
        Ok(body)
    }

    fn frame_header(&mut self, b: &[u8]) -> Result<(), Error> {
        if self.frame.is_some() {
            return Err(Error::Invalid("second frame header"));
        }
        if b.len() < 6 {
            return Err(Error::Invalid("SOF55 segment too short"));
        }
        let bits = b[0];
        if !(2..=16).contains(&bits) {
            return Err(Error::Invalid("bits per sample outside 2..=16"));
        }
        let count = usize::from(b[5]);
        if count == 0 {
            return Err(Error::Invalid("frame without components"));
        }
        if count > MAX_COMPONENTS {
            return Err(Error::Unsupported("more than 4 components"));
        }
        if b.len() != 6 + 3 * count {
            return Err(Error::Invalid("SOF55 segment length"));
        }
        let mut ids = [0u8; MAX_COMPONENTS];
        for (i, c) in b[6..].chunks_exact(3).enumerate() {
            if ids[..i].contains(&c[0]) {
                return Err(Error::Invalid("duplicate component id"));
            }
            // Equal factors everywhere mean no subsampling, whatever their value.
            if c[1] != b[7] {
                return Err(Error::Unsupported("subsampled components"));
            }
            ids[i] = c[0];
        }
        self.frame = Some(Frame {
            width: be(&b[3..5]),
            height: be(&b[1..3]),
            bits,
            count,
            ids,
        });
        Ok(())
    }

    fn scan_header(&mut self, b: &[u8]) -> Result<ScanHeader, Error> {
        let frame = self.frame()?;
        let count = usize::from(*b.first().ok_or(Error::Invalid("SOS segment too short"))?);
        if count == 0 || count > frame.count {
            return Err(Error::Invalid("scan component count"));
        }
        if b.len() != 4 + 2 * count {
            return Err(Error::Invalid("SOS segment length"));
        }
        let mut comps = [0usize; MAX_COMPONENTS];
        for (i, c) in b[1..1 + 2 * count].chunks_exact(2).enumerate() {
            let idx = frame.ids[..frame.count]
                .iter()
                .position(|&id| id == c[0])
                .ok_or(Error::Invalid("scan names an unknown component"))?;
            if comps[..i].contains(&idx) {
                return Err(Error::Invalid("component twice in one scan"));
            }
            if c[1] != 0 {
                return Err(Error::Unsupported("mapping tables (palette)"));
            }
            comps[i] = idx;
        }
        let tail = &b[1 + 2 * count..];
        let (near, ilv, pt) = (tail[0], tail[1], tail[2]);
        if pt != 0 {
            return Err(Error::Unsupported("point transform"));
        }
        let interleave = match (ilv, count) {
            (_, 1) => Interleave::None,
            (1, _) => Interleave::Line,
            (2, _) => Interleave::Sample,
            (0, _) => return Err(Error::Invalid("several components without interleave")),
            _ => return Err(Error::Invalid("interleave mode")),
        };
        Ok(ScanHeader {
            comps,
            count,
            near,
            interleave,
        })
    }

    fn preset_segment(&mut self, b: &[u8]) -> Result<(), Error> {
        match b.first() {
            Some(1) => {
                if b.len() != 11 {
                    return Err(Error::Invalid("LSE type 1 length"));
                }
                let v = |i: usize| be(&b[1 + 2 * i..3 + 2 * i]) as u16;
                self.preset = Preset {
                    maxval: v(0),
                    t1: v(1),
                    t2: v(2),
                    t3: v(3),
                    reset: v(4),
                };
            }
            // Mapping tables are only refused when a scan refers to one.
            Some(2) | Some(3) => {}
            Some(4) => {
                let wxy = usize::from(*b.get(1).ok_or(Error::Invalid("LSE type 4 length"))?);
                if !(2..=4).contains(&wxy) || b.len() != 2 + 2 * wxy {
                    return Err(Error::Invalid("LSE type 4 length"));
                }
                let height = be(&b[2..2 + wxy]);
                let width = be(&b[2 + wxy..2 + 2 * wxy]);
                self.oversize = Some((width, height));
            }
            Some(_) => return Err(Error::Unsupported("LSE segment type")),
            None => return Err(Error::Invalid("empty LSE segment")),
        }
        Ok(())
    }
}
