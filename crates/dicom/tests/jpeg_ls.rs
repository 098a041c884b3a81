//! The JPEG-LS decoder against CharLS (through pyjpegls, `tests/reference/jpeg_ls_reference.py`):
//! byte for byte on pydicom's JPEG-LS files and on streams CharLS encodes across precisions,
//! component counts, interleave modes and NEAR values; and on hostile input: every truncation,
//! random mutations, and a header that claims more than the limit.

mod support;

use lightbox_dicom::pixel::codec::jpeg_ls::{decode, read_header, Error};
use serde::Deserialize;
use std::path::Path;

const LIMIT: usize = 1 << 26;

#[derive(Deserialize)]
struct Case {
    name: String,
    width: u32,
    height: u32,
    components: u8,
    bits: u8,
    near: u8,
}

/// The reference cases, written to `out`.
fn reference_cases(out: &Path) -> Option<Vec<Case>> {
    let data = support::pydicom_data()?;
    let python = support::python()?;
    let lines = support::run_reference_script(
        &python,
        "jpeg_ls_reference.py",
        &[data.join("test_files").as_os_str(), out.as_os_str()],
    );
    Some(
        lines
            .lines()
            .map(|l| serde_json::from_str(l).expect("a case"))
            .collect(),
    )
}

fn stream(out: &Path, case: &Case) -> Vec<u8> {
    std::fs::read(out.join(format!("{}.jls", case.name))).unwrap()
}

#[test]
fn decodes_exactly_what_charls_decodes() {
    let out = tempfile::tempdir().unwrap();
    let Some(cases) = reference_cases(out.path()) else {
        return;
    };
    assert!(
        cases
            .iter()
            .filter(|c| c.name.starts_with("dicom_"))
            .count()
            >= 5,
        "pydicom's JPEG-LS files"
    );
    assert!(cases.len() > 300, "{} cases", cases.len());
    for case in &cases {
        let expected = std::fs::read(out.path().join(format!("{}.raw", case.name))).unwrap();
        let (info, samples) = decode(&stream(out.path(), case), LIMIT)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(
            (
                info.width,
                info.height,
                info.components,
                info.bits_per_sample,
                info.near
            ),
            (
                case.width,
                case.height,
                case.components,
                case.bits,
                case.near
            ),
            "{}",
            case.name
        );
        assert!(
            samples == expected,
            "{}: samples differ from CharLS",
            case.name
        );
    }
}

/// Where the entropy-coded data of the first scan starts.
fn first_scan_data(stream: &[u8]) -> usize {
    let sos = stream.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    sos + 2 + u16::from_be_bytes([stream[sos + 2], stream[sos + 3]]) as usize
}

fn dicom_streams(out: &Path, cases: &[Case]) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    cases
        .iter()
        .filter(|c| c.name.starts_with("dicom_"))
        .map(|c| {
            let expected = std::fs::read(out.join(format!("{}.raw", c.name))).unwrap();
            (c.name.clone(), stream(out, c), expected)
        })
        .collect()
}

#[test]
fn every_truncation_is_reported_as_such() {
    let out = tempfile::tempdir().unwrap();
    let Some(cases) = reference_cases(out.path()) else {
        return;
    };
    for (name, stream, expected) in dicom_streams(out.path(), &cases) {
        let step = (stream.len() / 500).max(1);
        for cut in (0..stream.len()).step_by(step) {
            match decode(&stream[..cut], LIMIT) {
                // Only the end-of-image marker may be missing.
                Ok((_, samples)) => assert!(
                    cut >= stream.len() - 2 && samples == expected,
                    "{name}: cut at {cut} of {} decoded",
                    stream.len()
                ),
                Err(e) if cut >= first_scan_data(&stream) => {
                    assert_eq!(e, Error::Truncated, "{name}: cut at {cut}")
                }
                Err(_) => {}
            }
        }
    }
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_streams_never_panic_and_keep_their_size() {
    let out = tempfile::tempdir().unwrap();
    let Some(cases) = reference_cases(out.path()) else {
        return;
    };
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let (mut decoded, mut refused) = (0, 0);
    for (_, stream, _) in dicom_streams(out.path(), &cases) {
        for _ in 0..400 {
            let mut bytes = stream.clone();
            for _ in 0..(rng.next() % 8 + 1) {
                let at = (rng.next() as usize) % bytes.len();
                bytes[at] = rng.next() as u8;
            }
            match decode(&bytes, LIMIT) {
                Ok((info, samples)) => {
                    let bps = if info.bits_per_sample > 8 { 2 } else { 1 };
                    assert_eq!(
                        samples.len(),
                        info.width as usize * info.height as usize * info.components as usize * bps
                    );
                    decoded += 1;
                }
                Err(_) => refused += 1,
            }
        }
    }
    eprintln!("JPEG-LS mutations: {decoded} decoded, {refused} refused");
    assert!(refused > 0 && decoded > 0);
}

#[test]
fn a_header_beyond_the_limit_is_refused_before_decoding() {
    let out = tempfile::tempdir().unwrap();
    let Some(cases) = reference_cases(out.path()) else {
        return;
    };
    let (_, mut stream, _) = dicom_streams(out.path(), &cases).remove(0);
    // SOF55: FF F7, length, precision, then height and width.
    let sof = stream.windows(2).position(|w| w == [0xFF, 0xF7]).unwrap();
    stream[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    let header = read_header(&stream).unwrap();
    assert_eq!((header.width, header.height), (65535, 65535));
    assert!(matches!(
        decode(&stream, LIMIT),
        Err(Error::TooLarge { .. })
    ));
}
