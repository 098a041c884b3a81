//! Pixel data: locating one frame in a file (native or encapsulated), reading only that frame,
//! and decoding it with the codecs (RLE, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000).
//! Rendering builds on this; so does transcoding, which is why the codecs live here.

mod budget;
pub mod codec;
pub mod frame;
mod integrity;

pub use budget::{decode_budget, set_decode_budget, Reservation, DEFAULT_DECODE_BUDGET};
pub use frame::{read_frame, read_frame_at, read_frame_from, ImageInfo, RawFrame};
pub use integrity::check_complete;

use crate::ParseError;

/// How large a decoded frame needs to be. A codec that can decode at a reduced resolution (JPEG
/// 2000 resolution levels, JPEG DCT scaling) does so as long as the frame's longest side stays
/// at least this; the others decode at full size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Full,
    AtLeast(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameChoice {
    /// The middle frame of a multi-frame (the only frame otherwise).
    Middle,
    /// A 0-based frame index.
    Index(u32),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PixelError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the instance has no pixel data")]
    NoPixelData,
    #[error("frame {index} of {frames}: no such frame")]
    NoSuchFrame { index: usize, frames: usize },
    /// Encapsulated pixel data that stops short (frames are numbered from 1).
    #[error("frame {frame} of {frames} is incomplete: {reason}")]
    Incomplete {
        frame: usize,
        frames: usize,
        reason: String,
    },
    /// Decoding the frame would need more memory than the whole decode budget.
    #[error("decoding this frame needs {} MB, more than the decode budget of {} MB", needed >> 20, budget >> 20)]
    OverBudget { needed: u64, budget: u64 },
    /// Other decodes held the budget for too long.
    #[error("the decode budget stayed busy; {} MB were needed", needed >> 20)]
    BudgetBusy { needed: u64 },
    #[error("invalid image attributes: {0}")]
    Invalid(String),
    #[error("unsupported pixel data: {0}")]
    Unsupported(String),
    #[error("cannot decode the pixel data: {0}")]
    Codec(#[from] codec::CodecError),
    #[error("reading pixel data: {0}")]
    Io(#[from] std::io::Error),
}
