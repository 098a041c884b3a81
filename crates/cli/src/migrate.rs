//! `lightbox migrate`: this store's instances (index rows and files) copied into another, a
//! cluster's PostgreSQL index and S3 bucket above all, then verified by counts and hashes. Run
//! in the foreground: the source and the target are both stores, not jobs of one. Ctrl-C stops
//! it; running it again goes on where it stopped.

use anyhow::{bail, Context, Result};
use clap::Args;
use lightbox_core::index::IndexLocation;
use lightbox_core::migrate::{migrate, MigrateProgress};
use lightbox_core::store::{ObjectLocation, Store};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct MigrateArgs {
    /// The target's index: a PostgreSQL database (postgres://…) [default: this store's index]
    #[arg(long, value_name = "URL")]
    to_index: Option<String>,
    /// The target's files: an S3 bucket (s3://BUCKET[/PREFIX]) [default: this store's]
    #[arg(long, value_name = "URL")]
    to_store: Option<String>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(
    data_dir: &Path,
    source: &Store,
    source_index: &IndexLocation,
    source_objects: &ObjectLocation,
    args: MigrateArgs,
) -> Result<()> {
    let index = match &args.to_index {
        Some(url) => IndexLocation::parse(url)?,
        None => source_index.clone(),
    };
    let objects = match &args.to_store {
        Some(url) => ObjectLocation::parse(url)?,
        None => source_objects.clone(),
    };
    if &index == source_index && &objects == source_objects {
        bail!("the target is this store: give --to-index, --to-store or both");
    }
    let target = Store::open_with(data_dir, &index, &objects)
        .with_context(|| format!("opening the target (files in {objects})"))?;
    let progress = Arc::new(MigrateProgress::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    let started = Instant::now();
    let report = std::thread::scope(|scope| {
        let watcher = {
            let progress = progress.clone();
            let stop = stop.clone();
            let show = std::io::stderr().is_terminal() && !args.json;
            scope.spawn(move || {
                let mut last = Instant::now();
                while !done(&progress) {
                    if stop.load(Ordering::Relaxed) {
                        progress.cancel.store(true, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    if show && last.elapsed() > Duration::from_secs(1) {
                        last = Instant::now();
                        eprint!(
                            "\r{} of {} copied, {} verified, {:.1} MB",
                            progress.copied.load(Ordering::Relaxed),
                            progress.instances_total.load(Ordering::Relaxed),
                            progress.verified.load(Ordering::Relaxed),
                            progress.bytes.load(Ordering::Relaxed) as f64 / 1e6
                        );
                    }
                }
                if show {
                    eprintln!();
                }
            })
        };
        let report = migrate(source, &target, &progress);
        progress.finished.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        report
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} instance(s): {} copied ({:.1} MB), {} there already, {} verified, {} repaired, \
             {} failed in {:.1}s{}",
            report.instances,
            report.copied,
            report.bytes_copied as f64 / 1e6,
            report.already_there,
            report.verified,
            report.repaired,
            report.failed.len(),
            started.elapsed().as_secs_f64(),
            if report.canceled {
                " (stopped: run it again to go on)"
            } else {
                ""
            }
        );
        for failure in &report.failed {
            println!("  {}: {}", failure.sop_instance_uid, failure.reason);
        }
    }
    if !report.complete() {
        bail!("the migration is not complete");
    }
    Ok(())
}

fn done(progress: &MigrateProgress) -> bool {
    progress.finished.load(Ordering::Relaxed)
}
