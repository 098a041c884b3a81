//! `anonymize`: a de-identified copy of a patient's, a study's or a series' instances (PS3.15
//! Annex E, [`lightbox_dicom::deid`]), into the local store as new studies, into a folder or a
//! zip as DICOM media, or straight to a node. The originals are never touched.
//!
//! Every instance is de-identified into the job's work folder first (pixel data byte for byte,
//! unless rectangles are blanked), then the whole goes where it was asked to. The report says,
//! per study, what became of each attribute, and which images may show burned-in text.

use crate::deid::project::project_key;
use crate::deid::pseudonyms::{Pseudonym, Pseudonyms};
use crate::export::{self, Naming, Plan, Selection};
use crate::import::ingest;
use crate::jobs::runner::{control, input, storage, LocalRunner};
use crate::jobs::spec::{AnonymizeDestination, AssociationSettings, DeleteTarget, PseudonymRow};
use crate::jobs::{FailureCategory, JobContext, JobFailure, Progress};
use lightbox_dicom::deid::apply::{self, attribute_name, Changes, Outcome, SafePrivate, Settings};
use lightbox_dicom::deid::dates::patient_shift;
use lightbox_dicom::deid::pixels::{burned_in, BurnedIn, Rect};
use lightbox_dicom::deid::profile::Profile;
use lightbox_dicom::{read_file, rewrite, tag, transcode, transfer_syntax, ReadMode};
use lightbox_net::remote::Event;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What a de-identification asks for.
pub(crate) struct Request<'a> {
    pub target: &'a DeleteTarget,
    pub options: &'a [String],
    pub destination: &'a AnonymizeDestination,
    pub project_key: Option<&'a Path>,
    pub pseudonyms: Option<&'a Path>,
    pub pseudonym_rows: &'a [PseudonymRow],
    pub safe_private: Option<&'a Path>,
    pub blank: &'a [Rect],
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnonymizeOutput {
    pub instances: u64,
    pub studies: Vec<AnonymizedStudy>,
    /// The options applied, by name.
    pub options: Vec<String>,
    /// Where the copies went: `local`, a folder, a zip or a node.
    pub destination: String,
    /// Images whose pixels may show identifying text (burned in), by their new UIDs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub burned_in: Vec<BurnedInImage>,
    /// Rectangles blanked in every frame of every image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blanked: Vec<Rect>,
    /// For a node: instances it refused.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub send_failures: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnonymizedStudy {
    pub source_study: String,
    #[serde(rename = "StudyInstanceUID")]
    pub study_uid: String,
    #[serde(rename = "PatientID")]
    pub patient_id: String,
    #[serde(rename = "PatientName")]
    pub patient_name: String,
    pub instances: u64,
    /// Attribute (keyword, or tag when it has none) → outcome → how many times.
    pub changed: BTreeMap<String, BTreeMap<String, u64>>,
    pub private_removed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BurnedInImage {
    #[serde(rename = "SeriesInstanceUID")]
    pub series_uid: String,
    #[serde(rename = "SOPInstanceUID")]
    pub sop_instance_uid: String,
    pub why: String,
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Removed => "removed",
        Outcome::Emptied => "emptied",
        Outcome::Replaced => "replaced",
        Outcome::NewUid => "new UID",
        Outcome::Shifted => "date shifted",
        Outcome::Cleaned => "cleaned",
        Outcome::Added => "added",
    }
}

fn selection_of(target: &DeleteTarget) -> Result<Selection, JobFailure> {
    let mut selection = Selection::default();
    match target {
        DeleteTarget::Patient(id) => selection.patients.push(id.clone()),
        DeleteTarget::Study(uid) => selection.studies.push(uid.clone()),
        DeleteTarget::Series(uid) => selection.series.push(uid.clone()),
        DeleteTarget::Instance(_) => {
            return Err(input("de-identify a patient, a study or a series"))
        }
    }
    Ok(selection)
}

fn settings(runner: &LocalRunner, request: &Request) -> Result<(Settings, Pseudonyms), JobFailure> {
    let profile = Profile::from_names(request.options).map_err(|e| input(e.to_string()))?;
    let data_dir = runner.store.root();
    let shared = runner.store.shared_lists();
    let key = project_key(data_dir, request.project_key, shared.as_deref())
        .map_err(|e| input(e.to_string()))?;
    let safe_private = match request.safe_private {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| input(format!("{}: {e}", path.display())))?;
            SafePrivate::parse(&text).map_err(input)?
        }
        None => SafePrivate::default(),
    };
    let mut pseudonyms = Pseudonyms::open(data_dir, &key, shared).map_err(storage)?;
    if let Some(path) = request.pseudonyms {
        let file =
            std::fs::File::open(path).map_err(|e| input(format!("{}: {e}", path.display())))?;
        pseudonyms.import(file).map_err(|e| input(e.to_string()))?;
    }
    for row in request.pseudonym_rows {
        if row.source.trim().is_empty() || row.patient_id.trim().is_empty() {
            return Err(input(
                "a pseudonym needs the source Patient ID and the new Patient ID",
            ));
        }
        pseudonyms.give(
            &row.source,
            Pseudonym {
                patient_id: row.patient_id.trim().to_string(),
                patient_name: match row.patient_name.trim() {
                    "" => row.patient_id.trim().to_string(),
                    name => name.to_string(),
                },
            },
        );
    }
    Ok((
        Settings {
            profile,
            key,
            safe_private,
        },
        pseudonyms,
    ))
}

fn work_dir(runner: &LocalRunner, ctx: &JobContext) -> PathBuf {
    let name = if ctx.id > 0 {
        format!("anonymize-{}", ctx.id)
    } else {
        format!("anonymize-in-process-{}", std::process::id())
    };
    runner.store.root().join("work").join(name)
}

/// Removes the work folder however the job ends.
struct WorkFolder(PathBuf);

impl Drop for WorkFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn run(
    runner: &LocalRunner,
    request: &Request,
    ctx: &JobContext,
) -> Result<AnonymizeOutput, JobFailure> {
    let (settings, pseudonyms) = settings(runner, request)?;
    if let AnonymizeDestination::Folder(dir) = request.destination {
        if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(input(format!(
                "{} is not empty: de-identify into a new or empty folder",
                dir.display()
            )));
        }
    }
    let node = match request.destination {
        AnonymizeDestination::Node(name) => Some(runner.node(name)?),
        _ => None,
    };
    let store = &runner.store;
    let plan =
        export::plan(store, &selection_of(request.target)?, Naming::Media).map_err(
            |e| match e {
                export::ExportError::NotFound { .. } | export::ExportError::PatientPattern(_) => {
                    input(e.to_string())
                }
                other => storage(other),
            },
        )?;
    let work = WorkFolder(work_dir(runner, ctx));
    let _ = std::fs::remove_dir_all(&work.0);
    std::fs::create_dir_all(&work.0).map_err(|e| storage(format!("{}: {e}", work.0.display())))?;

    let total = plan.entries.len() as u64;
    let mut output = AnonymizeOutput {
        options: settings
            .profile
            .options()
            .map(|o| o.name().to_string())
            .collect(),
        destination: request.destination.describe(),
        blanked: request.blank.to_vec(),
        ..AnonymizeOutput::default()
    };
    let mut by_study: Vec<(AnonymizedStudy, Changes)> = Vec::new();
    let mut written = Plan {
        name: plan.name.clone(),
        naming: Naming::Media,
        entries: Vec::with_capacity(plan.entries.len()),
    };
    // Instances are independent: de-identified on every core, then gathered in plan order.
    let pseudonyms = Mutex::new(pseudonyms);
    let done = AtomicU64::new(0);
    let results: Vec<Result<Deidentified, JobFailure>> = plan
        .entries
        .par_iter()
        .enumerate()
        .map(|(n, entry)| {
            if ctx.is_canceled() {
                return Err(JobFailure::canceled());
            }
            let source = store.local_path(&entry.instance.file_path).map_err(|e| {
                storage(format!(
                    "reading instance {}: {e}",
                    entry.instance.sop_instance_uid
                ))
            })?;
            let target = work.0.join(format!("{n:08}.dcm"));
            let one = deidentify_one(&settings, &pseudonyms, &source, &target, request.blank)?;
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            if finished.is_multiple_of(64) || finished == total {
                ctx.progress(Progress {
                    items_done: finished,
                    items_total: total,
                    ..Progress::default()
                });
            }
            Ok(one)
        })
        .collect();
    for (n, (entry, one)) in plan.entries.iter().zip(results).enumerate() {
        let one = one?;
        if let Some(why) = &one.burned_in {
            output.burned_in.push(BurnedInImage {
                series_uid: one.series_uid.clone(),
                sop_instance_uid: one.sop_instance_uid.clone(),
                why: why.clone(),
            });
        }
        let study = match by_study
            .iter_mut()
            .position(|(s, _)| s.source_study == entry.instance.study_uid)
        {
            Some(at) => &mut by_study[at],
            None => {
                by_study.push((
                    AnonymizedStudy {
                        source_study: entry.instance.study_uid.clone(),
                        study_uid: one.study_uid.clone(),
                        patient_id: one.pseudonym.patient_id.clone(),
                        patient_name: one.pseudonym.patient_name.clone(),
                        ..AnonymizedStudy::default()
                    },
                    Changes::default(),
                ));
                by_study.last_mut().expect("just pushed")
            }
        };
        study.0.instances += 1;
        study.1.merge(&one.changes);
        let target = work.0.join(format!("{n:08}.dcm"));
        let mut instance = entry.instance.clone();
        instance.file_size = std::fs::metadata(&target)
            .map(|m| m.len() as i64)
            .unwrap_or(0);
        instance.file_path = target.to_string_lossy().into_owned();
        written.entries.push(export::Entry {
            components: entry.components.clone(),
            instance,
        });
    }
    let pseudonyms = pseudonyms.into_inner().unwrap_or_else(|e| e.into_inner());
    pseudonyms.save().map_err(storage)?;
    output.instances = total;
    output.studies = by_study
        .into_iter()
        .map(|(mut study, changes)| {
            study.changed = changes
                .attributes
                .iter()
                .map(|(t, outcomes)| {
                    let outcomes = outcomes
                        .iter()
                        .map(|(o, n)| (outcome_name(*o).to_string(), *n))
                        .collect();
                    (attribute_name(*t), outcomes)
                })
                .collect();
            study.private_removed = changes.private_removed;
            study
        })
        .collect();
    ctx.log(format!(
        "{total} instance(s) de-identified; {} may show burned-in text",
        output.burned_in.len()
    ));
    deliver(
        runner,
        request.destination,
        node,
        &written,
        ctx,
        &mut output,
    )?;
    Ok(output)
}

struct Deidentified {
    pseudonym: Pseudonym,
    study_uid: String,
    series_uid: String,
    sop_instance_uid: String,
    burned_in: Option<String>,
    changes: Changes,
}

fn deidentify_one(
    settings: &Settings,
    pseudonyms: &Mutex<Pseudonyms>,
    source: &Path,
    target: &Path,
    blank: &[Rect],
) -> Result<Deidentified, JobFailure> {
    let unreadable = |e: &dyn std::fmt::Display| storage(format!("{}: {e}", source.display()));
    let file = read_file(source, ReadMode::Full).map_err(|e| unreadable(&e))?;
    let mut ds = file.dataset.clone();
    let source_patient = ds.text(tag::PATIENT_ID).unwrap_or_default();
    let pseudonym = pseudonyms
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .of(&source_patient);
    let subject = apply::Subject {
        patient_id: pseudonym.patient_id.clone(),
        patient_name: pseudonym.patient_name.clone(),
        date_shift: patient_shift(&settings.key, &source_patient),
    };
    let burned = match burned_in(&file.dataset) {
        BurnedIn::Yes => Some("Burned In Annotation is YES".to_string()),
        BurnedIn::Likely(why) => Some(why),
        BurnedIn::No => None,
    };
    let blanking = !blank.is_empty() && ds.get(tag::PIXEL_DATA).is_some();
    let changes = apply::deidentify(settings, &subject, &mut ds, blanking);
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(target).map_err(|e| storage(format!("{}: {e}", target.display())))?,
    );
    if blanking {
        let header = lightbox_dicom::meta::part10_header(
            &ds.text(tag::SOP_CLASS_UID).unwrap_or_default(),
            &ds.text(tag::SOP_INSTANCE_UID).unwrap_or_default(),
            transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN,
            None,
        );
        std::io::Write::write_all(&mut out, &header)
            .map_err(|e| storage(format!("{}: {e}", target.display())))?;
        transcode::to_native_changed(
            source,
            transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN,
            Some(&ds),
            blank,
            &mut out,
        )
        .map_err(|e| unreadable(&e))?;
    } else {
        rewrite::write_instance(source, &file, &ds, &mut out).map_err(|e| unreadable(&e))?;
    }
    std::io::Write::flush(&mut out).map_err(|e| storage(format!("{}: {e}", target.display())))?;
    let text = |t| ds.text(t).unwrap_or_default();
    Ok(Deidentified {
        study_uid: text(tag::STUDY_INSTANCE_UID),
        series_uid: text(tag::SERIES_INSTANCE_UID),
        sop_instance_uid: text(tag::SOP_INSTANCE_UID),
        pseudonym,
        burned_in: burned,
        changes,
    })
}

fn deliver(
    runner: &LocalRunner,
    destination: &AnonymizeDestination,
    node: Option<crate::nodes::Node>,
    written: &Plan,
    ctx: &JobContext,
    output: &mut AnonymizeOutput,
) -> Result<(), JobFailure> {
    let store = &runner.store;
    let files: Vec<PathBuf> = written
        .entries
        .iter()
        .map(|e| PathBuf::from(&e.instance.file_path))
        .collect();
    match destination {
        AnonymizeDestination::Local => {
            // Through the one ingest path, each file moved into place (it is written already).
            let skipped: Vec<_> = files
                .par_iter()
                .filter_map(|path| {
                    let opened = std::fs::File::open(path)
                        .and_then(|file| Ok((file, tempfile::TempPath::try_from_path(path)?)));
                    let tmp = match opened {
                        Ok((file, at)) => tempfile::NamedTempFile::from_parts(file, at),
                        Err(e) => return Some(format!("{}: {e}", path.display())),
                    };
                    ingest(store, tmp, "a de-identified copy")
                        .err()
                        .map(|s| s.reason)
                })
                .collect();
            if let Some(first) = skipped.first() {
                return Err(storage(format!(
                    "{} de-identified instance(s) could not be stored (first: {first})",
                    skipped.len()
                )));
            }
        }
        AnonymizeDestination::Folder(dir) => {
            export::to_folder(store, written, dir).map_err(|e| match e {
                export::ExportError::NotEmpty(_) => input(e.to_string()),
                other => storage(other),
            })?;
        }
        AnonymizeDestination::Zip(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| input(format!("{}: {e}", path.display())))?;
            let out =
                export::to_zip(store, written, std::io::BufWriter::new(file)).map_err(storage)?;
            out.into_inner()
                .map_err(|e| storage(format!("{}: {}", path.display(), e.error())))?;
        }
        AnonymizeDestination::Node(_) => {
            let node = node.expect("a node destination has its node");
            let remote = runner.remote(&node, &AssociationSettings::default())?;
            let mut sent = 0u64;
            let report = remote.send(
                &files,
                &mut control(ctx, |event| {
                    if let Event::Sent(one) = event {
                        sent += 1;
                        if let Some(error) = &one.error {
                            ctx.log(format!(
                                "{}: {error}",
                                one.sop_instance_uid.as_deref().unwrap_or("an instance")
                            ));
                        }
                    }
                }),
            )?;
            output.send_failures = report.failed;
            if report.failed > 0 {
                return Err(JobFailure::new(
                    FailureCategory::Partial,
                    format!(
                        "{} of {} de-identified instance(s) were refused by {}",
                        report.failed,
                        files.len(),
                        node.name
                    ),
                )
                .with_output(crate::jobs::runner::to_json(output)));
            }
        }
    }
    Ok(())
}
