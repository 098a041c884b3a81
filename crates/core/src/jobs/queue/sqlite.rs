//! The queue of one data directory: `jobs.sqlite`, run by the engine of the server that holds
//! the data directory's lock.

use super::{
    filter_clauses, Changes, Claim, ClaimLimits, JobQueue, NewJob, QueueBackend, QueueError,
    QueueErrorKind, RowParts, Submitted, PENDING, RECORDED,
};
use crate::jobs::{
    now_millis, JobFailure, JobFilter, JobId, JobKind, JobRecord, JobState, LogLine, Priority,
    Progress,
};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    duplicate_key TEXT NOT NULL,
    title TEXT NOT NULL,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL,
    node TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_retries INTEGER NOT NULL,
    items_done INTEGER NOT NULL DEFAULT 0,
    items_total INTEGER NOT NULL DEFAULT 0,
    bytes_done INTEGER NOT NULL DEFAULT 0,
    bytes_total INTEGER NOT NULL DEFAULT 0,
    error_category TEXT,
    error_message TEXT,
    output TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    retry_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_state ON jobs(state, id);
CREATE INDEX jobs_pending_key ON jobs(duplicate_key)
    WHERE state IN ('queued', 'running', 'waiting_retry');
CREATE INDEX jobs_by_finish ON jobs(finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE job_dependencies (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    depends_on INTEGER NOT NULL,
    PRIMARY KEY (job_id, depends_on)
);
CREATE INDEX job_dependents ON job_dependencies(depends_on);
CREATE TABLE job_log (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_log_by_job ON job_log(job_id);
-- AUTOINCREMENT: sequence numbers are never reused once consumed signals are deleted.
CREATE TABLE job_signals (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id INTEGER NOT NULL);
";

/// Version 2: the per-series progress of jobs that span several series, as JSON.
const PER_SERIES_PROGRESS: &str = "ALTER TABLE jobs ADD COLUMN progress_series TEXT;";

/// Version 3: the activity a job belongs to.
const PARENTS: &str = "ALTER TABLE jobs ADD COLUMN parent INTEGER;
    CREATE INDEX jobs_by_parent ON jobs(parent, state) WHERE parent IS NOT NULL;";

const COLUMNS: &str = "id, kind, spec, title, priority, state, node, attempts, max_retries,
    items_done, items_total, bytes_done, bytes_total, error_category, error_message, output,
    created_at, started_at, finished_at, retry_at, cancel_requested,
    (SELECT group_concat(depends_on) FROM job_dependencies d WHERE d.job_id = jobs.id),
    progress_series, parent,
    (SELECT json_array(count(*), sum(c.state IN ('queued', 'running', 'waiting_retry')),
                       sum(c.state = 'completed'), sum(c.state = 'failed'),
                       sum(c.state = 'canceled'))
     FROM jobs c WHERE c.parent = jobs.id)";

/// An activity (`p`) none of whose jobs is pending.
const PARENT_OF_NONE_PENDING: &str = "NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent = p.id
    AND c.state IN ('queued', 'running', 'waiting_retry'))";

pub struct SqliteQueue {
    conn: Connection,
    path: PathBuf,
}

impl SqliteQueue {
    /// Opens (creating if needed) the queue of a data directory.
    pub fn open(data_dir: &Path) -> Result<SqliteQueue, QueueError> {
        let path = data_dir.join("jobs.sqlite");
        let conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (from, step) in [(0, SCHEMA), (1, PER_SERIES_PROGRESS), (2, PARENTS)] {
            if version > from {
                continue;
            }
            let to = from + 1;
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {step} PRAGMA user_version = {to}; COMMIT;"
            ))
            .or_else(|e| {
                // Another process took this step first.
                let _ = conn.execute_batch("ROLLBACK");
                let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
                if v >= to {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        }
        Ok(SqliteQueue { conn, path })
    }

    fn rows(&self, sql: &str, values: &[String]) -> Result<Vec<JobRecord>, QueueError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let rows = statement
            .query_map(params_from_iter(values.iter()), read_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(RowParts::into_record).collect()
    }
}

impl QueueBackend for SqliteQueue {
    fn reopen(&self) -> Result<JobQueue, QueueError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        Ok(JobQueue::from_backend(Box::new(SqliteQueue::open(dir)?)))
    }

    /// Queues a job, or merges it into a pending job with the same specification (raising that
    /// job's priority if this submission's is higher).
    fn submit(&mut self, job: &NewJob, default_retries: u32) -> Result<Submitted, QueueError> {
        let key = job.spec.duplicate_key();
        let priority = job.priority.unwrap_or_else(|| job.spec.default_priority());
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing: Option<(JobId, i64)> = tx
            .query_row(
                &format!(
                    "SELECT id, priority FROM jobs WHERE duplicate_key = ?1 AND state IN {PENDING}
                     ORDER BY id LIMIT 1"
                ),
                [&key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((id, current)) = existing {
            let raised = priority.rank() > current;
            if raised {
                tx.execute(
                    "UPDATE jobs SET priority = ?2 WHERE id = ?1",
                    params![id, priority.rank()],
                )?;
            }
            tx.commit()?;
            return Ok(Submitted {
                id,
                merged: true,
                raised,
            });
        }
        tx.execute(
            "INSERT INTO jobs (kind, spec, duplicate_key, title, priority, state, node,
                               max_retries, created_at, parent)
             VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?9)",
            params![
                job.spec.kind().as_str(),
                key,
                key,
                job.title(),
                priority.rank(),
                job.spec.node(),
                job.max_retries.unwrap_or(default_retries),
                now_millis(),
                job.parent
            ],
        )?;
        let id = tx.last_insert_rowid();
        for dependency in &job.depends_on {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE id = ?1)",
                [dependency],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(QueueErrorKind::UnknownDependency(id, *dependency).into());
            }
            tx.execute(
                "INSERT OR IGNORE INTO job_dependencies (job_id, depends_on) VALUES (?1, ?2)",
                params![id, dependency],
            )?;
        }
        tx.commit()?;
        Ok(Submitted {
            id,
            merged: false,
            raised: false,
        })
    }

    /// Records an activity the engine does not run (an association a peer opened): running
    /// from now on, until [`finish`](Self::finish).
    fn open_activity(&self, job: &NewJob) -> Result<JobId, QueueError> {
        let now = now_millis();
        let id = self.conn.query_row(
            "INSERT INTO jobs (kind, spec, duplicate_key, title, priority, state, node,
                               attempts, max_retries, created_at, started_at, parent)
             VALUES (?1, ?2, ?2, ?3, ?4, 'running', ?5, 1, 0, ?6, ?6, ?7) RETURNING id",
            params![
                job.spec.kind().as_str(),
                job.spec.duplicate_key(),
                job.title(),
                job.priority
                    .unwrap_or_else(|| job.spec.default_priority())
                    .rank(),
                job.spec.node(),
                now,
                job.parent
            ],
            |r| r.get(0),
        )?;
        Ok(id)
    }

    fn set_title(&self, id: JobId, title: &str) -> Result<(), QueueError> {
        self.conn
            .prepare_cached("UPDATE jobs SET title = ?2 WHERE id = ?1")?
            .execute(params![id, title])?;
        Ok(())
    }

    fn get(&self, id: JobId) -> Result<Option<JobRecord>, QueueError> {
        Ok(self
            .rows(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?"),
                &[id.to_string()],
            )?
            .pop())
    }

    /// A page of jobs, newest first, and the number of jobs the filter matches.
    fn list(&self, filter: &JobFilter) -> Result<(Vec<JobRecord>, u64), QueueError> {
        let (clauses, values) = filter_clauses(filter, "instr");
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM jobs {filter_sql}"),
            params_from_iter(values.iter()),
            |r| r.get(0),
        )?;
        let total = total as u64;
        let limit = filter.limit.map(|l| l as i64).unwrap_or(-1);
        let jobs = self.rows(
            &format!(
                "SELECT {COLUMNS} FROM jobs {filter_sql} ORDER BY id DESC LIMIT {limit} OFFSET {}",
                filter.offset
            ),
            &values,
        )?;
        Ok((jobs, total))
    }

    /// Queued, waiting and running jobs, for the engine to schedule at start-up.
    fn pending(&self) -> Result<Vec<JobRecord>, QueueError> {
        self.rows(
            &format!(
                "SELECT {COLUMNS} FROM jobs WHERE state IN {PENDING} AND kind NOT IN {RECORDED}
                 ORDER BY id"
            ),
            &[],
        )
    }

    /// Jobs waiting for `id` to finish.
    fn dependents(&self, id: JobId) -> Result<Vec<JobId>, QueueError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT job_id FROM job_dependencies WHERE depends_on = ?1")?;
        let ids = statement
            .query_map([id], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    fn state(&self, id: JobId) -> Result<Option<JobState>, QueueError> {
        let state: Option<String> = self
            .conn
            .query_row("SELECT state FROM jobs WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        Ok(state.and_then(|s| JobState::parse(&s)))
    }

    fn log(&self, id: JobId) -> Result<Vec<LogLine>, QueueError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT at, message FROM job_log WHERE job_id = ?1 ORDER BY rowid")?;
        let lines = statement
            .query_map([id], |r| {
                Ok(LogLine {
                    at: r.get(0)?,
                    message: r.get(1)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(lines)
    }

    fn append_log(&self, id: JobId, message: &str) -> Result<(), QueueError> {
        self.conn
            .prepare_cached("INSERT INTO job_log (job_id, at, message) VALUES (?1, ?2, ?3)")?
            .execute(params![id, now_millis(), message])?;
        Ok(())
    }

    /// The engine is this queue's only executor: its own schedule keeps the caps.
    fn claim(
        &self,
        id: JobId,
        _kind: JobKind,
        _node: Option<&str>,
        _limits: ClaimLimits,
    ) -> Result<Claim, QueueError> {
        let attempts: Option<u32> = self
            .conn
            .query_row(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?2,
                                 retry_at = NULL
                 WHERE id = ?1 AND state IN ('queued', 'waiting_retry') RETURNING attempts",
                params![id, now_millis()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(attempts.map_or(Claim::Taken, Claim::Started))
    }

    fn set_progress(&self, id: JobId, p: &Progress) -> Result<(), QueueError> {
        self.conn
            .prepare_cached(
                "UPDATE jobs SET items_done = ?2, items_total = ?3, bytes_done = ?4,
                                 bytes_total = ?5, progress_series = ?6 WHERE id = ?1",
            )?
            .execute(params![
                id,
                p.items_done as i64,
                p.items_total as i64,
                p.bytes_done as i64,
                p.bytes_total as i64,
                (!p.series.is_empty())
                    .then(|| serde_json::to_string(&p.series).ok())
                    .flatten()
            ])?;
        Ok(())
    }

    /// A job ends: completed (with its output), failed or canceled (with the reason).
    fn finish(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&JobFailure>,
        output: Option<&serde_json::Value>,
    ) -> Result<bool, QueueError> {
        let output = output.or(error.and_then(|e| e.output.as_ref()));
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE jobs SET state = ?2, error_category = ?3, error_message = ?4,
                                 output = ?5, finished_at = ?6, retry_at = NULL
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                state.as_str(),
                error.map(|e| e.category.as_str()),
                error.map(|e| e.message.as_str()),
                output.map(|o| o.to_string()),
                now_millis()
            ])?;
        Ok(changed > 0)
    }

    fn set_waiting_retry(
        &self,
        id: JobId,
        error: &JobFailure,
        retry_at: i64,
    ) -> Result<bool, QueueError> {
        let changed = self.conn.execute(
            "UPDATE jobs SET state = 'waiting_retry', error_category = ?2, error_message = ?3,
                             retry_at = ?4 WHERE id = ?1",
            params![id, error.category.as_str(), error.message, retry_at],
        )?;
        Ok(changed > 0)
    }

    fn set_priority(&self, id: JobId, priority: Priority) -> Result<bool, QueueError> {
        let changed = self.conn.execute(
            &format!(
                "UPDATE jobs SET priority = ?2
                 WHERE id = ?1 AND state IN {PENDING} AND kind NOT IN {RECORDED}"
            ),
            params![id, priority.rank()],
        )?;
        Ok(changed > 0)
    }

    /// Marks a pending job for cancellation (the engine carries it out).
    fn request_cancel(&self, id: JobId) -> Result<bool, QueueError> {
        let changed = self.conn.execute(
            &format!(
                "UPDATE jobs SET cancel_requested = 1
                 WHERE id = ?1 AND state IN {PENDING} AND kind NOT IN {RECORDED}"
            ),
            [id],
        )?;
        Ok(changed > 0)
    }

    /// A failed or canceled job goes back to the queue, with its attempts counted afresh.
    fn requeue(&self, id: JobId) -> Result<bool, QueueError> {
        let changed = self.conn.execute(
            &format!(
                "UPDATE jobs SET state = 'queued', attempts = 0, error_category = NULL,
                             error_message = NULL, output = NULL, finished_at = NULL,
                             started_at = NULL, retry_at = NULL, cancel_requested = 0,
                             items_done = 0, bytes_done = 0, progress_series = NULL
             WHERE id = ?1 AND state IN ('failed', 'canceled') AND kind NOT IN {RECORDED}"
            ),
            [id],
        )?;
        if changed > 0 {
            self.append_log(id, "queued again (retry)")?;
        }
        Ok(changed > 0)
    }

    /// Jobs that were running when the engine stopped (a crash or `kill -9`) go back to the
    /// queue; their attempt does not count against their retries.
    /// Activities that were under way (an association cut by the stop) end as failed.
    fn recover_interrupted(&self) -> Result<Vec<JobId>, QueueError> {
        self.conn.execute(
            &format!(
                "UPDATE jobs SET state = 'failed', error_category = 'network',
                     error_message = 'the server stopped while this was under way',
                     finished_at = ?1
                 WHERE state = 'running' AND kind IN {RECORDED}"
            ),
            [now_millis()],
        )?;
        let mut statement = self.conn.prepare(
            "UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0)
             WHERE state = 'running' RETURNING id",
        )?;
        let ids: Vec<JobId> = statement
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        for id in &ids {
            self.append_log(*id, "interrupted (the server stopped); queued again")?;
        }
        Ok(ids)
    }

    /// Removes finished jobs (all of them, or those finished before `before`). A job others
    /// wait for stays, and so does an activity with jobs still pending; an activity removed
    /// takes its finished jobs with it (they would otherwise belong to nothing listed).
    fn clear_finished(&self, before: Option<i64>) -> Result<u64, QueueError> {
        let removable = |table: &str| {
            format!(
                "{table}.state IN ('completed', 'failed', 'canceled')
                 AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs j ON j.id = d.job_id
                                 WHERE d.depends_on = {table}.id AND j.state IN {PENDING})"
            )
        };
        let activity = format!(
            "{} AND {PARENT_OF_NONE_PENDING} AND p.finished_at < ?1",
            removable("p")
        );
        let tx = self.conn.unchecked_transaction()?;
        let children = tx.execute(
            &format!(
                "DELETE FROM jobs WHERE {} AND parent IN (SELECT p.id FROM jobs p WHERE {activity})",
                removable("jobs")
            ),
            [before.unwrap_or(i64::MAX)],
        )?;
        let removed = tx.execute(
            &format!(
                "DELETE FROM jobs WHERE {} AND finished_at < ?1
                 AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent = jobs.id
                                 AND c.state IN {PENDING})",
                removable("jobs")
            ),
            [before.unwrap_or(i64::MAX)],
        )?;
        tx.commit()?;
        Ok((children + removed) as u64)
    }

    /// Tells the engine (in whichever process runs it) that a job changed.
    fn signal(&self, id: JobId) -> Result<(), QueueError> {
        self.conn
            .prepare_cached("INSERT INTO job_signals (job_id) VALUES (?1)")?
            .execute([id])?;
        Ok(())
    }

    fn changes(&self, cursor: i64) -> Result<Changes, QueueError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT seq, job_id FROM job_signals WHERE seq > ?1 ORDER BY seq")?;
        let signals = statement
            .query_map([cursor], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, JobId>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let Some(&(last, _)) = signals.last() else {
            return Ok(Changes {
                cursor,
                ..Changes::default()
            });
        };
        // Consumed signals are deleted.
        self.conn
            .execute("DELETE FROM job_signals WHERE seq <= ?1", [last])?;
        Ok(Changes {
            cursor: last,
            jobs: signals.into_iter().map(|(_, id)| id).collect(),
            ..Changes::default()
        })
    }

    /// The latest signal's sequence number (signals before it are not for this engine).
    fn changes_cursor(&self) -> Result<i64, QueueError> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM job_signals", [], |r| {
                r.get(0)
            })?)
    }
}

fn read_row(r: &rusqlite::Row) -> rusqlite::Result<RowParts> {
    Ok(RowParts {
        id: r.get(0)?,
        kind: r.get(1)?,
        spec: r.get(2)?,
        title: r.get(3)?,
        priority: r.get(4)?,
        state: r.get(5)?,
        node: r.get(6)?,
        attempts: r.get(7)?,
        max_retries: r.get(8)?,
        progress: [r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?],
        error: (r.get(13)?, r.get(14)?),
        output: r.get(15)?,
        created_at: r.get(16)?,
        times: [r.get(17)?, r.get(18)?, r.get(19)?],
        cancel_requested: r.get::<_, i64>(20)? != 0,
        depends_on: r.get(21)?,
        progress_series: r.get(22)?,
        parent: r.get(23)?,
        children: r.get(24)?,
        claimed_by: None,
    })
}
