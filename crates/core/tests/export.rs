//! Export to media: pydicom's test files and generated studies written as a file-set with a
//! DICOMDIR, read back by pydicom's `FileSet`, dumped by DCMTK's `dcmdump` and checked by
//! dicom3tools' `dciodvfy`; every instance listed, every file a PS3.10 file holding the stored
//! data set unchanged; the same layout in a zip; readable names and mixed selections.

mod support;

use lightbox_core::export::{self, ExportError, Naming, Selection};
use lightbox_core::import::{import, ImportOptions, ImportProgress};
use lightbox_core::index::StudyQuery;
use lightbox_core::store::Store;
use lightbox_dicom::dicomdir::valid_component;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

fn store_of(dir: &Path, sources: &[PathBuf]) -> Store {
    let store = Store::open(&dir.join("data")).unwrap();
    import(
        &store,
        sources,
        &ImportOptions::default(),
        &ImportProgress::default(),
    )
    .unwrap();
    store
}

fn every_study(store: &Store) -> Vec<String> {
    let page = store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap();
    page.studies.into_iter().map(|s| s.study_uid).collect()
}

fn stored_uids(store: &Store) -> BTreeSet<String> {
    let mut uids = BTreeSet::new();
    for study in every_study(store) {
        for series in store.index().series_of_study(&study).unwrap() {
            for instance in store
                .index()
                .instances_of_series(&series.series_uid)
                .unwrap()
            {
                uids.insert(instance.sop_instance_uid);
            }
        }
    }
    uids
}

/// What pydicom's FileSet lists of the DICOMDIR in `dir`.
fn fileset(python: &Path, dir: &Path) -> Value {
    let out = support::run_reference_script(
        python,
        "fileset_listing.py",
        &[dir.join("DICOMDIR").as_os_str()],
    );
    serde_json::from_str(&out).unwrap()
}

/// The errors dciodvfy finds in a DICOMDIR.
fn dciodvfy_errors(dciodvfy: &Path, dicomdir: &Path) -> Vec<String> {
    let out = Command::new(dciodvfy).arg(dicomdir).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("BasicDirectory"),
        "dciodvfy did not read it: {text}"
    );
    text.lines()
        .filter(|l| l.starts_with("Error"))
        .map(str::to_string)
        .collect()
}

#[test]
fn pydicom_files_exported_as_media_are_listed_whole_and_pass_the_checks() {
    let (Some(data), Some(python), Some(dcmdump), Some(dciodvfy)) = (
        support::pydicom_data(),
        support::python(),
        support::peer_tool("dcmdump"),
        support::peer_tool("dciodvfy"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = store_of(dir.path(), &[data.join("test_files")]);
    let uids = stored_uids(&store);
    assert!(uids.len() > 100, "{} instances", uids.len());
    let selection = Selection {
        studies: every_study(&store),
        ..Selection::default()
    };
    let plan = export::plan(&store, &selection, Naming::Media).unwrap();
    let out = dir.path().join("media");
    let report = export::to_folder(&store, &plan, &out).unwrap();
    assert_eq!(report.files as usize, uids.len());
    assert_eq!(report.dicomdir_records as usize, uids.len());

    // Every name is an ISO 9660 name, every file a PS3.10 file ending in the stored bytes.
    for entry in &plan.entries {
        assert!(
            entry.components.iter().all(|c| valid_component(c)),
            "{:?}",
            entry.components
        );
        let mut path = out.clone();
        path.extend(&entry.components);
        let written = std::fs::read(&path).unwrap();
        assert_eq!(&written[128..132], b"DICM", "{}", path.display());
        let stored = std::fs::read(store.local_path(&entry.instance.file_path).unwrap()).unwrap();
        assert!(written.ends_with(&stored), "{} changed", path.display());
        lightbox_dicom::read_bytes(&written, lightbox_dicom::ReadMode::Header).unwrap();
    }

    // pydicom lists each instance once, at its file, and loads it.
    let listed = fileset(&python, &out);
    assert_eq!(listed["file_set_id"], export::FILE_SET_ID);
    let instances = listed["instances"].as_array().unwrap();
    let listed_uids: BTreeSet<String> = instances
        .iter()
        .map(|i| {
            assert_eq!(i["record_uid"], i["file_uid"], "{i}");
            i["file_uid"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(instances.len(), uids.len());
    assert_eq!(listed_uids, uids);

    // DCMTK reads it; dicom3tools finds no error in it.
    let dumped = Command::new(&dcmdump)
        .arg(out.join("DICOMDIR"))
        .output()
        .unwrap();
    assert!(
        dumped.status.success(),
        "{}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    let dump = String::from_utf8_lossy(&dumped.stdout);
    let records = dump.matches("\"Directory Record\"").count();
    assert!(
        records > uids.len(),
        "{records} records for {} instances",
        uids.len()
    );
    assert_eq!(
        dciodvfy_errors(&dciodvfy, &out.join("DICOMDIR")),
        Vec::<String>::new()
    );
    eprintln!(
        "figure: {} pydicom instances exported as media, {} directory records, 0 dciodvfy errors",
        uids.len(),
        records
    );

    // An export never writes into a folder that holds something.
    assert!(matches!(
        export::to_folder(&store, &plan, &out),
        Err(ExportError::NotEmpty(_))
    ));
}

#[test]
fn the_same_media_come_as_one_zip_and_selections_mix_patients_studies_and_series() {
    let (Some(python), Some(dciodvfy)) = (support::python(), support::peer_tool("dciodvfy")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("generated");
    let spec = lightbox_synth::SynthSpec {
        patients: 3,
        studies_per_patient: 2,
        series_per_study: 2,
        instances_per_series: 3,
        rows: 16,
        columns: 16,
        seed: 15,
        ..lightbox_synth::SynthSpec::default()
    };
    lightbox_synth::generate(&spec, &source).unwrap();
    let store = store_of(dir.path(), &[source]);
    let index = store.index();
    let studies = index
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    assert_eq!(studies.len(), 6);
    // One patient whole, one study of another, one series of a third study.
    let patient = studies[0].patient_id.clone();
    let other_study = studies
        .iter()
        .find(|s| s.patient_id != patient)
        .unwrap()
        .clone();
    let third = studies
        .iter()
        .find(|s| s.patient_id != patient && s.study_uid != other_study.study_uid)
        .unwrap();
    let one_series = index.series_of_study(&third.study_uid).unwrap()[0]
        .series_uid
        .clone();
    let selection = Selection {
        patients: vec![patient.clone()],
        studies: vec![other_study.study_uid.clone()],
        series: vec![one_series.clone()],
    };
    let plan = export::plan(&store, &selection, Naming::Media).unwrap();
    // 2 studies × 2 series × 3 + 2 × 3 + 3.
    assert_eq!(plan.entries.len(), 12 + 6 + 3);

    let zipped = export::to_zip(&store, &plan, Vec::new()).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    assert_eq!(archive.len(), plan.entries.len() + 1);
    let unpacked = dir.path().join("unpacked");
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().to_string();
        assert!(name == "DICOMDIR" || name.starts_with("DICOM/"), "{name}");
        let path = unpacked.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    assert_eq!(
        archive.by_index(archive.len() - 1).unwrap().name(),
        "DICOMDIR"
    );
    let listed = fileset(&python, &unpacked);
    let instances = listed["instances"].as_array().unwrap();
    assert_eq!(instances.len(), plan.entries.len());
    let patients: BTreeSet<&str> = instances
        .iter()
        .map(|i| i["patient_id"].as_str().unwrap())
        .collect();
    assert_eq!(patients.len(), 3);
    assert!(patients.contains(patient.as_str()));
    assert_eq!(
        instances
            .iter()
            .filter(|i| i["series_uid"] == one_series.as_str())
            .count(),
        3
    );
    assert_eq!(
        dciodvfy_errors(&dciodvfy, &unpacked.join("DICOMDIR")),
        Vec::<String>::new()
    );

    // Readable names: patient, study and series in words.
    let readable = export::plan(&store, &selection, Naming::Readable).unwrap();
    let first = readable.entries[0].name();
    assert!(
        first.ends_with("/00001.dcm") && first.matches('/').count() == 3,
        "{first}"
    );
    assert!(first.starts_with(&patient), "{first}");

    // What is not here is said.
    let missing = Selection {
        studies: vec!["1.2.3.4".into()],
        ..Selection::default()
    };
    assert!(matches!(
        export::plan(&store, &missing, Naming::Media),
        Err(ExportError::NotFound { level: "study", .. })
    ));
    assert!(matches!(
        export::plan(&store, &Selection::default(), Naming::Media),
        Err(ExportError::NothingSelected)
    ));
}
