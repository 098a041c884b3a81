//! Pure-Rust JPEG-LS decoder (ITU-T T.87 / ISO/IEC 14495-1).
//!
//! Lossless and near-lossless streams, 2 to 16 bits per sample, 1 to 4 components, all
//! three interleave modes, LSE preset parameters and restart intervals. Written for
//! untrusted input: every failure is an [`Error`], never a panic, and the output buffer is
//! only allocated after its size, derived from the header, was checked against a limit.

mod bits;
mod coder;
mod header;
mod scan;

use header::{Event, Parser};

/// How the components of a multi-component scan are interleaved in the codestream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interleave {
    /// One component per scan.
    None,
    /// One line of each component in turn.
    Line,
    /// Whole pixels, sample by sample.
    Sample,
}

/// Image description from the frame header and the first scan header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    pub width: u32,
    pub height: u32,
    pub components: u8,
    pub bits_per_sample: u8,
    /// NEAR of the first scan: 0 is lossless.
    pub near: u8,
    /// Interleave mode of the first scan.
    pub interleave: Interleave,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("not a JPEG-LS stream")]
    NotJpegLs,
    #[error("JPEG-LS stream is truncated")]
    Truncated,
    #[error("unsupported JPEG-LS feature: {0}")]
    Unsupported(&'static str),
    #[error("invalid JPEG-LS stream: {0}")]
    Invalid(&'static str),
    #[error("decoded JPEG-LS image needs {needed} bytes, more than the limit of {limit}")]
    TooLarge { needed: u64, limit: usize },
}

fn frame_info(frame: &header::Frame, scan: &header::ScanHeader) -> FrameInfo {
    FrameInfo {
        width: frame.width,
        height: frame.height,
        components: frame.count as u8,
        bits_per_sample: frame.bits,
        near: scan.near,
        interleave: scan.interleave,
    }
}

/// Reads the frame header and the first scan header without decoding any samples.
pub fn read_header(data: &[u8]) -> Result<FrameInfo, Error> {
    let mut parser = Parser::new(data)?;
    match parser.next_event()? {
        Event::Scan(scan) => Ok(frame_info(&parser.frame()?, &scan)),
        Event::End => Err(Error::Invalid("no scan before end of image")),
        Event::Eof => Err(Error::Truncated),
    }
}

/// Bytes of decoded output for `info`; saturates instead of overflowing.
fn output_size(info: &FrameInfo) -> u64 {
    let bps = if info.bits_per_sample > 8 { 2 } else { 1 };
    u64::from(info.width)
        .saturating_mul(u64::from(info.height))
        .saturating_mul(u64::from(info.components))
        .saturating_mul(bps)
}

/// Decodes the whole stream.
///
/// Output: samples interleaved per pixel (R,G,B,R,G,B… even when the stream is planar /
/// interleave None), one byte per sample when bits_per_sample <= 8, else two bytes little
/// endian per sample. `max_output_bytes` is checked against the size computed from the
/// header before any allocation; beyond it the result is [`Error::TooLarge`].
pub fn decode(data: &[u8], max_output_bytes: usize) -> Result<(FrameInfo, Vec<u8>), Error> {
    let mut parser = Parser::new(data)?;
    let mut image: Option<(FrameInfo, Vec<u8>)> = None;
    let mut decoded = [false; header::MAX_COMPONENTS];
    let eoi = loop {
        let scan = match parser.next_event()? {
            Event::Scan(scan) => scan,
            Event::End => break true,
            Event::Eof => break false,
        };
        let frame = parser.frame()?;
        let (info, buf) = match &mut image {
            Some((info, buf)) => (*info, buf),
            None => {
                let info = frame_info(&frame, &scan);
                let needed = output_size(&info);
                if needed > max_output_bytes as u64 {
                    return Err(Error::TooLarge {
                        needed,
                        limit: max_output_bytes,
                    });
                }
                let (_, buf) = image.insert((info, vec![0u8; needed as usize]));
                (info, buf)
            }
        };
        // An LSE type 4 segment between scans must not resize the image already allocated.
        if (frame.width, frame.height) != (info.width, info.height) {
            return Err(Error::Invalid("image size changed between scans"));
        }
        for &c in &scan.comps[..scan.count] {
            if std::mem::replace(&mut decoded[c], true) {
                return Err(Error::Invalid("component coded in two scans"));
            }
        }
        let params = coder::Params::new(frame.bits, &parser.preset, scan.near)?;
        let mut out = scan::Output {
            buf,
            width: frame.width as usize,
            components: frame.count,
            two_bytes: info.bits_per_sample > 8,
        };
        parser.pos = scan::decode_scan(
            data,
            parser.pos,
            &frame,
            &scan,
            params,
            parser.restart_interval,
            &mut out,
        )?;
    };
    match image {
        // A missing EOI is tolerated once every component is complete.
        Some((info, buf)) if decoded[..usize::from(info.components)].iter().all(|&d| d) => {
            Ok((info, buf))
        }
        Some(_) if eoi => Err(Error::Invalid("end of image before all components")),
        None if eoi => Err(Error::Invalid("no scan in the stream")),
        _ => Err(Error::Truncated),
    }
}
