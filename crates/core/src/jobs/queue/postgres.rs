//! The queue every node of a cluster shares: tables beside the PostgreSQL index.
//!
//! A job runs on exactly one node at a time: a node claims it in one transaction that locks the
//! row (`FOR UPDATE SKIP LOCKED`, so two nodes never wait on each other for one job) and counts
//! what runs of its kind and for its remote node across the cluster under an advisory lock, so
//! the caps hold for the cluster. The claim carries a lease the node's heartbeat renews; when a
//! node stops renewing (it died, or lost the database), any other node queues its jobs again and
//! ends its activities as failed. Signals and events go out by `NOTIFY` and every engine
//! `LISTEN`s.

use super::{
    filter_clauses, Changes, Claim, ClaimLimits, EventPublisher, JobQueue, NewJob, QueueBackend,
    QueueError, QueueErrorKind, RowParts, Submitted, PENDING, RECORDED,
};
use crate::index::postgres::off_async_threads;
use crate::jobs::{
    now_millis, JobEvent, JobFailure, JobFilter, JobId, JobKind, JobRecord, JobState, LogLine,
    Priority, Progress,
};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How long a claim holds without renewal.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The channel every engine listens on.
const CHANNEL: &str = "lightbox_jobs";

/// PostgreSQL's limit on a notification's payload is 8,000 bytes.
const PAYLOAD_LIMIT: usize = 7_900;

/// The database's clock in milliseconds: leases are compared on one clock, whatever the nodes'.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

const SCHEMA: &str = "
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    duplicate_key TEXT NOT NULL,
    title TEXT NOT NULL,
    priority BIGINT NOT NULL,
    state TEXT NOT NULL,
    node TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_retries INTEGER NOT NULL,
    items_done BIGINT NOT NULL DEFAULT 0,
    items_total BIGINT NOT NULL DEFAULT 0,
    bytes_done BIGINT NOT NULL DEFAULT 0,
    bytes_total BIGINT NOT NULL DEFAULT 0,
    error_category TEXT,
    error_message TEXT,
    output TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    retry_at BIGINT,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    progress_series TEXT,
    parent BIGINT,
    -- The node running it (or whose activity it is), until when its claim holds, and the node
    -- it must run on (it reads that node's own files).
    claimed_by TEXT,
    lease_until BIGINT,
    pinned_to TEXT
);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE INDEX jobs_pending_key ON jobs (duplicate_key)
    WHERE state IN ('queued', 'running', 'waiting_retry');
CREATE INDEX jobs_by_finish ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_by_parent ON jobs (parent, state) WHERE parent IS NOT NULL;
CREATE INDEX jobs_running ON jobs (claimed_by, lease_until) WHERE state = 'running';
CREATE TABLE job_dependencies (
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    depends_on BIGINT NOT NULL,
    PRIMARY KEY (job_id, depends_on)
);
CREATE INDEX job_dependents ON job_dependencies (depends_on);
CREATE TABLE job_log (
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_log_by_job ON job_log (job_id);
";

const COLUMNS: &str = "id, kind, spec, title, priority, state, node, attempts, max_retries,
    items_done, items_total, bytes_done, bytes_total, error_category, error_message, output,
    created_at, started_at, finished_at, retry_at, cancel_requested,
    (SELECT string_agg(d.depends_on::text, ',') FROM job_dependencies d WHERE d.job_id = jobs.id),
    progress_series, parent,
    (SELECT json_build_array(count(*),
                count(*) FILTER (WHERE c.state IN ('queued', 'running', 'waiting_retry')),
                count(*) FILTER (WHERE c.state = 'completed'),
                count(*) FILTER (WHERE c.state = 'failed'),
                count(*) FILTER (WHERE c.state = 'canceled'))::text
     FROM jobs c WHERE c.parent = jobs.id),
    claimed_by";

/// What travels on the channel: a job to look at again, or an event of a node's.
#[derive(Serialize, Deserialize)]
struct Message {
    /// The queue connection that sent it (its own messages are not for it).
    origin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    job: Option<JobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<JobEvent>,
}

/// A message's text on the channel.
fn notification(origin: &str, job: Option<JobId>, event: Option<JobEvent>) -> String {
    let message = Message {
        origin: origin.to_string(),
        job,
        event,
    };
    serde_json::to_string(&message).unwrap_or_default()
}

/// What the listener heard, waiting for the engine's next look.
#[derive(Default)]
struct Inbox {
    jobs: Vec<JobId>,
    events: Vec<JobEvent>,
    resync: bool,
}

pub struct PostgresQueue {
    config: postgres::Config,
    /// The database, for messages.
    name: String,
    /// This node's name in `claimed_by` and `pinned_to`.
    node: String,
    /// This connection's name on the channel.
    origin: String,
    lease: Duration,
    client: Mutex<Client>,
    listener: OnceLock<Listener>,
}

/// The thread that `LISTEN`s, reconnecting when its connection is lost.
struct Listener {
    inbox: Arc<Mutex<Inbox>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A lease's length: `LIGHTBOX_JOB_LEASE_SECONDS`, or the default.
pub fn lease_from_env() -> Duration {
    std::env::var("LIGHTBOX_JOB_LEASE_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| *s >= 0.5)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_LEASE)
}

fn connect(config: &postgres::Config, name: &str) -> Result<Client, QueueError> {
    let mut config = config.clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    off_async_threads(|| config.connect(NoTls)).map_err(|source| {
        QueueError(QueueErrorKind::OpenPostgres {
            url: name.to_string(),
            source,
        })
    })
}

fn migrate(client: &mut Client) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    // One node migrates at a time; the others find the work done.
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(hashtext('lightbox jobs schema'));
         CREATE TABLE IF NOT EXISTS lightbox_jobs_schema (version BIGINT NOT NULL)",
    )?;
    let version: Option<i64> = tx
        .query_opt("SELECT version FROM lightbox_jobs_schema", &[])?
        .map(|r| r.get(0));
    if version.is_none() {
        tx.batch_execute(SCHEMA)?;
        tx.execute("INSERT INTO lightbox_jobs_schema (version) VALUES (1)", &[])?;
    }
    tx.commit()
}

impl PostgresQueue {
    /// Connects to the queue in the database at `url`, creating its tables if needed, as the
    /// node `node`.
    pub fn open(url: &str, node: &str, lease: Duration) -> Result<PostgresQueue, QueueError> {
        let config: postgres::Config = url.parse().map_err(|source| {
            QueueError(QueueErrorKind::OpenPostgres {
                url: "the --index URL".into(),
                source,
            })
        })?;
        let name = crate::index::postgres::display_name(&config);
        let mut client = connect(&config, &name)?;
        off_async_threads(|| migrate(&mut client))?;
        Ok(PostgresQueue {
            origin: origin_name(node),
            config,
            name,
            node: node.to_string(),
            lease,
            client: Mutex::new(client),
            listener: OnceLock::new(),
        })
    }

    fn with_client<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, QueueError> + Send,
    ) -> Result<T, QueueError> {
        let mut guard = lock(&self.client);
        if guard.is_closed() {
            *guard = connect(&self.config, &self.name)?;
        }
        let client: &mut Client = &mut guard;
        off_async_threads(|| f(client))
    }

    fn rows(&self, sql: &str, values: &[String]) -> Result<Vec<JobRecord>, QueueError> {
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = self.with_client(|c| Ok(c.query(sql, &params)?))?;
        rows.iter()
            .map(|r| read_row(r)?.into_record())
            .collect::<Result<Vec<_>, _>>()
    }

    fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, QueueError> {
        self.with_client(|c| Ok(c.execute(sql, params)?))
    }

    /// Starts listening (once): the engine's first look at the changes.
    fn listener(&self) -> &Listener {
        self.listener.get_or_init(|| {
            let inbox = Arc::new(Mutex::new(Inbox::default()));
            let stop = Arc::new(AtomicBool::new(false));
            let (config, name, origin) =
                (self.config.clone(), self.name.clone(), self.origin.clone());
            let (thread_inbox, thread_stop) = (inbox.clone(), stop.clone());
            let spawned = std::thread::Builder::new()
                .name("job-listener".into())
                .spawn(move || listen(config, name, origin, thread_inbox, thread_stop));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "job queue: cannot start the listener");
            }
            Listener { inbox, stop }
        })
    }

    /// Puts the running jobs selected by `condition` (on `$1`, `value`: claimed by a node that
    /// stopped) back in the queue, and ends activities among them as failed; says so to every
    /// node. Returns the jobs queued again.
    fn release_claims(&self, condition: &str, value: &str) -> Result<Vec<JobId>, QueueError> {
        let origin = self.origin.clone();
        let (ended, requeued) = self.with_client(|c| {
            let mut tx = c.transaction()?;
            let expired = format!(
                "SELECT id FROM jobs WHERE state = 'running' AND {condition}
                 FOR UPDATE SKIP LOCKED"
            );
            let activities = tx.query(
                &format!(
                    "UPDATE jobs SET state = 'failed', error_category = 'network',
                         error_message = 'the node ' || coalesce(claimed_by, '?')
                             || ' stopped while this was under way',
                         finished_at = $2, claimed_by = NULL, lease_until = NULL
                     WHERE id IN ({expired}) AND kind IN {RECORDED} RETURNING id"
                ),
                &[&value, &now_millis()],
            )?;
            let jobs = tx.query(
                &format!(
                    "WITH taken AS (SELECT id, claimed_by FROM jobs
                                    WHERE id IN ({expired}) AND kind NOT IN {RECORDED})
                     UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0),
                         claimed_by = NULL, lease_until = NULL
                     FROM taken WHERE jobs.id = taken.id
                     RETURNING jobs.id, taken.claimed_by"
                ),
                &[&value],
            )?;
            let mut requeued = Vec::new();
            for row in &jobs {
                let (id, owner): (JobId, Option<String>) = (row.get(0), row.get(1));
                let message = format!(
                    "interrupted (node {} stopped); queued again",
                    owner.as_deref().unwrap_or("?")
                );
                tx.execute(
                    "INSERT INTO job_log (job_id, at, message) VALUES ($1, $2, $3)",
                    &[&id, &now_millis(), &message],
                )?;
                requeued.push(id);
            }
            let ended: Vec<JobId> = activities.iter().map(|r| r.get(0)).collect();
            for id in ended.iter().chain(&requeued) {
                let payload = notification(&origin, Some(*id), None);
                tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
            }
            tx.commit()?;
            Ok((ended, requeued))
        })?;
        if !ended.is_empty() || !requeued.is_empty() {
            tracing::info!(?requeued, activities_ended = ?ended, "job queue: claims released");
        }
        Ok(requeued)
    }
}

/// The listener's loop: hears the channel until stopped, from a connection of its own.
fn listen(
    config: postgres::Config,
    name: String,
    origin: String,
    inbox: Arc<Mutex<Inbox>>,
    stop: Arc<AtomicBool>,
) {
    let mut first = true;
    while !stop.load(Ordering::SeqCst) {
        let mut client = match connect(&config, &name).and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {CHANNEL}"))
                .map(|_| c)
                .map_err(Into::into)
        }) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "job queue: cannot listen; trying again");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if !first {
            // What was said while nobody listened is looked for in the tables.
            lock(&inbox).resync = true;
        }
        first = false;
        'hearing: while !stop.load(Ordering::SeqCst) {
            if client.is_closed() {
                break;
            }
            let mut notifications = client.notifications();
            let mut heard = notifications.timeout_iter(Duration::from_millis(200));
            loop {
                match heard.next() {
                    Ok(Some(n)) => {
                        let Ok(message) = serde_json::from_str::<Message>(n.payload()) else {
                            continue;
                        };
                        if message.origin == origin {
                            continue;
                        }
                        let mut inbox = lock(&inbox);
                        inbox.jobs.extend(message.job);
                        inbox.events.extend(message.event);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "job queue: the listening connection failed");
                        break 'hearing;
                    }
                }
            }
        }
    }
}

/// Sends one engine's events to the others.
struct Publisher {
    config: postgres::Config,
    name: String,
    origin: String,
    client: Mutex<Option<Client>>,
}

impl EventPublisher for Publisher {
    fn publish(&self, event: &JobEvent) {
        let mut payload = notification(&self.origin, None, Some(event.clone()));
        if payload.len() > PAYLOAD_LIMIT {
            // A long log line or many series: the others read the rest from the tables.
            let id = match event {
                JobEvent::Queued { id, .. }
                | JobEvent::State { id, .. }
                | JobEvent::Progress { id, .. }
                | JobEvent::Log { id, .. }
                | JobEvent::Priority { id, .. } => Some(*id),
                JobEvent::Cleared { .. } => None,
            };
            payload = notification(&self.origin, id, None);
        }
        let mut guard = lock(&self.client);
        let client: &mut Option<Client> = &mut guard;
        let result = off_async_threads(|| -> Result<(), QueueError> {
            if client.as_ref().is_none_or(Client::is_closed) {
                *client = Some(connect(&self.config, &self.name)?);
            }
            let c = client.as_mut().expect("connected just now");
            c.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
            Ok(())
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "job queue: an event did not reach the other nodes");
            *guard = None;
        }
    }
}

impl QueueBackend for PostgresQueue {
    fn reopen(&self) -> Result<JobQueue, QueueError> {
        let mut client = connect(&self.config, &self.name)?;
        off_async_threads(|| client.batch_execute("SELECT 1"))?;
        Ok(JobQueue::from_backend(Box::new(PostgresQueue {
            config: self.config.clone(),
            name: self.name.clone(),
            node: self.node.clone(),
            origin: origin_name(&self.node),
            lease: self.lease,
            client: Mutex::new(client),
            listener: OnceLock::new(),
        })))
    }

    fn submit(&mut self, job: &NewJob, default_retries: u32) -> Result<Submitted, QueueError> {
        let key = job.spec.duplicate_key();
        let priority = job.priority.unwrap_or_else(|| job.spec.default_priority());
        let pinned = job.spec.runs_where_submitted().then(|| self.node.clone());
        let max_retries = job.max_retries.unwrap_or(default_retries) as i32;
        self.with_client(|c| {
            let mut tx = c.transaction()?;
            // Two nodes submitting the same job at once make one job.
            tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
            let existing = tx.query_opt(
                &format!(
                    "SELECT id, priority FROM jobs WHERE duplicate_key = $1 AND state IN {PENDING}
                     ORDER BY id LIMIT 1"
                ),
                &[&key],
            )?;
            if let Some(row) = existing {
                let (id, current): (JobId, i64) = (row.get(0), row.get(1));
                let raised = priority.rank() > current;
                if raised {
                    tx.execute(
                        "UPDATE jobs SET priority = $2 WHERE id = $1",
                        &[&id, &priority.rank()],
                    )?;
                }
                tx.commit()?;
                return Ok(Submitted {
                    id,
                    merged: true,
                    raised,
                });
            }
            let id: JobId = tx
                .query_one(
                    "INSERT INTO jobs (kind, spec, duplicate_key, title, priority, state, node,
                                       max_retries, created_at, parent, pinned_to)
                     VALUES ($1, $2, $2, $3, $4, 'queued', $5, $6, $7, $8, $9) RETURNING id",
                    &[
                        &job.spec.kind().as_str(),
                        &key,
                        &job.title(),
                        &priority.rank(),
                        &job.spec.node(),
                        &max_retries,
                        &now_millis(),
                        &job.parent,
                        &pinned,
                    ],
                )?
                .get(0);
            for dependency in &job.depends_on {
                let exists: bool = tx
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1)",
                        &[dependency],
                    )?
                    .get(0);
                if !exists {
                    return Err(QueueError(QueueErrorKind::UnknownDependency(
                        id,
                        *dependency,
                    )));
                }
                tx.execute(
                    "INSERT INTO job_dependencies (job_id, depends_on) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&id, dependency],
                )?;
            }
            tx.commit()?;
            Ok(Submitted {
                id,
                merged: false,
                raised: false,
            })
        })
    }

    fn open_activity(&self, job: &NewJob) -> Result<JobId, QueueError> {
        let now = now_millis();
        let lease = self.lease.as_millis() as i64;
        let row = self.with_client(|c| {
            Ok(c.query_one(
                &format!(
                    "INSERT INTO jobs (kind, spec, duplicate_key, title, priority, state, node,
                                   attempts, max_retries, created_at, started_at, parent,
                                   claimed_by, lease_until)
                     VALUES ($1, $2, $2, $3, $4, 'running', $5, 1, 0, $6, $6, $7, $8,
                             {NOW_MS} + $9) RETURNING id"
                ),
                &[
                    &job.spec.kind().as_str(),
                    &job.spec.duplicate_key(),
                    &job.title(),
                    &job.priority
                        .unwrap_or_else(|| job.spec.default_priority())
                        .rank(),
                    &job.spec.node(),
                    &now,
                    &job.parent,
                    &self.node,
                    &lease,
                ],
            )?)
        })?;
        Ok(row.get(0))
    }

    fn set_title(&self, id: JobId, title: &str) -> Result<(), QueueError> {
        self.execute("UPDATE jobs SET title = $2 WHERE id = $1", &[&id, &title])?;
        Ok(())
    }

    fn get(&self, id: JobId) -> Result<Option<JobRecord>, QueueError> {
        Ok(self
            .rows(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = $1::text::bigint"),
                &[id.to_string()],
            )?
            .pop())
    }

    fn list(&self, filter: &JobFilter) -> Result<(Vec<JobRecord>, u64), QueueError> {
        let (clauses, values) = filter_clauses(filter, "strpos");
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            numbered(&format!("WHERE {}", clauses.join(" AND ")))
        };
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let count_sql = format!("SELECT count(*) FROM jobs {filter_sql}");
        let total: i64 = self.with_client(|c| Ok(c.query_one(&count_sql, &params)?.get(0)))?;
        let limit = filter
            .limit
            .map(|l| l.to_string())
            .unwrap_or_else(|| "ALL".into());
        let jobs = self.rows(
            &format!(
                "SELECT {COLUMNS} FROM jobs {filter_sql} ORDER BY id DESC LIMIT {limit} OFFSET {}",
                filter.offset
            ),
            &values,
        )?;
        Ok((jobs, total as u64))
    }

    /// Running jobs are another engine's (this one's were queued again at its start).
    fn pending(&self) -> Result<Vec<JobRecord>, QueueError> {
        self.rows(
            &format!(
                "SELECT {COLUMNS} FROM jobs WHERE state IN ('queued', 'waiting_retry')
                 AND kind NOT IN {RECORDED} ORDER BY id"
            ),
            &[],
        )
    }

    fn dependents(&self, id: JobId) -> Result<Vec<JobId>, QueueError> {
        let rows = self.with_client(|c| {
            Ok(c.query(
                "SELECT job_id FROM job_dependencies WHERE depends_on = $1",
                &[&id],
            )?)
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn state(&self, id: JobId) -> Result<Option<JobState>, QueueError> {
        let row =
            self.with_client(|c| Ok(c.query_opt("SELECT state FROM jobs WHERE id = $1", &[&id])?))?;
        Ok(row.and_then(|r| JobState::parse(r.get::<_, &str>(0))))
    }

    fn log(&self, id: JobId) -> Result<Vec<LogLine>, QueueError> {
        let rows = self.with_client(|c| {
            Ok(c.query(
                "SELECT at, message FROM job_log WHERE job_id = $1 ORDER BY ctid",
                &[&id],
            )?)
        })?;
        Ok(rows
            .iter()
            .map(|r| LogLine {
                at: r.get(0),
                message: r.get(1),
            })
            .collect())
    }

    fn append_log(&self, id: JobId, message: &str) -> Result<(), QueueError> {
        self.execute(
            "INSERT INTO job_log (job_id, at, message) VALUES ($1, $2, $3)",
            &[&id, &now_millis(), &message],
        )?;
        Ok(())
    }

    fn claim(
        &self,
        id: JobId,
        kind: JobKind,
        node: Option<&str>,
        limits: ClaimLimits,
    ) -> Result<Claim, QueueError> {
        let lease = self.lease.as_millis() as i64;
        let me = self.node.clone();
        self.with_client(|c| {
            let mut tx = c.transaction()?;
            // Claims of one kind (then of one remote node) take turns: each counts what runs.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext('lightbox job kind ' || $1))",
                &[&kind.as_str()],
            )?;
            let running: i64 = tx
                .query_one(
                    &format!(
                        "SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'running'
                         AND lease_until > {NOW_MS}"
                    ),
                    &[&kind.as_str()],
                )?
                .get(0);
            if running as usize >= limits.kind_cap {
                return Ok(Claim::AtCap);
            }
            if let Some(node) = node {
                tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtext('lightbox job node ' || $1))",
                    &[&node],
                )?;
                let running: i64 = tx
                    .query_one(
                        &format!(
                            "SELECT count(*) FROM jobs WHERE node = $1 AND state = 'running'
                             AND kind NOT IN {RECORDED} AND lease_until > {NOW_MS}"
                        ),
                        &[&node],
                    )?
                    .get(0);
                if running as usize >= limits.node_cap {
                    return Ok(Claim::AtCap);
                }
            }
            let claimed = tx.query_opt(
                &format!(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = $2,
                         retry_at = NULL, claimed_by = $3, lease_until = {NOW_MS} + $4
                     WHERE id = (SELECT id FROM jobs WHERE id = $1
                                 AND state IN ('queued', 'waiting_retry')
                                 AND (pinned_to IS NULL OR pinned_to = $3)
                                 FOR UPDATE SKIP LOCKED)
                     RETURNING attempts"
                ),
                &[&id, &now_millis(), &me, &lease],
            )?;
            tx.commit()?;
            Ok(match claimed {
                Some(row) => Claim::Started(row.get::<_, i32>(0) as u32),
                None => Claim::Taken,
            })
        })
    }

    fn set_progress(&self, id: JobId, p: &Progress) -> Result<(), QueueError> {
        let series = (!p.series.is_empty())
            .then(|| serde_json::to_string(&p.series).ok())
            .flatten();
        self.execute(
            "UPDATE jobs SET items_done = $2, items_total = $3, bytes_done = $4,
                             bytes_total = $5, progress_series = $6
             WHERE id = $1 AND claimed_by = $7",
            &[
                &id,
                &(p.items_done as i64),
                &(p.items_total as i64),
                &(p.bytes_done as i64),
                &(p.bytes_total as i64),
                &series,
                &self.node,
            ],
        )?;
        Ok(())
    }

    fn finish(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&JobFailure>,
        output: Option<&serde_json::Value>,
    ) -> Result<bool, QueueError> {
        let output = output
            .or(error.and_then(|e| e.output.as_ref()))
            .map(|o| o.to_string());
        let changed = self.execute(
            "UPDATE jobs SET state = $2, error_category = $3, error_message = $4, output = $5,
                             finished_at = $6, retry_at = NULL, lease_until = NULL
             WHERE id = $1 AND (state IN ('queued', 'waiting_retry')
                                OR (state = 'running' AND claimed_by = $7))",
            &[
                &id,
                &state.as_str(),
                &error.map(|e| e.category.as_str()),
                &error.map(|e| e.message.as_str()),
                &output,
                &now_millis(),
                &self.node,
            ],
        )?;
        Ok(changed > 0)
    }

    fn set_waiting_retry(
        &self,
        id: JobId,
        error: &JobFailure,
        retry_at: i64,
    ) -> Result<bool, QueueError> {
        let changed = self.execute(
            "UPDATE jobs SET state = 'waiting_retry', error_category = $2, error_message = $3,
                             retry_at = $4, claimed_by = NULL, lease_until = NULL
             WHERE id = $1 AND state = 'running' AND claimed_by = $5",
            &[
                &id,
                &error.category.as_str(),
                &error.message,
                &retry_at,
                &self.node,
            ],
        )?;
        Ok(changed > 0)
    }

    fn set_priority(&self, id: JobId, priority: Priority) -> Result<bool, QueueError> {
        let changed = self.execute(
            &format!(
                "UPDATE jobs SET priority = $2
                 WHERE id = $1 AND state IN {PENDING} AND kind NOT IN {RECORDED}"
            ),
            &[&id, &priority.rank()],
        )?;
        Ok(changed > 0)
    }

    fn request_cancel(&self, id: JobId) -> Result<bool, QueueError> {
        let changed = self.execute(
            &format!(
                "UPDATE jobs SET cancel_requested = true
                 WHERE id = $1 AND state IN {PENDING} AND kind NOT IN {RECORDED}"
            ),
            &[&id],
        )?;
        Ok(changed > 0)
    }

    fn requeue(&self, id: JobId) -> Result<bool, QueueError> {
        let changed = self.execute(
            &format!(
                "UPDATE jobs SET state = 'queued', attempts = 0, error_category = NULL,
                             error_message = NULL, output = NULL, finished_at = NULL,
                             started_at = NULL, retry_at = NULL, cancel_requested = false,
                             items_done = 0, bytes_done = 0, progress_series = NULL,
                             claimed_by = NULL, lease_until = NULL
                 WHERE id = $1 AND state IN ('failed', 'canceled') AND kind NOT IN {RECORDED}"
            ),
            &[&id],
        )?;
        if changed > 0 {
            self.append_log(id, "queued again (retry)")?;
        }
        Ok(changed > 0)
    }

    /// This node's claims, whatever their leases: it restarted, so nothing of it runs them.
    fn recover_interrupted(&self) -> Result<Vec<JobId>, QueueError> {
        let node = self.node.clone();
        self.release_claims("claimed_by = $1", &node)
    }

    fn clear_finished(&self, before: Option<i64>) -> Result<u64, QueueError> {
        let removable = |table: &str| {
            format!(
                "{table}.state IN ('completed', 'failed', 'canceled')
                 AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs j ON j.id = d.job_id
                                 WHERE d.depends_on = {table}.id AND j.state IN {PENDING})"
            )
        };
        let activity = format!(
            "{} AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent = p.id
                 AND c.state IN {PENDING}) AND p.finished_at < $1",
            removable("p")
        );
        let children_sql = format!(
            "DELETE FROM jobs WHERE {} AND parent IN (SELECT p.id FROM jobs p WHERE {activity})",
            removable("jobs")
        );
        let rest_sql = format!(
            "DELETE FROM jobs WHERE {} AND finished_at < $1
             AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent = jobs.id
                             AND c.state IN {PENDING})",
            removable("jobs")
        );
        let before = before.unwrap_or(i64::MAX);
        self.with_client(|c| {
            let mut tx = c.transaction()?;
            let children = tx.execute(&children_sql, &[&before])?;
            let rest = tx.execute(&rest_sql, &[&before])?;
            tx.commit()?;
            Ok(children + rest)
        })
    }

    fn signal(&self, id: JobId) -> Result<(), QueueError> {
        let payload = notification(&self.origin, Some(id), None);
        self.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
        Ok(())
    }

    fn changes_cursor(&self) -> Result<i64, QueueError> {
        self.listener();
        Ok(0)
    }

    fn changes(&self, cursor: i64) -> Result<Changes, QueueError> {
        let inbox = std::mem::take(&mut *lock(&self.listener().inbox));
        Ok(Changes {
            cursor,
            jobs: inbox.jobs,
            events: inbox.events,
            resync: inbox.resync,
        })
    }

    fn renew_leases(&self) -> Result<(), QueueError> {
        let lease = self.lease.as_millis() as i64;
        self.execute(
            &format!(
                "UPDATE jobs SET lease_until = {NOW_MS} + $2
                 WHERE claimed_by = $1 AND state = 'running'"
            ),
            &[&self.node, &lease],
        )?;
        Ok(())
    }

    fn take_over_expired(&self) -> Result<Vec<JobId>, QueueError> {
        // Not this node's own: it renews them, however late.
        self.release_claims(
            &format!("lease_until < {NOW_MS} AND claimed_by <> $1"),
            &self.node,
        )
    }

    fn publisher(&self) -> Option<Arc<dyn EventPublisher>> {
        Some(Arc::new(Publisher {
            config: self.config.clone(),
            name: self.name.clone(),
            origin: self.origin.clone(),
            client: Mutex::new(None),
        }))
    }

    fn lease(&self) -> Option<Duration> {
        Some(self.lease)
    }
}

/// A name no other queue connection on the channel has: node, process, and a count.
fn origin_name(node: &str) -> String {
    static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{node}/{}/{started:x}/{}",
        std::process::id(),
        OPENED.fetch_add(1, Ordering::Relaxed)
    )
}

/// `?` marks numbered `$1`, `$2`… in order.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

fn read_row(r: &Row) -> Result<RowParts, postgres::Error> {
    Ok(RowParts {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        spec: r.try_get(2)?,
        title: r.try_get(3)?,
        priority: r.try_get(4)?,
        state: r.try_get(5)?,
        node: r.try_get(6)?,
        attempts: r.try_get::<_, i32>(7)? as u32,
        max_retries: r.try_get::<_, i32>(8)? as u32,
        progress: [
            r.try_get(9)?,
            r.try_get(10)?,
            r.try_get(11)?,
            r.try_get(12)?,
        ],
        error: (r.try_get(13)?, r.try_get(14)?),
        output: r.try_get(15)?,
        created_at: r.try_get(16)?,
        times: [r.try_get(17)?, r.try_get(18)?, r.try_get(19)?],
        cancel_requested: r.try_get(20)?,
        depends_on: r.try_get(21)?,
        progress_series: r.try_get(22)?,
        parent: r.try_get(23)?,
        children: r.try_get(24)?,
        claimed_by: r.try_get(25)?,
    })
}
