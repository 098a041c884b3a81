//! Cross-origin access to the DICOMweb server (`/dicom-web`, `/wado`) for the origins given with
//! `serve --cors-origin` (none by default), so that a viewer served elsewhere (OHIF, say) can
//! read from Lightbox and store into it. For those origins a preflight is answered (before any
//! credentials are asked for: browsers send none with it) and answers carry the CORS headers;
//! any other origin gets no CORS header, so the browser keeps the answer from its page, and its
//! preflight is refused with 403. The UI and its API stay same-origin only.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// What another origin may do here.
const ALLOWED_METHODS: &str = "GET, HEAD, POST, OPTIONS";
/// The request headers a DICOMweb client sends beyond the safelisted ones.
const ALLOWED_HEADERS: &str = "Accept, Authorization, Content-Type, Range, Cache-Control";
/// Answer headers a page may read beyond the safelisted ones.
const EXPOSED_HEADERS: &str = "Content-Location, Location, Content-Range, Warning";
/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE: &str = "600";

/// The origins given, as `scheme://host[:port]` in lower case.
#[derive(Clone, Debug, Default)]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    /// Checks and normalizes each origin: `http` or `https`, a host, an optional port, nothing
    /// else (no path, no wildcard).
    pub fn parse(origins: &[String]) -> Result<CorsOrigins, String> {
        let mut out = Vec::new();
        for origin in origins {
            let lower = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            let rest = lower
                .strip_prefix("http://")
                .or_else(|| lower.strip_prefix("https://"))
                .ok_or_else(|| format!("--cors-origin {origin}: expected http(s)://host[:port]"))?;
            let valid_host = !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
            if !valid_host {
                return Err(format!(
                    "--cors-origin {origin}: expected http(s)://host[:port], without a path or wildcard"
                ));
            }
            out.push(lower);
        }
        Ok(CorsOrigins(out))
    }

    /// Whether the origins given include this one (as the browser sends it).
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.0.contains(&origin)
    }
}

/// Whether a path is the DICOMweb server's (the part other origins may use).
pub(crate) fn is_dicomweb(path: &str) -> bool {
    path == "/dicom-web" || path.starts_with("/dicom-web/") || path == "/wado"
}

/// The request's `Origin`, when it is one of those given and the path is DICOMweb's.
fn listed_origin(origins: &CorsOrigins, request: &Request) -> Option<HeaderValue> {
    let origin = request.headers().get(header::ORIGIN)?;
    let allowed =
        is_dicomweb(request.uri().path()) && origin.to_str().is_ok_and(|o| origins.allows(o));
    allowed.then(|| origin.clone())
}

fn add_headers(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
}

pub async fn handle(
    State(origins): State<Arc<CorsOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let listed = listed_origin(&origins, &request);
    if preflight {
        let Some(origin) = listed else {
            return (
                StatusCode::FORBIDDEN,
                "cross-origin requests are answered only for the origins given with --cors-origin, \
                 and only under /dicom-web and /wado",
            )
                .into_response();
        };
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        add_headers(headers, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(origin) = listed {
        add_headers(response.headers_mut(), origin);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_and_normalized() {
        let given = [
            "https://Viewer.example.org/".to_string(),
            "http://127.0.0.1:3000".into(),
        ];
        let origins = CorsOrigins::parse(&given).unwrap();
        assert!(origins.allows("https://viewer.example.org"));
        assert!(origins.allows("http://127.0.0.1:3000"));
        assert!(!origins.allows("http://127.0.0.1:3001"));
        assert!(!origins.allows("https://viewer.example.org.evil.test"));
        for bad in [
            "*",
            "viewer.example.org",
            "https://a.test/path",
            "ftp://a.test",
            "https://",
        ] {
            assert!(CorsOrigins::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_dicomweb_paths_are_shared() {
        assert!(is_dicomweb("/dicom-web/studies"));
        assert!(is_dicomweb("/wado"));
        assert!(!is_dicomweb("/api/jobs"));
        assert!(!is_dicomweb("/dicom-webhooks"));
        assert!(!is_dicomweb("/"));
    }
}
