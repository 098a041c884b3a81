//! Files in and out: uploads from the page (DICOM files and zip archives, streamed to disk),
//! import jobs of paths on the server, and zip downloads of a patient, study or series.

use super::{blocking, Body};
use crate::query::pairs;
use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use lightbox_core::export::{self, ExportError, Naming, Plan, Selection};
use lightbox_core::import::{self, ImportOptions, ImportProgress, Ingested};
use lightbox_core::jobs::{JobSpec, NewJob};
use lightbox_core::store::Store;
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// The largest upload taken, per file.
pub const UPLOAD_LIMIT: usize = 2 << 30;

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("uploads are limited to {} GiB per file", UPLOAD_LIMIT >> 30),
    )
}

/// One uploaded file. Its name is only a label in reports: nothing is ever written under a
/// name the client chose.
pub async fn upload(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let name = pairs(raw.as_deref())?
        .into_iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v)
        .unwrap_or_else(|| "upload".into());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > UPLOAD_LIMIT as u64) {
        return Err(too_large());
    }
    let store = state.store.clone();
    let scratch = store.tmp_dir();
    let tmp = blocking("upload scratch", move || {
        tempfile::NamedTempFile::new_in(scratch)
            .map_err(|e| ApiError::internal("upload scratch", e))
    })
    .await?;
    let mut file = tokio::fs::File::from_std(
        tmp.reopen()
            .map_err(|e| ApiError::internal("upload scratch", e))?,
    );
    let mut body = request.into_body().into_data_stream();
    let mut received: usize = 0;
    while let Some(chunk) = body.next().await {
        let chunk: Bytes =
            chunk.map_err(|_| ApiError::bad_request("the upload was interrupted"))?;
        received += chunk.len();
        if received > UPLOAD_LIMIT {
            return Err(too_large());
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal("writing an upload", e))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::internal("writing an upload", e))?;
    drop(file);
    let indexer = state.indexer.clone();
    blocking("storing an upload", move || {
        let (mut stored, mut duplicates, mut skipped) = (0u64, 0u64, Vec::new());
        if import::is_zip(tmp.path()) {
            let scratch = tmp.path().display().to_string();
            let report = import::import(
                &store,
                &[tmp.path().to_path_buf()],
                &ImportOptions::default(),
                &ImportProgress::default(),
            )
            .map_err(|e| ApiError::internal("importing an upload", e))?;
            stored = report.imported;
            duplicates = report.duplicates;
            for s in report.skipped {
                // The archive's scratch path means nothing to the user (and is no business of
                // theirs): name the upload, and the entry (`archive!entry`) when there is one.
                let shown = match s.path.strip_prefix(&scratch) {
                    Some(entry) if entry.starts_with('!') => format!("{name}: {}", &entry[1..]),
                    Some(_) => name.clone(),
                    None => format!("{name}: {}", s.path),
                };
                skipped.push(json!({ "name": shown, "reason": s.reason }));
            }
        } else {
            match indexer.ingest(tmp, &format!("upload {name}")) {
                Ok(placed) if placed.outcome == Ingested::Duplicate => duplicates += 1,
                Ok(_) => stored += 1,
                Err(s) => skipped.push(json!({ "name": name, "reason": s.reason })),
            }
            indexer.flush();
        }
        Ok(Json(json!({
            "stored": stored,
            "duplicates": duplicates,
            "skipped": skipped,
        })))
    })
    .await
}

#[derive(Deserialize)]
pub struct ImportRequest {
    paths: Vec<PathBuf>,
    #[serde(default)]
    link: bool,
}

/// An import job of paths on the server.
pub async fn import(
    State(state): State<AppState>,
    Body(request): Body<ImportRequest>,
) -> Result<Json<Value>, ApiError> {
    let engine = state.engine()?.clone();
    if request.paths.is_empty() {
        return Err(ApiError::bad_request("give a path to import").with_field("paths"));
    }
    for path in &request.paths {
        if !path.is_absolute() {
            return Err(ApiError::bad_request(format!(
                "{}: give an absolute path on the server",
                path.display()
            ))
            .with_field("paths"));
        }
        if !path.exists() {
            return Err(ApiError::bad_request(format!(
                "{}: no such file or folder",
                path.display()
            ))
            .with_field("paths"));
        }
    }
    let spec = JobSpec::Import {
        paths: request.paths,
        link: request.link,
    };
    let submitted = blocking("submitting an import", move || {
        engine
            .submit(NewJob::new(spec))
            .map_err(|e| ApiError::internal("job queue", e))
    })
    .await?;
    Ok(Json(
        json!({ "id": submitted.id, "merged": submitted.merged }),
    ))
}

/// The selection of a download: `patient`, `study` and `series` (each repeatable), and
/// `dicomdir=1` for media names and a DICOMDIR.
fn download_plan(store: &Store, raw: Option<&str>) -> Result<Plan, ApiError> {
    let mut selection = Selection::default();
    let mut naming = Naming::Readable;
    for (key, value) in pairs(raw)? {
        match key.as_str() {
            "patient" => selection.patients.push(value),
            "study" => selection.studies.push(value),
            "series" => selection.series.push(value),
            "dicomdir" if matches!(value.as_str(), "1" | "true" | "yes") => naming = Naming::Media,
            _ => {}
        }
    }
    export::plan(store, &selection, naming).map_err(|e| match e {
        ExportError::NothingSelected | ExportError::PatientPattern(_) => {
            ApiError::bad_request(e.to_string())
        }
        ExportError::NotFound { .. } => ApiError::not_found(e.to_string()),
        other => ApiError::internal("planning a download", other),
    })
}

/// Hands what the zip writer produces to the response body, in pieces; fails once the client
/// has gone, which stops the writer.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    pending: Vec<u8>,
}

const PIECE: usize = 256 << 10;

impl ChannelWriter {
    fn send_pending(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.pending, Vec::with_capacity(PIECE));
        self.tx
            .blocking_send(Ok(Bytes::from(piece)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= PIECE {
            self.send_pending()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send_pending()
    }
}

/// A zip of the files, streamed as it is written (stored as they are: DICOM files rarely
/// shrink much). A file that cannot be read mid-way ends the stream with an error, so the client
/// sees a broken download rather than a short archive that looks whole.
pub async fn download(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let plan = {
        let store = store.clone();
        blocking("listing a download", move || {
            download_plan(&store, raw.as_deref())
        })
        .await?
    };
    let archive = plan.name.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let errors = tx.clone();
        let out = ChannelWriter {
            tx,
            pending: Vec::with_capacity(PIECE),
        };
        let written = export::to_zip(&store, &plan, out).and_then(|mut out| {
            out.flush().map_err(|source| ExportError::Io {
                path: plan.name.clone().into(),
                source,
            })
        });
        match written {
            Err(ExportError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => {
                tracing::warn!(error = %e, "zip download broke off");
                let _ = errors.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
            Ok(()) => {}
        }
    });
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{archive}.zip\""),
            ),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response())
}
