//! The scheduler on its own: a scripted runner stands in for real work, so each rule of the
//! engine (priority, caps, dependencies, retries, cancel, persistence) is checked exactly.

use lightbox_core::jobs::queue::Submitted;
use lightbox_core::jobs::{
    AssociationSettings, Engine, EngineConfig, FailureCategory, JobContext, JobEvent, JobFailure,
    JobFilter, JobId, JobKind, JobQueue, JobRecord, JobSpec, JobState, NewJob, Priority, Progress,
    Runner,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What the scripted runner does for a job, chosen by the node name of an echo job.
#[derive(Clone, Debug)]
enum Script {
    /// Completes at once.
    Succeed,
    /// Waits until the gate opens (or the job is canceled).
    Gated,
    /// Fails this many times with a network error, then succeeds.
    FlakyNetwork(u32),
    /// Always fails with this category.
    Fail(FailureCategory),
    /// Runs until canceled, reporting progress.
    UntilCanceled,
    /// Completes and asks for a follow-up echo of this node.
    FollowUp(String),
}

#[derive(Default)]
struct Scripted {
    scripts: Mutex<HashMap<String, Script>>,
    gate: Mutex<bool>,
    gate_changed: Condvar,
    /// (node, instant) of every attempt, in start order.
    started: Mutex<Vec<(String, Instant)>>,
    running_now: Mutex<HashMap<String, usize>>,
}

impl Scripted {
    fn script(&self, node: &str, script: Script) {
        self.scripts.lock().unwrap().insert(node.into(), script);
    }

    fn open_gate(&self) {
        *self.gate.lock().unwrap() = true;
        self.gate_changed.notify_all();
    }

    fn started_nodes(&self) -> Vec<String> {
        self.started
            .lock()
            .unwrap()
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn attempts_of(&self, node: &str) -> Vec<Instant> {
        self.started
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == node)
            .map(|(_, at)| *at)
            .collect()
    }
}

impl Runner for Scripted {
    fn run(
        &self,
        job: &JobRecord,
        ctx: &JobContext,
    ) -> Result<Option<serde_json::Value>, JobFailure> {
        let node = job.node.clone().unwrap_or_default();
        self.started
            .lock()
            .unwrap()
            .push((node.clone(), Instant::now()));
        *self
            .running_now
            .lock()
            .unwrap()
            .entry(node.clone())
            .or_default() += 1;
        let script = self
            .scripts
            .lock()
            .unwrap()
            .get(&node)
            .cloned()
            .unwrap_or(Script::Succeed);
        let result = match script {
            Script::Succeed => Ok(Some(serde_json::json!({ "node": node }))),
            Script::Gated => {
                let mut open = self.gate.lock().unwrap();
                while !*open && !ctx.is_canceled() {
                    open = self
                        .gate_changed
                        .wait_timeout(open, Duration::from_millis(20))
                        .unwrap()
                        .0;
                }
                if ctx.is_canceled() {
                    Err(JobFailure::canceled())
                } else {
                    Ok(None)
                }
            }
            Script::FlakyNetwork(failures) => {
                if ctx.attempt <= failures {
                    Err(JobFailure::new(
                        FailureCategory::Network,
                        "connection refused",
                    ))
                } else {
                    Ok(None)
                }
            }
            Script::Fail(category) => Err(JobFailure::new(category, "scripted failure")),
            Script::UntilCanceled => {
                let mut done = 0;
                while !ctx.is_canceled() {
                    done += 1;
                    ctx.progress(Progress {
                        items_done: done,
                        items_total: 1_000_000,
                        ..Progress::default()
                    });
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(JobFailure::canceled())
            }
            Script::FollowUp(next) => {
                ctx.log(format!("asking for an echo of {next}"));
                ctx.follow_up(NewJob::new(echo(&next)));
                Ok(None)
            }
        };
        *self.running_now.lock().unwrap().get_mut(&node).unwrap() -= 1;
        result
    }
}

fn echo(node: &str) -> JobSpec {
    JobSpec::Echo {
        node: node.into(),
        association: AssociationSettings::default(),
    }
}

fn retrieve(node: &str, series: &str) -> JobSpec {
    JobSpec::Retrieve {
        node: node.into(),
        study_uid: "1.2.3".into(),
        series_uid: Some(series.into()),
        sop_instance_uid: None,
        preview_first: false,
        preview_only: false,
        association: AssociationSettings::default(),
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        retry_base: Duration::from_millis(50),
        poll_interval: Duration::from_millis(50),
        ..EngineConfig::default()
    }
}

fn start(dir: &Path, runner: &Arc<Scripted>, config: EngineConfig) -> Engine {
    Engine::start(dir, runner.clone(), config).unwrap()
}

fn submit(engine: &Engine, job: NewJob) -> JobId {
    engine.submit(job).unwrap().id
}

fn finished(engine: &Engine, id: JobId) -> JobRecord {
    let record = engine.wait(id, Duration::from_secs(10)).unwrap().unwrap();
    assert!(
        record.state.is_finished(),
        "job {id} did not finish: {record:?}"
    );
    record
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn higher_priorities_run_first_and_equal_ones_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Scripted::default());
    runner.script("gate", Script::Gated);
    let engine = start(
        dir.path(),
        &runner,
        EngineConfig {
            workers: 1,
            ..config()
        },
    );
    let gate = submit(&engine, NewJob::new(echo("gate")));
    wait_until("the gate job to run", || runner.started_nodes().len() == 1);
    let order = [
        ("low-1", Priority::Low),
        ("normal-1", Priority::Normal),
        ("highest", Priority::Highest),
        ("lowest", Priority::Lowest),
        ("normal-2", Priority::Normal),
        ("high", Priority::High),
        ("low-2", Priority::Low),
    ];
    let ids: Vec<JobId> = order
        .iter()
        .map(|(node, p)| submit(&engine, NewJob::new(echo(node)).priority(*p)))
        .collect();
    runner.open_gate();
    finished(&engine, gate);
    for id in &ids {
        assert_eq!(finished(&engine, *id).state, JobState::Completed);
    }
    assert_eq!(
        runner.started_nodes(),
        ["gate", "highest", "high", "normal-1", "normal-2", "low-1", "low-2", "lowest"]
    );
}

#[test]
fn a_kind_or_node_at_its_cap_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Scripted::default());
    runner.script("pacs-a", Script::Gated);
    let mut config = config();
    config.workers = 4;
    config.kind_caps.insert(JobKind::Retrieve, 1);
    config.node_cap = 2;
    let engine = start(dir.path(), &runner, config);
    // Three retrieves of one kind (cap 1): one runs, two wait, at the highest priority.
    let retrieves: Vec<JobId> = (0..3)
        .map(|i| {
            submit(
                &engine,
                NewJob::new(retrieve("pacs-a", &format!("1.2.3.{i}"))).priority(Priority::Highest),
            )
        })
        .collect();
    // Echoes of the same node (cap 2: one slot left) and of another node, at a lower priority.
    let echo_a = submit(
        &engine,
        NewJob::new(echo("pacs-b")).priority(Priority::Lowest),
    );
    let echo_b = submit(
        &engine,
        NewJob::new(echo("pacs-c")).priority(Priority::Lowest),
    );
    assert_eq!(finished(&engine, echo_a).state, JobState::Completed);
    assert_eq!(finished(&engine, echo_b).state, JobState::Completed);
    // (The first retrieve's worker may still be starting: wait for it to report running.)
    wait_until("the first retrieve to run", || {
        engine.get(retrieves[0]).unwrap().unwrap().state == JobState::Running
    });
    let states: Vec<JobState> = retrieves
        .iter()
        .map(|id| engine.get(*id).unwrap().unwrap().state)
        .collect();
    assert_eq!(
        states,
        [JobState::Running, JobState::Queued, JobState::Queued],
        "the retrieve cap holds the other retrieves only"
    );
    assert_eq!(runner.running_now.lock().unwrap()["pacs-a"], 1);

    // A node at its cap: two gated echoes fill pacs-a's two slots (one is the retrieve's)...
    let held = submit(&engine, NewJob::new(echo("pacs-a")));
    wait_until("the echo of pacs-a to run", || {
        runner.running_now.lock().unwrap()["pacs-a"] == 2
    });
    let query = JobSpec::Query {
        node: "pacs-a".into(),
        query: lightbox_core::jobs::QuerySpec::default(),
        association: AssociationSettings::default(),
    };
    let waiting = submit(&engine, NewJob::new(query).priority(Priority::Highest));
    let other = submit(
        &engine,
        NewJob::new(echo("pacs-d")).priority(Priority::Lowest),
    );
    assert_eq!(finished(&engine, other).state, JobState::Completed);
    assert_eq!(
        engine.get(waiting).unwrap().unwrap().state,
        JobState::Queued
    );
    runner.open_gate();
    for id in retrieves.iter().chain([held, waiting].iter()) {
        assert_eq!(finished(&engine, *id).state, JobState::Completed);
    }
}

#[test]
fn dependent_jobs_wait_and_follow_their_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Scripted::default());
    runner.script("middle-instance", Script::Gated);
    runner.script("broken", Script::Fail(FailureCategory::Peer));
    runner.script("query-patients", Script::FollowUp("query-studies".into()));
    let engine = start(dir.path(), &runner, config());
    // Middle instance → thumbnail → whole series, each waiting for the one before.
    let middle = submit(
        &engine,
        NewJob::new(echo("middle-instance")).priority(Priority::High),
    );
    let thumbnail = submit(&engine, NewJob::new(echo("thumbnail")).after(middle));
    let series = submit(
        &engine,
        NewJob::new(echo("series"))
            .after(thumbnail)
            .priority(Priority::Highest),
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(runner.started_nodes(), ["middle-instance"]);
    assert_eq!(engine.get(series).unwrap().unwrap().depends_on, [thumbnail]);
    runner.open_gate();
    for id in [middle, thumbnail, series] {
        assert_eq!(finished(&engine, id).state, JobState::Completed);
    }
    assert_eq!(
        runner.started_nodes(),
        ["middle-instance", "thumbnail", "series"]
    );

    // A failed dependency fails the chain after it, with the reason.
    let broken = submit(&engine, NewJob::new(echo("broken")));
    let after = submit(&engine, NewJob::new(echo("after-broken")).after(broken));
    let after_after = submit(&engine, NewJob::new(echo("after-after")).after(after));
    assert_eq!(finished(&engine, broken).state, JobState::Failed);
    for id in [after, after_after] {
        let record = finished(&engine, id);
        assert_eq!(record.state, JobState::Failed);
        let error = record.error.unwrap();
        assert_eq!(error.category, FailureCategory::Dependency);
        assert!(error.message.contains("failed"), "{}", error.message);
    }
    assert!(!runner.started_nodes().contains(&"after-broken".to_string()));

    // A job that learns its follow-ups while running (patients → studies).
    let patients = submit(&engine, NewJob::new(echo("query-patients")));
    finished(&engine, patients);
    wait_until("the follow-up", || {
        runner
            .started_nodes()
            .contains(&"query-studies".to_string())
    });
    let (jobs, _) = engine.list(&JobFilter::default()).unwrap();
    let follow_up = jobs
        .iter()
        .find(|j| j.title == "echo query-studies")
        .unwrap();
    assert_eq!(follow_up.depends_on, [patients]);
    assert!(engine
        .log(patients)
        .unwrap()
        .iter()
        .any(|l| l.message == "asking for an echo of query-studies"));
}

#[test]
fn transient_failures_are_retried_with_growing_delays_then_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Scripted::default());
    runner.script("flaky", Script::FlakyNetwork(2));
    runner.script("down", Script::FlakyNetwork(u32::MAX));
    runner.script("refusing", Script::Fail(FailureCategory::Peer));
    let engine = start(dir.path(), &runner, config());
    let mut events = engine.subscribe();
    let flaky = submit(&engine, NewJob::new(echo("flaky")));
    let down = submit(&engine, NewJob::new(echo("down")).max_retries(3));
    let refusing = submit(&engine, NewJob::new(echo("refusing")));

    let record = finished(&engine, flaky);
    assert_eq!(record.state, JobState::Completed);
    assert_eq!(record.attempts, 3);
    let attempts = runner.attempts_of("flaky");
    // Backoff of 50 ms, then 100 ms.
    assert!(attempts[1] - attempts[0] >= Duration::from_millis(50));
    assert!(attempts[2] - attempts[1] >= Duration::from_millis(100));

    let record = finished(&engine, down);
    assert_eq!(record.state, JobState::Failed);
    assert_eq!(record.attempts, 4, "one attempt and three retries");
    let error = record.error.unwrap();
    assert_eq!(error.category, FailureCategory::Network);
    assert_eq!(error.message, "connection refused");
    let log = engine.log(down).unwrap();
    assert_eq!(
        log.iter()
            .filter(|l| l.message.contains("retry in"))
            .count(),
        3
    );
    assert!(log.last().unwrap().message.starts_with("failed:"));

    // Not transient: no retry.
    let record = finished(&engine, refusing);
    assert_eq!(record.state, JobState::Failed);
    assert_eq!(record.attempts, 1);
    assert_eq!(runner.attempts_of("refusing").len(), 1);

    // The waiting state was published, with when the retry comes.
    let mut saw_waiting = false;
    while let Ok(event) = events.try_recv() {
        if let JobEvent::State {
            id,
            state: JobState::WaitingRetry,
            retry_at,
            ..
        } = event
        {
            saw_waiting |= id == flaky && retry_at.is_some();
        }
    }
    assert!(saw_waiting);

    // A manual retry runs a failed job again from its first attempt.
    runner.script("refusing", Script::Succeed);
    assert!(engine.retry(refusing).unwrap());
    let record = finished(&engine, refusing);
    assert_eq!((record.state, record.attempts), (JobState::Completed, 1));
    assert!(record.error.is_none());
}

#[test]
fn cancel_stops_queued_and_running_jobs_and_retry_brings_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Scripted::default());
    runner.script("busy", Script::UntilCanceled);
    runner.script("gate", Script::Gated);
    let engine = start(
        dir.path(),
        &runner,
        EngineConfig {
            workers: 1,
            ..config()
        },
    );
    let busy = submit(&engine, NewJob::new(echo("busy")));
    let queued = submit(&engine, NewJob::new(echo("queued")));
    let dependent = submit(&engine, NewJob::new(echo("dependent")).after(queued));
    wait_until("progress of the busy job", || {
        engine.get(busy).unwrap().unwrap().state == JobState::Running
    });
    // Queued: canceled at once, and what depends on it too.
    assert!(engine.cancel(queued).unwrap());
    assert_eq!(
        engine.get(queued).unwrap().unwrap().state,
        JobState::Canceled
    );
    assert_eq!(finished(&engine, dependent).state, JobState::Canceled);
    // Running: canceled within a second.
    let asked = Instant::now();
    assert!(engine.cancel(busy).unwrap());
    let record = finished(&engine, busy);
    assert!(asked.elapsed() < Duration::from_secs(1));
    assert_eq!(record.state, JobState::Canceled);
    assert!(record.error.is_none());
    assert!(!runner.started_nodes().contains(&"queued".to_string()));
    // Finished jobs cannot be canceled; canceled ones can be retried.
    assert!(!engine.cancel(busy).unwrap());
    runner.script("busy", Script::Succeed);
    assert!(engine.retry(busy).unwrap());
    assert_eq!(finished(&engine, busy).state, JobState::Completed);
    assert!(
        !engine.retry(busy).unwrap(),
        "a completed job is not retried"
    );
    // Clearing finished jobs empties the history.
    assert_eq!(engine.clear_finished().unwrap(), 3);
    assert_eq!(engine.list(&JobFilter::default()).unwrap().1, 0);
}

#[test]
fn duplicates_merge_and_priorities_change_while_queued() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Scripted::default());
    runner.script("gate", Script::Gated);
    let engine = start(
        dir.path(),
        &runner,
        EngineConfig {
            workers: 1,
            ..config()
        },
    );
    let gate = submit(&engine, NewJob::new(echo("gate")));
    wait_until("the gate job to run", || runner.started_nodes().len() == 1);
    let first = engine
        .submit(NewJob::new(retrieve("pacs", "1.2.3.4")).priority(Priority::Low))
        .unwrap();
    let other = submit(&engine, NewJob::new(retrieve("pacs", "1.2.3.5")));
    let again = engine
        .submit(NewJob::new(retrieve("pacs", "1.2.3.4")).priority(Priority::Low))
        .unwrap();
    assert_eq!(
        again,
        Submitted {
            id: first.id,
            merged: true,
            raised: false
        }
    );
    // The user opens the series: its retrieve jumps the queue.
    assert!(engine.set_priority(first.id, Priority::Highest).unwrap());
    // A merged submission with a higher priority raises the job too.
    let lowest = submit(
        &engine,
        NewJob::new(echo("last")).priority(Priority::Lowest),
    );
    let raised = engine
        .submit(NewJob::new(echo("last")).priority(Priority::High))
        .unwrap();
    assert_eq!(
        (raised.id, raised.merged, raised.raised),
        (lowest, true, true)
    );
    runner.open_gate();
    for id in [gate, first.id, other, lowest] {
        assert_eq!(finished(&engine, id).state, JobState::Completed);
    }
    let order = runner.started_nodes();
    assert_eq!(order, ["gate", "pacs", "last", "pacs"]);
    assert_eq!(
        engine.get(lowest).unwrap().unwrap().priority,
        Priority::High
    );
    // Once finished, the same specification is a new job.
    assert_ne!(submit(&engine, NewJob::new(echo("last"))), lowest);
}

#[test]
fn the_queue_survives_a_restart_and_interrupted_jobs_resume() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Scripted::default());
    runner.script("slow", Script::Gated);
    let engine = start(
        dir.path(),
        &runner,
        EngineConfig {
            workers: 1,
            ..config()
        },
    );
    let running = submit(&engine, NewJob::new(echo("slow")));
    wait_until("the slow job to run", || runner.started_nodes().len() == 1);
    let queued: Vec<JobId> = (0..4)
        .map(|i| submit(&engine, NewJob::new(echo(&format!("queued-{i}")))))
        .collect();
    let blocked = submit(&engine, NewJob::new(echo("after")).after(queued[3]));
    // Only one engine per data directory.
    assert!(matches!(
        Engine::start(dir.path(), runner.clone(), config()),
        Err(lightbox_core::jobs::engine::EngineError::AlreadyRunning)
    ));
    engine.shutdown();
    assert_eq!(runner.started_nodes(), ["slow"]);

    let runner = Arc::new(Scripted::default());
    let engine = start(dir.path(), &runner, config());
    for id in std::iter::once(running).chain(queued).chain([blocked]) {
        let record = finished(&engine, id);
        assert_eq!(record.state, JobState::Completed, "{record:?}");
        assert_eq!(record.attempts, 1, "the interrupted attempt is not counted");
    }
    assert!(engine
        .log(running)
        .unwrap()
        .iter()
        .any(|l| l.message.contains("interrupted")));
    // The dependent job still waited for its dependency.
    let order = runner.started_nodes();
    let position = |node: &str| order.iter().position(|n| n == node).unwrap();
    assert!(position("after") > position("queued-3"), "{order:?}");
}

#[test]
fn other_processes_submit_and_cancel_through_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Scripted::default());
    runner.script("endless", Script::UntilCanceled);
    let engine = start(dir.path(), &runner, config());
    assert!(lightbox_core::jobs::engine::engine_running(dir.path()));
    // Another process: its own connection to the queue.
    let mut client = JobQueue::open(dir.path()).unwrap();
    let submitted = client.submit(&NewJob::new(echo("endless")), 3).unwrap();
    client.signal(submitted.id).unwrap();
    wait_until("the engine to start the job", || {
        client.get(submitted.id).unwrap().unwrap().state == JobState::Running
    });
    let asked = Instant::now();
    assert!(client.request_cancel(submitted.id).unwrap());
    client.signal(submitted.id).unwrap();
    let record = finished(&engine, submitted.id);
    assert_eq!(record.state, JobState::Canceled);
    assert!(asked.elapsed() < Duration::from_secs(1));
    // Progress reached the queue for other processes to show.
    assert!(
        client
            .get(submitted.id)
            .unwrap()
            .unwrap()
            .progress
            .items_done
            > 0
    );
    // A retry from the other process.
    runner.script("endless", Script::Succeed);
    assert!(client.requeue(submitted.id).unwrap());
    client.signal(submitted.id).unwrap();
    assert_eq!(finished(&engine, submitted.id).state, JobState::Completed);
    engine.shutdown();
    assert!(!lightbox_core::jobs::engine::engine_running(dir.path()));
}

#[test]
fn events_follow_a_job_through_its_states() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Scripted::default());
    runner.script("busy", Script::UntilCanceled);
    let engine = start(dir.path(), &runner, config());
    let mut events = engine.subscribe();
    let id = submit(&engine, NewJob::new(echo("busy")));
    wait_until("progress", || {
        engine.get(id).unwrap().unwrap().state == JobState::Running
    });
    std::thread::sleep(Duration::from_millis(250));
    engine.cancel(id).unwrap();
    finished(&engine, id);
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        let label = match event {
            JobEvent::Queued { .. } => "queued".to_string(),
            JobEvent::State { state, .. } => state.as_str().to_string(),
            JobEvent::Progress { .. } => "progress".to_string(),
            other => format!("{other:?}"),
        };
        if seen.last() != Some(&label) {
            seen.push(label);
        }
    }
    assert_eq!(seen, ["queued", "running", "progress", "canceled"]);
}

#[test]
fn ten_thousand_queued_jobs_list_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = JobQueue::open(dir.path()).unwrap();
    for i in 0..10_000 {
        let kind_node = if i % 2 == 0 { "pacs-a" } else { "pacs-b" };
        queue
            .submit(
                &NewJob::new(retrieve(kind_node, &format!("1.2.826.0.1.{i}"))),
                3,
            )
            .unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let (page, total) = queue
            .list(&JobFilter {
                states: vec![JobState::Queued],
                limit: Some(100),
                offset,
                ..JobFilter::default()
            })
            .unwrap();
        assert_eq!(total, 10_000);
        if page.is_empty() {
            break;
        }
        // Newest first.
        assert!(page.windows(2).all(|w| w[0].id > w[1].id));
        seen.extend(page.iter().map(|j| j.id));
        offset += 100;
    }
    assert_eq!(seen.len(), 10_000);
    let (page, total) = queue
        .list(&JobFilter {
            node: Some("pacs-b".into()),
            limit: Some(10),
            ..JobFilter::default()
        })
        .unwrap();
    assert_eq!((page.len(), total), (10, 5_000));
    assert!(page.iter().all(|j| j.node.as_deref() == Some("pacs-b")));
    // Text: in the title (the study's UID, 424 and 4240–4249), the node (case folded), the ID.
    let text = |text: &str| {
        queue
            .list(&JobFilter {
                text: Some(text.into()),
                limit: Some(20),
                ..JobFilter::default()
            })
            .unwrap()
    };
    let (page, total) = text("1.2.826.0.1.424");
    assert_eq!(
        total,
        11,
        "{:?}",
        page.iter().map(|j| &j.title).collect::<Vec<_>>()
    );
    assert!(page.iter().all(|j| j.title.contains("1.2.826.0.1.424")));
    assert_eq!(text("PACS-B").1, 5_000);
    let some_id = page[3].id;
    let (by_id, total) = text(&some_id.to_string());
    assert!(total >= 1 && by_id.iter().any(|j| j.id == some_id));
    assert_eq!(text("nothing like it").1, 0);
}

#[test]
fn finished_jobs_older_than_the_history_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Scripted::default());
    runner.script("gate", Script::Gated);
    let engine = start(dir.path(), &runner, config());
    let done = submit(&engine, NewJob::new(echo("done")));
    finished(&engine, done);
    let pending = submit(&engine, NewJob::new(echo("gate")));
    wait_until("the gated job to run", || {
        engine.get(pending).unwrap().unwrap().state == JobState::Running
    });
    engine.shutdown();
    std::thread::sleep(Duration::from_millis(50));
    // A history of 10 ms: the finished job goes, the interrupted one stays and runs.
    runner.open_gate();
    let engine = start(
        dir.path(),
        &runner,
        EngineConfig {
            history: Duration::from_millis(10),
            ..config()
        },
    );
    assert!(engine.get(done).unwrap().is_none());
    assert_eq!(finished(&engine, pending).state, JobState::Completed);
}
