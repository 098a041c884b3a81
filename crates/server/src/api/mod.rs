//! The JSON API of the web UI under `/api` (docs/api.md): the local store, remote queries, jobs,
//! nodes, uploads and server-sent events. Every long operation is a job of the engine, so the UI,
//! the CLI and a restart all see the same queue.

mod browse;
pub(crate) mod events;
mod jobs;
mod nodes;
mod remote;
mod routes;
mod transfer;

use crate::{ApiError, AppState};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use lightbox_core::jobs::Engine;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// JSON bodies of the API are small; uploads have their own, larger limit.
const JSON_BODY_LIMIT: usize = 1 << 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/status", get(status))
        .route("/studies", get(browse::studies))
        .route("/studies/{study}", get(browse::study))
        .route("/series/{series}", get(browse::series))
        .route("/series/{series}/instances", get(browse::instances))
        .route("/series/{series}/thumbnail", get(browse::thumbnail))
        .route("/series/{series}/image-sets", get(browse::image_sets))
        .route("/instances/{sop}/rendered", get(browse::rendered))
        .route("/instances/{sop}/metadata", get(browse::metadata))
        .route("/download", get(transfer::download))
        .route("/remote/studies", post(remote::studies))
        .route("/remote/series", post(remote::series))
        .route("/jobs", get(jobs::list).post(jobs::submit))
        .route("/jobs/clear", post(jobs::clear))
        .route("/jobs/{id}", get(jobs::show))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/jobs/{id}/priority", post(jobs::priority_of))
        .route("/nodes", get(nodes::list))
        .route("/nodes/{name}", put(nodes::put).delete(nodes::remove))
        .route("/routes", get(routes::list))
        .route("/routes/{name}", put(routes::put).delete(routes::remove))
        .route("/nodes/{name}/verify", post(nodes::verify))
        .route("/import", post(transfer::import))
        .route("/events", get(events::stream))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        // After the general limit, so that this route's own limit is the one that applies.
        .route(
            "/upload",
            post(transfer::upload).layer(DefaultBodyLimit::max(transfer::UPLOAD_LIMIT)),
        )
        .fallback(|| async { ApiError::not_found("no such API endpoint") })
}

/// A body declared larger than the limit is refused before a byte of it is read (the limit
/// itself stops bodies that do not say their length).
async fn refuse_declared_oversize(request: Request, next: axum::middleware::Next) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > JSON_BODY_LIMIT as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request bodies are limited to {} KiB here",
                JSON_BODY_LIMIT >> 10
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// A JSON body whose rejections (bad JSON, wrong content type, too large) are API errors.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}

impl AppState {
    fn engine(&self) -> Result<&Arc<Engine>, ApiError> {
        self.engine.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no job engine runs in this server",
            )
        })
    }
}

/// Runs a blocking call (index, files) on the blocking pool.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(what, e))?
}

async fn status(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let store = state.store.clone();
    let stats = blocking("store statistics", move || {
        store
            .index()
            .stats()
            .map_err(|e| ApiError::internal("reading the index", e))
    })
    .await?;
    Ok(Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "ae_title": state.listener.as_ref().map(|l| l.ae_title.clone()),
        "dimse": state.listener.as_ref().map(|l| serde_json::json!({
            "address": l.address,
            "running": true,
        })),
        "http": state.origin(&headers),
        "jobs": state.engine.is_some(),
        "store": stats,
    })))
}
