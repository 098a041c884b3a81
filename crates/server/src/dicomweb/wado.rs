//! WADO-RS: instances as `multipart/related; type="application/dicom"` (as stored, or decoded
//! to Explicit VR Little Endian, the default), metadata in the DICOM JSON model with bulk data
//! URIs, and the bulk data they point to.

use super::multipart::{self, Part};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lightbox_core::model::InstanceSummary;
use lightbox_dicom::meta::part10_header;
use lightbox_dicom::transfer_syntax::{EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN};
use lightbox_dicom::{json, transcode, DataSet, ReadMode, Tag, Value};

/// The transfer syntax a client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Wanted {
    /// `transfer-syntax=*`: as stored.
    AsStored,
    Syntax(String),
}

/// Reads the Accept header of a retrieval of instances.
fn wanted(headers: &HeaderMap) -> Result<Wanted, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*");
    for range in accept.split(',') {
        let mut fields = range.split(';').map(str::trim);
        let media = fields.next().unwrap_or("").to_ascii_lowercase();
        let params: Vec<(String, String)> = fields
            .filter_map(|f| f.split_once('='))
            .map(|(k, v)| {
                (
                    k.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_string(),
                )
            })
            .collect();
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let dicom_type = param("type").is_none_or(|t| t.eq_ignore_ascii_case("application/dicom"));
        if (media == "multipart/related" && dicom_type) || media == "*/*" || media == "multipart/*"
        {
            return Ok(match param("transfer-syntax").as_deref() {
                None => Wanted::Syntax(EXPLICIT_VR_LITTLE_ENDIAN.into()),
                Some("*") => Wanted::AsStored,
                Some(ts) => Wanted::Syntax(ts.to_string()),
            });
        }
    }
    Err(ApiError::not_acceptable(format!(
        "{accept}: instances are served as multipart/related; type=\"application/dicom\""
    )))
}

fn index_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal("reading the index", e)
}

/// The instances of a study, a series or one instance, checking that the path's UIDs agree.
fn instances(
    state: &AppState,
    study: &str,
    series: Option<&str>,
    instance: Option<&str>,
) -> Result<Vec<InstanceSummary>, ApiError> {
    let index = state.store.index();
    let found: Vec<InstanceSummary> = match (series, instance) {
        (Some(series), Some(uid)) => index
            .instance(uid)
            .map_err(index_error)?
            .filter(|i| i.series_uid == series)
            .into_iter()
            .collect(),
        (Some(series), None) => index.instances_of_series(series).map_err(index_error)?,
        (None, _) => {
            let mut all = Vec::new();
            for s in index.series_of_study(study).map_err(index_error)? {
                all.extend(
                    index
                        .instances_of_series(&s.series_uid)
                        .map_err(index_error)?,
                );
            }
            all
        }
    };
    let found: Vec<InstanceSummary> = found.into_iter().filter(|i| i.study_uid == study).collect();
    if found.is_empty() {
        return Err(ApiError::not_found("no such study, series or instance"));
    }
    Ok(found)
}

async fn retrieve(
    state: AppState,
    headers: HeaderMap,
    study: String,
    series: Option<String>,
    instance: Option<String>,
) -> Result<Response, ApiError> {
    let wanted = wanted(&headers)?;
    let all = instances(&state, &study, series.as_deref(), instance.as_deref())?;
    if let Wanted::Syntax(ts) = &wanted {
        if ts != EXPLICIT_VR_LITTLE_ENDIAN && ts != IMPLICIT_VR_LITTLE_ENDIAN {
            // Served only when every instance is stored in it.
            if all.iter().any(|i| &i.transfer_syntax != ts) {
                return Err(ApiError::not_acceptable(format!(
                    "transfer syntax {ts}: instances are served as stored (transfer-syntax=*), or in Explicit or Implicit VR Little Endian"
                )));
            }
        }
    }
    let boundary = multipart::boundary();
    let content_type =
        format!("multipart/related; type=\"application/dicom\"; boundary={boundary}");
    let store = state.store.clone();
    let body = multipart::body(boundary, move |tx| async move {
        for summary in all {
            let store = store.clone();
            let wanted = wanted.clone();
            let part = tokio::task::spawn_blocking(move || prepare(&store, &summary, &wanted))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
            match part {
                Ok(part) => {
                    if tx.send(part).await.is_err() {
                        return;
                    }
                }
                // The status is sent already: the part is left out, and the server says why.
                Err(reason) => tracing::warn!(%reason, "WADO-RS: an instance was left out"),
            }
        }
    });
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// One instance as a part: its file as stored, or decoded into a temporary Part 10 file.
fn prepare(
    store: &lightbox_core::store::Store,
    summary: &InstanceSummary,
    wanted: &Wanted,
) -> Result<Part, String> {
    let path = store
        .local_path(&summary.file_path)
        .map_err(|e| format!("reading instance {}: {e}", summary.sop_instance_uid))?;
    let target = match wanted {
        Wanted::AsStored => None,
        Wanted::Syntax(ts) if *ts == summary.transfer_syntax => None,
        Wanted::Syntax(ts) => Some(ts.clone()),
    };
    let Some(ts) = target else {
        return Ok(Part::File {
            path,
            content_type: format!(
                "application/dicom; transfer-syntax={}",
                summary.transfer_syntax
            ),
            _keep: None,
        });
    };
    let mut tmp = tempfile::NamedTempFile::new_in(store.tmp_dir()).map_err(|e| e.to_string())?;
    let header = part10_header(
        summary.sop_class_uid.as_deref().unwrap_or(""),
        &summary.sop_instance_uid,
        &ts,
        None,
    );
    std::io::Write::write_all(tmp.as_file_mut(), &header).map_err(|e| e.to_string())?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        transcode::to_native(&path, &ts, &mut out).map_err(|e| e.to_string())?;
        std::io::Write::flush(&mut out).map_err(|e| e.to_string())?;
    }
    Ok(Part::File {
        path: tmp.path().to_path_buf(),
        content_type: format!("application/dicom; transfer-syntax={ts}"),
        _keep: Some(tmp),
    })
}

pub async fn study(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(study): Path<String>,
) -> Result<Response, ApiError> {
    retrieve(s, headers, study, None, None).await
}

pub async fn series(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((study, series)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    retrieve(s, headers, study, Some(series), None).await
}

pub async fn instance(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((study, series, instance)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    retrieve(s, headers, study, Some(series), Some(instance)).await
}

/// `http://host:port/dicom-web`, for bulk data URIs.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    format!("{}/dicom-web", state.origin(headers))
}

async fn metadata(
    state: AppState,
    headers: HeaderMap,
    study: String,
    series: Option<String>,
    instance: Option<String>,
) -> Result<Response, ApiError> {
    let all = instances(&state, &study, series.as_deref(), instance.as_deref())?;
    let base = base_url(&state, &headers);
    let store = state.store.clone();
    let body = tokio::task::spawn_blocking(move || {
        let mut out = Vec::with_capacity(all.len());
        for summary in all {
            // By ranges where this node has no copy: metadata leaves bulk data where it is.
            let file = store
                .read_instance(
                    &summary.file_path,
                    summary.file_size.max(0) as u64,
                    ReadMode::Full,
                )
                .map_err(|e| ApiError::internal("reading a stored instance", e))?;
            let prefix = format!(
                "{base}/studies/{}/series/{}/instances/{}/bulk",
                summary.study_uid, summary.series_uid, summary.sop_instance_uid
            );
            let uri = |tags: &[Tag]| {
                let path: Vec<String> = tags.iter().map(|t| t.hex()).collect();
                format!("{prefix}/{}", path.join("/"))
            };
            out.push(json::to_json(&file, &uri));
        }
        serde_json::to_vec(&out).map_err(|e| ApiError::internal("writing JSON", e))
    })
    .await
    .map_err(|e| ApiError::internal("metadata task", e))??;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/dicom+json")],
        body,
    )
        .into_response())
}

pub async fn study_metadata(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(study): Path<String>,
) -> Result<Response, ApiError> {
    metadata(s, headers, study, None, None).await
}

pub async fn series_metadata(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((study, series)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    metadata(s, headers, study, Some(series), None).await
}

pub async fn instance_metadata(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((study, series, instance)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    metadata(s, headers, study, Some(series), Some(instance)).await
}

/// The element a bulk data URI's tag path names: the first match in nested items.
fn find<'a>(ds: &'a DataSet, path: &[Tag]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let element = ds.get(*first)?;
    if rest.is_empty() {
        return Some(&element.value);
    }
    match &element.value {
        Value::Sequence(items) => items.iter().find_map(|item| find(item, rest)),
        _ => None,
    }
}

/// The bytes of one bulk data element, as `multipart/related; type="application/octet-stream"`.
pub async fn bulk(
    State(state): State<AppState>,
    Path((study, series, instance, path)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let tags = path
        .split('/')
        .map(|t| {
            Tag::from_hex(t).ok_or_else(|| ApiError::bad_request(format!("{t:?} is not a tag")))
        })
        .collect::<Result<Vec<Tag>, ApiError>>()?;
    let summary = instances(&state, &study, Some(&series), Some(&instance))?.remove(0);
    let store = state.store.clone();
    // Large values stay where they are stored (the parser leaves them there) and leave in
    // pieces: from the file, or, for an object this node holds no copy of, by ranged reads of
    // the data set and of the value asked for, not a fetch of the whole object.
    let part = tokio::task::spawn_blocking(move || -> Result<Part, ApiError> {
        let stored_path = summary.file_path;
        let unreadable = |e: &dyn std::fmt::Display| {
            ApiError::internal("reading a stored instance", e.to_string())
        };
        let file = store
            .read_instance(
                &stored_path,
                summary.file_size.max(0) as u64,
                ReadMode::Full,
            )
            .map_err(|e| unreadable(&e))?;
        let content_type = "application/octet-stream".to_string();
        match find(&file.dataset, &tags) {
            Some(Value::Bytes(bytes)) => Ok(Part::Bytes {
                content_type,
                bytes: bytes.clone(),
            }),
            Some(Value::Deferred(span)) => match &file.inflated {
                // A deflated data set is whole in memory already.
                Some(inflated) => {
                    let (start, length) = (span.offset as usize, span.length as usize);
                    inflated
                        .get(start..start + length)
                        .map(|bytes| Part::Bytes {
                            content_type,
                            bytes: bytes.to_vec(),
                        })
                        .ok_or_else(|| ApiError::internal("bulk data", "span out of range"))
                }
                None if store.has_local_file(&stored_path) => Ok(Part::Span {
                    path: store.local_path(&stored_path).map_err(|e| unreadable(&e))?,
                    offset: span.offset,
                    length: span.length,
                    content_type,
                }),
                None => Ok(Part::StoredSpan {
                    store,
                    stored_path,
                    offset: span.offset,
                    length: span.length,
                    content_type,
                }),
            },
            Some(Value::Encapsulated { .. }) => Err(ApiError::not_acceptable(
                "compressed pixel data: retrieve the instance or its frames",
            )),
            Some(Value::Sequence(_)) | None => Err(ApiError::not_found("no such bulk data")),
        }
    })
    .await
    .map_err(|e| ApiError::internal("bulk task", e))??;
    let boundary = multipart::boundary();
    let content_type =
        format!("multipart/related; type=\"application/octet-stream\"; boundary={boundary}");
    let body = multipart::body(boundary, move |tx| async move {
        let _ = tx.send(part).await;
    });
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response())
}
