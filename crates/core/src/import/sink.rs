//! The ingest path as the networking crate sees it: an [`InstanceSink`]. A retrieval stores
//! into the [`Store`] itself (each instance indexed before the next, so that a finished
//! retrieval is searchable); the storage listener goes through the [`BackgroundIndexer`].

use super::{ingest_into_series, BackgroundIndexer, Ingested, Placed, Skipped};
use crate::store::Store;
use lightbox_net::sink::{Accepted, InstanceSink, Origin, Refused};
use std::path::PathBuf;

impl From<Placed> for Accepted {
    fn from(placed: Placed) -> Accepted {
        Accepted {
            duplicate: placed.outcome == Ingested::Duplicate,
            series_uid: placed.series_uid,
        }
    }
}

impl From<Skipped> for Refused {
    fn from(skipped: Skipped) -> Refused {
        Refused {
            reason: skipped.reason,
            out_of_resources: skipped.store_failed,
        }
    }
}

impl InstanceSink for Store {
    fn scratch_dir(&self) -> PathBuf {
        self.tmp_dir()
    }

    fn ingest(&self, file: tempfile::NamedTempFile, origin: &Origin) -> Result<Accepted, Refused> {
        let (outcome, series_uid) = ingest_into_series(self, file, origin.source)?;
        Ok(Accepted {
            duplicate: outcome == Ingested::Duplicate,
            series_uid,
        })
    }
}

impl BackgroundIndexer {
    /// [`BackgroundIndexer::ingest`] for the networking crate.
    pub fn accept(
        &self,
        file: tempfile::NamedTempFile,
        origin: &Origin,
    ) -> Result<Accepted, Refused> {
        Ok(self.ingest(file, origin.source)?.into())
    }
}
