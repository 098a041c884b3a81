//! Import, index and removal on pydicom's real test files, checked against pydicom itself.

mod support;

use lightbox_core::import::{self, ImportOptions, ImportProgress, ImportReport};
use lightbox_core::index::{RemoveTarget, StudyQuery};
use lightbox_core::store::Store;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

fn import_paths(store: &Store, paths: &[PathBuf], link: bool) -> ImportReport {
    import::import(
        store,
        paths,
        &ImportOptions { link },
        &ImportProgress::default(),
    )
    .expect("import")
}

fn pydicom_view(python: &Path, paths: &[&Path]) -> Vec<Value> {
    let args: Vec<&std::ffi::OsStr> = paths.iter().map(|p| p.as_os_str()).collect();
    support::run_reference_script(python, "pydicom_index.py", &args)
        .lines()
        .map(|l| serde_json::from_str(l).expect("reference JSON"))
        .collect()
}

#[test]
fn every_file_pydicom_can_index_is_imported_with_the_same_identifiers() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let test_files = data.join("test_files");
    let reference = pydicom_view(&python, &[&test_files]);

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let report = import_paths(&store, std::slice::from_ref(&test_files), false);

    let skipped: HashMap<String, String> = report
        .skipped
        .iter()
        .map(|s| (s.path.clone(), s.reason.clone()))
        .collect();
    for s in &report.skipped {
        eprintln!("skipped {}: {}", s.path, s.reason);
        assert!(
            !s.reason.trim().is_empty(),
            "{} skipped without a reason",
            s.path
        );
    }
    let indexable: Vec<&Value> = reference
        .iter()
        .filter(|r| r["indexable"] == true)
        .collect();
    assert!(
        indexable.len() > 60,
        "pydicom indexes {} files",
        indexable.len()
    );
    let mut failures = Vec::new();
    for r in &indexable {
        let file = r["file"].as_str().unwrap();
        if let Some(reason) = skipped.get(file) {
            // Policy: a truncated file is refused rather than stored as a corrupt instance, even
            // where pydicom reads what is there. pydicom's own offsets must confirm the truncation.
            let refused_as_truncated = r["truncated"] == true && reason.starts_with("truncated");
            if !refused_as_truncated {
                failures.push(format!(
                    "{file}: pydicom indexes it, Lightbox skipped it: {reason}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Same identifiers and the same decoded names as pydicom (several test files share one SOP
    // Instance UID in different encodings, so any of their values may be the one indexed).
    let mut by_sop: HashMap<&str, Vec<&Value>> = HashMap::new();
    for r in indexable
        .iter()
        .filter(|r| !skipped.contains_key(r["file"].as_str().unwrap()))
    {
        by_sop
            .entry(r["sop"].as_str().unwrap())
            .or_default()
            .push(r);
    }
    let index = store.index();
    for (sop, views) in &by_sop {
        let instance = index
            .instance(sop)
            .unwrap()
            .unwrap_or_else(|| panic!("{sop} not indexed"));
        assert!(
            views
                .iter()
                .any(|v| v["series"] == instance.series_uid.as_str()),
            "series of {sop}"
        );
        assert!(
            views
                .iter()
                .any(|v| v["study"] == instance.study_uid.as_str()),
            "study of {sop}"
        );
        let study = index.study(&instance.study_uid).unwrap().unwrap();
        let names: HashSet<&str> = views
            .iter()
            .map(|v| v["patient_name"].as_str().unwrap())
            .collect();
        if views
            .iter()
            .all(|v| v["study"] == instance.study_uid.as_str())
        {
            // A study's patient is the one of its first instance; compare where unambiguous.
            let any_name_matches = names.contains(study.patient_name.as_str())
                || index
                    .search_studies(&StudyQuery::default())
                    .unwrap()
                    .studies
                    .iter()
                    .any(|s| names.contains(s.patient_name.as_str()));
            assert!(
                any_name_matches,
                "{sop}: Lightbox name {:?}, pydicom {:?}",
                study.patient_name, names
            );
        }
    }

    // Every file was accounted for: imported, duplicate or skipped. A folder walk passes over files
    // named DICOMDIR (their references are in the same tree); other media directories are skipped
    // with a reason, as they are not instances.
    let named_dicomdir = |r: &&Value| r["file"].as_str().unwrap().ends_with("/DICOMDIR");
    let files_walked = reference.iter().filter(|r| !named_dicomdir(r)).count() as u64;
    for r in reference
        .iter()
        .filter(|r| r["dicomdir"] == true && !named_dicomdir(r))
    {
        let reason = &skipped[r["file"].as_str().unwrap()];
        // DICOMDIR-nooffset's last item claims 24 bytes more than the file holds.
        assert!(
            reason.contains("DICOMDIR") || reason.starts_with("truncated"),
            "{reason}"
        );
    }
    assert_eq!(
        report.imported,
        by_sop.len() as u64,
        "one instance per distinct SOP Instance UID"
    );
    assert_eq!(
        report.imported + report.duplicates + report.skipped.len() as u64,
        files_walked
    );

    // Managed copies exist where the index says.
    let stats = index.stats().unwrap();
    assert_eq!(stats.instances, report.imported);
    for study in index
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
    {
        for series in index.series_of_study(&study.study_uid).unwrap() {
            for instance in index.instances_of_series(&series.series_uid).unwrap() {
                assert!(!instance.linked);
                assert!(store.local_path(&instance.file_path).unwrap().is_file());
            }
        }
    }

    // Importing the same folder again adds nothing and reports duplicates.
    let again = import_paths(&store, &[test_files], false);
    assert_eq!(again.imported, 0);
    assert_eq!(again.duplicates, report.imported + report.duplicates);
}

#[test]
fn charset_names_equal_pydicom() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let charsets = data.join("charset_files");
    let reference = pydicom_view(&python, &[&charsets]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let report = import_paths(&store, &[charsets], true);
    assert!(report.imported >= 10, "{report:?}");
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for r in reference.iter().filter(|r| r["indexable"] == true) {
        let sop = r["sop"].as_str().unwrap();
        let Some(instance) = store.index().instance(sop).unwrap() else {
            continue;
        };
        let study = store.index().study(&instance.study_uid).unwrap().unwrap();
        let expected = r["patient_name"].as_str().unwrap();
        compared += 1;
        if study.patient_name != expected {
            mismatches.push(format!(
                "{}: Lightbox {:?} pydicom {:?}",
                r["file"], study.patient_name, expected
            ));
        }
    }
    assert!(compared >= 10, "compared only {compared}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn dicomdir_imports_what_it_references() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let dicomdir = data.join("test_files/dicomdirtests/DICOMDIR");
    let expected: HashSet<PathBuf> =
        support::run_reference_script(&python, "dicomdir_refs.py", &[dicomdir.as_os_str()])
            .lines()
            .map(|l| PathBuf::from(l).canonicalize().unwrap())
            .collect();
    assert!(expected.len() > 5);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let report = import_paths(&store, &[dicomdir], true);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.imported + report.duplicates, expected.len() as u64);
    let mut indexed = HashSet::new();
    for study in store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
    {
        for series in store.index().series_of_study(&study.study_uid).unwrap() {
            for i in store
                .index()
                .instances_of_series(&series.series_uid)
                .unwrap()
            {
                assert!(i.linked);
                indexed.insert(PathBuf::from(i.file_path));
            }
        }
    }
    assert!(indexed.is_subset(&expected));
    assert_eq!(indexed.len() as u64, report.imported);
}

#[test]
fn zip_archives_import_their_dicom_entries_and_skip_the_rest() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("bundle.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for name in ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm"] {
            zip.start_file(format!("inner/{name}"), options).unwrap();
            std::io::Write::write_all(
                &mut zip,
                &std::fs::read(data.join("test_files").join(name)).unwrap(),
            )
            .unwrap();
        }
        zip.start_file("notes.txt", options).unwrap();
        std::io::Write::write_all(&mut zip, b"not dicom at all").unwrap();
        zip.finish().unwrap();
    }
    let store = Store::open(&dir.path().join("store")).unwrap();
    let report = import_paths(&store, &[zip_path], false);
    assert_eq!(report.imported, 3, "{report:?}");
    assert_eq!(report.skipped.len(), 1);
    assert!(
        report.skipped[0].path.ends_with("bundle.zip!notes.txt"),
        "{:?}",
        report.skipped
    );
    assert!(report.skipped[0].reason.contains("not a DICOM file"));
    // Nothing left behind in the scratch space.
    assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
}

#[test]
fn removal_keeps_counts_right_and_never_deletes_linked_files() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let files = data.join("test_files");
    let linked = files.join("CT_small.dcm");
    let report = import_paths(&store, std::slice::from_ref(&linked), true);
    assert_eq!(report.imported, 1);
    let copied = import_paths(
        &store,
        &[files.join("MR_small.dcm"), files.join("rtstruct.dcm")],
        false,
    );
    assert_eq!(copied.imported, 2);
    let index = store.index();
    let before = index.stats().unwrap();
    assert_eq!(before.instances, 3);

    // Remove the linked CT by its study: the original stays on disk.
    let ct = index
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
        .into_iter()
        .find(|s| s.modalities == ["CT"])
        .unwrap();
    let removed = index
        .remove(&RemoveTarget::Study(ct.study_uid.clone()))
        .unwrap();
    assert_eq!(
        (removed.studies, removed.series, removed.instances),
        (1, 1, 1)
    );
    assert!(removed.files[0].linked);
    for f in &removed.files {
        store.delete_managed(&f.path).unwrap();
    }
    assert!(linked.is_file(), "a linked original must never be deleted");
    assert!(index.study(&ct.study_uid).unwrap().is_none());

    // Remove the MR instance by SOP UID: its managed file goes, and so do its empty parents.
    let mr = index
        .search_studies(&StudyQuery {
            modalities: vec!["MR".into()],
            ..Default::default()
        })
        .unwrap()
        .studies;
    assert_eq!(mr.len(), 1);
    let series = index.series_of_study(&mr[0].study_uid).unwrap();
    let instance = &index.instances_of_series(&series[0].series_uid).unwrap()[0];
    let path = store.local_path(&instance.file_path).unwrap();
    assert!(path.is_file());
    let removed = index
        .remove(&RemoveTarget::Instance(instance.sop_instance_uid.clone()))
        .unwrap();
    assert_eq!((removed.series, removed.instances), (1, 1));
    for f in &removed.files {
        store.delete_managed(&f.path).unwrap();
    }
    assert!(!path.exists());
    assert!(
        !path.parent().unwrap().exists(),
        "empty fan-out folders are removed"
    );
    let after = index.stats().unwrap();
    assert_eq!(after.instances, 1);
    assert_eq!(after.studies, 1);
    let remaining = index.search_studies(&StudyQuery::default()).unwrap();
    assert_eq!(remaining.total, 1);
    assert_eq!(remaining.studies[0].instance_count, 1);
    assert_eq!(remaining.studies[0].series_count, 1);
}

#[test]
fn reconcile_indexes_files_placed_before_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 3,
        rows: 8,
        columns: 8,
        ..Default::default()
    };
    lightbox_synth::generate(&spec, data.path()).unwrap();
    let report = import_paths(&store, &[data.path().to_path_buf()], false);
    assert_eq!(report.imported, 3);
    // A crash between the rename into place and the index commit: the file is there, unindexed.
    let bytes = lightbox_synth::instance_bytes(
        &lightbox_synth::SynthSpec {
            seed: 99,
            ..spec.clone()
        },
        0,
        0,
        0,
        0,
    );
    let file = lightbox_dicom::read_bytes(&bytes, lightbox_dicom::ReadMode::Header).unwrap();
    let sop = lightbox_core::model::InstanceRecord::from_file(&file)
        .unwrap()
        .sop_instance_uid;
    let relative = Store::managed_relative_path(&sop);
    std::fs::create_dir_all(dir.path().join(&relative).parent().unwrap()).unwrap();
    std::fs::write(dir.path().join(&relative), &bytes).unwrap();
    // The scratch folder of a store whose process died (its lock is free), with a partial file.
    let dead = dir.path().join("tmp/session-dead");
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::write(dead.join("partial"), b"half an instance").unwrap();
    std::fs::write(dir.path().join("tmp/session-dead.lock"), b"").unwrap();
    // Another live store's scratch folder is left alone.
    let other = Store::open(dir.path()).unwrap();
    std::fs::write(other.tmp_dir().join("writing"), b"in progress").unwrap();
    // And a loose temporary file abandoned long ago.
    let stale = dir.path().join("tmp/stale.tmp");
    std::fs::write(&stale, b"half an instance").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();

    let reconciled = import::reconcile(&store).unwrap();
    assert_eq!((reconciled.indexed, reconciled.scratch_removed), (1, 2));
    assert!(!dead.exists());
    assert!(other.tmp_dir().join("writing").exists());
    assert!(reconciled.unreadable.is_empty());
    assert_eq!(
        store.index().instance_path(&sop).unwrap().as_deref(),
        Some(relative.as_str())
    );
    assert_eq!(store.index().stats().unwrap().instances, 4);
    // Nothing left to do the second time.
    assert_eq!(
        import::reconcile(&store).unwrap(),
        import::Reconciled::default()
    );
}

#[test]
fn compressed_pixel_data_cut_short_is_refused_with_a_reason() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The file cut at byte 2707, in the middle of its RLE fragment.
    let rle = std::fs::read(data.join("test_files/MR_small_RLE.dcm")).unwrap();
    let cut_file = dir.path().join("cut_rle.dcm");
    std::fs::write(&cut_file, &rle[..2707]).unwrap();
    // Well-formed items around codestreams that stop early: JPEG, JPEG-LS, JPEG 2000, RLE.
    let mut inputs = vec![cut_file];
    for (name, cut) in [
        ("SC_rgb_jpeg_dcmtk.dcm", 200),
        ("MR_small_jpeg_ls_lossless.dcm", 300),
        ("MR_small_jp2klossless.dcm", 300),
        ("SC_rgb_rle.dcm", 200),
    ] {
        let target = dir.path().join(format!("short_{name}"));
        support::with_truncated_codestream(&data.join("test_files").join(name), &target, cut);
        inputs.push(target);
    }
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let report = import_paths(&store, &inputs, false);
    assert_eq!(report.imported, 0, "{report:?}");
    assert_eq!(report.skipped.len(), inputs.len(), "{report:?}");
    for skipped in &report.skipped {
        assert!(
            skipped.reason.contains("pixel data") || skipped.reason.contains("truncated"),
            "{skipped:?}"
        );
    }
    // The intact files import.
    let intact: Vec<PathBuf> = [
        "MR_small_RLE.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "SC_rgb_rle.dcm",
    ]
    .iter()
    .map(|n| data.join("test_files").join(n))
    .collect();
    assert_eq!(import_paths(&store, &intact, false).imported, 3);
}

#[test]
fn links_are_followed_to_files_and_what_is_not_a_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("generated");
    lightbox_synth::generate(
        &lightbox_synth::SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 2,
            rows: 16,
            columns: 16,
            seed: 4,
            modality: Some("MR".into()),
            ..Default::default()
        },
        &generated,
    )
    .unwrap();
    let files: Vec<PathBuf> = walkdir::WalkDir::new(&generated)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    std::os::unix::fs::symlink(&files[0], folder.join("linked.dcm")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("nowhere.dcm"), folder.join("broken.dcm")).unwrap();
    std::os::unix::fs::symlink(&generated, folder.join("elsewhere")).unwrap();
    let fifo = folder.join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let report = import_paths(&store, &[folder], false);
    assert_eq!(report.imported, 1, "the linked file: {report:?}");
    let reason = |name: &str| {
        report
            .skipped
            .iter()
            .find(|s| s.path.ends_with(name))
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| panic!("{name} not reported: {report:?}"))
    };
    assert!(reason("broken.dcm").contains("broken link"));
    assert!(reason("elsewhere").contains("link to a folder"));
    assert!(reason("pipe").contains("not a regular file"));
}
