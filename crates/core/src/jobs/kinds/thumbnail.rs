//! `thumbnail`: the cached thumbnail of a local series.

use crate::jobs::runner::{explain, storage, LocalRunner};
use crate::jobs::{FailureCategory, JobFailure};
use crate::render::thumbnail::{series_thumbnail, ThumbnailError};
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
    let png = series_thumbnail(&runner.store, series_uid, size).map_err(|e| match e {
        // The instance itself cannot be shown (undecodable, beyond the decode budget).
        e @ ThumbnailError::Render { .. } => JobFailure::new(FailureCategory::Input, explain(&e)),
        other => storage(other),
    })?;
    Ok(ThumbnailOutput {
        series_uid: series_uid.to_string(),
        size,
        bytes: png.len(),
    })
}
