//! The job engine's own cost: a queue of 10,000 trivial jobs (submitted, scheduled, run,
//! persisted) and listing 10,000 queued jobs page by page.
//! `cargo bench -p lightbox-core --bench jobs`.

use lightbox_core::jobs::{
    AssociationSettings, Engine, EngineConfig, JobContext, JobFailure, JobFilter, JobQueue,
    JobRecord, JobSpec, JobState, NewJob, QuerySpec, Runner,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const JOBS: usize = 10_000;

/// Does nothing: what remains is the engine.
struct Trivial;

impl Runner for Trivial {
    fn run(&self, _: &JobRecord, _: &JobContext) -> Result<Option<serde_json::Value>, JobFailure> {
        Ok(None)
    }
}

/// Distinct jobs (equal pending ones would be merged), spread over ten nodes.
fn trivial_job(i: usize) -> JobSpec {
    JobSpec::Query {
        node: format!("node-{}", i % 10),
        query: QuerySpec {
            level: "study".into(),
            patient_id: Some(format!("P{i}")),
            ..QuerySpec::default()
        },
        association: AssociationSettings::default(),
    }
}

fn percentile(times: &mut [f64], q: f64) -> f64 {
    times.sort_by(f64::total_cmp);
    times[((times.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load().trim());

    // 1. Throughput: 10,000 trivial jobs through a running engine, from the first submission to
    //    the last completion (each job: one queue insert, three state writes, one event each).
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(dir.path(), Arc::new(Trivial), EngineConfig::default()).unwrap();
    let started = Instant::now();
    let mut submit_times = Vec::with_capacity(JOBS);
    let mut last = 0;
    for i in 0..JOBS {
        let t = Instant::now();
        last = engine.submit(NewJob::new(trivial_job(i))).unwrap().id;
        submit_times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let submitted = started.elapsed();
    let record = engine
        .wait(last, Duration::from_secs(600))
        .unwrap()
        .unwrap();
    assert_eq!(record.state, JobState::Completed);
    // Every job, not only the last, must have completed.
    loop {
        let (_, pending) = engine
            .list(&JobFilter {
                states: vec![JobState::Queued, JobState::Running],
                limit: Some(1),
                ..JobFilter::default()
            })
            .unwrap();
        if pending == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let total = started.elapsed();
    let (_, completed) = engine
        .list(&JobFilter {
            states: vec![JobState::Completed],
            limit: Some(1),
            ..JobFilter::default()
        })
        .unwrap();
    assert_eq!(completed as usize, JOBS);
    engine.shutdown();
    println!("\n| 10,000 trivial jobs | value |");
    println!("|---|---:|");
    println!("| submitting all (s) | {:.2} |", submitted.as_secs_f64());
    println!(
        "| submit, p50 / p95 (µs) | {:.0} / {:.0} |",
        percentile(&mut submit_times, 0.5),
        percentile(&mut submit_times, 0.95)
    );
    println!(
        "| first submission to last completion (s) | {:.2} |",
        total.as_secs_f64()
    );
    println!(
        "| throughput (jobs/s) | {:.0} |",
        JOBS as f64 / total.as_secs_f64()
    );
    println!(
        "| overhead per job, submit to completion (µs) | {:.0} |",
        total.as_secs_f64() * 1e6 / JOBS as f64
    );

    // 2. Listing 10,000 queued jobs (no engine: they stay queued), 100 per page, newest first,
    //    with the total, as the jobs panel asks for them.
    let dir = tempfile::tempdir().unwrap();
    let mut queue = JobQueue::open(dir.path()).unwrap();
    for i in 0..JOBS {
        queue
            .submit(&NewJob::new(trivial_job(i + JOBS)), 3)
            .unwrap();
    }
    let mut page_times = Vec::new();
    for round in 0..5 {
        for page in 0..(JOBS / 100) as u64 {
            let t = Instant::now();
            let (jobs, total) = queue
                .list(&JobFilter {
                    states: if round % 2 == 0 {
                        vec![]
                    } else {
                        vec![JobState::Queued]
                    },
                    limit: Some(100),
                    offset: page * 100,
                    ..JobFilter::default()
                })
                .unwrap();
            page_times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!((jobs.len(), total as usize), (100, JOBS));
        }
    }
    println!(
        "\n| list 10,000 queued jobs, 100 per page ({} pages) | ms |",
        page_times.len()
    );
    println!("|---|---:|");
    println!("| p50 | {:.2} |", percentile(&mut page_times, 0.5));
    println!("| p95 | {:.2} |", percentile(&mut page_times, 0.95));
    println!("| max | {:.2} |", percentile(&mut page_times, 1.0));
    println!("\nload average after: {}", load().trim());
}
