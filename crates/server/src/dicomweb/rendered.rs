//! WADO-RS frames (decoded, `application/octet-stream`), rendered images and thumbnails
//! (PNG, or JPEG when the client prefers it; `viewport=width,height` scales to fit).

use super::multipart::{self, Part};
use crate::{ApiError, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lightbox_core::model::InstanceSummary;
use lightbox_core::render::{self, thumbnail, FrameChoice, Image8, PixelError};
use lightbox_dicom::pixel::frame;
use lightbox_dicom::ReadMode;

fn instance(
    state: &AppState,
    study: &str,
    series: &str,
    uid: &str,
) -> Result<InstanceSummary, ApiError> {
    state
        .store
        .index()
        .instance(uid)
        .map_err(|e| ApiError::internal("reading the index", e))?
        .filter(|i| i.study_uid == study && i.series_uid == series)
        .ok_or_else(|| ApiError::not_found("no such instance"))
}

/// `1,3,5` → 0-based indexes, refusing anything else.
fn frame_list(list: &str) -> Result<Vec<u32>, ApiError> {
    list.split(',')
        .map(|f| match f.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n - 1),
            _ => Err(ApiError::bad_request(format!(
                "frame {f:?}: frames are numbered from 1"
            ))),
        })
        .collect()
}

fn render_error(e: PixelError) -> ApiError {
    match e {
        PixelError::NoPixelData => ApiError::not_found("the instance has no pixel data"),
        e @ PixelError::NoSuchFrame { .. } => ApiError::not_found(e.to_string()),
        e @ PixelError::OverBudget { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        e @ PixelError::BudgetBusy { .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        other => ApiError::internal("rendering", other),
    }
}

/// How frames leave: decoded to native little endian samples, or as stored (the compressed
/// codestream) under a media type.
enum FrameForm {
    Decoded,
    AsStored { content_type: String },
}

/// The media types of a compressed transfer syntax's frames (PS3.18 table 8.7.3-2), the
/// standard's first.
fn frame_media_types(transfer_syntax: &str) -> &'static [&'static str] {
    match transfer_syntax {
        "1.2.840.10008.1.2.4.50"
        | "1.2.840.10008.1.2.4.51"
        | "1.2.840.10008.1.2.4.57"
        | "1.2.840.10008.1.2.4.70" => &["image/jpeg"],
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => &["image/jls", "image/x-jls"],
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => &["image/jp2"],
        "1.2.840.10008.1.2.4.92" | "1.2.840.10008.1.2.4.93" => &["image/jpx"],
        "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202" | "1.2.840.10008.1.2.4.203" => {
            &["image/jphc"]
        }
        "1.2.840.10008.1.2.5" => &["image/dicom-rle", "image/x-dicom-rle"],
        _ => &[],
    }
}

/// Chooses the form from the Accept header, in the client's order: a compressed frame goes as
/// stored when the client names its media type, or takes any syntax (`transfer-syntax=*`);
/// otherwise it is decoded to `application/octet-stream` (Explicit VR Little Endian samples).
fn frame_form(accept: &str, stored_syntax: &str, compressed: bool) -> Result<FrameForm, ApiError> {
    let stored_types = frame_media_types(stored_syntax);
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let base = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut media = base.clone();
        let mut syntax: Option<String> = None;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"').to_string();
            match key.trim().to_ascii_lowercase().as_str() {
                "type" if base == "multipart/related" => media = value.to_ascii_lowercase(),
                "transfer-syntax" => syntax = Some(value),
                _ => {}
            }
        }
        let any_syntax = syntax.as_deref() == Some("*");
        let stored_syntax_named = syntax.as_deref() == Some(stored_syntax);
        match media.as_str() {
            "application/octet-stream" | "*/*" | "multipart/related" | "multipart/*" => {
                if compressed && (any_syntax || stored_syntax_named) {
                    return Ok(FrameForm::AsStored {
                        content_type: format!(
                            "application/octet-stream; transfer-syntax={stored_syntax}"
                        ),
                    });
                }
                let native = matches!(
                    syntax.as_deref(),
                    None | Some("*") | Some("1.2.840.10008.1.2.1")
                );
                if native {
                    return Ok(FrameForm::Decoded);
                }
            }
            image
                if compressed
                    && stored_types.contains(&image)
                    && (syntax.is_none() || any_syntax || stored_syntax_named) =>
            {
                return Ok(FrameForm::AsStored {
                    content_type: format!("{image}; transfer-syntax={stored_syntax}"),
                });
            }
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(if compressed {
        format!(
            "frames of this instance are served decoded (application/octet-stream) or as stored ({})",
            stored_types.first().copied().unwrap_or("application/octet-stream; transfer-syntax=*")
        )
    } else {
        "frames of this instance are served as application/octet-stream".to_string()
    }))
}

pub async fn frames(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((study, series, uid, list)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*")
        .to_string();
    let indexes = frame_list(&list)?;
    let summary = instance(&state, &study, &series, &uid)?;
    let stored_syntax = summary.transfer_syntax.clone();
    let store = state.store.clone();
    let stored_path = summary.file_path.clone();
    let size = summary.file_size.max(0) as u64;
    // Read by byte ranges: an instance in an object store and not cached on this node gives
    // its header and the frames asked for, not the whole object.
    let (frames, content_type) =
        tokio::task::spawn_blocking(move || -> Result<(Vec<Vec<u8>>, String), ApiError> {
            let source = || {
                store
                    .byte_source(&stored_path, size)
                    .map_err(|e| ApiError::internal("reading a stored instance", e))
            };
            let file = lightbox_dicom::parse::parse(&mut source()?, ReadMode::Header)
                .map_err(|e| ApiError::internal("reading a stored instance", e))?;
            let first = *indexes.first().unwrap_or(&0);
            let compressed = frame::compressed_frame_from(&file, source()?, first)
                .map_err(render_error)?
                .is_some();
            match frame_form(&accept, &stored_syntax, compressed)? {
                FrameForm::Decoded => {
                    let frames = indexes
                        .into_iter()
                        .map(|i| {
                            let raw = frame::read_frame_from(
                                &file,
                                source()?,
                                FrameChoice::Index(i),
                                lightbox_dicom::pixel::Resolution::Full,
                            )
                            .map_err(render_error)?;
                            Ok(little_endian(raw))
                        })
                        .collect::<Result<_, ApiError>>()?;
                    Ok((
                        frames,
                        "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1".into(),
                    ))
                }
                FrameForm::AsStored { content_type } => {
                    let frames = indexes
                        .into_iter()
                        .map(|i| {
                            frame::compressed_frame_from(&file, source()?, i)
                                .map_err(render_error)?
                                .ok_or_else(|| ApiError::internal("frames", "not encapsulated"))
                        })
                        .collect::<Result<_, ApiError>>()?;
                    Ok((frames, content_type))
                }
            }
        })
        .await
        .map_err(|e| ApiError::internal("frames task", e))??;
    let boundary = multipart::boundary();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("application/octet-stream")
        .to_string();
    let response_type = format!("multipart/related; type=\"{media}\"; boundary={boundary}");
    let body = multipart::body(boundary, move |tx| async move {
        for bytes in frames {
            let part = Part::Bytes {
                content_type: content_type.clone(),
                bytes,
            };
            if tx.send(part).await.is_err() {
                return;
            }
        }
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, response_type)],
        body,
    )
        .into_response())
}

/// A decoded frame's samples in little endian, as native pixel data holds them.
fn little_endian(raw: frame::RawFrame) -> Vec<u8> {
    let mut bytes = raw.bytes;
    if raw.big_endian && raw.bytes_per_sample > 1 {
        for sample in bytes.chunks_exact_mut(raw.bytes_per_sample) {
            sample.reverse();
        }
    }
    bytes
}

/// PNG or JPEG, as the Accept header prefers (JPEG is the standard's default for rendered).
fn encode(
    image: &Image8,
    headers: &HeaderMap,
    default_jpeg: bool,
) -> Result<(Vec<u8>, &'static str), ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let png_first = match (accept.find("image/png"), accept.find("image/jpeg")) {
        (Some(p), Some(j)) => p < j,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None)
            if accept.is_empty() || accept.contains("*/*") || accept.contains("image/*") =>
        {
            !default_jpeg
        }
        (None, None) => {
            return Err(ApiError::not_acceptable(
                "rendered images are image/jpeg or image/png",
            ))
        }
    };
    encode_as(image, png_first, 90)
}

/// PNG, or JPEG at `quality` (1–100).
pub(crate) fn encode_as(
    image: &Image8,
    png: bool,
    quality: u8,
) -> Result<(Vec<u8>, &'static str), ApiError> {
    if png {
        return Ok((thumbnail::encode_png(image), "image/png"));
    }
    let color = match image.channels {
        1 => image::ExtendedColorType::L8,
        3 => image::ExtendedColorType::Rgb8,
        4 => image::ExtendedColorType::Rgba8,
        n => return Err(ApiError::internal("encoding JPEG", format!("{n} channels"))),
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
        .encode(&image.data, image.width, image.height, color)
        .map_err(|e| ApiError::internal("encoding JPEG", e))?;
    Ok((out, "image/jpeg"))
}

/// `viewport=width,height`: the largest size that fits, keeping the aspect ratio.
fn viewport(query: &Option<String>) -> Result<Option<u32>, ApiError> {
    for pair in query.as_deref().unwrap_or("").split('&') {
        if let Some(value) = pair.strip_prefix("viewport=") {
            let value = value.replace("%2C", ",").replace("%2c", ",");
            let mut dims = value.split(',').map(|d| d.trim().parse::<u32>());
            return match (dims.next(), dims.next()) {
                (Some(Ok(w)), Some(Ok(h))) if w > 0 && h > 0 => Ok(Some(w.min(h).min(4096))),
                _ => Err(ApiError::bad_request("viewport: expected width,height")),
            };
        }
    }
    Ok(None)
}

/// `window=center,width[,function]`: the VOI window to render greyscale images with.
pub(crate) fn window_param(query: Option<&str>) -> Result<Option<render::Window>, ApiError> {
    for (key, value) in crate::query::pairs(query)? {
        if key == "window" {
            return render::Window::parse(&value)
                .map(Some)
                .map_err(ApiError::bad_request);
        }
    }
    Ok(None)
}

async fn rendered(
    state: AppState,
    headers: HeaderMap,
    query: Option<String>,
    (study, series, uid): (String, String, String),
    choice: FrameChoice,
    default_size: Option<u32>,
) -> Result<Response, ApiError> {
    let size = viewport(&query)?.or(default_size);
    let window = window_param(query.as_deref())?;
    let summary = instance(&state, &study, &series, &uid)?;
    let path = state.stored_file(&summary.file_path).await?;
    let resolution = size.map_or(render::Resolution::Full, render::Resolution::AtLeast);
    let image = tokio::task::spawn_blocking(move || {
        render::render_file_at(&path, choice, window, resolution)
    })
    .await
    .map_err(|e| ApiError::internal("render task", e))?
    .map_err(render_error)?;
    let image = match size {
        Some(max) => thumbnail::fit(&image, max),
        None => image,
    };
    let (bytes, content_type) = encode(&image, &headers, default_size.is_none())?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        bytes,
    )
        .into_response())
}

pub async fn instance_rendered(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(ids): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    rendered(s, headers, q, ids, FrameChoice::Middle, None).await
}

pub async fn frame_rendered(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path((study, series, uid, frame)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let index = *frame_list(&frame)?
        .first()
        .ok_or_else(|| ApiError::bad_request("one frame"))?;
    rendered(
        s,
        headers,
        q,
        (study, series, uid),
        FrameChoice::Index(index),
        None,
    )
    .await
}

pub async fn instance_thumbnail(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(ids): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    rendered(
        s,
        headers,
        q,
        ids,
        FrameChoice::Middle,
        Some(thumbnail::DEFAULT_SIZE),
    )
    .await
}

/// The series' cached thumbnail (its middle instance).
pub async fn series_thumbnail(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path((study, series)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let known = state
        .store
        .index()
        .series(&series)
        .map_err(|e| ApiError::internal("reading the index", e))?
        .is_some_and(|s| s.study_uid == study);
    if !known {
        return Err(ApiError::not_found("no such series"));
    }
    let size = viewport(&q)?.unwrap_or(thumbnail::DEFAULT_SIZE);
    let store = state.store.clone();
    let png =
        tokio::task::spawn_blocking(move || thumbnail::series_thumbnail(&store, &series, size))
            .await
            .map_err(|e| ApiError::internal("thumbnail task", e))?
            .map_err(|e| ApiError::internal("making a thumbnail", e))?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let wants_png = accept.is_empty()
        || accept.contains("image/png")
            && accept.find("image/png") < accept.find("image/jpeg").or(Some(usize::MAX))
        || !accept.contains("image/jpeg") && (accept.contains("*/*") || accept.contains("image/*"));
    if wants_png {
        return Ok((StatusCode::OK, [(header::CONTENT_TYPE, "image/png")], png).into_response());
    }
    // The cache holds PNG; a client that takes only JPEG (OHIF's study panel) gets it re-encoded.
    let decoded = image::load_from_memory(&png).map_err(|e| ApiError::internal("thumbnail", e))?;
    let image = if decoded.color().has_color() {
        let rgb = decoded.to_rgb8();
        Image8 {
            width: rgb.width(),
            height: rgb.height(),
            channels: 3,
            data: rgb.into_raw(),
        }
    } else {
        let grey = decoded.to_luma8();
        Image8 {
            width: grey.width(),
            height: grey.height(),
            channels: 1,
            data: grey.into_raw(),
        }
    };
    let (bytes, content_type) = encode(&image, &headers, true)?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        bytes,
    )
        .into_response())
}

/// A study's thumbnail: that of its first series.
pub async fn study_thumbnail(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: RawQuery,
    Path(study): Path<String>,
) -> Result<Response, ApiError> {
    let first = state
        .store
        .index()
        .series_of_study(&study)
        .map_err(|e| ApiError::internal("reading the index", e))?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("no such study"))?;
    series_thumbnail(State(state), headers, q, Path((study, first.series_uid))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const JLS: &str = "1.2.840.10008.1.2.4.80";

    fn form(accept: &str, syntax: &str, compressed: bool) -> Option<String> {
        match frame_form(accept, syntax, compressed) {
            Ok(FrameForm::Decoded) => Some("decoded".into()),
            Ok(FrameForm::AsStored { content_type }) => Some(content_type),
            Err(_) => None,
        }
    }

    #[test]
    fn frames_are_decoded_unless_the_client_takes_them_as_stored() {
        let octet = "multipart/related; type=\"application/octet-stream\"";
        assert_eq!(form(octet, JLS, true).as_deref(), Some("decoded"));
        assert_eq!(
            form(&format!("{octet}; transfer-syntax=*"), JLS, true).as_deref(),
            Some("application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.80")
        );
        assert_eq!(
            form("multipart/related; type=\"image/jls\"", JLS, true).as_deref(),
            Some("image/jls; transfer-syntax=1.2.840.10008.1.2.4.80")
        );
        // A codec we would have to encode to is refused; the next choice is taken.
        assert_eq!(
            form("multipart/related; type=\"image/jp2\"", JLS, true),
            None
        );
        assert_eq!(
            form(
                &format!("multipart/related; type=\"image/jp2\", {octet}"),
                JLS,
                true
            )
            .as_deref(),
            Some("decoded")
        );
        // Native data is always decoded, whatever syntax is allowed.
        assert_eq!(
            form(
                &format!("{octet}; transfer-syntax=*"),
                "1.2.840.10008.1.2",
                false
            )
            .as_deref(),
            Some("decoded")
        );
        assert_eq!(form("*/*", JLS, true).as_deref(), Some("decoded"));
    }
}
