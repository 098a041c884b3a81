//! Remote searches for the browser: a query job on the node (so it shows in the jobs panel and
//! obeys the per-node caps), waited for, its matches returned in the local listings' shape.

use super::{blocking, Body};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lightbox_core::jobs::kinds::query::QueryOutput;
use lightbox_core::jobs::{JobRecord, JobSpec, JobState, NewJob, Priority, QuerySpec};
use lightbox_net::query::Match;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// The browser's filters, as the page sends them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Filters {
    patient_name: String,
    patient_id: String,
    date: String,
    modality: Vec<String>,
    study_description: String,
    accession: String,
}

/// A remote search finds what a local one does: text filters match anywhere in the value.
fn contains(text: &str) -> Option<String> {
    let text = text.trim();
    match text {
        "" => None,
        t if t.contains(['*', '?']) => Some(t.to_string()),
        t => Some(format!("*{t}*")),
    }
}

fn study_query(filters: &Filters) -> QuerySpec {
    QuerySpec {
        level: "study".into(),
        patient_name: contains(&filters.patient_name),
        patient_id: contains(&filters.patient_id),
        study_date: Some(filters.date.trim().to_string()).filter(|d| !d.is_empty()),
        modalities: filters
            .modality
            .iter()
            .map(|m| m.trim().to_uppercase())
            .filter(|m| !m.is_empty())
            .collect(),
        study_description: contains(&filters.study_description),
        accession_number: contains(&filters.accession),
        ..QuerySpec::default()
    }
}

#[derive(Deserialize)]
pub struct StudySearch {
    node: String,
    #[serde(default)]
    filters: Filters,
}

pub async fn studies(
    State(state): State<AppState>,
    Body(search): Body<StudySearch>,
) -> Result<Json<Value>, ApiError> {
    if !search.filters.date.trim().is_empty() {
        lightbox_core::index::DateRange::parse(&search.filters.date)
            .map_err(|e| ApiError::bad_request(e.to_string()).with_field("date"))?;
    }
    let query = study_query(&search.filters);
    let (job, rows) = run_query(&state, &search.node, query).await?;
    Ok(Json(json!({ "job": job, "studies": rows })))
}

#[derive(Deserialize)]
pub struct SeriesSearch {
    node: String,
    study: String,
}

pub async fn series(
    State(state): State<AppState>,
    Body(search): Body<SeriesSearch>,
) -> Result<Json<Value>, ApiError> {
    if search.study.trim().is_empty() {
        return Err(ApiError::bad_request("study: a Study Instance UID").with_field("study"));
    }
    let query = QuerySpec {
        level: "series".into(),
        study_uid: Some(search.study.trim().to_string()),
        ..QuerySpec::default()
    };
    let (job, rows) = run_query(&state, &search.node, query).await?;
    Ok(Json(json!({ "job": job, "series": rows })))
}

/// Queues the query at high priority and waits for it: its id and matches, or why it failed.
async fn run_query(
    state: &AppState,
    node_name: &str,
    query: QuerySpec,
) -> Result<(i64, Vec<Match>), ApiError> {
    let engine = state.engine()?.clone();
    let node = {
        let nodes = state.nodes.clone();
        let name = node_name.to_string();
        blocking("nodes", move || {
            nodes
                .resolve(&name)
                .map_err(|e| ApiError::bad_request(e.to_string()).with_field("node"))
        })
        .await?
    };
    if !node.query_retrieve {
        return Err(ApiError::bad_request(format!(
            "node {} is not enabled for query/retrieve",
            node.name
        ))
        .with_field("node"));
    }
    // Long enough for the node's own timeout and a retry after a dropped connection.
    let wait = node.timeout() * 2 + Duration::from_secs(10);
    let spec = JobSpec::Query {
        node: node.name.clone(),
        query,
        association: Default::default(),
    };
    let mut job: JobRecord = blocking("remote query", move || {
        let submitted = engine
            .submit(NewJob::new(spec).priority(Priority::High))
            .map_err(|e| ApiError::internal("job queue", e))?;
        engine
            .wait_for_attempt(submitted.id, wait)
            .map_err(|e| ApiError::internal("job queue", e))?
            .ok_or_else(|| ApiError::internal("job queue", "the query job vanished"))
    })
    .await?;
    match job.state {
        JobState::Completed => {
            let QueryOutput(rows) = job.take_output_as().unwrap_or_default();
            Ok((job.id, rows))
        }
        // Failed, or its first attempt did (said now, while the engine tries again). The page
        // names the node itself.
        state if state.is_finished() || state == JobState::WaitingRetry => {
            let reason = job
                .error
                .map(|e| e.message)
                .unwrap_or_else(|| "the query failed".into());
            let error = ApiError::new(StatusCode::BAD_GATEWAY, reason).with_job(job.id);
            Err(match state {
                JobState::WaitingRetry => error.retrying(),
                _ => error,
            })
        }
        _ => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "{} did not answer in time; the query goes on in the jobs panel",
                node.name
            ),
        )
        .with_job(job.id)),
    }
}
