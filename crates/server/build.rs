//! Embeds the web UI: every file under `ui/` that the page can ask for (not the type check's
//! own files) goes into a table of `/ui/…` paths, content types and bytes, written to
//! `$OUT_DIR/ui_assets.rs` for `src/ui.rs`. A module added to `ui/` is served without further
//! ado; a file whose kind has no content type here stops the build.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Names under `ui/` that are never served: the type check's tooling and its outputs.
const SKIPPED: &[&str] = &[
    "node_modules",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
];

fn content_type(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    let ext = name.rsplit_once('.')?.1;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => return None,
    })
}

fn skipped(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".d.ts") || SKIPPED.contains(&name)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if skipped(name) {
            continue;
        }
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// FNV-1a: a stable fingerprint of an asset, for its ETag.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The modules `module` (a path under `ui/`) imports, directly or not, itself included, in the
/// order they are first met.
fn module_graph(root: &Path, module: &str, seen: &mut Vec<String>) {
    if seen.iter().any(|m| m == module) {
        return;
    }
    seen.push(module.to_string());
    let file = root.join(module);
    let source = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (imported, but not there)", file.display()));
    let dir = Path::new(module).parent().unwrap_or(Path::new(""));
    for specifier in relative_imports(&source) {
        let mut path = dir.to_path_buf();
        for part in specifier.split('/') {
            match part {
                "." => {}
                ".." => {
                    path.pop();
                }
                name => path.push(name),
            }
        }
        let joined: Vec<&str> = path
            .components()
            .map(|c| c.as_os_str().to_str().expect("UTF-8 module path"))
            .collect();
        module_graph(root, &joined.join("/"), seen);
    }
}

/// The relative specifiers of a module's static imports (`import … from './x.js'`,
/// `import './x.js'`).
fn relative_imports(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for keyword in ["from ", "import "] {
        let mut rest = source;
        while let Some(at) = rest.find(keyword) {
            rest = &rest[at + keyword.len()..];
            let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
                continue;
            };
            let body = &rest[1..];
            let Some(end) = body.find(quote) else {
                continue;
            };
            let specifier = &body[..end];
            if specifier.starts_with("./") || specifier.starts_with("../") {
                found.push(specifier.to_string());
            }
        }
    }
    found
}

/// A page with a `modulepreload` link for every module its script imports, where it says
/// `<!-- modules -->`: the browser then fetches them all at once instead of import by import.
fn page_with_preloads(root: &Path, page: &str) -> String {
    let marker = "<!-- modules -->\n";
    assert!(
        page.contains(marker),
        "a page under ui/ lacks the <!-- modules --> marker where the preloads go"
    );
    let entry = page
        .split("<script type=\"module\" src=\"/ui/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a page under ui/ has a <script type=\"module\" src=\"/ui/…\">");
    let mut modules = Vec::new();
    module_graph(root, entry, &mut modules);
    let links: String = modules
        .iter()
        .map(|m| format!("<link rel=\"modulepreload\" href=\"/ui/{m}\">\n"))
        .collect();
    page.replace(marker, &links)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    println!("cargo:rerun-if-changed=ui");
    println!("cargo:rerun-if-changed=build.rs");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let url_of = |file: &Path| -> String {
        let relative = file.strip_prefix(&root).expect("under ui/");
        let parts: Vec<&str> = relative
            .components()
            .map(|c| c.as_os_str().to_str().expect("UTF-8 file name"))
            .collect();
        parts.join("/")
    };
    // The version of the pages' files: it changes whenever one of them does, so that the
    // pages can ask for them under it and a browser can keep them without asking again.
    let mut all = Vec::new();
    for file in files.iter().filter(|f| !url_of(f).ends_with(".html")) {
        all.extend_from_slice(url_of(file).as_bytes());
        all.extend_from_slice(&std::fs::read(file).expect("read an asset"));
    }
    let version = format!("{:016x}", fingerprint(&all));
    let mut table = format!(
        "/// The version the pages ask for the other files under (`/ui/v/{{UI_VERSION}}/…`).\n\
         pub const UI_VERSION: &str = {version:?};\n\n\
         /// Every embedded asset: its path under /ui/, content type and bytes.\n\
         pub static ASSETS: &[Asset] = &[\n",
    );
    for file in &files {
        let url_path = url_of(file);
        // Pages are embedded with their preloads and versioned addresses, from OUT_DIR; the
        // others as they are.
        let source = if url_path.ends_with(".html") {
            let page = std::fs::read_to_string(file).expect("a page under ui/");
            let processed = out_dir.join(url_path.replace('/', "_"));
            let page =
                page_with_preloads(&root, &page).replace("\"/ui/", &format!("\"/ui/v/{version}/"));
            std::fs::write(&processed, page).expect("write a page");
            processed
        } else {
            file.clone()
        };
        let etag = fingerprint(&std::fs::read(&source).expect("read an asset"));
        let content_type = content_type(file).unwrap_or_else(|| {
            panic!(
                "{}: no content type for this kind of file (add it to crates/server/build.rs, or keep it out of ui/)",
                file.display()
            )
        });
        let _ = writeln!(
            table,
            "    Asset {{ path: {:?}, content_type: {:?}, etag: \"\\\"{etag:016x}\\\"\", body: include_bytes!({:?}) }},",
            url_path,
            content_type,
            source.display().to_string()
        );
    }
    table.push_str("];\n");
    let out = out_dir.join("ui_assets.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
}
