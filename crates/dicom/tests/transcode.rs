//! Transcoding to native little endian, checked with pydicom on pydicom's test files: every
//! element of every readable file survives re-encoding in Explicit and in Implicit VR Little
//! Endian (from big endian, deflated and compressed sources, sequences included), and decoded
//! pixel data equals pydicom's decoding of the original (`tests/reference/transcode_reference.py`).

mod support;

use lightbox_dicom::transcode::{self, TranscodeError};
use lightbox_dicom::transfer_syntax::{
    self, PixelEncoding, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
};
use lightbox_dicom::{meta, read_file, tag, ReadMode};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Lossy JPEG (DCT) decoders differ in IDCT and chroma upsampling: pydicom's decoding and ours
/// of the same stream agree to this mean absolute difference (render_reference.rs's bound).
/// Every other codec is lossless, or the same library on both sides (CharLS, OpenJPEG): exact.
pub const DCT_MAX_MEAN_ABS_DIFF: f64 = 2.0;

/// Files Lightbox cannot transcode, and why.
const CANNOT: &[(&str, &str)] = &[
    // JPEG2000.dcm with its codestream's size overwritten (see render_reference.rs).
    (
        "JPEG2000-embedded-sequence-delimiter.dcm",
        "JPEG 2000 codestream declares 3722445056×1024 pixels",
    ),
];

/// Originals pydicom cannot decode, and the file holding the same image it can decode.
const SAME_IMAGE: &[(&str, &str)] = &[
    // The same stream but for a scan header field libjpeg rejects (see render_reference.rs).
    ("JPEG-lossy.dcm", "JPGExtended.dcm"),
];

/// Writes `path` transcoded to `ts` as a Part 10 file at `out`.
fn transcode_file(path: &Path, ts: &str, out: &Path) -> Result<(), TranscodeError> {
    let header = read_file(path, ReadMode::Header)?;
    let uid = |t, m| {
        header
            .dataset
            .first_text(t)
            .or_else(|| header.meta.first_text(m))
            .unwrap_or_default()
    };
    let mut body = Vec::new();
    transcode::to_native(path, ts, &mut body)?;
    let mut file = std::fs::File::create(out)?;
    file.write_all(&meta::part10_header(
        &uid(tag::SOP_CLASS_UID, tag::MEDIA_STORAGE_SOP_CLASS_UID),
        &uid(tag::SOP_INSTANCE_UID, tag::MEDIA_STORAGE_SOP_INSTANCE_UID),
        ts,
        None,
    ))?;
    file.write_all(&body)?;
    Ok(())
}

fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap()
}

#[test]
fn transcoded_files_match_pydicom() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(data.join("test_files"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let mut pairs = Vec::new();
    let mut with_pixels = Vec::new();
    let mut source_ts = BTreeMap::new();
    let mut sources = BTreeMap::new();
    let mut failures = Vec::new();
    let mut cannot = Vec::new();
    for path in &entries {
        let Ok(file) = read_file(path, ReadMode::Header) else {
            continue;
        };
        let file_name = path.file_name().unwrap().to_string_lossy().to_string();
        source_ts.insert(file_name.clone(), file.transfer_syntax.clone());
        for ts in [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN] {
            let converted = out.path().join(format!("{file_name}.{ts}.dcm"));
            match transcode_file(path, ts, &converted) {
                Ok(()) => {
                    pairs.push((path.clone(), converted.clone()));
                    if file.pixel_data().is_some() {
                        let reference = match SAME_IMAGE.iter().find(|(n, _)| *n == file_name) {
                            Some((_, same)) => path.with_file_name(same),
                            None => path.clone(),
                        };
                        with_pixels.push((reference, converted.clone()));
                    }
                    sources.insert(converted, file_name.clone());
                }
                Err(e) => match CANNOT.iter().find(|(n, _)| *n == file_name) {
                    Some((_, why)) if e.to_string().contains(why) => cannot.push(file_name.clone()),
                    _ => failures.push(format!("{file_name} to {ts}: {e}")),
                },
            }
        }
    }
    let mut documented: Vec<String> = CANNOT.iter().map(|(n, _)| n.to_string()).collect();
    documented.sort();
    cannot.dedup();
    assert_eq!(cannot, documented, "failures: {failures:#?}");

    // Every element survives, in both encodings.
    for row in support::compare_pairs(&python, "elements", &pairs) {
        let differences = row["differences"].as_array().unwrap();
        if !differences.is_empty() {
            failures.push(format!(
                "{} → {}: {differences:?}",
                name(row["original"].as_str().unwrap()),
                row["transfer_syntax"]
            ));
        }
    }

    // Pixel data decodes to what pydicom decodes from the original.
    let mut compared = 0;
    for row in support::compare_pairs(&python, "pixels", &with_pixels) {
        if let Some(error) = row.get("error") {
            eprintln!("{}: pydicom cannot decode it ({error})", row["original"]);
            continue;
        }
        let original = sources[&PathBuf::from(row["converted"].as_str().unwrap())].clone();
        let ts = &source_ts[&original];
        let encoding = transfer_syntax::pixel_encoding(ts);
        let what = format!("{original} ({ts}) → {}", row["transfer_syntax"]);
        if row["compressed"].as_bool() != Some(false) {
            failures.push(format!("{what}: still compressed"));
        }
        if row["shape"] != row["original_shape"] {
            failures.push(format!(
                "{what}: shape {} instead of {}",
                row["shape"], row["original_shape"]
            ));
            continue;
        }
        let (max, mean) = (
            row["max_abs_diff"].as_u64().unwrap(),
            row["mean_abs_diff"].as_f64().unwrap(),
        );
        let lossy_dct = encoding == PixelEncoding::JpegDct;
        if (lossy_dct && mean > DCT_MAX_MEAN_ABS_DIFF) || (!lossy_dct && max != 0) {
            failures.push(format!("{what}: pixels differ (max {max}, mean {mean:.3})"));
        }
        if row["bits_allocated"] != row["original_bits_allocated"] {
            failures.push(format!("{what}: Bits Allocated changed"));
        }
        // Decoded pixel data is interleaved, and in a photometric interpretation native data
        // can have at full resolution (native sources keep theirs).
        if encoding != PixelEncoding::Native && row["samples"].as_u64() == Some(3) {
            if row["planar"].as_u64() != Some(0) {
                failures.push(format!("{what}: Planar Configuration {}", row["planar"]));
            }
            let photometric = row["photometric"].as_str().unwrap_or("");
            if !["RGB", "YBR_FULL"].contains(&photometric) {
                failures.push(format!("{what}: Photometric Interpretation {photometric}"));
            }
        }
        // Lossy sources say so (pydicom's JPEG-LS near-lossless files use NEAR > 0); lossless
        // ones keep what they had.
        let lossy = matches!(
            ts.as_str(),
            "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51" | "1.2.840.10008.1.2.4.81"
        );
        if lossy && row["lossy"].as_str() != Some("01") {
            failures.push(format!("{what}: Lossy Image Compression {}", row["lossy"]));
        }
        if !lossy && row["lossy"] != row["original_lossy"] {
            failures.push(format!(
                "{what}: Lossy Image Compression {} from {}",
                row["lossy"], row["original_lossy"]
            ));
        }
        eprintln!(
            "{what:<90} {:<13} max {max:<3} mean {mean:.3}",
            row["photometric"].as_str().unwrap_or("")
        );
        compared += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared >= 100, "only {compared} pixel comparisons");
}
