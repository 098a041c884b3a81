//! `import`: files, folders, DICOMDIR media and zip archives into the store.

use crate::import::{import, ImportOptions, ImportProgress};
use crate::jobs::runner::{storage, to_json, LocalRunner};
use crate::jobs::{JobContext, JobFailure, Progress};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use crate::import::ImportReport as ImportOutput;

pub(crate) fn run(
    runner: &LocalRunner,
    paths: &[PathBuf],
    link: bool,
    ctx: &JobContext,
) -> Result<ImportOutput, JobFailure> {
    let progress = ImportProgress::default();
    let report_progress = || {
        ctx.progress(Progress {
            items_done: progress.processed.load(Ordering::Relaxed),
            items_total: progress.discovered.load(Ordering::Relaxed),
            bytes_done: progress.bytes.load(Ordering::Relaxed),
            ..Progress::default()
        })
    };
    let report = std::thread::scope(|scope| {
        let worker =
            scope.spawn(|| import(&runner.store, paths, &ImportOptions { link }, &progress));
        while !worker.is_finished() {
            if ctx.is_canceled() {
                progress.cancel.store(true, Ordering::SeqCst);
            }
            report_progress();
            std::thread::sleep(Duration::from_millis(50));
        }
        worker.join().expect("the import thread does not panic")
    })
    .map_err(storage)?;
    report_progress();
    if ctx.is_canceled() {
        return Err(JobFailure::canceled().with_output(to_json(&report)));
    }
    Ok(report)
}
