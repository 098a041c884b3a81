//! The scheduler: picks the next job by priority (then age) among those whose kind and node are
//! under their caps — a kind or node at its cap is passed over, never waited on — runs it on a
//! worker thread, retries transient failures with exponential backoff, releases dependent jobs,
//! and publishes every change as a [`JobEvent`].
//!
//! Where the queue is shared by a cluster, each node's engine schedules every pending job it
//! can run and claims one before running it; the claim (and the cluster-wide caps) decide which
//! node runs it. The engine renews its claims' leases, takes over jobs whose leases ran out, and
//! passes the other nodes' events on to its own listeners.

use super::queue::Submitted;
use super::queue::{Changes, Claim, ClaimLimits, EventPublisher, JobQueue, NewJob, QueueError};
use super::{
    now_millis, FailureCategory, JobEvent, JobFailure, JobFilter, JobId, JobKind, JobRecord,
    JobState, LogLine, Priority, Progress,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Carries out jobs. The engine calls it on a worker thread; it returns the job's output (JSON
/// shown to the user) or why it failed. It must watch [`JobContext::is_canceled`] (or hand
/// [`JobContext::cancel_flag`] to the network layer) and return promptly once it is set.
pub trait Runner: Send + Sync + 'static {
    fn run(
        &self,
        job: &JobRecord,
        ctx: &JobContext,
    ) -> Result<Option<serde_json::Value>, JobFailure>;

    /// Whether this node can run the job (it knows the job's remote node). Asked where nodes
    /// share the queue, so that a node leaves a job it cannot run to the others.
    fn can_run(&self, _job: &JobRecord) -> bool {
        true
    }
}

#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Jobs running at once, all kinds together.
    pub workers: usize,
    /// Jobs of one kind running at once.
    pub kind_caps: HashMap<JobKind, usize>,
    /// Jobs talking to one node at once.
    pub node_cap: usize,
    /// Automatic retries after a transient failure, unless a job says otherwise.
    pub max_retries: u32,
    /// The first retry waits this long; each further one twice as long, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Finished jobs older than this are removed from the history.
    pub history: Duration,
    /// How often changes made by other processes are picked up.
    pub poll_interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        let kind_caps = [
            (JobKind::Import, 2),
            (JobKind::Query, 4),
            (JobKind::Retrieve, 4),
            (JobKind::Send, 2),
            (JobKind::Thumbnail, 2),
            (JobKind::Echo, 4),
            (JobKind::Delete, 1),
            (JobKind::Modify, 1),
            (JobKind::Anonymize, 1),
        ]
        .into_iter()
        .collect();
        EngineConfig {
            workers: 8,
            kind_caps,
            node_cap: 4,
            max_retries: 3,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            history: Duration::from_secs(7 * 24 * 3600),
            poll_interval: Duration::from_millis(50),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("another Lightbox process already runs the job engine of this data directory")]
    AlreadyRunning,
    #[error("{0}")]
    Queue(#[from] QueueError),
    #[error("job engine: {0}")]
    Io(#[from] std::io::Error),
}

/// What a running job sees of the engine: its cancel flag, and where progress, log lines and
/// follow-up jobs go.
pub struct JobContext {
    pub id: JobId,
    /// 1 for the first attempt.
    pub attempt: u32,
    cancel: Arc<AtomicBool>,
    sink: Box<dyn ContextSink>,
    /// Chains of jobs to queue once this one completes: each waits for the one before it.
    follow_ups: Mutex<Vec<Vec<NewJob>>>,
}

/// Where a [`JobContext`] reports to: the engine, or a terminal when a job runs in-process.
pub trait ContextSink: Send + Sync {
    fn progress(&self, id: JobId, progress: &Progress);
    fn log(&self, id: JobId, message: &str);
    /// The job ended: anything held back by throttling goes out now.
    fn flush(&self, _id: JobId) {}
}

impl JobContext {
    /// A context outside any engine (the CLI running a job in-process).
    pub fn standalone(sink: Box<dyn ContextSink>, cancel: Arc<AtomicBool>) -> JobContext {
        JobContext {
            id: 0,
            attempt: 1,
            cancel,
            sink,
            follow_ups: Mutex::new(Vec::new()),
        }
    }

    pub fn is_canceled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// The flag to hand to operations that cancel themselves (C-CANCEL, aborting associations).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    pub fn progress(&self, progress: Progress) {
        self.sink.progress(self.id, &progress);
    }

    pub fn log(&self, message: impl AsRef<str>) {
        self.sink.log(self.id, message.as_ref());
    }

    /// A job to queue once this one completes (it depends on this one).
    pub fn follow_up(&self, job: NewJob) {
        lock(&self.follow_ups).push(vec![job]);
    }

    /// Jobs to queue once this one completes, each waiting for the one before it (retrieve the
    /// middle instance → its thumbnail → the whole series).
    pub fn follow_up_chain(&self, jobs: Vec<NewJob>) {
        lock(&self.follow_ups).push(jobs);
    }

    /// The follow-ups asked for so far (the engine queues them; a standalone run may run them).
    pub fn take_follow_ups(&self) -> Vec<Vec<NewJob>> {
        std::mem::take(&mut *lock(&self.follow_ups))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking job is caught before it could poison anything the engine holds; recover anyway.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Ready,
    /// Waiting for the jobs it depends on.
    Blocked,
    /// Waiting until this time (ms) to be retried.
    Waiting(i64),
    Running,
}

struct Entry {
    kind: JobKind,
    node: Option<String>,
    priority: Priority,
    phase: Phase,
    blocked_on: HashSet<JobId>,
    cancel: Arc<AtomicBool>,
    canceled_by_user: bool,
}

type Lane = (JobKind, Option<String>);

#[derive(Default)]
struct Schedule {
    entries: HashMap<JobId, Entry>,
    /// Ready jobs by lane (kind, node), best first: the head of each lane is its next job.
    lanes: BTreeMap<Lane, BTreeSet<(Reverse<Priority>, JobId)>>,
    waiting: BTreeSet<(i64, JobId)>,
    running: usize,
    running_by_kind: HashMap<JobKind, usize>,
    running_by_node: HashMap<String, usize>,
    /// Lanes at their cap across the cluster, passed over until then.
    paused: HashMap<Lane, Instant>,
    stopping: bool,
    threads: Vec<JoinHandle<()>>,
}

impl Schedule {
    fn make_ready(&mut self, id: JobId) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.phase = Phase::Ready;
            self.lanes
                .entry((e.kind, e.node.clone()))
                .or_default()
                .insert((Reverse(e.priority), id));
        }
    }

    fn unready(&mut self, id: JobId) {
        if let Some(e) = self.entries.get(&id) {
            let lane = (e.kind, e.node.clone());
            if let Some(set) = self.lanes.get_mut(&lane) {
                set.remove(&(Reverse(e.priority), id));
                if set.is_empty() {
                    self.lanes.remove(&lane);
                }
            }
        }
    }

    fn remove(&mut self, id: JobId) -> Option<Entry> {
        let entry = self.entries.get(&id)?;
        match entry.phase {
            Phase::Ready => self.unready(id),
            Phase::Waiting(at) => {
                self.waiting.remove(&(at, id));
            }
            Phase::Blocked | Phase::Running => {}
        }
        self.entries.remove(&id)
    }

    fn under_caps(&self, lane: &Lane, config: &EngineConfig) -> bool {
        if self
            .paused
            .get(lane)
            .is_some_and(|until| *until > Instant::now())
        {
            return false;
        }
        let kind_cap = config
            .kind_caps
            .get(&lane.0)
            .copied()
            .unwrap_or(config.workers);
        let kind_running = self.running_by_kind.get(&lane.0).copied().unwrap_or(0);
        let node_running = lane
            .1
            .as_ref()
            .map(|n| self.running_by_node.get(n).copied().unwrap_or(0))
            .unwrap_or(0);
        kind_running < kind_cap && (lane.1.is_none() || node_running < config.node_cap)
    }

    /// The best ready job whose lane is under its caps: lanes at a cap are passed over.
    fn next_runnable(&self, config: &EngineConfig) -> Option<JobId> {
        self.lanes
            .iter()
            .filter(|(lane, _)| self.under_caps(lane, config))
            .filter_map(|(_, set)| set.first())
            .min()
            .map(|(_, id)| *id)
    }
}

struct Shared {
    queue: Mutex<JobQueue>,
    schedule: Mutex<Schedule>,
    wake: Condvar,
    runner: Arc<dyn Runner>,
    events: broadcast::Sender<JobEvent>,
    /// Where this engine's events go to the other nodes (a shared queue only).
    publisher: Option<Arc<dyn EventPublisher>>,
    /// How long a claim holds (a shared queue only).
    lease: Option<Duration>,
    config: EngineConfig,
}

/// How long a lane at its cluster-wide cap is passed over before it is tried again.
const CAP_PAUSE: Duration = Duration::from_millis(250);

/// How often a running engine drops finished jobs older than its history.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How long a shutdown waits for interrupted jobs to return.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The running engine. Dropping it (or [`Engine::shutdown`]) interrupts running jobs, which go
/// back to the queue for the next start.
pub struct Engine {
    shared: Arc<Shared>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
    /// Held while the engine runs: one engine per data directory.
    lock: Mutex<Option<File>>,
}

/// Whether an engine runs on this data directory (in this or another process).
pub fn engine_running(data_dir: &Path) -> bool {
    match File::create(data_dir.join("jobs.lock")) {
        Ok(file) => match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(_) => true,
        },
        Err(_) => false,
    }
}

impl Engine {
    /// Starts the engine of a data directory on its own queue (`jobs.sqlite`).
    pub fn start(
        data_dir: &Path,
        runner: Arc<dyn Runner>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let queue = JobQueue::open(data_dir)?;
        Engine::start_on(data_dir, queue, runner, config)
    }

    /// Starts the engine of a data directory on `queue`: jobs this engine was running when it
    /// last stopped are queued again, and every pending job is scheduled.
    pub fn start_on(
        data_dir: &Path,
        queue: JobQueue,
        runner: Arc<dyn Runner>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let lock_file = File::create(data_dir.join("jobs.lock"))?;
        if lock_file.try_lock().is_err() {
            return Err(EngineError::AlreadyRunning);
        }
        // Listening starts before the pending jobs are read: nothing submitted meanwhile is
        // missed.
        let last_signal = queue.changes_cursor()?;
        queue.recover_interrupted()?;
        let history_cutoff = now_millis() - config.history.as_millis() as i64;
        queue.clear_finished(Some(history_cutoff))?;
        let pending = queue.pending()?;
        let (events, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared {
            publisher: queue.publisher(),
            lease: queue.lease(),
            queue: Mutex::new(queue),
            schedule: Mutex::new(Schedule::default()),
            wake: Condvar::new(),
            runner,
            events,
            config,
        });
        for job in pending {
            shared.admit(&job)?;
        }
        let dispatcher = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("job-dispatcher".into())
                .spawn(move || shared.dispatch(last_signal))?
        };
        Ok(Engine {
            shared,
            dispatcher: Mutex::new(Some(dispatcher)),
            lock: Mutex::new(Some(lock_file)),
        })
    }

    pub fn submit(&self, job: NewJob) -> Result<Submitted, EngineError> {
        self.shared.submit(job)
    }

    /// Cancels a job: at once if it has not started, within a second if it runs (on this node
    /// or, where nodes share the queue, on the one that runs it).
    pub fn cancel(&self, id: JobId) -> Result<bool, EngineError> {
        if self.shared.cancel(id, "canceled by the user")? {
            return Ok(true);
        }
        self.shared.cancel_elsewhere(id)
    }

    /// Queues a failed or canceled job again.
    pub fn retry(&self, id: JobId) -> Result<bool, EngineError> {
        let requeued = lock(&self.shared.queue).requeue(id)?;
        if requeued {
            self.shared.load(id)?;
        }
        Ok(requeued)
    }

    /// Moves a pending job up or down the queue (the user opened the series it retrieves).
    pub fn set_priority(&self, id: JobId, priority: Priority) -> Result<bool, EngineError> {
        let changed = lock(&self.shared.queue).set_priority(id, priority)?;
        if changed {
            self.shared.reprioritise(id, priority);
        }
        Ok(changed)
    }

    /// Removes every finished job from the history.
    pub fn clear_finished(&self) -> Result<u64, EngineError> {
        let count = lock(&self.shared.queue).clear_finished(None)?;
        let _ = self.shared.events.send(JobEvent::Cleared { count });
        Ok(count)
    }

    pub fn get(&self, id: JobId) -> Result<Option<JobRecord>, EngineError> {
        Ok(lock(&self.shared.queue).get(id)?)
    }

    /// Records work this engine does not run (an association a peer opened), as a running job
    /// that the returned [`Activity`] reports on and ends.
    pub fn open_activity(&self, job: NewJob) -> Result<Activity, EngineError> {
        let id = lock(&self.shared.queue).open_activity(&job)?;
        let priority = job.priority.unwrap_or_else(|| job.spec.default_priority());
        self.shared.emit(JobEvent::Queued {
            id,
            kind: job.spec.kind(),
            title: job.title(),
            priority,
            merged: false,
            parent: job.parent,
        });
        self.shared.emit(JobEvent::State {
            id,
            state: JobState::Running,
            attempts: 1,
            error: None,
            retry_at: None,
            title: None,
        });
        Ok(Activity {
            id,
            sink: EngineSink {
                shared: self.shared.clone(),
                throttle: Mutex::new(Throttle::default()),
            },
        })
    }

    pub fn list(&self, filter: &JobFilter) -> Result<(Vec<JobRecord>, u64), EngineError> {
        Ok(lock(&self.shared.queue).list(filter)?)
    }

    pub fn log(&self, id: JobId) -> Result<Vec<LogLine>, EngineError> {
        Ok(lock(&self.shared.queue).log(id)?)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.shared.events.subscribe()
    }

    /// Waits until a job is finished, or `timeout` passes; returns its record then.
    pub fn wait(&self, id: JobId, timeout: Duration) -> Result<Option<JobRecord>, EngineError> {
        self.wait_until(id, timeout, |state| state.is_finished())
    }

    /// Waits for the job to end or for its first attempt to fail (it then waits to be retried),
    /// at most `timeout`: someone waiting on a node that cannot be reached hears of it at once.
    pub fn wait_for_attempt(
        &self,
        id: JobId,
        timeout: Duration,
    ) -> Result<Option<JobRecord>, EngineError> {
        self.wait_until(id, timeout, |state| {
            state.is_finished() || *state == JobState::WaitingRetry
        })
    }

    fn wait_until(
        &self,
        id: JobId,
        timeout: Duration,
        done: impl Fn(&JobState) -> bool,
    ) -> Result<Option<JobRecord>, EngineError> {
        let deadline = Instant::now() + timeout;
        loop {
            let record = self.get(id)?;
            let finished = record.as_ref().is_none_or(|r| done(&r.state));
            if finished || Instant::now() >= deadline {
                return Ok(record);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the engine: running jobs are interrupted and queued again for the next start.
    pub fn shutdown(&self) {
        self.stop();
    }

    fn stop(&self) {
        let threads = {
            let mut schedule = lock(&self.shared.schedule);
            schedule.stopping = true;
            for entry in schedule.entries.values() {
                if entry.phase == Phase::Running {
                    entry.cancel.store(true, Ordering::SeqCst);
                }
            }
            std::mem::take(&mut schedule.threads)
        };
        self.shared.wake.notify_all();
        // A job that ignores its cancel flag is left behind rather than holding up the stop.
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        let mut all_returned = true;
        for thread in threads {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                all_returned = false;
            }
        }
        let dispatcher = lock(&self.dispatcher).take();
        if let Some(dispatcher) = dispatcher {
            let _ = dispatcher.join();
        }
        if self.shared.lease.is_some() && all_returned {
            // The other nodes take the interrupted jobs over now rather than when the leases
            // run out. One left running keeps its lease until it lapses: never two runs at once.
            if let Err(e) = lock(&self.shared.queue).recover_interrupted() {
                tracing::warn!(error = %e, "job engine: releasing the claims failed");
            }
        }
        // Another engine may start on this data directory from now on.
        lock(&self.lock).take();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    /// Publishes an event of this engine's: to its listeners and to the other nodes.
    fn emit(&self, event: JobEvent) {
        if let Some(publisher) = &self.publisher {
            publisher.publish(&event);
        }
        self.emit_here(event);
    }

    /// Passes an event on to this engine's listeners only.
    fn emit_here(&self, event: JobEvent) {
        // No subscriber is fine: events are for whoever listens now.
        let _ = self.events.send(event);
    }

    /// Asks the node that runs a job (another one, or another process) to cancel it.
    fn cancel_elsewhere(&self, id: JobId) -> Result<bool, EngineError> {
        let queue = lock(&self.queue);
        let asked = queue.request_cancel(id)?;
        if asked {
            queue.signal(id)?;
        }
        Ok(asked)
    }

    fn submit(&self, job: NewJob) -> Result<Submitted, EngineError> {
        let submitted = lock(&self.queue).submit(&job, self.config.max_retries)?;
        let priority = job.priority.unwrap_or_else(|| job.spec.default_priority());
        if submitted.merged {
            if submitted.raised {
                self.reprioritise(submitted.id, priority);
            }
            self.emit(JobEvent::Queued {
                id: submitted.id,
                kind: job.spec.kind(),
                title: job.title(),
                priority,
                merged: true,
                parent: job.parent,
            });
        } else {
            self.load(submitted.id)?;
        }
        Ok(submitted)
    }

    /// Takes a pending job from the queue into the schedule (a new job, a retry, or one queued
    /// by another process).
    fn load(&self, id: JobId) -> Result<(), EngineError> {
        let record = lock(&self.queue).get(id)?;
        if let Some(record) = record {
            if !record.state.is_finished() {
                // Announced before it can start, so listeners see "queued" before "running".
                self.emit(JobEvent::Queued {
                    id,
                    kind: record.kind,
                    title: record.title.clone(),
                    priority: record.priority,
                    merged: false,
                    parent: record.parent,
                });
                self.admit(&record)?;
            }
        }
        Ok(())
    }

    fn admit(&self, record: &JobRecord) -> Result<(), EngineError> {
        let id = record.id;
        if lock(&self.schedule).entries.contains_key(&id) {
            return Ok(());
        }
        if self.lease.is_some() && !self.runner.can_run(record) {
            return Ok(());
        }
        // Dependencies that already ended decide at once; pending ones block.
        let mut blocked_on = HashSet::new();
        for dependency in &record.depends_on {
            // Read, and the queue's lock released, before matching: a guard in the match's
            // scrutinee would live through its arms, and ending the job locks the queue again.
            let state = lock(&self.queue).state(*dependency)?;
            match state {
                Some(JobState::Completed) | None => {}
                Some(JobState::Failed) => {
                    return self.end_unstarted(
                        id,
                        JobState::Failed,
                        format!("job {dependency}, which this one needs, failed"),
                    );
                }
                Some(JobState::Canceled) => {
                    return self.end_unstarted(
                        id,
                        JobState::Canceled,
                        format!("job {dependency}, which this one needs, was canceled"),
                    );
                }
                Some(_) => {
                    blocked_on.insert(*dependency);
                }
            }
        }
        let mut schedule = lock(&self.schedule);
        let phase = if !blocked_on.is_empty() {
            Phase::Blocked
        } else if record.state == JobState::WaitingRetry {
            Phase::Waiting(record.retry_at.unwrap_or(0))
        } else {
            Phase::Ready
        };
        schedule.entries.insert(
            id,
            Entry {
                kind: record.kind,
                node: record.node.clone(),
                priority: record.priority,
                phase,
                blocked_on,
                cancel: Arc::new(AtomicBool::new(false)),
                canceled_by_user: false,
            },
        );
        match phase {
            Phase::Ready => schedule.make_ready(id),
            Phase::Waiting(at) => {
                schedule.waiting.insert((at, id));
            }
            Phase::Blocked | Phase::Running => {}
        }
        drop(schedule);
        self.wake.notify_all();
        if record.cancel_requested {
            self.cancel(id, "canceled by the user")?;
        }
        Ok(())
    }

    /// Ends a job that never started (canceled while queued, or its dependency ended badly).
    fn end_unstarted(&self, id: JobId, state: JobState, reason: String) -> Result<(), EngineError> {
        let error = JobFailure::new(FailureCategory::Dependency, reason.clone());
        let ended = {
            let queue = lock(&self.queue);
            if state == JobState::Failed {
                queue.finish(id, state, Some(&error), None)?
            } else {
                let ended = queue.finish(id, state, None, None)?;
                if ended {
                    queue.append_log(id, &reason)?;
                }
                ended
            }
        };
        lock(&self.schedule).remove(id);
        if !ended {
            // Another node claimed it meanwhile (or ended it first): a cancel goes to that one.
            if state == JobState::Canceled {
                self.cancel_elsewhere(id)?;
            }
            return Ok(());
        }
        self.emit(JobEvent::State {
            id,
            state,
            attempts: 0,
            error: (state == JobState::Failed).then_some(error),
            retry_at: None,
            title: None,
        });
        self.settle_dependents(id, state)
    }

    fn cancel(&self, id: JobId, reason: &str) -> Result<bool, EngineError> {
        let mut schedule = lock(&self.schedule);
        let Some(entry) = schedule.entries.get_mut(&id) else {
            return Ok(false);
        };
        if entry.phase == Phase::Running {
            entry.canceled_by_user = true;
            entry.cancel.store(true, Ordering::SeqCst);
            drop(schedule);
            lock(&self.queue).append_log(id, reason)?;
            return Ok(true);
        }
        drop(schedule);
        self.end_unstarted(id, JobState::Canceled, reason.to_string())?;
        Ok(true)
    }

    fn reprioritise(&self, id: JobId, priority: Priority) {
        self.reprioritise_here(id, priority);
        self.emit(JobEvent::Priority { id, priority });
    }

    /// Reorders the schedule for a job's new priority.
    fn reprioritise_here(&self, id: JobId, priority: Priority) {
        let mut schedule = lock(&self.schedule);
        let ready = matches!(schedule.entries.get(&id), Some(e) if e.phase == Phase::Ready);
        if ready {
            schedule.unready(id);
        }
        if let Some(e) = schedule.entries.get_mut(&id) {
            e.priority = priority;
        }
        if ready {
            schedule.make_ready(id);
        }
        drop(schedule);
        self.wake.notify_all();
    }

    /// A job ended: its dependents may start (it completed) or end too (it did not).
    fn settle_dependents(&self, id: JobId, state: JobState) -> Result<(), EngineError> {
        let dependents = lock(&self.queue).dependents(id)?;
        for dependent in dependents {
            let blocked = {
                let mut schedule = lock(&self.schedule);
                match schedule.entries.get_mut(&dependent) {
                    Some(e) if e.phase == Phase::Blocked => {
                        e.blocked_on.remove(&id);
                        if state == JobState::Completed && e.blocked_on.is_empty() {
                            schedule.make_ready(dependent);
                        }
                        true
                    }
                    _ => false,
                }
            };
            if blocked && state != JobState::Completed {
                let (end, verb) = if state == JobState::Canceled {
                    (JobState::Canceled, "was canceled")
                } else {
                    (JobState::Failed, "failed")
                };
                self.end_unstarted(
                    dependent,
                    end,
                    format!("job {id}, which this one needs, {verb}"),
                )?;
            }
        }
        self.wake.notify_all();
        Ok(())
    }

    /// The dispatcher: starts what can start, wakes waiting retries, and picks up changes made
    /// by other processes.
    fn dispatch(self: Arc<Self>, mut last_signal: i64) {
        let mut last_poll = Instant::now();
        let mut last_prune = Instant::now();
        let mut last_renewal = Instant::now();
        let mut last_takeover = Instant::now();
        loop {
            let mut schedule = lock(&self.schedule);
            if schedule.stopping {
                return;
            }
            let now = now_millis();
            while let Some(&(at, id)) = schedule.waiting.first() {
                // Strictly later: times are whole milliseconds, and a retry never comes early.
                if at >= now {
                    break;
                }
                schedule.waiting.remove(&(at, id));
                schedule.make_ready(id);
            }
            let mut started = Vec::new();
            while schedule.running < self.config.workers {
                let Some(id) = schedule.next_runnable(&self.config) else {
                    break;
                };
                schedule.unready(id);
                let entry = schedule
                    .entries
                    .get_mut(&id)
                    .expect("a ready job has an entry");
                entry.phase = Phase::Running;
                let (kind, node, cancel) = (entry.kind, entry.node.clone(), entry.cancel.clone());
                schedule.running += 1;
                *schedule.running_by_kind.entry(kind).or_default() += 1;
                if let Some(node) = node {
                    *schedule.running_by_node.entry(node).or_default() += 1;
                }
                started.push((id, cancel));
            }
            for (id, cancel) in started {
                let shared = self.clone();
                let thread = std::thread::Builder::new()
                    .name(format!("job-{id}"))
                    .spawn(move || shared.execute(id, cancel));
                match thread {
                    Ok(handle) => {
                        schedule.threads.retain(|t| !t.is_finished());
                        schedule.threads.push(handle);
                    }
                    Err(e) => {
                        // Out of threads: back to the queue, tried again on the next pass.
                        tracing::error!(job = id, error = %e, "cannot start a worker thread");
                        self.release(&mut schedule, id);
                        schedule.make_ready(id);
                    }
                }
            }
            let until_retry = schedule
                .waiting
                .first()
                .map(|(at, _)| Duration::from_millis((at - now).max(1) as u64))
                .unwrap_or(self.config.poll_interval);
            let timeout = until_retry.min(self.config.poll_interval);
            let (guard, _) = self
                .wake
                .wait_timeout(schedule, timeout)
                .unwrap_or_else(|e| e.into_inner());
            drop(guard);
            if last_poll.elapsed() >= self.config.poll_interval {
                last_poll = Instant::now();
                last_signal = self.take_changes(last_signal);
            }
            if let Some(lease) = self.lease {
                // Renewed three times a lease; expired ones looked for twice.
                if last_renewal.elapsed() >= lease / 3 {
                    last_renewal = Instant::now();
                    if let Err(e) = lock(&self.queue).renew_leases() {
                        tracing::warn!(error = %e, "job engine: renewing the leases failed");
                    }
                }
                if last_takeover.elapsed() >= lease / 2 {
                    last_takeover = Instant::now();
                    self.take_over_expired();
                }
            }
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = Instant::now();
                self.prune_history();
            }
        }
    }

    /// Drops finished jobs older than the configured history.
    fn prune_history(&self) {
        let cutoff = now_millis() - self.config.history.as_millis() as i64;
        match lock(&self.queue).clear_finished(Some(cutoff)) {
            Ok(0) => {}
            Ok(count) => self.emit(JobEvent::Cleared { count }),
            Err(e) => tracing::warn!(error = %e, "job engine: pruning the history failed"),
        }
    }

    /// Queues again, here, the jobs of nodes that stopped renewing their leases.
    fn take_over_expired(&self) {
        let taken = lock(&self.queue).take_over_expired();
        match taken {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = self.reconcile(id) {
                        tracing::error!(job = id, error = %e, "job engine: taking over");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "job engine: looking for expired leases failed"),
        }
    }

    /// Applies what other processes and nodes changed: new or requeued jobs, cancels,
    /// priorities, jobs that ended elsewhere; passes the other nodes' events on.
    fn take_changes(&self, cursor: i64) -> i64 {
        let changes = match lock(&self.queue).changes(cursor) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "job engine: reading changes failed");
                return cursor;
            }
        };
        let Changes {
            cursor,
            mut jobs,
            events,
            resync,
        } = changes;
        for event in events {
            match &event {
                JobEvent::Queued { id, .. }
                | JobEvent::State { id, .. }
                | JobEvent::Priority { id, .. } => jobs.push(*id),
                JobEvent::Progress { .. } | JobEvent::Log { .. } | JobEvent::Cleared { .. } => {}
            }
            self.emit_here(event);
        }
        if resync {
            match lock(&self.queue).pending() {
                Ok(pending) => jobs.extend(pending.iter().map(|r| r.id)),
                Err(e) => tracing::warn!(error = %e, "job engine: reading the queue failed"),
            }
        }
        let mut seen = HashSet::new();
        for id in jobs {
            if seen.insert(id) {
                if let Err(e) = self.reconcile(id) {
                    tracing::error!(job = id, error = %e, "job engine");
                }
            }
        }
        cursor
    }

    /// Brings the schedule in line with a job's record, which another process or node changed.
    fn reconcile(&self, id: JobId) -> Result<(), EngineError> {
        let Some(record) = lock(&self.queue).get(id)? else {
            let mut schedule = lock(&self.schedule);
            if matches!(schedule.entries.get(&id), Some(e) if e.phase != Phase::Running) {
                schedule.remove(id);
            }
            return Ok(());
        };
        let phase = lock(&self.schedule).entries.get(&id).map(|e| e.phase);
        match phase {
            None if record.state.is_finished() => self.settle_dependents(id, record.state),
            None if record.state == JobState::Running => Ok(()),
            None => {
                self.admit(&record)?;
                Ok(())
            }
            // This engine runs it: only a cancel concerns it.
            Some(Phase::Running) => {
                if record.cancel_requested {
                    self.cancel(id, "canceled by the user")?;
                }
                Ok(())
            }
            Some(_) if record.state.is_finished() || record.state == JobState::Running => {
                // Ended, or claimed, elsewhere.
                lock(&self.schedule).remove(id);
                if record.state.is_finished() {
                    self.settle_dependents(id, record.state)?;
                }
                Ok(())
            }
            Some(_) if record.cancel_requested => {
                self.cancel(id, "canceled by the user").map(|_| ())
            }
            Some(_) => {
                let current = lock(&self.schedule).entries.get(&id).map(|e| e.priority);
                if current != Some(record.priority) {
                    self.reprioritise_here(id, record.priority);
                }
                Ok(())
            }
        }
    }

    fn release(&self, schedule: &mut Schedule, id: JobId) {
        if let Some(entry) = schedule.entries.get(&id) {
            let (kind, node) = (entry.kind, entry.node.clone());
            schedule.running -= 1;
            if let Some(n) = schedule.running_by_kind.get_mut(&kind) {
                *n -= 1;
            }
            if let Some(node) = node {
                if let Some(n) = schedule.running_by_node.get_mut(&node) {
                    *n -= 1;
                }
            }
        }
    }

    fn execute(self: Arc<Self>, id: JobId, cancel: Arc<AtomicBool>) {
        let prepared = (|| -> Result<(Claim, Option<JobRecord>), QueueError> {
            let (kind, node) = {
                let schedule = lock(&self.schedule);
                match schedule.entries.get(&id) {
                    Some(e) => (e.kind, e.node.clone()),
                    None => return Ok((Claim::Taken, None)),
                }
            };
            let queue = lock(&self.queue);
            let limits = ClaimLimits {
                kind_cap: self
                    .config
                    .kind_caps
                    .get(&kind)
                    .copied()
                    .unwrap_or(self.config.workers),
                node_cap: self.config.node_cap,
            };
            let claim = queue.claim(id, kind, node.as_deref(), limits)?;
            let record = match claim {
                Claim::Started(_) => queue.get(id)?,
                Claim::Taken | Claim::AtCap => None,
            };
            Ok((claim, record))
        })();
        let (attempt, record) = match prepared {
            Ok((Claim::Started(attempt), Some(record))) => (attempt, record),
            Ok((Claim::AtCap, _)) => {
                // Its lane is full across the cluster: it waits, and the lane is passed over a
                // moment so that the dispatcher does not spin on it.
                let mut schedule = lock(&self.schedule);
                self.release(&mut schedule, id);
                if let Some(e) = schedule.entries.get(&id) {
                    let lane = (e.kind, e.node.clone());
                    schedule.paused.insert(lane, Instant::now() + CAP_PAUSE);
                }
                schedule.make_ready(id);
                drop(schedule);
                self.wake.notify_all();
                return;
            }
            Ok(_) | Err(_) => {
                // Another node runs it, it vanished (cleared by another process), or the queue
                // failed: drop it here (a requeue or a takeover brings it back).
                if let Err(e) = prepared {
                    tracing::warn!(job = id, error = %e, "job engine: cannot start a job");
                }
                let mut schedule = lock(&self.schedule);
                self.release(&mut schedule, id);
                schedule.remove(id);
                drop(schedule);
                self.wake.notify_all();
                return;
            }
        };
        self.emit(JobEvent::State {
            id,
            state: JobState::Running,
            attempts: attempt,
            error: None,
            retry_at: None,
            title: None,
        });
        let ctx = JobContext {
            id,
            attempt,
            cancel: cancel.clone(),
            sink: Box::new(EngineSink {
                shared: self.clone(),
                throttle: Mutex::new(Throttle::default()),
            }),
            follow_ups: Mutex::new(Vec::new()),
        };
        let runner = self.runner.clone();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner.run(&record, &ctx)))
                .unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown panic".into());
                    Err(JobFailure::new(
                        FailureCategory::Storage,
                        format!("internal error: {message}"),
                    ))
                });
        ctx.sink.flush(id);
        if let Err(e) = self.conclude(&record, attempt, result, &ctx) {
            tracing::error!(job = id, error = %e, "job engine");
        }
    }

    /// A job this engine ran was no longer its own when it ended: its lease ran out and another
    /// node took it over. That node's run is the one that counts.
    fn lost(&self, id: JobId) -> Result<(), EngineError> {
        tracing::warn!(
            job = id,
            "job engine: the job's lease was lost; its result is dropped"
        );
        lock(&self.schedule).remove(id);
        self.wake.notify_all();
        Ok(())
    }

    fn conclude(
        &self,
        record: &JobRecord,
        attempt: u32,
        result: Result<Option<serde_json::Value>, JobFailure>,
        ctx: &JobContext,
    ) -> Result<(), EngineError> {
        let id = record.id;
        let (stopping, by_user) = {
            let mut schedule = lock(&self.schedule);
            self.release(&mut schedule, id);
            let by_user = schedule
                .entries
                .get(&id)
                .map(|e| e.canceled_by_user)
                .unwrap_or(false);
            (schedule.stopping, by_user)
        };
        let (state, error, retry_at) = match result {
            Ok(output) => {
                if !lock(&self.queue).finish(id, JobState::Completed, None, output.as_ref())? {
                    return self.lost(id);
                }
                (JobState::Completed, None, None)
            }
            Err(_) if stopping && !by_user => {
                // Interrupted by the shutdown: the job stays "running" in the queue, which the
                // next start reads as interrupted and queues again.
                lock(&self.schedule).remove(id);
                return Ok(());
            }
            Err(failure) if by_user => {
                let queue = lock(&self.queue);
                if !queue.finish(id, JobState::Canceled, None, failure.output.as_ref())? {
                    drop(queue);
                    return self.lost(id);
                }
                (JobState::Canceled, None, None)
            }
            Err(failure) if failure.category.is_transient() && attempt <= record.max_retries => {
                let delay = self
                    .config
                    .retry_base
                    .saturating_mul(1 << (attempt - 1).min(20))
                    .min(self.config.retry_max);
                let at = now_millis() + delay.as_millis() as i64;
                {
                    let queue = lock(&self.queue);
                    if !queue.set_waiting_retry(id, &failure, at)? {
                        drop(queue);
                        return self.lost(id);
                    }
                    queue.append_log(
                        id,
                        &format!(
                            "attempt {attempt} failed ({}); retry in {:.1}s",
                            failure.message,
                            delay.as_secs_f64()
                        ),
                    )?;
                }
                let mut schedule = lock(&self.schedule);
                if let Some(e) = schedule.entries.get_mut(&id) {
                    e.phase = Phase::Waiting(at);
                }
                schedule.waiting.insert((at, id));
                (JobState::WaitingRetry, Some(failure), Some(at))
            }
            Err(failure) => {
                let queue = lock(&self.queue);
                if !queue.finish(id, JobState::Failed, Some(&failure), None)? {
                    drop(queue);
                    return self.lost(id);
                }
                queue.append_log(id, &format!("failed: {}", failure.message))?;
                (JobState::Failed, Some(failure), None)
            }
        };
        if state.is_finished() {
            lock(&self.schedule).remove(id);
        }
        self.emit(JobEvent::State {
            id,
            state,
            attempts: attempt,
            error,
            retry_at,
            title: None,
        });
        if state == JobState::Completed {
            // Follow-ups belong to the activity this job belongs to, or to this job: one level.
            let activity = record.parent.unwrap_or(id);
            for chain in ctx.take_follow_ups() {
                let mut previous = id;
                for job in chain {
                    let job = NewJob {
                        parent: job.parent.or(Some(activity)),
                        ..job
                    };
                    previous = self.submit(job.after(previous))?.id;
                }
            }
        }
        if state.is_finished() {
            self.settle_dependents(id, state)?;
        }
        self.wake.notify_all();
        Ok(())
    }
}

/// Work recorded as a job but done outside the engine (see [`Engine::open_activity`]).
pub struct Activity {
    id: JobId,
    sink: EngineSink,
}

impl Activity {
    pub fn id(&self) -> JobId {
        self.id
    }

    /// Its progress, throttled as a running job's is.
    pub fn progress(&self, progress: Progress) {
        self.sink.progress(self.id, &progress);
    }

    pub fn log(&self, message: &str) {
        self.sink.log(self.id, message);
    }

    /// Ends it: completed with its output, or failed (the failure may carry an output).
    pub fn finish(
        self,
        title: Option<String>,
        result: Result<serde_json::Value, JobFailure>,
    ) -> Result<(), EngineError> {
        self.sink.flush(self.id);
        let shared = &self.sink.shared;
        let (state, error) = {
            let queue = lock(&shared.queue);
            if let Some(title) = &title {
                queue.set_title(self.id, title)?;
            }
            match result {
                Ok(output) => {
                    queue.finish(self.id, JobState::Completed, None, Some(&output))?;
                    (JobState::Completed, None)
                }
                Err(failure) => {
                    queue.finish(self.id, JobState::Failed, Some(&failure), None)?;
                    (JobState::Failed, Some(failure))
                }
            }
        };
        shared.emit(JobEvent::State {
            id: self.id,
            state,
            attempts: 1,
            error,
            retry_at: None,
            title,
        });
        Ok(())
    }
}

/// Progress reaches subscribers at most every 100 ms and the database at most every second, so
/// a job reporting every instance costs little.
#[derive(Default)]
struct Throttle {
    last_event: Option<Instant>,
    last_write: Option<Instant>,
    pending: Option<Progress>,
}

struct EngineSink {
    shared: Arc<Shared>,
    throttle: Mutex<Throttle>,
}

impl ContextSink for EngineSink {
    fn progress(&self, id: JobId, progress: &Progress) {
        let mut t = lock(&self.throttle);
        t.pending = Some(progress.clone());
        if t.last_event
            .is_none_or(|at| at.elapsed() >= Duration::from_millis(100))
        {
            t.last_event = Some(Instant::now());
            self.shared.emit(JobEvent::Progress {
                id,
                progress: progress.clone(),
            });
        }
        if t.last_write
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        {
            t.last_write = Some(Instant::now());
            let _ = lock(&self.shared.queue).set_progress(id, progress);
        }
    }

    fn log(&self, id: JobId, message: &str) {
        let _ = lock(&self.shared.queue).append_log(id, message);
        self.shared.emit(JobEvent::Log {
            id,
            message: message.to_string(),
        });
    }

    fn flush(&self, id: JobId) {
        let pending = lock(&self.throttle).pending.take();
        if let Some(progress) = pending {
            let _ = lock(&self.shared.queue).set_progress(id, &progress);
            self.shared.emit(JobEvent::Progress { id, progress });
        }
    }
}
