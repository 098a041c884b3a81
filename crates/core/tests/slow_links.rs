//! Retrievals over a slow link: 65 MB from Orthanc through a relay that moves 6 MB/s, from a
//! node whose timeout is 5 s. The timeout counts silence, so the transfers (about 11 s each)
//! complete; with the link cut once mid-transfer, the job fails its first attempt, is retried
//! automatically, and fetches only what it is missing. Over DIMSE (C-GET and C-MOVE) and
//! DICOMweb (WADO-RS) alike.

mod support;

use lightbox_core::jobs::runner::{LocalRunner, MoveListener};
use lightbox_core::jobs::{
    AssociationSettings, Engine, EngineConfig, JobRecord, JobSpec, JobState, NewJob,
};
use lightbox_core::nodes::{DicomWebEndpoint, Node, Nodes, RetrieveMethod, WebAuth};
use lightbox_core::store::Store;
use lightbox_net::report::RetrieveReport;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::link::SlowLink;

const RATE: u64 = 6 << 20;
/// 512 × 512 CT slices of 16 bits, about 0.5 MB each: 124 of them make 65 MB.
const INSTANCES: u64 = 124;
const TIMEOUT_SECONDS: u64 = 5;

struct Source {
    study_uid: String,
    bytes: u64,
    _files: tempfile::TempDir,
}

fn series_in(orthanc: &support::Orthanc) -> Source {
    let dir = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: INSTANCES as u32,
        rows: 512,
        columns: 512,
        seed: 65,
        modality: Some("CT".into()),
        ..Default::default()
    };
    let files: Vec<PathBuf> = support::synthetic_in_peer(&orthanc.address, dir.path(), &spec);
    let bytes = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    assert!(bytes > 65_000_000, "{bytes} bytes");
    let study_uid = lightbox_dicom::read_file(&files[0], lightbox_dicom::ReadMode::Header)
        .unwrap()
        .dataset
        .first_text(lightbox_dicom::tag::STUDY_INSTANCE_UID)
        .unwrap();
    Source {
        study_uid,
        bytes,
        _files: dir,
    }
}

struct Local {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    engine: Engine,
}

/// A store knowing `node`, and an engine that retries a transient failure after half a second.
fn local(node: Node, move_listener: MoveListener) -> Local {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    Nodes::new(dir.path())
        .add(Node {
            timeout_seconds: TIMEOUT_SECONDS,
            ..node
        })
        .unwrap();
    let runner = LocalRunner::new(store.clone(), Nodes::new(dir.path()), move_listener);
    let config = EngineConfig {
        retry_base: Duration::from_millis(500),
        ..EngineConfig::default()
    };
    let engine = Engine::start(dir.path(), Arc::new(runner), config).unwrap();
    Local {
        _dir: dir,
        store,
        engine,
    }
}

fn retrieve(local: &Local, study_uid: &str) -> JobRecord {
    let started = Instant::now();
    let id = local
        .engine
        .submit(NewJob::new(JobSpec::Retrieve {
            node: "slow".into(),
            study_uid: study_uid.into(),
            series_uid: None,
            sop_instance_uid: None,
            preview_first: false,
            preview_only: false,
            association: AssociationSettings::default(),
        }))
        .unwrap()
        .id;
    let record = local
        .engine
        .wait(id, Duration::from_secs(120))
        .unwrap()
        .expect("the job is known");
    eprintln!(
        "figure: 65 MB retrieved over 6 MB/s in {:.1?}, {} attempt(s)",
        started.elapsed(),
        record.attempts
    );
    assert_eq!(record.state, JobState::Completed, "{record:?}");
    assert_eq!(
        local.store.index().stats().unwrap().instances,
        INSTANCES,
        "every instance is stored"
    );
    assert_eq!(std::fs::read_dir(local.store.tmp_dir()).unwrap().count(), 0);
    record
}

/// Completes in one attempt although it takes twice the node's timeout; the instances come
/// over `link`, which had carried `before` bytes.
fn completes_on_a_slow_link(local: &Local, source: &Source, link: &SlowLink, before: u64) {
    let started = Instant::now();
    let record = retrieve(local, &source.study_uid);
    assert!(
        started.elapsed() > Duration::from_secs(2 * TIMEOUT_SECONDS),
        "the link was not slow: {:?}",
        started.elapsed()
    );
    assert_eq!(record.attempts, 1, "{record:?}");
    assert!(link.carried() - before >= source.bytes);
}

/// Cut once past the middle: a second attempt completes, fetching only what is missing. The
/// instances come over `link`, which had carried `before` bytes.
fn completes_after_a_cut(local: &Local, source: &Source, link: &SlowLink, before: u64) {
    link.cut_once_at(before + source.bytes / 2);
    let record = retrieve(local, &source.study_uid);
    assert_eq!(link.cuts(), 1, "the link was cut");
    assert_eq!(record.attempts, 2, "{record:?}");
    let report: RetrieveReport = serde_json::from_value(record.output.unwrap()).unwrap();
    assert_eq!(report.stored + report.duplicates, INSTANCES, "{report:?}");
    assert!(
        report.duplicates > INSTANCES / 3,
        "the second attempt kept what the first stored: {report:?}"
    );
    // A fresh start would have moved one and a half times the data.
    let moved = link.carried() - before;
    assert!(
        moved < source.bytes + source.bytes / 5,
        "{moved} bytes moved for {} bytes of data",
        source.bytes
    );
    let log = local.engine.log(record.id).unwrap();
    assert!(
        log.iter()
            .any(|l| l.message.contains("retrieving the rest")),
        "{log:?}"
    );
}

/// The uncut run or the cut one, over `link`, which had carried `before` bytes.
fn completes(cut: bool, local: &Local, source: &Source, link: &SlowLink, before: u64) {
    if cut {
        completes_after_a_cut(local, source, link, before);
    } else {
        completes_on_a_slow_link(local, source, link, before);
    }
}

#[test]
fn a_dimse_c_get_of_65_mb_over_a_slow_link_completes_and_resumes_after_a_cut() {
    let Some(orthanc) = support::start_orthanc() else {
        return;
    };
    let source = series_in(&orthanc);
    for cut in [false, true] {
        let link = SlowLink::to(orthanc.address.port, RATE);
        let node = Node::new(
            "slow",
            &lightbox_net::dimse::AeAddress {
                port: link.port,
                ..orthanc.address.clone()
            },
        );
        let local = local(node, MoveListener::Running);
        completes(cut, &local, &source, &link, 0);
    }
}

#[test]
fn a_dimse_c_move_of_65_mb_over_a_slow_link_completes_and_resumes_after_a_cut() {
    // Orthanc sends the instances to our listener through a slow link of their own.
    let listener_port = support::free_port();
    let inbound = SlowLink::to(listener_port, RATE);
    let Some(orthanc) = support::start_orthanc_knowing(serde_json::json!({
        "LIGHTBOX": ["LIGHTBOX", "127.0.0.1", inbound.port]
    })) else {
        return;
    };
    let source = series_in(&orthanc);
    for cut in [false, true] {
        let outbound = SlowLink::to(orthanc.address.port, RATE);
        let node = Node {
            retrieve_method: RetrieveMethod::CMove,
            move_destination: Some("LIGHTBOX".into()),
            ..Node::new(
                "slow",
                &lightbox_net::dimse::AeAddress {
                    port: outbound.port,
                    ..orthanc.address.clone()
                },
            )
        };
        let local = local(
            node,
            MoveListener::Temporary(format!("127.0.0.1:{listener_port}")),
        );
        // The instances come, and the cut falls, on their own link.
        completes(cut, &local, &source, &inbound, inbound.carried());
    }
}

#[test]
fn a_dicomweb_retrieval_of_65_mb_over_a_slow_link_completes_and_resumes_after_a_cut() {
    let Some(orthanc) = support::start_orthanc_dicomweb() else {
        return;
    };
    let source = series_in(&orthanc);
    for cut in [false, true] {
        let link = SlowLink::to(orthanc.http_port, RATE);
        let node = Node::dicomweb(
            "slow",
            DicomWebEndpoint {
                url: format!("http://127.0.0.1:{}/dicom-web", link.port),
                auth: WebAuth::None,
            },
        );
        let local = local(node, MoveListener::Running);
        completes(cut, &local, &source, &link, 0);
    }
}
