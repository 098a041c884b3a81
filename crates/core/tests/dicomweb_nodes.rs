//! DICOMweb nodes through the job engine, against Orthanc's DICOMweb plugin: query (QIDO-RS),
//! retrieve a study (WADO-RS into the store) and send a study (STOW-RS).

mod support;

use lightbox_core::jobs::runner::{LocalRunner, MoveListener};
use lightbox_core::jobs::{
    AssociationSettings, Engine, EngineConfig, JobSpec, JobState, NewJob, QuerySpec,
};
use lightbox_core::nodes::{DicomWebEndpoint, Node, Nodes, WebAuth};
use lightbox_core::store::Store;
use std::sync::Arc;
use std::time::Duration;

fn run(engine: &Engine, spec: JobSpec) -> lightbox_core::jobs::JobRecord {
    let id = engine.submit(NewJob::new(spec)).unwrap().id;
    let record = engine.wait(id, Duration::from_secs(60)).unwrap().unwrap();
    assert_eq!(record.state, JobState::Completed, "{record:?}");
    record
}

#[test]
fn query_retrieve_and_send_through_orthanc_dicomweb() {
    let Some(orthanc) = support::start_orthanc_dicomweb() else {
        return;
    };
    // A study of two series, in Orthanc.
    let source = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 2,
        instances_per_series: 5,
        rows: 64,
        columns: 64,
        seed: 11,
        modality: Some("MR".into()),
        ..Default::default()
    };
    let files = support::synthetic_in_peer(&orthanc.address, source.path(), &spec);

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let endpoint = DicomWebEndpoint {
        url: format!("http://127.0.0.1:{}/dicom-web", orthanc.http_port),
        auth: WebAuth::None,
    };
    Nodes::new(dir.path())
        .add(Node::dicomweb("web", endpoint))
        .unwrap();
    let runner = LocalRunner::new(store.clone(), Nodes::new(dir.path()), MoveListener::Running);
    let engine = Engine::start(dir.path(), Arc::new(runner), EngineConfig::default()).unwrap();

    // Echo, then QIDO-RS studies and the series of the study.
    run(
        &engine,
        JobSpec::Echo {
            node: "web".into(),
            association: AssociationSettings::default(),
        },
    );
    let query = |level: &str, study_uid: Option<String>| JobSpec::Query {
        node: "web".into(),
        query: QuerySpec {
            level: level.into(),
            study_uid,
            ..QuerySpec::default()
        },
        association: AssociationSettings::default(),
    };
    let studies = run(&engine, query("study", None)).output.unwrap();
    let studies = studies.as_array().unwrap();
    assert_eq!(studies.len(), 1, "{studies:?}");
    let study = studies[0]["StudyInstanceUID"].as_str().unwrap().to_string();
    assert_eq!(studies[0]["ModalitiesInStudy"], serde_json::json!(["MR"]));
    let series = run(&engine, query("series", Some(study.clone())))
        .output
        .unwrap();
    assert_eq!(series.as_array().unwrap().len(), 2, "{series}");
    assert!(series[0]["SeriesInstanceUID"].is_string());

    // A preview of the first series: its middle instance (found with QIDO-RS), then a thumbnail,
    // and nothing more.
    let first_series = series[0]["SeriesInstanceUID"].as_str().unwrap().to_string();
    let retrieve = |series_uid: Option<String>, preview: bool| JobSpec::Retrieve {
        node: "web".into(),
        study_uid: study.clone(),
        series_uid,
        sop_instance_uid: None,
        preview_first: preview,
        preview_only: preview,
        association: AssociationSettings::default(),
    };
    let plan = run(&engine, retrieve(Some(first_series.clone()), true));
    assert_eq!(plan.output.as_ref().unwrap()["instances"], 5);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let thumbnails_done = || {
        let filter = lightbox_core::jobs::JobFilter {
            kind: Some(lightbox_core::jobs::JobKind::Thumbnail),
            states: vec![JobState::Completed],
            ..Default::default()
        };
        engine.list(&filter).unwrap().1
    };
    while thumbnails_done() == 0 {
        assert!(std::time::Instant::now() < deadline, "no preview thumbnail");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The middle instance is here as a preview: not an instance of a local study.
    let stats = store.index().stats().unwrap();
    assert_eq!((stats.instances, stats.previews, stats.studies), (0, 1, 0));
    let listed = store.index().search_studies(&Default::default()).unwrap();
    assert_eq!(listed.total, 0, "a study of previews is not listed");
    let held = store.index().study(&study).unwrap().expect("in the index");
    assert_eq!((held.instance_count, held.preview_count), (0, 1));
    let middle = plan.output.as_ref().unwrap()["middle_instance"].clone();
    assert!(store
        .index()
        .instance(middle.as_str().unwrap())
        .unwrap()
        .is_some());

    // The whole study now: only the nine missing instances travel.
    let resumed = run(&engine, retrieve(None, false));
    let report = resumed.output.unwrap();
    assert_eq!(
        (report["stored"].as_u64(), report["duplicates"].as_u64()),
        (Some(9), Some(1)),
        "{report}"
    );
    assert_eq!(report["expected"], 10, "{report}");
    // The preview is part of the study now.
    let stats = store.index().stats().unwrap();
    assert_eq!((stats.instances, stats.previews, stats.studies), (10, 0, 1));
    run(
        &engine,
        JobSpec::Delete {
            target: lightbox_core::jobs::DeleteTarget::Study(study.clone()),
        },
    );

    // WADO-RS of the whole study into the store, with thumbnails queued for its series.
    let retrieved = run(
        &engine,
        JobSpec::Retrieve {
            node: "web".into(),
            study_uid: study.clone(),
            series_uid: None,
            sop_instance_uid: None,
            preview_first: false,
            preview_only: false,
            association: AssociationSettings::default(),
        },
    );
    let report = retrieved.output.unwrap();
    assert_eq!(report["stored"], 10, "{report}");
    assert_eq!(store.index().stats().unwrap().instances, 10);
    assert!(retrieved.progress.bytes_done > 10 * 64 * 64 * 2);
    // The same instances as the originals, element for element.
    for file in &files {
        let original = lightbox_dicom::read_file(file, lightbox_dicom::ReadMode::Full).unwrap();
        let uid = original
            .dataset
            .first_text(lightbox_dicom::tag::SOP_INSTANCE_UID)
            .unwrap();
        let stored = store.index().instance(&uid).unwrap().unwrap();
        let copy = lightbox_dicom::read_file(
            &store.local_path(&stored.file_path).unwrap(),
            lightbox_dicom::ReadMode::Full,
        )
        .unwrap();
        assert_eq!(copy.dataset.elements.len(), original.dataset.elements.len());
    }

    // STOW-RS: a new study from the local store to Orthanc.
    let other = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        seed: 12,
        series_per_study: 1,
        instances_per_series: 3,
        ..spec
    };
    lightbox_synth::generate(&spec, other.path()).unwrap();
    let imported = lightbox_core::import::import(
        &store,
        &[other.path().to_path_buf()],
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(imported.imported, 3);
    let all = store
        .index()
        .search_studies(&lightbox_core::index::StudyQuery::default())
        .unwrap();
    let new_study = all
        .studies
        .iter()
        .find(|s| s.study_uid != study)
        .unwrap()
        .study_uid
        .clone();
    let sent = run(
        &engine,
        JobSpec::Send {
            node: "web".into(),
            study_uid: Some(new_study.clone()),
            series_uid: None,
            paths: Vec::new(),
            association: AssociationSettings::default(),
        },
    );
    assert_eq!(sent.output.unwrap()["sent"], 3);
    // Orthanc now holds it: QIDO-RS through the node finds two studies.
    let studies = run(&engine, query("study", None)).output.unwrap();
    let uids: Vec<&str> = studies
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["StudyInstanceUID"].as_str().unwrap())
        .collect();
    assert!(
        uids.contains(&new_study.as_str()) && uids.len() == 2,
        "{uids:?}"
    );
    engine.shutdown();
}
