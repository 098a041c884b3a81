//! One scenario through the remote-node interface, the same code for every protocol: echo, find
//! the study and its series, retrieve a series into a store, and send it back — against one
//! Orthanc over DIMSE with C-GET, over DIMSE with C-MOVE (to a listener of our own for the
//! duration of the retrieval), and over DICOMweb.

mod support;

use lightbox_core::store::Store;
use lightbox_net::dicomweb::{DicomWebEndpoint, WebAuth};
use lightbox_net::dimse::ScuOptions;
use lightbox_net::query::{match_int, match_text, QuerySpec};
use lightbox_net::remote::{
    Control, DicomWebNode, DimseNode, DimseRetrieval, Event, MoveListener, RemoteNode,
};
use lightbox_net::report::RetrieveTarget;
use lightbox_net::sink::InstanceSink;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

const INSTANCES: usize = 6;

fn scenario(name: &str, remote: &dyn RemoteNode, study_uid: &str) {
    let round_trip = remote
        .echo()
        .unwrap_or_else(|e| panic!("{name}: echo: {e}"));
    assert!(round_trip < Duration::from_secs(5), "{name}");

    let studies = remote
        .find(
            &QuerySpec {
                level: "study".into(),
                patient_name: Some("*".into()),
                ..QuerySpec::default()
            },
            &mut Control::unobserved(),
        )
        .unwrap_or_else(|e| panic!("{name}: find studies: {e}"));
    let study = studies
        .iter()
        .find(|s| match_text(s, "StudyInstanceUID").as_deref() == Some(study_uid))
        .unwrap_or_else(|| panic!("{name}: the study is not among {studies:?}"));
    assert_eq!(
        match_int(study, "NumberOfStudyRelatedInstances"),
        Some(2 * INSTANCES as i64),
        "{name}"
    );
    let series = remote
        .find(
            &QuerySpec {
                level: "series".into(),
                study_uid: Some(study_uid.into()),
                ..QuerySpec::default()
            },
            &mut Control::unobserved(),
        )
        .unwrap_or_else(|e| panic!("{name}: find series: {e}"));
    assert_eq!(series.len(), 2, "{name}: {series:?}");
    let series_uid = match_text(&series[0], "SeriesInstanceUID").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let sink: Arc<dyn InstanceSink> = store.clone();
    let mut progress = Vec::new();
    let report = remote
        .retrieve(
            &RetrieveTarget::series(study_uid, &series_uid),
            &sink,
            &mut Control::new(Arc::new(AtomicBool::new(false)), |event| {
                if let Event::Progress(p) = event {
                    progress.push(p.done)
                }
            }),
        )
        .unwrap_or_else(|e| panic!("{name}: retrieve: {e}"));
    assert_eq!(report.stored as usize, INSTANCES, "{name}: {report:?}");
    assert_eq!(
        (report.failed, report.duplicates),
        (0, 0),
        "{name}: {report:?}"
    );
    assert!(report.errors.is_empty(), "{name}: {report:?}");
    assert_eq!(
        progress.last().copied(),
        Some(INSTANCES as u64),
        "{name}: {progress:?}"
    );
    let stored = store.index().instances_of_series(&series_uid).unwrap();
    assert_eq!(stored.len(), INSTANCES, "{name}");

    let files: Vec<_> = stored
        .iter()
        .map(|i| store.local_path(&i.file_path).unwrap())
        .collect();
    let mut sent = 0;
    let report = remote
        .send(
            &files,
            &mut Control::new(Arc::new(AtomicBool::new(false)), |event| {
                if let Event::Sent(instance) = event {
                    assert!(instance.error.is_none(), "{instance:?}");
                    sent += 1;
                }
            }),
        )
        .unwrap_or_else(|e| panic!("{name}: send: {e}"));
    assert_eq!(
        (report.sent as usize, report.failed),
        (INSTANCES, 0),
        "{name}: {report:?}"
    );
    assert_eq!(sent, INSTANCES, "{name}");
}

#[test]
fn echo_find_retrieve_and_send_the_same_way_over_dimse_and_dicomweb() {
    let move_port = support::free_port();
    let Some(orthanc) = support::start_orthanc_configured(serde_json::json!({
        "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
        "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": true },
        "DicomModalities": { "lightbox": ["REMOTETEST", "127.0.0.1", move_port] }
    })) else {
        return;
    };
    let source = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 2,
        instances_per_series: INSTANCES as u32,
        rows: 64,
        columns: 64,
        seed: 21,
        modality: Some("CT".into()),
        ..Default::default()
    };
    let files = support::synthetic_in_peer(&orthanc.address, source.path(), &spec);
    let study_uid = lightbox_dicom::read_file(&files[0], lightbox_dicom::ReadMode::Header)
        .unwrap()
        .dataset
        .text(lightbox_dicom::tag::STUDY_INSTANCE_UID)
        .unwrap();

    let options = ScuOptions {
        calling_ae_title: "REMOTETEST".into(),
        timeout: Duration::from_secs(10),
        cancel: None,
        tls: None,
    };
    let nodes: Vec<(&str, Box<dyn RemoteNode>)> = vec![
        (
            "DIMSE C-GET",
            Box::new(DimseNode {
                address: orthanc.address.clone(),
                options: options.clone(),
                retrieval: DimseRetrieval::Get,
            }),
        ),
        (
            "DIMSE C-MOVE",
            Box::new(DimseNode {
                address: orthanc.address.clone(),
                options,
                retrieval: DimseRetrieval::Move {
                    destination_ae: "REMOTETEST".into(),
                    listener: MoveListener::Temporary(format!("127.0.0.1:{move_port}")),
                },
            }),
        ),
        (
            "DICOMweb",
            Box::new(DicomWebNode {
                endpoint: DicomWebEndpoint {
                    url: format!("http://127.0.0.1:{}/dicom-web", orthanc.http_port),
                    auth: WebAuth::None,
                },
                timeout: Duration::from_secs(10),
            }),
        ),
    ];
    for (name, remote) in &nodes {
        scenario(name, remote.as_ref(), &study_uid);
    }
}
