//! Two engines sharing one job queue in a real PostgreSQL server, as two nodes of a cluster do:
//! each job runs on exactly one of them, the caps hold across both, a node that stops renewing
//! its lease has its job taken over, and events and cancels cross from one node to the other.

mod support;

use lightbox_core::jobs::queue::PostgresQueue;
use lightbox_core::jobs::{
    AssociationSettings, Engine, EngineConfig, JobContext, JobEvent, JobFailure, JobId, JobKind,
    JobQueue, JobRecord, JobSpec, JobState, NewJob, Progress, Runner,
};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What both nodes' runners share: who ran what, and how many ran at once.
#[derive(Default)]
struct Cluster {
    /// (node, job) of every attempt started.
    runs: Mutex<Vec<(String, JobId)>>,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
    /// Running now, by remote node.
    running_by_remote: Mutex<HashMap<String, usize>>,
    most_for_one_remote: AtomicUsize,
    /// Lets `stuck` jobs return.
    release: AtomicBool,
}

/// One node's runner. Jobs behave by their remote node's name: `sleep-…` sleeps a moment,
/// `forever` reports progress until canceled, `stuck` ignores cancels until released.
struct Worker {
    node: &'static str,
    cluster: Arc<Cluster>,
    /// Remote nodes this node knows (all when `None`).
    knows: Option<HashSet<&'static str>>,
}

impl Runner for Worker {
    fn run(
        &self,
        job: &JobRecord,
        ctx: &JobContext,
    ) -> Result<Option<serde_json::Value>, JobFailure> {
        let remote = job.node.clone().unwrap_or_default();
        let c = &self.cluster;
        c.runs.lock().unwrap().push((self.node.into(), job.id));
        let now = c.running.fetch_add(1, Ordering::SeqCst) + 1;
        c.most_at_once.fetch_max(now, Ordering::SeqCst);
        {
            let mut by_remote = c.running_by_remote.lock().unwrap();
            let n = by_remote.entry(remote.clone()).or_default();
            *n += 1;
            c.most_for_one_remote.fetch_max(*n, Ordering::SeqCst);
        }
        let result = if remote.starts_with("sleep") {
            std::thread::sleep(Duration::from_millis(60));
            Ok(Some(serde_json::json!({ "ran_on": self.node })))
        } else if remote == "forever" {
            let mut done = 0;
            while !ctx.is_canceled() {
                done += 1;
                ctx.progress(Progress {
                    items_done: done,
                    items_total: 1_000,
                    ..Progress::default()
                });
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(JobFailure::canceled())
        } else if remote == "stuck" {
            while !c.release.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(Some(serde_json::json!({ "ran_on": self.node })))
        } else {
            Ok(Some(serde_json::json!({ "ran_on": self.node })))
        };
        c.running.fetch_sub(1, Ordering::SeqCst);
        *c.running_by_remote
            .lock()
            .unwrap()
            .get_mut(&remote)
            .unwrap() -= 1;
        result
    }

    fn can_run(&self, job: &JobRecord) -> bool {
        match (&self.knows, job.node.as_deref()) {
            (Some(known), Some(remote)) => known.contains(remote),
            _ => true,
        }
    }
}

struct Node {
    engine: Engine,
    _dir: tempfile::TempDir,
}

const LEASE: Duration = Duration::from_millis(1500);

fn config() -> EngineConfig {
    EngineConfig {
        retry_base: Duration::from_millis(50),
        poll_interval: Duration::from_millis(20),
        ..EngineConfig::default()
    }
}

fn node(
    url: &str,
    name: &'static str,
    cluster: &Arc<Cluster>,
    knows: Option<HashSet<&'static str>>,
    config: EngineConfig,
) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let queue = PostgresQueue::open(url, name, LEASE).unwrap();
    let worker = Worker {
        node: name,
        cluster: cluster.clone(),
        knows,
    };
    let engine = Engine::start_on(
        dir.path(),
        JobQueue::from_backend(Box::new(queue)),
        Arc::new(worker),
        config,
    )
    .unwrap();
    Node { engine, _dir: dir }
}

fn echo(remote: &str) -> JobSpec {
    JobSpec::Echo {
        node: remote.into(),
        association: AssociationSettings::default(),
    }
}

fn retrieve(remote: &str, series: &str) -> JobSpec {
    JobSpec::Retrieve {
        node: remote.into(),
        study_uid: "1.2.3".into(),
        series_uid: Some(series.into()),
        sop_instance_uid: None,
        preview_first: false,
        preview_only: false,
        association: AssociationSettings::default(),
    }
}

fn wait_finished(engine: &Engine, id: JobId, within: Duration) -> JobRecord {
    let record = engine.wait(id, within).unwrap().expect("the job exists");
    assert!(
        record.state.is_finished(),
        "job {id} still {:?}",
        record.state
    );
    record
}

fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_job_runs_on_exactly_one_node() {
    let Some(pg) = support::postgres::start_postgres() else {
        return;
    };
    let url = pg.database();
    let cluster = Arc::new(Cluster::default());
    let a = node(&url, "node-a", &cluster, None, config());
    let b = node(&url, "node-b", &cluster, None, config());
    let mut ids = Vec::new();
    for i in 0..60 {
        let on = if i % 2 == 0 { &a } else { &b };
        let remote = format!("sleep-{}", i % 12);
        ids.push(on.engine.submit(NewJob::new(echo(&remote))).unwrap().id);
        // The same job submitted on the other node merges into it while it is pending.
        let other = if i % 2 == 0 { &b } else { &a };
        let again = other.engine.submit(NewJob::new(echo(&remote))).unwrap();
        if again.merged {
            assert!(ids.contains(&again.id));
        }
        ids.push(again.id);
    }
    let ids: Vec<JobId> = ids
        .into_iter()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for id in &ids {
        let record = wait_finished(&a.engine, *id, Duration::from_secs(60));
        assert_eq!(record.state, JobState::Completed, "{record:?}");
        let ran_on = record.output.as_ref().unwrap()["ran_on"].as_str().unwrap();
        assert_eq!(record.claimed_by.as_deref(), Some(ran_on));
        assert_eq!(record.attempts, 1);
    }
    let runs = cluster.runs.lock().unwrap().clone();
    let mut per_job: HashMap<JobId, Vec<String>> = HashMap::new();
    for (node, id) in &runs {
        per_job.entry(*id).or_default().push(node.clone());
    }
    for id in &ids {
        assert_eq!(per_job[id].len(), 1, "job {id} ran on {:?}", per_job[id]);
    }
    assert_eq!(runs.len(), ids.len());
    let on_a = runs.iter().filter(|(n, _)| n == "node-a").count();
    assert!(
        on_a > 0 && on_a < runs.len(),
        "{on_a} of {} ran on node-a",
        runs.len()
    );
}

#[test]
fn caps_hold_across_the_cluster() {
    let Some(pg) = support::postgres::start_postgres() else {
        return;
    };
    let url = pg.database();
    let cluster = Arc::new(Cluster::default());
    let mut capped = config();
    capped.kind_caps.insert(JobKind::Echo, 2);
    capped.node_cap = 1;
    let a = node(&url, "node-a", &cluster, None, capped.clone());
    let b = node(&url, "node-b", &cluster, None, capped);
    // Twelve echoes of different nodes: the kind's cap (2) binds across both engines.
    let echoes: Vec<JobId> = (0..12)
        .map(|i| {
            let on = if i % 2 == 0 { &a } else { &b };
            on.engine
                .submit(NewJob::new(echo(&format!("sleep-echo-{i}"))))
                .unwrap()
                .id
        })
        .collect();
    for id in &echoes {
        assert_eq!(
            wait_finished(&a.engine, *id, Duration::from_secs(60)).state,
            JobState::Completed
        );
    }
    assert_eq!(cluster.most_at_once.load(Ordering::SeqCst), 2);
    // Eight retrievals from one node: its cap (1) binds across both engines.
    let retrievals: Vec<JobId> = (0..8)
        .map(|i| {
            let on = if i % 2 == 0 { &a } else { &b };
            on.engine
                .submit(NewJob::new(retrieve("sleep-pacs", &format!("1.2.3.{i}"))))
                .unwrap()
                .id
        })
        .collect();
    for id in &retrievals {
        assert_eq!(
            wait_finished(&b.engine, *id, Duration::from_secs(60)).state,
            JobState::Completed
        );
    }
    assert_eq!(cluster.most_for_one_remote.load(Ordering::SeqCst), 1);
    let runs = cluster.runs.lock().unwrap();
    let nodes: HashSet<&str> = runs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(nodes.len(), 2, "both engines ran jobs: {runs:?}");
}

#[test]
fn a_node_that_stops_renewing_its_lease_is_taken_over() {
    let Some(pg) = support::postgres::start_postgres() else {
        return;
    };
    let url = pg.database();
    let cluster = Arc::new(Cluster::default());
    // Only node A knows `stuck` at first, so that A is the one that runs it.
    let a = node(&url, "node-a", &cluster, None, config());
    let id = a.engine.submit(NewJob::new(echo("stuck"))).unwrap().id;
    wait_until(Duration::from_secs(10), "node A runs the job", || {
        a.engine.get(id).unwrap().unwrap().state == JobState::Running
    });
    let b = node(&url, "node-b", &cluster, None, config());
    assert_eq!(
        b.engine.get(id).unwrap().unwrap().claimed_by.as_deref(),
        Some("node-a")
    );
    // A hangs: its engine stops (its job ignores the cancel, so its claim is not released)
    // and nothing renews the lease any more.
    let stopped = Instant::now();
    drop(a);
    wait_until(Duration::from_secs(30), "node B takes the job over", || {
        b.engine.get(id).unwrap().unwrap().claimed_by.as_deref() == Some("node-b")
    });
    assert!(
        stopped.elapsed() >= LEASE / 2,
        "taken over before the lease could run out"
    );
    cluster.release.store(true, Ordering::SeqCst);
    let record = wait_finished(&b.engine, id, Duration::from_secs(30));
    assert_eq!(record.state, JobState::Completed, "{record:?}");
    // The takeover's run is the one recorded; A's late result is dropped.
    std::thread::sleep(Duration::from_millis(300));
    let record = b.engine.get(id).unwrap().unwrap();
    assert_eq!(record.output.unwrap()["ran_on"], "node-b");
    let runs = cluster.runs.lock().unwrap().clone();
    assert_eq!(
        runs,
        vec![("node-a".to_string(), id), ("node-b".to_string(), id)]
    );
    let log = b.engine.log(id).unwrap();
    assert!(
        log.iter()
            .any(|l| l.message == "interrupted (node node-a stopped); queued again"),
        "{log:?}"
    );
}

#[test]
fn events_and_cancels_cross_from_node_to_node() {
    let Some(pg) = support::postgres::start_postgres() else {
        return;
    };
    let url = pg.database();
    let cluster = Arc::new(Cluster::default());
    let a = node(&url, "node-a", &cluster, None, config());
    // B does not know the remote node `forever`: only A can run that job.
    let b = node(
        &url,
        "node-b",
        &cluster,
        Some(["sleep"].into_iter().collect()),
        config(),
    );
    let mut heard_on_b = b.engine.subscribe();
    let id = a.engine.submit(NewJob::new(echo("forever"))).unwrap().id;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut queued, mut running, mut progress) = (false, false, false);
    while !(queued && running && progress) {
        assert!(
            Instant::now() < deadline,
            "B heard {queued} {running} {progress}"
        );
        match heard_on_b.try_recv() {
            Ok(JobEvent::Queued { id: i, .. }) if i == id => queued = true,
            Ok(JobEvent::State {
                id: i,
                state: JobState::Running,
                ..
            }) if i == id => running = true,
            Ok(JobEvent::Progress { id: i, progress: p }) if i == id => {
                progress = p.items_done > 0 && p.items_total == 1_000
            }
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    // Listed on B as running on A, and canceled from B.
    let listed = b.engine.get(id).unwrap().unwrap();
    assert_eq!(listed.state, JobState::Running);
    assert_eq!(listed.claimed_by.as_deref(), Some("node-a"));
    assert!(b.engine.cancel(id).unwrap());
    let record = wait_finished(&b.engine, id, Duration::from_secs(20));
    assert_eq!(record.state, JobState::Canceled);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "B never heard of the cancel");
        match heard_on_b.try_recv() {
            Ok(JobEvent::State {
                id: i,
                state: JobState::Canceled,
                ..
            }) if i == id => break,
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    assert_eq!(
        cluster.runs.lock().unwrap().clone(),
        vec![("node-a".to_string(), id)]
    );
}
