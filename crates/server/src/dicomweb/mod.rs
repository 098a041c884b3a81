//! DICOMweb (PS3.18) under `/dicom-web`: QIDO-RS searches, WADO-RS retrieval (instances,
//! metadata, bulk data, frames, rendered images, thumbnails), STOW-RS storage.

mod multipart;
mod qido;
mod rendered;
mod stow;
mod wado;
pub(crate) mod wado_uri;

pub(crate) use rendered::window_param;

use crate::AppState;
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/studies", get(qido::studies).post(stow::store_any))
        .route("/series", get(qido::all_series))
        .route("/instances", get(qido::all_instances))
        .route("/studies/{study}/series", get(qido::series_of_study))
        .route("/studies/{study}/instances", get(qido::instances_of_study))
        .route(
            "/studies/{study}/series/{series}/instances",
            get(qido::instances_of_series),
        )
        .route(
            "/studies/{study}",
            get(wado::study).post(stow::store_in_study),
        )
        .route("/studies/{study}/series/{series}", get(wado::series))
        .route(
            "/studies/{study}/series/{series}/instances/{instance}",
            get(wado::instance),
        )
        .route("/studies/{study}/metadata", get(wado::study_metadata))
        .route(
            "/studies/{study}/series/{series}/metadata",
            get(wado::series_metadata),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/metadata",
            get(wado::instance_metadata),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/bulk/{*path}",
            get(wado::bulk),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}",
            get(rendered::frames),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/rendered",
            get(rendered::instance_rendered),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/rendered",
            get(rendered::frame_rendered),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/thumbnail",
            get(rendered::instance_thumbnail),
        )
        .route(
            "/studies/{study}/series/{series}/thumbnail",
            get(rendered::series_thumbnail),
        )
        .route("/studies/{study}/thumbnail", get(rendered::study_thumbnail))
}
