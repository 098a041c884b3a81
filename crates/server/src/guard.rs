//! What every request is checked for before any handler runs:
//!
//! - its `Host` must name this server — a loopback name, the address it is bound to (any IP
//!   address when bound to all of them), or a name given with `--http-host` — else 421: a page
//!   on another name that resolves to us (DNS rebinding) reaches nothing;
//! - a request that may change state (any method but GET, HEAD and OPTIONS) from a browser must
//!   come from this server's own pages: an `Origin` of another site, or a `Sec-Fetch-Site` that
//!   is not `same-origin`, is refused with 403 (cross-site request forgery). Programs that send
//!   neither header (curl, DICOMweb clients) are not browsers and pass; so do the origins given
//!   with `--cors-origin`, for DICOMweb only (STOW-RS from a viewer served there).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The names and addresses this server answers to.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    port: u16,
    bound: IpAddr,
    /// Names given with `--http-host` (lower case), reachable through a proxy on any port.
    names: Vec<String>,
    /// Other origins trusted with DICOMweb (`--cors-origin`).
    cors: crate::cors::CorsOrigins,
}

/// Splits `host[:port]` (or `[v6]:port`) into its host, lower case, and port.
fn split_host(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            Some(_) => return None, // an IPv6 address must be bracketed
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    Some((host.to_ascii_lowercase(), port))
}

impl HostPolicy {
    pub fn new(bound: SocketAddr, names: &[String]) -> HostPolicy {
        HostPolicy {
            port: bound.port(),
            bound: bound.ip(),
            names: names
                .iter()
                .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect(),
            cors: crate::cors::CorsOrigins::default(),
        }
    }

    /// The same, trusting these origins with DICOMweb.
    pub fn with_cors(mut self, origins: crate::cors::CorsOrigins) -> HostPolicy {
        self.cors = origins;
        self
    }

    fn is_given_name(&self, host: &str) -> bool {
        self.names.iter().any(|n| n == host.trim_end_matches('.'))
    }

    /// A loopback name, the bound address (any address when bound to all), or a given name.
    fn is_ours(&self, host: &str) -> bool {
        if host == "localhost" || host.ends_with(".localhost") || self.is_given_name(host) {
            return true;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip == self.bound || self.bound.is_unspecified(),
            Err(_) => false,
        }
    }

    /// Whether a `Host` header names this server.
    pub fn allows_host(&self, authority: &str) -> bool {
        split_host(authority).is_some_and(|(host, _)| self.is_ours(&host))
    }

    /// Whether an `Origin` is this server's own: one of its names, on its port (a given name
    /// on any port: the proxy in front of it decides).
    pub fn allows_origin(&self, origin: &str) -> bool {
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        let default_port = match scheme {
            "http" => 80,
            "https" => 443,
            _ => return false,
        };
        match split_host(authority) {
            Some((host, port)) => {
                self.is_ours(&host)
                    && (self.is_given_name(&host) || port.unwrap_or(default_port) == self.port)
            }
            None => false,
        }
    }
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Why a state-changing request from a browser is refused, if it is.
fn cross_site(policy: &HostPolicy, path: &str, headers: &HeaderMap) -> Option<&'static str> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| {
            policy.allows_origin(o) || (crate::cors::is_dicomweb(path) && policy.cors.allows(o))
        });
        return (!allowed).then_some("requests from another site may not change anything here");
    }
    match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
        None | Some(b"same-origin") | Some(b"none") => None,
        Some(_) => Some("requests from another site may not change anything here"),
    }
}

pub async fn check(
    State(policy): State<Arc<HostPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(|h| policy.allows_host(h)) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this server does not answer to that host name",
        )
            .into_response();
    }
    if changes_state(request.method()) {
        if let Some(reason) = cross_site(&policy, request.uri().path(), request.headers()) {
            return (StatusCode::FORBIDDEN, reason).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> HostPolicy {
        HostPolicy::new("127.0.0.1:8080".parse().unwrap(), &["pacs.example".into()])
    }

    #[test]
    fn hosts() {
        let p = loopback();
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "pacs.example",
            "PACS.example.:443",
        ] {
            assert!(p.allows_host(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:8080",
            "10.0.0.5:8080",
            "",
            "127.0.0.1:99999",
            "::1",
        ] {
            assert!(!p.allows_host(refused), "{refused}");
        }
        let everywhere = HostPolicy::new("0.0.0.0:8080".parse().unwrap(), &[]);
        assert!(everywhere.allows_host("10.0.0.5:8080"));
        assert!(!everywhere.allows_host("rebound.example:8080"));
    }

    #[test]
    fn origins() {
        let p = loopback();
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "https://pacs.example",
        ] {
            assert!(p.allows_origin(ok), "{ok}");
        }
        for refused in [
            "http://localhost:3000",
            "http://evil.example:8080",
            "null",
            "file://",
            "http://127.0.0.1",
        ] {
            assert!(!p.allows_origin(refused), "{refused}");
        }
    }
}
