//! Where received instances go. The networking code receives; the store decides: every source
//! (C-STORE, C-GET, C-MOVE, WADO-RS) hands complete Part 10 files to an [`InstanceSink`], which
//! the core implements with its one ingest path.

use std::path::PathBuf;

/// Who sent an instance, for the store's records.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    /// The calling AE title of a DIMSE peer (written into the file meta as Source AE).
    pub calling_ae_title: Option<&'a str>,
    /// A description of the source (`AE@host`, `DICOMweb http://…`).
    pub source: &'a str,
}

/// An instance the sink took: stored, or a duplicate of one stored already (kept as it was).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub duplicate: bool,
    /// The series it belongs to, when the sink knows it at once.
    pub series_uid: Option<String>,
}

/// An instance the sink refused, and why (a truncated or unreadable file, no room).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub reason: String,
    /// The sink could not keep it (no room), rather than the instance being at fault.
    pub out_of_resources: bool,
}

pub trait InstanceSink: Send + Sync {
    /// Where instances are written while they arrive (the store's own scratch folder, so that
    /// taking them in is a rename).
    fn scratch_dir(&self) -> PathBuf;

    /// Takes one complete Part 10 file.
    fn ingest(&self, file: tempfile::NamedTempFile, origin: &Origin) -> Result<Accepted, Refused>;

    /// Makes everything accepted so far searchable (before an association's release is
    /// answered, so that a peer that has released can rely on it).
    fn flush(&self) {}

    /// The sender has been told the instance is stored (after the C-STORE response): a good
    /// moment for follow-up work, which must be quick.
    fn acknowledged(&self, _accepted: &Accepted) {}
}
