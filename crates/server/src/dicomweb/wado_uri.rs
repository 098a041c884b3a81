//! WADO-URI (PS3.18 chapter 9), for legacy clients: `GET /wado?requestType=WADO&studyUID=…&
//! seriesUID=…&objectUID=…` answers the stored instance (`contentType=application/dicom`) or one
//! frame rendered (`image/jpeg`, the default for images, or `image/png`), with `frameNumber`,
//! `rows`/`columns` (the largest size), `windowCenter`/`windowWidth` and `imageQuality`.
//! A request this server cannot answer as asked (de-identified, another transfer syntax, a
//! region) is refused with the reason rather than answered otherwise.

use super::rendered::encode_as;
use crate::query::pairs;
use crate::{ApiError, AppState};
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lightbox_core::render::{self, thumbnail, FrameChoice, PixelError, Resolution};

/// What a WADO-URI request asks for.
#[derive(Debug, Default)]
struct WadoRequest {
    study: String,
    series: String,
    object: String,
    /// The media types acceptable, in the client's order.
    content_types: Vec<String>,
    frame: Option<u32>,
    rows: Option<u32>,
    columns: Option<u32>,
    window: Option<(f64, f64)>,
    quality: Option<u8>,
    transfer_syntax: Option<String>,
}

fn number<T: std::str::FromStr>(key: &'static str, value: &str) -> Result<T, ApiError> {
    value.trim().parse().map_err(|_| {
        ApiError::bad_request(format!("{key}: {value:?} is not a number")).with_field(key)
    })
}

fn parse(raw: Option<&str>) -> Result<WadoRequest, ApiError> {
    let mut request = WadoRequest::default();
    let (mut request_type, mut center, mut width) = (None, None, None);
    for (key, value) in pairs(raw)? {
        match key.as_str() {
            "requestType" => request_type = Some(value),
            "studyUID" => request.study = value,
            "seriesUID" => request.series = value,
            "objectUID" => request.object = value,
            "contentType" => {
                request.content_types = value
                    .split(',')
                    .map(|t| {
                        t.split(';')
                            .next()
                            .unwrap_or("")
                            .trim()
                            .to_ascii_lowercase()
                    })
                    .filter(|t| !t.is_empty())
                    .collect()
            }
            "frameNumber" => request.frame = Some(number("frameNumber", &value)?),
            "rows" => request.rows = Some(number("rows", &value)?),
            "columns" => request.columns = Some(number("columns", &value)?),
            "windowCenter" => center = Some(number::<f64>("windowCenter", &value)?),
            "windowWidth" => width = Some(number::<f64>("windowWidth", &value)?),
            "imageQuality" => request.quality = Some(number("imageQuality", &value)?),
            "transferSyntax" => request.transfer_syntax = Some(value.trim().to_string()),
            // Asked for de-identified data: never answer with the identified instance.
            "anonymize" => {
                return Err(ApiError::bad_request(
                    "anonymize: this server does not de-identify WADO-URI answers",
                )
                .with_field("anonymize"))
            }
            "region" => {
                return Err(ApiError::bad_request("region: not supported here").with_field("region"))
            }
            // The rest (charset, annotation, presentationUID, …) change nothing asked of us.
            _ => {}
        }
    }
    if request_type.as_deref() != Some("WADO") {
        return Err(ApiError::bad_request("requestType: must be WADO").with_field("requestType"));
    }
    for (name, value) in [
        ("studyUID", &request.study),
        ("seriesUID", &request.series),
        ("objectUID", &request.object),
    ] {
        if value.is_empty() {
            return Err(ApiError::bad_request(format!("{name}: required")).with_field(name));
        }
    }
    request.window = match (center, width) {
        (Some(c), Some(w)) if w >= 1.0 => Some((c, w)),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "windowCenter and windowWidth: both, with a width of at least 1",
            ))
        }
    };
    if request.frame == Some(0) {
        return Err(ApiError::bad_request("frameNumber: numbered from 1").with_field("frameNumber"));
    }
    if request.quality.is_some_and(|q| q == 0 || q > 100) {
        return Err(ApiError::bad_request("imageQuality: 1 to 100").with_field("imageQuality"));
    }
    Ok(request)
}

/// The form of the answer: the file, or a rendering (PNG or not).
enum Form {
    Dicom,
    Rendered { png: bool },
}

fn form(request: &WadoRequest, has_pixels: bool) -> Result<Form, ApiError> {
    // Without a contentType, an image is answered as JPEG and anything else as the file.
    if request.content_types.is_empty() {
        return Ok(if has_pixels {
            Form::Rendered { png: false }
        } else {
            Form::Dicom
        });
    }
    for media in &request.content_types {
        match media.as_str() {
            "application/dicom" => return Ok(Form::Dicom),
            "image/jpeg" | "image/*" | "*/*" if has_pixels => {
                return Ok(Form::Rendered { png: false })
            }
            "image/png" if has_pixels => return Ok(Form::Rendered { png: true }),
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(format!(
        "contentType {}: this object is answered as application/dicom{}",
        request.content_types.join(","),
        if has_pixels {
            ", image/jpeg or image/png"
        } else {
            ""
        }
    )))
}

pub async fn retrieve(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let request = parse(raw.as_deref())?;
    let summary = state
        .store
        .index()
        .instance(&request.object)
        .map_err(|e| ApiError::internal("reading the index", e))?
        .filter(|i| i.study_uid == request.study && i.series_uid == request.series)
        .ok_or_else(|| ApiError::not_found("no such instance in this study and series"))?;
    let path = state.stored_file(&summary.file_path).await?;
    let has_pixels = summary.rows.is_some_and(|r| r > 0);
    match form(&request, has_pixels)? {
        Form::Dicom => {
            if let Some(syntax) = &request.transfer_syntax {
                if *syntax != summary.transfer_syntax {
                    return Err(ApiError::not_acceptable(format!(
                        "transferSyntax {syntax}: the instance is stored as {}, and answered so",
                        summary.transfer_syntax
                    )));
                }
            }
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| ApiError::internal("reading a stored instance", e))?;
            Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/dicom")],
                bytes,
            )
                .into_response())
        }
        Form::Rendered { png } => {
            let choice = match request.frame {
                Some(n) => FrameChoice::Index(n - 1),
                None => FrameChoice::Index(0),
            };
            let window = request.window.map(|(center, width)| render::Window {
                center,
                width,
                function: render::VoiFunction::Linear,
            });
            let largest = match (request.rows, request.columns) {
                (Some(r), Some(c)) => Some(r.min(c)),
                (Some(n), None) | (None, Some(n)) => Some(n),
                (None, None) => None,
            }
            .map(|n| n.clamp(16, 4096));
            let resolution = largest.map_or(Resolution::Full, Resolution::AtLeast);
            let image = tokio::task::spawn_blocking(move || {
                render::render_file_at(&path, choice, window, resolution)
            })
            .await
            .map_err(|e| ApiError::internal("render task", e))?
            .map_err(|e| match e {
                PixelError::NoPixelData => {
                    ApiError::new(StatusCode::NOT_ACCEPTABLE, "no image in this instance")
                }
                other => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("cannot show this instance: {other}"),
                ),
            })?;
            let image = match largest {
                Some(max) => thumbnail::fit(&image, max),
                None => image,
            };
            let (bytes, content_type) = encode_as(&image, png, request.quality.unwrap_or(90))?;
            Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, content_type)],
                bytes,
            )
                .into_response())
        }
    }
}
