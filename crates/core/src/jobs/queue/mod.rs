//! The persistent queue and history, behind one interface with two backends:
//!
//! - [`sqlite`]: `jobs.sqlite` in the data directory. The [`Engine`](super::Engine) of the
//!   running server is its only executor; another process (the CLI while `lightbox serve` runs)
//!   changes a job there and then appends a signal, which the engine picks up within a fraction
//!   of a second.
//! - [`postgres`]: tables beside the PostgreSQL index, shared by every node of a cluster. Each
//!   node's engine claims a job before running it (`SELECT … FOR UPDATE SKIP LOCKED`, under the
//!   cluster-wide caps), holds it by a lease its heartbeat renews, and takes over the jobs of a
//!   node whose lease ran out. Changes and events travel between nodes by `LISTEN/NOTIFY`.

mod postgres;
mod sqlite;

use super::{JobEvent, JobFailure, JobId, JobKind, JobRecord, JobSpec, JobState, LogLine};
use super::{Priority, Progress};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::Duration;

pub use postgres::PostgresQueue;
pub use sqlite::SqliteQueue;

#[derive(Debug, thiserror::Error)]
#[error("job queue: {0}")]
pub struct QueueError(#[from] QueueErrorKind);

#[derive(Debug, thiserror::Error)]
enum QueueErrorKind {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("cannot reach the job queue at {url}: {source}")]
    OpenPostgres {
        url: String,
        source: ::postgres::Error,
    },
    #[error("job {0} has an unreadable specification: {1}")]
    Spec(JobId, serde_json::Error),
    #[error("job {0} depends on job {1}, which does not exist")]
    UnknownDependency(JobId, JobId),
}

impl From<rusqlite::Error> for QueueError {
    fn from(e: rusqlite::Error) -> QueueError {
        QueueError(QueueErrorKind::Sqlite(e))
    }
}

impl From<::postgres::Error> for QueueError {
    fn from(e: ::postgres::Error) -> QueueError {
        QueueError(QueueErrorKind::Postgres(e))
    }
}

/// A job to submit.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub spec: JobSpec,
    /// The specification's default priority when not given.
    pub priority: Option<Priority>,
    /// Jobs that must complete before this one starts.
    pub depends_on: Vec<JobId>,
    /// Automatic retries after transient failures (the engine's default when not given).
    pub max_retries: Option<u32>,
    /// Its title in lists (the specification's own when not given).
    pub title: Option<String>,
    /// The activity it belongs to (the job or association whose follow-up it is): the jobs
    /// page lists it under that one.
    pub parent: Option<JobId>,
}

impl NewJob {
    pub fn new(spec: JobSpec) -> NewJob {
        NewJob {
            spec,
            priority: None,
            depends_on: Vec::new(),
            max_retries: None,
            title: None,
            parent: None,
        }
    }

    /// Lists the job under `parent`'s activity.
    pub fn under(mut self, parent: JobId) -> NewJob {
        self.parent = Some(parent);
        self
    }

    /// Names the job in words (see [`JobSpec::title_about`]).
    pub fn titled(mut self, title: String) -> NewJob {
        self.title = Some(title);
        self
    }

    /// Its title: the one given, else its specification's.
    pub fn title(&self) -> String {
        self.title.clone().unwrap_or_else(|| self.spec.title())
    }

    pub fn priority(mut self, priority: Priority) -> NewJob {
        self.priority = Some(priority);
        self
    }

    pub fn after(mut self, job: JobId) -> NewJob {
        self.depends_on.push(job);
        self
    }

    pub fn max_retries(mut self, retries: u32) -> NewJob {
        self.max_retries = Some(retries);
        self
    }
}

/// What a submission became.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub id: JobId,
    /// A pending job with the same specification existed: this submission is that job.
    pub merged: bool,
    /// The merged job's priority was raised to the submission's.
    pub raised: bool,
}

/// Which jobs to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    pub states: Vec<JobState>,
    pub kind: Option<JobKind>,
    pub node: Option<String>,
    /// Jobs whose ID or kind is this, or whose title, node or error contains it (ASCII case
    /// folded).
    pub text: Option<String>,
    pub parent: ParentFilter,
    pub limit: Option<u64>,
    pub offset: u64,
}

/// Jobs wherever they belong, only those of no activity (each activity's own row), or only
/// those of one activity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParentFilter {
    #[default]
    Any,
    TopLevel,
    Of(JobId),
}

/// The limits a claim must respect: how many jobs of its kind, and how many talking to its
/// node, may run at once (across the cluster, where the queue is shared).
#[derive(Clone, Copy, Debug)]
pub struct ClaimLimits {
    pub kind_cap: usize,
    pub node_cap: usize,
}

/// What asking to run a job gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This engine runs it now: its attempt number (1 for the first).
    Started(u32),
    /// Another node runs it, or it is no longer pending (canceled, finished, removed).
    Taken,
    /// Its kind or node is at its cap across the cluster: it waits.
    AtCap,
}

/// What other processes and nodes changed since the engine last looked.
#[derive(Debug, Default)]
pub struct Changes {
    /// Where the next look starts.
    pub cursor: i64,
    /// Jobs to look at again (submitted, canceled, reprioritised, ended elsewhere).
    pub jobs: Vec<JobId>,
    /// Events of jobs that run on other nodes, for this node's listeners.
    pub events: Vec<JobEvent>,
    /// Some changes may have been missed (the connection that hears them was lost): every
    /// pending job should be looked at again.
    pub resync: bool,
}

/// Publishes a node's job events to the others (nothing to do where the queue is not shared).
pub trait EventPublisher: Send + Sync {
    fn publish(&self, event: &JobEvent);
}

/// The queue's operations, the same on every backend.
pub trait QueueBackend: Send {
    /// Another connection to the same queue (for readers on other threads).
    fn reopen(&self) -> Result<JobQueue, QueueError>;

    /// Queues a job, or merges it into a pending job with the same specification (raising that
    /// job's priority if this submission's is higher).
    fn submit(&mut self, job: &NewJob, default_retries: u32) -> Result<Submitted, QueueError>;

    /// Records an activity the engine does not run (an association a peer opened): running
    /// from now on, until [`finish`](Self::finish).
    fn open_activity(&self, job: &NewJob) -> Result<JobId, QueueError>;

    fn set_title(&self, id: JobId, title: &str) -> Result<(), QueueError>;

    fn get(&self, id: JobId) -> Result<Option<JobRecord>, QueueError>;

    /// A page of jobs, newest first, and the number of jobs the filter matches.
    fn list(&self, filter: &JobFilter) -> Result<(Vec<JobRecord>, u64), QueueError>;

    /// Queued and waiting jobs (and, on a private queue, running ones), for the engine to
    /// schedule.
    fn pending(&self) -> Result<Vec<JobRecord>, QueueError>;

    /// Jobs waiting for `id` to finish.
    fn dependents(&self, id: JobId) -> Result<Vec<JobId>, QueueError>;

    fn state(&self, id: JobId) -> Result<Option<JobState>, QueueError>;

    fn log(&self, id: JobId) -> Result<Vec<LogLine>, QueueError>;

    fn append_log(&self, id: JobId, message: &str) -> Result<(), QueueError>;

    /// Asks to run a queued or waiting job now.
    fn claim(
        &self,
        id: JobId,
        kind: JobKind,
        node: Option<&str>,
        limits: ClaimLimits,
    ) -> Result<Claim, QueueError>;

    fn set_progress(&self, id: JobId, p: &Progress) -> Result<(), QueueError>;

    /// A job ends: completed (with its output), failed or canceled (with the reason). Returns
    /// false when it was not this engine's to end (another node runs it, or it already ended).
    fn finish(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&JobFailure>,
        output: Option<&serde_json::Value>,
    ) -> Result<bool, QueueError>;

    /// A running job failed and waits to be tried again; false when it was not this engine's.
    fn set_waiting_retry(
        &self,
        id: JobId,
        error: &JobFailure,
        retry_at: i64,
    ) -> Result<bool, QueueError>;

    fn set_priority(&self, id: JobId, priority: Priority) -> Result<bool, QueueError>;

    /// Marks a pending job for cancellation (the engine that runs it carries it out).
    fn request_cancel(&self, id: JobId) -> Result<bool, QueueError>;

    /// A failed or canceled job goes back to the queue, with its attempts counted afresh.
    fn requeue(&self, id: JobId) -> Result<bool, QueueError>;

    /// Jobs this engine was running when it stopped (a crash or `kill -9`) go back to the
    /// queue; their attempt does not count against their retries. Activities that were under
    /// way (an association cut by the stop) end as failed.
    fn recover_interrupted(&self) -> Result<Vec<JobId>, QueueError>;

    /// Removes finished jobs (all of them, or those finished before `before`). A job others
    /// wait for stays, and so does an activity with jobs still pending; an activity removed
    /// takes its finished jobs with it.
    fn clear_finished(&self, before: Option<i64>) -> Result<u64, QueueError>;

    /// Tells the engines (in whichever process or node they run) that a job changed.
    fn signal(&self, id: JobId) -> Result<(), QueueError>;

    /// Where [`changes`](Self::changes) starts for an engine starting now.
    fn changes_cursor(&self) -> Result<i64, QueueError>;

    /// What changed since `cursor`.
    fn changes(&self, cursor: i64) -> Result<Changes, QueueError>;

    /// Renews the leases of the jobs this engine runs (a private queue has none).
    fn renew_leases(&self) -> Result<(), QueueError> {
        Ok(())
    }

    /// Jobs of engines that stopped renewing their leases, queued again here (their
    /// activities end as failed); the others hear of them by signal.
    fn take_over_expired(&self) -> Result<Vec<JobId>, QueueError> {
        Ok(Vec::new())
    }

    /// How this engine's events reach the other nodes, where the queue is shared.
    fn publisher(&self) -> Option<std::sync::Arc<dyn EventPublisher>> {
        None
    }

    /// How long a claimed job's lease lasts without renewal (none on a private queue).
    fn lease(&self) -> Option<Duration> {
        None
    }
}

/// The queue of one data directory or cluster.
pub struct JobQueue(Box<dyn QueueBackend>);

impl JobQueue {
    /// Opens (creating if needed) the SQLite queue of a data directory.
    pub fn open(data_dir: &Path) -> Result<JobQueue, QueueError> {
        Ok(JobQueue(Box::new(SqliteQueue::open(data_dir)?)))
    }

    /// The queue that goes with an index: the data directory's beside a SQLite index, tables
    /// in the same database beside a PostgreSQL one. `node` names this engine in the cluster.
    pub fn open_beside(
        data_dir: &Path,
        index: &crate::index::IndexLocation,
        node: &str,
    ) -> Result<JobQueue, QueueError> {
        match index {
            crate::index::IndexLocation::DataDir => JobQueue::open(data_dir),
            crate::index::IndexLocation::Postgres(url) => Ok(JobQueue(Box::new(
                PostgresQueue::open(url, node, postgres::lease_from_env())?,
            ))),
        }
    }

    pub fn from_backend(backend: Box<dyn QueueBackend>) -> JobQueue {
        JobQueue(backend)
    }
}

impl Deref for JobQueue {
    type Target = dyn QueueBackend;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl DerefMut for JobQueue {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.0
    }
}

/// States a job is pending in.
const PENDING: &str = "('queued', 'running', 'waiting_retry')";

/// Kinds the engine never runs: their records are kept by whoever does the work.
const RECORDED: &str = "('receive')";

/// The SQL condition a listing's filter makes, with its values in order (`?` marks, which the
/// PostgreSQL backend numbers). `position` is the backend's substring search
/// (`position(haystack, needle)`, 0 when absent).
fn filter_clauses(filter: &JobFilter, position: &str) -> (Vec<String>, Vec<String>) {
    let mut clauses = Vec::new();
    let mut values: Vec<String> = Vec::new();
    if !filter.states.is_empty() {
        let marks = vec!["?"; filter.states.len()].join(", ");
        clauses.push(format!("state IN ({marks})"));
        values.extend(filter.states.iter().map(|s| s.as_str().to_string()));
    }
    if let Some(kind) = filter.kind {
        clauses.push("kind = ?".into());
        values.push(kind.as_str().into());
    }
    if let Some(node) = &filter.node {
        clauses.push("node = ?".into());
        values.push(node.clone());
    }
    match filter.parent {
        ParentFilter::Any => {}
        ParentFilter::TopLevel => clauses.push("parent IS NULL".into()),
        ParentFilter::Of(parent) => clauses.push(format!("parent = {parent}")),
    }
    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let folded = text.to_ascii_lowercase();
        clauses.push(format!(
            "(CAST(id AS TEXT) = ? OR kind = ? OR {position}(lower(title), ?) > 0
              OR {position}(lower(coalesce(node, '')), ?) > 0
              OR {position}(lower(coalesce(error_message, '')), ?) > 0)"
        ));
        values.extend([
            text.to_string(),
            folded.clone(),
            folded.clone(),
            folded.clone(),
            folded,
        ]);
    }
    (clauses, values)
}

/// The parts of a job row both backends read alike, as text and numbers.
struct RowParts {
    id: JobId,
    kind: String,
    spec: String,
    title: String,
    priority: i64,
    state: String,
    node: Option<String>,
    attempts: u32,
    max_retries: u32,
    progress: [i64; 4],
    error: (Option<String>, Option<String>),
    output: Option<String>,
    /// Started, finished, to be retried.
    times: [Option<i64>; 3],
    created_at: i64,
    cancel_requested: bool,
    depends_on: Option<String>,
    progress_series: Option<String>,
    parent: Option<JobId>,
    children: Option<String>,
    claimed_by: Option<String>,
}

impl RowParts {
    fn into_record(self) -> Result<JobRecord, QueueError> {
        use super::{ChildCounts, FailureCategory};
        let spec: JobSpec = serde_json::from_str(&self.spec)
            .map_err(|e| QueueError(QueueErrorKind::Spec(self.id, e)))?;
        let error = match self.error {
            (Some(category), Some(message)) => Some(JobFailure {
                category: FailureCategory::parse(&category).unwrap_or(FailureCategory::Storage),
                message,
                output: None,
            }),
            _ => None,
        };
        let [started_at, finished_at, retry_at] = self.times;
        Ok(JobRecord {
            id: self.id,
            kind: JobKind::parse(&self.kind).unwrap_or(spec.kind()),
            title: self.title,
            priority: Priority::from_rank(self.priority),
            state: JobState::parse(&self.state).unwrap_or(JobState::Failed),
            node: self.node,
            attempts: self.attempts,
            max_retries: self.max_retries,
            progress: Progress {
                items_done: self.progress[0] as u64,
                items_total: self.progress[1] as u64,
                bytes_done: self.progress[2] as u64,
                bytes_total: self.progress[3] as u64,
                series: self
                    .progress_series
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or_default(),
            },
            error,
            output: self.output.and_then(|o| serde_json::from_str(&o).ok()),
            depends_on: self
                .depends_on
                .map(|d| d.split(',').filter_map(|x| x.parse().ok()).collect())
                .unwrap_or_default(),
            created_at: self.created_at,
            started_at,
            finished_at,
            retry_at,
            cancel_requested: self.cancel_requested,
            parent: self.parent,
            children: self
                .children
                .and_then(|json| serde_json::from_str::<[Option<u64>; 5]>(&json).ok())
                .map(|[total, active, completed, failed, canceled]| ChildCounts {
                    total: total.unwrap_or(0),
                    active: active.unwrap_or(0),
                    completed: completed.unwrap_or(0),
                    failed: failed.unwrap_or(0),
                    canceled: canceled.unwrap_or(0),
                })
                .unwrap_or_default(),
            claimed_by: self.claimed_by,
            spec,
        })
    }
}
