//! Rendering: from a stored instance to an 8-bit image, and from a series to its thumbnail.
//!
//! The pipeline follows PS3.3 C.11 (and pydicom's behaviour where the standard leaves room):
//! stored values → Modality LUT (LUT sequence or rescale) → VOI (LUT sequence, else the first
//! window, else a robust 0.5–99.5 percentile min–max) → MONOCHROME1 inversion; colour images
//! (RGB, YBR, PALETTE COLOR) are converted to true-colour RGB. Only the chosen frame is read from
//! the file, so a large multi-frame costs one frame of memory.

mod font;
mod pipeline;
pub mod thumbnail;

use lightbox_dicom::pixel::frame;
use std::path::Path;

pub use lightbox_dicom::pixel::{FrameChoice, PixelError, Resolution};

pub use pipeline::{VoiFunction, Window};
pub use thumbnail::{image_set_thumbnail, series_thumbnail, ThumbnailError};

/// An 8-bit image: `channels` is 1 (grey) or 3 (RGB), rows of `width * channels` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image8 {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub data: Vec<u8>,
}

/// Renders one frame of the DICOM file at `path` to 8 bits at full resolution.
pub fn render_file(path: &Path, choice: FrameChoice) -> Result<Image8, PixelError> {
    render_file_windowed(path, choice, None)
}

/// Like [`render_file`], greyscale images windowed with `window` when given.
pub fn render_file_windowed(
    path: &Path,
    choice: FrameChoice,
    window: Option<Window>,
) -> Result<Image8, PixelError> {
    render_file_at(path, choice, window, Resolution::Full)
}

/// Like [`render_file_windowed`], decoded at `resolution` (smaller where the codec can: what a
/// thumbnail or a scaled view needs), within the decode budget.
pub fn render_file_at(
    path: &Path,
    choice: FrameChoice,
    window: Option<Window>,
    resolution: Resolution,
) -> Result<Image8, PixelError> {
    let file = lightbox_dicom::read_file(path, lightbox_dicom::ReadMode::Header)?;
    let raw = frame::read_frame_at(&file, path, choice, resolution)?;
    pipeline::to_8bit_windowed(&file.dataset, raw, window)
}
