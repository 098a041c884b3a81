//! STOW-RS: `POST /studies[/{study}]` with `multipart/related; type="application/dicom"`. The
//! body is parsed as it arrives, each part streamed to a temporary file in the store's scratch
//! space, then taken through the same ingest path as the storage listener. The response lists
//! what was stored (ReferencedSOPSequence) and what was not, with the reason
//! (FailedSOPSequence): 200 when everything was stored, 202 when some parts failed, 409 when
//! none was stored.

use crate::{ApiError, AppState};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use lightbox_core::dicom::{read_file, tag, ReadMode};
use lightbox_core::import::{self, Ingested};
use serde_json::{json, Value};
use std::io::Write;

/// Headers of one part may not be longer than this.
const MAX_PART_HEADERS: usize = 16 << 10;

/// Failure reasons (PS3.4 C.4.2.1.4 and PS3.18 Table 10.5.3-1).
const PROCESSING_FAILURE: u16 = 0x0110;
const CANNOT_UNDERSTAND: u16 = 0xC000;
const STUDY_MISMATCH: u16 = 0xA900;

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
    let unsupported = || {
        ApiError::unsupported_media_type(
            "STOW-RS takes multipart/related; type=\"application/dicom\"",
        )
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unsupported)?;
    let mut fields = content_type.split(';').map(str::trim);
    if !fields
        .next()
        .is_some_and(|m| m.eq_ignore_ascii_case("multipart/related"))
    {
        return Err(unsupported());
    }
    let mut boundary = None;
    for field in fields {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "type" if !value.eq_ignore_ascii_case("application/dicom") => return Err(unsupported()),
            "boundary" => boundary = Some(value.to_string()),
            _ => {}
        }
    }
    boundary
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| ApiError::bad_request("multipart/related without a valid boundary"))
}

enum Phase {
    Preamble,
    AfterDelimiter,
    Headers,
    Body,
    Done,
}

/// An incremental multipart parser writing each part's body to a temporary file.
struct Parts {
    delimiter: Vec<u8>,
    buffer: Vec<u8>,
    state: Phase,
    scratch: std::path::PathBuf,
    current: Option<(tempfile::NamedTempFile, String)>,
    finished: Vec<(tempfile::NamedTempFile, String)>,
}

/// Where a part's headers end: (their length, the bytes to skip after them). A part without
/// headers starts with the blank line at once.
fn header_end(buffer: &[u8]) -> Option<(usize, usize)> {
    if buffer.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    find(buffer, b"\r\n\r\n").map(|at| (at, 4))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Parts {
    fn new(boundary: &str, scratch: std::path::PathBuf) -> Parts {
        Parts {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            // The first delimiter has no line break before it: supply one.
            buffer: b"\r\n".to_vec(),
            state: Phase::Preamble,
            scratch,
            current: None,
            finished: Vec::new(),
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        self.buffer.extend_from_slice(chunk);
        loop {
            match self.state {
                Phase::Preamble => match find(&self.buffer, &self.delimiter) {
                    Some(at) => {
                        self.buffer.drain(..at + self.delimiter.len());
                        self.state = Phase::AfterDelimiter;
                    }
                    None => {
                        let keep = self.delimiter.len().min(self.buffer.len());
                        self.buffer.drain(..self.buffer.len() - keep);
                        return Ok(());
                    }
                },
                Phase::AfterDelimiter => {
                    if self.buffer.len() < 2 {
                        return Ok(());
                    }
                    if self.buffer.starts_with(b"--") {
                        self.state = Phase::Done;
                    } else if self.buffer.starts_with(b"\r\n") {
                        self.buffer.drain(..2);
                        self.state = Phase::Headers;
                    } else {
                        return Err(ApiError::bad_request("malformed multipart delimiter"));
                    }
                }
                Phase::Headers => match header_end(&self.buffer) {
                    Some((at, skip)) => {
                        let head = String::from_utf8_lossy(&self.buffer[..at]).to_string();
                        self.buffer.drain(..at + skip);
                        let content_type = head
                            .lines()
                            .filter_map(|l| l.split_once(':'))
                            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
                            .map(|(_, v)| v.trim().to_string())
                            .unwrap_or_else(|| "application/dicom".into());
                        let file = tempfile::NamedTempFile::new_in(&self.scratch)
                            .map_err(|e| ApiError::internal("creating a scratch file", e))?;
                        self.current = Some((file, content_type));
                        self.state = Phase::Body;
                    }
                    None if self.buffer.len() > MAX_PART_HEADERS => {
                        return Err(ApiError::bad_request("part headers too long"))
                    }
                    None => return Ok(()),
                },
                Phase::Body => {
                    let (file, _) = self.current.as_mut().expect("a part is open in its body");
                    let write = |file: &mut tempfile::NamedTempFile, bytes: &[u8]| {
                        file.as_file_mut()
                            .write_all(bytes)
                            .map_err(|e| ApiError::internal("writing a scratch file", e))
                    };
                    match find(&self.buffer, &self.delimiter) {
                        Some(at) => {
                            write(file, &self.buffer[..at])?;
                            self.buffer.drain(..at + self.delimiter.len());
                            let part = self.current.take().expect("an open part");
                            self.finished.push(part);
                            self.state = Phase::AfterDelimiter;
                        }
                        None => {
                            // Keep what could be the start of a delimiter.
                            let keep = (self.delimiter.len() - 1).min(self.buffer.len());
                            let upto = self.buffer.len() - keep;
                            write(file, &self.buffer[..upto])?;
                            self.buffer.drain(..upto);
                            return Ok(());
                        }
                    }
                }
                Phase::Done => {
                    self.buffer.clear();
                    return Ok(());
                }
            }
        }
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
    store: &lightbox_core::store::Store,
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
    match import::ingest(store, file, source) {
        Ok(Ingested::Stored) | Ok(Ingested::Duplicate) => Outcome::Stored {
            class: class.unwrap_or_default(),
            instance: instance.unwrap_or_default(),
            study: this_study.unwrap_or_default(),
            series: series.unwrap_or_default(),
        },
        Err(skipped) => Outcome::Failed {
            class,
            instance,
            reason: if skipped.reason.starts_with("cannot store") {
                PROCESSING_FAILURE
            } else {
                CANNOT_UNDERSTAND
            },
            why: skipped.reason,
        },
    }
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
    let mut parts = Parts::new(&boundary, state.store.tmp_dir());
    let mut stream = body.into_data_stream();
    let mut outcomes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("reading the request: {e}")))?;
        parts.feed(&chunk)?;
        // Store each part as soon as it is complete.
        for (file, content_type) in std::mem::take(&mut parts.finished) {
            let store = state.store.clone();
            let study = study.clone();
            outcomes.push(
                tokio::task::spawn_blocking(move || {
                    ingest_part(&store, file, &content_type, study.as_deref(), "STOW-RS")
                })
                .await
                .map_err(|e| ApiError::internal("storing a part", e))?,
            );
        }
    }
    if !matches!(parts.state, Phase::Done) {
        return Err(ApiError::bad_request(
            "the multipart body ended before its closing delimiter",
        ));
    }
    let base = format!("{}/dicom-web", state.origin);
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
                eprintln!("http: STOW-RS: a part was not stored: {why}");
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts split at every possible chunk boundary come out whole.
    #[test]
    fn parts_survive_any_chunking() {
        let body = b"preamble\r\n--XyZ\r\nContent-Type: application/dicom\r\n\r\nfirst\r\n--XyZ\r\n\r\nsec\r\n--Xy\r\n--XyZ--\r\nepilogue";
        for size in 1..body.len() {
            let dir = tempfile::tempdir().unwrap();
            let mut parts = Parts::new("XyZ", dir.path().to_path_buf());
            for chunk in body.chunks(size) {
                parts.feed(chunk).unwrap();
            }
            assert!(matches!(parts.state, Phase::Done), "chunk size {size}");
            let bodies: Vec<Vec<u8>> = parts
                .finished
                .iter()
                .map(|(f, _)| std::fs::read(f.path()).unwrap())
                .collect();
            assert_eq!(
                bodies,
                [b"first".to_vec(), b"sec\r\n--Xy".to_vec()],
                "chunk size {size}"
            );
            assert_eq!(parts.finished[0].1, "application/dicom");
        }
    }
}
