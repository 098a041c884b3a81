//! The character set decoder against pydicom, on pydicom's `charset_files`.
//!
//! `tests/reference/charset_reference.py` lists every PN, SH, LO, ST, LT, UT and UC value of every
//! file (sequence items included) with its raw bytes, the (0008,0005) terms in effect and pydicom's
//! decoded string; we decode the same bytes and compare after trimming the way pydicom does.

mod support;

use lightbox_dicom::charset::{SpecificCharacterSet, TextKind};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Reference {
    file: String,
    path: String,
    vr: String,
    terms: Vec<String>,
    hex: String,
    value: String,
}

fn kind_of(vr: &str) -> TextKind {
    match vr {
        "PN" => TextKind::PersonName,
        "SH" | "LO" | "UC" => TextKind::MultiValued,
        "ST" | "LT" | "UT" => TextKind::Text,
        other => panic!("the reference script listed a {other} value"),
    }
}

/// Our decoded text in the form pydicom returns it (multiple values joined with `\`).
fn as_pydicom(decoded: &str, vr: &str) -> String {
    let padding = [' ', '\0'];
    match vr {
        // convert_PN strips the whole value, then PersonName drops empty trailing component groups
        // ("Wang^XiaoDong=王^小東=" has an empty phonetic group).
        "PN" => decoded
            .trim_end_matches(padding)
            .split('\\')
            .map(|name| name.trim_end_matches('='))
            .collect::<Vec<_>>()
            .join("\\"),
        // convert_text strips each value.
        "SH" | "LO" | "UC" => decoded
            .split('\\')
            .map(|v| v.trim_end_matches(padding))
            .collect::<Vec<_>>()
            .join("\\"),
        // convert_single_string strips the end of the text.
        _ => decoded.trim_end_matches(padding).to_string(),
    }
}

fn first_difference(expected: &str, actual: &str) -> String {
    let (mut e, mut a) = (expected.chars(), actual.chars());
    let mut index = 0;
    loop {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => index += 1,
            (x, y) => {
                let show = |c: Option<char>| match c {
                    Some(c) => format!("U+{:04X} {c:?}", c as u32),
                    None => "end of text".to_string(),
                };
                return format!("character {index}: pydicom {}, ours {}", show(x), show(y));
            }
        }
    }
}

#[test]
fn decodes_like_pydicom() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let Some(python) = support::python() else {
        return;
    };
    let dir = data.join("charset_files");
    let output = support::run_reference_script(&python, "charset_reference.py", &[dir.as_os_str()]);

    let mut per_file: BTreeMap<String, usize> = BTreeMap::new();
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for line in output.lines() {
        let reference: Reference = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("bad reference line {line:?}: {e}"));
        let bytes = hex::decode(&reference.hex).expect("hex bytes from the reference script");
        let charset = SpecificCharacterSet::from_terms(&reference.terms);
        let decoded = charset.decode(&bytes, kind_of(&reference.vr));
        let ours = as_pydicom(&decoded, &reference.vr);
        compared += 1;
        if !bytes.is_empty() {
            *per_file.entry(reference.file.clone()).or_default() += 1;
        }
        if ours != reference.value {
            mismatches.push(format!(
                "{} {} {} {:?}\n  bytes:   {}\n  pydicom: {:?}\n  ours:    {:?}\n  first difference at {}",
                reference.file,
                reference.path,
                reference.vr,
                reference.terms,
                reference.hex,
                reference.value,
                ours,
                first_difference(&reference.value, &ours),
            ));
        }
    }

    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("charset_files")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.to_ascii_lowercase().ends_with(".dcm"))
        .collect();
    files.sort();
    let silent: Vec<&String> = files
        .iter()
        .filter(|f| !per_file.contains_key(*f))
        .collect();
    assert!(!files.is_empty(), "no .dcm files in {}", dir.display());
    assert!(
        silent.is_empty(),
        "files without any non-empty text value compared: {silent:?}"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} values differ from pydicom:\n\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
    let non_empty: usize = per_file.values().sum();
    eprintln!(
        "{compared} values ({non_empty} non-empty) from {} files decode as pydicom does",
        files.len()
    );
}
