//! STOW-RS: `POST /studies[/{study}]` with `multipart/related; type="application/dicom"`. The
//! body is parsed as it arrives, each part streamed to a temporary file in the store's scratch
//! space, then taken through the same ingest path as the storage listener. The response lists
//! what was stored (ReferencedSOPSequence) and what was not, with the reason
//! (FailedSOPSequence): 200 when everything was stored, 202 when some parts failed, 409 when
//! none was stored. As for the storage listener, index entries are written in batches in the
//! background, and all of them before the response.

use crate::{ApiError, AppState};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use lightbox_core::import::{BackgroundIndexer, Ingested};
use lightbox_dicom::{read_file, tag, ReadMode};
use lightbox_net::dicomweb::multipart::{boundary_of, Splitter};
use serde_json::{json, Value};

/// Failure reasons (PS3.4 C.4.2.1.4 and PS3.18 Table 10.5.3-1).
const PROCESSING_FAILURE: u16 = 0x0110;
const CANNOT_UNDERSTAND: u16 = 0xC000;
const STUDY_MISMATCH: u16 = 0xA900;
/// Parts being stored while the body is read on.
const PARTS_IN_FLIGHT: usize = 8;
/// Parts one request may carry: what is stored of a request beyond this stays stored, and the
/// request is refused.
pub const MAX_PARTS: usize = 100_000;
/// A DICOM file is at least its preamble, magic and file meta group.
const MIN_PART_BYTES: u64 = 132;
/// How much of the body the multipart splitter takes at once.
const FEED_BYTES: usize = 4096;
/// Bytes one request may carry.
pub const MAX_BODY_BYTES: u64 = 64 << 30;

pub async fn store_any(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    store(state, headers, None, body).await
}

pub async fn store_in_study(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(study): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    store(state, headers, Some(study), body).await
}

/// The boundary of a `multipart/related; type="application/dicom"` request.
fn boundary(headers: &HeaderMap) -> Result<String, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match boundary_of(content_type) {
        Some((boundary, kind))
            if kind
                .as_deref()
                .is_none_or(|k| k.eq_ignore_ascii_case("application/dicom")) =>
        {
            Ok(boundary)
        }
        _ => Err(ApiError::unsupported_media_type(
            "STOW-RS takes multipart/related; type=\"application/dicom\" with a boundary",
        )),
    }
}

/// What became of one part.
enum Outcome {
    Stored {
        class: String,
        instance: String,
        study: String,
        series: String,
    },
    Failed {
        class: Option<String>,
        instance: Option<String>,
        reason: u16,
        why: String,
    },
}

fn ingest_part(
    indexer: &BackgroundIndexer,
    file: tempfile::NamedTempFile,
    content_type: &str,
    study: Option<&str>,
    source: &str,
) -> Outcome {
    let failed = |reason, why: String| Outcome::Failed {
        class: None,
        instance: None,
        reason,
        why,
    };
    if !content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/dicom"))
    {
        return failed(CANNOT_UNDERSTAND, format!("a part of type {content_type}"));
    }
    let header = match read_file(file.path(), ReadMode::Header) {
        Ok(h) => h,
        Err(e) => return failed(CANNOT_UNDERSTAND, e.to_string()),
    };
    let text = |t| header.dataset.first_text(t);
    let (class, instance) = (text(tag::SOP_CLASS_UID), text(tag::SOP_INSTANCE_UID));
    let (this_study, series) = (
        text(tag::STUDY_INSTANCE_UID),
        text(tag::SERIES_INSTANCE_UID),
    );
    drop(header);
    if let Some(wanted) = study {
        if this_study.as_deref() != Some(wanted) {
            return Outcome::Failed {
                class,
                instance,
                reason: STUDY_MISMATCH,
                why: format!("not an instance of study {wanted}"),
            };
        }
    }
    match indexer.ingest(file, source).map(|placed| placed.outcome) {
        Ok(Ingested::Stored) | Ok(Ingested::Duplicate) => Outcome::Stored {
            class: class.unwrap_or_default(),
            instance: instance.unwrap_or_default(),
            study: this_study.unwrap_or_default(),
            series: series.unwrap_or_default(),
        },
        Err(skipped) => Outcome::Failed {
            class,
            instance,
            reason: if skipped.store_failed {
                PROCESSING_FAILURE
            } else {
                CANNOT_UNDERSTAND
            },
            why: skipped.reason,
        },
    }
}

fn too_large(message: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message)
}

fn ui(value: &str) -> Value {
    json!({ "vr": "UI", "Value": [value] })
}

async fn store(
    state: AppState,
    headers: HeaderMap,
    study: Option<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let boundary = boundary(&headers)?;
    let mut parts = Splitter::new(&boundary, state.store.tmp_dir());
    let mut stream = body.into_data_stream();
    let mut outcomes = Vec::new();
    // Parts are stored on the blocking pool while the body goes on arriving; a few at a time,
    // in order, so that neither memory nor scratch space grows with the request.
    let mut storing = std::collections::VecDeque::new();
    let (mut parts_seen, mut bytes_seen) = (0usize, 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("reading the request: {e}")))?;
        bytes_seen += chunk.len() as u64;
        if bytes_seen > MAX_BODY_BYTES {
            return Err(too_large(format!(
                "a STOW-RS request may carry {} GiB at most",
                MAX_BODY_BYTES >> 30
            )));
        }
        // Fed a few kilobytes at a time, so that however small the parts, only a few dozen of
        // them wait as scratch files at once.
        for piece in chunk.chunks(FEED_BYTES) {
            parts
                .feed(piece)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            for (file, content_type) in parts.take_finished() {
                parts_seen += 1;
                if parts_seen > MAX_PARTS {
                    return Err(too_large(format!(
                        "a STOW-RS request may carry {MAX_PARTS} parts at most"
                    )));
                }
                // A part too short to be a DICOM file fails here, without a trip to the
                // blocking pool: a flood of empty parts costs little.
                if file
                    .as_file()
                    .metadata()
                    .map_or(true, |m| m.len() < MIN_PART_BYTES)
                {
                    outcomes.push(Outcome::Failed {
                        class: None,
                        instance: None,
                        reason: CANNOT_UNDERSTAND,
                        why: "a part too short to be a DICOM file".into(),
                    });
                    continue;
                }
                // Never more than a few parts on the blocking pool at once, however many one
                // chunk of the body finished.
                while storing.len() >= PARTS_IN_FLIGHT {
                    let oldest: tokio::task::JoinHandle<Outcome> =
                        storing.pop_front().expect("not empty");
                    outcomes.push(
                        oldest
                            .await
                            .map_err(|e| ApiError::internal("storing a part", e))?,
                    );
                }
                let indexer = state.indexer.clone();
                let study = study.clone();
                storing.push_back(tokio::task::spawn_blocking(move || {
                    ingest_part(&indexer, file, &content_type, study.as_deref(), "STOW-RS")
                }));
            }
        }
    }
    for part in storing {
        outcomes.push(
            part.await
                .map_err(|e| ApiError::internal("storing a part", e))?,
        );
    }
    // Everything stored is indexed before the answer goes out.
    let indexer = state.indexer.clone();
    tokio::task::spawn_blocking(move || indexer.flush())
        .await
        .map_err(|e| ApiError::internal("indexing", e))?;
    if !parts.is_complete() {
        return Err(ApiError::bad_request(
            "the multipart body ended before its closing delimiter",
        ));
    }
    let base = format!("{}/dicom-web", state.origin(&headers));
    let mut referenced = Vec::new();
    let mut failed = Vec::new();
    for outcome in &outcomes {
        match outcome {
            Outcome::Stored { class, instance, study, series } => referenced.push(json!({
                "00081150": ui(class),
                "00081155": ui(instance),
                "00081190": { "vr": "UR", "Value": [format!("{base}/studies/{study}/series/{series}/instances/{instance}")] },
            })),
            Outcome::Failed { class, instance, reason, why } => {
                tracing::debug!(reason = %why, "STOW-RS: a part was not stored");
                let mut item = serde_json::Map::new();
                if let Some(class) = class {
                    item.insert("00081150".into(), ui(class));
                }
                if let Some(instance) = instance {
                    item.insert("00081155".into(), ui(instance));
                }
                item.insert("00081197".into(), json!({ "vr": "US", "Value": [reason] }));
                failed.push(Value::Object(item));
            }
        }
    }
    if !failed.is_empty() {
        // One line for the request, however many parts failed.
        let first = outcomes.iter().find_map(|o| match o {
            Outcome::Failed { why, .. } => Some(why.as_str()),
            Outcome::Stored { .. } => None,
        });
        tracing::info!(
            failed = failed.len(),
            stored = referenced.len(),
            first_reason = first.unwrap_or_default(),
            "STOW-RS: parts not stored"
        );
    }
    let mut response = serde_json::Map::new();
    if let Some(study) = &study {
        response.insert(
            "00081190".into(),
            json!({ "vr": "UR", "Value": [format!("{base}/studies/{study}")] }),
        );
    }
    if !failed.is_empty() {
        response.insert("00081198".into(), json!({ "vr": "SQ", "Value": failed }));
    }
    if !referenced.is_empty() {
        response.insert(
            "00081199".into(),
            json!({ "vr": "SQ", "Value": referenced }),
        );
    }
    let status = match (referenced.is_empty(), failed.is_empty()) {
        (false, true) => StatusCode::OK,
        (false, false) => StatusCode::ACCEPTED,
        (true, _) => StatusCode::CONFLICT,
    };
    Ok((
        status,
        [(header::CONTENT_TYPE, "application/dicom+json")],
        serde_json::to_vec(&Value::Object(response))
            .map_err(|e| ApiError::internal("writing JSON", e))?,
    )
        .into_response())
}
