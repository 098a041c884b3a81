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

mod decoder;
mod huffman;
mod idct;
mod scan;
#[cfg(test)]
mod tests;
mod upsample;

use decoder::Decoder;

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
