//! The DICOM JSON model and the text dump against pydicom on its own test files.

mod support;

use lightbox_core::dicom::{self, dump::dump, json::to_json, ReadMode};
use serde_json::Value;

const FILES: &[&str] = &[
    "test_files/CT_small.dcm",
    "test_files/MR_small.dcm",
    "test_files/MR_small_bigendian.dcm",
    "test_files/rtplan.dcm",
    "test_files/rtstruct.dcm",
    "test_files/test-SR.dcm",
    "test_files/nested_priv_SQ.dcm",
    "test_files/priv_SQ.dcm",
    "test_files/ExplVR_BigEnd.dcm",
    "test_files/image_dfl.dcm",
    "charset_files/chrH31.dcm",
    "charset_files/chrJapMulti.dcm",
    "charset_files/chrKoreanMulti.dcm",
    "charset_files/chrX1.dcm",
    "charset_files/chrSQEncoding.dcm",
];

/// Compares two JSON models, collecting differences with their tag paths. Normalisations, each
/// for a stated reason:
/// - numbers compare numerically (DS text "1.0" and 1 are the same value);
/// - an empty string and null are the same empty value (F.2.5 allows both for empty components);
/// - Pixel Data is always bulk data for Lightbox (it is never loaded to build metadata), where
///   pydicom inlines pixel data of 1024 bytes or less;
/// - an empty sequence has no "Value" for Lightbox (F.2.5: an empty attribute has no Value),
///   where pydicom writes an empty array;
/// - private elements of implicit VR files stay UN for Lightbox, where pydicom's vendor
///   dictionary knows their VR; both are valid models of the same bytes.
fn compare(path: &str, ours: &Value, theirs: &Value, diffs: &mut Vec<String>) {
    let private_vendor_vr = |a: &serde_json::Map<String, Value>,
                             b: &serde_json::Map<String, Value>| {
        let group = path
            .rsplit('/')
            .next()
            .and_then(|t| u16::from_str_radix(t.get(..4)?, 16).ok());
        a.get("vr") == Some(&Value::from("UN"))
            && b.get("vr") != Some(&Value::from("UN"))
            && group.is_some_and(|g| g % 2 == 1)
    };
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) if private_vendor_vr(a, b) => {}
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let sub = format!("{path}/{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => compare(&sub, x, y, diffs),
                    (None, Some(Value::Array(empty))) if key == "Value" && empty.is_empty() => {}
                    (x, y) => {
                        if key == "InlineBinary" && path.ends_with("7FE00010") {
                            continue;
                        }
                        if key == "BulkDataURI" && path.ends_with("7FE00010") {
                            continue;
                        }
                        diffs.push(format!("{sub}: Lightbox {x:?}, pydicom {y:?}"));
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(&format!("{path}[{i}]"), x, y, diffs);
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            if (a.as_f64().unwrap() - b.as_f64().unwrap()).abs()
                > 1e-9 * a.as_f64().unwrap().abs().max(1.0)
            {
                diffs.push(format!("{path}: Lightbox {a}, pydicom {b}"));
            }
        }
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) if s.is_empty() => {}
        (a, b) if a == b => {}
        (a, b) => diffs.push(format!("{path}: Lightbox {a}, pydicom {b}")),
    }
}

#[test]
fn json_model_equals_pydicom() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let paths: Vec<std::path::PathBuf> = FILES.iter().map(|f| data.join(f)).collect();
    let args: Vec<&std::ffi::OsStr> = paths.iter().map(|p| p.as_os_str()).collect();
    let reference = support::run_reference_script(&python, "json_reference.py", &args);
    let mut diffs = Vec::new();
    let mut compared = 0;
    for line in reference.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let file = r["file"].as_str().unwrap();
        assert!(
            r.get("error").is_none(),
            "pydicom failed on {file}: {}",
            r["error"]
        );
        let parsed = dicom::read_file(std::path::Path::new(file), ReadMode::Full).unwrap();
        let ours = to_json(&parsed, &|_| "bulk".to_string());
        let before = diffs.len();
        compare(file, &ours, &r["json"], &mut diffs);
        compared += r["json"].as_object().unwrap().len();
        eprintln!("{file}: {} differences", diffs.len() - before);
    }
    assert_eq!(reference.lines().count(), FILES.len());
    assert!(compared > 500, "compared {compared} top-level elements");
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn dump_shows_every_kind_of_element_and_never_panics() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let ct = dicom::read_file(&data.join("test_files/CT_small.dcm"), ReadMode::Full).unwrap();
    let text = dump(&ct);
    for expected in [
        "(0010,0010) PN PatientName",
        "(0002,0010) UI TransferSyntaxUID",
        "Private",
        "(7FE0,0010) OW PixelData",
        "<bulk data: 32768 bytes>",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let sr = dicom::read_file(&data.join("test_files/test-SR.dcm"), ReadMode::Full).unwrap();
    assert!(dump(&sr).contains("> Item 1"));
    let mut dumped = 0;
    for entry in walkdir::WalkDir::new(&data)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
    {
        if let Ok(file) = dicom::read_file(entry.path(), ReadMode::Full) {
            assert!(!dump(&file).is_empty());
            let _ = to_json(&file, &|_| String::new());
            dumped += 1;
        }
    }
    assert!(dumped > 100, "dumped {dumped}");
}
