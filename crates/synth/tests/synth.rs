//! The synthetic data set generator against pydicom: every generated file must be read by
//! `pydicom.dcmread` without `force`, decode, and form a consistent patient/study/series hierarchy
//! (`tests/reference/validate_synth.py`).

#[path = "../../dicom/tests/support/mod.rs"]
mod support;

use lightbox_synth::{generate, instance_bytes, SynthSpec};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    out.sort();
    out
}

fn validate(python: &Path, dir: &Path) -> serde_json::Value {
    let out = support::run_reference_script(python, "validate_synth.py", &[dir.as_os_str()]);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON summary");
    assert_eq!(
        summary["error_count"], 0,
        "validation errors: {:#}",
        summary["errors"]
    );
    summary
}

#[test]
fn generated_files_are_deterministic_and_counted() {
    let spec = SynthSpec {
        patients: 3,
        studies_per_patient: 2,
        series_per_study: 2,
        instances_per_series: 3,
        rows: 64,
        columns: 64,
        ..SynthSpec::default()
    };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let report = generate(&spec, a.path()).unwrap();
    assert_eq!(report, generate(&spec, b.path()).unwrap());
    let fa = files(a.path());
    let fb = files(b.path());
    assert_eq!(report.files, 36);
    assert_eq!(fa.len(), 36);
    let total: u64 = fa.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
    assert_eq!(report.bytes, total);
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(
            x.strip_prefix(a.path()).unwrap(),
            y.strip_prefix(b.path()).unwrap()
        );
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{}",
            x.display()
        );
    }
    // The in-memory encoder gives the same bytes as the file: patient 0 has one directory per
    // study; the files of the first instance are `1.dcm`.
    let ones: Vec<&PathBuf> = fa
        .iter()
        .filter(|f| f.file_name() == Some(OsStr::new("1.dcm")))
        .collect();
    assert_eq!(ones.len(), 12);
    let single = instance_bytes(&spec, 1, 0, 1, 0);
    assert!(ones.iter().any(|f| std::fs::read(f).unwrap() == single));
}

#[test]
fn pydicom_reads_a_mixed_data_set() {
    let Some(python) = support::python() else {
        return;
    };
    let spec = SynthSpec {
        patients: 3,
        studies_per_patient: 2,
        series_per_study: 2,
        instances_per_series: 3,
        rows: 64,
        columns: 64,
        ..SynthSpec::default()
    };
    let dir = tempfile::tempdir().unwrap();
    generate(&spec, dir.path()).unwrap();
    let s = validate(&python, dir.path());
    assert_eq!(s["files"], 36);
    assert_eq!(s["patients"], 3);
    assert_eq!(s["studies"], 6);
    assert_eq!(s["series"], 12);
    assert_eq!(s["instances"], 36);
    assert_eq!(s["studies_per_patient"], serde_json::json!([2]));
    assert_eq!(s["series_per_study"], serde_json::json!([2]));
    assert_eq!(s["instances_per_series"], serde_json::json!([3]));
    // The third patient has a UTF-8 name; only that patient carries a character set.
    assert_eq!(s["non_ascii_patients"], 1);
    assert_eq!(s["charset_patients"], 1);
}

#[test]
fn pydicom_reads_every_modality() {
    let Some(python) = support::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for modality in ["CT", "MR", "CR", "DX", "US", "PT"] {
        let spec = SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 2,
            instances_per_series: 4,
            rows: 48,
            columns: 80,
            seed: 7,
            modality: Some(modality.to_string()),
            // The tomographic ones start with a localizer: it must be as valid as the rest.
            localizer: true,
            enhanced: false,
        };
        let out = dir.path().join(modality);
        generate(&spec, &out).unwrap();
        let s = validate(&python, &out);
        assert_eq!(s["instances"], 8, "{modality}");
        assert_eq!(s["modalities"], serde_json::json!({ modality: 8 }));
    }
}

#[test]
fn pydicom_reads_enhanced_multi_frame_instances() {
    let Some(python) = support::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for modality in ["CT", "MR"] {
        let spec = SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 2,
            instances_per_series: 6,
            rows: 40,
            columns: 56,
            modality: Some(modality.to_string()),
            enhanced: true,
            ..SynthSpec::default()
        };
        let out = dir.path().join(modality);
        let report = generate(&spec, &out).unwrap();
        assert_eq!(report.files, 2, "one instance per series");
        let s = validate(&python, &out);
        assert_eq!(s["instances"], 2, "{modality}");
        assert_eq!(s["modalities"], serde_json::json!({ modality: 2 }));
    }
}
