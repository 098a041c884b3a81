//! The index: what the browser lists and a Q/R SCP answers, behind a trait so that a PostgreSQL
//! backend can replace SQLite without touching callers.

mod migrations;
mod query;
pub mod sqlite;

pub use lightbox_dicom::matching::DateRangeError;
pub use query::{DateRange, StudyColumn, StudyOrder, StudyQuery, TextPattern};
pub use sqlite::SqliteIndex;

use crate::image_sets::Placement;
use crate::model::{InstanceRecord, InstanceSummary, SeriesSummary, StudySummary};

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct IndexError(#[from] IndexErrorKind);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum IndexErrorKind {
    #[error("index database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("index schema version {found} is newer than this Lightbox understands ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("opening the index at {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
}

impl From<rusqlite::Error> for IndexError {
    fn from(e: rusqlite::Error) -> Self {
        IndexError(IndexErrorKind::Database(e))
    }
}

/// What happened to one record of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted,
    /// The SOP Instance UID was already indexed; the existing file stays.
    Duplicate {
        existing_path: String,
    },
}

/// A page of studies and the number of matches across all pages.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyPage {
    pub total: u64,
    pub studies: Vec<StudySummary>,
}

/// What to remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoveTarget {
    Patient(String),
    Study(String),
    Series(String),
    Instance(String),
}

/// A file whose index entry was removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedFile {
    pub path: String,
    pub linked: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub patients: u64,
    pub studies: u64,
    pub series: u64,
    pub instances: u64,
    pub files: Vec<RemovedFile>,
}

/// Counts across the whole index.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexStats {
    /// Patients, studies and series with instances other than previews.
    pub patients: u64,
    pub studies: u64,
    pub series: u64,
    /// Instances, previews apart.
    pub instances: u64,
    pub previews: u64,
    /// Every file's, previews' too.
    pub bytes: u64,
}

/// An instance of a series as its image sets need it.
#[derive(Clone, Debug, PartialEq)]
pub struct SetMember {
    pub sop_instance_uid: String,
    pub instance_number: Option<i64>,
    pub frames: u64,
    pub file_path: String,
    /// `None`: not read yet (indexed before placements were kept); `Some(None)`: no pixels.
    pub placement: Option<Option<Placement>>,
}

pub trait Index: Send + Sync {
    /// Indexes a batch in one transaction. Outcomes are in the order of `records`.
    fn insert_batch(&self, records: &[InstanceRecord]) -> Result<Vec<InsertOutcome>, IndexError>;
    /// The stored path of an instance, if indexed.
    fn instance_path(&self, sop_instance_uid: &str) -> Result<Option<String>, IndexError>;
    fn search_studies(&self, query: &StudyQuery) -> Result<StudyPage, IndexError>;
    fn study(&self, study_uid: &str) -> Result<Option<StudySummary>, IndexError>;
    fn series_of_study(&self, study_uid: &str) -> Result<Vec<SeriesSummary>, IndexError>;
    fn series(&self, series_uid: &str) -> Result<Option<SeriesSummary>, IndexError>;
    /// Instances of a series ordered by InstanceNumber (then SOP Instance UID).
    fn instances_of_series(&self, series_uid: &str) -> Result<Vec<InstanceSummary>, IndexError>;
    fn instance(&self, sop_instance_uid: &str) -> Result<Option<InstanceSummary>, IndexError>;
    /// A number that changes whenever the series' set of instances changes (thumbnail cache key).
    fn series_revision(&self, series_uid: &str) -> Result<Option<i64>, IndexError>;
    /// The distinct SOP Class UIDs of a study's instances (SOP Classes in Study), sorted.
    fn sop_classes_of_study(&self, study_uid: &str) -> Result<Vec<String>, IndexError>;
    /// Removes the target and any parent left empty; returns what went and which files to delete.
    fn remove(&self, target: &RemoveTarget) -> Result<Removed, IndexError>;
    fn stats(&self) -> Result<IndexStats, IndexError>;
    /// Marks a stored instance as a preview (fetched for a thumbnail); false when it was one
    /// already, or is not stored.
    fn mark_preview(&self, sop_instance_uid: &str) -> Result<bool, IndexError>;
    /// Makes the previews within the target ordinary instances (a retrieval of the target
    /// wants them); returns how many there were.
    fn keep_previews(&self, target: &RemoveTarget) -> Result<u64, IndexError>;
    /// The instances of a series with their image-set placements.
    fn image_set_members(&self, series_uid: &str) -> Result<Vec<SetMember>, IndexError>;
    /// Keeps the placement read for an instance indexed without one.
    fn set_placement(
        &self,
        sop_instance_uid: &str,
        placement: Option<&Placement>,
    ) -> Result<(), IndexError>;
}
