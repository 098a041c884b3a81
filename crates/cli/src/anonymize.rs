//! `lightbox anonymize`: a de-identified copy of a patient, a study or a series (PS3.15 Annex
//! E), into the store, a folder, a zip or a node, as a job (queued to a running server, else
//! run here).

use crate::jobs::{execute, Runtime};
use anyhow::{bail, Context, Result};
use clap::Args;
use lightbox_core::jobs::kinds::anonymize::AnonymizeOutput;
use lightbox_core::jobs::{AnonymizeDestination, DeleteTarget, JobSpec};
use lightbox_core::nodes::Nodes;
use lightbox_core::store::Store;
use lightbox_dicom::deid::pixels::Rect;
use lightbox_dicom::deid::profile::{DeidOption, Profile};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct AnonymizeArgs {
    #[command(flatten)]
    target: Target,
    /// An option of the profile (repeatable): retain-dates, retain-full-dates, retain-uids,
    /// retain-device-identity, retain-institution-identity, retain-patient-characteristics,
    /// retain-safe-private, clean-descriptors, clean-structured-content, clean-graphics
    #[arg(long = "option", value_name = "OPTION")]
    options: Vec<String>,
    /// The project key: the same key gives the same UIDs, pseudonyms and date shifts
    /// (default: the data directory's own key, or the cluster's when the index is shared)
    #[arg(long, value_name = "FILE")]
    project_key: Option<PathBuf>,
    /// Pseudonyms to use: a CSV of source Patient ID, new Patient ID, new Patient's Name
    #[arg(long, value_name = "CSV")]
    pseudonyms: Option<PathBuf>,
    /// Private elements kept by retain-safe-private: lines of `(gggg,xxee) CREATOR`
    #[arg(long, value_name = "FILE")]
    safe_private: Option<PathBuf>,
    /// A rectangle blanked in every frame, X,Y,WIDTH,HEIGHT in pixels (repeatable)
    #[arg(long = "blank", value_name = "X,Y,W,H")]
    blank: Vec<String>,
    /// Where the copy goes: local (new studies in the store), a folder (DICOM media with a
    /// DICOMDIR), a FILE.zip, or a node's name
    #[arg(long, default_value = "local", value_name = "local|DIR|ZIP|NODE")]
    to: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct Target {
    /// Every study of the patient with this Patient ID
    #[arg(long)]
    patient: Option<String>,
    #[arg(long)]
    study: Option<String>,
    #[arg(long)]
    series: Option<String>,
}

fn rect(text: &str) -> Result<Rect> {
    let numbers: Vec<u32> = text
        .split(',')
        .map(|n| n.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--blank {text:?}: expected X,Y,WIDTH,HEIGHT"))?;
    let [x, y, width, height] = numbers[..] else {
        bail!("--blank {text:?}: expected four numbers, X,Y,WIDTH,HEIGHT");
    };
    if width == 0 || height == 0 {
        bail!("--blank {text:?}: an empty rectangle");
    }
    Ok(Rect {
        x,
        y,
        width,
        height,
    })
}

fn absolute(path: &Path) -> Result<PathBuf> {
    Ok(std::path::absolute(path)?)
}

/// `--to`: `local`, a zip by its extension, a node by its name (unless a path of that name
/// exists), else a folder.
fn destination(store: &Store, to: &str) -> Result<AnonymizeDestination> {
    if to == "local" {
        return Ok(AnonymizeDestination::Local);
    }
    let path = Path::new(to);
    if to.to_ascii_lowercase().ends_with(".zip") {
        return Ok(AnonymizeDestination::Zip(absolute(path)?));
    }
    let is_node = !path.exists()
        && !to.contains('/')
        && Nodes::of_store(store)
            .list()?
            .iter()
            .any(|node| node.name == to);
    if is_node {
        return Ok(AnonymizeDestination::Node(to.to_string()));
    }
    Ok(AnonymizeDestination::Folder(absolute(path)?))
}

pub fn run(rt: &Runtime, args: AnonymizeArgs) -> Result<()> {
    let target = match (args.target.patient, args.target.study, args.target.series) {
        (Some(p), ..) => DeleteTarget::Patient(p),
        (_, Some(s), _) => DeleteTarget::Study(s),
        (_, _, Some(s)) => DeleteTarget::Series(s),
        _ => unreachable!("clap requires one target"),
    };
    let options: Vec<String> = args
        .options
        .iter()
        .flat_map(|o| o.split(','))
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
        .collect();
    // Refused here, before a job is queued, with the list of what there is.
    let profile = Profile::from_names(&options)?;
    let blank = args
        .blank
        .iter()
        .map(|b| rect(b))
        .collect::<Result<Vec<_>>>()?;
    let file = |p: &Option<PathBuf>| p.as_deref().map(absolute).transpose();
    let spec = JobSpec::Anonymize {
        target,
        options: profile
            .options()
            .map(DeidOption::name)
            .map(str::to_string)
            .collect(),
        destination: destination(&rt.store, &args.to)?,
        project_key: file(&args.project_key)?,
        pseudonyms: file(&args.pseudonyms)?,
        pseudonym_rows: Vec::new(),
        safe_private: file(&args.safe_private)?,
        blank,
    };
    let finished = execute(rt, spec, args.json)?;
    if args.json {
        let output = finished.output::<AnonymizeOutput>();
        let studies = output.map(|o| o.studies).unwrap_or_default();
        let json = match studies.as_slice() {
            [one] => serde_json::to_string(one)?,
            many => serde_json::to_string(many)?,
        };
        println!("{json}");
    } else if let Some(o) = finished.output::<AnonymizeOutput>() {
        println!(
            "de-identified {} instance(s) to {}",
            o.instances, o.destination
        );
        for study in &o.studies {
            println!(
                "  study {} → {} ({} {}, {} instance(s), {} attribute(s) changed, {} private removed)",
                study.source_study,
                study.study_uid,
                study.patient_id,
                study.patient_name,
                study.instances,
                study.changed.len(),
                study.private_removed
            );
        }
        if !o.burned_in.is_empty() {
            println!(
                "  {} image(s) may show burned-in text: check them, or blank it with --blank",
                o.burned_in.len()
            );
        }
    }
    finished.result()
}
