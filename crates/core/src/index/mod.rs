//! The index: what the browser lists and a Q/R SCP answers, behind a trait: SQLite in the data
//! directory by default, or a PostgreSQL database that several nodes share.

mod migrations;
pub mod postgres;
mod query;
pub mod sqlite;

pub use lightbox_dicom::matching::DateRangeError;
pub use postgres::PostgresIndex;
pub use query::{DateRange, StudyColumn, StudyOrder, StudyQuery, TextPattern, BROWSE_COUNT_LIMIT};
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
    #[error("index database: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("connecting to the index at {url}: {source}")]
    OpenPostgres {
        url: String,
        source: ::postgres::Error,
    },
    #[error("{0:?} is not an index location: give postgres://USER@HOST:PORT/DB")]
    Location(String),
}

impl From<::postgres::Error> for IndexError {
    fn from(e: ::postgres::Error) -> Self {
        IndexError(IndexErrorKind::Postgres(e))
    }
}

impl IndexError {
    /// Whether a concurrent writer (another node) made the database give this write up: it
    /// can be tried again as it was.
    pub(crate) fn is_contention(&self) -> bool {
        use ::postgres::error::SqlState;
        match &self.0 {
            IndexErrorKind::Postgres(e) => matches!(
                e.code(),
                Some(&SqlState::T_R_DEADLOCK_DETECTED | &SqlState::T_R_SERIALIZATION_FAILURE)
            ),
            _ => false,
        }
    }
}

/// Where the index is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IndexLocation {
    /// `index.sqlite` in the data directory.
    #[default]
    DataDir,
    /// A PostgreSQL database, by its URL (`postgres://USER[:PASSWORD]@HOST:PORT/DB`).
    Postgres(String),
}

impl IndexLocation {
    /// `postgres://…` (or `postgresql://…`); `sqlite` or nothing for the data directory's.
    pub fn parse(text: &str) -> Result<IndexLocation, IndexError> {
        let text = text.trim();
        if text.is_empty() || text == "sqlite" {
            Ok(IndexLocation::DataDir)
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(IndexLocation::Postgres(text.to_string()))
        } else {
            Err(IndexErrorKind::Location(text.to_string()).into())
        }
    }

    /// Opens the index, the data directory's at `data_dir`.
    pub fn open(
        &self,
        data_dir: &std::path::Path,
    ) -> Result<std::sync::Arc<dyn Index>, IndexError> {
        Ok(self.open_with_lists(data_dir)?.0)
    }

    /// The index, and the settings lists it shares with every node using it (a PostgreSQL
    /// index does; one in the data directory belongs to this node alone).
    pub fn open_with_lists(
        &self,
        data_dir: &std::path::Path,
    ) -> Result<(std::sync::Arc<dyn Index>, Option<SharedListsRef>), IndexError> {
        Ok(match self {
            IndexLocation::DataDir => (
                std::sync::Arc::new(SqliteIndex::open(&data_dir.join("index.sqlite"))?),
                None,
            ),
            IndexLocation::Postgres(url) => {
                let index = std::sync::Arc::new(PostgresIndex::open(url)?);
                (index.clone(), Some(index))
            }
        })
    }
}

impl From<rusqlite::Error> for IndexError {
    fn from(e: rusqlite::Error) -> Self {
        IndexError(IndexErrorKind::Database(e))
    }
}

/// Settings lists shared by a cluster's nodes.
pub type SharedListsRef = std::sync::Arc<dyn crate::lists::SharedLists>;

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
    /// The number of matching studies, or, when `total_exact` is false, a number that more
    /// than this many match (the query's `count_limit` stopped the count).
    pub total: u64,
    pub total_exact: bool,
    pub studies: Vec<StudySummary>,
}

impl StudyPage {
    /// A page whose count found `counted` matches, stopping one past `bound` if bounded.
    pub(crate) fn counted(counted: u64, bound: Option<u64>, studies: Vec<StudySummary>) -> Self {
        match bound {
            Some(bound) if counted > bound => StudyPage {
                total: bound,
                total_exact: false,
                studies,
            },
            _ => StudyPage {
                total: counted,
                total_exact: true,
                studies,
            },
        }
    }
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
    /// Every managed (not linked) instance's stored path, in byte order, to `visit` until it
    /// returns false: one pass in bounded memory, to compare with an object store's listing.
    /// The pass reads one snapshot of the index.
    fn visit_managed_paths(
        &self,
        visit: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Result<(), IndexError>;
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
    /// The store's totals, which every page's header shows: a node reads them once a second
    /// while any of its pages is open.
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
