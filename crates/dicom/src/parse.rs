//! A bounded DICOM reader.
//!
//! Every length read from the data is checked against the bytes that actually remain before
//! anything is allocated or skipped, so a hostile file can only make the reader allocate what the
//! file itself holds. Large values (pixel data, bulk data) are left in the source and described by
//! their position, which is what lets the index read a header without reading the pixels, and the
//! renderer read one frame of a large multi-frame.

use super::charset::SpecificCharacterSet;
use super::dataset::{DataSet, Element, Span, Value};
use super::dictionary;
use super::tag::{self, Tag};
use super::transfer_syntax::{self, Encoding};
use super::values::{u16_of, u32_of};
use super::vr::Vr;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

const UNDEFINED_LENGTH: u32 = 0xFFFF_FFFF;
/// Sequences nested deeper than this are refused (real data stays far below; recursion is bounded).
const MAX_DEPTH: usize = 32;
/// Elements per file; bounds the memory a file of many tiny elements can cost.
const MAX_ELEMENTS: usize = 500_000;
/// A deflated data set may not inflate beyond this.
const MAX_INFLATED: u64 = 64 << 20;
/// In header mode, values larger than this stay in the file (LUTs up to 64k 16-bit entries fit).
const HEADER_MAX_LOADED_VALUE: u64 = 256 << 10;
/// In full mode, binary values larger than this stay in the file (they are bulk data to a reader).
const FULL_MAX_LOADED_BINARY: u64 = 1 << 20;

/// What the reader keeps in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Stop at the top-level pixel data; leave values over 256 KiB in the source.
    Header,
    /// Read to the end; leave pixel data and binary values over 1 MiB in the source.
    Full,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("not a DICOM file: {0}")]
    NotDicom(&'static str),
    #[error("truncated: element {tag} needs {needed} bytes at byte {at}, but the data ends at byte {available}")]
    Truncated {
        tag: Tag,
        at: u64,
        needed: u64,
        available: u64,
    },
    #[error(
        "truncated: element {tag} at byte {at} claims {length} bytes, but only {remaining} remain"
    )]
    LengthExceedsData {
        tag: Tag,
        at: u64,
        length: u64,
        remaining: u64,
    },
    #[error("element {tag} at byte {at}: {reason}")]
    Malformed { tag: Tag, at: u64, reason: String },
    #[error("sequences nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("deflated data set: {0}")]
    Deflate(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Random access to the bytes being parsed.
pub trait ByteSource {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes `[pos, pos + n)`; callers check the range lies within `len()` first.
    fn bytes(&mut self, pos: u64, n: usize) -> io::Result<&[u8]>;
}

/// A byte source of any kind, owned: a file, or ranges fetched from elsewhere (an object store)
/// by whoever implements [`ByteSource`] for them.
pub type SharedSource = Box<dyn ByteSource + Send>;

impl<T: ByteSource + ?Sized> ByteSource for Box<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn bytes(&mut self, pos: u64, n: usize) -> io::Result<&[u8]> {
        (**self).bytes(pos, n)
    }
}

impl ByteSource for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn bytes(&mut self, pos: u64, n: usize) -> io::Result<&[u8]> {
        let start = pos as usize;
        self.get(start..start + n)
            .ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
    }
}

/// A file read through a window, so a header costs one or two reads however large the file.
pub struct FileSource {
    file: File,
    len: u64,
    window: Vec<u8>,
    window_start: u64,
}

const WINDOW: usize = 32 << 10;

impl FileSource {
    pub fn open(path: &Path) -> io::Result<FileSource> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource {
            file,
            len,
            window: Vec::new(),
            window_start: 0,
        })
    }

    pub fn into_file(self) -> File {
        self.file
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn bytes(&mut self, pos: u64, n: usize) -> io::Result<&[u8]> {
        let in_window = pos >= self.window_start
            && pos + n as u64 <= self.window_start + self.window.len() as u64;
        if !in_window {
            let want = (n.max(WINDOW) as u64).min(self.len.saturating_sub(pos)) as usize;
            if want < n {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.window.resize(want, 0);
            self.file.read_exact_at(&mut self.window, pos)?;
            self.window_start = pos;
        }
        let start = (pos - self.window_start) as usize;
        Ok(&self.window[start..start + n])
    }
}

/// A parsed DICOM stream.
#[derive(Debug)]
pub struct DicomFile {
    /// File meta information (group 0002); empty when the file has none.
    pub meta: DataSet,
    /// The transfer syntax the data set was read with.
    pub transfer_syntax: String,
    /// True when the file did not state its transfer syntax and it was inferred.
    pub transfer_syntax_inferred: bool,
    /// How the data set was actually encoded (it can disagree with a stated transfer syntax).
    pub encoding: Encoding,
    /// Where the data set starts in the file (after preamble and file meta).
    pub dataset_offset: u64,
    pub dataset: DataSet,
    /// For deflated files, the inflated data set: spans then refer to it rather than to the file.
    pub inflated: Option<Arc<Vec<u8>>>,
    pub source_len: u64,
}

impl DicomFile {
    pub fn pixel_data(&self) -> Option<&Element> {
        self.dataset.get(tag::PIXEL_DATA)
    }
}

pub fn read_file(path: &Path, mode: ReadMode) -> Result<DicomFile, ParseError> {
    let mut source = FileSource::open(path)?;
    parse(&mut source, mode)
}

pub fn read_bytes(bytes: &[u8], mode: ReadMode) -> Result<DicomFile, ParseError> {
    let mut source = bytes;
    parse(&mut source, mode)
}

pub fn parse<S: ByteSource>(src: &mut S, mode: ReadMode) -> Result<DicomFile, ParseError> {
    let len = src.len();
    if len < 8 {
        return Err(ParseError::NotDicom("shorter than one element"));
    }
    let mut pos = 0u64;
    let mut has_magic = false;
    if len >= 132 && src.bytes(128, 4)? == b"DICM" {
        pos = 132;
        has_magic = true;
    } else if src.bytes(0, 4)? == b"DICM" {
        pos = 4;
        has_magic = true;
    }

    let no_charset = Arc::new(SpecificCharacterSet::default());
    let mut reader = Reader {
        src,
        end: len,
        mode,
        elements: 0,
    };
    let mut meta = DataSet::new(no_charset.clone(), false);
    if pos + 8 <= len && u16_of(reader.src.bytes(pos, 2)?, false) == 0x0002 {
        pos = reader.read_meta(pos, &mut meta)?;
    }

    let stated = meta.text(tag::TRANSFER_SYNTAX_UID);
    let sniffed = reader.sniff_encoding(pos);
    if !has_magic && meta.elements.is_empty() && sniffed.is_none() {
        return Err(ParseError::NotDicom(
            "no 'DICM' marker and the bytes do not start a data set",
        ));
    }
    let (transfer_syntax, inferred, enc) = match (stated, sniffed) {
        (Some(ts), sniffed) => {
            let stated_enc = Encoding::of(&ts);
            match sniffed {
                // Some writers state explicit VR but write implicit VR (pydicom tolerates this
                // too); the transfer syntax still says how the pixel data is compressed.
                Some(actual)
                    if stated_enc.explicit_vr && !actual.explicit_vr && !stated_enc.deflated =>
                {
                    (ts, false, Encoding::IMPLICIT_LE)
                }
                _ => (ts, false, stated_enc),
            }
        }
        (None, Some(enc)) => (inferred_uid(enc).to_string(), true, enc),
        // A file that announced itself (preamble or meta) but whose first element has no valid VR
        // is implicit VR, whatever its group numbers look like.
        (None, None) => (
            transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN.to_string(),
            true,
            Encoding::IMPLICIT_LE,
        ),
    };

    if enc.deflated {
        let body = inflate(reader.src, pos, len)?;
        let mut body_src: &[u8] = &body;
        let mut body_reader = Reader {
            src: &mut body_src,
            end: body.len() as u64,
            mode,
            elements: 0,
        };
        let dataset = body_reader.read_top_level(0, enc, no_charset)?;
        return Ok(DicomFile {
            meta,
            transfer_syntax,
            transfer_syntax_inferred: inferred,
            encoding: enc,
            dataset_offset: pos,
            dataset,
            inflated: Some(Arc::new(body)),
            source_len: len,
        });
    }
    let dataset = reader.read_top_level(pos, enc, no_charset)?;
    Ok(DicomFile {
        meta,
        transfer_syntax,
        transfer_syntax_inferred: inferred,
        encoding: enc,
        dataset_offset: pos,
        dataset,
        inflated: None,
        source_len: len,
    })
}

fn inferred_uid(enc: Encoding) -> &'static str {
    match (enc.explicit_vr, enc.big_endian) {
        (false, _) => transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN,
        (true, false) => transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN,
        (true, true) => transfer_syntax::EXPLICIT_VR_BIG_ENDIAN,
    }
}

fn inflate<S: ByteSource>(src: &mut S, pos: u64, len: u64) -> Result<Vec<u8>, ParseError> {
    let compressed = src.bytes(pos, (len - pos) as usize)?;
    let mut out = Vec::new();
    let mut decoder = flate2::read::DeflateDecoder::new(compressed).take(MAX_INFLATED + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| ParseError::Deflate(e.to_string()))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(ParseError::Deflate(format!(
            "inflates beyond {} MiB",
            MAX_INFLATED >> 20
        )));
    }
    Ok(out)
}

struct Header {
    tag: Tag,
    vr: Vr,
    length: u32,
    /// Offset of the value's first byte.
    value_at: u64,
}

struct Reader<'s, S: ByteSource> {
    src: &'s mut S,
    end: u64,
    mode: ReadMode,
    elements: usize,
}

impl<S: ByteSource> Reader<'_, S> {
    fn take(&mut self, pos: u64, n: usize, tag: Tag) -> Result<&[u8], ParseError> {
        if pos + n as u64 > self.end {
            return Err(ParseError::Truncated {
                tag,
                at: pos,
                needed: n as u64,
                available: self.end,
            });
        }
        Ok(self.src.bytes(pos, n)?)
    }

    /// Guesses the encoding from the first element at `pos`: a valid VR in bytes 4–5 means
    /// explicit VR, and the byte order is the one that gives the smaller (plausible) group.
    fn sniff_encoding(&mut self, pos: u64) -> Option<Encoding> {
        if pos + 8 > self.end {
            return None;
        }
        let b = self.src.bytes(pos, 8).ok()?;
        let (group_le, group_be) = (
            u16::from_le_bytes([b[0], b[1]]),
            u16::from_be_bytes([b[0], b[1]]),
        );
        let vr_valid = Vr::from_bytes([b[4], b[5]]).is_some();
        let plausible = |g: u16| (0x0002..=0x00FF).contains(&g) || g == 0x7FE0 || g == 0x0800;
        if vr_valid && plausible(group_le.min(group_be)) {
            return Some(if group_be < group_le {
                Encoding::EXPLICIT_BE
            } else {
                Encoding::EXPLICIT_LE
            });
        }
        let length = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as u64;
        let implicit_ok = (0x0002..=0x00FF).contains(&group_le)
            && (length == UNDEFINED_LENGTH as u64 || pos + 8 + length <= self.end);
        implicit_ok.then_some(Encoding::IMPLICIT_LE)
    }

    /// Reads group 0002 (always explicit VR little endian, but tolerating implicit elements).
    fn read_meta(&mut self, mut pos: u64, meta: &mut DataSet) -> Result<u64, ParseError> {
        while pos + 8 <= self.end && u16_of(self.src.bytes(pos, 2)?, false) == 0x0002 {
            let vr_bytes = self.src.bytes(pos + 4, 2)?;
            let enc = if Vr::from_bytes([vr_bytes[0], vr_bytes[1]]).is_some() {
                Encoding::EXPLICIT_LE
            } else {
                Encoding::IMPLICIT_LE
            };
            let header = self.read_header(pos, enc)?;
            if header.length == UNDEFINED_LENGTH {
                return Err(ParseError::Malformed {
                    tag: header.tag,
                    at: pos,
                    reason: "undefined length in the file meta information".into(),
                });
            }
            self.check_fits(&header, self.end)?;
            let value = self
                .take(header.value_at, header.length as usize, header.tag)?
                .to_vec();
            meta.elements.push(Element {
                tag: header.tag,
                vr: header.vr,
                value: Value::Bytes(value),
            });
            pos = header.value_at + header.length as u64;
        }
        Ok(pos)
    }

    fn read_header(&mut self, pos: u64, enc: Encoding) -> Result<Header, ParseError> {
        let unknown = Tag(0xFFFF, 0xFFFF);
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(pos, 8, unknown)?);
        let be = enc.big_endian;
        let tag = Tag(u16_of(&b[0..2], be), u16_of(&b[2..4], be));
        // Items and delimiters carry no VR in any encoding.
        if tag.0 == 0xFFFE {
            return Ok(Header {
                tag,
                vr: Vr::UN,
                length: u32_of(&b[4..8], be),
                value_at: pos + 8,
            });
        }
        if !enc.explicit_vr {
            return Ok(Header {
                tag,
                vr: dictionary::implicit_vr(tag),
                length: u32_of(&b[4..8], be),
                value_at: pos + 8,
            });
        }
        let vr = Vr::from_bytes([b[4], b[5]]);
        match vr {
            Some(vr) if vr.has_long_length() => {
                let b = self.take(pos + 8, 4, tag)?;
                Ok(Header {
                    tag,
                    vr,
                    length: u32_of(b, be),
                    value_at: pos + 12,
                })
            }
            Some(vr) => Ok(Header {
                tag,
                vr,
                length: u16_of(&b[6..8], be) as u32,
                value_at: pos + 8,
            }),
            None => {
                // An unknown VR code: PS3.5 says to treat it as a long-form UN-like value; most
                // writers that do this use the short form, so trust whichever fits the data.
                let short = u16_of(&b[6..8], be) as u64;
                if pos + 8 + short <= self.end {
                    Ok(Header {
                        tag,
                        vr: Vr::UN,
                        length: short as u32,
                        value_at: pos + 8,
                    })
                } else {
                    Err(ParseError::Malformed {
                        tag,
                        at: pos,
                        reason: format!("invalid VR bytes {:02X} {:02X}", b[4], b[5]),
                    })
                }
            }
        }
    }

    fn check_fits(&self, header: &Header, limit: u64) -> Result<(), ParseError> {
        let remaining = limit.saturating_sub(header.value_at);
        if header.length as u64 > remaining {
            return Err(ParseError::LengthExceedsData {
                tag: header.tag,
                at: header.value_at,
                length: header.length as u64,
                remaining,
            });
        }
        Ok(())
    }

    fn count_element(&mut self) -> Result<(), ParseError> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(ParseError::TooManyElements);
        }
        Ok(())
    }

    fn read_top_level(
        &mut self,
        pos: u64,
        enc: Encoding,
        charset: Arc<SpecificCharacterSet>,
    ) -> Result<DataSet, ParseError> {
        let mut ds = DataSet::new(charset, enc.big_endian);
        self.read_elements(pos, self.end, enc, &mut ds, 0, true)?;
        Ok(ds)
    }

    /// Reads elements from `pos` until `limit`, or until an item delimitation when `limit` is
    /// `None`-like (u64::MAX). Returns the position after the last byte consumed.
    fn read_elements(
        &mut self,
        mut pos: u64,
        limit: u64,
        enc: Encoding,
        ds: &mut DataSet,
        depth: usize,
        top_level: bool,
    ) -> Result<u64, ParseError> {
        let delimited = limit == u64::MAX;
        let limit = limit.min(self.end);
        loop {
            if pos >= limit {
                if delimited {
                    return Err(ParseError::Truncated {
                        tag: tag::ITEM_DELIMITATION,
                        at: pos,
                        needed: 8,
                        available: self.end,
                    });
                }
                return Ok(pos);
            }
            if top_level && limit - pos < 8 {
                // Trailing padding shorter than an element header: harmless if it is zeros.
                let rest = self.src.bytes(pos, (limit - pos) as usize)?;
                if rest.iter().all(|&b| b == 0) {
                    return Ok(limit);
                }
            }
            let header = self.read_header(pos, enc)?;
            if header.tag == tag::ITEM_DELIMITATION {
                if delimited {
                    return Ok(header.value_at);
                }
                // A stray delimiter in a defined-length item: skip it, as other readers do.
                pos = header.value_at;
                continue;
            }
            self.count_element()?;
            if header.tag == tag::SPECIFIC_CHARACTER_SET {
                self.check_fits(&header, limit)?;
                let raw = self.take(header.value_at, header.length as usize, header.tag)?;
                let terms: Vec<String> = String::from_utf8_lossy(raw)
                    .split('\\')
                    .map(|t| t.trim().to_string())
                    .collect();
                ds.charset = Arc::new(SpecificCharacterSet::from_terms(&terms));
            }
            let is_pixel_data = top_level
                && matches!(
                    header.tag,
                    tag::PIXEL_DATA | tag::FLOAT_PIXEL_DATA | tag::DOUBLE_FLOAT_PIXEL_DATA
                );
            let (value, next) = self.read_value(&header, limit, enc, ds, depth, is_pixel_data)?;
            // An element read as a sequence is one, whatever VR its encoding claimed (UN, or a
            // private tag's implicit VR).
            let vr = if matches!(value, Value::Sequence(_)) {
                Vr::SQ
            } else {
                header.vr
            };
            ds.elements.push(Element {
                tag: header.tag,
                vr,
                value,
            });
            pos = next;
            if is_pixel_data && self.mode == ReadMode::Header {
                return Ok(pos);
            }
        }
    }

    fn read_value(
        &mut self,
        header: &Header,
        limit: u64,
        enc: Encoding,
        parent: &DataSet,
        depth: usize,
        is_pixel_data: bool,
    ) -> Result<(Value, u64), ParseError> {
        let at = header.value_at;
        if header.length == UNDEFINED_LENGTH {
            if is_pixel_data {
                if self.mode == ReadMode::Header {
                    // Fragments are located by the renderer when it needs them.
                    return Ok((
                        Value::Deferred(Span {
                            offset: at,
                            length: u64::MAX,
                        }),
                        self.end,
                    ));
                }
                return self.read_fragments(at, enc);
            }
            // An undefined length on anything else can only be a sequence; UN of undefined length
            // is an implicit VR little endian sequence (CP-246).
            let vr_says_sequence = matches!(header.vr, Vr::SQ | Vr::UN)
                || dictionary::implicit_vr(header.tag) == Vr::SQ;
            if !vr_says_sequence {
                return Err(ParseError::Malformed {
                    tag: header.tag,
                    at,
                    reason: format!("undefined length on VR {}", header.vr),
                });
            }
            let item_enc = if header.vr == Vr::UN {
                Encoding::IMPLICIT_LE
            } else {
                enc
            };
            let (items, next) = self.read_items(at, u64::MAX, item_enc, parent, depth)?;
            return Ok((Value::Sequence(items), next));
        }
        self.check_fits(header, limit)?;
        let length = header.length as u64;
        let end = at + length;
        if header.vr == Vr::SQ {
            let (items, next) = self.read_items(at, end, enc, parent, depth)?;
            return Ok((Value::Sequence(items), next));
        }
        let defer = is_pixel_data
            || match self.mode {
                ReadMode::Header => length > HEADER_MAX_LOADED_VALUE,
                ReadMode::Full => header.vr.is_binary() && length > FULL_MAX_LOADED_BINARY,
            };
        if defer {
            return Ok((Value::Deferred(Span { offset: at, length }), end));
        }
        let bytes = self.take(at, length as usize, header.tag)?.to_vec();
        Ok((Value::Bytes(bytes), end))
    }

    /// Reads sequence items from `pos` until `limit` or a sequence delimitation.
    fn read_items(
        &mut self,
        mut pos: u64,
        limit: u64,
        enc: Encoding,
        parent: &DataSet,
        depth: usize,
    ) -> Result<(Vec<DataSet>, u64), ParseError> {
        if depth >= MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        let delimited = limit == u64::MAX;
        let limit = limit.min(self.end);
        let mut items = Vec::new();
        loop {
            if pos >= limit {
                if delimited {
                    return Err(ParseError::Truncated {
                        tag: tag::SEQUENCE_DELIMITATION,
                        at: pos,
                        needed: 8,
                        available: self.end,
                    });
                }
                return Ok((items, pos));
            }
            let header = self.read_header(pos, enc)?;
            match header.tag {
                tag::SEQUENCE_DELIMITATION => return Ok((items, header.value_at)),
                tag::ITEM => {
                    self.count_element()?;
                    let mut item = DataSet::new(parent.charset.clone(), enc.big_endian);
                    pos = if header.length == UNDEFINED_LENGTH {
                        self.read_elements(
                            header.value_at,
                            u64::MAX,
                            enc,
                            &mut item,
                            depth + 1,
                            false,
                        )?
                    } else {
                        self.check_fits(&header, limit)?;
                        let end = header.value_at + header.length as u64;
                        self.read_elements(header.value_at, end, enc, &mut item, depth + 1, false)?;
                        end
                    };
                    items.push(item);
                }
                other => {
                    return Err(ParseError::Malformed {
                        tag: other,
                        at: pos,
                        reason: "expected a sequence item".into(),
                    })
                }
            }
        }
    }

    /// Locates the items of encapsulated pixel data without reading them.
    fn read_fragments(&mut self, pos: u64, enc: Encoding) -> Result<(Value, u64), ParseError> {
        let (offset_table, fragments, next) =
            locate_fragments(self.src, pos, self.end, enc.big_endian)?;
        Ok((
            Value::Encapsulated {
                offset_table,
                fragments,
            },
            next,
        ))
    }
}

/// Walks the items of encapsulated pixel data starting at `pos` (just after the pixel data
/// element header): returns the basic offset table, the fragments, and the position after the
/// sequence delimiter.
pub fn locate_fragments<S: ByteSource>(
    src: &mut S,
    mut pos: u64,
    end: u64,
    big_endian: bool,
) -> Result<(Span, Vec<Span>, u64), ParseError> {
    let mut offset_table = None;
    let mut fragments = Vec::new();
    loop {
        if pos + 8 > end {
            return Err(ParseError::Truncated {
                tag: tag::PIXEL_DATA,
                at: pos,
                needed: 8,
                available: end,
            });
        }
        let b = src.bytes(pos, 8)?;
        let item_tag = Tag(u16_of(&b[0..2], big_endian), u16_of(&b[2..4], big_endian));
        let length = u32_of(&b[4..8], big_endian) as u64;
        pos += 8;
        match item_tag {
            tag::SEQUENCE_DELIMITATION => break,
            tag::ITEM => {
                if length == UNDEFINED_LENGTH as u64 || length > end - pos {
                    return Err(ParseError::LengthExceedsData {
                        tag: tag::PIXEL_DATA,
                        at: pos,
                        length,
                        remaining: end - pos,
                    });
                }
                let span = Span {
                    offset: pos,
                    length,
                };
                if offset_table.is_none() {
                    offset_table = Some(span);
                } else {
                    fragments.push(span);
                }
                pos += length;
            }
            other => {
                return Err(ParseError::Malformed {
                    tag: tag::PIXEL_DATA,
                    at: pos - 8,
                    reason: format!("expected a pixel data item, found {other}"),
                })
            }
        }
    }
    let offset_table = offset_table.unwrap_or(Span {
        offset: pos,
        length: 0,
    });
    Ok((offset_table, fragments, pos))
}

/// Reads a bare data set (no preamble, no file meta) in a known encoding, such as a DIMSE
/// identifier or a network-received data set held in memory.
pub fn read_dataset(bytes: &[u8], encoding: Encoding) -> Result<DataSet, ParseError> {
    let mut src: &[u8] = bytes;
    let mut reader = Reader {
        src: &mut src,
        end: bytes.len() as u64,
        mode: ReadMode::Full,
        elements: 0,
    };
    reader.read_top_level(0, encoding, Arc::new(SpecificCharacterSet::default()))
}
