//! How each kind of job is carried out: the one place where a job specification meets the store,
//! the index, the nodes and the DIMSE verbs. The engine runs it in `lightbox serve`; the CLI runs
//! it in-process when no server is running.

use super::spec::{AssociationSettings, DeleteTarget, QuerySpec};
use super::{FailureCategory, JobContext, JobFailure, JobRecord, JobSpec, NewJob, Priority};
use super::{Progress, Runner};
use crate::dicom::{tag, write::DataSetBuilder, Tag};
use crate::dicomweb::client::{DicomWebClient, DicomWebError};
use crate::dimse::qr::{self, Level};
use crate::dimse::scp;
use crate::dimse::scu::{self, RetrieveProgress, RetrieveReport, RetrieveTarget, ScuOptions};
use crate::import::{self, ImportOptions, ImportProgress};
use crate::index::{DateRange, RemoveTarget};
use crate::nodes::{Node, Nodes, RetrieveMethod};
use crate::store::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The thumbnail size made for new series (the UI's medium tiles).
pub const THUMBNAIL_SIZE: u32 = 128;

/// Where instances sent to us by a C-MOVE arrive.
#[derive(Clone, Debug)]
pub enum MoveListener {
    /// A storage listener runs in this process (`lightbox serve`).
    Running,
    /// Bind a listener at this address for the duration of each C-MOVE (unless one already
    /// listens there).
    Temporary(String),
}

pub struct LocalRunner {
    pub store: Arc<Store>,
    pub nodes: Nodes,
    pub move_listener: MoveListener,
}

type Outcome = Result<Option<Value>, JobFailure>;

/// High-priority thumbnail follow-ups for the series a retrieval brought.
fn queue_thumbnails(ctx: &JobContext, series: impl IntoIterator<Item = String>) {
    for series_uid in series {
        ctx.follow_up(
            NewJob::new(JobSpec::Thumbnail {
                series_uid,
                size: THUMBNAIL_SIZE,
            })
            .priority(Priority::High),
        );
    }
}

fn web_failure(e: DicomWebError) -> JobFailure {
    let category = match &e {
        DicomWebError::Canceled => FailureCategory::Canceled,
        e if e.is_transient() => FailureCategory::Network,
        _ => FailureCategory::Peer,
    };
    JobFailure::new(category, e.to_string())
}

fn input(message: impl Into<String>) -> JobFailure {
    JobFailure::new(FailureCategory::Input, message)
}

fn storage(message: impl std::fmt::Display) -> JobFailure {
    JobFailure::new(FailureCategory::Storage, message.to_string())
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl Runner for LocalRunner {
    fn run(&self, job: &JobRecord, ctx: &JobContext) -> Outcome {
        self.run_spec(&job.spec, ctx)
    }
}

impl LocalRunner {
    pub fn run_spec(&self, spec: &JobSpec, ctx: &JobContext) -> Outcome {
        match spec {
            JobSpec::Import { paths, link } => self.import(paths, *link, ctx),
            JobSpec::Query {
                node,
                query,
                association,
            } => self.query(node, query, association, ctx),
            JobSpec::Retrieve {
                node,
                study_uid,
                series_uid,
                sop_instance_uid,
                preview_first,
                preview_only,
                association,
            } => {
                let target = RetrieveTarget {
                    study_uid: study_uid.clone(),
                    series_uid: series_uid.clone(),
                    sop_instance_uid: sop_instance_uid.clone(),
                };
                match (&target.series_uid, &target.sop_instance_uid) {
                    (Some(series), None) if *preview_first || *preview_only => self.plan_preview(
                        node,
                        &target.study_uid,
                        series,
                        !*preview_only,
                        association,
                        ctx,
                    ),
                    _ => self.retrieve(node, target, association, ctx),
                }
            }
            JobSpec::Send {
                node,
                study_uid,
                series_uid,
                paths,
                association,
            } => self.send(
                node,
                study_uid.as_deref(),
                series_uid.as_deref(),
                paths,
                association,
                ctx,
            ),
            JobSpec::Thumbnail { series_uid, size } => {
                let png =
                    crate::render::thumbnail::series_thumbnail(&self.store, series_uid, *size)
                        .map_err(storage)?;
                Ok(Some(
                    json!({ "series_uid": series_uid, "size": size, "bytes": png.len() }),
                ))
            }
            JobSpec::Echo { node, association } => {
                let node = self.node(node)?;
                let started = Instant::now();
                match self.web(&node, ctx) {
                    Some(client) => {
                        client.echo().map_err(web_failure)?;
                        return Ok(Some(json!({
                            "node": node.name,
                            "address": node.dicomweb.as_ref().map(|w| w.url.clone()),
                            "round_trip_ms": started.elapsed().as_secs_f64() * 1000.0,
                        })));
                    }
                    None => scu::echo(&node.address(), &self.options(&node, association, ctx))?,
                };
                Ok(Some(json!({
                    "node": node.name,
                    "address": node.address().to_string(),
                    "round_trip_ms": started.elapsed().as_secs_f64() * 1000.0,
                })))
            }
            JobSpec::Delete { target } => self.delete(target),
        }
    }

    /// The DICOMweb client of a DICOMweb node (None for a DIMSE node).
    fn web(&self, node: &Node, ctx: &JobContext) -> Option<DicomWebClient> {
        node.dicomweb
            .as_ref()
            .map(|endpoint| DicomWebClient::new(endpoint, node.timeout(), Some(ctx.cancel_flag())))
    }

    /// A node that may be queried and retrieved from.
    fn query_retrieve_node(&self, name: &str) -> Result<Node, JobFailure> {
        let node = self.node(name)?;
        if !node.query_retrieve {
            return Err(input(format!(
                "node {} is not enabled for query/retrieve",
                node.name
            )));
        }
        Ok(node)
    }

    fn node(&self, name: &str) -> Result<Node, JobFailure> {
        self.nodes.resolve(name).map_err(|e| input(e.to_string()))
    }

    fn options(&self, node: &Node, settings: &AssociationSettings, ctx: &JobContext) -> ScuOptions {
        ScuOptions {
            calling_ae_title: settings
                .calling_ae_title
                .clone()
                .unwrap_or_else(|| node.calling_ae_title().to_string()),
            timeout: settings
                .timeout_seconds
                .map(|t| Duration::from_secs(t.max(1)))
                .unwrap_or_else(|| node.timeout()),
            cancel: Some(ctx.cancel_flag()),
        }
    }

    fn import(&self, paths: &[PathBuf], link: bool, ctx: &JobContext) -> Outcome {
        let progress = ImportProgress::default();
        let report = std::thread::scope(|scope| {
            let worker = scope
                .spawn(|| import::import(&self.store, paths, &ImportOptions { link }, &progress));
            while !worker.is_finished() {
                if ctx.is_canceled() {
                    progress.cancel.store(true, Ordering::SeqCst);
                }
                ctx.progress(Progress {
                    items_done: progress.processed.load(Ordering::Relaxed),
                    items_total: progress.discovered.load(Ordering::Relaxed),
                    bytes_done: progress.bytes.load(Ordering::Relaxed),
                    bytes_total: 0,
                });
                std::thread::sleep(Duration::from_millis(50));
            }
            worker.join().expect("the import thread does not panic")
        })
        .map_err(storage)?;
        ctx.progress(Progress {
            items_done: progress.processed.load(Ordering::Relaxed),
            items_total: progress.discovered.load(Ordering::Relaxed),
            bytes_done: progress.bytes.load(Ordering::Relaxed),
            bytes_total: 0,
        });
        if ctx.is_canceled() {
            return Err(JobFailure::canceled().with_output(to_json(&report)));
        }
        Ok(Some(to_json(&report)))
    }

    fn query(
        &self,
        node: &str,
        query: &QuerySpec,
        settings: &AssociationSettings,
        ctx: &JobContext,
    ) -> Outcome {
        let node = self.query_retrieve_node(node)?;
        if let Some(client) = self.web(&node, ctx) {
            let rows = client.search(query).map_err(web_failure)?;
            if query.cascade {
                self.cascade(&node.name, query, settings, &rows, ctx);
            }
            return Ok(Some(Value::Array(
                rows.into_iter().map(Value::Object).collect(),
            )));
        }
        let (model, identifier) = query_identifier(query).map_err(input)?;
        let matches = scu::find(
            &node.address(),
            &self.options(&node, settings, ctx),
            model,
            &identifier,
        )?;
        let rows: Vec<_> = matches.iter().map(qr::match_json).collect();
        if query.cascade {
            self.cascade(&node.name, query, settings, &rows, ctx);
        }
        ctx.progress(Progress {
            items_done: rows.len() as u64,
            items_total: rows.len() as u64,
            ..Progress::default()
        });
        Ok(Some(Value::Array(
            rows.into_iter().map(Value::Object).collect(),
        )))
    }

    /// The next level's queries for each match: a patient's studies, a study's series.
    fn cascade(
        &self,
        node: &str,
        query: &QuerySpec,
        settings: &AssociationSettings,
        rows: &[serde_json::Map<String, Value>],
        ctx: &JobContext,
    ) {
        let text = |row: &serde_json::Map<String, Value>, key: &str| {
            row.get(key).and_then(Value::as_str).map(str::to_string)
        };
        for row in rows {
            let next = match query.level.as_str() {
                "patient" | "PATIENT" => QuerySpec {
                    level: "study".into(),
                    patient_root: query.patient_root,
                    patient_id: text(row, "PatientID"),
                    cascade: true,
                    ..QuerySpec::default()
                },
                "study" | "STUDY" => QuerySpec {
                    level: "series".into(),
                    patient_root: query.patient_root,
                    patient_id: query.patient_root.then(|| text(row, "PatientID")).flatten(),
                    study_uid: text(row, "StudyInstanceUID"),
                    ..QuerySpec::default()
                },
                _ => return,
            };
            if next.patient_id.is_none() && next.study_uid.is_none() {
                continue;
            }
            ctx.follow_up(NewJob::new(JobSpec::Query {
                node: node.to_string(),
                query: next,
                association: settings.clone(),
            }));
        }
    }

    /// Plans a series retrieval that shows something early: the middle instance (by Instance
    /// Number) at high priority, its thumbnail, then (with `whole_series`) the rest.
    fn plan_preview(
        &self,
        node_name: &str,
        study_uid: &str,
        series_uid: &str,
        whole_series: bool,
        settings: &AssociationSettings,
        ctx: &JobContext,
    ) -> Outcome {
        let node = self.node(node_name)?;
        let mut listing = self.instance_listing(&node, study_uid, series_uid, settings, ctx)?;
        if listing.is_empty() {
            return Err(input(format!(
                "series {series_uid} has no instances on {}",
                node.name
            )));
        }
        listing.sort();
        let middle = listing[listing.len() / 2].1.clone();
        let retrieve = |instance: Option<String>| JobSpec::Retrieve {
            node: node_name.to_string(),
            study_uid: study_uid.to_string(),
            series_uid: Some(series_uid.to_string()),
            sop_instance_uid: instance,
            preview_first: false,
            preview_only: false,
            association: settings.clone(),
        };
        let mut chain = vec![
            NewJob::new(retrieve(Some(middle.clone()))).priority(Priority::High),
            NewJob::new(JobSpec::Thumbnail {
                series_uid: series_uid.to_string(),
                size: THUMBNAIL_SIZE,
            })
            .priority(Priority::High),
        ];
        if whole_series {
            chain.push(NewJob::new(retrieve(None)).priority(Priority::Normal));
        }
        ctx.follow_up_chain(chain);
        Ok(Some(
            json!({ "middle_instance": middle, "instances": listing.len() }),
        ))
    }

    /// (Instance Number, SOP Instance UID) of every instance of a remote series; instances
    /// without a number sort last.
    fn instance_listing(
        &self,
        node: &Node,
        study_uid: &str,
        series_uid: &str,
        settings: &AssociationSettings,
        ctx: &JobContext,
    ) -> Result<Vec<(i64, String)>, JobFailure> {
        if let Some(client) = self.web(node, ctx) {
            let rows = client
                .search(&QuerySpec {
                    level: "instance".into(),
                    study_uid: Some(study_uid.into()),
                    series_uid: Some(series_uid.into()),
                    ..QuerySpec::default()
                })
                .map_err(web_failure)?;
            return Ok(rows
                .iter()
                .filter_map(|row| {
                    let uid = row.get("SOPInstanceUID")?.as_str()?.to_string();
                    let number = row.get("InstanceNumber").and_then(|n| {
                        n.as_i64()
                            .or_else(|| n.as_str().and_then(|s| s.trim().parse().ok()))
                    });
                    Some((number.unwrap_or(i64::MAX), uid))
                })
                .collect());
        }
        let mut query = DataSetBuilder::default();
        query
            .text(qr::QUERY_RETRIEVE_LEVEL, "IMAGE")
            .text(tag::STUDY_INSTANCE_UID, study_uid)
            .text(tag::SERIES_INSTANCE_UID, series_uid)
            .text(tag::SOP_INSTANCE_UID, "")
            .text(tag::INSTANCE_NUMBER, "");
        Ok(scu::find(
            &node.address(),
            &self.options(node, settings, ctx),
            scu::QueryModel::StudyRoot,
            &query,
        )?
        .iter()
        .filter_map(|m| {
            let uid = m.first_text(tag::SOP_INSTANCE_UID)?;
            Some((m.int(tag::INSTANCE_NUMBER).unwrap_or(i64::MAX), uid))
        })
        .collect())
    }

    fn delete(&self, target: &DeleteTarget) -> Outcome {
        let target = match target {
            DeleteTarget::Patient(uid) => RemoveTarget::Patient(uid.clone()),
            DeleteTarget::Study(uid) => RemoveTarget::Study(uid.clone()),
            DeleteTarget::Series(uid) => RemoveTarget::Series(uid.clone()),
            DeleteTarget::Instance(uid) => RemoveTarget::Instance(uid.clone()),
        };
        let removed = self.store.index().remove(&target).map_err(storage)?;
        if removed.instances == 0 {
            return Err(input(format!("nothing in the store matches {target:?}")));
        }
        let mut not_deleted = Vec::new();
        for file in removed.files.iter().filter(|f| !f.linked) {
            if let Err(e) = self.store.delete_managed(&file.path) {
                not_deleted.push(format!("{}: {e}", file.path));
            }
        }
        let managed = removed.files.iter().filter(|f| !f.linked).count();
        Ok(Some(json!({
            "patients": removed.patients,
            "studies": removed.studies,
            "series": removed.series,
            "instances": removed.instances,
            "files_deleted": managed - not_deleted.len(),
            "linked_files_kept": removed.files.len() - managed,
            "files_not_deleted": not_deleted,
        })))
    }

    fn send(
        &self,
        node: &str,
        study: Option<&str>,
        series: Option<&str>,
        paths: &[PathBuf],
        settings: &AssociationSettings,
        ctx: &JobContext,
    ) -> Outcome {
        let node = self.node(node)?;
        if !node.send_target {
            return Err(input(format!(
                "node {} is not enabled as a send target",
                node.name
            )));
        }
        let files = self.files_to_send(study, series, paths)?;
        let total_bytes: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        let mut progress = Progress {
            items_total: files.len() as u64,
            bytes_total: total_bytes,
            ..Progress::default()
        };
        ctx.progress(progress);
        if let Some(client) = self.web(&node, ctx) {
            let report = client.store(&files).map_err(web_failure)?;
            ctx.progress(Progress {
                items_done: files.len() as u64,
                bytes_done: total_bytes,
                ..progress
            });
            let output = to_json(&report);
            if report.failed > 0 {
                return Err(JobFailure::new(
                    FailureCategory::Partial,
                    format!(
                        "{} of {} instance(s) were refused",
                        report.failed,
                        files.len()
                    ),
                )
                .with_output(output));
            }
            return Ok(Some(output));
        }
        let options = self.options(&node, settings, ctx);
        let report = scu::send_files_until(&node.address(), &options, &files, &mut |sent| {
            progress.items_done += 1;
            progress.bytes_done += std::fs::metadata(&sent.path).map(|m| m.len()).unwrap_or(0);
            ctx.progress(progress);
            if let Some(error) = &sent.error {
                ctx.log(format!("{}: {error}", sent.path));
            }
            !ctx.is_canceled()
        })?;
        let output = to_json(&report);
        if ctx.is_canceled() && (report.sent + report.failed) < files.len() as u64 {
            return Err(JobFailure::canceled().with_output(output));
        }
        if report.failed > 0 {
            return Err(JobFailure::new(
                FailureCategory::Partial,
                format!(
                    "{} of {} instance(s) could not be sent",
                    report.failed,
                    files.len()
                ),
            )
            .with_output(output));
        }
        Ok(Some(output))
    }

    fn files_to_send(
        &self,
        study: Option<&str>,
        series: Option<&str>,
        paths: &[PathBuf],
    ) -> Result<Vec<PathBuf>, JobFailure> {
        let index = self.store.index();
        let series_uids: Vec<String> = match (study, series) {
            (Some(study), _) => index
                .series_of_study(study)
                .map_err(storage)?
                .into_iter()
                .map(|s| s.series_uid)
                .collect(),
            (_, Some(series)) => vec![series.to_string()],
            _ => Vec::new(),
        };
        let mut files = Vec::new();
        for uid in &series_uids {
            files.extend(
                index
                    .instances_of_series(uid)
                    .map_err(storage)?
                    .into_iter()
                    .map(|i| self.store.resolve(&i.file_path)),
            );
        }
        if study.is_some() || series.is_some() {
            if files.is_empty() {
                return Err(input(format!(
                    "nothing in the store for {}",
                    study.or(series).unwrap_or_default()
                )));
            }
            return Ok(files);
        }
        for path in paths {
            if path.is_dir() {
                files.extend(
                    walkdir::WalkDir::new(path)
                        .into_iter()
                        .flatten()
                        .filter(|e| e.file_type().is_file())
                        .map(|e| e.into_path()),
                );
            } else if path.is_file() {
                files.push(path.clone());
            } else {
                return Err(input(format!("{}: no such file or folder", path.display())));
            }
        }
        if files.is_empty() {
            return Err(input("nothing to send: give paths, a study or a series"));
        }
        Ok(files)
    }

    /// A retrieval through the node's method. What is already stored is not fetched again: when
    /// part of the target is here (an interrupted retrieval resuming), the remote instances are
    /// listed and only the missing ones are asked for.
    fn retrieve(
        &self,
        node: &str,
        target: RetrieveTarget,
        settings: &AssociationSettings,
        ctx: &JobContext,
    ) -> Outcome {
        let node = self.query_retrieve_node(node)?;
        if let Some(client) = self.web(&node, ctx) {
            return self.retrieve_web(&client, &target, ctx);
        }
        let options = self.options(&node, settings, ctx);
        let mut total = RetrieveReport::default();
        let plan = self.missing_parts(&node, &options, &target)?;
        let requests = match plan {
            Missing::Everything => vec![target.clone()],
            Missing::Parts {
                requests,
                listed,
                present,
            } => {
                total.expected = listed;
                total.duplicates = present;
                if requests.is_empty() {
                    ctx.log(format!("all {listed} instance(s) are already stored"));
                } else {
                    ctx.log(format!(
                        "{present} of {listed} instance(s) already stored; retrieving the rest"
                    ));
                }
                requests
            }
        };
        let base_done = total.duplicates;
        // Bytes received so far (C-GET tells; a C-MOVE's instances arrive at the listener).
        let mut bytes_received = 0u64;
        let mut last_bytes;
        let mut new_series = std::collections::BTreeSet::new();
        for request in &requests {
            if ctx.is_canceled() {
                break;
            }
            let expected_before = total.expected;
            let done_before = base_done + total.stored + total.failed;
            let bytes_before = bytes_received;
            last_bytes = 0;
            let mut on_instance = |p: &RetrieveProgress| {
                ctx.progress(Progress {
                    items_done: done_before + p.done,
                    items_total: expected_before.max(done_before + p.expected),
                    bytes_done: bytes_before + p.bytes,
                    bytes_total: 0,
                });
                last_bytes = p.bytes;
            };
            let report = self.retrieve_once(&node, &options, request, &mut on_instance)?;
            bytes_received += last_bytes;
            if requests.len() == 1 && total.expected == 0 {
                total.expected = report.expected;
            }
            total.stored += report.stored;
            total.duplicates += report.duplicates;
            total.failed += report.failed;
            total.warnings += report.warnings;
            total.status = report.status;
            total.errors.extend(report.errors);
            if report.stored > 0 {
                new_series.extend(self.series_of(request));
            }
        }
        ctx.progress(Progress {
            items_done: total.stored + total.duplicates,
            items_total: total.expected.max(total.stored + total.duplicates),
            bytes_done: bytes_received,
            bytes_total: 0,
        });
        queue_thumbnails(ctx, new_series);
        let output = to_json(&total);
        if ctx.is_canceled() {
            return Err(JobFailure::canceled().with_output(output));
        }
        if total.failed > 0 || !total.errors.is_empty() {
            let mut message = format!(
                "{} instance(s) failed; {} stored",
                total.failed + total.errors.len() as u64,
                total.stored
            );
            if let Some(first) = total.errors.first() {
                message = format!("{first} ({message})");
            }
            return Err(JobFailure::new(FailureCategory::Partial, message).with_output(output));
        }
        Ok(Some(output))
    }

    /// The local series a retrieval target covers: its series, or every series of its study.
    fn series_of(&self, target: &RetrieveTarget) -> Vec<String> {
        match &target.series_uid {
            Some(series) => vec![series.clone()],
            None => self
                .store
                .index()
                .series_of_study(&target.study_uid)
                .map(|all| all.into_iter().map(|s| s.series_uid).collect())
                .unwrap_or_default(),
        }
    }

    /// Whether any of the target (a study, a series or an instance) is stored already.
    fn anything_local(&self, target: &RetrieveTarget) -> Result<bool, JobFailure> {
        let index = self.store.index();
        Ok(match (&target.series_uid, &target.sop_instance_uid) {
            (_, Some(uid)) => index.instance(uid).map_err(storage)?.is_some(),
            (Some(series), None) => index.series(series).map_err(storage)?.is_some(),
            (None, None) => index.study(&target.study_uid).map_err(storage)?.is_some(),
        })
    }

    /// WADO-RS into the store. When some of the target is stored already (a preview instance, an
    /// interrupted retrieval), QIDO-RS lists the instances and only the missing ones are fetched:
    /// whole series where none is stored, single instances otherwise.
    fn retrieve_web(
        &self,
        client: &DicomWebClient,
        target: &RetrieveTarget,
        ctx: &JobContext,
    ) -> Outcome {
        let index = self.store.index();
        let anything_local = self.anything_local(target)?;
        let mut total = RetrieveReport::default();
        let requests: Vec<(Option<String>, Option<String>)> = if !anything_local {
            vec![(target.series_uid.clone(), target.sop_instance_uid.clone())]
        } else if target.sop_instance_uid.is_some() {
            total.expected = 1;
            total.duplicates = 1;
            Vec::new()
        } else {
            let rows = client
                .search(&QuerySpec {
                    level: "instance".into(),
                    study_uid: Some(target.study_uid.clone()),
                    series_uid: target.series_uid.clone(),
                    ..QuerySpec::default()
                })
                .map_err(web_failure)?;
            let text = |row: &serde_json::Map<String, Value>, key: &str| {
                row.get(key).and_then(Value::as_str).map(str::to_string)
            };
            let mut by_series: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
            for row in &rows {
                let (Some(series), Some(sop)) = (
                    text(row, "SeriesInstanceUID").or(target.series_uid.clone()),
                    text(row, "SOPInstanceUID"),
                ) else {
                    continue;
                };
                let entry = by_series.entry(series).or_default();
                if index.instance_path(&sop).map_err(storage)?.is_some() {
                    entry.0 += 1;
                } else {
                    entry.1.push(sop);
                }
            }
            total.expected = rows.len() as u64;
            total.duplicates = by_series.values().map(|(present, _)| present).sum();
            ctx.log(format!(
                "{} of {} instance(s) already stored; retrieving the rest",
                total.duplicates, total.expected
            ));
            by_series
                .into_iter()
                .flat_map(|(series, (present, missing))| {
                    if present == 0 {
                        vec![(Some(series), None)]
                    } else {
                        missing
                            .into_iter()
                            .map(|sop| (Some(series.clone()), Some(sop)))
                            .collect()
                    }
                })
                .collect()
        };
        let mut bytes_before = 0u64;
        for (series, instance) in &requests {
            if ctx.is_canceled() {
                return Err(JobFailure::canceled().with_output(to_json(&total)));
            }
            let done_before = total.duplicates + total.stored + total.failed;
            let expected = total.expected;
            let mut bytes_now = 0u64;
            let mut on_instance = |done: u64, bytes: u64| {
                bytes_now = bytes;
                ctx.progress(Progress {
                    items_done: done_before + done,
                    items_total: expected.max(done_before + done),
                    bytes_done: bytes_before + bytes,
                    bytes_total: 0,
                })
            };
            let report = client
                .retrieve(
                    &target.study_uid,
                    series.as_deref(),
                    instance.as_deref(),
                    &self.store,
                    &mut on_instance,
                )
                .map_err(web_failure)?;
            bytes_before += bytes_now;
            total.stored += report.stored;
            total.duplicates += report.duplicates;
            total.failed += report.failed;
            total.errors.extend(report.errors);
        }
        total.expected = total
            .expected
            .max(total.stored + total.duplicates + total.failed);
        if total.stored > 0 {
            queue_thumbnails(ctx, self.series_of(target));
        }
        let output = to_json(&total);
        if total.failed > 0 {
            return Err(JobFailure::new(
                FailureCategory::Partial,
                format!("{} instance(s) could not be stored", total.failed),
            )
            .with_output(output));
        }
        Ok(Some(output))
    }

    fn retrieve_once(
        &self,
        node: &Node,
        options: &ScuOptions,
        target: &RetrieveTarget,
        on_instance: &mut dyn FnMut(&RetrieveProgress),
    ) -> Result<RetrieveReport, JobFailure> {
        match node.retrieve_method {
            RetrieveMethod::CGet => Ok(scu::get(
                &node.address(),
                options,
                target,
                &self.store,
                on_instance,
            )?),
            RetrieveMethod::CMove => {
                let destination = node
                    .move_destination
                    .clone()
                    .unwrap_or_else(|| options.calling_ae_title.clone());
                let temporary = match &self.move_listener {
                    MoveListener::Running => None,
                    MoveListener::Temporary(address) => {
                        self.temporary_listener(address, &destination)?
                    }
                };
                let report =
                    scu::move_to(&node.address(), options, target, &destination, on_instance);
                if let Some((shutdown, thread)) = temporary {
                    shutdown.store(true, Ordering::SeqCst);
                    let _ = thread.join();
                }
                Ok(report?)
            }
        }
    }

    /// Our own listener for the duration of one C-MOVE; none when another process (a running
    /// `lightbox serve`) holds the address already.
    #[allow(clippy::type_complexity)]
    fn temporary_listener(
        &self,
        address: &str,
        ae_title: &str,
    ) -> Result<
        Option<(
            Arc<AtomicBool>,
            std::thread::JoinHandle<std::io::Result<()>>,
        )>,
        JobFailure,
    > {
        let config = scp::ScpConfig {
            ae_title: ae_title.to_string(),
            ..scp::ScpConfig::default()
        };
        match scp::StorageScp::bind(address, self.store.clone(), config) {
            Ok(listener) => {
                let shutdown = Arc::new(AtomicBool::new(false));
                let flag = shutdown.clone();
                Ok(Some((
                    shutdown,
                    std::thread::spawn(move || listener.serve(flag)),
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(None),
            Err(e) => Err(storage(format!(
                "listening on {address} for the C-MOVE: {e}"
            ))),
        }
    }

    /// What of `target` is missing locally. Nothing local: everything (no listing needed).
    fn missing_parts(
        &self,
        node: &Node,
        options: &ScuOptions,
        target: &RetrieveTarget,
    ) -> Result<Missing, JobFailure> {
        let index = self.store.index();
        let anything_local = self.anything_local(target)?;
        if !anything_local {
            return Ok(Missing::Everything);
        }
        let mut query = DataSetBuilder::default();
        query
            .text(qr::QUERY_RETRIEVE_LEVEL, "IMAGE")
            .text(tag::STUDY_INSTANCE_UID, &target.study_uid)
            .text(
                tag::SERIES_INSTANCE_UID,
                target.series_uid.as_deref().unwrap_or(""),
            )
            .text(
                tag::SOP_INSTANCE_UID,
                target.sop_instance_uid.as_deref().unwrap_or(""),
            );
        let listing = scu::find(&node.address(), options, scu::QueryModel::StudyRoot, &query)?;
        let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut present = 0;
        for found in &listing {
            let (Some(series), Some(sop)) = (
                found.first_text(tag::SERIES_INSTANCE_UID),
                found.first_text(tag::SOP_INSTANCE_UID),
            ) else {
                continue;
            };
            if index.instance_path(&sop).map_err(storage)?.is_some() {
                present += 1;
            } else {
                missing.entry(series).or_default().push(sop);
            }
        }
        // Instance UID lists, a few hundred per request (list matching on the unique key).
        let mut requests = Vec::new();
        for (series, uids) in missing {
            for chunk in uids.chunks(200) {
                requests.push(RetrieveTarget {
                    study_uid: target.study_uid.clone(),
                    series_uid: Some(series.clone()),
                    sop_instance_uid: Some(chunk.join("\\")),
                });
            }
        }
        Ok(Missing::Parts {
            requests,
            listed: listing.len() as u64,
            present,
        })
    }
}

enum Missing {
    Everything,
    Parts {
        requests: Vec<RetrieveTarget>,
        listed: u64,
        present: u64,
    },
}

/// The C-FIND identifier of a query: the level, the default return keys of that level, and the
/// filters as matching keys. The study root has no patient level, so that level uses the
/// patient root.
pub fn query_identifier(query: &QuerySpec) -> Result<(scu::QueryModel, DataSetBuilder), String> {
    let level = Level::parse(&query.level).ok_or_else(|| {
        format!(
            "level {:?}: expected patient, study, series or instance",
            query.level
        )
    })?;
    if let Some(date) = &query.study_date {
        DateRange::parse(date).map_err(|e| e.to_string())?;
    }
    let mut identifier = DataSetBuilder::default();
    identifier.text(qr::QUERY_RETRIEVE_LEVEL, level.as_str());
    for key in qr::default_return_keys(level) {
        identifier.text(*key, "");
    }
    let modality_key = if level == Level::Study {
        Tag(0x0008, 0x0061)
    } else {
        tag::MODALITY
    };
    let modalities: Vec<String> = query
        .modalities
        .iter()
        .flat_map(|m| m.split(','))
        .map(|m| m.trim().to_uppercase())
        .filter(|m| !m.is_empty())
        .collect();
    let keys = [
        (tag::PATIENT_NAME, query.patient_name.clone()),
        (tag::PATIENT_ID, query.patient_id.clone()),
        (tag::STUDY_DATE, query.study_date.clone()),
        (tag::STUDY_DESCRIPTION, query.study_description.clone()),
        (tag::ACCESSION_NUMBER, query.accession_number.clone()),
        (
            modality_key,
            (!modalities.is_empty()).then(|| modalities.join("\\")),
        ),
        (tag::STUDY_INSTANCE_UID, query.study_uid.clone()),
        (tag::SERIES_INSTANCE_UID, query.series_uid.clone()),
    ];
    for (key, value) in keys {
        if let Some(value) = value {
            identifier.text(key, &value);
        }
    }
    let model = if query.patient_root || level == Level::Patient {
        scu::QueryModel::PatientRoot
    } else {
        scu::QueryModel::StudyRoot
    };
    Ok((model, identifier))
}
