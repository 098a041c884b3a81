//! Each DIMSE service of the server in isolation, through its handler trait, against the SCU
//! verbs: C-ECHO, C-STORE into a sink (and refused by it), C-FIND through a find handler (and its
//! refusals), C-GET and C-MOVE of what a retrieve handler designates. The handlers here keep
//! instances in a folder: no store, no index, no peer program.

use lightbox_dicom::write::DataSetBuilder;
use lightbox_dicom::{read_file, tag, DataSet, ReadMode};
use lightbox_net::dimse::c_find::FindHandler;
use lightbox_net::dimse::c_get::{RetrieveHandler, StoredInstance};
use lightbox_net::dimse::c_move::{Destination, NodeDirectory};
use lightbox_net::dimse::server::{DimseServer, ServerConfig, Services};
use lightbox_net::dimse::{
    c_echo, c_find, c_get, c_move, c_store, status, AeAddress, DimseError, ScuOptions,
};
use lightbox_net::query::{QueryModel, QUERY_RETRIEVE_LEVEL};
use lightbox_net::report::RetrieveTarget;
use lightbox_net::sink::{Accepted, InstanceSink, Origin, Refused};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Instances kept as files in a folder, by SOP Instance UID.
struct FolderSink {
    dir: tempfile::TempDir,
    kept: Mutex<BTreeMap<String, PathBuf>>,
    /// Refuse everything, with this reason.
    refuse: Option<String>,
}

impl FolderSink {
    fn new(refuse: Option<&str>) -> Arc<FolderSink> {
        Arc::new(FolderSink {
            dir: tempfile::tempdir().unwrap(),
            kept: Mutex::default(),
            refuse: refuse.map(str::to_string),
        })
    }

    fn uids(&self) -> Vec<String> {
        self.kept.lock().unwrap().keys().cloned().collect()
    }
}

impl InstanceSink for FolderSink {
    fn scratch_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn ingest(&self, file: tempfile::NamedTempFile, _origin: &Origin) -> Result<Accepted, Refused> {
        if let Some(reason) = &self.refuse {
            return Err(Refused {
                reason: reason.clone(),
                out_of_resources: false,
            });
        }
        let header = read_file(file.path(), ReadMode::Header).map_err(|e| Refused {
            reason: e.to_string(),
            out_of_resources: false,
        })?;
        let uid = header.dataset.text(tag::SOP_INSTANCE_UID).unwrap();
        let mut kept = self.kept.lock().unwrap();
        if kept.contains_key(&uid) {
            return Ok(Accepted {
                duplicate: true,
                series_uid: None,
            });
        }
        let (_, path) = file.keep().unwrap();
        kept.insert(uid, path);
        Ok(Accepted {
            duplicate: false,
            series_uid: header.dataset.text(tag::SERIES_INSTANCE_UID),
        })
    }
}

/// Generated instances: what the find and retrieve handlers answer with.
struct Catalog {
    files: Vec<(PathBuf, DataSet)>,
    identifiers: Mutex<Vec<DataSet>>,
}

impl Catalog {
    fn generate(dir: &Path, instances: u32) -> Arc<Catalog> {
        let spec = lightbox_synth::SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: instances,
            rows: 32,
            columns: 32,
            seed: 5,
            modality: Some("MR".into()),
            ..Default::default()
        };
        lightbox_synth::generate(&spec, dir).unwrap();
        let mut files: Vec<(PathBuf, DataSet)> = walkdir::WalkDir::new(dir)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let ds = read_file(e.path(), ReadMode::Header).unwrap().dataset;
                (e.into_path(), ds)
            })
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Arc::new(Catalog {
            files,
            identifiers: Mutex::default(),
        })
    }

    fn study_uid(&self) -> String {
        self.files[0].1.text(tag::STUDY_INSTANCE_UID).unwrap()
    }
}

impl FindHandler for Catalog {
    /// One IMAGE-level match per instance, whatever is asked; "REFUSE" as a patient name is
    /// refused with a reason.
    fn find(
        &self,
        _model: QueryModel,
        identifier: &DataSet,
    ) -> Result<Vec<DataSetBuilder>, String> {
        self.identifiers.lock().unwrap().push(identifier.clone());
        if identifier.text(tag::PATIENT_NAME).as_deref() == Some("REFUSE") {
            return Err("patient names are not searchable here".into());
        }
        Ok(self
            .files
            .iter()
            .map(|(_, ds)| {
                let mut b = DataSetBuilder::default();
                b.text(QUERY_RETRIEVE_LEVEL, "IMAGE");
                for t in [
                    tag::STUDY_INSTANCE_UID,
                    tag::SERIES_INSTANCE_UID,
                    tag::SOP_INSTANCE_UID,
                    tag::SOP_CLASS_UID,
                ] {
                    b.text(t, &ds.text(t).unwrap());
                }
                b
            })
            .collect())
    }
}

impl RetrieveHandler for Catalog {
    fn designate(&self, identifier: &DataSet) -> Result<Vec<StoredInstance>, String> {
        let study = identifier.text(tag::STUDY_INSTANCE_UID);
        Ok(self
            .files
            .iter()
            .filter(|(_, ds)| ds.text(tag::STUDY_INSTANCE_UID) == study)
            .map(|(path, ds)| StoredInstance {
                path: path.clone(),
                sop_class_uid: ds.text(tag::SOP_CLASS_UID),
                transfer_syntax: lightbox_dicom::transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN.into(),
            })
            .collect())
    }
}

/// One node, DEST, for C-MOVE.
struct OneNode(AeAddress);

impl NodeDirectory for OneNode {
    fn destination(&self, ae_title: &str) -> Option<Destination> {
        (ae_title == self.0.ae_title).then(|| Destination {
            address: self.0.clone(),
            timeout: Duration::from_secs(5),
            tls: None,
        })
    }
    fn known_ae_titles(&self) -> Vec<String> {
        vec![self.0.ae_title.clone()]
    }
}

/// A server on 127.0.0.1:0, stopped when dropped.
struct Server {
    address: AeAddress,
    shutdown: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(ae_title: &str, services: Services) -> Server {
        let config = ServerConfig {
            ae_title: ae_title.into(),
            ..ServerConfig::default()
        };
        let server = DimseServer::bind("127.0.0.1:0", config, services).unwrap();
        let port = server.local_addr().unwrap().port();
        let shutdown = Arc::new(AtomicBool::new(false));
        let flag = shutdown.clone();
        let thread = std::thread::spawn(move || server.serve(flag).unwrap());
        Server {
            address: AeAddress {
                ae_title: ae_title.into(),
                host: "127.0.0.1".into(),
                port,
            },
            shutdown,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn storage_only(sink: Arc<FolderSink>) -> Services {
    Services {
        storage: sink,
        find: None,
        retrieve: None,
        nodes: None,
        observer: None,
    }
}

fn options() -> ScuOptions {
    ScuOptions {
        calling_ae_title: "TESTSCU".into(),
        timeout: Duration::from_secs(5),
        cancel: None,
        tls: None,
    }
}

fn paths(catalog: &Catalog) -> Vec<PathBuf> {
    catalog.files.iter().map(|f| f.0.clone()).collect()
}

#[test]
fn echo_is_always_answered() {
    let server = Server::start("ECHO", storage_only(FolderSink::new(None)));
    assert!(c_echo::echo(&server.address, &options()).is_ok());
}

#[test]
fn store_hands_every_instance_to_the_sink_and_acknowledges_repeats() {
    let data = tempfile::tempdir().unwrap();
    let catalog = Catalog::generate(data.path(), 4);
    let sink = FolderSink::new(None);
    let server = Server::start("STORE", storage_only(sink.clone()));
    let report =
        c_store::send_files(&server.address, &options(), &paths(&catalog), &mut |_| {}).unwrap();
    assert_eq!((report.sent, report.failed), (4, 0), "{report:?}");
    assert_eq!(sink.uids().len(), 4);
    let again =
        c_store::send_files(&server.address, &options(), &paths(&catalog), &mut |_| {}).unwrap();
    assert_eq!(
        (again.sent, again.failed),
        (4, 0),
        "duplicates are successes"
    );
    assert_eq!(sink.uids().len(), 4);
}

#[test]
fn store_refused_by_the_sink_fails_each_instance_with_its_reason() {
    let data = tempfile::tempdir().unwrap();
    let catalog = Catalog::generate(data.path(), 2);
    let server = Server::start("FULL", storage_only(FolderSink::new(Some("no room left"))));
    let report =
        c_store::send_files(&server.address, &options(), &paths(&catalog), &mut |_| {}).unwrap();
    assert_eq!((report.sent, report.failed), (0, 2), "{report:?}");
    for instance in &report.instances {
        assert_eq!(
            instance.status,
            Some(status::CANNOT_UNDERSTAND),
            "{instance:?}"
        );
    }
}

#[test]
fn find_answers_through_its_handler_and_refuses_without_one() {
    let data = tempfile::tempdir().unwrap();
    let catalog = Catalog::generate(data.path(), 3);
    let server = Server::start(
        "FIND",
        Services {
            find: Some(catalog.clone()),
            ..storage_only(FolderSink::new(None))
        },
    );
    let mut query = DataSetBuilder::default();
    query
        .text(QUERY_RETRIEVE_LEVEL, "IMAGE")
        .text(tag::STUDY_INSTANCE_UID, &catalog.study_uid())
        .text(tag::SOP_INSTANCE_UID, "");
    let matches = c_find::find(&server.address, &options(), QueryModel::StudyRoot, &query).unwrap();
    assert_eq!(matches.len(), 3);
    let asked = catalog.identifiers.lock().unwrap().pop().unwrap();
    assert_eq!(
        asked.text(tag::STUDY_INSTANCE_UID),
        Some(catalog.study_uid())
    );

    query.text(tag::PATIENT_NAME, "REFUSE");
    let refused =
        c_find::find(&server.address, &options(), QueryModel::StudyRoot, &query).unwrap_err();
    assert!(
        matches!(refused, DimseError::Refused { status: status::CANNOT_UNDERSTAND, comment: Some(ref c), .. } if c.contains("not searchable")),
        "{refused:?}"
    );

    let no_handler = Server::start("NOFIND", storage_only(FolderSink::new(None)));
    let refused = c_find::find(
        &no_handler.address,
        &options(),
        QueryModel::StudyRoot,
        &query,
    )
    .unwrap_err();
    assert!(
        matches!(
            refused,
            DimseError::Refused {
                status: status::SOP_CLASS_NOT_SUPPORTED,
                ..
            }
        ),
        "{refused:?}"
    );
}

#[test]
fn get_brings_back_what_the_retrieve_handler_designates() {
    let data = tempfile::tempdir().unwrap();
    let catalog = Catalog::generate(data.path(), 5);
    let server = Server::start(
        "GET",
        Services {
            find: Some(catalog.clone()),
            retrieve: Some(catalog.clone()),
            ..storage_only(FolderSink::new(None))
        },
    );
    let local = FolderSink::new(None);
    let mut seen = 0;
    let report = c_get::get(
        &server.address,
        &options(),
        &RetrieveTarget::study(&catalog.study_uid()),
        local.as_ref(),
        &mut |p| seen = p.done,
    )
    .unwrap();
    assert_eq!(
        (report.expected, report.stored, report.failed),
        (5, 5, 0),
        "{report:?}"
    );
    assert_eq!(report.status, status::SUCCESS);
    assert_eq!((seen, local.uids().len()), (5, 5));
}

#[test]
fn move_sends_what_the_retrieve_handler_designates_to_a_known_node_only() {
    let data = tempfile::tempdir().unwrap();
    let catalog = Catalog::generate(data.path(), 3);
    let destination_sink = FolderSink::new(None);
    let destination = Server::start("DEST", storage_only(destination_sink.clone()));
    let source = Server::start(
        "SOURCE",
        Services {
            retrieve: Some(catalog.clone()),
            nodes: Some(Arc::new(OneNode(destination.address.clone()))),
            ..storage_only(FolderSink::new(None))
        },
    );
    let target = RetrieveTarget::study(&catalog.study_uid());
    let report =
        c_move::move_to(&source.address, &options(), &target, "DEST", &mut |_| {}).unwrap();
    assert_eq!(
        (report.stored, report.failed, report.status),
        (3, 0, status::SUCCESS),
        "{report:?}"
    );
    assert_eq!(destination_sink.uids().len(), 3);

    let unknown =
        c_move::move_to(&source.address, &options(), &target, "NOBODY", &mut |_| {}).unwrap();
    assert_eq!(
        unknown.status,
        status::MOVE_DESTINATION_UNKNOWN,
        "{unknown:?}"
    );
    assert_eq!(unknown.stored, 0);
}
