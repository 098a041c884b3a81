//! `retrieve`: a study, a series or an instance from a node into the store, the same way for
//! DIMSE and DICOMweb nodes. What is stored already is not fetched again: when part of the
//! target is here (a preview instance, an interrupted retrieval resuming), the node lists the
//! instances and only the missing ones are asked for — whole series where none is stored.
//! A series can also be planned to show something early: its middle instance first, then its
//! thumbnail, then (unless only the preview was asked for) the rest.

use super::thumbnail::THUMBNAIL_SIZE;
use crate::index::RemoveTarget;
use crate::jobs::runner::{control, input, storage, to_json, LocalRunner};
use crate::jobs::spec::AssociationSettings;
use crate::jobs::{
    FailureCategory, JobContext, JobFailure, JobSpec, NewJob, Priority, Progress, SeriesProgress,
};
use crate::nodes::Node;
use lightbox_net::query::{match_int, match_text, QuerySpec};
use lightbox_net::remote::{Event, RemoteNode};
use lightbox_net::report::{RetrieveReport, RetrieveTarget};
use lightbox_net::sink::{Accepted, InstanceSink, Origin, Refused};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// What a retrieval job did: instances retrieved, or the preview chain it planned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RetrieveOutput {
    Retrieved(RetrieveReport),
    PreviewPlanned {
        /// The middle instance (by Instance Number), fetched first.
        middle_instance: String,
        /// The instances of the series on the node.
        instances: u64,
    },
}

/// A retrieval job's specification, borrowed.
pub(crate) struct Request<'a> {
    pub node: &'a str,
    pub study_uid: &'a str,
    pub series_uid: Option<&'a str>,
    pub sop_instance_uid: Option<&'a str>,
    pub preview_first: bool,
    pub preview_only: bool,
    pub association: &'a AssociationSettings,
}

pub(crate) fn run(
    runner: &LocalRunner,
    request: &Request,
    ctx: &JobContext,
) -> Result<RetrieveOutput, JobFailure> {
    let node = runner.query_retrieve_node(request.node)?;
    let remote = runner.remote(&node, request.association)?;
    match (request.series_uid, request.sop_instance_uid) {
        (Some(series), None) if request.preview_first || request.preview_only => {
            plan_preview(&node, remote.as_ref(), request, series, ctx)
        }
        (series, instance) => {
            let target = RetrieveTarget {
                study_uid: request.study_uid.to_string(),
                series_uid: series.map(str::to_string),
                instances: instance.map(str::to_string).into_iter().collect(),
            };
            let as_preview = instance.is_some() && request.preview_only;
            if !as_preview {
                // What was fetched as a preview is part of what is wanted now.
                let kept = runner
                    .store
                    .index()
                    .keep_previews(&scope_of(&target))
                    .map_err(storage)?;
                if kept > 0 {
                    ctx.log(format!("{kept} preview instance(s) kept as part of it"));
                }
            }
            let report = retrieve(runner, remote.as_ref(), &target, ctx)?;
            if let (true, Some(sop)) = (as_preview && report.stored > 0, instance) {
                runner.store.index().mark_preview(sop).map_err(storage)?;
            }
            Ok(RetrieveOutput::Retrieved(report))
        }
    }
}

/// Plans a series retrieval that shows something early: the middle instance (by Instance
/// Number) at high priority, its thumbnail, then (unless preview only) the rest.
fn plan_preview(
    node: &Node,
    remote: &dyn RemoteNode,
    request: &Request,
    series_uid: &str,
    ctx: &JobContext,
) -> Result<RetrieveOutput, JobFailure> {
    let rows = remote.find(
        &QuerySpec::instances_of(request.study_uid, Some(series_uid)),
        &mut control(ctx, |_| {}),
    )?;
    // (Instance Number, SOP Instance UID); instances without a number sort last.
    let mut listing: Vec<(i64, String)> = rows
        .iter()
        .filter_map(|row| {
            let uid = match_text(row, "SOPInstanceUID")?;
            Some((match_int(row, "InstanceNumber").unwrap_or(i64::MAX), uid))
        })
        .collect();
    if listing.is_empty() {
        return Err(input(format!(
            "series {series_uid} has no instances on {}",
            node.name
        )));
    }
    listing.sort();
    let middle = listing[listing.len() / 2].1.clone();
    // The middle instance is stored as a preview: it does not make the study local until the
    // series is retrieved.
    let retrieve = |instance: Option<String>| JobSpec::Retrieve {
        node: request.node.to_string(),
        study_uid: request.study_uid.to_string(),
        series_uid: Some(series_uid.to_string()),
        preview_only: instance.is_some(),
        sop_instance_uid: instance,
        preview_first: false,
        association: request.association.clone(),
    };
    let mut chain = vec![
        NewJob::new(retrieve(Some(middle.clone()))).priority(Priority::High),
        NewJob::new(JobSpec::Thumbnail {
            series_uid: series_uid.to_string(),
            size: THUMBNAIL_SIZE,
        })
        .priority(Priority::High),
    ];
    if !request.preview_only {
        chain.push(NewJob::new(retrieve(None)).priority(Priority::Normal));
    }
    ctx.follow_up_chain(chain);
    Ok(RetrieveOutput::PreviewPlanned {
        middle_instance: middle,
        instances: listing.len() as u64,
    })
}

/// What a retrieval asks the node for, and what it found stored already.
struct Plan {
    requests: Vec<RetrieveTarget>,
    /// Instances the node listed (0 when it was not asked).
    listed: u64,
    present: u64,
    /// Per series of a study, what the listing found stored already of how many.
    series: BTreeMap<String, SeriesProgress>,
}

/// Retrieves the target, or only what of it is missing, and queues thumbnails for the series
/// it brought.
fn retrieve(
    runner: &LocalRunner,
    remote: &dyn RemoteNode,
    target: &RetrieveTarget,
    ctx: &JobContext,
) -> Result<RetrieveReport, JobFailure> {
    let plan = plan(runner, remote, target, ctx)?;
    let local_before = local_instances(runner, target);
    let mut total = RetrieveReport {
        expected: plan.listed,
        duplicates: plan.present,
        ..RetrieveReport::default()
    };
    // A study's series are counted apart, for each of their tiles.
    let per_series = target.series_uid.is_none();
    let counter = Arc::new(SeriesCounter {
        store: runner.store.clone(),
        counts: Mutex::new(plan.series.clone()),
    });
    let sink: Arc<dyn InstanceSink> = counter.clone();
    let series_progress = || {
        if per_series {
            counter.snapshot()
        } else {
            BTreeMap::new()
        }
    };
    let mut bytes_received = 0u64;
    let mut new_series = BTreeSet::new();
    for request in &plan.requests {
        if ctx.is_canceled() {
            break;
        }
        let done_before = total.stored + total.duplicates + total.failed;
        let (expected_before, bytes_before) = (total.expected, bytes_received);
        let mut last_bytes = 0;
        let report = remote.retrieve(
            request,
            &sink,
            &mut control(ctx, |event| {
                if let Event::Progress(p) = event {
                    last_bytes = p.bytes;
                    ctx.progress(Progress {
                        items_done: done_before + p.done,
                        items_total: expected_before.max(done_before + p.expected),
                        bytes_done: bytes_before + p.bytes,
                        bytes_total: 0,
                        series: series_progress(),
                    });
                }
            }),
        );
        let report = match report {
            Err(e) if e.is_canceled() => break,
            other => other?,
        };
        bytes_received += last_bytes;
        if plan.listed == 0 {
            total.expected += report.expected;
        }
        if report.stored > 0 {
            new_series.extend(series_of(runner, request));
        }
        total.absorb(report);
    }
    total.expected = total
        .expected
        .max(total.stored + total.duplicates + total.failed);
    ctx.progress(Progress {
        items_done: total.stored + total.duplicates,
        items_total: total.expected,
        bytes_done: bytes_received,
        bytes_total: 0,
        series: series_progress(),
    });
    for series_uid in new_series {
        ctx.follow_up(
            NewJob::new(JobSpec::Thumbnail {
                series_uid,
                size: THUMBNAIL_SIZE,
            })
            .priority(Priority::High),
        );
    }
    let output = to_json(&total);
    if ctx.is_canceled() {
        return Err(JobFailure::canceled().with_output(output));
    }
    if total.failed > 0 || !total.errors.is_empty() {
        let mut message = format!(
            "{} instance(s) failed; {} stored",
            total.failed.max(total.errors.len() as u64),
            total.stored
        );
        if let Some(first) = total.errors.first() {
            message = format!("{first} ({message})");
        }
        // A transfer that stopped partway (a C-MOVE whose destination link broke answers only
        // "failed") is worth another attempt while attempts bring something: the next one asks
        // for what is still missing. One that brought nothing is the node's final word.
        let category = if local_instances(runner, target) > local_before {
            FailureCategory::Network
        } else {
            FailureCategory::Partial
        };
        return Err(JobFailure::new(category, message).with_output(output));
    }
    Ok(total)
}

/// What to ask for. Nothing stored: the target as it is (no listing needed). A stored
/// instance: nothing. Part of a study or series stored: the node's listing says what is
/// missing, asked for by series.
fn plan(
    runner: &LocalRunner,
    remote: &dyn RemoteNode,
    target: &RetrieveTarget,
    ctx: &JobContext,
) -> Result<Plan, JobFailure> {
    let index = runner.store.index();
    let anything_local = match (&target.series_uid, target.instances.first()) {
        (_, Some(uid)) => index.instance(uid).map_err(storage)?.is_some(),
        (Some(series), None) => index.series(series).map_err(storage)?.is_some(),
        (None, None) => index.study(&target.study_uid).map_err(storage)?.is_some(),
    };
    // Nothing here: the whole target is asked for, without a listing, unless the node's answer
    // would not say how much of a study or series is coming (named instances are counted).
    if !anything_local && (remote.counts_ahead() || !target.instances.is_empty()) {
        return Ok(Plan {
            requests: vec![target.clone()],
            listed: 0,
            present: 0,
            series: BTreeMap::new(),
        });
    }
    if !target.instances.is_empty() {
        ctx.log("the instance is already stored");
        return Ok(Plan {
            requests: Vec::new(),
            listed: 1,
            present: 1,
            series: BTreeMap::new(),
        });
    }
    let rows = remote.find(
        &QuerySpec::instances_of(&target.study_uid, target.series_uid.as_deref()),
        &mut control(ctx, |_| {}),
    )?;
    let mut by_series: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    for row in &rows {
        let (Some(series), Some(sop)) = (
            match_text(row, "SeriesInstanceUID").or(target.series_uid.clone()),
            match_text(row, "SOPInstanceUID"),
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
    let listed = rows.len() as u64;
    let present: u64 = by_series.values().map(|(present, _)| present).sum();
    if present == listed {
        ctx.log(format!("all {listed} instance(s) are already stored"));
    } else {
        ctx.log(format!(
            "{present} of {listed} instance(s) already stored; retrieving the rest"
        ));
    }
    let series = by_series
        .iter()
        .map(|(uid, (present, missing))| {
            let progress = SeriesProgress {
                done: *present,
                total: present + missing.len() as u64,
            };
            (uid.clone(), progress)
        })
        .collect();
    let requests = by_series
        .into_iter()
        .filter(|(_, (_, missing))| !missing.is_empty())
        .map(|(series, (present, missing))| RetrieveTarget {
            study_uid: target.study_uid.clone(),
            series_uid: Some(series),
            instances: if present == 0 { Vec::new() } else { missing },
        })
        .collect();
    Ok(Plan {
        requests,
        listed,
        present,
        series,
    })
}

/// The store, counting what it takes per series.
struct SeriesCounter {
    store: Arc<crate::store::Store>,
    counts: Mutex<BTreeMap<String, SeriesProgress>>,
}

impl SeriesCounter {
    fn snapshot(&self) -> BTreeMap<String, SeriesProgress> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl InstanceSink for SeriesCounter {
    fn scratch_dir(&self) -> PathBuf {
        InstanceSink::scratch_dir(&*self.store)
    }

    fn ingest(&self, file: tempfile::NamedTempFile, origin: &Origin) -> Result<Accepted, Refused> {
        let accepted = InstanceSink::ingest(&*self.store, file, origin)?;
        // What was stored already is counted by the plan.
        if let (Some(series), false) = (&accepted.series_uid, accepted.duplicate) {
            let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = counts.entry(series.clone()).or_default();
            entry.done += 1;
            if entry.total > 0 {
                entry.total = entry.total.max(entry.done);
            }
        }
        Ok(accepted)
    }

    fn flush(&self) {
        InstanceSink::flush(&*self.store)
    }

    fn acknowledged(&self, accepted: &Accepted) {
        InstanceSink::acknowledged(&*self.store, accepted)
    }
}

/// How many instances of the target the store holds (previews included: they count as
/// fetched).
fn local_instances(runner: &LocalRunner, target: &RetrieveTarget) -> i64 {
    let index = runner.store.index();
    if !target.instances.is_empty() {
        return target
            .instances
            .iter()
            .filter(|uid| matches!(index.instance(uid), Ok(Some(_))))
            .count() as i64;
    }
    match &target.series_uid {
        Some(series) => index
            .series(series)
            .ok()
            .flatten()
            .map_or(0, |s| s.instance_count + s.preview_count),
        None => index
            .study(&target.study_uid)
            .ok()
            .flatten()
            .map_or(0, |s| s.instance_count + s.preview_count),
    }
}

/// What of the index a retrieval target covers.
fn scope_of(target: &RetrieveTarget) -> RemoveTarget {
    match (target.instances.first(), &target.series_uid) {
        (Some(sop), _) => RemoveTarget::Instance(sop.clone()),
        (None, Some(series)) => RemoveTarget::Series(series.clone()),
        (None, None) => RemoveTarget::Study(target.study_uid.clone()),
    }
}

/// The local series a retrieval request covers: its series, or every series of its study.
fn series_of(runner: &LocalRunner, target: &RetrieveTarget) -> Vec<String> {
    match &target.series_uid {
        Some(series) => vec![series.clone()],
        None => runner
            .store
            .index()
            .series_of_study(&target.study_uid)
            .map(|all| all.into_iter().map(|s| s.series_uid).collect())
            .unwrap_or_default(),
    }
}
