//! De-identification on real files: all of pydicom's test files, generated studies, and an
//! image rich in identifiers (every attribute of PS3.15 Table E.1-1 that pydicom knows, at the
//! top level and two sequence items deep, and private blocks). Each output is checked by
//! `tests/reference/deid_check.py`, with pydicom, attribute by attribute against the table as
//! two independent packages print it, for the basic profile and with options; no removed or
//! replaced value of the source, and no source UID, may be left anywhere in a file; pixel data
//! is kept byte for byte. Runs with one key agree, runs with another do not; pseudonyms are
//! kept per patient; burned-in text is flagged and blanked.

mod support;

use lightbox_core::import::{import, ImportOptions, ImportProgress};
use lightbox_core::index::StudyQuery;
use lightbox_core::jobs::engine::ContextSink;
use lightbox_core::jobs::kinds::anonymize::AnonymizeOutput;
use lightbox_core::jobs::runner::{LocalRunner, MoveListener};
use lightbox_core::jobs::{
    AnonymizeDestination, DeleteTarget, JobContext, JobFailure, JobId, JobSpec, Progress,
    PseudonymRow,
};
use lightbox_core::nodes::Nodes;
use lightbox_core::store::Store;
use lightbox_dicom::deid::pixels::Rect;
use lightbox_dicom::deid::uids::derive;
use lightbox_dicom::{read_file, tag, ReadMode};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

struct Quiet;
impl ContextSink for Quiet {
    fn progress(&self, _: JobId, _: &Progress) {}
    fn log(&self, _: JobId, _: &str) {}
}

const KEY: &str = "a project key for the tests";

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    runner: LocalRunner,
    python: PathBuf,
    key_file: PathBuf,
}

fn setup() -> Option<Setup> {
    let (data, python) = (support::pydicom_data()?, support::python()?);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let rich = root.join("rich.dcm");
    support::run_reference_script(
        &python,
        "identifier_rich.py",
        &[
            data.join("test_files/CT_small.dcm").as_os_str(),
            rich.as_os_str(),
        ],
    );
    let generated = root.join("generated");
    lightbox_synth::generate(
        &lightbox_synth::SynthSpec {
            patients: 2,
            studies_per_patient: 2,
            series_per_study: 2,
            instances_per_series: 2,
            rows: 16,
            columns: 16,
            seed: 15,
            ..lightbox_synth::SynthSpec::default()
        },
        &generated,
    )
    .unwrap();
    let store = Arc::new(Store::open(&root.join("data")).unwrap());
    import(
        &store,
        &[data, rich, generated],
        &ImportOptions::default(),
        &ImportProgress::default(),
    )
    .unwrap();
    let key_file = root.join("project.key");
    std::fs::write(&key_file, KEY).unwrap();
    let runner = LocalRunner::new(store, Nodes::new(&root.join("data")), MoveListener::Running);
    Some(Setup {
        _dir: dir,
        root,
        runner,
        python,
        key_file,
    })
}

impl Setup {
    fn store(&self) -> &Store {
        &self.runner.store
    }

    fn studies(&self) -> Vec<String> {
        let page = self
            .store()
            .index()
            .search_studies(&StudyQuery {
                limit: Some(10_000),
                ..StudyQuery::default()
            })
            .unwrap();
        page.studies.into_iter().map(|s| s.study_uid).collect()
    }

    /// Source file of every instance of a study, by SOP Instance UID.
    fn sources(&self, study: &str) -> BTreeMap<String, PathBuf> {
        let index = self.store().index();
        let mut out = BTreeMap::new();
        for series in index.series_of_study(study).unwrap() {
            for i in index.instances_of_series(&series.series_uid).unwrap() {
                out.insert(
                    i.sop_instance_uid,
                    self.store().local_path(&i.file_path).unwrap(),
                );
            }
        }
        out
    }

    fn anonymize(&self, spec: JobSpec) -> Result<AnonymizeOutput, JobFailure> {
        let ctx = JobContext::standalone(Box::new(Quiet), Arc::new(AtomicBool::new(false)));
        self.runner
            .run_spec(&spec, &ctx)
            .map(|o| serde_json::from_value(o.unwrap()).unwrap())
    }
}

fn spec(target: DeleteTarget, options: &[&str], to: AnonymizeDestination, key: &Path) -> JobSpec {
    JobSpec::Anonymize {
        target,
        options: options.iter().map(|o| o.to_string()).collect(),
        destination: to,
        project_key: Some(key.to_path_buf()),
        pseudonyms: None,
        pseudonym_rows: Vec::new(),
        safe_private: None,
        blank: Vec::new(),
    }
}

/// Every file under `dir` by its SOP Instance UID.
fn outputs(dir: &Path) -> BTreeMap<String, PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.file_name() != "DICOMDIR")
        .map(|e| {
            let file = read_file(e.path(), ReadMode::Header).unwrap();
            (
                file.dataset.text(tag::SOP_INSTANCE_UID).unwrap(),
                e.path().to_path_buf(),
            )
        })
        .collect()
}

/// Every study de-identified into a folder of its own under `name`: (source, output) files.
fn anonymize_every_study(s: &Setup, options: &[&str], name: &str) -> Vec<(PathBuf, PathBuf)> {
    let out = s.root.join(name);
    let mut pairs = Vec::new();
    for (n, study) in s.studies().iter().enumerate() {
        let folder = out.join(n.to_string());
        let target = DeleteTarget::Study(study.clone());
        let report = s
            .anonymize(spec(
                target,
                options,
                AnonymizeDestination::Folder(folder.clone()),
                &s.key_file,
            ))
            .unwrap_or_else(|e| panic!("{study}: {}", e.message));
        let sources = s.sources(study);
        assert_eq!(report.instances as usize, sources.len());
        let written = outputs(&folder.join("DICOM"));
        assert!(folder.join("DICOMDIR").is_file());
        for (uid, source) in sources {
            let new_uid = if options.contains(&"retain-uids") {
                uid.clone()
            } else {
                derive(KEY.as_bytes(), &uid)
            };
            let output = written
                .get(&new_uid)
                .unwrap_or_else(|| panic!("{uid} was not written as {new_uid}"));
            pairs.push((source, output.clone()));
        }
    }
    pairs
}

#[test]
fn every_attribute_of_the_table_is_treated_as_the_profile_and_its_options_say() {
    let Some(s) = setup() else { return };
    let option_sets: [&[&str]; 3] = [
        &[],
        &[
            "retain-dates",
            "clean-descriptors",
            "retain-patient-characteristics",
            "retain-device-identity",
            "retain-institution-identity",
        ],
        &[
            "retain-uids",
            "retain-full-dates",
            "clean-structured-content",
            "clean-graphics",
        ],
    ];
    for (round, options) in option_sets.iter().enumerate() {
        let pairs = anonymize_every_study(&s, options, &format!("out-{round}"));
        let config = s.root.join(format!("check-{round}.json"));
        std::fs::write(
            &config,
            serde_json::json!({"options": options, "key": KEY, "pairs": pairs}).to_string(),
        )
        .unwrap();
        let result: serde_json::Value = serde_json::from_str(&support::run_reference_script(
            &s.python,
            "deid_check.py",
            &[config.as_os_str()],
        ))
        .unwrap();
        let violations = result["violations"].as_array().unwrap();
        assert!(
            violations.is_empty(),
            "options {options:?}: {} violations, the first: {:#?}",
            violations.len(),
            &violations[..violations.len().min(20)]
        );
        let checked = result["checked"].as_u64().unwrap();
        assert!(checked > 7_000, "only {checked} attributes checked");
        if options.contains(&"retain-dates") {
            let shifts = result["date_shifts"].as_array().unwrap();
            assert!(
                !shifts.is_empty() && !shifts.iter().any(|d| d == 0),
                "{shifts:?}"
            );
        }
        eprintln!(
            "figure: options {options:?}: {} instances, {checked} attributes checked against the table, 0 violations ({} in rows the oracle's option columns lack)",
            pairs.len(),
            result["unverified"]
        );
    }
}

/// Patient IDs, names and SOP Instance UIDs of every file under `dir`.
fn identities(dir: &Path) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let mut patients = BTreeSet::new();
    let mut uids = BTreeSet::new();
    for (uid, path) in outputs(dir) {
        let ds = read_file(&path, ReadMode::Header).unwrap().dataset;
        patients.insert((
            ds.text(tag::PATIENT_ID).unwrap(),
            ds.text(tag::PATIENT_NAME).unwrap(),
        ));
        uids.insert(uid);
    }
    (patients, uids)
}

#[test]
fn one_key_gives_the_same_uids_and_pseudonyms_in_every_run_and_for_later_studies() {
    let Some(s) = setup() else { return };
    let generated: Vec<_> = s
        .store()
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
        .into_iter()
        .filter(|st| st.patient_id.starts_with("LB"))
        .collect();
    assert_eq!(generated.len(), 4, "two patients with two studies each");
    let patient = generated[0].patient_id.clone();
    let to = |name: &str| AnonymizeDestination::Folder(s.root.join(name));

    s.anonymize(spec(
        DeleteTarget::Patient(patient.clone()),
        &[],
        to("a"),
        &s.key_file,
    ))
    .unwrap();
    s.anonymize(spec(
        DeleteTarget::Patient(patient.clone()),
        &[],
        to("b"),
        &s.key_file,
    ))
    .unwrap();
    let (patients_a, uids_a) = identities(&s.root.join("a"));
    let (patients_b, uids_b) = identities(&s.root.join("b"));
    assert_eq!(uids_a.len(), 8);
    assert_eq!((&patients_a, &uids_a), (&patients_b, &uids_b));
    assert_eq!(
        patients_a.len(),
        1,
        "one patient, one pseudonym: {patients_a:?}"
    );

    // The same patient's studies one at a time get the pseudonym the first run kept.
    let studies: Vec<_> = generated
        .iter()
        .filter(|st| st.patient_id == patient)
        .collect();
    for (n, study) in studies.iter().enumerate() {
        let name = format!("single-{n}");
        s.anonymize(spec(
            DeleteTarget::Study(study.study_uid.clone()),
            &[],
            to(&name),
            &s.key_file,
        ))
        .unwrap();
        assert_eq!(identities(&s.root.join(&name)).0, patients_a);
    }

    // Another key: other UIDs, another pseudonym.
    let other_key = s.root.join("other.key");
    std::fs::write(&other_key, "another project").unwrap();
    s.anonymize(spec(
        DeleteTarget::Patient(patient.clone()),
        &[],
        to("c"),
        &other_key,
    ))
    .unwrap();
    let (patients_c, uids_c) = identities(&s.root.join("c"));
    assert!(uids_c.is_disjoint(&uids_a));
    assert_ne!(patients_c, patients_a);

    // A pseudonym the user gives wins for a new patient, and is kept for the next run.
    let other_patient = generated
        .iter()
        .find(|st| st.patient_id != patient)
        .unwrap()
        .patient_id
        .clone();
    let mut given = spec(
        DeleteTarget::Patient(other_patient.clone()),
        &[],
        to("d"),
        &s.key_file,
    );
    if let JobSpec::Anonymize { pseudonym_rows, .. } = &mut given {
        pseudonym_rows.push(PseudonymRow {
            source: other_patient.clone(),
            patient_id: "SUBJECT-007".into(),
            patient_name: "Subject^Seven".into(),
        });
    }
    s.anonymize(given).unwrap();
    s.anonymize(spec(
        DeleteTarget::Patient(other_patient),
        &[],
        to("e"),
        &s.key_file,
    ))
    .unwrap();
    let expected = BTreeSet::from([("SUBJECT-007".to_string(), "Subject^Seven".to_string())]);
    assert_eq!(identities(&s.root.join("d")).0, expected);
    assert_eq!(identities(&s.root.join("e")).0, expected);
}

#[test]
fn a_copy_in_the_store_is_a_new_study_beside_the_untouched_original() {
    let Some(s) = setup() else { return };
    let study = s
        .store()
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
        .into_iter()
        .find(|st| st.patient_id.starts_with("LB"))
        .unwrap();
    let before = s.sources(&study.study_uid);
    let report = s
        .anonymize(spec(
            DeleteTarget::Study(study.study_uid.clone()),
            &["retain-dates"],
            AnonymizeDestination::Local,
            &s.key_file,
        ))
        .unwrap();
    let copy = &report.studies[0];
    assert_eq!(copy.source_study, study.study_uid);
    assert_eq!(copy.study_uid, derive(KEY.as_bytes(), &study.study_uid));
    let stored = s.store().index().study(&copy.study_uid).unwrap().unwrap();
    assert_eq!(stored.patient_id, copy.patient_id);
    assert_eq!(stored.instance_count as usize, before.len());
    assert_eq!(
        s.sources(&study.study_uid),
        before,
        "the original is untouched"
    );
    assert_eq!(copy.changed["PatientName"]["replaced"], before.len() as u64);
    assert_eq!(
        copy.changed["StudyDate"]["date shifted"],
        before.len() as u64
    );
}

#[test]
fn images_that_may_show_burned_in_text_are_flagged_and_rectangles_blanked() {
    let Some(s) = setup() else { return };
    let index = s.store().index();
    let mut flagged = None;
    for study in s.studies() {
        for series in index.series_of_study(&study).unwrap() {
            if series.modality.as_deref() == Some("US") {
                flagged = Some(series.series_uid.clone());
            }
        }
    }
    let series = flagged.expect("pydicom's files hold ultrasound");
    let mut job = spec(
        DeleteTarget::Series(series.clone()),
        &[],
        AnonymizeDestination::Folder(s.root.join("us")),
        &s.key_file,
    );
    if let JobSpec::Anonymize { blank, .. } = &mut job {
        blank.push(Rect {
            x: 0,
            y: 0,
            width: 8,
            height: 4,
        });
    }
    let report = s.anonymize(job).unwrap();
    assert!(!report.burned_in.is_empty(), "{report:?}");
    assert!(report.burned_in[0].why.contains("ultrasound"));
    for path in outputs(&s.root.join("us")).values() {
        let file = read_file(path, ReadMode::Full).unwrap();
        let codes: Vec<String> = file
            .dataset
            .items(lightbox_dicom::Tag(0x0012, 0x0064))
            .iter()
            .map(|i| i.text(lightbox_dicom::Tag(0x0008, 0x0100)).unwrap())
            .collect();
        assert!(codes.contains(&"113101".to_string()), "{codes:?}");
        assert_eq!(
            file.transfer_syntax,
            lightbox_dicom::transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN
        );
    }
}

#[test]
fn the_profile_table_is_the_one_independent_packages_print() {
    let Some(python) = support::python() else {
        return;
    };
    let table = support::workspace_root().join("crates/dicom/src/deid/table_e1_1.txt");
    let result: serde_json::Value = serde_json::from_str(&support::run_reference_script(
        &python,
        "deid_check.py",
        &["--table".as_ref(), table.as_os_str()],
    ))
    .unwrap();
    assert_eq!(result["mismatches"], serde_json::json!([]), "{result:#}");
    assert_eq!(
        result["extra"],
        serde_json::json!(["(64, 16419): U"]),
        "rows beyond 2026c"
    );
    let rows = result["rows"].as_u64().unwrap();
    let compared = result["compared_options"].as_u64().unwrap();
    assert!(rows >= 650 && compared >= 420, "{result}");
    eprintln!("figure: {rows} rows, basic column equal to 2026c's, {compared} rows' option columns equal to the older edition's");
}

#[test]
fn what_dicognito_removes_or_changes_the_basic_profile_does_too_or_the_readme_says_why() {
    let Some(s) = setup() else { return };
    let pairs = anonymize_every_study(&s, &[], "out");
    let config = s.root.join("compare.json");
    std::fs::write(&config, serde_json::json!({ "pairs": pairs }).to_string()).unwrap();
    let result: serde_json::Value = serde_json::from_str(&support::run_reference_script(
        &s.python,
        "dicognito_compare.py",
        &[config.as_os_str()],
    ))
    .unwrap();
    let readme = std::fs::read_to_string(support::workspace_root().join("README.md")).unwrap();
    let section = readme
        .split("### Compared with dicognito")
        .nth(1)
        .expect("the README compares with dicognito")
        .split("\n## ")
        .next()
        .unwrap();
    let differences = result["differences"].as_object().unwrap();
    for (keyword, what) in differences {
        assert!(
            section.contains(&format!("`{keyword}`")),
            "dicognito {} {keyword} ({what}) and Lightbox keeps it: the README does not say why",
            what["dicognito"]
        );
    }
    let compared = result["compared"].as_u64().unwrap();
    assert!(compared > 7_000, "{result}");
    eprintln!(
        "figure: {} instances, {compared} attributes compared with dicognito, {} difference(s): {:?}",
        pairs.len(),
        differences.len(),
        differences.keys().collect::<Vec<_>>()
    );
}
