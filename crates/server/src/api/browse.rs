//! The local store: study search with the browser's filters, a study with its series, series
//! listings, thumbnails, rendered frames and the metadata tree.

use super::blocking;
use crate::query::pairs;
use crate::{ApiError, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lightbox_core::image_sets;
use lightbox_core::index::{
    DateRange, StudyColumn, StudyOrder, StudyQuery, TextPattern, BROWSE_COUNT_LIMIT,
};
use lightbox_core::render::{self, thumbnail, FrameChoice, ThumbnailError};
use lightbox_core::store::ReadInstanceError;
use lightbox_dicom::{dump, ReadMode};
use serde_json::{json, Value};

const DEFAULT_PAGE: u64 = 50;
const MAX_PAGE: u64 = 500;

/// A browser text filter: "contains" unless the user typed wildcards.
fn contains(text: &str) -> Option<TextPattern> {
    let text = text.trim();
    if text.contains(['*', '?']) {
        TextPattern::new(text)
    } else if text.is_empty() {
        None
    } else {
        TextPattern::new(&format!("*{text}*"))
    }
}

/// The filters of `GET /api/studies`.
pub(super) fn study_query(raw: Option<&str>) -> Result<StudyQuery, ApiError> {
    let mut query = StudyQuery {
        limit: Some(DEFAULT_PAGE),
        ids_ignore_case: true,
        count_limit: Some(BROWSE_COUNT_LIMIT),
        ..StudyQuery::default()
    };
    let mut descending = false;
    for (key, value) in pairs(raw)? {
        match key.as_str() {
            "patient_name" => query.patient_name = contains(&value),
            "patient_id" => query.patient_id = contains(&value),
            "study_description" => query.study_description = contains(&value),
            "series_description" => query.series_description = contains(&value),
            "accession" => query.accession_number = contains(&value),
            // Studies here with previews only too (the page asks which remote studies have any).
            "previews" => query.include_previews = value == "include",
            "study_uid" if !value.trim().is_empty() => {
                query.study_uids.push(value.trim().to_string())
            }
            "date" if value.trim().is_empty() => query.study_date = None,
            "date" => {
                query.study_date = Some(
                    DateRange::parse(&value)
                        .map_err(|e| ApiError::bad_request(e.to_string()).with_field("date"))?,
                )
            }
            "modality" => query.modalities.extend(
                value
                    .split([',', '\\'])
                    .map(|m| m.trim().to_uppercase())
                    .filter(|m| !m.is_empty()),
            ),
            "order" => {
                query.order = match value.as_str() {
                    "patient" => StudyOrder::Patient,
                    "date" | "" => StudyOrder::Date,
                    name => StudyOrder::Column {
                        column: StudyColumn::from_name(name).ok_or_else(|| {
                            let names: Vec<&str> =
                                StudyColumn::ALL.iter().map(|c| c.name()).collect();
                            ApiError::bad_request(format!(
                                "order {name:?}: patient, date or a column ({})",
                                names.join(", ")
                            ))
                            .with_field("order")
                        })?,
                        descending,
                    },
                }
            }
            "dir" => {
                descending = match value.as_str() {
                    "desc" => true,
                    "asc" | "" => false,
                    other => {
                        return Err(ApiError::bad_request(format!("dir {other:?}: asc or desc"))
                            .with_field("dir"))
                    }
                }
            }
            "limit" => {
                let limit: u64 = value
                    .parse()
                    .map_err(|_| ApiError::bad_request("limit: a number"))?;
                query.limit = Some(limit.clamp(1, MAX_PAGE));
            }
            // The browser counts matches up to a bound (BROWSE_COUNT_LIMIT); `count=all` counts
            // every one.
            "count" => {
                query.count_limit = match value.as_str() {
                    "all" => None,
                    n => Some(n.parse().map_err(|_| {
                        ApiError::bad_request("count: all, or how many matches to count at most")
                            .with_field("count")
                    })?),
                }
            }
            "offset" => {
                query.offset = value
                    .parse()
                    .map_err(|_| ApiError::bad_request("offset: a number"))?
            }
            // Unknown parameters are ignored, as query strings usually are.
            _ => {}
        }
    }
    // The direction may come before or after the column.
    if let StudyOrder::Column { descending: d, .. } = &mut query.order {
        *d = descending;
    }
    Ok(query)
}

fn index_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal("reading the index", e)
}

pub async fn studies(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = study_query(raw.as_deref())?;
    let store = state.store.clone();
    let offset = query.offset;
    let page = blocking("study search", move || {
        store.index().search_studies(&query).map_err(index_error)
    })
    .await?;
    Ok(Json(json!({
        "total": page.total,
        "total_exact": page.total_exact,
        "offset": offset,
        "studies": page.studies,
    })))
}

pub async fn study(
    State(state): State<AppState>,
    Path(study): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    blocking("study", move || {
        let index = store.index();
        let summary = index
            .study(&study)
            .map_err(index_error)?
            .ok_or_else(|| ApiError::not_found("no such study in the store"))?;
        let mut series = Vec::new();
        for summary in index.series_of_study(&study).map_err(index_error)? {
            // How many image sets each series splits into: a tile shows a thumbnail for each.
            let sets = image_sets::of_series(&store, &summary.series_uid).map_err(index_error)?;
            let mut row = json!(summary);
            row["ImageSets"] = json!(sets.len());
            // Frames, for the tiles: a 120-frame loop is one instance of 120 images.
            row["NumberOfFrames"] = json!(sets.iter().map(|s| s.images).sum::<u64>());
            series.push(row);
        }
        Ok(Json(json!({ "study": summary, "series": series })))
    })
    .await
}

pub async fn series(
    State(state): State<AppState>,
    Path(series): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    blocking("series", move || {
        let summary = store
            .index()
            .series(&series)
            .map_err(index_error)?
            .ok_or_else(|| ApiError::not_found("no such series in the store"))?;
        Ok(Json(json!(summary)))
    })
    .await
}

/// The image sets of a series, largest first and localizers last, each with its middle
/// instance (the one its thumbnail shows).
pub async fn image_sets(
    State(state): State<AppState>,
    Path(series): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    blocking("image sets", move || {
        if store
            .index()
            .series(&series)
            .map_err(index_error)?
            .is_none()
        {
            return Err(ApiError::not_found("no such series in the store"));
        }
        let sets: Vec<Value> = image_sets::of_series(&store, &series)
            .map_err(index_error)?
            .iter()
            .map(|set| {
                json!({
                    "label": set.label,
                    "images": set.images,
                    "localizer": set.localizer,
                    "plane": set.plane,
                    "temporal": set.temporal,
                    "instances": set.instances.len(),
                    "middle": set.middle(),
                })
            })
            .collect();
        Ok(Json(json!({ "sets": sets })))
    })
    .await
}

pub async fn instances(
    State(state): State<AppState>,
    Path(series): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    blocking("instances", move || {
        let index = store.index();
        if index.series(&series).map_err(index_error)?.is_none() {
            return Err(ApiError::not_found("no such series in the store"));
        }
        let listed: Vec<Value> = index
            .instances_of_series(&series)
            .map_err(index_error)?
            .into_iter()
            // Where a file lives is the server's business, not the page's.
            .map(|i| {
                json!({
                    "SOPInstanceUID": i.sop_instance_uid,
                    "SOPClassUID": i.sop_class_uid,
                    "InstanceNumber": i.instance_number,
                    "TransferSyntaxUID": i.transfer_syntax,
                    "Rows": i.rows,
                    "Columns": i.columns,
                    "NumberOfFrames": i.frames,
                    "FileSize": i.file_size,
                    "ReceivedAt": i.received_at,
                })
            })
            .collect();
        Ok(Json(Value::Array(listed)))
    })
    .await
}

/// `size` or `default`, within the sizes worth rendering.
fn size_param(raw: Option<&str>, default: u32) -> Result<u32, ApiError> {
    for (key, value) in pairs(raw)? {
        if key == "size" {
            let size: u32 = value
                .parse()
                .map_err(|_| ApiError::bad_request("size: a number of pixels"))?;
            return Ok(size.clamp(16, 2048));
        }
    }
    Ok(default)
}

fn png(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "image/png"),
            // Thumbnails change when the series does: the page adds a version to the URL.
            (header::CACHE_CONTROL, "private, max-age=60"),
        ],
        bytes,
    )
        .into_response()
}

pub async fn thumbnail(
    State(state): State<AppState>,
    Path(series): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let size = size_param(raw.as_deref(), thumbnail::DEFAULT_SIZE)?;
    let mut set = None;
    for (key, value) in pairs(raw.as_deref())? {
        if key == "set" {
            set = Some(value.parse::<usize>().map_err(|_| {
                ApiError::bad_request("set: an image set's index, from 0").with_field("set")
            })?);
        }
    }
    let store = state.store.clone();
    blocking("thumbnail", move || {
        let made = match set {
            Some(set) => thumbnail::image_set_thumbnail(&store, &series, set, size),
            None => thumbnail::series_thumbnail(&store, &series, size),
        };
        match made {
            Ok(bytes) => Ok(png(bytes)),
            Err(ThumbnailError::UnknownSeries(_) | ThumbnailError::EmptySeries(_)) => {
                Err(ApiError::not_found("the series has no local instance"))
            }
            Err(e @ ThumbnailError::UnknownImageSet { .. }) => {
                Err(ApiError::not_found(e.to_string()))
            }
            Err(ThumbnailError::Render { source, .. }) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("cannot show this series: {source}"),
            )),
            Err(e) => Err(ApiError::internal("making a thumbnail", e)),
        }
    })
    .await
}

pub async fn rendered(
    State(state): State<AppState>,
    Path(sop): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let size = size_param(raw.as_deref(), 512)?;
    let mut frame = 0u32;
    for (key, value) in pairs(raw.as_deref())? {
        if key == "frame" {
            frame = match value.parse::<u32>() {
                Ok(n) if n >= 1 => n - 1,
                _ => return Err(ApiError::bad_request("frame: numbered from 1")),
            };
        }
    }
    let window = crate::dicomweb::window_param(raw.as_deref())?;
    let store = state.store.clone();
    blocking("rendering", move || {
        let instance = store
            .index()
            .instance(&sop)
            .map_err(index_error)?
            .ok_or_else(|| ApiError::not_found("no such instance in the store"))?;
        let path = store
            .local_path(&instance.file_path)
            .map_err(|e| ApiError::internal("reading a stored instance", e))?;
        let image = render::render_file_at(
            &path,
            FrameChoice::Index(frame),
            window,
            render::Resolution::AtLeast(size),
        )
        .map_err(|e| match e {
            render::PixelError::NoPixelData => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no image in this instance",
            ),
            other => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("cannot show this instance: {other}"),
            ),
        })?;
        Ok(png(thumbnail::encode_png(&thumbnail::fit(&image, size))))
    })
    .await
}

pub async fn metadata(
    State(state): State<AppState>,
    Path(sop): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    blocking("metadata", move || {
        let instance = store
            .index()
            .instance(&sop)
            .map_err(index_error)?
            .ok_or_else(|| ApiError::not_found("no such instance in the store"))?;
        // Pixel data and large binary values stay where they are stored and are summarised.
        let file = store
            .read_instance(
                &instance.file_path,
                instance.file_size.max(0) as u64,
                ReadMode::Full,
            )
            .map_err(|e| match e {
                ReadInstanceError::Invalid { source, .. } => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("cannot read this instance: {source}"),
                ),
                other => ApiError::internal("reading a stored instance", other),
            })?;
        Ok(Json(json!({
            "SOPInstanceUID": sop,
            "SeriesInstanceUID": instance.series_uid,
            "elements": dump::tree(&file),
        })))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_counts_up_to_a_bound_unless_asked_for_all() {
        let bounded = study_query(None).unwrap();
        assert_eq!(bounded.count_limit, Some(BROWSE_COUNT_LIMIT));
        assert_eq!(study_query(Some("count=all")).unwrap().count_limit, None);
        assert_eq!(study_query(Some("count=20")).unwrap().count_limit, Some(20));
        assert!(study_query(Some("count=many")).is_err());
    }

    #[test]
    fn filters_contain_unless_wildcards() {
        let q = study_query(Some(
            "patient_name=doe&modality=CT&modality=mr&date=20240101-&order=patient&limit=9999",
        ))
        .unwrap();
        assert_eq!(q.patient_name.unwrap().as_str(), "*doe*");
        assert_eq!(q.modalities, ["CT", "MR"]);
        assert_eq!(q.study_date.unwrap().from.as_deref(), Some("20240101"));
        assert_eq!(q.order, StudyOrder::Patient);
        assert_eq!(q.limit, Some(MAX_PAGE));
        let q = study_query(Some("patient_id=P1*&accession=")).unwrap();
        assert_eq!(q.patient_id.unwrap().as_str(), "P1*");
        assert!(q.accession_number.is_none());
        assert!(study_query(Some("date=2024")).is_err());
        let q = study_query(Some("dir=desc&order=instances")).unwrap();
        assert_eq!(
            q.order,
            StudyOrder::Column {
                column: StudyColumn::InstanceCount,
                descending: true
            }
        );
        assert!(study_query(Some("order=colour")).is_err());
        assert!(study_query(Some("order=accession&dir=up")).is_err());
    }
}
