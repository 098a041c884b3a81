//! The nodes page: list, add or edit, remove, verify. Secrets never leave the server: listings
//! blank them, and an edit that leaves one blank keeps the stored one.

use super::{blocking, Body};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use lightbox_core::jobs::kinds::echo::EchoOutput;
use lightbox_core::jobs::{JobSpec, JobState, NewJob};
use lightbox_core::nodes::{Node, NodesError, WebAuth};
use serde_json::{json, Value};
use std::time::Duration;

fn nodes_error(e: NodesError) -> ApiError {
    match e {
        NodesError::Unknown(name) => ApiError::not_found(format!("no node named {name:?}")),
        NodesError::Invalid(message) => ApiError::bad_request(message),
        other => ApiError::internal("nodes", other),
    }
}

fn without_secrets(mut node: Node) -> Node {
    if let Some(web) = &mut node.dicomweb {
        match &mut web.auth {
            WebAuth::Basic { password, .. } => password.clear(),
            WebAuth::Bearer { token } => token.clear(),
            WebAuth::None => {}
        }
    }
    node
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Node>>, ApiError> {
    let nodes = state.nodes.clone();
    blocking("nodes", move || {
        Ok(Json(
            nodes
                .list()
                .map_err(nodes_error)?
                .into_iter()
                .map(without_secrets)
                .collect(),
        ))
    })
    .await
}

pub async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(mut node): Body<Node>,
) -> Result<Json<Node>, ApiError> {
    if node.name != name {
        return Err(
            ApiError::bad_request("the node's name differs from the address").with_field("name"),
        );
    }
    node.check_fields()
        .map_err(|(field, message)| ApiError::bad_request(message).with_field(field))?;
    let _one_at_a_time = state.nodes_lock.lock().await;
    let nodes = state.nodes.clone();
    blocking("saving a node", move || {
        let stored = nodes.list().map_err(nodes_error)?;
        let previous = stored.iter().find(|n| n.name == node.name);
        keep_blank_secrets(&mut node, previous);
        nodes.put(node.clone()).map_err(nodes_error)?;
        Ok(Json(without_secrets(node)))
    })
    .await
}

/// An edit form sends secrets blank (it never received them): keep the stored ones.
fn keep_blank_secrets(node: &mut Node, previous: Option<&Node>) {
    let Some(old) = previous.and_then(|p| p.dicomweb.as_ref()) else {
        return;
    };
    let Some(web) = &mut node.dicomweb else {
        return;
    };
    match (&mut web.auth, &old.auth) {
        (
            WebAuth::Basic { user, password },
            WebAuth::Basic {
                user: old_user,
                password: old_password,
            },
        ) if password.is_empty() && user == old_user => *password = old_password.clone(),
        (WebAuth::Bearer { token }, WebAuth::Bearer { token: old_token }) if token.is_empty() => {
            *token = old_token.clone()
        }
        _ => {}
    }
}

pub async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let _one_at_a_time = state.nodes_lock.lock().await;
    let nodes = state.nodes.clone();
    blocking("removing a node", move || {
        nodes.remove(&name).map_err(nodes_error)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// A C-ECHO (or, for a DICOMweb node, a request to its service) as an echo job at the highest
/// priority, waited for: its round trip or its reason.
pub async fn verify(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let engine = state.engine()?.clone();
    let node = {
        let nodes = state.nodes.clone();
        let name = name.clone();
        blocking("nodes", move || nodes.resolve(&name).map_err(nodes_error)).await?
    };
    let wait = node.timeout() + Duration::from_secs(5);
    blocking("verifying a node", move || {
        let submitted = engine
            .submit(
                NewJob::new(JobSpec::Echo {
                    node: name,
                    association: Default::default(),
                })
                .priority(lightbox_core::jobs::Priority::Highest)
                .max_retries(0),
            )
            .map_err(|e| ApiError::internal("job queue", e))?;
        let job = engine
            .wait(submitted.id, wait)
            .map_err(|e| ApiError::internal("job queue", e))?;
        Ok(Json(match job {
            Some(job) if job.state == JobState::Completed => json!({
                "ok": true,
                "job": job.id,
                "round_trip_ms": job.output_as::<EchoOutput>().map(|o| o.round_trip_ms),
            }),
            Some(job) if job.state.is_finished() => json!({
                "ok": false,
                "job": job.id,
                "error": job.error.map(|e| e.message).unwrap_or_else(|| "failed".into()),
            }),
            _ => json!({
                "ok": false,
                "job": submitted.id,
                "error": "no answer in time",
            }),
        }))
    })
    .await
}
