//! The job engine: every long operation (import, query, retrieve, send, thumbnails, echo,
//! delete) is a job in a priority queue that survives restarts.
//!
//! - [`spec`]: what a job does ([`JobSpec`]), its kind, node and duplicate key;
//! - [`queue`]: the persistent queue and history, in SQLite (`jobs.sqlite` in the data
//!   directory, shared with other processes: a CLI submits to a running server through it) or in
//!   PostgreSQL beside the index, shared by every node of a cluster (claims, leases, takeover);
//! - [`engine`]: the scheduler — priorities, global / per-kind / per-node caps that never hold
//!   back other kinds or nodes, dependencies, retries with exponential backoff, cancellation —
//!   and the event stream;
//! - [`runner`]: hands each job to its kind's module, against the store, the index and the nodes;
//! - [`kinds`]: one module per kind of job (import, query, retrieve, send, thumbnail, echo,
//!   delete), each with its typed output;
//! - [`received`]: what the storage listener receives: each association that stores something
//!   is recorded as an activity (a `receive` job the engine does not run), and the series it
//!   brought get their thumbnails under it.

pub mod engine;
pub mod kinds;
mod node_name;
pub mod queue;
pub mod received;
pub mod runner;
pub mod spec;

pub use engine::{Engine, EngineConfig, JobContext, Runner};
pub use node_name::node_name;
pub use queue::{JobFilter, JobQueue, NewJob, ParentFilter, QueueError};
pub use spec::{
    AnonymizeDestination, AssociationSettings, DeleteTarget, JobKind, JobSpec, PseudonymRow,
    QuerySpec, Subject,
};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type JobId = i64;

/// Five levels; the queue runs higher ones first, and within a level, older jobs first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Lowest,
    Low,
    Normal,
    High,
    Highest,
}

impl Priority {
    pub const ALL: [Priority; 5] = [
        Priority::Lowest,
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Highest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Lowest => "lowest",
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Highest => "highest",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s)
    }

    fn rank(self) -> i64 {
        self as i64
    }

    fn from_rank(rank: i64) -> Priority {
        Priority::ALL[rank.clamp(0, 4) as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    /// A transient failure; queued again once its backoff delay has passed.
    WaitingRetry,
    Failed,
    Canceled,
    Completed,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::WaitingRetry,
        JobState::Failed,
        JobState::Canceled,
        JobState::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::WaitingRetry => "waiting_retry",
            JobState::Failed => "failed",
            JobState::Canceled => "canceled",
            JobState::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Failed, canceled and completed jobs are finished: only a retry brings them back.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Failed | JobState::Canceled | JobState::Completed
        )
    }
}

/// Why a job failed, in words a user can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCategory {
    /// The peer could not be reached, timed out or dropped the association: retried.
    Network,
    /// The peer answered, and refused (association rejected, failure status).
    Peer,
    /// The job's own input is wrong (unknown node, missing file, bad filter).
    Input,
    /// Reading or writing the local store or index failed.
    Storage,
    /// A job this one depends on did not complete.
    Dependency,
    /// The operation ran, but parts of it failed (some instances not sent or not retrieved).
    Partial,
    /// Stopped on request.
    Canceled,
}

impl FailureCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCategory::Network => "network",
            FailureCategory::Peer => "peer",
            FailureCategory::Input => "input",
            FailureCategory::Storage => "storage",
            FailureCategory::Dependency => "dependency",
            FailureCategory::Partial => "partial",
            FailureCategory::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<FailureCategory> {
        [
            FailureCategory::Network,
            FailureCategory::Peer,
            FailureCategory::Input,
            FailureCategory::Storage,
            FailureCategory::Dependency,
            FailureCategory::Partial,
            FailureCategory::Canceled,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// Only network failures are worth an automatic retry.
    pub fn is_transient(self) -> bool {
        self == FailureCategory::Network
    }
}

/// A failed attempt: what went wrong, and (when the job produced something before failing, such
/// as a partial retrieval report) its output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobFailure {
    pub category: FailureCategory,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

impl JobFailure {
    pub fn new(category: FailureCategory, message: impl Into<String>) -> JobFailure {
        JobFailure {
            category,
            message: message.into(),
            output: None,
        }
    }

    pub fn canceled() -> JobFailure {
        JobFailure::new(FailureCategory::Canceled, "canceled")
    }

    pub fn with_output(mut self, output: serde_json::Value) -> JobFailure {
        self.output = Some(output);
        self
    }
}

/// Items and bytes done out of the total, as far as known. A retrieval of a whole study also
/// counts each of its series apart, so that each series' tile can show its own progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub items_done: u64,
    pub items_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// Per series (by Series Instance UID), for jobs that span several.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub series: BTreeMap<String, SeriesProgress>,
}

/// One series' instances done (stored, or found stored already) of its total (0: not known).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesProgress {
    pub done: u64,
    pub total: u64,
}

/// One job as listed: its specification, state, progress, error report and output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: JobId,
    pub kind: JobKind,
    pub spec: JobSpec,
    /// A one-line description ("retrieve series 1.2.3 from ORTHANC").
    pub title: String,
    pub priority: Priority,
    pub state: JobState,
    pub node: Option<String>,
    /// Attempts started so far; a job runs at most `max_retries + 1` times.
    pub attempts: u32,
    pub max_retries: u32,
    pub progress: Progress,
    pub error: Option<JobFailure>,
    pub output: Option<serde_json::Value>,
    pub depends_on: Vec<JobId>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// When a job waiting to retry is queued again.
    pub retry_at: Option<i64>,
    /// A cancel has been asked for (by another process, or while running).
    pub cancel_requested: bool,
    /// The activity this job belongs to (it is listed under that job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<JobId>,
    /// The jobs that belong to this one's activity, by state.
    #[serde(default, skip_serializing_if = "ChildCounts::is_empty")]
    pub children: ChildCounts,
    /// The node running it (or whose activity it is), where nodes share the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
}

/// The jobs of an activity (the follow-ups of a job, the thumbnails of what an association
/// brought), counted by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildCounts {
    pub total: u64,
    /// Queued, running or waiting to be retried.
    pub active: u64,
    pub completed: u64,
    pub failed: u64,
    pub canceled: u64,
}

impl ChildCounts {
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl JobRecord {
    /// The output as its kind's type (see [`kinds`]): an import report, a query's matches, a
    /// retrieval report...; `None` before the job produced one.
    pub fn output_as<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.output
            .clone()
            .and_then(|o| serde_json::from_value(o).ok())
    }

    /// As [`output_as`](Self::output_as), taking the output rather than copying it.
    pub fn take_output_as<T: serde::de::DeserializeOwned>(&mut self) -> Option<T> {
        self.output
            .take()
            .and_then(|o| serde_json::from_value(o).ok())
    }
}

/// One line of a job's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub at: i64,
    pub message: String,
}

/// What the engine publishes; the web UI carries these over server-sent events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JobEvent {
    /// A job entered the queue (or a duplicate was merged into it: then `merged` is true).
    Queued {
        id: JobId,
        kind: JobKind,
        title: String,
        priority: Priority,
        merged: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        parent: Option<JobId>,
    },
    /// The job's state changed.
    State {
        id: JobId,
        state: JobState,
        attempts: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<JobFailure>,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_at: Option<i64>,
        /// The job's title, when it changed (an activity names what it brought once over).
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    Progress {
        id: JobId,
        progress: Progress,
    },
    Log {
        id: JobId,
        message: String,
    },
    Priority {
        id: JobId,
        priority: Priority,
    },
    /// Finished jobs were cleared from the history.
    Cleared {
        count: u64,
    },
}

/// Milliseconds since the Unix epoch, as job times are kept.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
