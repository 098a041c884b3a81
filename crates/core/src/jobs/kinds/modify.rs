//! `modify`: change attributes of a patient's, a study's or a series' instances (fix a Patient
//! ID, merge two patients by giving one the other's name and ID), as Orthanc's `/modify` does:
//! keeping the UIDs (the modified instances replace the originals), or with new ones (a new
//! study beside the original, which is kept unless asked otherwise).
//!
//! Nothing is lost on the way: every modified instance is written to a work folder of the job
//! first, pixel data untouched ([`rewrite`](lightbox_dicom::rewrite)); only once all are
//! written are the originals replaced, through the one ingest path. A job interrupted after
//! that point finds its complete work folder at its next attempt and carries on from it.

use crate::export::{self, Naming, Selection};
use crate::import::{import, ImportOptions, ImportProgress};
use crate::index::RemoveTarget;
use crate::jobs::runner::{input, storage, LocalRunner};
use crate::jobs::spec::DeleteTarget;
use crate::jobs::{JobContext, JobFailure, Progress};
use lightbox_dicom::{dictionary, edit, meta, read_file, rewrite, tag, ReadMode, Tag};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// What a modification asks for.
pub(crate) struct Request<'a> {
    pub target: &'a DeleteTarget,
    /// Keyword → new value (set at the top level of every instance).
    pub set: &'a BTreeMap<String, String>,
    /// Keywords removed from every instance.
    pub remove: &'a [String],
    pub new_uids: bool,
    /// With new UIDs: keep the originals (the default).
    pub keep_source: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifyOutput {
    pub instances: u64,
    /// The studies changed, and what each became (the same UID unless new UIDs were asked for).
    pub studies: Vec<ModifiedStudy>,
    pub set: BTreeMap<String, String>,
    pub removed: Vec<String>,
    pub new_uids: bool,
    /// The originals are still in the store (new UIDs, source kept).
    pub source_kept: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifiedStudy {
    pub from: String,
    pub to: String,
}

/// Attributes a modification may not touch: identities follow `new_uids`, and the pixel data
/// and what describes it stay as they are.
fn protected(t: Tag) -> bool {
    t.0 == 0x0002
        || t.0 == 0x0028
        || t.0 == 0x7FE0
        || matches!(
            t,
            tag::SOP_CLASS_UID
                | tag::SOP_INSTANCE_UID
                | tag::STUDY_INSTANCE_UID
                | tag::SERIES_INSTANCE_UID
                | tag::SPECIFIC_CHARACTER_SET
        )
}

fn tag_of(keyword: &str) -> Result<Tag, JobFailure> {
    let t = dictionary::tag_of(keyword)
        .ok_or_else(|| input(format!("{keyword}: not a DICOM keyword")))?;
    if protected(t) {
        return Err(input(format!(
            "{keyword} cannot be modified (UIDs change with new UIDs only; pixel data and its description stay)"
        )));
    }
    Ok(t)
}

/// The job's work folder: where the modified instances wait until they replace the originals.
fn work_dir(runner: &LocalRunner, ctx: &JobContext) -> PathBuf {
    // A job of the queue resumes from its folder; one run in-process (no ID) has its own.
    let name = if ctx.id > 0 {
        format!("modify-{}", ctx.id)
    } else {
        format!("modify-in-process-{}", std::process::id())
    };
    runner.store.root().join("work").join(name)
}

const COMPLETE: &str = "complete";

pub(crate) fn run(
    runner: &LocalRunner,
    request: &Request,
    ctx: &JobContext,
) -> Result<ModifyOutput, JobFailure> {
    let set: Vec<(Tag, &str)> = request
        .set
        .iter()
        .map(|(k, v)| Ok((tag_of(k)?, v.as_str())))
        .collect::<Result<_, JobFailure>>()?;
    let remove: Vec<Tag> = request
        .remove
        .iter()
        .map(|k| tag_of(k))
        .collect::<Result<_, _>>()?;
    if set.is_empty() && remove.is_empty() && !request.new_uids {
        return Err(input(
            "nothing to modify: set or remove an attribute, or ask for new UIDs",
        ));
    }
    let store = &runner.store;
    let work = work_dir(runner, ctx);
    let mut output = ModifyOutput {
        set: request.set.clone(),
        removed: request.remove.to_vec(),
        new_uids: request.new_uids,
        source_kept: request.new_uids && request.keep_source,
        ..ModifyOutput::default()
    };
    let resumed = work.join(COMPLETE).is_file();
    if resumed {
        ctx.log("carrying on from the modified instances written by the last attempt");
        let record: ModifyOutput = std::fs::read(work.join(COMPLETE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| storage(format!("{}: unreadable", work.display())))?;
        output = record;
    } else {
        write_modified(runner, request, &set, &remove, &work, ctx, &mut output)?;
    }
    if resumed && !request.new_uids {
        // The last attempt may have stopped before or after removing them.
        let _ = remove_originals(runner, request.target);
    }
    let files: Vec<PathBuf> = std::fs::read_dir(&work)
        .map_err(|e| storage(format!("{}: {e}", work.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    let report = import(
        store,
        &files,
        &ImportOptions::default(),
        &ImportProgress::default(),
    )
    .map_err(storage)?;
    if let Some(skipped) = report.skipped.first() {
        return Err(storage(format!(
            "{} modified instance(s) could not be stored (first: {}); they are kept in {}",
            report.skipped.len(),
            skipped.reason,
            work.display()
        )));
    }
    if request.new_uids && !request.keep_source {
        // By their own study UIDs: the new copies may share the patient.
        for study in &output.studies {
            remove_originals(runner, &DeleteTarget::Study(study.from.clone()))?;
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(output)
}

/// The first phase: every instance modified into the work folder, the record of it, and (in
/// place) the originals out of the way. A job stopped after this carries on from the folder.
fn write_modified(
    runner: &LocalRunner,
    request: &Request,
    set: &[(Tag, &str)],
    remove: &[Tag],
    work: &Path,
    ctx: &JobContext,
    output: &mut ModifyOutput,
) -> Result<(), JobFailure> {
    let store = &runner.store;
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work).map_err(|e| storage(format!("{}: {e}", work.display())))?;
    let selection = match request.target {
        DeleteTarget::Patient(id) => Selection {
            patients: vec![id.clone()],
            ..Selection::default()
        },
        DeleteTarget::Study(uid) => Selection {
            studies: vec![uid.clone()],
            ..Selection::default()
        },
        DeleteTarget::Series(uid) => Selection {
            series: vec![uid.clone()],
            ..Selection::default()
        },
        DeleteTarget::Instance(_) => {
            return Err(input("modify a patient, a study or a series"));
        }
    };
    let plan = export::plan(store, &selection, Naming::Readable).map_err(|e| match e {
        export::ExportError::NotFound { .. } | export::ExportError::PatientPattern(_) => {
            input(e.to_string())
        }
        other => storage(other),
    })?;
    let mut uids: HashMap<String, String> = HashMap::new();
    if request.new_uids {
        for entry in &plan.entries {
            let i = &entry.instance;
            for uid in [&i.study_uid, &i.series_uid, &i.sop_instance_uid] {
                uids.entry(uid.clone()).or_insert_with(meta::random_uid);
            }
        }
    }
    let total = plan.entries.len() as u64;
    let mut studies: Vec<String> = Vec::new();
    for (n, entry) in plan.entries.iter().enumerate() {
        if ctx.is_canceled() {
            let _ = std::fs::remove_dir_all(work);
            return Err(JobFailure::canceled());
        }
        let source = store.local_path(&entry.instance.file_path).map_err(|e| {
            storage(format!(
                "reading instance {}: {e}",
                entry.instance.sop_instance_uid
            ))
        })?;
        modify_one(
            &source,
            &work.join(format!("{n:08}.dcm")),
            set,
            remove,
            &uids,
        )?;
        if !studies.contains(&entry.instance.study_uid) {
            studies.push(entry.instance.study_uid.clone());
        }
        ctx.progress(Progress {
            items_done: n as u64 + 1,
            items_total: total,
            ..Progress::default()
        });
    }
    output.instances = total;
    output.studies = studies
        .into_iter()
        .map(|from| ModifiedStudy {
            to: uids.get(&from).cloned().unwrap_or_else(|| from.clone()),
            from,
        })
        .collect();
    let record = serde_json::to_vec(&output).unwrap_or_default();
    std::fs::write(work.join(COMPLETE), record)
        .map_err(|e| storage(format!("{}: {e}", work.display())))?;
    // Same UIDs: the originals make way (the index first, so no one reads a file that is
    // going; linked files stay where they are).
    if !request.new_uids {
        remove_originals(runner, request.target)?;
    }
    Ok(())
}

/// Reads, changes and writes one instance.
fn modify_one(
    source: &Path,
    target: &Path,
    set: &[(Tag, &str)],
    remove: &[Tag],
    uids: &HashMap<String, String>,
) -> Result<(), JobFailure> {
    let file = read_file(source, ReadMode::Full)
        .map_err(|e| storage(format!("{}: {e}", source.display())))?;
    let mut ds = file.dataset.clone();
    for t in remove {
        edit::remove(&mut ds, *t);
    }
    for (t, value) in set {
        edit::set_text(&mut ds, *t, value).map_err(|e| input(e.to_string()))?;
    }
    if !uids.is_empty() {
        edit::remap_uids(&mut ds, uids);
    }
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(target).map_err(|e| storage(format!("{}: {e}", target.display())))?,
    );
    rewrite::write_instance(source, &file, &ds, &mut out)
        .map_err(|e| storage(format!("{}: {e}", source.display())))?;
    std::io::Write::flush(&mut out).map_err(|e| storage(format!("{}: {e}", target.display())))?;
    Ok(())
}

fn remove_originals(runner: &LocalRunner, target: &DeleteTarget) -> Result<(), JobFailure> {
    let target = match target {
        DeleteTarget::Patient(id) => RemoveTarget::Patient(id.clone()),
        DeleteTarget::Study(uid) => RemoveTarget::Study(uid.clone()),
        DeleteTarget::Series(uid) => RemoveTarget::Series(uid.clone()),
        DeleteTarget::Instance(uid) => RemoveTarget::Instance(uid.clone()),
    };
    let removed = runner.store.index().remove(&target).map_err(storage)?;
    for file in removed.files.iter().filter(|f| !f.linked) {
        if let Err(e) = runner.store.delete_managed(&file.path) {
            tracing::warn!(file = %file.path, error = %e, "a replaced original could not be deleted");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{import, ImportOptions, ImportProgress};
    use crate::index::StudyQuery;
    use crate::jobs::engine::ContextSink;
    use crate::jobs::runner::MoveListener;
    use crate::jobs::JobId;
    use crate::nodes::Nodes;
    use crate::store::Store;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    struct Quiet;
    impl ContextSink for Quiet {
        fn progress(&self, _: JobId, _: &Progress) {}
        fn log(&self, _: JobId, _: &str) {}
    }

    #[test]
    fn an_attempt_stopped_after_the_originals_made_way_is_carried_on_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("generated");
        let spec = lightbox_synth::SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 3,
            rows: 16,
            columns: 16,
            seed: 4,
            ..lightbox_synth::SynthSpec::default()
        };
        lightbox_synth::generate(&spec, &source).unwrap();
        let data = dir.path().join("data");
        let store = Arc::new(Store::open(&data).unwrap());
        import(
            &store,
            &[source],
            &ImportOptions::default(),
            &ImportProgress::default(),
        )
        .unwrap();
        let study = store
            .index()
            .search_studies(&StudyQuery::default())
            .unwrap()
            .studies[0]
            .study_uid
            .clone();
        let runner = LocalRunner::new(store.clone(), Nodes::new(&data), MoveListener::Running);
        let ctx = JobContext::standalone(Box::new(Quiet), Arc::new(AtomicBool::new(false)));
        let target = DeleteTarget::Study(study.clone());
        let set_values = BTreeMap::from([("PatientID".to_string(), "FIXED".to_string())]);
        let request = Request {
            target: &target,
            set: &set_values,
            remove: &[],
            new_uids: false,
            keep_source: true,
        };
        // The first attempt stops right after the originals made way: the study is gone from
        // the index, its modified instances wait in the work folder.
        let mut output = ModifyOutput::default();
        let work = work_dir(&runner, &ctx);
        write_modified(
            &runner,
            &request,
            &[(tag::PATIENT_ID, "FIXED")],
            &[],
            &work,
            &ctx,
            &mut output,
        )
        .unwrap();
        assert!(store.index().study(&study).unwrap().is_none());
        assert!(work.join(COMPLETE).is_file());

        // The next attempt stores them: nothing was lost.
        let done = run(&runner, &request, &ctx).unwrap();
        assert_eq!(done.instances, 3);
        let back = store.index().study(&study).unwrap().unwrap();
        assert_eq!(back.patient_id, "FIXED");
        assert_eq!(back.instance_count, 3);
        assert!(!work.exists());
    }
}
