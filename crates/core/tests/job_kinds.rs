//! Each kind of job in isolation: the runner against a real store, reaching a stand-in node
//! through the remote-node interface (an archive of generated instances that records what it is
//! asked), so that each kind's rules — resuming, planning previews, cascading, partial failures,
//! failure categories — are checked without a peer.

use lightbox_core::import::{import, ImportOptions, ImportProgress};
use lightbox_core::jobs::engine::ContextSink;
use lightbox_core::jobs::kinds::delete::DeleteOutput;
use lightbox_core::jobs::kinds::echo::EchoOutput;
use lightbox_core::jobs::kinds::import::ImportOutput;
use lightbox_core::jobs::kinds::query::QueryOutput;
use lightbox_core::jobs::kinds::retrieve::RetrieveOutput;
use lightbox_core::jobs::kinds::send::SendOutput;
use lightbox_core::jobs::kinds::thumbnail::ThumbnailOutput;
use lightbox_core::jobs::runner::{Connector, LocalRunner, MoveListener};
use lightbox_core::jobs::{
    AssociationSettings, DeleteTarget, FailureCategory, JobContext, JobFailure, JobId, JobSpec,
    Progress, QuerySpec,
};
use lightbox_core::nodes::{Node, Nodes};
use lightbox_core::store::Store;
use lightbox_dicom::{read_file, tag, DataSet, ReadMode};
use lightbox_net::dimse::DimseError;
use lightbox_net::query::Match;
use lightbox_net::remote::{Control, RemoteError, RemoteNode};
use lightbox_net::report::{
    RetrieveReport, RetrieveTarget, SendReport, SentInstance, TransferProgress,
};
use lightbox_net::sink::{InstanceSink, Origin};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A node holding generated instances: it answers queries from them, retrieves them into the
/// sink it is given, records what it is asked, and fails the next call when told to.
#[derive(Default)]
struct Archive {
    instances: Vec<(PathBuf, DataSet)>,
    retrieved: Mutex<Vec<RetrieveTarget>>,
    sent: Mutex<Vec<PathBuf>>,
    /// SOP Instance UIDs the node refuses to take.
    refuses: Vec<String>,
    fail_next: Mutex<Option<RemoteError>>,
    /// Its retrievals count only what has come so far, as WADO-RS's do.
    counts_nothing_ahead: AtomicBool,
    /// Its retrievals break off after this many instances and report the rest failed, as a
    /// C-MOVE whose link to its destination broke does.
    breaks_after: Mutex<Option<usize>>,
}

impl Archive {
    fn failure(&self) -> Result<(), RemoteError> {
        match self.fail_next.lock().unwrap().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn text(ds: &DataSet, t: lightbox_dicom::Tag) -> Value {
        ds.text(t).map(Value::from).unwrap_or(Value::Null)
    }
}

struct Shared(Arc<Archive>);

impl RemoteNode for Shared {
    fn address(&self) -> String {
        "ARCHIVE@archive.test:104".into()
    }

    fn echo(&self) -> Result<Duration, RemoteError> {
        self.0.failure()?;
        Ok(Duration::from_millis(3))
    }

    fn find(&self, query: &QuerySpec, _control: &mut Control) -> Result<Vec<Match>, RemoteError> {
        self.0.failure()?;
        let level = query.level.to_lowercase();
        let mut rows: Vec<Match> = Vec::new();
        for (_, ds) in &self.0.instances {
            let study = ds.text(tag::STUDY_INSTANCE_UID);
            let series = ds.text(tag::SERIES_INSTANCE_UID);
            if query.study_uid.is_some() && query.study_uid != study
                || query.series_uid.is_some() && query.series_uid != series
            {
                continue;
            }
            let mut row = Match::new();
            row.insert(
                "StudyInstanceUID".into(),
                Archive::text(ds, tag::STUDY_INSTANCE_UID),
            );
            row.insert("PatientID".into(), Archive::text(ds, tag::PATIENT_ID));
            if level != "study" {
                row.insert(
                    "SeriesInstanceUID".into(),
                    Archive::text(ds, tag::SERIES_INSTANCE_UID),
                );
            }
            if level == "instance" {
                row.insert(
                    "SOPInstanceUID".into(),
                    Archive::text(ds, tag::SOP_INSTANCE_UID),
                );
                row.insert(
                    "InstanceNumber".into(),
                    ds.int(tag::INSTANCE_NUMBER)
                        .map(Value::from)
                        .unwrap_or(Value::Null),
                );
            }
            if !rows.contains(&row) {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    fn retrieve(
        &self,
        target: &RetrieveTarget,
        sink: &Arc<dyn InstanceSink>,
        control: &mut Control,
    ) -> Result<RetrieveReport, RemoteError> {
        self.0.failure()?;
        self.0.retrieved.lock().unwrap().push(target.clone());
        let chosen: Vec<&PathBuf> = self
            .0
            .instances
            .iter()
            .filter(|(_, ds)| {
                ds.text(tag::STUDY_INSTANCE_UID).as_deref() == Some(&target.study_uid)
                    && (target.series_uid.is_none()
                        || ds.text(tag::SERIES_INSTANCE_UID) == target.series_uid)
                    && (target.instances.is_empty()
                        || target
                            .instances
                            .contains(&ds.text(tag::SOP_INSTANCE_UID).unwrap()))
            })
            .map(|(path, _)| path)
            .collect();
        let mut report = RetrieveReport {
            expected: chosen.len() as u64,
            ..RetrieveReport::default()
        };
        let mut chosen = chosen;
        if let Some(kept) = *self.0.breaks_after.lock().unwrap() {
            report.failed = chosen.len().saturating_sub(kept) as u64;
            report
                .errors
                .push("C-MOVE answered error: cannot understand (0xC000)".into());
            chosen.truncate(kept);
        }
        let origin = Origin {
            calling_ae_title: Some("ARCHIVE"),
            source: "ARCHIVE@archive.test",
        };
        for (i, path) in chosen.iter().enumerate() {
            let scratch = tempfile::NamedTempFile::new_in(sink.scratch_dir()).unwrap();
            std::fs::copy(path, scratch.path()).unwrap();
            match sink.ingest(scratch, &origin) {
                Ok(a) if a.duplicate => report.duplicates += 1,
                Ok(_) => report.stored += 1,
                Err(refused) => {
                    report.failed += 1;
                    report.errors.push(refused.reason)
                }
            }
            let silent = self.0.counts_nothing_ahead.load(Ordering::SeqCst);
            control.progress(TransferProgress {
                done: i as u64 + 1,
                expected: if silent {
                    i as u64 + 1
                } else {
                    chosen.len() as u64
                },
                bytes: 0,
            });
        }
        Ok(report)
    }

    fn counts_ahead(&self) -> bool {
        !self.0.counts_nothing_ahead.load(Ordering::SeqCst)
    }

    fn send(&self, files: &[PathBuf], control: &mut Control) -> Result<SendReport, RemoteError> {
        self.0.failure()?;
        let mut report = SendReport::default();
        for path in files {
            let uid = read_file(path, ReadMode::Header)
                .unwrap()
                .dataset
                .text(tag::SOP_INSTANCE_UID);
            let refused = uid.as_ref().is_some_and(|u| self.0.refuses.contains(u));
            let instance = SentInstance {
                path: path.display().to_string(),
                sop_instance_uid: uid,
                status: Some(if refused { 0xA700 } else { 0 }),
                error: refused.then(|| "refused: out of resources (0xA700)".to_string()),
                transfer_syntax: None,
                transcoded: false,
            };
            if refused {
                report.failed += 1;
            } else {
                report.sent += 1;
                self.0.sent.lock().unwrap().push(path.clone());
            }
            control.sent(&instance);
            report.instances.push(instance);
        }
        Ok(report)
    }
}

struct ToArchive(Arc<Archive>);

impl Connector for ToArchive {
    fn connect(
        &self,
        _: &Node,
        _: &AssociationSettings,
        _: &MoveListener,
    ) -> Result<Box<dyn RemoteNode>, lightbox_core::nodes::NodesError> {
        Ok(Box::new(Shared(self.0.clone())))
    }
}

/// Progress and log lines of a job run outside any engine.
#[derive(Default, Clone)]
struct Heard(Arc<Mutex<(Vec<Progress>, Vec<String>)>>);

impl ContextSink for Heard {
    fn progress(&self, _: JobId, progress: &Progress) {
        self.0.lock().unwrap().0.push(progress.clone());
    }
    fn log(&self, _: JobId, message: &str) {
        self.0.lock().unwrap().1.push(message.to_string());
    }
}

struct Setup {
    runner: LocalRunner,
    archive: Arc<Archive>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Setup {
    /// A store, and an archive of one study of two series of `per_series` instances, reached
    /// as the node "archive".
    fn new(per_series: u32, refuses: usize) -> Setup {
        let generated = tempfile::tempdir().unwrap();
        let spec = lightbox_synth::SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 2,
            instances_per_series: per_series,
            rows: 32,
            columns: 32,
            seed: 9,
            modality: Some("CT".into()),
            ..Default::default()
        };
        lightbox_synth::generate(&spec, generated.path()).unwrap();
        let mut instances: Vec<(PathBuf, DataSet)> = walkdir::WalkDir::new(generated.path())
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let ds = read_file(e.path(), ReadMode::Header).unwrap().dataset;
                (e.into_path(), ds)
            })
            .collect();
        instances.sort_by(|a, b| a.0.cmp(&b.0));
        let refuses = instances
            .iter()
            .take(refuses)
            .map(|(_, ds)| ds.text(tag::SOP_INSTANCE_UID).unwrap())
            .collect();
        let archive = Arc::new(Archive {
            instances,
            refuses,
            ..Archive::default()
        });
        let dir = tempfile::tempdir().unwrap();
        Nodes::new(dir.path())
            .add(Node::new(
                "archive",
                &"ARCHIVE@archive.test:104".parse().unwrap(),
            ))
            .unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut runner = LocalRunner::new(store, Nodes::new(dir.path()), MoveListener::Running);
        runner.connector = Arc::new(ToArchive(archive.clone()));
        Setup {
            runner,
            archive,
            _dirs: (generated, dir),
        }
    }

    fn run(&self, spec: &JobSpec) -> (Result<Option<Value>, JobFailure>, JobContext, Heard) {
        let heard = Heard::default();
        let ctx = JobContext::standalone(Box::new(heard.clone()), Arc::new(AtomicBool::new(false)));
        let outcome = self.runner.run_spec(spec, &ctx);
        (outcome, ctx, heard)
    }

    fn output<T: serde::de::DeserializeOwned>(&self, spec: &JobSpec) -> (T, JobContext, Heard) {
        let (outcome, ctx, heard) = self.run(spec);
        let value = outcome
            .unwrap_or_else(|f| panic!("{spec:?}: {f:?}"))
            .unwrap();
        (serde_json::from_value(value).unwrap(), ctx, heard)
    }

    fn study_uid(&self) -> String {
        self.archive.instances[0]
            .1
            .text(tag::STUDY_INSTANCE_UID)
            .unwrap()
    }

    /// The series UIDs, in file order, and each one's instances.
    fn series(&self) -> Vec<(String, Vec<(PathBuf, String)>)> {
        let mut out: Vec<(String, Vec<(PathBuf, String)>)> = Vec::new();
        for (path, ds) in &self.archive.instances {
            let series = ds.text(tag::SERIES_INSTANCE_UID).unwrap();
            let entry = (path.clone(), ds.text(tag::SOP_INSTANCE_UID).unwrap());
            match out.iter_mut().find(|(s, _)| *s == series) {
                Some((_, list)) => list.push(entry),
                None => out.push((series, vec![entry])),
            }
        }
        out
    }

    fn store_locally(&self, files: &[PathBuf]) {
        let report = import(
            &self.runner.store,
            files,
            &ImportOptions::default(),
            &ImportProgress::default(),
        )
        .unwrap();
        assert_eq!(report.imported as usize, files.len());
    }
}

fn retrieve_spec(study: &str, series: Option<&str>, instance: Option<&str>) -> JobSpec {
    JobSpec::Retrieve {
        node: "archive".into(),
        study_uid: study.into(),
        series_uid: series.map(str::to_string),
        sop_instance_uid: instance.map(str::to_string),
        preview_first: false,
        preview_only: false,
        association: AssociationSettings::default(),
    }
}

#[test]
fn echo_reports_the_node_its_address_and_round_trip() {
    let setup = Setup::new(1, 0);
    let (output, ..): (EchoOutput, _, _) = setup.output(&JobSpec::Echo {
        node: "archive".into(),
        association: AssociationSettings::default(),
    });
    assert_eq!(output.node, "archive");
    assert_eq!(output.address, "ARCHIVE@archive.test:104");
    assert!(output.round_trip_ms >= 0.0);
}

#[test]
fn a_query_lists_matches_and_cascades_one_level_down() {
    let setup = Setup::new(2, 0);
    let (QueryOutput(rows), ctx, _): (QueryOutput, _, _) = setup.output(&JobSpec::Query {
        node: "archive".into(),
        query: QuerySpec {
            level: "study".into(),
            cascade: true,
            ..QuerySpec::default()
        },
        association: AssociationSettings::default(),
    });
    assert_eq!(rows.len(), 1);
    let follow_ups = ctx.take_follow_ups();
    assert_eq!(follow_ups.len(), 1, "one series query per study");
    match &follow_ups[0][0].spec {
        JobSpec::Query { query, .. } => {
            assert_eq!(query.level, "series");
            assert_eq!(query.study_uid.as_deref(), Some(setup.study_uid().as_str()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_retrieval_fetches_the_series_and_queues_its_thumbnail() {
    let setup = Setup::new(4, 0);
    let series = setup.series();
    let spec = retrieve_spec(&setup.study_uid(), Some(&series[0].0), None);
    let (output, ctx, heard): (RetrieveOutput, _, _) = setup.output(&spec);
    let RetrieveOutput::Retrieved(report) = output else {
        panic!("{output:?}")
    };
    assert_eq!(
        (report.expected, report.stored, report.duplicates),
        (4, 4, 0)
    );
    assert_eq!(
        *setup.archive.retrieved.lock().unwrap(),
        vec![RetrieveTarget::series(&setup.study_uid(), &series[0].0)],
        "nothing local: the series is asked for as a whole, without a listing"
    );
    let last = heard.0.lock().unwrap().0.last().unwrap().clone();
    assert_eq!((last.items_done, last.items_total), (4, 4));
    let follow_ups = ctx.take_follow_ups();
    assert!(
        matches!(&follow_ups[..], [chain] if matches!(&chain[0].spec, JobSpec::Thumbnail { series_uid, .. } if *series_uid == series[0].0)),
        "{follow_ups:?}"
    );
}

#[test]
fn a_node_that_counts_nothing_ahead_is_listed_first_so_progress_has_a_total() {
    let setup = Setup::new(4, 0);
    setup
        .archive
        .counts_nothing_ahead
        .store(true, Ordering::SeqCst);
    let series = setup.series();
    let spec = retrieve_spec(&setup.study_uid(), Some(&series[0].0), None);
    let (output, _, heard): (RetrieveOutput, _, _) = setup.output(&spec);
    let RetrieveOutput::Retrieved(report) = output else {
        panic!("{output:?}")
    };
    assert_eq!((report.expected, report.stored), (4, 4));
    // Still one request for the whole series, after the listing.
    assert_eq!(
        *setup.archive.retrieved.lock().unwrap(),
        vec![RetrieveTarget::series(&setup.study_uid(), &series[0].0)]
    );
    let first = heard.0.lock().unwrap().0.first().unwrap().clone();
    assert_eq!(
        (first.items_done, first.items_total),
        (1, 4),
        "the total is known from the first instance on"
    );
}

#[test]
fn a_resumed_retrieval_asks_only_for_what_is_missing() {
    let setup = Setup::new(5, 0);
    let series = setup.series();
    let (_, first) = &series[0];
    setup.store_locally(&[first[0].0.clone(), first[3].0.clone()]);
    let spec = retrieve_spec(&setup.study_uid(), None, None);
    let (output, _, heard): (RetrieveOutput, _, _) = setup.output(&spec);
    let RetrieveOutput::Retrieved(report) = output else {
        panic!("{output:?}")
    };
    assert_eq!(
        (report.expected, report.duplicates, report.stored),
        (10, 2, 8)
    );
    let asked = setup.archive.retrieved.lock().unwrap().clone();
    let missing: Vec<String> = [1, 2, 4].iter().map(|i| first[*i].1.clone()).collect();
    assert_eq!(
        asked,
        vec![
            RetrieveTarget {
                instances: missing,
                ..RetrieveTarget::series(&setup.study_uid(), &series[0].0)
            },
            RetrieveTarget::series(&setup.study_uid(), &series[1].0),
        ],
        "the missing instances of the partial series, the other series whole"
    );
    assert!(heard
        .0
        .lock()
        .unwrap()
        .1
        .contains(&"2 of 10 instance(s) already stored; retrieving the rest".to_string()));
    // Each series counted apart, from what was stored already to its total.
    let heard = heard.0.lock().unwrap();
    let per_series = |p: &Progress| {
        series
            .iter()
            .map(|(uid, _)| p.series.get(uid).map(|s| (s.done, s.total)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        per_series(&heard.0[0]),
        vec![Some((3, 5)), Some((0, 5))],
        "the first instance stored"
    );
    assert_eq!(
        per_series(heard.0.last().unwrap()),
        vec![Some((5, 5)), Some((5, 5))]
    );
}

#[test]
fn a_study_retrieval_counts_each_series_apart() {
    let setup = Setup::new(3, 0);
    let series = setup.series();
    let spec = retrieve_spec(&setup.study_uid(), None, None);
    let (RetrieveOutput::Retrieved(report), _, heard) = setup.output(&spec) else {
        panic!()
    };
    assert_eq!((report.expected, report.stored), (6, 6));
    let heard = heard.0.lock().unwrap();
    let last = heard.0.last().unwrap();
    // Nothing was listed: each series' total is not known here, only what came of it.
    for (uid, _) in &series {
        assert_eq!(
            last.series.get(uid).map(|s| (s.done, s.total)),
            Some((3, 0))
        );
    }
    assert!(
        heard
            .0
            .iter()
            .all(|p| p.series.values().map(|s| s.done).sum::<u64>() == p.items_done),
        "the series' counts add up to the job's at every step"
    );
}

#[test]
fn a_stored_instance_is_not_asked_for_again() {
    let setup = Setup::new(2, 0);
    let series = setup.series();
    let (path, uid) = &series[0].1[1];
    setup.store_locally(std::slice::from_ref(path));
    let spec = retrieve_spec(&setup.study_uid(), Some(&series[0].0), Some(uid));
    let (RetrieveOutput::Retrieved(report), ..) = setup.output(&spec) else {
        panic!()
    };
    assert_eq!(
        (report.expected, report.duplicates, report.stored),
        (1, 1, 0)
    );
    assert!(setup.archive.retrieved.lock().unwrap().is_empty());
}

#[test]
fn a_preview_plans_the_middle_instance_its_thumbnail_then_the_rest() {
    let setup = Setup::new(5, 0);
    let series = setup.series();
    let mut spec = retrieve_spec(&setup.study_uid(), Some(&series[0].0), None);
    if let JobSpec::Retrieve { preview_first, .. } = &mut spec {
        *preview_first = true;
    }
    let (output, ctx, _): (RetrieveOutput, _, _) = setup.output(&spec);
    let middle = {
        // By Instance Number, as the archive lists them.
        let mut numbered: Vec<(i64, String)> = setup
            .archive
            .instances
            .iter()
            .filter(|(_, ds)| ds.text(tag::SERIES_INSTANCE_UID).as_deref() == Some(&series[0].0))
            .map(|(_, ds)| {
                (
                    ds.int(tag::INSTANCE_NUMBER).unwrap(),
                    ds.text(tag::SOP_INSTANCE_UID).unwrap(),
                )
            })
            .collect();
        numbered.sort();
        numbered[2].1.clone()
    };
    assert_eq!(
        output,
        RetrieveOutput::PreviewPlanned {
            middle_instance: middle.clone(),
            instances: 5
        }
    );
    let chains = ctx.take_follow_ups();
    assert_eq!(chains.len(), 1);
    let kinds: Vec<String> = chains[0]
        .iter()
        .map(|j| match &j.spec {
            JobSpec::Retrieve {
                sop_instance_uid, ..
            } => {
                format!("retrieve {}", sop_instance_uid.as_deref().unwrap_or("all"))
            }
            JobSpec::Thumbnail { .. } => "thumbnail".into(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            format!("retrieve {middle}"),
            "thumbnail".into(),
            "retrieve all".into()
        ]
    );
    assert!(
        setup.archive.retrieved.lock().unwrap().is_empty(),
        "planning fetches nothing"
    );
}

#[test]
fn a_timeout_is_a_network_failure_and_a_refusal_a_peer_failure() {
    let setup = Setup::new(1, 0);
    let spec = retrieve_spec(&setup.study_uid(), None, None);
    *setup.archive.fail_next.lock().unwrap() = Some(RemoteError::Dimse(DimseError::Timeout));
    let (outcome, ..) = setup.run(&spec);
    assert_eq!(outcome.unwrap_err().category, FailureCategory::Network);
    *setup.archive.fail_next.lock().unwrap() = Some(RemoteError::Dimse(DimseError::Refused {
        operation: "C-GET",
        status: 0xA702,
        comment: None,
    }));
    let (outcome, ..) = setup.run(&spec);
    let failure = outcome.unwrap_err();
    assert_eq!(failure.category, FailureCategory::Peer);
    assert!(failure.message.contains("0xA702"), "{failure:?}");
}

#[test]
fn a_retrieval_that_breaks_off_is_retried_while_it_brings_something() {
    let setup = Setup::new(3, 0);
    let spec = retrieve_spec(&setup.study_uid(), None, None);
    *setup.archive.breaks_after.lock().unwrap() = Some(2);
    let (outcome, ..) = setup.run(&spec);
    let failure = outcome.unwrap_err();
    assert_eq!(failure.category, FailureCategory::Network, "{failure:?}");
    assert!(failure.message.contains("0xC000"), "{failure:?}");
    // The next attempt brings nothing: the node's failure stands.
    *setup.archive.breaks_after.lock().unwrap() = Some(0);
    let (outcome, ..) = setup.run(&spec);
    assert_eq!(outcome.unwrap_err().category, FailureCategory::Partial);
    // Once the node sends again, what is missing comes.
    *setup.archive.breaks_after.lock().unwrap() = None;
    let (output, ..): (RetrieveOutput, _, _) = setup.output(&spec);
    let RetrieveOutput::Retrieved(report) = output else {
        panic!("{output:?}")
    };
    assert_eq!((report.duplicates, report.stored), (2, 4), "{report:?}");
}

#[test]
fn a_send_with_refused_instances_is_partial_and_reports_each() {
    let setup = Setup::new(3, 1);
    let all: Vec<PathBuf> = setup
        .archive
        .instances
        .iter()
        .map(|i| i.0.clone())
        .collect();
    setup.store_locally(&all);
    let spec = JobSpec::Send {
        node: "archive".into(),
        study_uid: Some(setup.study_uid()),
        series_uid: None,
        paths: Vec::new(),
        association: AssociationSettings::default(),
    };
    let (outcome, _, heard) = setup.run(&spec);
    let failure = outcome.unwrap_err();
    assert_eq!(failure.category, FailureCategory::Partial);
    assert_eq!(failure.message, "1 of 6 instance(s) could not be sent");
    let report: SendOutput = serde_json::from_value(failure.output.unwrap()).unwrap();
    assert_eq!((report.sent, report.failed), (5, 1));
    assert_eq!(setup.archive.sent.lock().unwrap().len(), 5);
    let heard = heard.0.lock().unwrap();
    assert_eq!(heard.0.last().unwrap().items_done, 6);
    assert_eq!(
        heard.1.len(),
        1,
        "one log line for the refused instance: {:?}",
        heard.1
    );
}

#[test]
fn thumbnail_then_delete_of_a_local_series() {
    let setup = Setup::new(3, 0);
    let series = setup.series();
    let files: Vec<PathBuf> = series[0].1.iter().map(|(p, _)| p.clone()).collect();
    setup.store_locally(&files);
    let (thumbnail, ..): (ThumbnailOutput, _, _) = setup.output(&JobSpec::Thumbnail {
        series_uid: series[0].0.clone(),
        size: 64,
    });
    assert!(thumbnail.bytes > 100, "{thumbnail:?}");
    let delete = JobSpec::Delete {
        target: DeleteTarget::Series(series[0].0.clone()),
    };
    let (deleted, ..): (DeleteOutput, _, _) = setup.output(&delete);
    assert_eq!(
        (deleted.series, deleted.instances, deleted.files_deleted),
        (1, 3, 3)
    );
    let (again, ..) = setup.run(&delete);
    assert_eq!(again.unwrap_err().category, FailureCategory::Input);
}

#[test]
fn an_import_reports_what_it_stored_and_skipped() {
    let setup = Setup::new(2, 0);
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(&setup.archive.instances[0].0, folder.path().join("a.dcm")).unwrap();
    std::fs::write(folder.path().join("notes.txt"), b"not DICOM").unwrap();
    let (report, ..): (ImportOutput, _, _) = setup.output(&JobSpec::Import {
        paths: vec![folder.path().to_path_buf()],
        link: false,
    });
    assert_eq!(
        (report.imported, report.duplicates, report.skipped.len()),
        (1, 0, 1)
    );
}
