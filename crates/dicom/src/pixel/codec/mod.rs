//! Decoders for encapsulated pixel data. Each returns samples in native layout: little endian,
//! sample-interleaved, the photometric interpretation unchanged unless stated.

pub mod jpeg_dct;
pub mod jpeg_ls;
pub mod rle;

use crate::transfer_syntax::PixelEncoding;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(String);

impl CodecError {
    pub fn new(message: impl Into<String>) -> CodecError {
        CodecError(message.into())
    }
}

/// A decoded frame as bytes plus what the codec says about it.
pub struct DecodedFrame {
    pub bytes: Vec<u8>,
    pub bytes_per_sample: usize,
    /// The codec already turned YCbCr into RGB.
    pub converted_to_rgb: bool,
    /// Per-sample signedness the codec reports (J2K), when it knows.
    pub signed: Option<bool>,
    /// The decoded size: the frame's, or less when it was decoded at a reduced resolution.
    pub columns: usize,
    pub rows: usize,
}

pub struct FrameGeometry {
    pub rows: usize,
    pub columns: usize,
    pub samples: usize,
    pub bits_allocated: usize,
    pub photometric: String,
}

/// How many times a codec can halve a frame's size while decoding it: JPEG 2000 by its
/// resolution levels, 8-bit JPEG by DCT scaling (to 1/8); 0 for the others.
pub fn max_reduction(encoding: PixelEncoding, data: &[u8], g: &FrameGeometry) -> u32 {
    match encoding {
        PixelEncoding::Jpeg2000 => j2k_coding_style(data).map_or(0, |s| u32::from(s.levels)),
        PixelEncoding::JpegDct if g.bits_allocated == 8 => 3,
        _ => 0,
    }
}

/// Decodes one frame, halved `reduction` times (at most [`max_reduction`]) where the codec can.
pub fn decode(
    encoding: PixelEncoding,
    data: &[u8],
    g: &FrameGeometry,
    reduction: u32,
) -> Result<DecodedFrame, CodecError> {
    let pixels = g.rows * g.columns;
    let full = |bytes: Vec<u8>, bytes_per_sample: usize| DecodedFrame {
        bytes,
        bytes_per_sample,
        converted_to_rgb: false,
        signed: None,
        columns: g.columns,
        rows: g.rows,
    };
    match encoding {
        PixelEncoding::Rle => {
            let bps = g.bits_allocated.div_ceil(8).max(1);
            let bytes = rle::decode(data, pixels, g.samples, bps)?;
            Ok(full(bytes, bps))
        }
        PixelEncoding::JpegDct | PixelEncoding::JpegLossless => decode_jpeg(
            data,
            g,
            if encoding == PixelEncoding::JpegDct {
                reduction
            } else {
                0
            },
        ),
        PixelEncoding::JpegLs => decode_jpeg_ls(data, g),
        PixelEncoding::Jpeg2000 => {
            check_declared_size("JPEG 2000 codestream", j2k_size(data), g)?;
            decode_j2k(data, reduction)
        }
        PixelEncoding::Native | PixelEncoding::Unsupported => {
            Err(CodecError::new("no decoder for this transfer syntax"))
        }
    }
}

/// The marker segments of a JPEG stream's header after SOI, as (marker, body), up to and with
/// its first frame header (SOF); fill bytes skipped, a body cut short at the end of the data.
fn header_segments(data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut at = 2;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        while data.get(at) == Some(&0xFF) && data.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if data.get(at) != Some(&0xFF) {
            return None;
        }
        let marker = *data.get(at + 1)?;
        let length = u16::from_be_bytes([*data.get(at + 2)?, *data.get(at + 3)?]) as usize;
        if marker == 0xDA || length < 2 {
            return None;
        }
        let body = data
            .get(at + 4..(at + 2 + length).min(data.len()))
            .unwrap_or(&[]);
        done = is_frame_header(marker);
        at += 2 + length;
        Some((marker, body))
    })
}

/// SOF0 to SOF15, but DHT, JPG and DAC, which share the range.
fn is_frame_header(marker: u8) -> bool {
    (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// Whether a JPEG stream carries a complete JFIF (APP0) or Adobe (APP14) marker before its first
/// frame. A truncated APP14 without its transform byte is ignored, as libjpeg ignores it.
fn has_colour_marker(data: &[u8]) -> bool {
    header_segments(data).any(|(marker, body)| {
        (marker == 0xE0 && body.starts_with(b"JFIF\0"))
            || (marker == 0xEE && body.starts_with(b"Adobe") && body.len() >= 12)
    })
}

/// The image size (width, height) a JPEG stream's frame header declares, if it has one.
fn jpeg_size(data: &[u8]) -> Option<(u64, u64)> {
    let (_, header) = header_segments(data).find(|(marker, _)| is_frame_header(*marker))?;
    let header = header.get(..5)?;
    let height = u16::from_be_bytes([header[1], header[2]]) as u64;
    let width = u16::from_be_bytes([header[3], header[4]]) as u64;
    Some((width, height))
}

/// A codestream must be the size the data set says before it is decoded: a corrupt or hostile
/// header (JPEG's SOF, JPEG 2000's SIZ) gets a clear error instead of a decoder that allocates
/// for, and works through, gigapixels.
fn check_declared_size(
    codestream: &str,
    declared: Option<(u64, u64)>,
    g: &FrameGeometry,
) -> Result<(), CodecError> {
    match declared {
        Some((w, h)) if (w, h) != (g.columns as u64, g.rows as u64) => {
            Err(CodecError::new(format!(
                "{codestream} declares {w}×{h} pixels, the data set {}×{}",
                g.columns, g.rows
            )))
        }
        _ => Ok(()),
    }
}

fn decode_jpeg(data: &[u8], g: &FrameGeometry, reduction: u32) -> Result<DecodedFrame, CodecError> {
    check_declared_size("JPEG stream", jpeg_size(data), g)?;
    let mut decoder = jpeg_decoder::Decoder::new(data);
    // Without JFIF/Adobe markers the stream's colour space is what DICOM says: RGB means no transform.
    let rgb_untransformed = g.photometric == "RGB" && !has_colour_marker(data);
    if rgb_untransformed {
        decoder.set_color_transform(jpeg_decoder::ColorTransform::RGB);
    }
    decoder.set_max_decoding_buffer_size(1 << 30);
    if reduction > 0 && decoder.read_info().is_ok() {
        // DCT scaling: the decoder picks the smallest of 1/8, 1/4, 1/2 and 1 at least this size.
        let side = |n: usize| ((n >> reduction.min(3)).max(1)).min(u16::MAX as usize) as u16;
        let _ = decoder.scale(side(g.columns), side(g.rows));
    }
    match decoder.decode() {
        Ok(bytes) => {
            let info = decoder
                .info()
                .ok_or_else(|| CodecError::new("JPEG without a frame header"))?;
            let (bps, rgb) = match info.pixel_format {
                jpeg_decoder::PixelFormat::L8 => (1, false),
                jpeg_decoder::PixelFormat::L16 => (2, false),
                jpeg_decoder::PixelFormat::RGB24 => (1, true),
                jpeg_decoder::PixelFormat::CMYK32 => {
                    return Err(CodecError::new("CMYK JPEG is not a DICOM image"))
                }
            };
            Ok(DecodedFrame {
                bytes,
                bytes_per_sample: bps,
                converted_to_rgb: rgb && !rgb_untransformed,
                signed: None,
                columns: info.width as usize,
                rows: info.height as usize,
            })
        }
        // jpeg-decoder has no 12-bit DCT support: our own decoder covers the extended process.
        Err(first) => {
            let decoded = jpeg_dct::decode(data)
                .map_err(|e| CodecError::new(format!("JPEG: {first}; 12-bit decoder: {e}")))?;
            let bps = if decoded.precision > 8 { 2 } else { 1 };
            let mut bytes = Vec::with_capacity(decoded.samples.len() * bps);
            for s in &decoded.samples {
                if bps == 2 {
                    bytes.extend_from_slice(&s.to_le_bytes());
                } else {
                    bytes.push(*s as u8);
                }
            }
            if decoded.components == 3 && decoded.ycbcr && !rgb_untransformed {
                ycbcr_to_rgb_in_place(&mut bytes, bps, (1u32 << decoded.precision) - 1);
                return Ok(DecodedFrame {
                    bytes,
                    bytes_per_sample: bps,
                    converted_to_rgb: true,
                    signed: None,
                    columns: decoded.width as usize,
                    rows: decoded.height as usize,
                });
            }
            Ok(DecodedFrame {
                bytes,
                bytes_per_sample: bps,
                converted_to_rgb: false,
                signed: None,
                columns: decoded.width as usize,
                rows: decoded.height as usize,
            })
        }
    }
}

/// JFIF full-range YCbCr → RGB on interleaved samples.
fn ycbcr_to_rgb_in_place(bytes: &mut [u8], bps: usize, max: u32) {
    let half = (max + 1) as f32 / 2.0;
    let read = |b: &[u8], i: usize| -> f32 {
        if bps == 2 {
            u16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as f32
        } else {
            b[i] as f32
        }
    };
    let pixels = bytes.len() / bps / 3;
    for p in 0..pixels {
        let (y, cb, cr) = (
            read(bytes, 3 * p),
            read(bytes, 3 * p + 1) - half,
            read(bytes, 3 * p + 2) - half,
        );
        let rgb = [
            y + 1.402 * cr,
            y - 0.344136 * cb - 0.714136 * cr,
            y + 1.772 * cb,
        ];
        for (c, v) in rgb.iter().enumerate() {
            let v = v.round().clamp(0.0, max as f32) as u32;
            let i = 3 * p + c;
            if bps == 2 {
                bytes[2 * i..2 * i + 2].copy_from_slice(&(v as u16).to_le_bytes());
            } else {
                bytes[i] = v as u8;
            }
        }
    }
}

/// Decoded frames larger than this are refused before anything is allocated (2^28 samples of
/// two bytes: the bound the frame geometry check applies to every codec).
const MAX_DECODED_BYTES: usize = 1 << 29;

fn decode_jpeg_ls(data: &[u8], g: &FrameGeometry) -> Result<DecodedFrame, CodecError> {
    // The decoder interleaves planar (one scan per component) streams itself.
    let (info, bytes) = jpeg_ls::decode(data, MAX_DECODED_BYTES)
        .map_err(|e| CodecError::new(format!("JPEG-LS: {e}")))?;
    Ok(DecodedFrame {
        bytes,
        bytes_per_sample: if info.bits_per_sample > 8 { 2 } else { 1 },
        converted_to_rgb: false,
        signed: None,
        columns: g.columns,
        rows: g.rows,
    })
}

/// The image size a JPEG 2000 codestream's SIZ marker declares (Xsiz - XOsiz, Ysiz - YOsiz),
/// found after the SOC marker at the start of the data or inside a JP2 file's first bytes.
fn j2k_size(data: &[u8]) -> Option<(u64, u64)> {
    let head = &data[..data.len().min(1 << 16)];
    let at = head
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])?
        + 4;
    let siz = data.get(at..at + 22)?;
    let word = |i: usize| u32::from_be_bytes([siz[i], siz[i + 1], siz[i + 2], siz[i + 3]]) as u64;
    let (x, y, x0, y0) = (word(4), word(8), word(12), word(16));
    Some((x.checked_sub(x0)?, y.checked_sub(y0)?))
}

fn decode_j2k(data: &[u8], reduction: u32) -> Result<DecodedFrame, CodecError> {
    let parameters = jpeg2k::DecodeParameters::new().reduce(reduction);
    let image = jpeg2k::Image::from_bytes_with(data, parameters)
        .map_err(|e| CodecError::new(format!("JPEG 2000: {e}")))?;
    let components = image.components();
    if components.is_empty() {
        return Err(CodecError::new("JPEG 2000 image without components"));
    }
    let precision = components[0].precision();
    let signed = components[0].is_signed();
    let bps = if precision > 8 { 2 } else { 1 };
    let pixels = components[0].data().len();
    let mut bytes = vec![0u8; pixels * components.len() * bps];
    for (c, component) in components.iter().enumerate() {
        for (p, &v) in component.data().iter().enumerate().take(pixels) {
            let i = (p * components.len() + c) * bps;
            if bps == 2 {
                bytes[i..i + 2].copy_from_slice(&(v as u16).to_le_bytes());
            } else {
                bytes[i] = v as u8;
            }
        }
    }
    // OpenJPEG undoes the codestream's multiple component transform (YBR_ICT/YBR_RCT), so those
    // come out as RGB; without one, the components are returned as coded.
    let mct = j2k_coding_style(data).is_some_and(|style| style.mct);
    Ok(DecodedFrame {
        bytes,
        bytes_per_sample: bps,
        converted_to_rgb: components.len() == 3 && mct,
        signed: Some(signed),
        columns: components[0].width() as usize,
        rows: components[0].height() as usize,
    })
}

/// What a JPEG 2000 codestream's default coding style (COD marker) says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct J2kCodingStyle {
    /// A multiple component transform (ICT or RCT) applies to the first three components.
    pub mct: bool,
    /// The reversible 5-3 wavelet (else the irreversible 9-7 one, which is always lossy).
    pub reversible: bool,
    /// Decomposition levels: how many times the image can be halved when decoding.
    pub levels: u8,
}

/// Reads the COD marker of the main header (raw codestream, or inside a JP2 file's first bytes).
pub fn j2k_coding_style(data: &[u8]) -> Option<J2kCodingStyle> {
    let head = &data[..data.len().min(1 << 16)];
    let soc = head
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])?;
    // Main header marker segments follow SOC back to back: walk them to COD (FF52).
    let mut i = soc + 2;
    while i + 4 <= head.len() && head[i] == 0xFF {
        let marker = head[i + 1];
        let len = u16::from_be_bytes([head[i + 2], head[i + 3]]) as usize;
        if marker == 0x52 {
            // Lcod, Scod, SGcod (progression order, 2-byte layers, MCT), SPcod (levels,
            // code-block width, height, style, transform).
            let cod = head.get(i + 4..i + 2 + len)?;
            return Some(J2kCodingStyle {
                mct: *cod.get(4)? != 0,
                reversible: *cod.get(9)? == 1,
                levels: *cod.get(5)?,
            });
        }
        if marker == 0x90 || len < 2 {
            return None; // SOT: the main header ended without a COD
        }
        i += 2 + len;
    }
    None
}
