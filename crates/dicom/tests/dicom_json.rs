//! The DICOM JSON model and the text dump against pydicom on its own test files.
//!
//! `LIGHTBOX_JSON_VERBOSE=1` lists every attribute that is equal only after a normalisation.

mod support;

use lightbox_dicom::{self as dicom, dump::dump, json::to_json, ReadMode};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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

/// What the comparison found: attributes compared at every nesting level, those equal as they
/// are, those equal after a named normalisation, and every difference with its tag path.
#[derive(Default)]
struct Tally {
    elements: usize,
    identical: usize,
    normalised: BTreeMap<&'static str, usize>,
    diffs: Vec<String>,
}

// The normalisations, each for a stated reason.

/// F.2.2: "Group Length (gggg,0000) attributes shall not be included"; pydicom includes them.
const GROUP_LENGTH: &str = "group length left out by Lightbox (F.2.2), kept by pydicom";
/// Numbers compare numerically: DS and IS are formatted differently (pydicom keeps the int of
/// a DS "1"), and Lightbox writes an FL with the fewest digits giving the same single-precision
/// value where pydicom writes a double: FL values compare as f32.
const NUMERIC: &str = "DS/IS/FL/FD numbers equal numerically";
/// F.2.5: an empty value in a multi-valued attribute is null; pydicom writes "".
const EMPTY_VALUE: &str = "empty value: Lightbox null (F.2.5), pydicom \"\"";
/// F.2.5: an attribute without value has no "Value"; pydicom writes [] for an empty sequence.
const EMPTY_SEQUENCE: &str = "empty sequence: Lightbox no Value (F.2.5), pydicom []";
/// Lightbox never loads Pixel Data to build metadata, so it is always bulk data; pydicom inlines
/// pixel data of up to 768 bytes. Encapsulated pixel data is OB for Lightbox (PS3.5 A.4) where
/// pydicom keeps the OW a file states.
const PIXEL_DATA: &str = "Pixel Data always bulk data in Lightbox, OB when encapsulated";
/// pydicom's threshold counts base64 characters (1024 → 768 bytes), Lightbox's counts bytes
/// (1024): a value of 769..=1024 bytes is inline for Lightbox, bulk data for pydicom.
const INLINE_THRESHOLD: &str = "binary of 769..=1024 bytes: Lightbox inline, pydicom bulk";
/// Spaces padding a value inside a multi-valued string are insignificant (PS3.5 6.2); Lightbox
/// trims them, pydicom keeps them ("DERIVED \\SECONDARY").
const VALUE_PADDING: &str = "spaces padding a value: trimmed by Lightbox, kept by pydicom";
/// In implicit VR data the dictionary gives some attributes two VRs (US or SS, OB or OW); pydicom
/// picks one from the context (Pixel Representation, transfer syntax), the parser the first: the
/// same values under either VR.
const AMBIGUOUS_VR: &str =
    "VR US/SS or OB/OW of implicit VR data resolved differently, same values";
/// pydicom parses a UN of defined length whose dictionary VR is SQ as an implicit VR sequence;
/// Lightbox keeps the bytes (InlineBinary or BulkDataURI), which F.2 allows for UN.
const UN_SEQUENCE: &str = "UN holding a sequence: bytes kept by Lightbox, items parsed by pydicom";
/// An element Lightbox keeps as UN (private elements of implicit VR files, explicit UN) while
/// pydicom gives it the VR of its private or standard dictionary: equal when our bytes, read
/// with pydicom's VR, give pydicom's values.
const UN_CONVERTED: &str = "UN kept by Lightbox, VR from pydicom's dictionary, same values";

fn compare_dataset(
    path: &str,
    ours: &Map<String, Value>,
    theirs: &Map<String, Value>,
    t: &mut Tally,
) {
    let mut keys: Vec<&String> = ours.keys().chain(theirs.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let sub = format!("{path}/{key}");
        match (ours.get(key), theirs.get(key)) {
            (Some(a), Some(b)) => compare_attribute(&sub, a, b, t),
            (None, Some(_)) if key.ends_with("0000") => {
                *t.normalised.entry(GROUP_LENGTH).or_default() += 1;
            }
            (a, b) => t
                .diffs
                .push(format!("{sub}: Lightbox {a:?}, pydicom {b:?}")),
        }
    }
}

fn compare_attribute(path: &str, ours: &Value, theirs: &Value, t: &mut Tally) {
    t.elements += 1;
    let (Some(a), Some(b)) = (ours.as_object(), theirs.as_object()) else {
        t.diffs
            .push(format!("{path}: Lightbox {ours}, pydicom {theirs}"));
        return;
    };
    if a.get("vr") == Some(&Value::from("SQ")) && b.get("vr") == Some(&Value::from("SQ")) {
        return compare_sequence(path, a, b, t);
    }
    if ours == theirs {
        t.identical += 1;
        return;
    }
    match normalisation(path, a, b) {
        Ok(reason) => {
            if std::env::var_os("LIGHTBOX_JSON_VERBOSE").is_some() {
                eprintln!("{path}: {reason}: Lightbox {ours}, pydicom {theirs}");
            }
            *t.normalised.entry(reason).or_default() += 1
        }
        Err(why) => t
            .diffs
            .push(format!("{path}: {why}: Lightbox {ours}, pydicom {theirs}")),
    }
}

fn compare_sequence(path: &str, a: &Map<String, Value>, b: &Map<String, Value>, t: &mut Tally) {
    let items = |m: &Map<String, Value>| m.get("Value").and_then(Value::as_array).cloned();
    match (items(a), items(b)) {
        (None, Some(theirs)) if theirs.is_empty() => {
            *t.normalised.entry(EMPTY_SEQUENCE).or_default() += 1;
        }
        (Some(ours), Some(theirs)) if ours.len() == theirs.len() => {
            t.identical += 1;
            for (i, (x, y)) in ours.iter().zip(&theirs).enumerate() {
                match (x.as_object(), y.as_object()) {
                    (Some(x), Some(y)) => compare_dataset(&format!("{path}[{i}]"), x, y, t),
                    _ => t
                        .diffs
                        .push(format!("{path}[{i}]: Lightbox {x}, pydicom {y}")),
                }
            }
        }
        (x, y) => t.diffs.push(format!(
            "{path}: items differ: Lightbox {:?}, pydicom {:?}",
            x.map(|v| v.len()),
            y.map(|v| v.len())
        )),
    }
}

/// Why two different attribute objects are the same attribute, or why not.
fn normalisation(
    path: &str,
    a: &Map<String, Value>,
    b: &Map<String, Value>,
) -> Result<&'static str, String> {
    let tag = path.rsplit('/').next().unwrap_or("");
    let vr = |m: &Map<String, Value>| {
        m.get("vr")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (vr_a, vr_b) = (vr(a), vr(b));
    if vr_a == "UN" && vr_b == "SQ" {
        let bytes = a
            .get("InlineBinary")
            .and_then(Value::as_str)
            .map(base64_decode)
            .unwrap_or_default();
        // Our bytes start with an item (or are bulk data); pydicom found items in them.
        let item_first =
            bytes.starts_with(&[0xFE, 0xFF, 0x00, 0xE0]) || a.contains_key("BulkDataURI");
        let items = b.get("Value").and_then(Value::as_array).map_or(0, Vec::len);
        return if item_first && items > 0 {
            Ok(UN_SEQUENCE)
        } else {
            Err("UN is no sequence".into())
        };
    }
    if vr_a == "UN" && vr_b != "UN" {
        let bytes = a
            .get("InlineBinary")
            .and_then(Value::as_str)
            .map(base64_decode)
            .unwrap_or_default();
        let theirs = b.get("Value").cloned().unwrap_or(Value::Array(Vec::new()));
        let read = read_as(&bytes, &vr_b);
        return if values_equal(&read, &theirs, &vr_b).is_some() {
            Ok(UN_CONVERTED)
        } else {
            Err(format!("UN bytes read as {vr_b} give {read}"))
        };
    }
    if tag == "7FE00010" && a.contains_key("BulkDataURI") {
        let vr_ok = vr_a == vr_b || (vr_a == "OB" && vr_b == "OW");
        return if vr_ok && (b.contains_key("InlineBinary") || b.contains_key("BulkDataURI")) {
            Ok(PIXEL_DATA)
        } else {
            Err("Pixel Data differs".into())
        };
    }
    if vr_a != vr_b {
        let ambiguous = [("US", "SS"), ("OB", "OW")]
            .iter()
            .any(|&(x, y)| (vr_a == x && vr_b == y) || (vr_a == y && vr_b == x));
        let rest = |m: &Map<String, Value>| {
            let mut m = m.clone();
            m.remove("vr");
            m
        };
        return if ambiguous && rest(a) == rest(b) {
            Ok(AMBIGUOUS_VR)
        } else {
            Err("VR differs".into())
        };
    }
    if let (Some(inline), Some(_)) = (a.get("InlineBinary"), b.get("BulkDataURI")) {
        let len = base64_decode(inline.as_str().unwrap_or("")).len();
        return if (769..=1024).contains(&len) {
            Ok(INLINE_THRESHOLD)
        } else {
            Err(format!("{len} bytes inline"))
        };
    }
    let keys_a: Vec<&String> = a.keys().collect();
    let keys_b: Vec<&String> = b.keys().collect();
    if keys_a != keys_b {
        return Err("different members".into());
    }
    values_equal(&a["Value"], &b["Value"], &vr_a).ok_or_else(|| "values differ".to_string())
}

/// Value arrays equal up to number formatting and null for "": the normalisation it took.
fn values_equal(a: &Value, b: &Value, vr: &str) -> Option<&'static str> {
    let (Some(a), Some(b)) = (a.as_array(), b.as_array()) else {
        return None;
    };
    if a.len() != b.len() {
        return None;
    }
    let mut reason = NUMERIC;
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64()?, y.as_f64()?);
                let equal = if vr == "FL" {
                    x as f32 == y as f32
                } else {
                    (x - y).abs() <= 1e-9 * x.abs().max(1.0)
                };
                if !equal {
                    return None;
                }
            }
            (Value::Null, Value::String(s)) if s.is_empty() => reason = EMPTY_VALUE,
            (x, y) if x == y => {}
            (Value::String(x), Value::String(y))
                if !matches!(vr, "LT" | "ST" | "UT" | "UR") && x == y.trim_matches(' ') =>
            {
                reason = VALUE_PADDING
            }
            _ => return None,
        }
    }
    Some(reason)
}

/// The values pydicom would give bytes of VR `vr` (little endian, as in implicit VR files).
fn read_as(bytes: &[u8], vr: &str) -> Value {
    let numbers = |size: usize, f: &dyn Fn(&[u8]) -> Value| -> Value {
        Value::Array(bytes.chunks_exact(size).map(f).collect())
    };
    match vr {
        "US" => numbers(2, &|c| u16::from_le_bytes([c[0], c[1]]).into()),
        "SS" => numbers(2, &|c| i16::from_le_bytes([c[0], c[1]]).into()),
        "UL" => numbers(4, &|c| u32::from_le_bytes(c.try_into().unwrap()).into()),
        "SL" => numbers(4, &|c| i32::from_le_bytes(c.try_into().unwrap()).into()),
        "FL" => numbers(4, &|c| f32::from_le_bytes(c.try_into().unwrap()).into()),
        "FD" => numbers(8, &|c| f64::from_le_bytes(c.try_into().unwrap()).into()),
        "AT" => numbers(4, &|c| {
            let group = u16::from_le_bytes([c[0], c[1]]);
            let element = u16::from_le_bytes([c[2], c[3]]);
            format!("{group:04X}{element:04X}").into()
        }),
        "OB" | "OW" | "OD" | "OF" | "OL" | "OV" => Value::Null,
        _ => {
            let text = String::from_utf8_lossy(bytes);
            let text = text.trim_end_matches([' ', '\0']);
            if text.is_empty() {
                return Value::Array(Vec::new());
            }
            Value::Array(
                text.split('\\')
                    .map(|v| {
                        let v = v.trim();
                        match vr {
                            "IS" | "DS" => v.parse::<f64>().map(Value::from).unwrap_or(v.into()),
                            "PN" => serde_json::json!({ "Alphabetic": v }),
                            _ => v.into(),
                        }
                    })
                    .collect(),
            )
        }
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let digit = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            _ => 63,
        }
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let n = data
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | digit(c) << (18 - 6 * i));
        out.extend(
            n.to_be_bytes()[1..]
                .iter()
                .take(data.len().saturating_sub(1)),
        );
    }
    out
}

/// Every file of pydicom's data that Lightbox reads, the files of [`FILES`] first (they must be
/// among them and pydicom must read them too).
fn readable_files(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut paths: Vec<std::path::PathBuf> = FILES.iter().map(|f| data.join(f)).collect();
    for path in &paths {
        assert!(
            dicom::read_file(path, ReadMode::Full).is_ok(),
            "Lightbox cannot read {}",
            path.display()
        );
    }
    let mut others: Vec<std::path::PathBuf> = walkdir::WalkDir::new(data)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| !paths.contains(p) && dicom::read_file(p, ReadMode::Full).is_ok())
        .collect();
    others.sort();
    paths.extend(others);
    paths
}

#[test]
fn json_model_equals_pydicom() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let paths = readable_files(&data);
    let args: Vec<&std::ffi::OsStr> = paths.iter().map(|p| p.as_os_str()).collect();
    let reference = support::run_reference_script(&python, "json_reference.py", &args);
    assert_eq!(reference.lines().count(), paths.len());
    let mut tally = Tally::default();
    let mut files = 0;
    for (i, line) in reference.lines().enumerate() {
        let r: Value = serde_json::from_str(line).unwrap();
        let file = r["file"].as_str().unwrap();
        if let Some(error) = r.get("error") {
            // A file pydicom cannot read (badVR.dcm) has nothing to compare with.
            assert!(i >= FILES.len(), "pydicom failed on {file}: {error}");
            eprintln!("{file}: pydicom failed ({error}), not compared");
            continue;
        }
        files += 1;
        let parsed = dicom::read_file(std::path::Path::new(file), ReadMode::Full).unwrap();
        let ours = to_json(&parsed, &|_| "bulk".to_string());
        let (before, elements) = (tally.diffs.len(), tally.elements);
        let name = file.strip_prefix(data.to_str().unwrap()).unwrap_or(file);
        compare_dataset(
            name,
            ours.as_object().unwrap(),
            r["json"].as_object().unwrap(),
            &mut tally,
        );
        eprintln!(
            "{name}: {} attributes, {} differences",
            tally.elements - elements,
            tally.diffs.len() - before
        );
    }
    eprintln!(
        "{files} files, {} attributes compared at all levels: {} identical, normalised: {:#?}",
        tally.elements, tally.identical, tally.normalised
    );
    assert!(
        files > 100 && tally.elements > 10_000,
        "compared {} attributes",
        tally.elements
    );
    assert!(
        tally.diffs.is_empty(),
        "{} differences:\n{}",
        tally.diffs.len(),
        tally.diffs.join("\n")
    );
}

#[test]
fn base64_decoder_of_the_comparison() {
    assert_eq!(base64_decode("Zm9vYmE="), b"fooba");
    assert_eq!(base64_decode("Zm9vYg=="), b"foob");
    assert_eq!(base64_decode("Zm9vYmFy"), b"foobar");
}

#[test]
fn dump_shows_every_kind_of_element_and_never_panics() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let ct = dicom::read_file(&data.join("test_files/CT_small.dcm"), ReadMode::Full).unwrap();
    let text = dump(&ct);
    for expected in [
        "(0002,0010) UI TransferSyntaxUID",
        "(0010,0010) PN PatientName",
        "(0009,0010) LO Private",
        "(0010,1002) SQ OtherPatientIDsSequence",
        "  > Item 2\n    (0010,0020) LO PatientID",
        "(7FE0,0010) OW PixelData",
        "<bulk data: 32768 bytes>",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(
        text.find("# File meta information") < text.find("(0008,0005)"),
        "file meta first"
    );
    let mut dumped = 0;
    for entry in walkdir::WalkDir::new(&data)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
    {
        if let Ok(file) = dicom::read_file(entry.path(), ReadMode::Full) {
            let text = std::panic::catch_unwind(|| dump(&file))
                .unwrap_or_else(|_| panic!("dump panicked on {}", entry.path().display()));
            assert!(!text.is_empty());
            std::panic::catch_unwind(|| to_json(&file, &|_| String::new()))
                .unwrap_or_else(|_| panic!("to_json panicked on {}", entry.path().display()));
            dumped += 1;
        }
    }
    assert!(dumped > 100, "dumped {dumped}");
}
