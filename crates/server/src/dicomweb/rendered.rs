//! WADO-RS frames (decoded, `application/octet-stream`), rendered images and thumbnails
//! (PNG, or JPEG when the client prefers it; `viewport=width,height` scales to fit).

use super::multipart::{self, Part};
use crate::{ApiError, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lightbox_core::dicom::{read_file, ReadMode};
use lightbox_core::model::InstanceSummary;
use lightbox_core::render::{self, frame, thumbnail, FrameChoice, Image8};

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

fn render_error(e: render::RenderError) -> ApiError {
    match e {
        render::RenderError::NoPixelData => ApiError::not_found("the instance has no pixel data"),
        render::RenderError::Invalid(m) if m.starts_with("frame ") => ApiError::not_found(m),
        other => ApiError::internal("rendering", other),
    }
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
        .to_ascii_lowercase();
    if !(accept.contains("application/octet-stream")
        || accept.contains("*/*")
        || accept.contains("multipart/*"))
    {
        return Err(ApiError::not_acceptable(
            "frames are served decoded, as multipart/related; type=\"application/octet-stream\"",
        ));
    }
    let indexes = frame_list(&list)?;
    let summary = instance(&state, &study, &series, &uid)?;
    let path = state.store.resolve(&summary.file_path);
    let frames = tokio::task::spawn_blocking(move || -> Result<Vec<Vec<u8>>, ApiError> {
        let file = read_file(&path, ReadMode::Header)
            .map_err(|e| ApiError::internal("reading a stored instance", e))?;
        indexes
            .into_iter()
            .map(|i| {
                let raw =
                    frame::read_frame(&file, &path, FrameChoice::Index(i)).map_err(render_error)?;
                Ok(little_endian(raw))
            })
            .collect()
    })
    .await
    .map_err(|e| ApiError::internal("frames task", e))??;
    let boundary = multipart::boundary();
    let content_type =
        format!("multipart/related; type=\"application/octet-stream\"; boundary={boundary}");
    let body = multipart::body(boundary, move |tx| async move {
        for bytes in frames {
            let part = Part::Bytes {
                content_type: "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
                    .into(),
                bytes,
            };
            if tx.send(part).await.is_err() {
                return;
            }
        }
    });
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response())
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
    if png_first {
        return Ok((thumbnail::encode_png(image), "image/png"));
    }
    let color = match image.channels {
        1 => image::ExtendedColorType::L8,
        3 => image::ExtendedColorType::Rgb8,
        4 => image::ExtendedColorType::Rgba8,
        n => return Err(ApiError::internal("encoding JPEG", format!("{n} channels"))),
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
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
    let path = state.store.resolve(&summary.file_path);
    let image =
        tokio::task::spawn_blocking(move || render::render_file_windowed(&path, choice, window))
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
        .unwrap_or("");
    if !accept.is_empty()
        && !accept.contains("image/png")
        && !accept.contains("*/*")
        && !accept.contains("image/*")
    {
        return Err(ApiError::not_acceptable("series thumbnails are image/png"));
    }
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "image/png")], png).into_response())
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
