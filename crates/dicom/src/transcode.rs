//! Re-encoding an instance's data set in a native little endian transfer syntax (Explicit or
//! Implicit VR Little Endian), decompressing its pixel data: what a sender does when the peer
//! accepts a SOP class only uncompressed.
//!
//! Every element is re-encoded (big endian values swapped, sequences written with undefined
//! lengths, group lengths left out since their values no longer hold), and encapsulated pixel
//! data is decoded with the renderer's decoders into native samples at the original Bits
//! Allocated, interleaved (Planar Configuration 0), with the attributes that describe them made
//! consistent. The output goes to any `Write` one element at a time: values the reader left in
//! the source are copied in chunks and pixel data is decoded one frame at a time, so a large
//! multi-frame is never held whole.

use super::dataset::{DataSet, Element, Span, Value};
use super::dictionary;
use super::parse::{self, ByteSource, FileSource, ParseError, ReadMode};
use super::tag::{self, Tag};
use super::transfer_syntax::{self, Encoding, PixelEncoding};
use super::vr::Vr;
use crate::deid::pixels::{blank_frame, Geometry, Rect};
use crate::pixel::codec;
use crate::pixel::frame::{EncapsulatedFrames, ImageInfo, RawFrame};
use crate::pixel::PixelError;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

const UNDEFINED_LENGTH: u32 = 0xFFFF_FFFF;
/// Values left in the source are copied this many bytes at a time (a multiple of every swap unit).
const CHUNK: usize = 256 << 10;
const EXTENDED_OFFSET_TABLE: Tag = Tag(0x7FE0, 0x0001);
const EXTENDED_OFFSET_TABLE_LENGTHS: Tag = Tag(0x7FE0, 0x0002);
const LOSSY_IMAGE_COMPRESSION: Tag = Tag(0x0028, 0x2110);
const LOSSY_IMAGE_COMPRESSION_METHOD: Tag = Tag(0x0028, 0x2114);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TranscodeError {
    #[error("Lightbox has no decoder for {name} ({uid})")]
    NoDecoder { name: &'static str, uid: String },
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Pixels(#[from] PixelError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// What a transcoding wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcoded {
    pub transfer_syntax: &'static str,
    /// Frames decoded from encapsulated pixel data (0 when there was none to decode).
    pub frames_decoded: usize,
    /// The data set's length in bytes.
    pub length: u64,
}

/// Writes the data set of the DICOM file at `path` to `out` in `transfer_syntax` (Explicit or
/// Implicit VR Little Endian), without preamble or file meta information: a C-STORE data set.
pub fn to_native(
    path: &Path,
    transfer_syntax: &str,
    out: &mut dyn Write,
) -> Result<Transcoded, TranscodeError> {
    to_native_changed(path, transfer_syntax, None, &[], out)
}

/// As [`to_native`], writing `dataset` (the file's own, as changed) instead of the file's, with
/// `blank`'s rectangles blanked in every frame (what de-identification does to burned-in text).
pub fn to_native_changed(
    path: &Path,
    transfer_syntax: &str,
    dataset: Option<&DataSet>,
    blank: &[Rect],
    out: &mut dyn Write,
) -> Result<Transcoded, TranscodeError> {
    let (target, explicit) = match transfer_syntax {
        transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN => {
            (transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN, true)
        }
        transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN => {
            (transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN, false)
        }
        other => {
            return Err(TranscodeError::Invalid(format!(
                "{other} is not a native little endian transfer syntax"
            )))
        }
    };
    let file = parse::read_file(path, ReadMode::Full)?;
    let ds = dataset.unwrap_or(&file.dataset);
    let mut decoding = match ds.get(tag::PIXEL_DATA).map(|e| &e.value) {
        Some(Value::Encapsulated {
            offset_table,
            fragments,
        }) => Some(Decoding::start(
            path,
            &file.transfer_syntax,
            ds,
            *offset_table,
            fragments.clone(),
            blank,
        )?),
        _ => None,
    };
    let replaced: Vec<(Tag, Vr, Vec<u8>)> = decoding
        .as_ref()
        .map(|d| d.attributes.clone())
        .unwrap_or_default();
    let mut entries: Vec<Entry> = ds
        .elements
        .iter()
        // Group lengths would have to be recomputed; they are retired, so they are left out.
        .filter(|e| e.tag.1 != 0x0000)
        .filter(|e| !replaced.iter().any(|(t, ..)| *t == e.tag))
        .filter_map(|e| match (&decoding, e.tag) {
            (Some(_), tag::PIXEL_DATA) => Some(Entry::DecodedPixels),
            // They index the fragments, which are gone.
            (Some(_), EXTENDED_OFFSET_TABLE | EXTENDED_OFFSET_TABLE_LENGTHS) => None,
            _ => Some(Entry::Element(e)),
        })
        .collect();
    entries.extend(
        replaced
            .into_iter()
            .map(|(tag, vr, value)| Entry::New(tag, vr, value)),
    );
    entries.sort_by_key(Entry::tag);

    let source = Source::of(&file, path)?;
    let mut writer = Writer {
        out,
        explicit,
        source,
        big_endian: file.encoding.big_endian,
        written: 0,
    };
    for entry in &entries {
        match entry {
            Entry::Element(e) if e.tag == tag::PIXEL_DATA && !blank.is_empty() => {
                blank_native(&mut writer, e, ds, blank)?
            }
            Entry::Element(e) if e.tag == tag::PIXEL_DATA => {
                writer.element(e, Some(pixel_swap_unit(ds, e.vr)))?
            }
            Entry::Element(e) => writer.element(e, None)?,
            Entry::New(tag, vr, value) => writer.bytes(*tag, *vr, value, None)?,
            Entry::DecodedPixels => {
                if let Some(d) = decoding.as_mut() {
                    d.write(&mut writer)?
                }
            }
        }
    }
    Ok(Transcoded {
        transfer_syntax: target,
        frames_decoded: decoding.map_or(0, |d| d.frames.info().frames),
        length: writer.written,
    })
}

/// Native pixel data written frame by frame, each with the rectangles blanked.
fn blank_native(
    writer: &mut Writer,
    e: &Element,
    ds: &DataSet,
    blank: &[Rect],
) -> Result<(), TranscodeError> {
    let info = ImageInfo::read(ds, false)?;
    if info.bits_allocated % 8 != 0 {
        return Err(TranscodeError::Invalid(format!(
            "{}-bit samples cannot be blanked",
            info.bits_allocated
        )));
    }
    let geometry = Geometry {
        rows: info.rows,
        columns: info.columns,
        samples: info.samples,
        bytes_per_sample: info.bits_allocated / 8,
        planar: info.planar,
        photometric: info.photometric.clone(),
        signed: info.signed,
        bits_stored: info.bits_stored,
    };
    let frame_len = geometry.frame_len();
    let total = frame_len as u64 * info.frames as u64;
    let (offset, length, in_memory) = match &e.value {
        Value::Deferred(span) => (span.offset, span.length, None),
        Value::Bytes(bytes) => (0, bytes.len() as u64, Some(bytes)),
        _ => {
            return Err(TranscodeError::Invalid(
                "pixel data of no known layout".into(),
            ))
        }
    };
    if length < total || total + total % 2 >= UNDEFINED_LENGTH as u64 {
        return Err(TranscodeError::Invalid(format!(
            "pixel data holds {length} bytes, {} frames need {total}",
            info.frames
        )));
    }
    writer.header(tag::PIXEL_DATA, e.vr, (total + total % 2) as u32)?;
    let unit = pixel_swap_unit(ds, e.vr);
    for index in 0..info.frames as u64 {
        let start = index * frame_len as u64;
        let mut frame = match in_memory {
            Some(bytes) => bytes[start as usize..start as usize + frame_len].to_vec(),
            None => writer.source.read(offset + start, frame_len)?.to_vec(),
        };
        if writer.big_endian {
            swap(&mut frame, unit);
        }
        blank_frame(&mut frame, &geometry, blank);
        writer.put(&frame)?;
    }
    if total % 2 == 1 {
        writer.put(&[0])?;
    }
    Ok(())
}

/// Big endian native pixel data holds samples of Bits Allocated (8-bit ones in 16-bit OW words).
pub(crate) fn pixel_swap_unit(ds: &DataSet, vr: Vr) -> usize {
    let bits_allocated = ds.int(tag::BITS_ALLOCATED).unwrap_or(16).clamp(8, 64) as usize;
    match vr {
        Vr::OB => 1,
        _ => (bits_allocated / 8).max(2),
    }
}

/// One top-level element of the output.
enum Entry<'a> {
    Element(&'a Element),
    /// An attribute the decoding sets or replaces.
    New(Tag, Vr, Vec<u8>),
    DecodedPixels,
}

impl Entry<'_> {
    fn tag(&self) -> Tag {
        match self {
            Entry::Element(e) => e.tag,
            Entry::New(tag, ..) => *tag,
            Entry::DecodedPixels => tag::PIXEL_DATA,
        }
    }
}

/// Where values the reader left in place live: the file, or a deflated file's inflated body.
pub(crate) enum Source {
    File(FileSource),
    Inflated(Arc<Vec<u8>>),
}

impl Source {
    pub(crate) fn of(file: &parse::DicomFile, path: &Path) -> io::Result<Source> {
        Ok(match &file.inflated {
            Some(body) => Source::Inflated(body.clone()),
            None => Source::File(FileSource::open(path)?),
        })
    }

    pub(crate) fn read(&mut self, offset: u64, len: usize) -> io::Result<&[u8]> {
        match self {
            Source::File(file) => {
                if offset + len as u64 > file.len() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                file.bytes(offset, len)
            }
            Source::Inflated(body) => body
                .get(offset as usize..offset as usize + len)
                .ok_or_else(|| io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

pub(crate) struct Writer<'w> {
    pub(crate) out: &'w mut dyn Write,
    pub(crate) explicit: bool,
    pub(crate) source: Source,
    /// The source's byte order: its multi-byte binary values are swapped on the way out.
    pub(crate) big_endian: bool,
    pub(crate) written: u64,
}

/// The size of the units a VR's binary value is made of (what a change of byte order swaps).
fn swap_unit(vr: Vr) -> usize {
    match vr {
        Vr::AT | Vr::US | Vr::SS | Vr::OW => 2,
        Vr::UL | Vr::SL | Vr::FL | Vr::OF | Vr::OL => 4,
        Vr::FD | Vr::OD | Vr::SV | Vr::UV | Vr::OV => 8,
        _ => 1,
    }
}

fn swap(bytes: &mut [u8], unit: usize) {
    if unit > 1 {
        for chunk in bytes.chunks_exact_mut(unit) {
            chunk.reverse();
        }
    }
}

/// Values have even lengths: text is padded with a space (UI with NUL), anything else with NUL.
fn padding(vr: Vr) -> u8 {
    if vr.is_string() && vr != Vr::UI {
        b' '
    } else {
        0
    }
}

impl Writer<'_> {
    pub(crate) fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    pub(crate) fn header(&mut self, tag: Tag, vr: Vr, length: u32) -> io::Result<()> {
        let mut h = Vec::with_capacity(12);
        h.extend_from_slice(&tag.0.to_le_bytes());
        h.extend_from_slice(&tag.1.to_le_bytes());
        if self.explicit {
            // A value too long for a short VR's 16-bit length can only be written as UN.
            let vr = if !vr.has_long_length() && length > 0xFFFF {
                Vr::UN
            } else {
                vr
            };
            h.extend_from_slice(vr.as_str().as_bytes());
            if vr.has_long_length() {
                h.extend_from_slice(&[0, 0]);
                h.extend_from_slice(&length.to_le_bytes());
            } else {
                h.extend_from_slice(&(length as u16).to_le_bytes());
            }
        } else {
            h.extend_from_slice(&length.to_le_bytes());
        }
        self.put(&h)
    }

    /// Items and delimiters: tag and length in every encoding, never a VR.
    pub(crate) fn item_header(&mut self, tag: Tag, length: u32) -> io::Result<()> {
        let mut h = [0u8; 8];
        h[0..2].copy_from_slice(&tag.0.to_le_bytes());
        h[2..4].copy_from_slice(&tag.1.to_le_bytes());
        h[4..8].copy_from_slice(&length.to_le_bytes());
        self.put(&h)
    }

    /// `unit`: the swap unit when it is not the VR's (native pixel data).
    pub(crate) fn element(
        &mut self,
        e: &Element,
        unit: Option<usize>,
    ) -> Result<(), TranscodeError> {
        let vr = self.known_vr(e);
        match &e.value {
            Value::Bytes(bytes) if vr == Vr::SQ => match un_sequence(e.tag, bytes) {
                Some(items) => self.sequence(e.tag, &items)?,
                // Not the sequence the dictionary promises: kept as the opaque bytes it was.
                None => self.bytes(e.tag, Vr::UN, bytes, unit)?,
            },
            Value::Bytes(bytes) => self.bytes(e.tag, vr, bytes, unit)?,
            Value::Deferred(span) if vr == Vr::SQ => self.deferred(e.tag, Vr::UN, *span, unit)?,
            Value::Deferred(span) => self.deferred(e.tag, vr, *span, unit)?,
            Value::Sequence(items) => self.sequence(e.tag, items)?,
            Value::Encapsulated { .. } => {
                return Err(TranscodeError::Invalid(format!(
                    "encapsulated value in {} outside the top-level pixel data",
                    e.tag
                )))
            }
        }
        Ok(())
    }

    /// The VR to write `e` with. A UN element of an attribute the dictionary knows takes the
    /// dictionary's VR, as pydicom and DCMTK read it (peers may not look inside UN: DCMTK finds
    /// no SOP Class UID written as UN); its value is implicit VR little endian (PS3.5 6.2.2),
    /// which is what a little endian source holds. A big endian source's UN bytes are of no
    /// certain byte order, so they stay UN.
    fn known_vr(&self, e: &Element) -> Vr {
        if e.vr != Vr::UN || self.big_endian {
            return e.vr;
        }
        dictionary::implicit_vr(e.tag)
    }

    /// Sequences and their items are written with undefined lengths: nothing needs measuring.
    fn sequence(&mut self, tag: Tag, items: &[DataSet]) -> Result<(), TranscodeError> {
        self.header(tag, Vr::SQ, UNDEFINED_LENGTH)?;
        for item in items {
            self.item_header(tag::ITEM, UNDEFINED_LENGTH)?;
            self.dataset(item)?;
            self.item_header(tag::ITEM_DELIMITATION, 0)?;
        }
        self.item_header(tag::SEQUENCE_DELIMITATION, 0)?;
        Ok(())
    }

    fn dataset(&mut self, ds: &DataSet) -> Result<(), TranscodeError> {
        for e in ds.elements.iter().filter(|e| e.tag.1 != 0x0000) {
            self.element(e, None)?;
        }
        Ok(())
    }

    fn bytes(
        &mut self,
        tag: Tag,
        vr: Vr,
        value: &[u8],
        unit: Option<usize>,
    ) -> Result<(), TranscodeError> {
        let mut value = value.to_vec();
        if self.big_endian {
            swap(&mut value, unit.unwrap_or_else(|| swap_unit(vr)));
        }
        if value.len() % 2 == 1 {
            value.push(padding(vr));
        }
        let length = u32::try_from(value.len())
            .ok()
            .filter(|l| *l != UNDEFINED_LENGTH)
            .ok_or_else(|| TranscodeError::Invalid(format!("{tag} is too long")))?;
        self.header(tag, vr, length)?;
        self.put(&value)?;
        Ok(())
    }

    /// Copies a value the reader left in the source, a chunk at a time.
    fn deferred(
        &mut self,
        tag: Tag,
        vr: Vr,
        span: Span,
        unit: Option<usize>,
    ) -> Result<(), TranscodeError> {
        let padded = span.length + span.length % 2;
        let length = u32::try_from(padded)
            .ok()
            .filter(|l| *l != UNDEFINED_LENGTH)
            .ok_or_else(|| TranscodeError::Invalid(format!("{tag} has no defined length")))?;
        self.header(tag, vr, length)?;
        let unit = unit.unwrap_or_else(|| swap_unit(vr));
        let mut done = 0u64;
        while done < span.length {
            let n = (span.length - done).min(CHUNK as u64) as usize;
            let mut chunk = self.source.read(span.offset + done, n)?.to_vec();
            if self.big_endian {
                swap(&mut chunk, unit);
            }
            self.put(&chunk)?;
            done += n as u64;
        }
        if span.length % 2 == 1 {
            self.put(&[padding(vr)])?;
        }
        Ok(())
    }
}

/// The items of a sequence stored as UN with a defined length (implicit VR little endian,
/// PS3.5 6.2.2), read by the bounded parser: the value is wrapped in an implicit VR element of
/// its own tag, which the dictionary says is a sequence.
fn un_sequence(tag: Tag, value: &[u8]) -> Option<Vec<DataSet>> {
    let length = u32::try_from(value.len()).ok()?;
    let mut wrapped = Vec::with_capacity(value.len() + 8);
    wrapped.extend_from_slice(&tag.0.to_le_bytes());
    wrapped.extend_from_slice(&tag.1.to_le_bytes());
    wrapped.extend_from_slice(&length.to_le_bytes());
    wrapped.extend_from_slice(value);
    let mut ds = parse::read_dataset(&wrapped, Encoding::IMPLICIT_LE).ok()?;
    match ds.elements.pop()?.value {
        Value::Sequence(items) if ds.elements.is_empty() => Some(items),
        _ => None,
    }
}

/// Decoding encapsulated pixel data: the frames located, the first one decoded (its output says
/// what the attributes become), the others decoded as they are written.
struct Decoding {
    frames: EncapsulatedFrames,
    first: Vec<u8>,
    /// Whether the decoder converted colour to RGB, which every frame must agree on.
    rgb: bool,
    bytes_per_sample: usize,
    frame_len: usize,
    vr: Vr,
    /// Attributes set or replaced to describe the decoded pixel data.
    attributes: Vec<(Tag, Vr, Vec<u8>)>,
    /// Rectangles blanked in every frame, and the decoded frames' geometry.
    blank: Vec<Rect>,
    geometry: Geometry,
}

impl Decoding {
    fn start(
        path: &Path,
        transfer_syntax: &str,
        ds: &DataSet,
        offset_table: Span,
        fragments: Vec<Span>,
        blank: &[Rect],
    ) -> Result<Decoding, TranscodeError> {
        let encoding = transfer_syntax::pixel_encoding(transfer_syntax);
        if matches!(encoding, PixelEncoding::Native | PixelEncoding::Unsupported) {
            return Err(TranscodeError::NoDecoder {
                name: transfer_syntax::name(transfer_syntax),
                uid: transfer_syntax.to_string(),
            });
        }
        let info = ImageInfo::read(ds, false)?;
        if info.bits_allocated % 8 != 0 {
            return Err(TranscodeError::Invalid(format!(
                "Bits Allocated {} cannot hold decoded samples",
                info.bits_allocated
            )));
        }
        let bytes_per_sample = info.bits_allocated / 8;
        // ImageInfo bounds a frame's samples, so this cannot overflow.
        let frame_len = info.pixels() * info.samples * bytes_per_sample;
        (frame_len as u64)
            .checked_mul(info.frames as u64)
            .filter(|total| total + total % 2 < UNDEFINED_LENGTH as u64)
            .ok_or_else(|| {
                TranscodeError::Invalid(format!(
                    "{} decoded frames of {frame_len} bytes exceed what one element holds",
                    info.frames
                ))
            })?;
        let vr = if info.bits_allocated <= 8 {
            Vr::OB
        } else {
            Vr::OW
        };
        let mut frames = EncapsulatedFrames::new(
            Box::new(FileSource::open(path)?),
            info,
            encoding,
            offset_table,
            fragments,
        )?;
        let data = frames.frame_data(0)?;
        let raw = frames.decode_data(&data)?;
        let attributes = decoded_attributes(ds, frames.info(), &raw, transfer_syntax, &data);
        let rgb = raw.rgb;
        let signed = raw.info.signed || frames.info().signed;
        let photometric = attributes
            .iter()
            .find(|(t, ..)| *t == tag::PHOTOMETRIC_INTERPRETATION)
            .map(|(_, _, v)| String::from_utf8_lossy(v).trim().to_string())
            .unwrap_or_else(|| frames.info().photometric.clone());
        let geometry = Geometry {
            rows: frames.info().rows,
            columns: frames.info().columns,
            samples: frames.info().samples,
            bytes_per_sample,
            planar: false,
            photometric,
            signed,
            bits_stored: frames.info().bits_stored,
        };
        let mut first = native_frame(raw, bytes_per_sample, frame_len)?;
        blank_frame(&mut first, &geometry, blank);
        Ok(Decoding {
            frames,
            first,
            rgb,
            bytes_per_sample,
            frame_len,
            vr,
            attributes,
            blank: blank.to_vec(),
            geometry,
        })
    }

    fn write(&mut self, writer: &mut Writer) -> Result<(), TranscodeError> {
        let count = self.frames.info().frames;
        let total = self.frame_len as u64 * count as u64;
        writer.header(tag::PIXEL_DATA, self.vr, (total + total % 2) as u32)?;
        writer.put(&std::mem::take(&mut self.first))?;
        for index in 1..count {
            let raw = self.frames.decode(index)?;
            if raw.rgb != self.rgb {
                return Err(TranscodeError::Invalid(format!(
                    "frame {index} decodes to another colour space than frame 0"
                )));
            }
            let mut bytes = native_frame(raw, self.bytes_per_sample, self.frame_len)?;
            blank_frame(&mut bytes, &self.geometry, &self.blank);
            writer.put(&bytes)?;
        }
        if total % 2 == 1 {
            writer.put(&[0])?;
        }
        Ok(())
    }
}

/// A decoded frame as native pixel data: exactly `frame_len` bytes of little endian samples of
/// `bytes_per_sample` bytes (a decoder's narrower samples, such as 8-bit JPEG in 16-bit cells,
/// are widened with zero high bytes).
fn native_frame(
    raw: RawFrame,
    bytes_per_sample: usize,
    frame_len: usize,
) -> Result<Vec<u8>, TranscodeError> {
    let have = raw.bytes_per_sample;
    if have == bytes_per_sample && raw.bytes.len() >= frame_len {
        let mut bytes = raw.bytes;
        bytes.truncate(frame_len);
        return Ok(bytes);
    }
    if have > bytes_per_sample {
        return Err(TranscodeError::Invalid(format!(
            "the decoder gives {have}-byte samples, Bits Allocated is {}",
            bytes_per_sample * 8
        )));
    }
    let samples = frame_len / bytes_per_sample;
    if raw.bytes.len() < samples * have {
        return Err(TranscodeError::Invalid(format!(
            "the decoded frame holds {} bytes, {samples} samples need {}",
            raw.bytes.len(),
            samples * have
        )));
    }
    let mut out = vec![0u8; frame_len];
    for (cell, sample) in out
        .chunks_exact_mut(bytes_per_sample)
        .zip(raw.bytes.chunks_exact(have))
    {
        cell[..have].copy_from_slice(sample);
    }
    Ok(out)
}

fn text_value(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    if bytes.len() % 2 == 1 {
        bytes.push(b' ');
    }
    bytes
}

/// The attributes that change when the first frame `raw` (decoded from `data`) becomes native.
fn decoded_attributes(
    ds: &DataSet,
    info: &ImageInfo,
    raw: &RawFrame,
    transfer_syntax: &str,
    data: &[u8],
) -> Vec<(Tag, Vr, Vec<u8>)> {
    let mut set = Vec::new();
    // Decoders that convert colour give RGB; otherwise the components are as coded, at full
    // resolution, so YBR_FULL_422 (a native layout with shared chroma) becomes YBR_FULL.
    let photometric = if raw.rgb {
        "RGB"
    } else if info.photometric == "YBR_FULL_422" {
        "YBR_FULL"
    } else {
        info.photometric.as_str()
    };
    if photometric != info.photometric {
        set.push((
            tag::PHOTOMETRIC_INTERPRETATION,
            Vr::CS,
            text_value(photometric),
        ));
    }
    // Decoders interleave their output whatever the codestream's layout.
    if info.samples > 1 || ds.get(tag::PLANAR_CONFIGURATION).is_some() {
        set.push((
            tag::PLANAR_CONFIGURATION,
            Vr::US,
            0u16.to_le_bytes().to_vec(),
        ));
    }
    // A signed codestream under an unsigned data set holds two's complement samples (the renderer
    // reads them so): say so, or the native samples would read as large positive values.
    if raw.info.signed && !info.signed {
        set.push((
            tag::PIXEL_REPRESENTATION,
            Vr::US,
            1u16.to_le_bytes().to_vec(),
        ));
    }
    if ds.get(LOSSY_IMAGE_COMPRESSION).is_none() {
        if let Some(method) = lossy_method(transfer_syntax, data) {
            set.push((LOSSY_IMAGE_COMPRESSION, Vr::CS, text_value("01")));
            if ds.get(LOSSY_IMAGE_COMPRESSION_METHOD).is_none() {
                set.push((LOSSY_IMAGE_COMPRESSION_METHOD, Vr::CS, text_value(method)));
            }
        }
    }
    set
}

/// The lossy compression method (its defined term) if the source's compression lost
/// information, judged from the first frame where the transfer syntax allows both: JPEG-LS with
/// NEAR 0 is lossless, and JPEG 2000 is taken as lossless with the reversible 5-3 wavelet (as
/// GDCM does) and as lossy with the 9-7 one or when the codestream cannot be read.
fn lossy_method(transfer_syntax: &str, data: &[u8]) -> Option<&'static str> {
    let j2k_irreversible = || codec::j2k_coding_style(data).is_none_or(|s| !s.reversible);
    match transfer_syntax {
        "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51" => Some("ISO_10918_1"),
        "1.2.840.10008.1.2.4.81" => (jpeg_ls_near(data) != Some(0)).then_some("ISO_14495_1"),
        "1.2.840.10008.1.2.4.91" => j2k_irreversible().then_some("ISO_15444_1"),
        "1.2.840.10008.1.2.4.203" => j2k_irreversible().then_some("ISO_15444_15"),
        _ => None,
    }
}

/// The NEAR parameter of a JPEG-LS stream's first scan (0: lossless).
fn jpeg_ls_near(data: &[u8]) -> Option<u8> {
    codec::jpeg_ls::read_header(data).ok().map(|info| info.near)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_ls_near_is_read_from_the_first_scan() {
        // SOI, SOF55 (11 bytes), SOS with one component and NEAR 3.
        let mut stream = vec![0xFF, 0xD8, 0xFF, 0xF7, 0x00, 0x0B];
        stream.extend_from_slice(&[8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
        stream.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 3, 0, 0]);
        assert_eq!(jpeg_ls_near(&stream), Some(3));
        assert_eq!(jpeg_ls_near(&stream[..12]), None);
    }

    #[test]
    fn big_endian_units_are_swapped_by_vr() {
        let mut v = vec![1, 2, 3, 4, 5, 6, 7, 8];
        swap(&mut v, swap_unit(Vr::US));
        assert_eq!(v, [2, 1, 4, 3, 6, 5, 8, 7]);
        swap(&mut v, swap_unit(Vr::OB));
        assert_eq!(v, [2, 1, 4, 3, 6, 5, 8, 7]);
        let mut v = vec![1, 2, 3, 4, 5, 6, 7, 8];
        swap(&mut v, swap_unit(Vr::FD));
        assert_eq!(v, [8, 7, 6, 5, 4, 3, 2, 1]);
    }
}
