//! De-identifying 10,000 instances into the local store (`lightbox anonymize --patient … --to
//! local`, one job per patient), against dicognito (PyPI) de-identifying the same files into a
//! folder, side by side in each round. Every round starts from a fresh store holding the
//! generated files (the import is not timed).
//!
//! Run: `cargo bench -p lightbox --bench anonymize` (after `scripts/test-setup.sh`, which
//! installs dicognito in `.venv`).

#[path = "../../core/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const PATIENTS: u32 = 10;
const SERIES: u32 = 4;
const INSTANCES: u32 = 250;
const ROUNDS: usize = 3;

fn lightbox(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lightbox"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "lightbox {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn main() {
    let python = support::python().expect("scripts/test-setup.sh makes .venv");
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("generated");
    let scratch = dir.path().join("scratch");
    lightbox(
        &scratch,
        &[
            "generate",
            source.to_str().unwrap(),
            "--patients",
            &PATIENTS.to_string(),
            "--studies",
            "1",
            "--series",
            &SERIES.to_string(),
            "--instances",
            &INSTANCES.to_string(),
            "--rows",
            "128",
            "--columns",
            "128",
            "--seed",
            "10",
        ],
    );
    let total = PATIENTS * SERIES * INSTANCES;
    let mut ratios = Vec::new();
    for round in 1..=ROUNDS {
        let data = dir.path().join(format!("data-{round}"));
        lightbox(&data, &["import", source.to_str().unwrap()]);
        let studies: serde_json::Value =
            serde_json::from_str(&lightbox(&data, &["studies", "--json"])).unwrap();
        let mut patients: Vec<String> = studies["studies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["PatientID"].as_str().unwrap().to_string())
            .collect();
        patients.sort();
        patients.dedup();
        assert_eq!(patients.len(), PATIENTS as usize);
        let _ = Command::new("sync").status();

        let started = Instant::now();
        for patient in &patients {
            lightbox(&data, &["anonymize", "--patient", patient, "--json"]);
        }
        let ours = started.elapsed().as_secs_f64();
        let stats: serde_json::Value =
            serde_json::from_str(&lightbox(&data, &["stats", "--json"])).unwrap();
        assert_eq!(
            stats["instances"].as_u64(),
            Some(2 * total as u64),
            "{stats}"
        );

        let out = dir.path().join(format!("dicognito-{round}"));
        let _ = Command::new("sync").status();
        let started = Instant::now();
        let status = Command::new(&python)
            .args(["-m", "dicognito", "--quiet", "--output-directory"])
            .arg(&out)
            .arg(&source)
            .status()
            .unwrap();
        let theirs = started.elapsed().as_secs_f64();
        assert!(status.success());
        let written = walkdir::WalkDir::new(&out)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .count();
        assert_eq!(written, total as usize);
        ratios.push(theirs / ours);
        println!(
            "round {round}: {total} instances: lightbox {ours:.2} s ({:.0}/s), dicognito {theirs:.2} s ({:.0}/s): {:.1}x",
            total as f64 / ours,
            total as f64 / theirs,
            theirs / ours
        );
        let _ = std::fs::remove_dir_all(&data);
        let _ = std::fs::remove_dir_all(&out);
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    println!(
        "median ratio {:.1}x over {ROUNDS} rounds (target: at least 10x)",
        ratios[ROUNDS / 2]
    );
}
