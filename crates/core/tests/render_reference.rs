//! Rendering against pydicom on pydicom's real test files: every image pydicom decodes must
//! render here too, at the same size, within a small mean absolute difference of its 8-bit
//! rendering under the same rules (`tests/reference/render_reference.py` states them).
//!
//! Also: every file of the test set (and truncated copies of every image) renders or fails with
//! a clear error, never a panic.

mod support;

use lightbox_core::render::{render_file, FrameChoice, Image8, PixelError};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// Lossless paths agree to rounding; lossy JPEG decoders differ in IDCT and chroma upsampling.
const MAX_MEAN_ABS_DIFF: f64 = 2.0;

/// Files allowed a larger difference, each with its cause (never above 6). None needs one now:
/// the largest, 0.13, is libjpeg's against jpeg-decoder's IDCT and YCbCr rounding on dcmtk's
/// YCbCr baseline streams (`SC_rgb_dcmtk_+eb+cy+n1.dcm`, `+np`).
fn tolerance(_name: &str) -> f64 {
    MAX_MEAN_ABS_DIFF
}

/// Transfer syntaxes whose every decodable file must render: native (implicit/explicit little,
/// explicit big, deflated), RLE, JPEG baseline, extended (12-bit), lossless (14, 14 SV1),
/// JPEG-LS lossless and near-lossless, JPEG 2000 lossless and lossy.
const COVERED: &[&str] = &[
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
];

/// What Lightbox must do with a file pydicom cannot render.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Renders (compared with the named file's reference when one is given).
    Renders(Option<&'static str>),
    /// Fails with a clean error whose message contains the text.
    Fails(&'static str),
}

/// The image files of pydicom's `test_files` that pydicom 3.0.2 itself cannot render, why, and
/// what Lightbox does instead. Any other pydicom failure fails the test.
const NO_REFERENCE: &[(&str, &str, Outcome)] = &[
    (
        "JPEG-lossy.dcm",
        // The same instance (same SOP Instance UID) as JPGExtended.dcm, byte for byte but for the
        // scan header's spectral selection end (0 instead of 63), which libjpeg and GDCM reject
        // for a sequential DCT scan; Lightbox's 12-bit decoder accepts it.
        "12-bit JPEG whose scan header has Se = 0",
        Outcome::Renders(Some("JPGExtended.dcm")),
    ),
    (
        "JPEG2000-embedded-sequence-delimiter.dcm",
        // JPEG2000.dcm with bytes 6..10 of the codestream (Rsiz and the high half of Xsiz)
        // overwritten by the Sequence Delimitation Item tag FE FF DD E0: a test of fragment
        // parsing whose image is broken (Xsiz 0xDDE00100). Lightbox must read the fragment whole
        // and refuse the codestream's size before OpenJPEG allocates for it.
        "codestream size overwritten",
        Outcome::Fails("JPEG 2000 codestream declares 3722445056×1024 pixels"),
    ),
    (
        "MR_truncated.dcm",
        "pixel data 8130 of 8192 bytes",
        Outcome::Fails("8130"),
    ),
    (
        "badVR.dcm",
        // Number of Frames "1A": pydicom's int() fails; an unparsable count is one frame.
        "Number of Frames is not a number",
        Outcome::Renders(None),
    ),
    (
        "meta_missing_tsyntax.dcm",
        "pixel data without any image attributes",
        Outcome::Fails("Rows"),
    ),
    (
        "nested_priv_SQ.dcm",
        "pixel data without any image attributes",
        Outcome::Fails("Rows"),
    ),
];

struct Comparison {
    rows: Vec<String>,
    failures: Vec<String>,
    transfer_syntaxes: BTreeSet<String>,
    /// pydicom's failures: name → its error.
    no_reference: Vec<(String, String)>,
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / b.len().max(1) as f64
}

fn render(path: &Path) -> Result<Image8, PixelError> {
    render_file(path, FrameChoice::Middle)
}

/// Renders every reference image of `dir` with Lightbox and compares.
fn compare_dir(python: &Path, dir: &Path, out: &Path) -> Comparison {
    let lines = support::run_reference_script(
        python,
        "render_reference.py",
        &[dir.as_os_str(), out.as_os_str()],
    );
    let mut c = Comparison {
        rows: Vec::new(),
        failures: Vec::new(),
        transfer_syntaxes: BTreeSet::new(),
        no_reference: Vec::new(),
    };
    for line in lines.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let name = r["name"].as_str().unwrap().to_string();
        let ts = r["transfer_syntax"].as_str().unwrap_or("").to_string();
        let path = dir.join(&name);
        if let Some(error) = r.get("error") {
            c.no_reference
                .push((name, error.as_str().unwrap_or("").to_string()));
            continue;
        }
        let expected = std::fs::read(out.join(format!("{name}.raw"))).unwrap();
        let (w, h, ch) = (
            r["width"].as_u64().unwrap() as u32,
            r["height"].as_u64().unwrap() as u32,
            r["channels"].as_u64().unwrap() as u8,
        );
        let image = match render(&path) {
            Ok(image) => image,
            Err(e) if !COVERED.contains(&ts.as_str()) => {
                c.rows
                    .push(format!("{name:<45} {ts:<24} not covered; Lightbox: {e}"));
                continue;
            }
            Err(e) => {
                c.failures.push(format!(
                    "{name} ({ts}): pydicom renders it, Lightbox fails: {e}"
                ));
                continue;
            }
        };
        if (image.width, image.height, image.channels) != (w, h, ch) {
            c.failures.push(format!(
                "{name}: Lightbox {}×{}×{}, pydicom {w}×{h}×{ch}",
                image.width, image.height, image.channels
            ));
            continue;
        }
        let mae = mean_abs_diff(&image.data, &expected);
        let limit = tolerance(&name);
        c.rows.push(format!(
            "{name:<45} {ts:<24} {:<13} {w:>4}×{h:<4}×{ch} MAE {mae:.3}",
            r["photometric"].as_str().unwrap_or(""),
        ));
        c.transfer_syntaxes.insert(ts);
        if mae > limit {
            c.failures.push(format!(
                "{name}: mean absolute difference {mae:.3} > {limit}"
            ));
        }
    }
    c
}

#[test]
fn renderings_match_pydicom() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let test_files = data.join("test_files");
    let out = tempfile::tempdir().unwrap();
    let mut c = compare_dir(&python, &test_files, out.path());

    // Files pydicom cannot render: each must be a documented case, with Lightbox's outcome.
    for (name, error) in &c.no_reference {
        let Some((_, reason, outcome)) = NO_REFERENCE.iter().find(|(n, ..)| n == name) else {
            c.failures.push(format!(
                "{name}: pydicom fails ({error}), and it is not a documented exception"
            ));
            continue;
        };
        let result = render(&test_files.join(name));
        match (outcome, result) {
            (Outcome::Renders(None), Ok(img)) => c.rows.push(format!(
                "{name:<45} no reference ({reason}); renders {}×{}×{}",
                img.width, img.height, img.channels
            )),
            (Outcome::Renders(Some(like)), Ok(img)) => {
                let expected = std::fs::read(out.path().join(format!("{like}.raw"))).unwrap();
                assert_eq!(img.data.len(), expected.len(), "{name} against {like}");
                let mae = mean_abs_diff(&img.data, &expected);
                c.rows.push(format!(
                    "{name:<45} {:<24} {:<13} MAE {mae:.3} against {like} ({reason})",
                    "", ""
                ));
                if mae > tolerance(name) {
                    c.failures.push(format!(
                        "{name}: mean absolute difference {mae:.3} against {like}"
                    ));
                }
            }
            (Outcome::Fails(text), Err(e)) if e.to_string().contains(text) => c.rows.push(format!(
                "{name:<45} no reference ({reason}); fails cleanly: {e}"
            )),
            (outcome, result) => c.failures.push(format!(
                "{name}: expected {outcome:?}, got {:?}",
                result.map(|i| (i.width, i.height, i.channels))
            )),
        }
    }
    for (name, ..) in NO_REFERENCE {
        if !c.no_reference.iter().any(|(n, _)| n == name) {
            c.failures.push(format!(
                "{name} is documented as undecodable by pydicom, but pydicom rendered it or it is gone"
            ));
        }
    }
    eprintln!("{}", c.rows.join("\n"));
    assert!(
        c.failures.is_empty(),
        "{} failures:\n{}",
        c.failures.len(),
        c.failures.join("\n")
    );
    // Every listed transfer syntax present in pydicom's test files was compared.
    for ts in COVERED {
        if *ts == "1.2.840.10008.1.2.4.57" {
            continue; // pydicom's bundled test files have no process 14 (non-SV1) image
        }
        assert!(
            c.transfer_syntaxes.contains(*ts),
            "no reference comparison for {ts}"
        );
    }
    assert!(c.rows.len() >= 60, "compared {} images", c.rows.len());
}

/// Variants of real test files for the rules pydicom's bundled files leave unexercised
/// (MONOCHROME1, Modality and VOI LUT Sequences, SIGMOID and LINEAR_EXACT windows, a decreasing
/// rescale, 16-bit palettes, big endian 8-bit OW, unused high bits, float pixel data, planar
/// 16-bit RGB, 1-bit frames starting mid-byte, multi-frame 16-bit RLE, YBR_FULL RLE), written by
/// `render_reference.py --derive` with pydicom and rendered by both sides.
#[test]
fn derived_renderings_match_pydicom() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let derived = tempfile::tempdir().unwrap();
    let test_files = data.join("test_files");
    support::run_reference_script(
        &python,
        "render_reference.py",
        &[
            std::ffi::OsStr::new("--derive"),
            test_files.as_os_str(),
            derived.path().as_os_str(),
        ],
    );
    let out = tempfile::tempdir().unwrap();
    let mut c = compare_dir(&python, derived.path(), out.path());
    for (name, error) in &c.no_reference {
        c.failures.push(format!(
            "{name}: pydicom cannot render this derived file: {error}"
        ));
    }
    eprintln!("{}", c.rows.join("\n"));
    assert!(
        c.failures.is_empty(),
        "{} failures:\n{}",
        c.failures.len(),
        c.failures.join("\n")
    );
    assert_eq!(c.rows.len(), 24, "derived files compared");
}

/// The larger image set of the `pydicom-data` package (`data_store/data`), when installed at
/// `test-data/pydicom-data` or named by `LIGHTBOX_PYDICOM_EXTRA_DATA`: more photometric
/// interpretations, LUTs and endiannesses. Optional: skipped when absent, even in CI.
fn render_without_panic(path: &Path) -> Result<String, String> {
    match std::panic::catch_unwind(|| render(path)) {
        Ok(Ok(img)) => {
            assert_eq!(
                img.data.len(),
                img.width as usize * img.height as usize * img.channels as usize
            );
            Ok(format!("{}×{}×{}", img.width, img.height, img.channels))
        }
        Ok(Err(e)) => {
            let message = e.to_string();
            assert!(
                !message.trim().is_empty(),
                "{}: empty error",
                path.display()
            );
            Ok(format!("error: {message}"))
        }
        Err(_) => Err(format!("{}: panicked", path.display())),
    }
}

#[test]
fn every_test_file_renders_or_fails_cleanly() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let test_files = data.join("test_files");
    let mut outcomes = Vec::new();
    let mut panics = Vec::new();
    for entry in walkdir::WalkDir::new(&test_files)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
    {
        match render_without_panic(entry.path()) {
            Ok(outcome) => outcomes.push(format!(
                "{}: {outcome}",
                entry.path().strip_prefix(&test_files).unwrap().display()
            )),
            Err(p) => panics.push(p),
        }
    }
    assert!(panics.is_empty(), "{}", panics.join("\n"));
    assert!(outcomes.len() > 80);
    // The hostile and truncated files answer with a reason.
    let outcome = |name: &str| {
        outcomes
            .iter()
            .find(|o| o.starts_with(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("{name} was not rendered"))
            .clone()
    };
    for (name, expected) in [
        ("UN_sequence.dcm", "no pixel data"),
        ("MR_truncated.dcm", "error: "),
        ("rtplan_truncated.dcm", "error: "),
        ("no_meta_group_length.dcm", "no pixel data"),
        // Its first byte is stray (0x20 before (0008,0005)): pydicom reads one garbage element.
        ("no_meta.dcm", "error: "),
        ("ExplVR_BigEndNoMeta.dcm", "no pixel data"),
        ("README.txt", "error: "),
        ("zipMR.gz", "error: "),
        ("rtplan.dump", "error: "),
        ("MR_small.dcm", "64×64×1"),
    ] {
        let got = outcome(name);
        assert!(got.contains(expected), "{got}: expected {expected}");
    }
}

/// Truncated and corrupted copies of every image file: each renders or fails cleanly.
#[test]
fn truncated_and_corrupted_images_fail_cleanly() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut tried = 0;
    let mut panics = Vec::new();
    for entry in std::fs::read_dir(data.join("test_files"))
        .unwrap()
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "dcm") || render(&path).is_err() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
        for cut in [1, 2, 7, 100, bytes.len() / 2, bytes.len() * 9 / 10] {
            if cut < bytes.len() {
                variants.push((
                    format!("{name}-cut{cut}"),
                    bytes[..bytes.len() - cut].to_vec(),
                ));
            }
        }
        // Overwrite the tail (pixel data, or the compressed stream's end) with noise.
        let mut noisy = bytes.clone();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let tail = noisy.len() / 3;
        for b in noisy[tail..].iter_mut().step_by(7) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        variants.push((format!("{name}-noise"), noisy));
        for (variant, content) in variants {
            let target = dir.path().join(variant);
            std::fs::write(&target, content).unwrap();
            tried += 1;
            if let Err(p) = render_without_panic(&target) {
                panics.push(p);
            }
        }
    }
    assert!(panics.is_empty(), "{}", panics.join("\n"));
    assert!(tried > 300, "tried {tried} variants");
}
