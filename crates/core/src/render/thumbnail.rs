//! Series thumbnails: the middle instance (by Instance Number), its middle frame, at most N pixels
//! on the long side, cached on disk per series revision; typed placeholders for non-image series.
//! An image set of a series has its own: the middle instance along the set's normal.

use super::{font, render_file_at, FrameChoice, Image8, PixelError, Resolution};
use crate::index::IndexError;
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::io;

pub const DEFAULT_SIZE: u32 = 256;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThumbnailError {
    #[error("no series {0} in the store")]
    UnknownSeries(String),
    #[error("series {0} has no instances")]
    EmptySeries(String),
    #[error("series {series_uid} has no image set {set} (it has {sets})")]
    UnknownImageSet {
        series_uid: String,
        set: usize,
        sets: usize,
    },
    /// The series' middle instance could not be rendered (named by its UID: where the store
    /// keeps its file is no business of whoever asked).
    #[error("cannot render instance {sop_instance_uid}")]
    Render {
        sop_instance_uid: String,
        source: PixelError,
    },
    /// The middle instance's bytes could not be read (from its file or the object store).
    #[error("cannot read instance {sop_instance_uid}")]
    Read {
        sop_instance_uid: String,
        source: io::Error,
    },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("thumbnail cache: {0}")]
    Io(#[from] io::Error),
}

/// Scales to fit in `max`×`max`, keeping the aspect ratio (never enlarging).
pub fn fit(image: &Image8, max: u32) -> Image8 {
    let (w, h) = (image.width, image.height);
    if w <= max && h <= max {
        return image.clone();
    }
    let scale = max as f64 / w.max(h) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    );
    let data = if image.channels == 1 {
        let buf = image::GrayImage::from_raw(w, h, image.data.clone())
            .expect("size checked by the renderer");
        image::imageops::thumbnail(&buf, nw, nh).into_raw()
    } else {
        let buf = image::RgbImage::from_raw(w, h, image.data.clone())
            .expect("size checked by the renderer");
        image::imageops::thumbnail(&buf, nw, nh).into_raw()
    };
    Image8 {
        width: nw,
        height: nh,
        channels: image.channels,
        data,
    }
}

pub fn encode_png(image: &Image8) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    );
    let colour = if image.channels == 1 {
        image::ExtendedColorType::L8
    } else {
        image::ExtendedColorType::Rgb8
    };
    encoder
        .write_image(&image.data, image.width, image.height, colour)
        .expect("encoding to memory cannot fail for a consistent image");
    out
}

/// What a non-image series is, from its SOP Class (or modality), for its placeholder label.
pub fn non_image_label(
    sop_class_uid: Option<&str>,
    modality: Option<&str>,
) -> Option<&'static str> {
    let uid = sop_class_uid.unwrap_or("");
    let storage = "1.2.840.10008.5.1.4.1.1.";
    let label = match uid.strip_prefix(storage) {
        Some("88.59") => "KO",
        Some(s) if s.starts_with("88.") => "SR",
        Some("66.4") => "SEG",
        Some("66.1") | Some("66.3") => "REG",
        Some("66") => "RAW",
        Some("481.3") => "RTSTRUCT",
        Some("481.5") | Some("481.8") => "RTPLAN",
        Some("481.4") | Some("481.6") | Some("481.7") => "RTRECORD",
        Some(s) if s.starts_with("11.") => "PR",
        Some(s) if s.starts_with("9.1.") => "ECG",
        Some(s) if s.starts_with("9.") => "WAVEFORM",
        Some("104.1") => "PDF",
        Some("104.2") => "CDA",
        Some(s) if s.starts_with("104.") => "DOC",
        _ => match modality {
            Some("SR") => "SR",
            Some("KO") => "KO",
            Some("PR") => "PR",
            Some("SEG") => "SEG",
            Some("RTSTRUCT") => "RTSTRUCT",
            Some("RTPLAN") => "RTPLAN",
            Some("ECG") => "ECG",
            Some("DOC") => "DOC",
            _ => return None,
        },
    };
    Some(label)
}

/// A typed placeholder tile: the label on a colour that tells the kinds apart at a glance.
pub fn placeholder(label: &str, size: u32) -> Image8 {
    let background: [u8; 3] = match label {
        "SR" | "KO" | "DOC" | "PDF" | "CDA" => [0x2E, 0x4A, 0x7A],
        "SEG" | "REG" | "RAW" => [0x3E, 0x6B, 0x3A],
        "PR" => [0x6B, 0x4A, 0x2E],
        "ECG" | "WAVEFORM" => [0x7A, 0x2E, 0x3E],
        s if s.starts_with("RT") => [0x5A, 0x3A, 0x6E],
        _ => [0x44, 0x44, 0x44],
    };
    let mut data = Vec::with_capacity((size * size * 3) as usize);
    for _ in 0..size * size {
        data.extend_from_slice(&background);
    }
    let scale = (size / (label.len() as u32 * 6 + 4)).clamp(1, size / 12 + 1);
    font::draw_centered(&mut data, size, size, label, scale, [0xF0, 0xF0, 0xF0]);
    Image8 {
        width: size,
        height: size,
        channels: 3,
        data,
    }
}

/// The shared cache entry of a thumbnail, relative to the data directory, and the folder of
/// its series' entries: per series, revision, size and (for an image set's) set.
fn cache_path(series_uid: &str, revision: i64, size: u32, set: Option<usize>) -> (String, String) {
    let key = hex::encode(&Sha256::digest(series_uid.as_bytes())[..16]);
    let dir = format!("thumbnails/{}/{key}", &key[..2]);
    let set = set.map(|n| format!("-s{n}")).unwrap_or_default();
    (format!("{dir}/r{revision}-{size}{set}.png"), dir)
}

/// The PNG thumbnail of a series, from the cache when the series has not changed since.
pub fn series_thumbnail(
    store: &Store,
    series_uid: &str,
    size: u32,
) -> Result<Vec<u8>, ThumbnailError> {
    cached_thumbnail(store, series_uid, size, None)
}

/// The PNG thumbnail of image set `set` of a series (as [`crate::image_sets::of_series`]
/// orders them), cached like the series' own.
pub fn image_set_thumbnail(
    store: &Store,
    series_uid: &str,
    set: usize,
    size: u32,
) -> Result<Vec<u8>, ThumbnailError> {
    cached_thumbnail(store, series_uid, size, Some(set))
}

fn cached_thumbnail(
    store: &Store,
    series_uid: &str,
    size: u32,
    set: Option<usize>,
) -> Result<Vec<u8>, ThumbnailError> {
    let size = size.clamp(16, 1024);
    let index = store.index();
    let revision = index
        .series_revision(series_uid)?
        .ok_or_else(|| ThumbnailError::UnknownSeries(series_uid.into()))?;
    let (path, series_dir) = cache_path(series_uid, revision, size, set);
    if let Some(png) = store.read_shared(&path)? {
        return Ok(png);
    }
    let series = index
        .series(series_uid)?
        .ok_or_else(|| ThumbnailError::UnknownSeries(series_uid.into()))?;
    let instances = index.instances_of_series(series_uid)?;
    let middle = match set {
        None => instances.get(instances.len() / 2),
        Some(n) => {
            let sets = crate::image_sets::of_series(store, series_uid)?;
            let chosen = sets.get(n).ok_or_else(|| ThumbnailError::UnknownImageSet {
                series_uid: series_uid.into(),
                set: n,
                sets: sets.len(),
            })?;
            let uid = chosen.middle();
            instances.iter().find(|i| i.sop_instance_uid == uid)
        }
    }
    .ok_or_else(|| ThumbnailError::EmptySeries(series_uid.into()))?;
    let label = non_image_label(middle.sop_class_uid.as_deref(), series.modality.as_deref());
    let image = match label {
        Some(label) => placeholder(label, size),
        None => match render_file_at(
            &store
                .local_path(&middle.file_path)
                .map_err(|source| ThumbnailError::Read {
                    sop_instance_uid: middle.sop_instance_uid.clone(),
                    source,
                })?,
            FrameChoice::Middle,
            None,
            Resolution::AtLeast(size),
        ) {
            Ok(image) => fit(&image, size),
            Err(PixelError::NoPixelData) => {
                placeholder(series.modality.as_deref().unwrap_or("DOC"), size)
            }
            Err(source) => {
                return Err(ThumbnailError::Render {
                    sop_instance_uid: middle.sop_instance_uid.clone(),
                    source,
                })
            }
        },
    };
    let png = encode_png(&image);
    write_cache(store, &path, &series_dir, revision, &png)?;
    Ok(png)
}

/// Writes the cache entry and drops the series' entries of other revisions (any size).
fn write_cache(
    store: &Store,
    path: &str,
    series_dir: &str,
    revision: i64,
    png: &[u8],
) -> io::Result<()> {
    store.write_shared(path, png)?;
    let current = format!("{series_dir}/r{revision}-");
    let entry_prefix = format!("{series_dir}/r");
    for name in store.list_shared(series_dir)? {
        // Only finished entries of other revisions: a name without the pattern may be another
        // thread's entry being written (its temporary file).
        let stale = name.starts_with(&entry_prefix)
            && name.ends_with(".png")
            && !name.starts_with(&current);
        if stale {
            let _ = store.delete_shared(&name);
        }
    }
    Ok(())
}
