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

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    println!("cargo:rerun-if-changed=ui");
    println!("cargo:rerun-if-changed=build.rs");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut table = String::from(
        "/// Every embedded asset: its path under /ui/, content type and bytes.\n\
         pub static ASSETS: &[Asset] = &[\n",
    );
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under ui/");
        let url_path: Vec<&str> = relative
            .components()
            .map(|c| c.as_os_str().to_str().expect("UTF-8 file name"))
            .collect();
        let content_type = content_type(file).unwrap_or_else(|| {
            panic!(
                "{}: no content type for this kind of file (add it to crates/server/build.rs, or keep it out of ui/)",
                file.display()
            )
        });
        let _ = writeln!(
            table,
            "    Asset {{ path: {:?}, content_type: {:?}, body: include_bytes!({:?}) }},",
            url_path.join("/"),
            content_type,
            file.display().to_string()
        );
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("ui_assets.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
}
