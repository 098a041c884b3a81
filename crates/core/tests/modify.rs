//! `modify` on real files (pydicom's, compressed and uncompressed, and generated studies): in
//! place, every instance keeps its UIDs and everything but what was changed, pixel data byte
//! for byte, and the originals are gone; with new UIDs, a new study whose UIDs (references in
//! sequences too) are all new, beside the untouched original; two patients merged; refusals.

use lightbox_core::import::{import, ImportOptions, ImportProgress};
use lightbox_core::index::StudyQuery;
use lightbox_core::jobs::engine::ContextSink;
use lightbox_core::jobs::kinds::modify::ModifyOutput;
use lightbox_core::jobs::runner::{LocalRunner, MoveListener};
use lightbox_core::jobs::{DeleteTarget, FailureCategory, JobContext, JobId, JobSpec, Progress};
use lightbox_core::nodes::Nodes;
use lightbox_core::store::Store;
use lightbox_dicom::dataset::Value;
use lightbox_dicom::{read_file, tag, DataSet, ReadMode, Vr};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

struct Quiet;
impl ContextSink for Quiet {
    fn progress(&self, _: JobId, _: &Progress) {}
    fn log(&self, _: JobId, _: &str) {}
}

fn runner(dir: &Path) -> LocalRunner {
    let store = Arc::new(Store::open(dir).unwrap());
    LocalRunner::new(store, Nodes::new(dir), MoveListener::Running)
}

fn run(
    runner: &LocalRunner,
    spec: JobSpec,
) -> Result<ModifyOutput, lightbox_core::jobs::JobFailure> {
    let ctx = JobContext::standalone(Box::new(Quiet), Arc::new(AtomicBool::new(false)));
    runner
        .run_spec(&spec, &ctx)
        .map(|o| serde_json::from_value(o.unwrap()).unwrap())
}

fn modify(
    target: DeleteTarget,
    set: &[(&str, &str)],
    new_uids: bool,
    keep_source: bool,
) -> JobSpec {
    JobSpec::Modify {
        target,
        set: set
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        remove: Vec::new(),
        new_uids,
        keep_source,
    }
}

/// Every instance of a study: SOP Instance UID → its data set as stored.
fn instances(store: &Store, study: &str) -> BTreeMap<String, (DataSet, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for series in store.index().series_of_study(study).unwrap() {
        for i in store
            .index()
            .instances_of_series(&series.series_uid)
            .unwrap()
        {
            let path = store.local_path(&i.file_path).unwrap();
            let file = read_file(&path, ReadMode::Full).unwrap();
            out.insert(i.sop_instance_uid, (file.dataset, pixel_bytes(&path)));
        }
    }
    out
}

/// The pixel data as the file holds it (every fragment, or the native value, its 16-bit
/// samples in little endian order: a big endian file is written back little endian).
fn pixel_bytes(path: &Path) -> Vec<u8> {
    let file = read_file(path, ReadMode::Full).unwrap();
    let mut bytes = stored_pixels(path);
    if file.encoding.big_endian && file.pixel_data().is_some_and(|e| e.vr == Vr::OW) {
        for pair in bytes.chunks_exact_mut(2) {
            pair.swap(0, 1);
        }
    }
    bytes
}

fn stored_pixels(path: &Path) -> Vec<u8> {
    let file = read_file(path, ReadMode::Full).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let source: &[u8] = file.inflated.as_deref().map_or(&bytes, |b| b.as_slice());
    match file.pixel_data().map(|e| &e.value) {
        Some(Value::Encapsulated { fragments, .. }) => fragments
            .iter()
            .flat_map(|f| source[f.offset as usize..(f.offset + f.length) as usize].to_vec())
            .collect(),
        Some(Value::Deferred(span)) => {
            source[span.offset as usize..(span.offset + span.length) as usize].to_vec()
        }
        Some(Value::Bytes(b)) => b.clone(),
        _ => Vec::new(),
    }
}

/// Every UID value anywhere in a data set.
fn all_uids(ds: &DataSet, out: &mut BTreeSet<String>) {
    for e in &ds.elements {
        match &e.value {
            Value::Sequence(items) => items.iter().for_each(|i| all_uids(i, out)),
            Value::Bytes(_) if e.vr == Vr::UI => {
                if let Some(text) = ds.element_text(e) {
                    out.extend(text.split('\\').map(str::to_string));
                }
            }
            _ => {}
        }
    }
}

/// The text of every top-level element but those in `except`, for comparing two instances.
fn texts_but(ds: &DataSet, except: &[lightbox_dicom::Tag]) -> BTreeMap<String, String> {
    ds.elements
        .iter()
        .filter(|e| !except.contains(&e.tag) && e.tag != tag::PIXEL_DATA && e.tag.1 != 0)
        .filter_map(|e| Some((format!("{:?}", e.tag), ds.element_text(e)?)))
        .collect()
}

fn studies_of(store: &Store, patient_id: &str) -> Vec<String> {
    let page = store
        .index()
        .search_studies(&StudyQuery {
            patient_id: lightbox_core::index::TextPattern::new(patient_id),
            ..StudyQuery::default()
        })
        .unwrap();
    page.studies.into_iter().map(|s| s.study_uid).collect()
}

#[test]
fn in_place_every_instance_keeps_its_uids_and_all_but_what_changed() {
    let data = lightbox_dicom_test_data();
    let Some(data) = data else { return };
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let store = runner.store.clone();
    // Compressed and uncompressed, explicit and implicit, little and big endian.
    let files: Vec<_> = [
        "CT_small.dcm",
        "MR_small_bigendian.dcm",
        "JPEG2000.dcm",
        "SC_rgb_rle.dcm",
        "JPEGLSNearLossless_16.dcm",
        "JPEG-lossy.dcm",
    ]
    .iter()
    .map(|f| data.join("test_files").join(f))
    .collect();
    import(
        &store,
        &files,
        &ImportOptions::default(),
        &ImportProgress::default(),
    )
    .unwrap();
    let studies = store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    let mut changed = 0;
    for study in studies {
        let before = instances(&store, &study.study_uid);
        let output = run(
            &runner,
            modify(
                DeleteTarget::Study(study.study_uid.clone()),
                &[
                    ("PatientID", "FIXED-7"),
                    ("StudyDescription", "Fixed by Lightbox"),
                ],
                false,
                true,
            ),
        )
        .unwrap_or_else(|e| panic!("{}: {}", study.study_uid, e.message));
        assert_eq!(output.instances as usize, before.len());
        assert_eq!(output.studies[0].from, output.studies[0].to);
        let after = instances(&store, &study.study_uid);
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>(),
            "the same instances"
        );
        for (uid, (old, old_pixels)) in &before {
            let (new, new_pixels) = &after[uid];
            assert_eq!(new.text(tag::PATIENT_ID).unwrap(), "FIXED-7");
            assert_eq!(
                new.text(tag::STUDY_DESCRIPTION).unwrap(),
                "Fixed by Lightbox"
            );
            assert_eq!(
                texts_but(old, &[tag::PATIENT_ID, tag::STUDY_DESCRIPTION]),
                texts_but(new, &[tag::PATIENT_ID, tag::STUDY_DESCRIPTION]),
                "{uid}: only what was asked changed"
            );
            assert!(old_pixels == new_pixels, "{uid}: pixel data changed");
            changed += 1;
        }
        let indexed = store.index().study(&study.study_uid).unwrap().unwrap();
        assert_eq!(indexed.patient_id, "FIXED-7");
    }
    assert!(changed >= 5, "{changed} instances");
    // Nothing left behind: no work folder, one file per instance.
    let work = dir.path().join("work");
    assert!(!work.exists() || std::fs::read_dir(&work).unwrap().next().is_none());
    assert_eq!(store.index().stats().unwrap().instances as usize, changed);
}

#[test]
fn new_uids_make_a_new_study_beside_the_original_and_patients_merge() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("generated");
    let spec = lightbox_synth::SynthSpec {
        patients: 2,
        studies_per_patient: 1,
        series_per_study: 2,
        instances_per_series: 3,
        rows: 16,
        columns: 16,
        seed: 99,
        localizer: true,
        ..lightbox_synth::SynthSpec::default()
    };
    lightbox_synth::generate(&spec, &source).unwrap();
    let runner = runner(&dir.path().join("data"));
    let store = runner.store.clone();
    import(
        &store,
        &[source],
        &ImportOptions::default(),
        &ImportProgress::default(),
    )
    .unwrap();
    let studies = store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    let (a, b) = (studies[0].clone(), studies[1].clone());
    let original = instances(&store, &a.study_uid);
    let mut old_uids = BTreeSet::new();
    for (ds, _) in original.values() {
        for t in [
            tag::STUDY_INSTANCE_UID,
            tag::SERIES_INSTANCE_UID,
            tag::SOP_INSTANCE_UID,
        ] {
            old_uids.insert(ds.text(t).unwrap());
        }
    }

    let output = run(
        &runner,
        modify(
            DeleteTarget::Study(a.study_uid.clone()),
            &[("PatientID", "COPY-1")],
            true,
            true,
        ),
    )
    .unwrap();
    assert!(output.source_kept);
    let new_study = output.studies[0].to.clone();
    assert_ne!(new_study, a.study_uid);
    let copy = instances(&store, &new_study);
    assert_eq!(copy.len(), original.len());
    for (ds, pixels) in copy.values() {
        let mut uids = BTreeSet::new();
        all_uids(ds, &mut uids);
        let kept: Vec<_> = uids.intersection(&old_uids).collect();
        assert!(kept.is_empty(), "old UIDs survive: {kept:?}");
        assert_eq!(ds.text(tag::PATIENT_ID).unwrap(), "COPY-1");
        assert!(original.values().any(|(_, p)| p == pixels));
    }
    // The original is untouched.
    let still = instances(&store, &a.study_uid);
    assert_eq!(still.len(), original.len());
    assert!(still
        .values()
        .all(|(ds, _)| ds.text(tag::PATIENT_ID).unwrap() == a.patient_id));

    // Merging: study b takes patient a's name and ID; the store then counts one patient fewer.
    let patients_before = store.index().stats().unwrap().patients;
    run(
        &runner,
        modify(
            DeleteTarget::Patient(b.patient_id.clone()),
            &[
                ("PatientID", &a.patient_id),
                ("PatientName", &a.patient_name),
            ],
            false,
            true,
        ),
    )
    .unwrap();
    assert_eq!(store.index().stats().unwrap().patients, patients_before - 1);
    assert_eq!(
        studies_of(&store, &a.patient_id).len(),
        2,
        "a's study and b's"
    );
    let merged = store.index().study(&b.study_uid).unwrap().unwrap();
    assert_eq!(
        (merged.patient_id, merged.patient_name),
        (a.patient_id.clone(), a.patient_name)
    );

    // With new UIDs and the source replaced, only the new study remains.
    let output = run(
        &runner,
        modify(DeleteTarget::Study(b.study_uid.clone()), &[], true, false),
    )
    .unwrap();
    assert!(store.index().study(&b.study_uid).unwrap().is_none());
    assert!(store
        .index()
        .study(&output.studies[0].to)
        .unwrap()
        .is_some());

    // Refusals: identities and pixels are not attributes to set; unknown keywords are said.
    for (keyword, why) in [
        ("SOPInstanceUID", "cannot be modified"),
        ("Rows", "cannot be modified"),
        ("NoSuchThing", "not a DICOM keyword"),
    ] {
        let failure = run(
            &runner,
            modify(
                DeleteTarget::Study(a.study_uid.clone()),
                &[(keyword, "x")],
                false,
                true,
            ),
        )
        .unwrap_err();
        assert_eq!(failure.category, FailureCategory::Input);
        assert!(failure.message.contains(why), "{}", failure.message);
    }
    let failure = run(
        &runner,
        modify(
            DeleteTarget::Study("1.2.3.4".into()),
            &[("PatientID", "x")],
            false,
            true,
        ),
    )
    .unwrap_err();
    assert_eq!(
        failure.category,
        FailureCategory::Input,
        "{}",
        failure.message
    );
}

fn lightbox_dicom_test_data() -> Option<std::path::PathBuf> {
    support::pydicom_data()
}

mod support;
