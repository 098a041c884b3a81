//! Objects in the object store that no index entry names: an upload whose node died before
//! its index entry was committed (an instance never acknowledged), or a delete whose node died
//! between the index and the bucket. Nothing else can tell such an object from a stray one, so
//! the sweep compares the whole listing with the whole index, in one merge of two sorted
//! streams (the index's managed paths, the bucket folder by folder), in bounded memory.
//!
//! An unindexed object is an orphan only once it is older than a grace period: an upload that
//! is about to be indexed looks just like one that never will be. Before deleting, the sweep
//! asks for the object again and leaves it if it was written since it was listed (the same
//! instance stored again). What remains is a window of one request between that check and the
//! delete, which an instance stored again exactly then, after being orphaned for the whole
//! grace period, would fall into; a grace period of an hour makes that practically
//! impossible.

use super::s3::{S3Objects, StoredObject};
use crate::index::Index;
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unindexed objects younger than this are left alone unless told otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// Index entries without an object named in a report, at most.
const MISSING_EXAMPLES: usize = 20;

#[derive(Clone, Copy, Debug)]
pub struct SweepOptions {
    /// How old an unindexed object must be to be an orphan.
    pub grace: Duration,
    /// Delete the orphans (else only count them).
    pub delete: bool,
}

/// What a sweep found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Objects under `files/`.
    pub objects: u64,
    /// Of those, named by an index entry.
    pub indexed: u64,
    /// Unindexed and older than the grace period.
    pub orphans: u64,
    pub orphan_bytes: u64,
    /// Orphans deleted.
    pub deleted: u64,
    /// Unindexed but younger than the grace period (or written again while the sweep ran).
    pub recent: u64,
    /// Index entries whose object is missing from the bucket, and the first of them.
    pub missing: u64,
    pub missing_examples: Vec<String>,
}

/// The bucket's objects under `files/` in byte order of their paths, a folder at a time.
struct Listing<'a> {
    s3: &'a S3Objects,
    folders: VecDeque<String>,
    current: VecDeque<StoredObject>,
}

impl Listing<'_> {
    fn peek(&mut self) -> io::Result<Option<&StoredObject>> {
        while self.current.is_empty() {
            let Some(folder) = self.folders.pop_front() else {
                return Ok(None);
            };
            self.current = self.s3.list_objects(&folder)?.into();
        }
        Ok(self.current.front())
    }

    fn take(&mut self) -> io::Result<Option<StoredObject>> {
        self.peek()?;
        Ok(self.current.pop_front())
    }
}

struct Merge<'a> {
    listing: Listing<'a>,
    options: SweepOptions,
    now_ms: i64,
    report: SweepReport,
    error: Option<io::Error>,
}

impl Merge<'_> {
    /// One indexed path, in order: the objects before it are unindexed. False on an error
    /// (kept for the caller), which ends the pass.
    fn indexed(&mut self, path: &str) -> bool {
        match self.advance_past(path) {
            Ok(()) => true,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }

    fn advance_past(&mut self, path: &str) -> io::Result<()> {
        loop {
            let Some(object) = self.listing.peek()? else {
                self.missing(path);
                return Ok(());
            };
            match object.relative.as_str().cmp(path) {
                std::cmp::Ordering::Less => {
                    let object = self.listing.take()?.expect("peeked");
                    self.unindexed(object)?;
                }
                std::cmp::Ordering::Equal => {
                    self.listing.take()?;
                    self.report.objects += 1;
                    self.report.indexed += 1;
                    return Ok(());
                }
                std::cmp::Ordering::Greater => {
                    self.missing(path);
                    return Ok(());
                }
            }
        }
    }

    fn missing(&mut self, path: &str) {
        self.report.missing += 1;
        if self.report.missing_examples.len() < MISSING_EXAMPLES {
            self.report.missing_examples.push(path.to_string());
        }
    }

    fn unindexed(&mut self, object: StoredObject) -> io::Result<()> {
        self.report.objects += 1;
        let age_ms = self.now_ms.saturating_sub(object.modified_ms);
        if age_ms < self.options.grace.as_millis() as i64 {
            self.report.recent += 1;
            return Ok(());
        }
        if self.options.delete {
            // Stored again since it was listed: about to be indexed, not an orphan.
            match self.listing.s3.head(&object.relative)? {
                Some(now) if now.modified_ms != object.modified_ms => {
                    self.report.recent += 1;
                    return Ok(());
                }
                Some(_) => {
                    self.listing.s3.delete(&object.relative)?;
                    self.report.deleted += 1;
                    tracing::info!(object = %object.relative, size = object.size, "orphan object deleted");
                }
                // Gone already (deleted by another sweep).
                None => {}
            }
        }
        self.report.orphans += 1;
        self.report.orphan_bytes += object.size;
        Ok(())
    }
}

/// Compares the bucket with the index; see the module's documentation.
pub(super) fn sweep(
    s3: &S3Objects,
    index: &dyn Index,
    options: SweepOptions,
) -> Result<SweepReport, super::StoreError> {
    let bucket_error = |source: io::Error| super::StoreError::ObjectStore {
        location: s3.location().to_string(),
        source,
    };
    let folders = s3.folders("files/").map_err(bucket_error)?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut merge = Merge {
        listing: Listing {
            s3,
            folders: folders.into(),
            current: VecDeque::new(),
        },
        options,
        now_ms,
        report: SweepReport::default(),
        error: None,
    };
    index.visit_managed_paths(&mut |path| merge.indexed(path))?;
    if let Some(e) = merge.error.take() {
        return Err(bucket_error(e));
    }
    while let Some(object) = merge.listing.take().map_err(bucket_error)? {
        merge.unindexed(object).map_err(bucket_error)?;
    }
    Ok(merge.report)
}
