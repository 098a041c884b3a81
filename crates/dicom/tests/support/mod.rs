//! Shared test set-up of every crate: where pydicom's test files and the reference Python live.
//! The crates above this one include it in their own support module.
//!
//! Both come from `scripts/test-setup.sh`. Outside CI a missing prerequisite skips the test with a
//! message; with `CI=true` it fails, so a broken set-up can never pass silently.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn missing(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is missing; run scripts/test-setup.sh");
    }
    eprintln!("skipping: {what} is missing; run scripts/test-setup.sh");
}

/// pydicom's `data` folder (`test_files`, `charset_files`, `palettes`).
pub fn pydicom_data() -> Option<PathBuf> {
    let dir = std::env::var_os("LIGHTBOX_PYDICOM_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("test-data/pydicom"));
    if dir.join("test_files").is_dir() {
        Some(dir)
    } else {
        missing("pydicom's test files (test-data/pydicom)");
        None
    }
}

/// A Python interpreter with pydicom, numpy and pydicom's decoder plugins.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var_os("LIGHTBOX_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    let ok = Command::new(&python)
        .args(["-c", "import pydicom, numpy"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Some(python)
    } else {
        missing("the test Python environment (.venv with pydicom)");
        None
    }
}

/// Runs a reference script from `tests/reference/` with the test Python and returns its stdout.
pub fn run_reference_script(python: &Path, script: &str, args: &[&std::ffi::OsStr]) -> String {
    let path = workspace_root().join("tests/reference").join(script);
    run_python(python, &[path.as_os_str()], args)
}

/// Runs `tests/reference/transcode_reference.py MODE` on pairs of (original, rewritten) files:
/// one JSON object a pair (see the script for what `elements` and `pixels` compare).
pub fn compare_pairs(
    python: &Path,
    mode: &str,
    pairs: &[(PathBuf, PathBuf)],
) -> Vec<serde_json::Value> {
    let mut args: Vec<std::ffi::OsString> = vec![mode.into()];
    for (a, b) in pairs {
        args.push(a.into());
        args.push(b.into());
    }
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run_reference_script(python, "transcode_reference.py", &refs)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A short reference computation given inline (`python -c CODE ARGS…`); its standard output.
pub fn run_python_code(python: &Path, code: &str, args: &[&std::ffi::OsStr]) -> String {
    run_python(
        python,
        &[std::ffi::OsStr::new("-c"), std::ffi::OsStr::new(code)],
        args,
    )
}

fn run_python(python: &Path, program: &[&std::ffi::OsStr], args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(python)
        .args(program)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        program,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}
