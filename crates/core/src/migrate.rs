//! `lightbox migrate`: a store's instances (index rows and files) copied into another, a local
//! store into a cluster's PostgreSQL index and object store above all.
//!
//! Resumable by construction: an instance is indexed in the target only after its object is
//! complete there, and instances the target already indexes are not copied again, so a run
//! interrupted anywhere is finished by running it again. Every run ends by verifying the whole
//! target against the source: each instance indexed, in the same study and series, its object's
//! SHA-256 equal to the source file's. An object that fails the check is copied once more and
//! checked again; what still differs is reported.

use crate::index::{IndexError, StudyQuery};
use crate::model::{InstanceRecord, InstanceSummary};
use crate::store::{ObjectLocation, Store};
use lightbox_dicom::{read_file, ReadMode};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Instances indexed in the target in one batch.
const BATCH: usize = 500;
/// Copies in flight at once: uploads wait on the network far more than on a core.
const COPIES_IN_FLIGHT: usize = 8;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    #[error("the source index: {0}")]
    SourceIndex(IndexError),
    #[error("the target index: {0}")]
    TargetIndex(IndexError),
    #[error("the migration's worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// Counters for a progress display.
#[derive(Debug, Default)]
pub struct MigrateProgress {
    pub instances_total: AtomicU64,
    pub copied: AtomicU64,
    pub verified: AtomicU64,
    pub bytes: AtomicU64,
    /// Set by the caller to stop: what was copied stays, and the next run goes on from there.
    pub cancel: AtomicBool,
    /// Set by the caller once [`migrate`] has returned (for a progress display's loop).
    pub finished: AtomicBool,
}

/// An instance that could not be migrated, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrateFailure {
    pub sop_instance_uid: String,
    pub reason: String,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct MigrateReport {
    /// Instances in the source.
    pub instances: u64,
    /// Copied by this run.
    pub copied: u64,
    /// Found in the target already (an earlier run, or another node).
    pub already_there: u64,
    pub bytes_copied: u64,
    /// Indexed in the target with an object whose hash is the source file's.
    pub verified: u64,
    /// Copied again because the target's object was missing or differed.
    pub repaired: u64,
    pub failed: Vec<MigrateFailure>,
    pub canceled: bool,
}

impl MigrateReport {
    /// Every source instance is in the target, verified.
    pub fn complete(&self) -> bool {
        !self.canceled && self.failed.is_empty() && self.verified == self.instances
    }
}

/// Whether files must be copied: not when both stores keep them in the same place (an index
/// moved to PostgreSQL beside the same data directory).
fn same_files(source: &Store, target: &Store) -> bool {
    match (source.object_location(), target.object_location()) {
        (ObjectLocation::S3(a), ObjectLocation::S3(b)) => a == b,
        (ObjectLocation::DataDir, ObjectLocation::DataDir) => source.root() == target.root(),
        _ => false,
    }
}

/// Every instance of the source, study by study (previews too).
fn source_instances(source: &Store) -> Result<Vec<InstanceSummary>, IndexError> {
    let index = source.index();
    let mut instances = Vec::new();
    let mut offset = 0;
    loop {
        let page = index.search_studies(&StudyQuery {
            include_previews: true,
            limit: Some(1000),
            offset,
            ..StudyQuery::default()
        })?;
        if page.studies.is_empty() {
            return Ok(instances);
        }
        offset += page.studies.len() as u64;
        for study in &page.studies {
            for series in index.series_of_study(&study.study_uid)? {
                instances.extend(index.instances_of_series(&series.series_uid)?);
            }
        }
    }
}

/// The target's record of a source instance: read again from its file (the index keeps only a
/// summary), placed where the target keeps files.
fn target_record(
    source: &Store,
    instance: &InstanceSummary,
    copy_files: bool,
) -> Result<(InstanceRecord, std::path::PathBuf), String> {
    let path = source
        .local_path(&instance.file_path)
        .map_err(|e| format!("reading the source file: {e}"))?;
    let file = read_file(&path, ReadMode::Header).map_err(|e| format!("parsing: {e}"))?;
    let mut record = InstanceRecord::from_file(&file).map_err(|e| e.to_string())?;
    if record.sop_instance_uid != instance.sop_instance_uid {
        return Err(format!(
            "the file holds instance {}, not the one indexed",
            record.sop_instance_uid
        ));
    }
    (record.file_path, record.linked) = match (copy_files, instance.linked) {
        // A linked file is the user's, on this machine: other nodes get a managed copy.
        (true, true) => (
            Store::managed_relative_path(&instance.sop_instance_uid),
            false,
        ),
        (true, false) | (false, _) => (instance.file_path.clone(), instance.linked),
    };
    record.file_size = instance.file_size.max(0) as u64;
    record.received_at = instance.received_at;
    record.source = Some(format!("migrated from {}", source.root().display()));
    Ok((record, path))
}

/// Copies `source`'s instances into `target` and verifies the result.
pub fn migrate(
    source: &Store,
    target: &Store,
    progress: &MigrateProgress,
) -> Result<MigrateReport, MigrateError> {
    let copy_files = !same_files(source, target);
    let instances = source_instances(source).map_err(MigrateError::SourceIndex)?;
    progress
        .instances_total
        .store(instances.len() as u64, Ordering::Relaxed);
    let mut report = MigrateReport {
        instances: instances.len() as u64,
        ..MigrateReport::default()
    };
    let failed = Mutex::new(Vec::new());
    let fail = |uid: &str, reason: String| {
        failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(MigrateFailure {
                sop_instance_uid: uid.to_string(),
                reason,
            })
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(COPIES_IN_FLIGHT)
        .thread_name(|n| format!("lightbox-migrate-{n}"))
        .build()?;

    for chunk in instances.chunks(BATCH) {
        if progress.cancel.load(Ordering::Relaxed) {
            report.canceled = true;
            break;
        }
        let mut missing = Vec::new();
        for instance in chunk {
            match target.index().instance(&instance.sop_instance_uid) {
                Ok(Some(_)) => report.already_there += 1,
                Ok(None) => missing.push(instance),
                Err(e) => return Err(MigrateError::TargetIndex(e)),
            }
        }
        let copied: Vec<(InstanceRecord, bool)> = pool.install(|| {
            missing
                .par_iter()
                .filter_map(|instance| {
                    let uid = &instance.sop_instance_uid;
                    let (record, path) = match target_record(source, instance, copy_files) {
                        Ok(found) => found,
                        Err(reason) => {
                            fail(uid, reason);
                            return None;
                        }
                    };
                    if copy_files {
                        if let Err(e) = target.copy_in(&path, &record.file_path) {
                            fail(uid, format!("copying into the target: {e}"));
                            return None;
                        }
                        progress
                            .bytes
                            .fetch_add(record.file_size, Ordering::Relaxed);
                    }
                    progress.copied.fetch_add(1, Ordering::Relaxed);
                    Some((record, instance.preview))
                })
                .collect()
        });
        let (records, previews): (Vec<InstanceRecord>, Vec<bool>) = copied.into_iter().unzip();
        // Indexed only now that every object of the batch is complete in the target.
        target
            .index()
            .insert_batch(&records)
            .map_err(MigrateError::TargetIndex)?;
        for (record, preview) in records.iter().zip(previews) {
            if preview {
                target
                    .index()
                    .mark_preview(&record.sop_instance_uid)
                    .map_err(MigrateError::TargetIndex)?;
            }
        }
        report.copied += records.len() as u64;
        if copy_files {
            report.bytes_copied += records.iter().map(|r| r.file_size).sum::<u64>();
        }
    }

    if !report.canceled {
        let verified = AtomicU64::new(0);
        let repaired = AtomicU64::new(0);
        pool.install(|| {
            instances.par_iter().for_each(|instance| {
                if progress.cancel.load(Ordering::Relaxed) {
                    return;
                }
                match verify(source, target, instance, copy_files) {
                    Ok(Verified::Same) => {}
                    Ok(Verified::Repaired) => {
                        repaired.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(reason) => {
                        fail(&instance.sop_instance_uid, reason);
                        return;
                    }
                }
                verified.fetch_add(1, Ordering::Relaxed);
                progress.verified.fetch_add(1, Ordering::Relaxed);
            })
        });
        report.verified = verified.into_inner();
        report.repaired = repaired.into_inner();
        report.canceled = progress.cancel.load(Ordering::Relaxed);
    }
    report.failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    report
        .failed
        .sort_by(|a, b| a.sop_instance_uid.cmp(&b.sop_instance_uid));
    report
        .failed
        .dedup_by(|a, b| a.sop_instance_uid == b.sop_instance_uid);
    Ok(report)
}

enum Verified {
    Same,
    Repaired,
}

/// Checks one instance in the target against the source, copying its object again once if it
/// is missing or differs.
fn verify(
    source: &Store,
    target: &Store,
    instance: &InstanceSummary,
    copy_files: bool,
) -> Result<Verified, String> {
    let uid = &instance.sop_instance_uid;
    let Some(there) = target
        .index()
        .instance(uid)
        .map_err(|e| format!("the target index: {e}"))?
    else {
        return Err("not indexed in the target".into());
    };
    if there.study_uid != instance.study_uid || there.series_uid != instance.series_uid {
        return Err(format!(
            "indexed in the target under study {} series {}",
            there.study_uid, there.series_uid
        ));
    }
    let expected = source
        .content_sha256(&instance.file_path)
        .map_err(|e| format!("reading the source file: {e}"))?;
    let target_hash = |target: &Store| target.content_sha256(&there.file_path);
    match target_hash(target) {
        Ok(hash) if hash == expected => return Ok(Verified::Same),
        _ if !copy_files => return Err("the target's file differs from the source's".into()),
        _ => {}
    }
    let source_path = source
        .local_path(&instance.file_path)
        .map_err(|e| format!("reading the source file: {e}"))?;
    target.forget_cached(&there.file_path);
    target
        .copy_in(&source_path, &there.file_path)
        .map_err(|e| format!("copying into the target again: {e}"))?;
    match target_hash(target) {
        Ok(hash) if hash == expected => Ok(Verified::Repaired),
        Ok(_) => Err("the target's object differs from the source file, twice".into()),
        Err(e) => Err(format!("reading the target's object: {e}")),
    }
}
