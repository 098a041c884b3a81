//! Running the `lightbox` binary from the CLI tests.
#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

pub mod browser;
pub mod serve;

pub fn lightbox(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lightbox"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run lightbox")
}

pub fn ok_json(data_dir: &Path, args: &[&str]) -> Value {
    let out = lightbox(data_dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}
