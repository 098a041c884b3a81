//! Series thumbnails: size and aspect, cache regeneration when the series changes, typed
//! placeholders for non-image series.

mod support;

use lightbox_core::import::{self, ImportOptions, ImportProgress};
use lightbox_core::index::StudyQuery;
use lightbox_core::render::thumbnail::{self, series_thumbnail};
use lightbox_core::store::Store;
use lightbox_synth::{self as synth, SynthSpec};
use std::path::PathBuf;

fn import_all(store: &Store, paths: &[PathBuf]) {
    let report = import::import(
        store,
        paths,
        &ImportOptions::default(),
        &ImportProgress::default(),
    )
    .unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
}

fn png_size(png: &[u8]) -> (u32, u32, image::ColorType) {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png).unwrap();
    (img.width(), img.height(), img.color())
}

fn cache_files(store: &Store) -> Vec<PathBuf> {
    walkdir::WalkDir::new(store.thumbnails_dir())
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn thumbnails_fit_the_size_are_cached_and_follow_series_changes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 6,
        rows: 300,
        columns: 400,
        seed: 3,
        modality: Some("CT".into()),
        ..Default::default()
    };
    let data = dir.path().join("data");
    synth::generate(&spec, &data).unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    // Import four of the six instances first.
    let files: Vec<PathBuf> = walkdir::WalkDir::new(&data)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    assert_eq!(files.len(), 6);
    import_all(&store, &files[..4]);
    let study = store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
        .remove(0);
    let series = store
        .index()
        .series_of_study(&study.study_uid)
        .unwrap()
        .remove(0);

    let png = series_thumbnail(&store, &series.series_uid, 256).unwrap();
    assert_eq!(
        png_size(&png),
        (256, 192, image::ColorType::L8),
        "long side 256, aspect 4:3 kept"
    );
    let small = series_thumbnail(&store, &series.series_uid, 64).unwrap();
    assert_eq!(png_size(&small).0, 64);
    assert_eq!(cache_files(&store).len(), 2);
    // A second request is served from the cache: same bytes, no new file.
    assert_eq!(
        series_thumbnail(&store, &series.series_uid, 256).unwrap(),
        png
    );
    assert_eq!(cache_files(&store).len(), 2);

    // The series changes: the thumbnail is regenerated (middle instance moves) and stale entries go.
    import_all(&store, &files[4..]);
    let regenerated = series_thumbnail(&store, &series.series_uid, 256).unwrap();
    // 4 instances → middle is the 3rd; 6 → the 4th, a different slice of the phantom.
    assert!(
        regenerated != png,
        "the middle instance changed, so must the thumbnail"
    );
    let cached = cache_files(&store);
    assert_eq!(cached.len(), 1, "stale revisions are dropped: {cached:?}");

    // The image is not blank: a CT phantom has both dark and bright pixels.
    let img = image::load_from_memory(&regenerated).unwrap().to_luma8();
    let (min, max) = img
        .pixels()
        .fold((255u8, 0u8), |(lo, hi), p| (lo.min(p[0]), hi.max(p[0])));
    assert!(min < 30 && max > 150, "range {min}..{max}");
}

#[test]
fn non_image_series_get_typed_placeholders() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let files = data.join("test_files");
    import_all(
        &store,
        &[
            files.join("rtplan.dcm"),
            files.join("rtstruct.dcm"),
            files.join("test-SR.dcm"),
            files.join("waveform_ecg.dcm"),
        ],
    );
    let mut labels = Vec::new();
    for study in store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
    {
        for series in store.index().series_of_study(&study.study_uid).unwrap() {
            let png = series_thumbnail(&store, &series.series_uid, 128).unwrap();
            assert_eq!(png_size(&png), (128, 128, image::ColorType::Rgb8));
            let instance = &store
                .index()
                .instances_of_series(&series.series_uid)
                .unwrap()[0];
            let label = thumbnail::non_image_label(
                instance.sop_class_uid.as_deref(),
                series.modality.as_deref(),
            )
            .unwrap();
            assert_eq!(
                png,
                thumbnail::encode_png(&thumbnail::placeholder(label, 128))
            );
            labels.push(label);
        }
    }
    labels.sort();
    assert_eq!(labels, ["ECG", "RTPLAN", "RTSTRUCT", "SR"]);
}
