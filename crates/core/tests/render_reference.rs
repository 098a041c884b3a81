//! Rendering against pydicom on pydicom's real test files: every image pydicom decodes must
//! render here too, at the same size, within a small mean absolute difference of its 8-bit
//! rendering under the same rules (`tests/reference/render_reference.py` states them).

mod support;

use lightbox_core::render::{render_file, FrameChoice};
use serde_json::Value;

/// Lossless paths agree to rounding; lossy JPEG decoders differ in IDCT and chroma upsampling.
const MAX_MEAN_ABS_DIFF: f64 = 2.0;

#[test]
fn renderings_match_pydicom() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let test_files = data.join("test_files");
    let out = tempfile::tempdir().unwrap();
    let lines = support::run_reference_script(
        &python,
        "render_reference.py",
        &[test_files.as_os_str(), out.path().as_os_str()],
    );
    let mut failures = Vec::new();
    let mut compared = Vec::new();
    let mut transfer_syntaxes = std::collections::BTreeSet::new();
    for line in lines.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let name = r["name"].as_str().unwrap();
        let path = test_files.join(name);
        if let Some(error) = r.get("error") {
            // pydicom could not decode it: no reference, but Lightbox must still answer cleanly.
            match render_file(&path, FrameChoice::Middle) {
                Ok(img) => eprintln!(
                    "{name}: no reference ({error}); Lightbox renders {}×{}",
                    img.width, img.height
                ),
                Err(e) => eprintln!("{name}: no reference ({error}); Lightbox: {e}"),
            }
            continue;
        }
        let expected = std::fs::read(out.path().join(format!("{name}.raw"))).unwrap();
        let (w, h, c) = (
            r["width"].as_u64().unwrap() as u32,
            r["height"].as_u64().unwrap() as u32,
            r["channels"].as_u64().unwrap() as u8,
        );
        let image = match render_file(&path, FrameChoice::Middle) {
            Ok(image) => image,
            Err(e) => {
                failures.push(format!("{name}: pydicom renders it, Lightbox fails: {e}"));
                continue;
            }
        };
        if (image.width, image.height, image.channels) != (w, h, c) {
            failures.push(format!(
                "{name}: Lightbox {}×{}×{}, pydicom {w}×{h}×{c}",
                image.width, image.height, image.channels
            ));
            continue;
        }
        let mae = image
            .data
            .iter()
            .zip(&expected)
            .map(|(a, b)| (*a as f64 - *b as f64).abs())
            .sum::<f64>()
            / expected.len() as f64;
        compared.push(format!(
            "{name:<45} {:<24} MAE {mae:.3}",
            r["transfer_syntax"].as_str().unwrap_or("")
        ));
        transfer_syntaxes.insert(r["transfer_syntax"].as_str().unwrap_or("").to_string());
        if mae > MAX_MEAN_ABS_DIFF {
            failures.push(format!(
                "{name}: mean absolute difference {mae:.3} > {MAX_MEAN_ABS_DIFF}"
            ));
        }
    }
    // JPEG-lossy.dcm is the same instance as JPGExtended.dcm (same SOP Instance UID) in a 12-bit
    // stream whose scan header neither libjpeg nor GDCM accept, so its reference is JPGExtended's.
    let lossy = render_file(&test_files.join("JPEG-lossy.dcm"), FrameChoice::Middle)
        .expect("12-bit JPEG-lossy.dcm renders");
    let extended = std::fs::read(out.path().join("JPGExtended.dcm.raw")).unwrap();
    assert_eq!(lossy.data.len(), extended.len());
    let mae = lossy
        .data
        .iter()
        .zip(&extended)
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .sum::<f64>()
        / extended.len() as f64;
    compared.push(format!(
        "{:<45} {:<24} MAE {mae:.3} (against JPGExtended.dcm)",
        "JPEG-lossy.dcm", "1.2.840.10008.1.2.4.51"
    ));
    if mae > MAX_MEAN_ABS_DIFF {
        failures.push(format!(
            "JPEG-lossy.dcm: mean absolute difference {mae:.3} against JPGExtended.dcm"
        ));
    }
    eprintln!("{}", compared.join("\n"));
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The transfer syntaxes the issue lists must all have been exercised against a reference.
    for ts in [
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
    ] {
        assert!(
            transfer_syntaxes.contains(ts),
            "no reference comparison for {ts}"
        );
    }
    assert!(compared.len() >= 55, "compared {} images", compared.len());
}

#[test]
fn every_test_file_renders_or_fails_cleanly() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let mut outcomes = Vec::new();
    for entry in walkdir::WalkDir::new(data.join("test_files"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
    {
        let outcome = match render_file(entry.path(), FrameChoice::Middle) {
            Ok(img) => format!("{}×{}×{}", img.width, img.height, img.channels),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                format!("error: {e}")
            }
        };
        outcomes.push(format!(
            "{}: {outcome}",
            entry.file_name().to_string_lossy()
        ));
    }
    assert!(outcomes.len() > 80);
}
