//! Locating, reading and decoding one frame's samples.

use super::budget::{reserve, Reservation};
use super::codec::{self, FrameGeometry};
use super::{FrameChoice, PixelError, Resolution};
use crate::parse::{locate_fragments, ByteSource, FileSource, SharedSource};
use crate::transfer_syntax::{self, PixelEncoding};
use crate::{tag, DataSet, DicomFile, Span, Value};
use std::path::Path;

/// A frame larger than this many samples is refused (2^28 ≈ 268 M samples, ~1 GB as f32).
const MAX_SAMPLES: usize = 1 << 28;

/// Image attributes the pipeline needs, validated.
#[derive(Clone, Debug)]
pub struct ImageInfo {
    pub rows: usize,
    pub columns: usize,
    pub samples: usize,
    pub bits_allocated: usize,
    pub bits_stored: usize,
    pub signed: bool,
    pub photometric: String,
    pub planar: bool,
    pub frames: usize,
    pub float: bool,
}

impl ImageInfo {
    pub fn read(ds: &DataSet, float: bool) -> Result<ImageInfo, PixelError> {
        let get = |t, name: &str| -> Result<usize, PixelError> {
            ds.int(t)
                .filter(|v| *v > 0)
                .map(|v| v as usize)
                .ok_or_else(|| PixelError::Invalid(format!("missing or zero {name}")))
        };
        let rows = get(tag::ROWS, "Rows")?;
        let columns = get(tag::COLUMNS, "Columns")?;
        let samples = ds.int(tag::SAMPLES_PER_PIXEL).unwrap_or(1).clamp(1, 4) as usize;
        let bits_allocated = if float {
            32
        } else {
            get(tag::BITS_ALLOCATED, "Bits Allocated")?
        };
        if ![1, 8, 16, 32, 64].contains(&bits_allocated) {
            return Err(PixelError::Unsupported(format!(
                "Bits Allocated {bits_allocated}"
            )));
        }
        let bits_stored = ds
            .int(tag::BITS_STORED)
            .map(|v| v as usize)
            .unwrap_or(bits_allocated);
        let bits_stored = if bits_stored == 0 || bits_stored > bits_allocated {
            bits_allocated
        } else {
            bits_stored
        };
        if rows.saturating_mul(columns).saturating_mul(samples) > MAX_SAMPLES {
            return Err(PixelError::Invalid(format!(
                "{rows}×{columns}×{samples} samples is too large"
            )));
        }
        let photometric = ds
            .first_text(tag::PHOTOMETRIC_INTERPRETATION)
            .unwrap_or_else(|| {
                if samples == 3 {
                    "RGB".into()
                } else {
                    "MONOCHROME2".into()
                }
            });
        let frames = ds
            .first_text(tag::NUMBER_OF_FRAMES)
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(1.0);
        let frames = if frames.is_finite() && frames >= 1.0 {
            frames as usize
        } else {
            1
        };
        Ok(ImageInfo {
            rows,
            columns,
            samples,
            bits_allocated,
            bits_stored,
            signed: ds.int(tag::PIXEL_REPRESENTATION) == Some(1),
            photometric: photometric.to_uppercase(),
            planar: ds.int(tag::PLANAR_CONFIGURATION) == Some(1),
            frames,
            float,
        })
    }

    pub fn pixels(&self) -> usize {
        self.rows * self.columns
    }
}

/// One frame's samples as decoded: little or big endian bytes, the layout native pixel data has.
pub struct RawFrame {
    pub info: ImageInfo,
    pub bytes: Vec<u8>,
    pub bytes_per_sample: usize,
    pub big_endian: bool,
    /// Samples are interleaved RGB already (a codec converted YCbCr, or planar data was interleaved).
    pub rgb: bool,
    /// Uncompressed YBR_FULL_422: two luma samples share one chroma pair.
    pub subsampled_422: bool,
    pub interleaved: bool,
    /// The decode budget this frame holds until it is dropped (with what rendering it needs).
    pub(crate) _memory: Reservation,
}

/// What rendering a decoded sample needs beside the sample itself: its value as `f32`, and the
/// 8-bit output.
const RENDER_BYTES_PER_SAMPLE: u64 = 5;

/// What decoding `pixels × samples` samples of `bytes_per_sample` costs: the samples, the codec's
/// own working memory per sample, and what rendering needs.
fn reserve_for(
    pixels: usize,
    samples: usize,
    bytes_per_sample: usize,
    codec_bytes_per_sample: u64,
) -> Result<Reservation, PixelError> {
    let per_sample = bytes_per_sample as u64 + codec_bytes_per_sample + RENDER_BYTES_PER_SAMPLE;
    reserve(
        (pixels as u64)
            .saturating_mul(samples as u64)
            .saturating_mul(per_sample),
    )
}

/// The codec's own working memory per decoded sample: OpenJPEG keeps each sample as an `i32`
/// and copies the tiles; the JPEG decoders keep component planes.
fn codec_bytes_per_sample(encoding: PixelEncoding) -> u64 {
    match encoding {
        PixelEncoding::Jpeg2000 => 8,
        PixelEncoding::JpegDct | PixelEncoding::JpegLossless => 4,
        PixelEncoding::JpegLs => 2,
        PixelEncoding::Rle | PixelEncoding::Native | PixelEncoding::Unsupported => 0,
    }
}

/// Reads `len` bytes at `offset` of the stream the spans refer to (the source, or an inflated
/// body).
fn read_span(
    file: &DicomFile,
    src: &mut dyn ByteSource,
    offset: u64,
    len: usize,
) -> Result<Vec<u8>, PixelError> {
    match &file.inflated {
        Some(body) => {
            let start = offset as usize;
            body.get(start..start + len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| PixelError::Invalid("pixel data extends past the data set".into()))
        }
        None => {
            if offset + len as u64 > src.len() {
                return Err(PixelError::Invalid(
                    "pixel data extends past the end of the file".into(),
                ));
            }
            Ok(src.bytes(offset, len)?.to_vec())
        }
    }
}

/// Reads and decodes one frame at full size.
pub fn read_frame(
    file: &DicomFile,
    path: &Path,
    choice: FrameChoice,
) -> Result<RawFrame, PixelError> {
    read_frame_at(file, path, choice, Resolution::Full)
}

/// Reads and decodes one frame at `resolution` (smaller where the codec can), within the decode
/// budget.
pub fn read_frame_at(
    file: &DicomFile,
    path: &Path,
    choice: FrameChoice,
    resolution: Resolution,
) -> Result<RawFrame, PixelError> {
    read_frame_from(file, Box::new(FileSource::open(path)?), choice, resolution)
}

/// As [`read_frame_at`], from `src`, the bytes `file`'s spans refer to (read only where the
/// frame is: a ranged source fetches no more).
pub fn read_frame_from(
    file: &DicomFile,
    mut src: SharedSource,
    choice: FrameChoice,
    resolution: Resolution,
) -> Result<RawFrame, PixelError> {
    let ds = &file.dataset;
    let (element, float) = match (ds.get(tag::PIXEL_DATA), ds.get(tag::FLOAT_PIXEL_DATA)) {
        (Some(e), _) => (e, false),
        (None, Some(e)) => (e, true),
        (None, None) => return Err(PixelError::NoPixelData),
    };
    let info = ImageInfo::read(ds, float)?;
    let index = match choice {
        FrameChoice::Middle => info.frames / 2,
        FrameChoice::Index(i) => i as usize,
    };
    if index >= info.frames {
        return Err(PixelError::NoSuchFrame {
            index,
            frames: info.frames,
        });
    }
    let encoding = transfer_syntax::pixel_encoding(&file.transfer_syntax);
    let big_endian = file.encoding.big_endian;
    // Pixel data is always left in the source by the header reader: an undefined length marks
    // encapsulated (compressed) data.
    let Value::Deferred(span) = &element.value else {
        return Err(PixelError::Invalid(
            "pixel data was loaded instead of located".into(),
        ));
    };
    let encapsulated = span.length == u64::MAX;
    match (encoding, encapsulated) {
        (PixelEncoding::Unsupported, _) => Err(PixelError::Unsupported(format!(
            "transfer syntax {}",
            file.transfer_syntax
        ))),
        (PixelEncoding::Native, false) => native_frame(
            file,
            &mut src,
            info,
            *span,
            index,
            big_endian,
            element.vr == crate::Vr::OW,
        ),
        (PixelEncoding::Native, true) => Err(PixelError::Invalid(
            "encapsulated pixel data in a native transfer syntax".into(),
        )),
        (encoding, true) => {
            encapsulated_frame(file, src, info, span.offset, index, encoding, resolution)
        }
        (_, false) => Err(PixelError::Invalid(
            "native pixel data in a compressed transfer syntax".into(),
        )),
    }
}

/// The compressed bytes of one frame (0-based) of encapsulated pixel data, as stored: its
/// fragments joined. `None` when the pixel data is native.
pub fn compressed_frame(
    file: &DicomFile,
    path: &Path,
    index: u32,
) -> Result<Option<Vec<u8>>, PixelError> {
    compressed_frame_from(file, Box::new(FileSource::open(path)?), index)
}

/// As [`compressed_frame`], from `src`, the bytes `file`'s spans refer to.
pub fn compressed_frame_from(
    file: &DicomFile,
    mut src: SharedSource,
    index: u32,
) -> Result<Option<Vec<u8>>, PixelError> {
    let ds = &file.dataset;
    let Some(element) = ds.get(tag::PIXEL_DATA) else {
        return Err(PixelError::NoPixelData);
    };
    let Value::Deferred(span) = &element.value else {
        return Ok(None);
    };
    let encoding = transfer_syntax::pixel_encoding(&file.transfer_syntax);
    if span.length != u64::MAX || matches!(encoding, PixelEncoding::Native) {
        return Ok(None);
    }
    let info = ImageInfo::read(ds, false)?;
    let end = src.len();
    let (offset_table, fragments, _) =
        locate_fragments(&mut src, span.offset, end, file.dataset.big_endian)?;
    let mut frames = EncapsulatedFrames::new(src, info, encoding, offset_table, fragments)?;
    frames.frame_data(index as usize).map(Some)
}

fn short_pixel_data(have: u64, index: usize, frame_len: usize) -> PixelError {
    PixelError::Invalid(format!(
        "pixel data holds {have} bytes; frame {index} needs {frame_len} bytes from byte {}",
        index * frame_len
    ))
}

fn native_frame_len(info: &ImageInfo) -> usize {
    if info.photometric == "YBR_FULL_422" && info.bits_allocated == 8 {
        return info.pixels() * 2;
    }
    (info.pixels() * info.samples * info.bits_allocated).div_ceil(8)
}

fn native_frame(
    file: &DicomFile,
    src: &mut dyn ByteSource,
    info: ImageInfo,
    span: Span,
    index: usize,
    big_endian: bool,
    ow: bool,
) -> Result<RawFrame, PixelError> {
    let frame_len = native_frame_len(&info);
    // Before reading anything: the frame as stored, plus what rendering it needs.
    let memory = reserve_for(
        info.pixels(),
        info.samples,
        (info.bits_allocated / 8).max(1),
        0,
    )?;
    if info.bits_allocated == 1 {
        // Single-bit frames are packed back to back, not byte aligned: read from the frame's byte.
        let first_bit = index * info.pixels() * info.samples;
        let start = first_bit / 8;
        let len = (first_bit % 8 + info.pixels() * info.samples).div_ceil(8);
        if (start + len) as u64 > span.length {
            return Err(short_pixel_data(span.length, index, frame_len));
        }
        let bytes = read_span(file, src, span.offset + start as u64, len)?;
        let skip = first_bit % 8;
        let unpacked = (0..info.pixels() * info.samples)
            .map(|i| (bytes[(skip + i) / 8] >> ((skip + i) % 8)) & 1)
            .collect();
        let mut info = info;
        info.bits_allocated = 8;
        info.bits_stored = 1;
        return Ok(RawFrame {
            info,
            bytes: unpacked,
            bytes_per_sample: 1,
            big_endian: false,
            rgb: false,
            subsampled_422: false,
            interleaved: true,
            _memory: memory,
        });
    }
    let start = (index * frame_len) as u64;
    if start + frame_len as u64 > span.length {
        return Err(short_pixel_data(span.length, index, frame_len));
    }
    if big_endian && ow && info.bits_allocated == 8 {
        // 8-bit samples in big endian OW are swapped within each 16-bit word of the whole value,
        // so read the whole words around the frame (its ends may fall mid-word), then unswap.
        let word_start = start & !1;
        let word_end = ((start + frame_len as u64 + 1) & !1).min(span.length);
        let mut words = read_span(
            file,
            src,
            span.offset + word_start,
            (word_end - word_start) as usize,
        )?;
        if words.len() % 2 == 1 {
            words.push(0);
        }
        unswap_words(&mut words);
        let from = (start - word_start) as usize;
        let bytes = words[from..from + frame_len].to_vec();
        return Ok(native_raw(info, bytes, false, memory));
    }
    let bytes = read_span(file, src, span.offset + start, frame_len)?;
    Ok(native_raw(info, bytes, big_endian, memory))
}

fn unswap_words(bytes: &mut [u8]) {
    for pair in bytes.chunks_exact_mut(2) {
        pair.swap(0, 1);
    }
}

fn native_raw(info: ImageInfo, bytes: Vec<u8>, big_endian: bool, memory: Reservation) -> RawFrame {
    let bps = (info.bits_allocated / 8).max(1);
    let subsampled_422 = info.photometric == "YBR_FULL_422" && info.bits_allocated == 8;
    let interleaved = !info.planar || info.samples == 1;
    RawFrame {
        info,
        bytes,
        bytes_per_sample: bps,
        big_endian,
        rgb: false,
        subsampled_422,
        interleaved,
        _memory: memory,
    }
}

fn encapsulated_frame(
    file: &DicomFile,
    mut src: SharedSource,
    info: ImageInfo,
    offset: u64,
    index: usize,
    encoding: PixelEncoding,
    resolution: Resolution,
) -> Result<RawFrame, PixelError> {
    let end = src.len();
    let (offset_table, fragments, _) =
        locate_fragments(&mut src, offset, end, file.dataset.big_endian)?;
    let mut frames = EncapsulatedFrames::new(src, info, encoding, offset_table, fragments)?;
    frames.resolution = resolution;
    frames.decode(index)
}

/// How the fragments of encapsulated pixel data group into frames.
enum FrameLayout {
    /// One frame: every fragment is part of it.
    Single,
    /// As many fragments as frames: one each.
    OnePerFragment,
    /// Where each frame starts, relative to the first fragment's item (from the basic offset
    /// table, or else found by the codestreams' start markers).
    Starts(Vec<u64>),
}

/// The frames of encapsulated pixel data, located once so that any frame can then be read and
/// decoded: the renderer decodes one, the transcoder each in turn.
pub(crate) struct EncapsulatedFrames {
    src: SharedSource,
    info: ImageInfo,
    encoding: PixelEncoding,
    fragments: Vec<Span>,
    layout: FrameLayout,
    /// How large decoded frames need to be.
    pub(crate) resolution: Resolution,
}

impl EncapsulatedFrames {
    /// `offset_table` and `fragments` as [`locate_fragments`] found them in `src`.
    pub(crate) fn new(
        mut src: SharedSource,
        info: ImageInfo,
        encoding: PixelEncoding,
        offset_table: Span,
        fragments: Vec<Span>,
    ) -> Result<EncapsulatedFrames, PixelError> {
        if fragments.is_empty() {
            return Err(PixelError::Invalid(
                "encapsulated pixel data without fragments".into(),
            ));
        }
        let layout = if info.frames == 1 {
            FrameLayout::Single
        } else if fragments.len() == info.frames {
            FrameLayout::OnePerFragment
        } else {
            let table = if offset_table.length > 0 {
                src.bytes(offset_table.offset, offset_table.length as usize)?
                    .to_vec()
            } else {
                Vec::new()
            };
            FrameLayout::Starts(frame_starts(
                &mut src,
                &fragments,
                &table,
                info.frames,
                encoding,
            )?)
        };
        Ok(EncapsulatedFrames {
            src,
            info,
            encoding,
            fragments,
            layout,
            resolution: Resolution::Full,
        })
    }

    pub(crate) fn info(&self) -> &ImageInfo {
        &self.info
    }

    /// The fragments of frame `index`.
    fn fragments_of(&self, index: usize) -> Result<&[Span], PixelError> {
        match &self.layout {
            FrameLayout::Single => Ok(&self.fragments),
            FrameLayout::OnePerFragment => Ok(&self.fragments[index..=index]),
            FrameLayout::Starts(starts) => {
                let Some(&start) = starts.get(index) else {
                    return Err(PixelError::Invalid(format!(
                        "cannot find frame {index} among {} fragments",
                        self.fragments.len()
                    )));
                };
                let end = starts.get(index + 1).copied().unwrap_or(u64::MAX);
                // Fragment positions only grow, so each bound is a partition point.
                let first_item = self.fragments[0].offset - 8;
                let at = |f: &Span| f.offset - 8 - first_item;
                let from = self.fragments.partition_point(|f| at(f) < start);
                let to = self.fragments.partition_point(|f| at(f) < end);
                if to <= from {
                    return Err(PixelError::Invalid(format!(
                        "frame {index} has no fragments"
                    )));
                }
                Ok(&self.fragments[from..to])
            }
        }
    }

    /// The compressed bytes of frame `index` (its fragments joined).
    pub(crate) fn frame_data(&mut self, index: usize) -> Result<Vec<u8>, PixelError> {
        if index >= self.info.frames {
            return Err(PixelError::Invalid(format!(
                "frame {index} of {}",
                self.info.frames
            )));
        }
        let chosen = self.fragments_of(index)?.to_vec();
        let mut data = Vec::new();
        for f in chosen {
            data.extend_from_slice(self.src.bytes(f.offset, f.length as usize)?);
        }
        Ok(data)
    }

    /// The last `n` bytes (at most) of frame `index`'s last fragment.
    pub(crate) fn frame_tail(&mut self, index: usize, n: usize) -> Result<Vec<u8>, PixelError> {
        let last = *self
            .fragments_of(index)?
            .last()
            .ok_or_else(|| PixelError::Invalid(format!("frame {index} has no fragments")))?;
        let take = (last.length as usize).min(n);
        Ok(self
            .src
            .bytes(last.offset + last.length - take as u64, take)?
            .to_vec())
    }

    /// How many times to halve the frame while decoding it: as often as the codec allows while
    /// the longest side stays at least what the resolution asks for.
    fn reduction(&self, data: &[u8], geometry: &FrameGeometry) -> u32 {
        let Resolution::AtLeast(wanted) = self.resolution else {
            return 0;
        };
        let longest = self.info.rows.max(self.info.columns);
        let most = codec::max_reduction(self.encoding, data, geometry);
        (0..=most)
            .rev()
            .find(|&r| (longest >> r) >= wanted as usize)
            .unwrap_or(0)
    }

    /// Decodes one frame's compressed bytes (from [`Self::frame_data`]), within the decode
    /// budget.
    pub(crate) fn decode_data(&self, data: &[u8]) -> Result<RawFrame, PixelError> {
        let info = &self.info;
        let geometry = FrameGeometry {
            rows: info.rows,
            columns: info.columns,
            samples: info.samples,
            bits_allocated: info.bits_allocated,
            photometric: info.photometric.clone(),
        };
        let reduction = self.reduction(data, &geometry);
        let reduced = |n: usize| n.div_ceil(1 << reduction);
        let memory = reserve_for(
            reduced(info.rows) * reduced(info.columns),
            info.samples,
            info.bits_allocated.div_ceil(8).clamp(1, 2),
            codec_bytes_per_sample(self.encoding),
        )?;
        let decoded = codec::decode(self.encoding, data, &geometry, reduction)?;
        let mut info = info.clone();
        if (decoded.rows, decoded.columns) != (info.rows, info.columns)
            && decoded.rows <= info.rows
            && decoded.columns <= info.columns
        {
            info.rows = decoded.rows;
            info.columns = decoded.columns;
        }
        let expected = info.pixels() * info.samples * decoded.bytes_per_sample;
        if decoded.bytes.len() < expected {
            return Err(PixelError::Invalid(format!(
                "decoded frame holds {} bytes, {}×{}×{} needs {expected}",
                decoded.bytes.len(),
                info.rows,
                info.columns,
                info.samples
            )));
        }
        if let Some(signed) = decoded.signed {
            // Trust Pixel Representation, as pydicom does, unless the codestream is signed and the
            // data set is not: then the samples are two's complement in the stored bits.
            info.signed = info.signed || signed;
        }
        Ok(RawFrame {
            info,
            bytes: decoded.bytes,
            bytes_per_sample: decoded.bytes_per_sample,
            big_endian: false,
            rgb: decoded.converted_to_rgb,
            subsampled_422: false,
            interleaved: true,
            _memory: memory,
        })
    }

    pub(crate) fn decode(&mut self, index: usize) -> Result<RawFrame, PixelError> {
        let data = self.frame_data(index)?;
        self.decode_data(&data)
    }
}

/// Where each frame starts (relative to the first fragment's item): the basic offset table when
/// it lists every frame, otherwise the fragments that begin with a codestream's start marker.
fn frame_starts(
    src: &mut dyn ByteSource,
    fragments: &[Span],
    table: &[u8],
    frames: usize,
    encoding: PixelEncoding,
) -> Result<Vec<u64>, PixelError> {
    if table.len() / 4 >= frames {
        return Ok(table
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as u64)
            .collect());
    }
    let first_item = fragments[0].offset - 8;
    let mut starts = Vec::new();
    for f in fragments {
        let head = src.bytes(f.offset, (f.length as usize).min(4))?;
        let begins_frame = match encoding {
            PixelEncoding::Jpeg2000 => {
                head.starts_with(&[0xFF, 0x4F]) || head.starts_with(&[0, 0, 0, 0x0C])
            }
            _ => head.starts_with(&[0xFF, 0xD8]),
        };
        if begins_frame {
            starts.push(f.offset - 8 - first_item);
        }
    }
    Ok(starts)
}
