//! The HTTP layer of `lightbox serve`: the web UI (`/`), its JSON API and server-sent events
//! (`/api`, documented in docs/api.md) and DICOMweb (`/dicom-web`). A thin layer: every answer
//! comes from the core's store, index, nodes and job engine.
//!
//! Security by default: the server listens on loopback; any other address needs credentials
//! (HTTP Basic), checked on every request.

mod api;
pub mod cors;
mod dicomweb;
mod error;
mod guard;
mod listen;
mod query;
mod ui;

pub use error::ApiError;
pub use listen::HttpLimits;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use lightbox_core::jobs::Engine;
use lightbox_core::nodes::Nodes;
use lightbox_core::store::Store;
use std::net::SocketAddr;
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    credentials: Option<Arc<Credentials>>,
    /// `http(s)://host:port` that links (bulk data URIs) are built on: the first `--http-host`
    /// name, else the bound address; `None` when bound to every address with no name given,
    /// and then links follow the request's Host (which the host policy has checked).
    origin: Option<Arc<str>>,
    scheme: &'static str,
    /// STOW-RS and uploads index through it, in batches, as the storage listener does.
    indexer: Arc<lightbox_core::import::BackgroundIndexer>,
    /// Runs every long operation the API starts; absent when only DICOMweb is served.
    engine: Option<Arc<Engine>>,
    nodes: Arc<Nodes>,
    /// Node edits are read-modify-write of one file: one at a time.
    nodes_lock: Arc<tokio::sync::Mutex<()>>,
    listener: Option<Arc<ListenerStatus>>,
    /// Turns true when the server stops: long-lived answers (server-sent events) end then, so a
    /// graceful shutdown does not wait on an open page.
    stopping: tokio::sync::watch::Receiver<bool>,
    /// Wrong credentials are answered a few at a time, each after a pause.
    failed_logins: Arc<tokio::sync::Semaphore>,
    /// The store's totals for the pages' event streams, read once for all of them.
    store_totals: Arc<api::events::StoreTotals>,
}

/// Wrong credentials answered at once; beyond, 429.
const FAILED_LOGINS_AT_ONCE: usize = 4;
/// How long an answer to wrong credentials takes: guessing a password then takes ages.
const FAILED_LOGIN_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// The storage listener `serve` runs beside the HTTP server, for the status page.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ListenerStatus {
    pub ae_title: String,
    pub address: String,
}

/// Everything the HTTP server is built from.
pub struct ServerConfig {
    pub store: Arc<Store>,
    /// The remote nodes (`nodes.json`, or the cluster's list when the index is shared).
    pub nodes: Nodes,
    pub engine: Option<Arc<Engine>>,
    pub credentials: Option<Credentials>,
    /// The address the HTTP server is bound to.
    pub address: SocketAddr,
    /// Names this server answers to beyond the loopback names and the bound address (`--http-host`).
    pub host_names: Vec<String>,
    /// Served over TLS: links are `https://`.
    pub https: bool,
    /// Origins whose pages may use the DICOMweb server (`--cors-origin`); none by default.
    pub cors_origins: cors::CorsOrigins,
    pub listener: Option<ListenerStatus>,
    /// Send `true` on its sender (or drop it) when the server stops.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// HTTP Basic credentials the server requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::str::FromStr for Credentials {
    type Err = String;
    fn from_str(s: &str) -> Result<Credentials, String> {
        let (user, password) = s
            .split_once(':')
            .ok_or("credentials: expected USER:PASSWORD")?;
        if user.is_empty() || password.len() < 8 {
            return Err("credentials: a user name and a password of at least 8 characters".into());
        }
        Ok(Credentials {
            user: user.into(),
            password: password.into(),
        })
    }
}

/// Refuses a bind that would expose the server without credentials.
pub fn check_bind(address: &SocketAddr, credentials: Option<&Credentials>) -> Result<(), String> {
    if address.ip().is_loopback() || credentials.is_some() {
        Ok(())
    } else {
        Err(format!(
            "{address} is not a loopback address: give credentials (--http-credentials USER:PASSWORD) to listen there"
        ))
    }
}

/// The application: the UI, the JSON API and DICOMweb over the core.
pub fn router(config: ServerConfig) -> std::io::Result<Router> {
    let indexer = Arc::new(lightbox_core::import::BackgroundIndexer::start(
        config.store.clone(),
    )?);
    let scheme = if config.https { "https" } else { "http" };
    let origin = match (config.host_names.first(), config.address.ip()) {
        (Some(name), _) => Some(format!("{scheme}://{name}:{}", config.address.port())),
        (None, ip) if ip.is_unspecified() => None,
        (None, _) => Some(format!("{scheme}://{}", config.address)),
    };
    let host_policy = Arc::new(
        guard::HostPolicy::new(config.address, &config.host_names)
            .with_cors(config.cors_origins.clone()),
    );
    let cors_origins = Arc::new(config.cors_origins);
    let state = AppState {
        indexer,
        store: config.store,
        credentials: config.credentials.map(Arc::new),
        origin: origin.map(Into::into),
        scheme,
        engine: config.engine,
        nodes: Arc::new(config.nodes),
        nodes_lock: Arc::default(),
        listener: config.listener.map(Arc::new),
        stopping: config.stopping,
        failed_logins: Arc::new(tokio::sync::Semaphore::new(FAILED_LOGINS_AT_ONCE)),
        store_totals: Arc::default(),
    };
    Ok(Router::new()
        .nest("/dicom-web", dicomweb::routes())
        .route("/wado", axum::routing::get(dicomweb::wado_uri::retrieve))
        .nest("/api", api::routes())
        .merge(ui::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_credentials,
        ))
        // Preflights are answered before credentials are asked for: browsers send none.
        .layer(axum::middleware::from_fn_with_state(
            cors_origins,
            cors::handle,
        ))
        // Outermost: nothing else runs for a foreign Host or a cross-site write.
        .layer(axum::middleware::from_fn_with_state(
            host_policy,
            guard::check,
        ))
        .with_state(state))
}

impl AppState {
    /// A local file of an indexed instance: fetched from the object store first when it is not
    /// cached here, on a blocking thread.
    pub(crate) async fn stored_file(
        &self,
        stored_path: &str,
    ) -> Result<std::path::PathBuf, error::ApiError> {
        let store = self.store.clone();
        let stored_path = stored_path.to_string();
        tokio::task::spawn_blocking(move || store.local_path(&stored_path))
            .await
            .map_err(|e| error::ApiError::internal("reading a stored instance", e))?
            .map_err(|e| error::ApiError::internal("reading a stored instance", e))
    }

    /// `http://host:port` for links in answers to a request with these headers.
    pub(crate) fn origin(&self, headers: &axum::http::HeaderMap) -> String {
        match &self.origin {
            Some(origin) => origin.to_string(),
            None => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("127.0.0.1");
                format!("{}://{host}", self.scheme)
            }
        }
    }
}

async fn require_credentials(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = &state.credentials else {
        return next.run(request).await;
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let given = header
        .and_then(|v| v.split_once(' '))
        // The scheme is case-insensitive (RFC 9110 11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let wanted = format!("{}:{}", expected.user, expected.password);
    if given.is_some_and(|g| constant_time_eq(g.as_bytes(), wanted.as_bytes())) {
        return next.run(request).await;
    }
    let unauthorized = || {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"lightbox\"")],
            "credentials required",
        )
            .into_response()
    };
    if header.is_none() {
        // A browser's first request, before it asks for the password: no pause.
        return unauthorized();
    }
    match state.failed_logins.clone().try_acquire_owned() {
        Ok(permit) => {
            tokio::time::sleep(FAILED_LOGIN_PAUSE).await;
            drop(permit);
            unauthorized()
        }
        Err(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "too many wrong credentials: try again in a moment",
        )
            .into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Blocking work (file reads, decoding, storing parts) runs on at most this many threads.
pub const BLOCKING_THREADS: usize = 32;

/// The runtime the HTTP server runs on: two workers (the machine's cores do the real work on the
/// blocking pool), and a blocking pool that a flood of requests cannot grow without bound.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
}

/// Serves `router` on `listener` until `shutdown` completes, every connection held to `limits`;
/// over TLS (HTTPS) when `tls` is given (see [`lightbox_net::tls::ServerTls`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: HttpLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve(listener, router, limits, tls, shutdown).await
}
