//! `delete`: a patient, study, series or instance out of the index and the store (linked files
//! stay where they are).

use crate::index::RemoveTarget;
use crate::jobs::runner::{input, storage, LocalRunner};
use crate::jobs::spec::DeleteTarget;
use crate::jobs::JobFailure;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteOutput {
    pub patients: u64,
    pub studies: u64,
    pub series: u64,
    pub instances: u64,
    pub files_deleted: u64,
    pub linked_files_kept: u64,
    /// Managed files that could not be deleted, and why.
    pub files_not_deleted: Vec<String>,
}

pub(crate) fn run(runner: &LocalRunner, target: &DeleteTarget) -> Result<DeleteOutput, JobFailure> {
    let target = match target {
        DeleteTarget::Patient(uid) => RemoveTarget::Patient(uid.clone()),
        DeleteTarget::Study(uid) => RemoveTarget::Study(uid.clone()),
        DeleteTarget::Series(uid) => RemoveTarget::Series(uid.clone()),
        DeleteTarget::Instance(uid) => RemoveTarget::Instance(uid.clone()),
    };
    let removed = runner.store.index().remove(&target).map_err(storage)?;
    if removed.instances == 0 {
        return Err(input(format!("nothing in the store matches {target:?}")));
    }
    let mut not_deleted = Vec::new();
    for file in removed.files.iter().filter(|f| !f.linked) {
        if let Err(e) = runner.store.delete_managed(&file.path) {
            not_deleted.push(format!("{}: {e}", file.path));
        }
    }
    let managed = removed.files.iter().filter(|f| !f.linked).count();
    Ok(DeleteOutput {
        patients: removed.patients,
        studies: removed.studies,
        series: removed.series,
        instances: removed.instances,
        files_deleted: (managed - not_deleted.len()) as u64,
        linked_files_kept: (removed.files.len() - managed) as u64,
        files_not_deleted: not_deleted,
    })
}
