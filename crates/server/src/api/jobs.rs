//! The jobs panel: list, details with the log, submit, cancel, retry, priority, clear.

use super::{blocking, Body};
use crate::query::pairs;
use crate::{ApiError, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use lightbox_core::jobs::{DeleteTarget, JobFilter, JobKind, JobSpec, NewJob, Subject};
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
        let subject = local_subject(&store, &job.spec).or(about);
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

/// The patient, study and series of a job, as far as the local index knows them.
fn local_subject(store: &lightbox_core::store::Store, spec: &JobSpec) -> Subject {
    let (study_uid, series_uid) = match spec {
        JobSpec::Retrieve {
            study_uid,
            series_uid,
            ..
        } => (Some(study_uid.clone()), series_uid.clone()),
        JobSpec::Send {
            study_uid,
            series_uid,
            ..
        } => (study_uid.clone(), series_uid.clone()),
        JobSpec::Thumbnail { series_uid, .. } => (None, Some(series_uid.clone())),
        JobSpec::Delete {
            target: DeleteTarget::Study(uid),
        } => (Some(uid.clone()), None),
        JobSpec::Delete {
            target: DeleteTarget::Series(uid),
        } => (None, Some(uid.clone())),
        _ => (None, None),
    };
    let index = store.index();
    let series = series_uid.and_then(|uid| index.series(&uid).ok().flatten());
    let study = study_uid
        .or_else(|| series.as_ref().map(|s| s.study_uid.clone()))
        .and_then(|uid| index.study(&uid).ok().flatten());
    let (patient_name, study_date, study_description) = match study {
        Some(s) => (Some(s.patient_name), s.study_date, s.study_description),
        None => (None, None, None),
    };
    let (series_number, series_description, modality) = match series {
        Some(s) => (
            s.series_number.map(|n| n.to_string()),
            s.series_description,
            s.modality,
        ),
        None => (None, None, None),
    };
    Subject {
        patient_name,
        study_date,
        study_description,
        series_number,
        series_description,
        modality,
    }
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
