//! Writing instances back (what modifications and de-identification do), checked with pydicom
//! on pydicom's test files: a data set written back unchanged keeps every element (sequences
//! included, from big endian, deflated and compressed sources), its pixel data decodes to the
//! same values, and compressed pixel data keeps every fragment byte for byte; a changed value
//! is what is read back.

mod support;

use lightbox_dicom::dataset::{Element, Value};
use lightbox_dicom::rewrite::write_instance;
use lightbox_dicom::{read_bytes, read_file, tag, DataSet, DicomFile, ReadMode, Vr};
use std::path::PathBuf;

/// The bytes of each pixel data fragment, as the file holds them.
fn fragments(file: &DicomFile, bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    match &file.pixel_data()?.value {
        Value::Encapsulated { fragments, .. } => Some(
            fragments
                .iter()
                .map(|f| {
                    let source: &[u8] = file.inflated.as_deref().map_or(bytes, |b| b.as_slice());
                    source[f.offset as usize..(f.offset + f.length) as usize].to_vec()
                })
                .collect(),
        ),
        _ => None,
    }
}

#[test]
fn instances_written_back_unchanged_keep_every_element_and_every_pixel() {
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
    let (mut pairs, mut with_pixels, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    let mut compressed = 0;
    for path in &entries {
        let Ok(file) = read_file(path, ReadMode::Full) else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut written = Vec::new();
        if let Err(e) = write_instance(path, &file, &file.dataset, &mut written) {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        let target = out.path().join(format!("{name}.rewritten.dcm"));
        std::fs::write(&target, &written).unwrap();
        let back = read_bytes(&written, ReadMode::Full).unwrap();
        let original_bytes = std::fs::read(path).unwrap();
        if let Some(original) = fragments(&file, &original_bytes) {
            compressed += 1;
            if back.transfer_syntax != file.transfer_syntax {
                failures.push(format!("{name}: written in {}", back.transfer_syntax));
            }
            if fragments(&back, &written) != Some(original) {
                failures.push(format!("{name}: fragments differ"));
            }
        }
        pairs.push((path.clone(), target.clone()));
        if file.pixel_data().is_some() {
            with_pixels.push((path.clone(), target));
        }
    }
    assert!(pairs.len() > 70, "{} files", pairs.len());
    assert!(compressed > 20, "{compressed} compressed files");
    for row in support::compare_pairs(&python, "elements", &pairs) {
        let differences = row["differences"].as_array().unwrap();
        if !differences.is_empty() {
            failures.push(format!("{}: {differences:?}", row["original"]));
        }
    }
    let mut decoded = 0;
    for row in support::compare_pairs(&python, "pixels", &with_pixels) {
        if row.get("error").is_some() {
            continue;
        }
        decoded += 1;
        if row["max_abs_diff"].as_u64() != Some(0) || row["shape"] != row["original_shape"] {
            failures.push(format!(
                "{}: pixels differ ({} max)",
                row["original"], row["max_abs_diff"]
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    eprintln!(
        "figure: {} pydicom files written back, {compressed} with their fragments kept byte for byte, {decoded} decoded identically",
        pairs.len()
    );
}

fn set_text(ds: &mut DataSet, t: lightbox_dicom::Tag, vr: Vr, text: &str) {
    let mut value = text.as_bytes().to_vec();
    if value.len() % 2 == 1 {
        value.push(b' ');
    }
    ds.elements.retain(|e| e.tag != t);
    ds.elements.push(Element {
        tag: t,
        vr,
        value: Value::Bytes(value),
    });
}

#[test]
fn a_changed_value_is_read_back_and_the_header_follows_the_data_set() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let path = data.join("test_files/JPEG2000.dcm");
    let file = read_file(&path, ReadMode::Full).unwrap();
    let mut ds = file.dataset.clone();
    set_text(&mut ds, tag::PATIENT_NAME, Vr::PN, "Changed^Name");
    set_text(&mut ds, tag::SOP_INSTANCE_UID, Vr::UI, "2.25.1234");
    let mut written = Vec::new();
    let report = write_instance(&path, &file, &ds, &mut written).unwrap();
    assert_eq!(report.length as usize, written.len());
    let back = read_bytes(&written, ReadMode::Full).unwrap();
    assert_eq!(
        back.dataset.text(tag::PATIENT_NAME).unwrap(),
        "Changed^Name"
    );
    assert_eq!(
        back.dataset.text(tag::SOP_INSTANCE_UID).unwrap(),
        "2.25.1234"
    );
    assert_eq!(
        back.meta.text(tag::MEDIA_STORAGE_SOP_INSTANCE_UID).unwrap(),
        "2.25.1234"
    );
    assert_eq!(back.transfer_syntax, file.transfer_syntax);
}

/// Compares, with pydicom, the original's pixels and the blanked file's: outside the rectangle
/// they are equal (lossy JPEG apart: within the decoders' difference), inside every sample is
/// `black`. Prints `ok` or what differs.
const BLANK_CHECK: &str = r#"
import sys, warnings, numpy as np, pydicom
warnings.simplefilter("ignore")
da, db = pydicom.dcmread(sys.argv[1]), pydicom.dcmread(sys.argv[2])
x, y, w, h = map(int, sys.argv[3:7])
black = np.array([int(v) for v in sys.argv[7].split(",")])
shape = (int(getattr(da, "NumberOfFrames", 1) or 1), da.Rows, da.Columns, da.SamplesPerPixel)
a = da.pixel_array.reshape(shape).astype(np.int64)
b = db.pixel_array.reshape(shape).astype(np.int64)
mask = np.zeros((da.Rows, da.Columns), bool)
mask[y:y + h, x:x + w] = True
bad = int(np.sum(np.any(b[:, mask, :] != black, axis=-1)))
diff = int(np.max(np.abs(a[:, ~mask, :] - b[:, ~mask, :])))
print("ok" if bad == 0 and diff == 0 else f"inside {bad} wrong, outside max diff {diff}")
"#;

#[test]
fn rectangles_are_blanked_in_every_frame_and_nothing_else_changes() {
    use lightbox_dicom::deid::pixels::Rect;
    use lightbox_dicom::transcode;
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let rect = Rect {
        x: 3,
        y: 5,
        width: 20,
        height: 7,
    };
    // Native little and big endian, signed; compressed grey and colour; multi-frame.
    for (name, black) in [
        ("CT_small.dcm", "-32768"),
        ("MR_small_bigendian.dcm", "-32768"),
        ("JPEG2000.dcm", "-32768"),
        ("SC_rgb_rle.dcm", "0,0,0"),
        ("rtdose.dcm", "0"),
        ("SC_rgb_rle_2frame.dcm", "0,0,0"),
    ] {
        let path = data.join("test_files").join(name);
        let file = read_file(&path, ReadMode::Header).unwrap();
        let signed = file.dataset.int(tag::PIXEL_REPRESENTATION) == Some(1);
        let black = if signed {
            black.to_string()
        } else {
            black.trim_start_matches('-').replace("32768", "0")
        };
        let mut body = Vec::new();
        transcode::to_native_changed(
            &path,
            lightbox_dicom::transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN,
            None,
            &[rect],
            &mut body,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = |t| file.dataset.text(t).unwrap_or_default();
        let mut bytes = lightbox_dicom::meta::part10_header(
            &text(tag::SOP_CLASS_UID),
            &text(tag::SOP_INSTANCE_UID),
            lightbox_dicom::transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN,
            None,
        );
        bytes.extend_from_slice(&body);
        let target = out.path().join(format!("{name}.blanked.dcm"));
        std::fs::write(&target, &bytes).unwrap();
        let args: Vec<std::ffi::OsString> = vec![
            path.clone().into(),
            target.into(),
            rect.x.to_string().into(),
            rect.y.to_string().into(),
            rect.width.to_string().into(),
            rect.height.to_string().into(),
            black.clone().into(),
        ];
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let verdict = support::run_python_code(&python, BLANK_CHECK, &refs);
        assert_eq!(verdict.trim(), "ok", "{name}");
    }
}
