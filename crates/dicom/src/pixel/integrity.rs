//! Whether encapsulated pixel data is whole. An instance whose compressed frames were cut short
//! would otherwise be stored (and acknowledged) as good, and found broken only when someone
//! looks at it; ingest refuses it instead, with the reason.
//!
//! Checked without decoding, so that it costs a few small reads: every fragment lies within the
//! file and the sequence is closed; each frame of a JPEG, JPEG-LS or JPEG 2000 codestream ends
//! with its end marker (followed by padding only); each RLE frame's header is consistent and
//! its segments lie within the frame, and small RLE frames are decoded.

use super::codec::rle;
use super::frame::{EncapsulatedFrames, ImageInfo};
use super::PixelError;
use crate::parse::{locate_fragments, ByteSource, FileSource};
use crate::transfer_syntax::{pixel_encoding, PixelEncoding};
use crate::{tag, DicomFile, Value};
use std::path::Path;

/// RLE frames up to this decoded size are decoded to be sure of them.
const RLE_DECODE_CHECK: usize = 16 << 20;

/// Checks the encapsulated pixel data of the file at `path` (`file` is its header); native pixel
/// data and instances without pixel data pass (the parser checks native lengths).
pub fn check_complete(file: &DicomFile, path: &Path) -> Result<(), PixelError> {
    let Some(element) = file.dataset.get(tag::PIXEL_DATA) else {
        return Ok(());
    };
    let Value::Deferred(span) = &element.value else {
        return Ok(());
    };
    if span.length != u64::MAX {
        return Ok(());
    }
    let mut src = FileSource::open(path)?;
    let end = src.len();
    let (offset_table, fragments, _) =
        locate_fragments(&mut src, span.offset, end, file.dataset.big_endian)?;
    let encoding = pixel_encoding(&file.transfer_syntax);
    if matches!(encoding, PixelEncoding::Native | PixelEncoding::Unsupported) {
        // Video and other codestreams kept as received: whole fragments are all we can check.
        return Ok(());
    }
    let info = ImageInfo::read(&file.dataset, false)?;
    let frames = info.frames;
    let mut layout =
        EncapsulatedFrames::new(Box::new(src), info, encoding, offset_table, fragments)?;
    for index in 0..frames {
        let incomplete = |reason: String| PixelError::Incomplete {
            frame: index + 1,
            frames,
            reason,
        };
        match encoding {
            PixelEncoding::Rle => {
                let data = layout.frame_data(index)?;
                rle_frame(&data, layout.info()).map_err(incomplete)?;
            }
            _ => {
                let tail = layout.frame_tail(index, 16)?;
                if !ends_with_end_marker(&tail) {
                    return Err(incomplete(
                        "the codestream stops before its end marker".into(),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Whether a codestream's last bytes are its end marker (EOI, or EOC for JPEG 2000: both
/// FF D9), followed by nothing but padding.
fn ends_with_end_marker(tail: &[u8]) -> bool {
    let padding = tail
        .iter()
        .rev()
        .take_while(|&&b| b == 0x00 || b == 0xFF)
        .count();
    tail[..tail.len() - padding].ends_with(&[0xFF, 0xD9])
}

/// An RLE frame's header: 1 to 15 segments, the first at 64, in order, within the frame;
/// decoded when small.
fn rle_frame(data: &[u8], info: &ImageInfo) -> Result<(), String> {
    if data.len() < 64 {
        return Err(format!(
            "an RLE frame of {} bytes has no header",
            data.len()
        ));
    }
    let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let segments = word(0) as usize;
    let bps = info.bits_allocated.div_ceil(8).max(1);
    if segments == 0 || segments > 15 || segments != info.samples * bps {
        return Err(format!(
            "the RLE header names {segments} segments where {} are needed",
            info.samples * bps
        ));
    }
    let offsets: Vec<usize> = (0..segments).map(|i| word(4 + 4 * i) as usize).collect();
    if offsets[0] != 64
        || offsets.windows(2).any(|w| w[1] <= w[0])
        || offsets.last().is_some_and(|&o| o >= data.len())
    {
        return Err("the RLE segments lie outside the frame".into());
    }
    if info.pixels() * info.samples * bps <= RLE_DECODE_CHECK {
        rle::decode(data, info.pixels(), info.samples, bps).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_markers_with_padding() {
        assert!(ends_with_end_marker(&[0x12, 0xFF, 0xD9]));
        assert!(ends_with_end_marker(&[0x12, 0xFF, 0xD9, 0x00]));
        assert!(ends_with_end_marker(&[0x00, 0xFF, 0xD9, 0xFF]));
        assert!(!ends_with_end_marker(&[0xFF, 0xD9, 0x12]));
        assert!(!ends_with_end_marker(&[0x12, 0x34, 0x00]));
        assert!(!ends_with_end_marker(&[]));
    }
}
