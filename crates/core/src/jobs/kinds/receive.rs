//! `receive`: one association a peer opened to the storage listener, recorded while it lasts
//! (the engine never runs it). It is opened with the association's first instance, so echoes
//! and queries leave no record, and it ends when the association does, with what arrived.

use crate::jobs::engine::Activity;
use crate::jobs::runner::to_json;
use crate::jobs::{Engine, FailureCategory, JobFailure, JobId, JobSpec, NewJob, Progress, Subject};
use crate::store::Store;
use lightbox_net::dimse::observer::{AssociationEnd, AssociationWatch, InstanceOutcome, Peer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Refused instances listed one by one in a report; beyond, they are only counted.
pub const LISTED_REFUSALS: usize = 100;

/// What an association brought.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveOutput {
    pub calling_ae_title: String,
    pub called_ae_title: String,
    /// The peer's IP address.
    pub peer: String,
    /// The known node with that AE title, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub stored: u64,
    pub duplicates: u64,
    pub refused: u64,
    /// Data set bytes received.
    pub bytes: u64,
    /// Each series that received instances, in the order they first arrived.
    pub series: Vec<ReceivedSeries>,
    /// The first refused instances, with the reason each was refused.
    pub refusals: Vec<Refusal>,
    /// "released", "aborted by the peer", or how it broke off.
    pub ended: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedSeries {
    pub series_uid: String,
    /// Instances of it received (stored or duplicates).
    pub instances: u64,
    /// Its number and description, and its patient and study, in words (from the index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub sop_instance_uid: String,
    pub reason: String,
}

/// An instance newly stored by an association: its series, the activity its follow-ups belong
/// to, and who sent it.
#[derive(Clone, Debug)]
pub struct NewInstance {
    pub series_uid: String,
    pub activity: JobId,
    pub calling_ae_title: String,
    pub node: Option<String>,
}

/// Hears of each newly stored instance (thumbnails and routing follow from it).
pub type OnNewInstance = Arc<dyn Fn(NewInstance) + Send + Sync>;

/// The record keeper of one association.
pub struct Reception {
    engine: Arc<Engine>,
    store: Arc<Store>,
    /// The job this association serves, when it brings what one of our C-MOVEs asked for.
    parent: Option<JobId>,
    on_new_instance: OnNewInstance,
    started_at: i64,
    activity: Option<Activity>,
    /// The record could not be opened: the association goes on without one.
    unrecorded: bool,
    report: ReceiveOutput,
    /// Series UID → its place in `report.series`.
    series_index: BTreeMap<String, usize>,
}

impl Reception {
    pub fn new(
        engine: Arc<Engine>,
        store: Arc<Store>,
        peer: &Peer,
        node: Option<String>,
        parent: Option<JobId>,
        on_new_instance: OnNewInstance,
    ) -> Reception {
        Reception {
            engine,
            store,
            parent,
            on_new_instance,
            started_at: crate::jobs::now_millis(),
            activity: None,
            unrecorded: false,
            report: ReceiveOutput {
                calling_ae_title: peer.calling_ae_title.clone(),
                called_ae_title: peer.called_ae_title.clone(),
                peer: peer.address.ip().to_string(),
                node,
                ..ReceiveOutput::default()
            },
            series_index: BTreeMap::new(),
        }
    }

    fn spec(&self) -> JobSpec {
        JobSpec::Receive {
            calling_ae_title: self.report.calling_ae_title.clone(),
            peer: self.report.peer.clone(),
            node: self.report.node.clone(),
            started_at: self.started_at,
        }
    }

    /// The record, opened with the first instance.
    fn activity(&mut self) -> Option<&Activity> {
        if self.activity.is_none() && !self.unrecorded {
            let mut job = NewJob::new(self.spec());
            job.parent = self.parent;
            match self.engine.open_activity(job) {
                Ok(activity) => self.activity = Some(activity),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record an incoming association");
                    self.unrecorded = true;
                }
            }
        }
        self.activity.as_ref()
    }

    fn count_series(&mut self, series_uid: &str) {
        let place = *self
            .series_index
            .entry(series_uid.to_string())
            .or_insert_with(|| {
                self.report.series.push(ReceivedSeries {
                    series_uid: series_uid.to_string(),
                    ..ReceivedSeries::default()
                });
                self.report.series.len() - 1
            });
        self.report.series[place].instances += 1;
    }

    /// Names each series, and the whole in a title: "received 1,000 instances of Doe, Jane
    /// (2019-07-16 CT chest) from CT01 at 10.0.0.7".
    fn describe(&mut self) -> String {
        let index = self.store.index().clone();
        let mut studies = Vec::new();
        for series in &mut self.report.series {
            let subject = Subject::of(index.as_ref(), None, Some(&series.series_uid));
            series.series = subject.series_words();
            series.study = subject.patient_and_study();
            if !studies.contains(&series.study) {
                studies.push(series.study.clone());
            }
        }
        let received = self.report.stored + self.report.duplicates;
        let what = match studies.as_slice() {
            [Some(study)] => format!(" of {study}"),
            [_] | [] => String::new(),
            many => format!(" of {} studies", many.len()),
        };
        format!(
            "received {}{what} from {} at {}",
            instances(received),
            self.report.calling_ae_title,
            self.report.peer
        )
    }
}

/// "1 instance", "1,000 instances".
fn instances(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped} instance{}", if n == 1 { "" } else { "s" })
}

impl AssociationWatch for Reception {
    fn instance(&mut self, sop_instance_uid: &str, outcome: InstanceOutcome<'_>, bytes: u64) {
        let Some(id) = self.activity().map(Activity::id) else {
            return;
        };
        self.report.bytes += bytes;
        match outcome {
            InstanceOutcome::Accepted(accepted) => {
                if accepted.duplicate {
                    self.report.duplicates += 1;
                } else {
                    self.report.stored += 1;
                }
                if let Some(series_uid) = &accepted.series_uid {
                    self.count_series(series_uid);
                    if !accepted.duplicate {
                        // Under the activity this one belongs to, or this one: one level.
                        (self.on_new_instance)(NewInstance {
                            series_uid: series_uid.clone(),
                            activity: self.parent.unwrap_or(id),
                            calling_ae_title: self.report.calling_ae_title.clone(),
                            node: self.report.node.clone(),
                        });
                    }
                }
            }
            InstanceOutcome::Refused(reason) => {
                self.report.refused += 1;
                if self.report.refusals.len() < LISTED_REFUSALS {
                    self.report.refusals.push(Refusal {
                        sop_instance_uid: sop_instance_uid.to_string(),
                        reason: reason.to_string(),
                    });
                }
            }
        }
        let report = &self.report;
        let done = report.stored + report.duplicates + report.refused;
        if let Some(activity) = &self.activity {
            activity.progress(Progress {
                items_done: done,
                bytes_done: report.bytes,
                ..Progress::default()
            });
        }
    }

    fn ended(mut self: Box<Self>, end: AssociationEnd) {
        if self.activity.is_none() {
            return;
        }
        let title = self.describe();
        let received = self.report.stored + self.report.duplicates + self.report.refused;
        self.report.ended = match &end {
            AssociationEnd::Released => "released".to_string(),
            AssociationEnd::Aborted => "aborted by the peer".to_string(),
            AssociationEnd::Broken(why) => format!("broke off: {why}"),
        };
        let output = to_json(&self.report);
        let failure = match end {
            AssociationEnd::Aborted => Some(JobFailure::new(
                FailureCategory::Network,
                format!(
                    "the peer aborted the association after {}",
                    instances(received)
                ),
            )),
            AssociationEnd::Broken(why) => Some(JobFailure::new(
                FailureCategory::Network,
                format!(
                    "the association broke off after {}: {why}",
                    instances(received)
                ),
            )),
            AssociationEnd::Released if self.report.refused > 0 => {
                let first = self
                    .report
                    .refusals
                    .first()
                    .map(|r| format!(" (first: {})", r.reason))
                    .unwrap_or_default();
                Some(JobFailure::new(
                    FailureCategory::Partial,
                    format!(
                        "{} of {} refused{first}",
                        self.report.refused,
                        instances(received)
                    ),
                ))
            }
            AssociationEnd::Released => None,
        };
        let result = match failure {
            Some(failure) => Err(failure.with_output(output)),
            None => Ok(output),
        };
        if let Some(activity) = self.activity.take() {
            if let Err(e) = activity.finish(Some(title), result) {
                tracing::warn!(error = %e, "cannot end the record of an association");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_read_in_words() {
        assert_eq!(super::instances(1), "1 instance");
        assert_eq!(super::instances(999), "999 instances");
        assert_eq!(super::instances(1000), "1,000 instances");
        assert_eq!(super::instances(1234567), "1,234,567 instances");
    }
}
