//! QIDO-RS: searches answered by the same matching engine as the C-FIND SCP (wildcards, date
//! and time ranges, UID lists, universal matching), in the DICOM JSON model.

use crate::query::decode;
use crate::{ApiError, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lightbox_core::scp::find as qr;
use lightbox_dicom::transfer_syntax::Encoding;
use lightbox_dicom::write::DataSetBuilder;
use lightbox_dicom::{dictionary, json, parse::read_dataset, tag, Tag, Vr};
use lightbox_net::query::{self, Level};
use std::collections::BTreeMap;

/// Matches returned when the client gives no limit; more are announced with a Warning.
const DEFAULT_LIMIT: usize = 1000;

pub async fn studies(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    search(s, Level::Study, &[], q).await
}

pub async fn all_series(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    search(s, Level::Series, &[], q).await
}

pub async fn all_instances(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    search(s, Level::Image, &[], q).await
}

pub async fn series_of_study(
    State(s): State<AppState>,
    Path(study): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    search(s, Level::Series, &[(tag::STUDY_INSTANCE_UID, study)], q).await
}

pub async fn instances_of_study(
    State(s): State<AppState>,
    Path(study): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    search(s, Level::Image, &[(tag::STUDY_INSTANCE_UID, study)], q).await
}

pub async fn instances_of_series(
    State(s): State<AppState>,
    Path((study, series)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let fixed = [
        (tag::STUDY_INSTANCE_UID, study),
        (tag::SERIES_INSTANCE_UID, series),
    ];
    search(s, Level::Image, &fixed, q).await
}

/// The parameters of a search, decoded from the query string.
struct Search {
    /// Matching keys and return keys (empty value) by tag.
    keys: BTreeMap<Tag, String>,
    limit: Option<usize>,
    offset: usize,
}

/// An attribute named by keyword (`PatientName`) or by tag (`00100010`).
fn attribute(name: &str) -> Option<Tag> {
    Tag::from_hex(name).or_else(|| dictionary::tag_of(name))
}

fn parse(level: Level, fixed: &[(Tag, String)], query: Option<String>) -> Result<Search, ApiError> {
    let mut keys: BTreeMap<Tag, String> = query::default_return_keys(level)
        .iter()
        .map(|t| (*t, String::new()))
        .collect();
    // Series and instance searches across studies name the study of each match.
    if level != Level::Study {
        keys.insert(tag::STUDY_INSTANCE_UID, String::new());
    }
    if level == Level::Image {
        keys.insert(tag::SERIES_INSTANCE_UID, String::new());
    }
    let mut search = Search {
        keys,
        limit: None,
        offset: 0,
    };
    let mut fuzzy = false;
    let mut matching = Vec::new();
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode(name)?, decode(value)?);
        match name.as_str() {
            "limit" => {
                search.limit = Some(value.parse().map_err(|_| {
                    ApiError::bad_request(format!("limit {value:?}: expected a number"))
                })?)
            }
            "offset" => {
                search.offset = value.parse().map_err(|_| {
                    ApiError::bad_request(format!("offset {value:?}: expected a number"))
                })?
            }
            "fuzzymatching" => fuzzy = value == "true",
            "includefield" => {
                for field in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    if field == "all" {
                        for level in [Level::Patient, Level::Study, Level::Series, Level::Image] {
                            for t in query::default_return_keys(level) {
                                search.keys.entry(*t).or_default();
                            }
                        }
                        continue;
                    }
                    let t = attribute(field).ok_or_else(|| {
                        ApiError::bad_request(format!("includefield: unknown attribute {field:?}"))
                    })?;
                    search.keys.entry(t).or_default();
                }
            }
            _ => {
                let t = attribute(&name).ok_or_else(|| {
                    ApiError::bad_request(format!("unknown attribute or parameter {name:?}"))
                })?;
                matching.push((t, value));
            }
        }
    }
    for (t, mut value) in matching {
        // Fuzzy matching of names: a name given without wildcards also matches as a prefix
        // (any case), so "smi" finds "Smith^John".
        if fuzzy && dictionary::implicit_vr(t) == Vr::PN && !value.contains(['*', '?']) {
            value.push('*');
        }
        search.keys.insert(t, value);
    }
    for (t, value) in fixed {
        search.keys.insert(*t, value.clone());
    }
    Ok(search)
}

async fn search(
    state: AppState,
    level: Level,
    fixed: &[(Tag, String)],
    query: Option<String>,
) -> Result<Response, ApiError> {
    let search = parse(level, fixed, query)?;
    let store = state.store.clone();
    let keys = search.keys.clone();
    let (offset, limit) = (search.offset, search.limit.unwrap_or(DEFAULT_LIMIT));
    let (matches, total) = tokio::task::spawn_blocking(move || {
        let mut identifier = DataSetBuilder::default();
        identifier.text(query::QUERY_RETRIEVE_LEVEL, level.as_str());
        for (t, value) in &keys {
            identifier.text(*t, value);
        }
        let encoding = Encoding::of(lightbox_dicom::transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN);
        let ds = read_dataset(&identifier.encode(encoding), encoding)
            .map_err(|e| ApiError::internal("encoding a query", e))?;
        qr::find_page(store.index().as_ref(), &ds, offset, limit).map_err(|e| match e {
            qr::FindError::Key { .. } | qr::FindError::Level => {
                ApiError::bad_request(e.to_string())
            }
            other => ApiError::internal("searching the index", other),
        })
    })
    .await
    .map_err(|e| ApiError::internal("search task", e))??;
    let encoding = Encoding::of(lightbox_dicom::transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN);
    let mut body = Vec::new();
    for m in matches {
        let mut ds = read_dataset(&m.encode(encoding), encoding)
            .map_err(|e| ApiError::internal("encoding a match", e))?;
        // The query level and the character set are C-FIND's; JSON is UTF-8.
        ds.elements.retain(|e| {
            e.tag != query::QUERY_RETRIEVE_LEVEL && e.tag != tag::SPECIFIC_CHARACTER_SET
        });
        body.push(json::dataset_to_json(&ds, &|_| String::new()));
    }
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/dicom+json")],
        serde_json::to_vec(&body).map_err(|e| ApiError::internal("writing JSON", e))?,
    )
        .into_response();
    if search.offset + limit < total {
        response.headers_mut().insert(
            header::WARNING,
            HeaderValue::from_static(
                "299 lightbox: There are additional results that can be requested",
            ),
        );
    }
    Ok(response)
}
