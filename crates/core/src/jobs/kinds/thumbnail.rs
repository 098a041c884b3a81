//! `thumbnail`: the cached thumbnail of a local series.

use crate::jobs::runner::{storage, LocalRunner};
use crate::jobs::JobFailure;
use crate::render::thumbnail::series_thumbnail;
use serde::{Deserialize, Serialize};

/// The thumbnail size made for new series (the UI's medium tiles).
pub const THUMBNAIL_SIZE: u32 = 128;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThumbnailOutput {
    pub series_uid: String,
    pub size: u32,
    /// The size of the PNG.
    pub bytes: usize,
}

pub(crate) fn run(
    runner: &LocalRunner,
    series_uid: &str,
    size: u32,
) -> Result<ThumbnailOutput, JobFailure> {
    let png = series_thumbnail(&runner.store, series_uid, size).map_err(storage)?;
    Ok(ThumbnailOutput {
        series_uid: series_uid.to_string(),
        size,
        bytes: png.len(),
    })
}
