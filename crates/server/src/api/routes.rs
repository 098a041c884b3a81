//! The routing rules page: list, add or edit, remove. A rule names a known node.

use super::{blocking, Body};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use lightbox_core::routes::{Route, Routes, RoutesError};

fn routes_error(e: RoutesError) -> ApiError {
    match e {
        RoutesError::Unknown(name) => ApiError::not_found(format!("no route named {name:?}")),
        RoutesError::Invalid(message) => ApiError::bad_request(message),
        other => ApiError::internal("routes", other),
    }
}

fn routes(state: &AppState) -> Routes {
    Routes::of_store(&state.store)
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Route>>, ApiError> {
    let routes = routes(&state);
    blocking("routes", move || {
        routes.list().map(Json).map_err(routes_error)
    })
    .await
}

pub async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(route): Body<Route>,
) -> Result<Json<Route>, ApiError> {
    if route.name != name {
        return Err(
            ApiError::bad_request("the route's name differs from the address").with_field("name"),
        );
    }
    state
        .nodes
        .resolve(&route.to)
        .map_err(|e| ApiError::bad_request(e.to_string()).with_field("to"))?;
    let _one_at_a_time = state.nodes_lock.lock().await;
    let routes = routes(&state);
    blocking("saving a route", move || {
        routes.put(route.clone()).map_err(routes_error)?;
        Ok(Json(route))
    })
    .await
}

pub async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let _one_at_a_time = state.nodes_lock.lock().await;
    let routes = routes(&state);
    blocking("removing a route", move || {
        routes.remove(&name).map_err(routes_error)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
