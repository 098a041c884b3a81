//! Rendering: from a stored instance to an 8-bit image, and from a series to its thumbnail.
//!
//! The pipeline follows PS3.3 C.11 (and pydicom's behaviour where the standard leaves room):
//! stored values → Modality LUT (LUT sequence or rescale) → VOI (LUT sequence, else the first
//! window, else a robust 0.5–99.5 percentile min–max) → MONOCHROME1 inversion; colour images
//! (RGB, YBR, PALETTE COLOR) are converted to true-colour RGB. Only the chosen frame is read from
//! the file, so a large multi-frame costs one frame of memory.

pub mod codec;
mod font;
pub mod frame;
mod pipeline;
pub mod thumbnail;

use crate::dicom::{self, ParseError};
use std::path::Path;

pub use pipeline::{VoiFunction, Window};
pub use thumbnail::{series_thumbnail, ThumbnailError};

/// An 8-bit image: `channels` is 1 (grey) or 3 (RGB), rows of `width * channels` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image8 {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub data: Vec<u8>,
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
pub enum RenderError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the instance has no pixel data")]
    NoPixelData,
    #[error("invalid image attributes: {0}")]
    Invalid(String),
    #[error("unsupported pixel data: {0}")]
    Unsupported(String),
    #[error("cannot decode the pixel data: {0}")]
    Codec(#[from] codec::CodecError),
    #[error("reading pixel data: {0}")]
    Io(#[from] std::io::Error),
}

/// Renders one frame of the DICOM file at `path` to 8 bits at full resolution.
pub fn render_file(path: &Path, choice: FrameChoice) -> Result<Image8, RenderError> {
    render_file_windowed(path, choice, None)
}

/// Like [`render_file`], greyscale images windowed with `window` when given.
pub fn render_file_windowed(
    path: &Path,
    choice: FrameChoice,
    window: Option<Window>,
) -> Result<Image8, RenderError> {
    let file = dicom::read_file(path, dicom::ReadMode::Header)?;
    let raw = frame::read_frame(&file, path, choice)?;
    pipeline::to_8bit_windowed(&file.dataset, raw, window)
}
