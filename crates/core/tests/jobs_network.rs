//! The job engine running real network jobs: a C-GET from Orthanc canceled mid-transfer and
//! resumed without fetching again what arrived, and a peer that is down.

mod support;

use lightbox_core::jobs::runner::{LocalRunner, MoveListener};
use lightbox_core::jobs::{
    AssociationSettings, Engine, EngineConfig, FailureCategory, JobSpec, JobState, NewJob,
};
use lightbox_core::nodes::{Node, Nodes};
use lightbox_core::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn engine(dir: &std::path::Path, store: &Arc<Store>, config: EngineConfig) -> Engine {
    let runner = LocalRunner::new(store.clone(), Nodes::new(dir), MoveListener::Running);
    Engine::start(dir, Arc::new(runner), config).unwrap()
}

fn managed_files(store: &Store) -> usize {
    walkdir::WalkDir::new(store.root().join("files"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count()
}

#[test]
fn a_running_c_get_from_orthanc_cancels_within_a_second_and_resumes_without_refetching() {
    let Some(orthanc) = support::start_orthanc() else {
        return;
    };
    // One series of 400 small CT instances, sent to Orthanc.
    let source = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 400,
        rows: 256,
        columns: 256,
        seed: 7,
        modality: Some("CT".into()),
        ..Default::default()
    };
    let files = support::synthetic_in_peer(&orthanc.address, source.path(), &spec);
    let first = lightbox_dicom::read_file(&files[0], lightbox_dicom::ReadMode::Header).unwrap();
    let study_uid = first
        .dataset
        .first_text(lightbox_dicom::tag::STUDY_INSTANCE_UID)
        .unwrap();
    let series_uid = first
        .dataset
        .first_text(lightbox_dicom::tag::SERIES_INSTANCE_UID)
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    Nodes::new(dir.path())
        .add(Node::new("orthanc", &orthanc.address))
        .unwrap();
    let engine = engine(dir.path(), &store, EngineConfig::default());
    let job = engine
        .submit(NewJob::new(JobSpec::Retrieve {
            node: "orthanc".into(),
            study_uid: study_uid.clone(),
            series_uid: Some(series_uid.clone()),
            sop_instance_uid: None,
            preview_first: false,
            preview_only: false,
            association: AssociationSettings::default(),
        }))
        .unwrap()
        .id;
    // Cancel once the transfer is well under way.
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.index().stats().unwrap().instances < 40 {
        assert!(Instant::now() < deadline, "the retrieval did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    let asked = Instant::now();
    assert!(engine.cancel(job).unwrap());
    let record = engine.wait(job, Duration::from_secs(10)).unwrap().unwrap();
    let took = asked.elapsed();
    assert_eq!(record.state, JobState::Canceled, "{record:?}");
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    // The store is consistent: every placed file is indexed, nothing half-written remains.
    let stored = store.index().stats().unwrap().instances;
    assert!(
        stored > 0 && stored < 400,
        "{stored} stored before the cancel"
    );
    assert_eq!(managed_files(&store) as u64, stored);
    assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    eprintln!("canceled after {stored} instance(s) in {took:?}");

    // Retried, it fetches only what is missing.
    assert!(engine.retry(job).unwrap());
    let record = engine.wait(job, Duration::from_secs(60)).unwrap().unwrap();
    assert_eq!(record.state, JobState::Completed, "{record:?}");
    let report: lightbox_net::report::RetrieveReport =
        serde_json::from_value(record.output.unwrap()).unwrap();
    assert_eq!(report.expected, 400);
    // Progress in items and in bytes (each instance is about 130 KB).
    assert_eq!(record.progress.items_done, 400);
    assert!(
        record.progress.bytes_done > (400 - stored) * 100_000,
        "{:?}",
        record.progress
    );
    assert_eq!(
        report.duplicates, stored,
        "what was stored is not fetched again"
    );
    assert_eq!(report.stored, 400 - stored);
    assert_eq!(store.index().stats().unwrap().instances, 400);
    assert_eq!(managed_files(&store), 400);
    assert!(engine
        .log(job)
        .unwrap()
        .iter()
        .any(|l| l.message
            == format!("{stored} of 400 instance(s) already stored; retrieving the rest")));
    // Its follow-up made the series thumbnail.
    let thumbnail = JobSpec::Thumbnail {
        series_uid: series_uid.clone(),
        size: lightbox_core::jobs::kinds::thumbnail::THUMBNAIL_SIZE,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (jobs, _) = engine
            .list(&lightbox_core::jobs::JobFilter::default())
            .unwrap();
        let done = jobs.iter().any(|j| {
            j.spec == thumbnail && j.state == JobState::Completed && j.depends_on == [job]
        });
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "no thumbnail job: {jobs:?}");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Delete the series locally, then fetch it again showing something early: the middle
    // instance, its thumbnail, then the rest, each job after the one before.
    let delete = engine
        .submit(NewJob::new(JobSpec::Delete {
            target: lightbox_core::jobs::DeleteTarget::Series(series_uid.clone()),
        }))
        .unwrap()
        .id;
    let deleted = engine
        .wait(delete, Duration::from_secs(30))
        .unwrap()
        .unwrap();
    assert_eq!(deleted.state, JobState::Completed, "{deleted:?}");
    assert_eq!(deleted.output.unwrap()["files_deleted"], 400);
    assert_eq!(managed_files(&store), 0);
    let plan = engine
        .submit(NewJob::new(JobSpec::Retrieve {
            node: "orthanc".into(),
            study_uid: study_uid.clone(),
            series_uid: Some(series_uid.clone()),
            sop_instance_uid: None,
            preview_first: true,
            preview_only: false,
            association: AssociationSettings::default(),
        }))
        .unwrap()
        .id;
    let planned = engine.wait(plan, Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!(planned.state, JobState::Completed, "{planned:?}");
    let middle = planned.output.unwrap()["middle_instance"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let chain = loop {
        let (jobs, _) = engine
            .list(&lightbox_core::jobs::JobFilter::default())
            .unwrap();
        let after = |id| jobs.iter().find(|j| j.depends_on == [id]).cloned();
        let first = after(plan);
        let thumb = first.as_ref().and_then(|f| after(f.id));
        let whole = thumb.as_ref().and_then(|t| after(t.id));
        if let (Some(first), Some(thumb), Some(whole)) = (first, thumb, whole) {
            let chain = vec![whole, thumb, first];
            assert!(
                chain
                    .iter()
                    .all(|j| !j.state.is_finished() || j.state == JobState::Completed),
                "{chain:?}"
            );
            if chain.iter().all(|j| j.state == JobState::Completed) {
                break chain;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the chain did not finish: {jobs:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let (whole, thumb, first) = (&chain[0], &chain[1], &chain[2]);
    assert!(
        matches!(&first.spec, JobSpec::Retrieve { sop_instance_uid: Some(uid), .. } if *uid == middle)
    );
    assert_eq!(first.depends_on, [plan]);
    assert!(matches!(&thumb.spec, JobSpec::Thumbnail { .. }));
    assert_eq!(thumb.depends_on, [first.id]);
    assert!(matches!(
        &whole.spec,
        JobSpec::Retrieve {
            sop_instance_uid: None,
            ..
        }
    ));
    assert_eq!(whole.depends_on, [thumb.id]);
    assert!(first.finished_at <= thumb.started_at && thumb.finished_at <= whole.started_at);
    assert_eq!(store.index().stats().unwrap().instances, 400);

    // A cascading query: the patient, then its studies, then their series.
    let patients = engine
        .submit(NewJob::new(JobSpec::Query {
            node: "orthanc".into(),
            query: lightbox_core::jobs::QuerySpec {
                level: "patient".into(),
                cascade: true,
                ..Default::default()
            },
            association: AssociationSettings::default(),
        }))
        .unwrap()
        .id;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (jobs, _) = engine
            .list(&lightbox_core::jobs::JobFilter {
                kind: Some(lightbox_core::jobs::JobKind::Query),
                ..Default::default()
            })
            .unwrap();
        if jobs.len() == 3 && jobs.iter().all(|j| j.state == JobState::Completed) {
            let (series, studies) = (&jobs[0], &jobs[1]);
            assert_eq!(studies.depends_on, [patients]);
            assert_eq!(series.depends_on, [studies.id]);
            let rows = series.output.as_ref().unwrap().as_array().unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0]["SeriesInstanceUID"], series_uid.as_str());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cascade did not finish: {jobs:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    engine.shutdown();
}

#[test]
fn a_peer_that_is_down_is_retried_then_fails_with_a_clear_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    // A port nobody listens on.
    let port = support::free_port();
    Nodes::new(dir.path())
        .add(Node::new(
            "down",
            &format!("NOBODY@127.0.0.1:{port}").parse().unwrap(),
        ))
        .unwrap();
    let engine = engine(
        dir.path(),
        &store,
        EngineConfig {
            retry_base: Duration::from_millis(50),
            ..EngineConfig::default()
        },
    );
    let echo = engine
        .submit(
            NewJob::new(JobSpec::Echo {
                node: "down".into(),
                association: AssociationSettings::default(),
            })
            .max_retries(2),
        )
        .unwrap()
        .id;
    let record = engine.wait(echo, Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!(record.state, JobState::Failed);
    assert_eq!(record.attempts, 3);
    let error = record.error.unwrap();
    assert_eq!(error.category, FailureCategory::Network);
    assert!(
        error.message.contains("cannot connect") && error.message.contains(&port.to_string()),
        "{}",
        error.message
    );
    // An unknown node is the job's own fault: no retry.
    let unknown = engine
        .submit(NewJob::new(JobSpec::Echo {
            node: "nobody-knows".into(),
            association: AssociationSettings::default(),
        }))
        .unwrap()
        .id;
    let record = engine
        .wait(unknown, Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Failed, 1));
    assert_eq!(record.error.unwrap().category, FailureCategory::Input);
    engine.shutdown();
}

#[test]
fn a_peer_suspended_mid_retrieval_is_retried_and_the_job_completes_once_it_resumes() {
    let Some(orthanc) = support::start_orthanc() else {
        return;
    };
    let source = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 300,
        rows: 256,
        columns: 256,
        seed: 8,
        modality: Some("CT".into()),
        ..Default::default()
    };
    let files = support::synthetic_in_peer(&orthanc.address, source.path(), &spec);
    let first = lightbox_dicom::read_file(&files[0], lightbox_dicom::ReadMode::Header).unwrap();
    let text = |t| first.dataset.first_text(t).unwrap();
    let (study_uid, series_uid) = (
        text(lightbox_dicom::tag::STUDY_INSTANCE_UID),
        text(lightbox_dicom::tag::SERIES_INSTANCE_UID),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    Nodes::new(dir.path())
        .add(Node {
            timeout_seconds: 2,
            ..Node::new("orthanc", &orthanc.address)
        })
        .unwrap();
    let engine = engine(
        dir.path(),
        &store,
        EngineConfig {
            max_retries: 5,
            retry_base: Duration::from_millis(500),
            ..EngineConfig::default()
        },
    );
    let job = engine
        .submit(NewJob::new(JobSpec::Retrieve {
            node: "orthanc".into(),
            study_uid,
            series_uid: Some(series_uid),
            sop_instance_uid: None,
            preview_first: false,
            preview_only: false,
            association: AssociationSettings::default(),
        }))
        .unwrap()
        .id;
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.index().stats().unwrap().instances < 30 {
        assert!(Instant::now() < deadline, "the retrieval did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The peer hangs mid-transfer for longer than its timeout, then comes back.
    orthanc.signal("STOP");
    std::thread::sleep(Duration::from_secs(5));
    let during = engine.get(job).unwrap().unwrap();
    orthanc.signal("CONT");
    assert!(
        matches!(during.state, JobState::WaitingRetry | JobState::Running),
        "{during:?}"
    );
    let record = engine.wait(job, Duration::from_secs(60)).unwrap().unwrap();
    assert_eq!(record.state, JobState::Completed, "{record:?}");
    assert!(record.attempts >= 2, "it was retried: {record:?}");
    assert_eq!(store.index().stats().unwrap().instances, 300);
    assert_eq!(managed_files(&store), 300);
    let report: lightbox_net::report::RetrieveReport =
        serde_json::from_value(record.output.unwrap()).unwrap();
    assert!(
        report.duplicates >= 30,
        "what arrived is not fetched again: {report:?}"
    );
    eprintln!(
        "figure: Orthanc suspended (SIGSTOP) 5 s mid-C-GET, node timeout 2 s: job completed after \
         {} attempts, 300/300 instances, {} not fetched again",
        record.attempts, report.duplicates
    );
}

#[test]
fn a_cancel_takes_effect_within_a_second_even_when_the_peer_hangs() {
    let Some(orthanc) = support::start_orthanc() else {
        return;
    };
    let source = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 200,
        rows: 256,
        columns: 256,
        seed: 9,
        modality: Some("CT".into()),
        ..Default::default()
    };
    let files = support::synthetic_in_peer(&orthanc.address, source.path(), &spec);
    let first = lightbox_dicom::read_file(&files[0], lightbox_dicom::ReadMode::Header).unwrap();
    let study_uid = first
        .dataset
        .first_text(lightbox_dicom::tag::STUDY_INSTANCE_UID)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    // The node's own timeout is long: only the cancel may end the wait.
    Nodes::new(dir.path())
        .add(Node {
            timeout_seconds: 60,
            ..Node::new("orthanc", &orthanc.address)
        })
        .unwrap();
    let engine = engine(dir.path(), &store, EngineConfig::default());
    let job = engine
        .submit(NewJob::new(JobSpec::Retrieve {
            node: "orthanc".into(),
            study_uid,
            series_uid: None,
            sop_instance_uid: None,
            preview_first: false,
            preview_only: false,
            association: AssociationSettings::default(),
        }))
        .unwrap()
        .id;
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.index().stats().unwrap().instances < 20 {
        assert!(Instant::now() < deadline, "the retrieval did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    orthanc.signal("STOP");
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    assert!(engine.cancel(job).unwrap());
    let record = engine.wait(job, Duration::from_secs(10)).unwrap().unwrap();
    let took = asked.elapsed();
    orthanc.signal("CONT");
    assert_eq!(record.state, JobState::Canceled, "{record:?}");
    assert!(took < Duration::from_millis(1500), "cancel took {took:?}");
    eprintln!("figure: cancel of a C-GET from a suspended peer: canceled in {took:.2?}");
    assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
}
