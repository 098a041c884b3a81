//! The sequential DCT JPEG decoder against libjpeg (pylibjpeg-libjpeg) on every pydicom test file
//! with transfer syntax JPEG Baseline (1.2.840.10008.1.2.4.50) or JPEG Extended (…4.51).
//!
//! `tests/reference/jpeg_frames.py` extracts each file's first frame and libjpeg's raw component
//! samples (no colour transform, chroma upsampled); we decode the same bitstream and compare.

mod support;

use lightbox_dicom::pixel::codec::jpeg_dct::decode;
use std::time::Instant;

/// Mean absolute difference allowed per file, in sample levels.
const MAX_MEAN: f64 = 0.5;
/// Largest difference allowed for any sample.
const MAX_DIFF: u16 = 4;

#[derive(serde::Deserialize)]
struct Reference {
    name: String,
    width: u16,
    height: u16,
    components: u8,
    precision: u8,
    photometric: String,
}

#[test]
fn matches_libjpeg_on_pydicom_files() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let Some(python) = support::python() else {
        return;
    };
    let out = tempfile::tempdir().expect("temp dir");
    let test_files = data.join("test_files");
    let stdout = support::run_reference_script(
        &python,
        "jpeg_frames.py",
        &[test_files.as_os_str(), out.path().as_os_str()],
    );
    let references: Vec<Reference> = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("reference JSON line"))
        .collect();
    for twelve_bit in ["JPEG-lossy", "JPGExtended"] {
        assert!(
            references
                .iter()
                .any(|r| r.name == twelve_bit && r.precision == 12),
            "{twelve_bit} (12-bit) missing from the reference set"
        );
    }

    let mut failures = Vec::new();
    println!(
        "{:<32} {:>13} {:>4} {:>9} {:>4} {:>8} {:>9}",
        "file", "size", "bits", "mean|d|", "max", "n(|d|>1)", "decode"
    );
    for r in &references {
        let jpeg = std::fs::read(out.path().join(format!("{}.jpg", r.name))).expect("jpg");
        let raw = std::fs::read(out.path().join(format!("{}.u16", r.name))).expect("u16");
        let expected: Vec<u16> = raw
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();

        let start = Instant::now();
        let decoded = match decode(&jpeg) {
            Ok(decoded) => decoded,
            Err(e) => {
                failures.push(format!("{}: {e}", r.name));
                continue;
            }
        };
        let elapsed = start.elapsed();
        let shape = (
            decoded.width,
            decoded.height,
            decoded.components,
            decoded.precision,
        );
        if shape != (r.width, r.height, r.components, r.precision)
            || decoded.samples.len() != expected.len()
        {
            failures.push(format!(
                "{}: decoded {shape:?}, libjpeg {:?}",
                r.name,
                (r.width, r.height, r.components, r.precision)
            ));
            continue;
        }
        // pydicom's files agree with libjpeg's markers-and-ids rule as we apply it: YBR_* data is
        // flagged YCbCr, RGB data is not (SC_jpeg_no_color_transform* included).
        if r.components == 3 && decoded.ycbcr != r.photometric.starts_with("YBR") {
            failures.push(format!(
                "{}: ycbcr = {} but Photometric Interpretation is {}",
                r.name, decoded.ycbcr, r.photometric
            ));
        }

        let diffs: Vec<u16> = decoded
            .samples
            .iter()
            .zip(&expected)
            .map(|(a, b)| a.abs_diff(*b))
            .collect();
        let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
        let max = diffs.iter().copied().max().unwrap_or(0);
        let above_one = diffs.iter().filter(|&&d| d > 1).count();
        println!(
            "{:<32} {:>13} {:>4} {:>9.4} {:>4} {:>8} {:>7.1}ms",
            r.name,
            format!("{}x{}x{}", r.width, r.height, r.components),
            r.precision,
            mean,
            max,
            above_one,
            elapsed.as_secs_f64() * 1000.0
        );
        if mean > MAX_MEAN || max > MAX_DIFF {
            failures.push(format!(
                "{}: mean |d| {mean:.4} (limit {MAX_MEAN}), max {max} (limit {MAX_DIFF})",
                r.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ from libjpeg:\n{}",
        failures.len(),
        references.len(),
        failures.join("\n")
    );
}
