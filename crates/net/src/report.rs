//! What a retrieval or a send did, the same for DIMSE and DICOMweb nodes.

use serde::{Deserialize, Serialize};

/// What to retrieve: a study, one of its series, or instances of a series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrieveTarget {
    pub study_uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_uid: Option<String>,
    /// These instances of the series only; all of them when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
}

impl RetrieveTarget {
    pub fn study(study_uid: &str) -> RetrieveTarget {
        RetrieveTarget {
            study_uid: study_uid.into(),
            series_uid: None,
            instances: Vec::new(),
        }
    }

    pub fn series(study_uid: &str, series_uid: &str) -> RetrieveTarget {
        RetrieveTarget {
            series_uid: Some(series_uid.into()),
            ..RetrieveTarget::study(study_uid)
        }
    }

    pub fn instance(study_uid: &str, series_uid: &str, sop_instance_uid: &str) -> RetrieveTarget {
        RetrieveTarget {
            instances: vec![sop_instance_uid.into()],
            ..RetrieveTarget::series(study_uid, series_uid)
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrieveReport {
    /// Instances the retrieval covers, as far as the node told.
    pub expected: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub failed: u64,
    pub warnings: u64,
    /// The final DIMSE status of the retrieval (0 for DICOMweb).
    pub status: u16,
    pub errors: Vec<String>,
}

impl RetrieveReport {
    /// Adds the counts of a further request of the same retrieval.
    pub fn absorb(&mut self, other: RetrieveReport) {
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.failed += other.failed;
        self.warnings += other.warnings;
        self.status = other.status;
        self.errors.extend(other.errors);
    }
}

/// The outcome of sending one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentInstance {
    pub path: String,
    pub sop_instance_uid: Option<String>,
    /// The peer's status, when it answered.
    pub status: Option<u16>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The transfer syntax it was sent in, when it was sent.
    pub transfer_syntax: Option<String>,
    /// Whether it was converted (decoded) because the peer does not accept its own syntax.
    pub transcoded: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReport {
    pub sent: u64,
    pub warnings: u64,
    pub failed: u64,
    /// Instances sent after conversion to an uncompressed syntax.
    pub transcoded: u64,
    pub instances: Vec<SentInstance>,
}

/// How far a transfer has come: instances done out of those expected (0: not known yet), and
/// data set bytes moved (a C-MOVE's instances arrive at the listener, uncounted here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferProgress {
    pub done: u64,
    pub expected: u64,
    pub bytes: u64,
}
