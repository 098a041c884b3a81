//! Small files that decode to huge images (16384 × 16384: a 796-byte JPEG 2000, a 3 MB baseline
//! JPEG, a 4 MB RLE; `tests/reference/decode_bombs.py`) against `lightbox serve`: received over
//! C-STORE, their automatic thumbnails, the UI's thumbnails and DICOMweb renders — two at once —
//! decode at reduced resolution where the codec allows it, and are refused with the reason where
//! it does not, while the process's peak memory stays under 600 MB.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::serve::Serve;
use lightbox_net::dimse::{c_store, AeAddress, ScuOptions};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Peak resident set size of a process so far, in MB.
fn peak_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        / 1024
}

struct Bomb {
    name: String,
    path: PathBuf,
    study: String,
    series: String,
    sop: String,
}

fn status_and_body(url: &str) -> (u16, Vec<u8>) {
    let mut response = common::http().get(url).call().unwrap();
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default();
    (status, body)
}

#[test]
fn decode_bombs_are_thumbnailed_small_or_refused_within_600_mb() {
    if !support::isolated_network() {
        return;
    }
    let Some(python) = support::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bombs_dir = dir.path().join("bombs");
    std::fs::create_dir_all(&bombs_dir).unwrap();
    let bombs: Vec<Bomb> =
        support::run_reference_script(&python, "decode_bombs.py", &[bombs_dir.as_os_str()])
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| v[k].as_str().unwrap().to_string();
                Bomb {
                    name: s("name"),
                    path: PathBuf::from(s("path")),
                    study: s("study"),
                    series: s("series"),
                    sop: s("sop"),
                }
            })
            .collect();
    assert_eq!(bombs.len(), 3);
    let data = dir.path().join("data");
    let serve = Serve::start(&data, &[]);
    let before = peak_mb(serve.pid());
    let dimse = serve.dimse_address();
    let peer = AeAddress {
        ae_title: "LIGHTBOX".into(),
        host: "127.0.0.1".into(),
        port: dimse.rsplit(':').next().unwrap().parse().unwrap(),
    };
    let files: Vec<PathBuf> = bombs.iter().map(|b| b.path.clone()).collect();
    let sent = c_store::send_files(&peer, &ScuOptions::default(), &files, &mut |_| {}).unwrap();
    assert_eq!(sent.sent, 3, "{sent:?}");

    // The automatic thumbnails of what arrived: two made, one refused with the reason.
    let deadline = Instant::now() + Duration::from_secs(60);
    let jobs = loop {
        let listed = common::get_json(&format!("{}/api/jobs?kind=thumbnail", serve.url));
        let jobs = listed["jobs"].as_array().cloned().unwrap_or_default();
        let done = jobs
            .iter()
            .filter(|j| matches!(j["state"].as_str(), Some("completed" | "failed")))
            .count();
        if done >= 3 {
            break jobs;
        }
        assert!(Instant::now() < deadline, "thumbnail jobs: {listed}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let failed: Vec<&Value> = jobs.iter().filter(|j| j["state"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{jobs:?}");
    let reason = failed[0]["error"]["message"].as_str().unwrap_or_default();
    assert!(reason.contains("decode budget"), "{reason}");

    for bomb in &bombs {
        let thumbnail = format!("{}/api/series/{}/thumbnail", serve.url, bomb.series);
        let (status, body) = status_and_body(&thumbnail);
        if bomb.name == "rle" {
            assert_eq!(status, 422, "{}", bomb.name);
            assert!(String::from_utf8_lossy(&body).contains("decode budget"));
        } else {
            assert_eq!(status, 200, "{}", bomb.name);
            assert!(body.starts_with(b"\x89PNG"));
        }
        // In full, no codec may: refused before anything is decoded.
        let rendered = format!(
            "{}/dicom-web/studies/{}/series/{}/instances/{}/rendered",
            serve.url, bomb.study, bomb.series, bomb.sop
        );
        let (status, body) = status_and_body(&rendered);
        assert_eq!(
            status,
            422,
            "{}: {}",
            bomb.name,
            String::from_utf8_lossy(&body)
        );
    }
    // Two scaled renders at once share the budget.
    let scaled: Vec<String> = bombs
        .iter()
        .filter(|b| b.name != "rle")
        .map(|b| {
            format!(
                "{}/dicom-web/studies/{}/series/{}/instances/{}/rendered?viewport=256,256",
                serve.url, b.study, b.series, b.sop
            )
        })
        .collect();
    let handles: Vec<_> = scaled
        .into_iter()
        .map(|url| std::thread::spawn(move || status_and_body(&url).0))
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), 200);
    }
    let peak = peak_mb(serve.pid());
    eprintln!(
        "figure: decode bombs (16384² JPEG 2000 and JPEG thumbnailed at reduced resolution, RLE \
         refused; full renders refused; two scaled renders at once): serve's peak resident \
         memory {before} MB before, {peak} MB after"
    );
    assert!(peak < 600, "peak {peak} MB");
}
