//! Jobs from the command line. Every long verb is a job: with `lightbox serve` running on the
//! same data directory it is queued there and followed from here; otherwise it runs in this
//! process. Ctrl-C cancels it either way (a second Ctrl-C quits at once).

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use lightbox_core::jobs::engine::{engine_running, ContextSink};
use lightbox_core::jobs::runner::{LocalRunner, MoveListener};
use lightbox_core::jobs::{
    JobContext, JobFailure, JobFilter, JobId, JobKind, JobQueue, JobRecord, JobSpec, JobState,
    NewJob, ParentFilter, Priority, Progress,
};
use lightbox_core::nodes::Nodes;
use lightbox_core::store::Store;
use serde_json::Value;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Retries a job submitted from the CLI gets (the engine's default).
const DEFAULT_RETRIES: u32 = 3;

/// Where jobs of this invocation run.
pub struct Runtime {
    pub data_dir: PathBuf,
    pub store: Arc<Store>,
    /// For C-MOVE retrievals run in-process: where a temporary listener receives.
    pub listen: String,
}

/// How a job ended.
pub struct Finished {
    pub id: Option<JobId>,
    pub state: JobState,
    pub output: Option<Value>,
    pub error: Option<JobFailure>,
}

impl Finished {
    /// The job's output (or the partial output of a failed job) as a report type.
    pub fn output<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.output
            .clone()
            .and_then(|o| serde_json::from_value(o).ok())
    }

    /// As [`output`](Self::output), taking the output rather than copying it (a query's
    /// matches can be many).
    pub fn take_output<T: serde::de::DeserializeOwned>(&mut self) -> Option<T> {
        self.output
            .take()
            .and_then(|o| serde_json::from_value(o).ok())
    }

    /// Success, or the job's failure as an error for the exit status.
    pub fn result(&self) -> Result<()> {
        let job = self.id.map(|id| format!("job {id}: ")).unwrap_or_default();
        match (self.state, &self.error) {
            (JobState::Completed, _) => Ok(()),
            (JobState::Canceled, _) => bail!("{job}canceled"),
            (_, Some(error)) => bail!("{job}{} ({})", error.message, error.category.as_str()),
            (state, None) => bail!("{job}the job ended {}", state.as_str()),
        }
    }
}

/// Runs `spec` as a job, showing progress on a terminal unless `quiet`.
pub fn execute(rt: &Runtime, spec: JobSpec, quiet: bool) -> Result<Finished> {
    let cancel = Arc::new(AtomicBool::new(false));
    // The first Ctrl-C cancels; a second one, while the cancel is under way, quits.
    signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        130,
        cancel.clone(),
    )?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, cancel.clone())?;
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
            )
            .expect("a valid template"),
        );
        bar
    });
    let finished = if engine_running(&rt.data_dir) {
        through_server(rt, spec, &cancel, bar.as_ref())
    } else {
        in_process(rt, spec, &cancel, bar.clone())
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    finished
}

struct TerminalSink {
    bar: Option<indicatif::ProgressBar>,
}

impl ContextSink for TerminalSink {
    fn progress(&self, _id: JobId, progress: &Progress) {
        if let Some(bar) = &self.bar {
            show_progress(bar, progress);
        }
    }

    fn log(&self, _id: JobId, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
    }
}

fn show_progress(bar: &indicatif::ProgressBar, progress: &Progress) {
    bar.set_length(progress.items_total.max(progress.items_done));
    bar.set_position(progress.items_done);
    if progress.bytes_done > 0 {
        bar.set_message(format!("{} MB", progress.bytes_done / 1_000_000));
    }
}

fn in_process(
    rt: &Runtime,
    spec: JobSpec,
    cancel: &Arc<AtomicBool>,
    bar: Option<indicatif::ProgressBar>,
) -> Result<Finished> {
    let runner = LocalRunner::new(
        rt.store.clone(),
        Nodes::of_store(&rt.store),
        MoveListener::Temporary(rt.listen.clone()),
    );
    let ctx = JobContext::standalone(Box::new(TerminalSink { bar }), cancel.clone());
    let result = runner.run_spec(&spec, &ctx);
    // Follow-ups (thumbnails of retrieved series) are quick: done here, before returning.
    if result.is_ok() {
        for chain in ctx.take_follow_ups() {
            for follow_up in chain {
                if let Err(e) = runner.run_spec(&follow_up.spec, &ctx) {
                    eprintln!("warning: {}: {}", follow_up.spec.title(), e.message);
                    break;
                }
            }
        }
    }
    Ok(match result {
        Ok(output) => Finished {
            id: None,
            state: JobState::Completed,
            output,
            error: None,
        },
        Err(failure) => Finished {
            id: None,
            state: if cancel.load(Ordering::SeqCst) {
                JobState::Canceled
            } else {
                JobState::Failed
            },
            output: failure.output.clone(),
            error: Some(failure),
        },
    })
}

fn through_server(
    rt: &Runtime,
    spec: JobSpec,
    cancel: &Arc<AtomicBool>,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<Finished> {
    let mut queue = rt.store.job_queue()?;
    let submitted = queue.submit(&NewJob::new(spec), DEFAULT_RETRIES)?;
    queue.signal(submitted.id)?;
    let id = submitted.id;
    let note = if submitted.merged {
        " (the same job was already pending: following it)"
    } else {
        ""
    };
    eprintln!("job {id} queued on the running server{note}");
    let mut asked_to_cancel = false;
    let mut last_state = None;
    for tick in 0u64.. {
        let record = queue
            .get(id)?
            .with_context(|| format!("job {id} was removed from the queue"))?;
        if let Some(bar) = bar {
            show_progress(bar, &record.progress);
        }
        if last_state != Some(record.state) {
            if record.state == JobState::WaitingRetry {
                let reason = record.error.as_ref().map(|e| e.message.as_str());
                eprintln!(
                    "job {id}: attempt {} failed ({}); it will be retried",
                    record.attempts,
                    reason.unwrap_or("?")
                );
            }
            last_state = Some(record.state);
        }
        if record.state.is_finished() {
            return Ok(Finished {
                id: Some(id),
                state: record.state,
                output: record.output,
                error: record.error,
            });
        }
        if cancel.load(Ordering::SeqCst) && !asked_to_cancel {
            eprintln!("canceling job {id}…");
            queue.request_cancel(id)?;
            queue.signal(id)?;
            asked_to_cancel = true;
        }
        if tick % 40 == 39 && !engine_running(&rt.data_dir) {
            bail!(
                "the server stopped; job {id} stays in the queue and resumes when `lightbox serve` runs again"
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    unreachable!("the loop only ends by returning")
}

#[derive(Args)]
pub struct JobsArgs {
    #[command(subcommand)]
    command: Option<JobsCommand>,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(Args)]
struct ListArgs {
    /// Only jobs in these states (repeatable): queued, running, waiting_retry, failed,
    /// canceled, completed
    #[arg(long)]
    state: Vec<String>,
    /// Only jobs of this kind: import, query, retrieve, send, thumbnail, echo, delete, receive
    #[arg(long)]
    kind: Option<String>,
    /// Only jobs talking to this node
    #[arg(long)]
    node: Option<String>,
    /// Only jobs with this ID or kind, or whose title, node or error contains it
    #[arg(long)]
    text: Option<String>,
    /// Only activities (jobs that belong to no other job), as the jobs page lists them
    #[arg(long, conflicts_with = "under")]
    top: bool,
    /// Only the jobs of this activity (a job's follow-ups, an association's thumbnails)
    #[arg(long, value_name = "ID")]
    under: Option<JobId>,
    #[arg(long, default_value_t = 50)]
    limit: u64,
    #[arg(long, default_value_t = 0)]
    offset: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum JobsCommand {
    /// One job in full: specification, progress, output, error report and log
    Show {
        id: JobId,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a pending or running job
    Cancel { id: JobId },
    /// Queue a failed or canceled job again
    Retry { id: JobId },
    /// Move a pending job up or down the queue: lowest, low, normal, high, highest
    Priority { id: JobId, priority: String },
    /// Remove finished jobs (completed, failed, canceled) from the history
    Clear,
    /// Follow the jobs live until interrupted
    Watch {
        #[arg(long)]
        json: bool,
    },
}

pub fn command(
    data_dir: &std::path::Path,
    index: &lightbox_core::index::IndexLocation,
    args: JobsArgs,
) -> Result<()> {
    let queue = JobQueue::open_beside(data_dir, index, &lightbox_core::jobs::node_name(data_dir))?;
    let server = engine_running(data_dir);
    let pending_note = "it runs when `lightbox serve` runs";
    match args.command {
        None => list(&queue, &args.list),
        Some(JobsCommand::Show { id, json }) => show(&queue, id, json),
        Some(JobsCommand::Cancel { id }) => {
            let record = queue.get(id)?.with_context(|| format!("no job {id}"))?;
            if record.state.is_finished() {
                bail!("job {id} is already {}", record.state.as_str());
            }
            if server {
                queue.request_cancel(id)?;
                queue.signal(id)?;
                println!("job {id}: cancel requested");
            } else {
                queue.finish(id, JobState::Canceled, None, None)?;
                queue.append_log(id, "canceled by the user")?;
                println!("job {id} canceled");
            }
            Ok(())
        }
        Some(JobsCommand::Retry { id }) => {
            if !queue.requeue(id)? {
                bail!("job {id} is not failed or canceled");
            }
            queue.signal(id)?;
            if server {
                println!("job {id} queued again");
            } else {
                println!("job {id} queued again; {pending_note}");
            }
            Ok(())
        }
        Some(JobsCommand::Priority { id, priority }) => {
            let priority = Priority::parse(&priority).with_context(|| {
                format!("{priority:?}: expected lowest, low, normal, high or highest")
            })?;
            if !queue.set_priority(id, priority)? {
                bail!("job {id} is not pending");
            }
            queue.signal(id)?;
            println!("job {id}: priority {}", priority.as_str());
            Ok(())
        }
        Some(JobsCommand::Clear) => {
            let removed = queue.clear_finished(None)?;
            println!("removed {removed} finished job(s)");
            Ok(())
        }
        Some(JobsCommand::Watch { json }) => watch(&queue, json),
    }
}

fn filter(args: &ListArgs) -> Result<JobFilter> {
    let states = args
        .state
        .iter()
        .flat_map(|s| s.split(','))
        .map(|s| JobState::parse(s.trim()).with_context(|| format!("unknown state {s:?}")))
        .collect::<Result<Vec<_>>>()?;
    let kind = args
        .kind
        .as_deref()
        .map(|k| JobKind::parse(k).with_context(|| format!("unknown kind {k:?}")))
        .transpose()?;
    Ok(JobFilter {
        states,
        kind,
        node: args.node.clone(),
        text: args.text.clone(),
        parent: match (args.top, args.under) {
            (_, Some(id)) => ParentFilter::Of(id),
            (true, None) => ParentFilter::TopLevel,
            (false, None) => ParentFilter::Any,
        },
        limit: Some(args.limit),
        offset: args.offset,
    })
}

fn progress_text(p: &Progress) -> String {
    match (p.items_done, p.items_total) {
        (0, 0) => String::new(),
        (done, 0) => format!("{done}"),
        (done, total) => format!("{done}/{total}"),
    }
}

fn list(queue: &JobQueue, args: &ListArgs) -> Result<()> {
    let (jobs, total) = queue.list(&filter(args)?)?;
    if args.json {
        let out = serde_json::json!({ "total": total, "offset": args.offset, "jobs": jobs });
        println!("{out}");
        return Ok(());
    }
    println!(
        "{:>6}  {:<13} {:<9} {:<8} {:>11}  TITLE",
        "ID", "STATE", "KIND", "PRIORITY", "PROGRESS"
    );
    for job in &jobs {
        println!(
            "{:>6}  {:<13} {:<9} {:<8} {:>11}  {}",
            job.id,
            job.state.as_str(),
            job.kind.as_str(),
            job.priority.as_str(),
            progress_text(&job.progress),
            job.title
        );
        if let Some(error) = &job.error {
            println!("{:>8}{}: {}", "", error.category.as_str(), error.message);
        }
        let c = &job.children;
        if !c.is_empty() {
            println!(
                "{:>8}{} job(s) of its own: {} done, {} active, {} failed, {} canceled (jobs list --under {})",
                "", c.total, c.completed, c.active, c.failed, c.canceled, job.id
            );
        }
    }
    println!("{} of {total} job(s) (offset {})", jobs.len(), args.offset);
    Ok(())
}

fn show(queue: &JobQueue, id: JobId, json: bool) -> Result<()> {
    let record = queue.get(id)?.with_context(|| format!("no job {id}"))?;
    let log = queue.log(id)?;
    if json {
        println!("{}", serde_json::json!({ "job": record, "log": log }));
        return Ok(());
    }
    println!("job {}: {}", record.id, record.title);
    println!(
        "  state {}, priority {}, attempt {} of at most {}",
        record.state.as_str(),
        record.priority.as_str(),
        record.attempts,
        record.max_retries + 1
    );
    if !record.depends_on.is_empty() {
        println!("  after job(s) {:?}", record.depends_on);
    }
    if let Some(parent) = record.parent {
        println!("  one of the jobs of job {parent}");
    }
    println!("  progress {}", progress_text(&record.progress));
    if let Some(error) = &record.error {
        println!("  error ({}): {}", error.category.as_str(), error.message);
    }
    println!("  specification {}", serde_json::to_string(&record.spec)?);
    if let Some(output) = &record.output {
        println!("  output {output}");
    }
    for line in log {
        println!("  [{}] {}", clock(line.at), line.message);
    }
    Ok(())
}

/// hh:mm:ss (UTC) of a timestamp in milliseconds.
fn clock(millis: i64) -> String {
    let secs = millis.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn watch(queue: &JobQueue, json: bool) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    let mut seen: HashMap<JobId, (JobState, u64)> = HashMap::new();
    let mut first = true;
    while !stop.load(Ordering::SeqCst) {
        let (jobs, _) = queue.list(&JobFilter {
            limit: Some(500),
            ..JobFilter::default()
        })?;
        for job in jobs.iter().rev() {
            let now = (job.state, job.progress.items_done);
            if seen.get(&job.id) == Some(&now) {
                continue;
            }
            seen.insert(job.id, now);
            // At start, only what is still going on.
            if first && job.state.is_finished() {
                continue;
            }
            print_change(job, json)?;
        }
        first = false;
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

fn print_change(job: &JobRecord, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(job)?);
        return Ok(());
    }
    let error = job
        .error
        .as_ref()
        .map(|e| format!("  ({}: {})", e.category.as_str(), e.message))
        .unwrap_or_default();
    println!(
        "{}  job {:>5}  {:<13} {:>11}  {}{error}",
        clock(lightbox_core::jobs::now_millis()),
        job.id,
        job.state.as_str(),
        progress_text(&job.progress),
        job.title
    );
    Ok(())
}
