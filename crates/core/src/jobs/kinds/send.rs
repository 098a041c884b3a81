//! `send`: local instances (a study, a series, or files and folders) to a node.

use crate::jobs::runner::{control, input, storage, to_json, LocalRunner};
use crate::jobs::spec::AssociationSettings;
use crate::jobs::{FailureCategory, JobContext, JobFailure, Progress};
use lightbox_net::remote::Event;
use std::path::PathBuf;

pub use lightbox_net::report::SendReport as SendOutput;

/// What to send: a study, a series, or paths.
pub(crate) struct What<'a> {
    pub study_uid: Option<&'a str>,
    pub series_uid: Option<&'a str>,
    pub paths: &'a [PathBuf],
}

pub(crate) fn run(
    runner: &LocalRunner,
    node: &str,
    what: &What,
    settings: &AssociationSettings,
    ctx: &JobContext,
) -> Result<SendOutput, JobFailure> {
    let node = runner.node(node)?;
    if !node.send_target {
        return Err(input(format!(
            "node {} is not enabled as a send target",
            node.name
        )));
    }
    let files = files_to_send(runner, what)?;
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mut progress = Progress {
        items_total: files.len() as u64,
        bytes_total: total_bytes,
        ..Progress::default()
    };
    ctx.progress(progress.clone());
    // Files of the store are named by their instance, never by where the store keeps them.
    let from_store = what.study_uid.is_some() || what.series_uid.is_some();
    let name =
        |sent: &lightbox_net::report::SentInstance| match (&sent.sop_instance_uid, from_store) {
            (Some(uid), true) => uid.clone(),
            _ => sent.path.clone(),
        };
    let remote = runner.remote(&node, settings)?;
    let mut report = remote.send(
        &files,
        &mut control(ctx, |event| {
            if let Event::Sent(sent) = event {
                progress.items_done += 1;
                progress.bytes_done += std::fs::metadata(&sent.path).map(|m| m.len()).unwrap_or(0);
                ctx.progress(progress.clone());
                if let Some(error) = &sent.error {
                    ctx.log(format!("{}: {error}", name(sent)));
                }
            }
        }),
    )?;
    ctx.progress(Progress {
        items_done: report.sent + report.failed,
        ..progress
    });
    if from_store {
        for instance in &mut report.instances {
            instance.path.clear();
        }
    }
    let output = to_json(&report);
    if ctx.is_canceled() && (report.sent + report.failed) < files.len() as u64 {
        return Err(JobFailure::canceled().with_output(output));
    }
    if report.failed > 0 {
        return Err(JobFailure::new(
            FailureCategory::Partial,
            format!(
                "{} of {} instance(s) could not be sent",
                report.failed,
                files.len()
            ),
        )
        .with_output(output));
    }
    Ok(report)
}

fn files_to_send(runner: &LocalRunner, what: &What) -> Result<Vec<PathBuf>, JobFailure> {
    let index = runner.store.index();
    let series_uids: Vec<String> = match (what.study_uid, what.series_uid) {
        (Some(study), _) => index
            .series_of_study(study)
            .map_err(storage)?
            .into_iter()
            .map(|s| s.series_uid)
            .collect(),
        (_, Some(series)) => vec![series.to_string()],
        _ => Vec::new(),
    };
    let mut files = Vec::new();
    for uid in &series_uids {
        for instance in index.instances_of_series(uid).map_err(storage)? {
            let file = runner.store.local_path(&instance.file_path).map_err(|e| {
                storage(format!(
                    "reading instance {}: {e}",
                    instance.sop_instance_uid
                ))
            })?;
            files.push(file);
        }
    }
    if what.study_uid.is_some() || what.series_uid.is_some() {
        if files.is_empty() {
            return Err(input(format!(
                "nothing in the store for {}",
                what.study_uid.or(what.series_uid).unwrap_or_default()
            )));
        }
        return Ok(files);
    }
    for path in what.paths {
        if path.is_dir() {
            files.extend(
                walkdir::WalkDir::new(path)
                    .into_iter()
                    .flatten()
                    .filter(|e| e.file_type().is_file())
                    .map(|e| e.into_path()),
            );
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(input(format!("{}: no such file or folder", path.display())));
        }
    }
    if files.is_empty() {
        return Err(input("nothing to send: give paths, a study or a series"));
    }
    Ok(files)
}
