//! The verbs that run as jobs (import, echo, find, retrieve, send, rm): each builds a job
//! specification, runs it through [`crate::jobs::execute`] and prints its report.

use crate::jobs::{execute, Runtime};
use anyhow::{bail, Context, Result};
use lightbox_core::import::ImportReport;
use lightbox_core::jobs::kinds::delete::DeleteOutput;
use lightbox_core::jobs::kinds::echo::EchoOutput;
use lightbox_core::jobs::kinds::query::QueryOutput;
use lightbox_core::jobs::{AssociationSettings, DeleteTarget, JobSpec, JobState, QuerySpec};
use lightbox_net::report::{RetrieveReport, SendReport};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Instant;

/// Paths as the server sees them: it may run from another directory.
fn absolute(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    paths
        .into_iter()
        .map(|p| Ok(std::path::absolute(&p)?))
        .collect()
}

fn print_json(value: &Option<Value>) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string(value.as_ref().unwrap_or(&Value::Null))?
    );
    Ok(())
}

pub fn import(rt: &Runtime, paths: Vec<PathBuf>, link: bool, json: bool) -> Result<()> {
    let started = Instant::now();
    let spec = JobSpec::Import {
        paths: absolute(paths)?,
        link,
    };
    let finished = execute(rt, spec, json)?;
    if json {
        print_json(&finished.output)?;
    } else if let Some(report) = finished.output::<ImportReport>() {
        let canceled = if finished.state == JobState::Canceled {
            " (canceled)"
        } else {
            ""
        };
        println!(
            "imported {} instance(s), {} duplicate(s), {} skipped in {:.2}s{canceled}",
            report.imported,
            report.duplicates,
            report.skipped.len(),
            started.elapsed().as_secs_f64()
        );
        for s in &report.skipped {
            println!("  skipped {}: {}", s.path, s.reason);
        }
    }
    finished.result()
}

pub fn echo(rt: &Runtime, node: String, association: AssociationSettings) -> Result<()> {
    let finished = execute(rt, JobSpec::Echo { node, association }, true)?;
    finished.result()?;
    let output: EchoOutput = finished
        .output()
        .context("the echo job gave no round trip")?;
    println!(
        "C-ECHO {} ({}): success in {:.1} ms",
        output.node, output.address, output.round_trip_ms
    );
    Ok(())
}

pub fn find(
    rt: &Runtime,
    node: String,
    query: QuerySpec,
    association: AssociationSettings,
    json: bool,
) -> Result<()> {
    let level = query.level.clone();
    let node_name = node.clone();
    let spec = JobSpec::Query {
        node,
        query,
        association,
    };
    let mut finished = execute(rt, spec, true)?;
    finished.result()?;
    if json {
        // The matches as the job kept them: already the JSON to print.
        println!(
            "{}",
            serde_json::to_string(
                finished
                    .output
                    .as_ref()
                    .unwrap_or(&Value::Array(Vec::new()))
            )?
        );
        return Ok(());
    }
    let QueryOutput(rows) = finished.take_output().unwrap_or_default();
    for row in &rows {
        let fields: Vec<String> = row
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                )
            })
            .collect();
        println!("{}", fields.join("  "));
    }
    println!("{} match(es) at {level} level from {node_name}", rows.len());
    Ok(())
}

pub struct RetrieveArgs {
    pub node: String,
    pub study_uid: String,
    pub series_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
    pub preview_first: bool,
    pub association: AssociationSettings,
}

pub fn retrieve(rt: &Runtime, args: RetrieveArgs, json: bool) -> Result<()> {
    let started = Instant::now();
    let node = args.node.clone();
    let spec = JobSpec::Retrieve {
        node: args.node,
        study_uid: args.study_uid,
        series_uid: args.series_uid,
        sop_instance_uid: args.sop_instance_uid,
        preview_first: args.preview_first,
        preview_only: false,
        association: args.association,
    };
    let finished = execute(rt, spec, json)?;
    if json {
        print_json(&finished.output)?;
    } else if let Some(middle) = finished
        .output
        .as_ref()
        .and_then(|o| o.get("middle_instance"))
    {
        println!("planned: middle instance {middle} first, then its thumbnail, then the series");
    } else if let Some(report) = finished.output::<RetrieveReport>() {
        println!(
            "retrieved {} new instance(s), {} already stored, {} failed, of {} expected from {node} in {:.2}s",
            report.stored,
            report.duplicates,
            report.failed + report.errors.len() as u64,
            report.expected,
            started.elapsed().as_secs_f64()
        );
        for e in &report.errors {
            println!("  {e}");
        }
    }
    finished.result()
}

pub struct SendArgs {
    pub node: String,
    pub study_uid: Option<String>,
    pub series_uid: Option<String>,
    pub paths: Vec<PathBuf>,
    pub association: AssociationSettings,
}

pub fn send(rt: &Runtime, args: SendArgs, json: bool) -> Result<()> {
    let started = Instant::now();
    let node = args.node.clone();
    let spec = JobSpec::Send {
        node: args.node,
        study_uid: args.study_uid,
        series_uid: args.series_uid,
        paths: absolute(args.paths)?,
        association: args.association,
    };
    let finished = execute(rt, spec, json)?;
    if json {
        print_json(&finished.output)?;
    } else if let Some(report) = finished.output::<SendReport>() {
        // Instances the peer takes only uncompressed are decoded first: say how many.
        let transcoded = match report.transcoded {
            0 => String::new(),
            n => format!(", {n} decoded to an uncompressed transfer syntax"),
        };
        println!(
            "sent {} instance(s) to {node} ({} with warnings{transcoded}), {} failed, in {:.2}s",
            report.sent,
            report.warnings,
            report.failed,
            started.elapsed().as_secs_f64()
        );
    }
    finished.result()
}

pub fn remove(rt: &Runtime, target: DeleteTarget) -> Result<()> {
    let finished = execute(rt, JobSpec::Delete { target }, true)?;
    finished.result()?;
    let o: DeleteOutput = finished.output().context("the delete job gave no report")?;
    for failure in &o.files_not_deleted {
        eprintln!("warning: could not delete {failure}");
    }
    println!(
        "removed {} patient(s), {} study(ies), {} series, {} instance(s); deleted {} managed file(s), kept {} linked file(s)",
        o.patients, o.studies, o.series, o.instances, o.files_deleted, o.linked_files_kept
    );
    if o.instances == 0 {
        bail!("nothing was removed");
    }
    Ok(())
}
