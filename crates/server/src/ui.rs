//! The web UI: the files under `ui/` (index.html, the stylesheet and the ES modules of the
//! script), embedded in the binary by `build.rs` (no Node toolchain to build or run it; Node is
//! only for the type check), served under `/ui/…` with a Content-Security-Policy that allows only
//! this origin's own script and styles, so that even a DICOM value that slipped into markup could
//! not run.

use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// A file of the UI.
pub struct Asset {
    /// Its path under `/ui/` (`main.js`, `views/jobs.js`).
    pub path: &'static str,
    pub content_type: &'static str,
    /// A fingerprint of the body, so that a page load revalidates each file in a 304.
    pub etag: &'static str,
    pub body: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move { serve("index.html", &headers) }),
        )
        .route("/view/{study}/{series}", get(viewer))
        .route(
            "/ui/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move {
                serve_versioned(&path, &headers)
            }),
        )
}

/// A file the pages ask for under the build's version (`v/{UI_VERSION}/main.js`), which never
/// changes under that address: the browser keeps it, and a page load fetches nothing again.
/// Under another version (a page from before an upgrade) or none, it is revalidated each time.
fn serve_versioned(path: &str, request: &HeaderMap) -> Response {
    match path
        .strip_prefix("v/")
        .and_then(|rest| rest.split_once('/'))
    {
        Some((version, file)) if version == UI_VERSION => {
            serve_with(file, request, "public, max-age=31536000, immutable")
        }
        Some((_, file)) => serve(file, request),
        None => serve(path, request),
    }
}

/// Where the viewer page holds the server's rendering of the first slice.
const FIRST_SLICE_MARK: &str = "<!-- first slice -->";

/// The viewer page. For a local series of single-frame instances opened at its start, the page
/// comes with an image of its first slice as the server renders it, which the browser fetches
/// while the page's modules load, so that the slice is on screen long before its full-precision
/// pixels are (those replace it as soon as they are drawn).
async fn viewer(
    State(state): State<AppState>,
    Path((study, series)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    // A series retrieved while shown, or opened at a chosen set, starts elsewhere.
    if query.is_some_and(|q| !q.is_empty()) {
        return serve("viewer.html", &headers);
    }
    let store = state.store.clone();
    let first = tokio::task::spawn_blocking(move || first_slice(&store, &study, &series))
        .await
        .ok()
        .flatten();
    let (Some(sop), Some(page)) = (first, asset("viewer.html")) else {
        return serve("viewer.html", &headers);
    };
    let html = String::from_utf8_lossy(page.body).replacen(
        FIRST_SLICE_MARK,
        &format!(
            "<img id=\"first-slice\" class=\"first-slice\" alt=\"\" elementtiming=\"first-slice\" \
             src=\"/api/instances/{}/rendered?size=512\">",
            url_component(&sop)
        ),
        1,
    );
    (
        [
            (header::CONTENT_TYPE, page.content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// The instance the viewer shows first (the first slice of the series' first image set), when
/// the series is this study's, here, and that set is of single-frame instances.
fn first_slice(store: &lightbox_core::store::Store, study: &str, series: &str) -> Option<String> {
    let summary = store.index().series(series).ok()??;
    if summary.study_uid != study {
        return None;
    }
    let sets = lightbox_core::image_sets::of_series(store, series).ok()?;
    let set = sets.first()?;
    (set.images == set.instances.len() as u64).then(|| set.instances[0].clone())
}

/// A UID (or any text) as one path segment: every byte but letters, digits, `.`, `-` and `_`
/// percent-encoded, so that it is safe in an attribute too.
fn url_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The asset at this path under `/ui/`, if there is one.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// An asset with the page's security headers (304 when the browser holds it already); 404 for a
/// path that is none.
fn serve(path: &str, request: &HeaderMap) -> Response {
    serve_with(path, request, "no-cache")
}

fn serve_with(path: &str, request: &HeaderMap, cache_control: &'static str) -> Response {
    let Some(asset) = asset(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let headers = [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, cache_control),
        (header::ETAG, asset.etag),
    ];
    let held = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag));
    if held {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (headers, asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn text(asset: &Asset) -> &'static str {
        std::str::from_utf8(asset.body).expect("UTF-8")
    }

    /// The relative module specifiers a script imports (`import … from './x.js'`,
    /// `import './x.js'`, and with `types`, `import('./x.js')` in JSDoc types).
    fn imports(source: &str, types: bool) -> Vec<&str> {
        let mut found = Vec::new();
        for quote in ['\'', '"'] {
            for (i, _) in source.match_indices(quote) {
                let rest = &source[i + 1..];
                let Some(end) = rest.find(quote) else {
                    continue;
                };
                let spec = &rest[..end];
                let before = source[..i].trim_end();
                let is_import = before.ends_with("from")
                    || before.ends_with("import")
                    || (types && before.ends_with("import("));
                if is_import && (spec.starts_with("./") || spec.starts_with("../")) {
                    found.push(spec);
                }
            }
        }
        found
    }

    /// A specifier resolved against the importing file's path under /ui/.
    fn resolve(from: &str, spec: &str) -> String {
        let mut parts: Vec<&str> = from.split('/').collect();
        parts.pop();
        for part in spec.split('/') {
            match part {
                "." => {}
                ".." => {
                    assert!(parts.pop().is_some(), "{from}: {spec} leaves ui/");
                }
                p => parts.push(p),
            }
        }
        parts.join("/")
    }

    #[test]
    fn every_file_of_the_ui_is_embedded_and_nothing_else() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut on_disk = BTreeSet::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap().to_string();
                let tooling = [
                    "node_modules",
                    "package.json",
                    "package-lock.json",
                    "tsconfig.json",
                ];
                if name.starts_with('.')
                    || name.ends_with(".d.ts")
                    || tooling.contains(&name.as_str())
                {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let relative = path.strip_prefix(&root).unwrap().to_str().unwrap();
                    on_disk.insert(relative.replace('\\', "/"));
                }
            }
        }
        let embedded: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        assert_eq!(embedded, on_disk);
        for a in ASSETS {
            assert!(
                !a.path.contains("node_modules") && !a.path.ends_with(".ts"),
                "{}",
                a.path
            );
        }
    }

    /// The pages and the module each starts from.
    const PAGES: [(&str, &str); 2] = [("index.html", "main.js"), ("viewer.html", "viewer/main.js")];

    /// Every module `entry` imports, directly or not (with `types`, JSDoc type imports too),
    /// itself included.
    fn graph(entry: &str, types: bool) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![entry.to_string()];
        while let Some(path) = todo.pop() {
            if !seen.insert(path.clone()) {
                continue;
            }
            let module =
                asset(&path).unwrap_or_else(|| panic!("{path} is imported but not served"));
            let source = text(module);
            assert!(
                source.starts_with("// @ts-check"),
                "{path} is not type-checked"
            );
            for spec in imports(source, types) {
                todo.push(resolve(&path, spec));
            }
        }
        seen
    }

    #[test]
    fn the_pages_their_modules_and_their_imports_are_all_served() {
        let mut all = BTreeSet::new();
        for (page, entry) in PAGES {
            let html = text(asset(page).expect("a page"));
            let script =
                format!(r#"<script type="module" src="/ui/v/{UI_VERSION}/{entry}"></script>"#);
            assert!(html.contains(&script), "{page}");
            let style = format!(r#"href="/ui/v/{UI_VERSION}/app.css""#);
            assert!(html.contains(&style), "{page}");
            all.extend(graph(entry, true));
        }
        assert!(asset("app.css").is_some());
        // Every module is part of a page (none left over).
        let modules: BTreeSet<String> = ASSETS
            .iter()
            .filter(|a| a.path.ends_with(".js"))
            .map(|a| a.path.to_string())
            .collect();
        assert_eq!(modules, all);
        assert!(all.len() > 20, "{all:?}");
    }

    #[test]
    fn assets_have_their_content_type_and_the_security_headers() {
        for (path, content_type) in [
            ("index.html", "text/html; charset=utf-8"),
            ("main.js", "text/javascript; charset=utf-8"),
            ("views/browser/tiles.js", "text/javascript; charset=utf-8"),
            ("app.css", "text/css; charset=utf-8"),
        ] {
            let response = serve(path, &HeaderMap::new());
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], content_type, "{path}");
            let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(
                csp.contains("script-src 'self'") && !csp.contains("unsafe"),
                "{csp}"
            );
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        }
        for path in [
            "app.js",
            "missing.js",
            "package.json",
            "tsconfig.json",
            "globals.d.ts",
            "node_modules/typescript/package.json",
            "../Cargo.toml",
            "lib/../main.js",
            "",
        ] {
            assert_eq!(
                serve(path, &HeaderMap::new()).status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[test]
    fn each_page_preloads_its_modules_only_and_a_held_file_is_not_sent_again() {
        for (page, entry) in PAGES {
            let html = text(asset(page).expect("a page"));
            // Modules named only in JSDoc types are never fetched: no preload for them.
            let fetched = graph(entry, false);
            for module in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
                let link = format!(
                    r#"<link rel="modulepreload" href="/ui/v/{UI_VERSION}/{}">"#,
                    module.path
                );
                assert_eq!(
                    html.contains(&link),
                    fetched.contains(module.path),
                    "{page}: the preload of {}",
                    module.path
                );
            }
        }
        // Under the build's version a file is kept; under another, or none, it is asked again.
        let kept = serve_versioned(&format!("v/{UI_VERSION}/main.js"), &HeaderMap::new());
        assert_eq!(kept.status(), StatusCode::OK);
        assert_eq!(
            kept.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        for path in ["v/0123456789abcdef/main.js", "main.js"] {
            let response = serve_versioned(path, &HeaderMap::new());
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                response.headers()[header::CACHE_CONTROL],
                "no-cache",
                "{path}"
            );
        }
        assert_eq!(
            serve_versioned(&format!("v/{UI_VERSION}/missing.js"), &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
        let first = serve("main.js", &HeaderMap::new());
        let etag = first.headers()[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve("main.js", &again).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            serve("app.css", &again).status(),
            StatusCode::OK,
            "another file's tag"
        );
    }
}
