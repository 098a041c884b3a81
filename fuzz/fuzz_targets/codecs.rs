//! Every codec entry point on any bytes: the first byte picks the codec and the frame's claimed
//! geometry (small, so that each run is quick), the rest is the codestream. A codec answers with
//! pixels of the size it says or with an error, never a panic, never an allocation beyond what
//! the geometry allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lightbox_dicom::pixel::codec::{self, jpeg_dct, jpeg_ls, rle, FrameGeometry};
use lightbox_dicom::transfer_syntax::PixelEncoding;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let samples = if selector & 0x10 != 0 { 3 } else { 1 };
    let bits_allocated = if selector & 0x20 != 0 { 16 } else { 8 };
    let side = 1 + usize::from(selector >> 6) * 31;
    let geometry = FrameGeometry {
        rows: side,
        columns: side,
        samples,
        bits_allocated,
        photometric: if samples == 3 { "RGB" } else { "MONOCHROME2" }.into(),
    };
    match selector & 0x07 {
        0 => {
            let _ = jpeg_dct::decode(stream);
        }
        1 => {
            let _ = jpeg_ls::decode(stream, 1 << 24);
        }
        2 => {
            let _ = rle::decode(stream, side * side, samples, bits_allocated / 8);
        }
        3 => {
            let _ = codec::decode(PixelEncoding::JpegDct, stream, &geometry, 0);
        }
        4 => {
            let _ = codec::decode(PixelEncoding::JpegLossless, stream, &geometry, 0);
        }
        5 => {
            let _ = codec::decode(PixelEncoding::Jpeg2000, stream, &geometry, 1);
        }
        6 => {
            let _ = codec::decode(PixelEncoding::Rle, stream, &geometry, 0);
        }
        _ => {
            let _ = codec::decode(PixelEncoding::JpegLs, stream, &geometry, 0);
        }
    }
});
