//! Running the `lightbox` binary from the CLI tests.
#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

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

/// An HTTP client that hands error statuses back as responses and gives up after a minute.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// GET `url` and its body as JSON.
pub fn get_json(url: &str) -> Value {
    let mut response = http()
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let text = response.body_mut().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: {e}: {text}"))
}
