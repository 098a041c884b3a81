//! The jobs panel: list, details with the log, submit, cancel, retry, priority, clear.

use super::{blocking, Body};
use crate::query::pairs;
use crate::{ApiError, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use lightbox_core::jobs::{JobFilter, JobKind, JobSpec, NewJob, ParentFilter, Subject};
use lightbox_core::jobs::{JobId, JobState, Priority};
use serde::Deserialize;
use serde_json::{json, Value};

fn engine_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal("job queue", e)
}

fn priority(text: &str) -> Result<Priority, ApiError> {
    Priority::parse(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "priority {text:?}: lowest, low, normal, high or highest"
        ))
    })
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let engine = state.engine()?.clone();
    let mut filter = JobFilter {
        limit: Some(100),
        ..JobFilter::default()
    };
    for (key, value) in pairs(raw.as_deref())? {
        match key.as_str() {
            "state" => filter.states.push(
                JobState::parse(&value)
                    .ok_or_else(|| ApiError::bad_request(format!("state {value:?}: unknown")))?,
            ),
            "kind" => {
                filter.kind = Some(
                    JobKind::parse(&value)
                        .ok_or_else(|| ApiError::bad_request(format!("kind {value:?}: unknown")))?,
                )
            }
            "node" if !value.is_empty() => filter.node = Some(value),
            "text" if !value.trim().is_empty() => filter.text = Some(value),
            // `top`: activities only (jobs of no other job); an ID: the jobs of that activity.
            "parent" => {
                filter.parent = match value.as_str() {
                    "top" => ParentFilter::TopLevel,
                    id => ParentFilter::Of(
                        id.parse()
                            .map_err(|_| ApiError::bad_request("parent: \"top\" or a job ID"))?,
                    ),
                }
            }
            "limit" => {
                let limit: u64 = value
                    .parse()
                    .map_err(|_| ApiError::bad_request("limit: a number"))?;
                filter.limit = Some(limit.clamp(1, 1000));
            }
            "offset" => {
                filter.offset = value
                    .parse()
                    .map_err(|_| ApiError::bad_request("offset: a number"))?
            }
            _ => {}
        }
    }
    let (jobs, total) = blocking("job list", move || {
        engine.list(&filter).map_err(engine_error)
    })
    .await?;
    Ok(Json(json!({ "total": total, "jobs": jobs })))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<JobId>,
) -> Result<Json<Value>, ApiError> {
    let engine = state.engine()?.clone();
    blocking("job", move || {
        let job = engine
            .get(id)
            .map_err(engine_error)?
            .ok_or_else(|| ApiError::not_found("no such job"))?;
        let log = engine.log(id).map_err(engine_error)?;
        let mut shown = json!(job);
        shown["log"] = json!(log);
        Ok(Json(shown))
    })
    .await
}

#[derive(Deserialize)]
pub struct Submission {
    spec: JobSpec,
    #[serde(default)]
    priority: Option<String>,
    /// What the page knows of the job's patient, study and series (of remote data, which the
    /// index cannot name), for its title.
    #[serde(default)]
    about: Subject,
}

pub async fn submit(
    State(state): State<AppState>,
    Body(submission): Body<Submission>,
) -> Result<Json<Value>, ApiError> {
    let engine = state.engine()?.clone();
    check_spec(&state, &submission.spec)?;
    let mut job = NewJob::new(submission.spec);
    if let Some(p) = &submission.priority {
        job = job.priority(priority(p)?);
    }
    let store = state.store.clone();
    let about = submission.about;
    let submitted = blocking("submitting a job", move || {
        // What the index knows first, then what the page said.
        let subject = Subject::local(store.index().as_ref(), &job.spec).or(about);
        let job = NewJob {
            title: Some(job.spec.title_about(&subject)),
            ..job
        };
        engine.submit(job).map_err(engine_error)
    })
    .await?;
    Ok(Json(
        json!({ "id": submitted.id, "merged": submitted.merged }),
    ))
}

/// Refuses, before queueing, what could only fail: unknown nodes, empty targets.
fn check_spec(state: &AppState, spec: &JobSpec) -> Result<(), ApiError> {
    if let Some(node) = spec.node() {
        state
            .nodes
            .resolve(node)
            .map_err(|e| ApiError::bad_request(e.to_string()).with_field("node"))?;
    }
    match spec {
        JobSpec::Send {
            study_uid: None,
            series_uid: None,
            paths,
            ..
        } if paths.is_empty() => Err(ApiError::bad_request(
            "send: name a study, a series or files",
        )),
        JobSpec::Receive { .. } => Err(ApiError::bad_request(
            "receive: the storage listener records these, they cannot be submitted",
        )),
        JobSpec::Import { paths, .. } if paths.is_empty() => {
            Err(ApiError::bad_request("import: name at least one path").with_field("paths"))
        }
        _ => Ok(()),
    }
}

async fn act(
    state: AppState,
    id: JobId,
    action: impl FnOnce(&lightbox_core::jobs::Engine, JobId) -> Result<bool, ApiError> + Send + 'static,
) -> Result<Json<Value>, ApiError> {
    let engine = state.engine()?.clone();
    blocking("job action", move || {
        if engine.get(id).map_err(engine_error)?.is_none() {
            return Err(ApiError::not_found("no such job"));
        }
        let ok = action(&engine, id)?;
        Ok(Json(json!({ "ok": ok })))
    })
    .await
}

pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<JobId>,
) -> Result<Json<Value>, ApiError> {
    act(state, id, |engine, id| {
        engine.cancel(id).map_err(engine_error)
    })
    .await
}

pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<JobId>,
) -> Result<Json<Value>, ApiError> {
    act(state, id, |engine, id| {
        engine.retry(id).map_err(engine_error)
    })
    .await
}

#[derive(Deserialize)]
pub struct NewPriority {
    priority: String,
}

pub async fn priority_of(
    State(state): State<AppState>,
    Path(id): Path<JobId>,
    Body(body): Body<NewPriority>,
) -> Result<Json<Value>, ApiError> {
    let p = priority(&body.priority)?;
    act(state, id, move |engine, id| {
        engine.set_priority(id, p).map_err(engine_error)
    })
    .await
}

pub async fn clear(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let engine = state.engine()?.clone();
    let cleared = blocking("clearing jobs", move || {
        engine.clear_finished().map_err(engine_error)
    })
    .await?;
    Ok(Json(json!({ "cleared": cleared })))
}
