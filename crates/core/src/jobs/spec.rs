//! What a job does. A specification is plain data (it is stored as JSON in the queue), so a job
//! queued by one process can run in another, and after a restart.

use super::Priority;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Import,
    Query,
    Retrieve,
    Send,
    Thumbnail,
    Echo,
    Delete,
}

impl JobKind {
    pub const ALL: [JobKind; 7] = [
        JobKind::Import,
        JobKind::Query,
        JobKind::Retrieve,
        JobKind::Send,
        JobKind::Thumbnail,
        JobKind::Echo,
        JobKind::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Import => "import",
            JobKind::Query => "query",
            JobKind::Retrieve => "retrieve",
            JobKind::Send => "send",
            JobKind::Thumbnail => "thumbnail",
            JobKind::Echo => "echo",
            JobKind::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

pub use lightbox_net::query::QuerySpec;

/// Overrides of a node's own association settings, for one job.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociationSettings {
    /// Our AE title in the association.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calling_ae_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

impl AssociationSettings {
    pub fn is_default(&self) -> bool {
        *self == AssociationSettings::default()
    }
}

/// What to delete from the local store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "level", content = "uid", rename_all = "snake_case")]
pub enum DeleteTarget {
    Patient(String),
    Study(String),
    Series(String),
    Instance(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSpec {
    Import {
        paths: Vec<PathBuf>,
        #[serde(default)]
        link: bool,
    },
    Query {
        /// A node name or `AET@host:port`.
        node: String,
        query: QuerySpec,
        #[serde(default, skip_serializing_if = "AssociationSettings::is_default")]
        association: AssociationSettings,
    },
    Retrieve {
        node: String,
        study_uid: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        series_uid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sop_instance_uid: Option<String>,
        /// For a series: fetch its middle instance first (high priority), make the thumbnail,
        /// then fetch the rest — three jobs, each waiting for the one before.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        preview_first: bool,
        /// Fetch the middle instance and make the thumbnail, and stop there (the rest when the
        /// user asks); implies `preview_first`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        preview_only: bool,
        #[serde(default, skip_serializing_if = "AssociationSettings::is_default")]
        association: AssociationSettings,
    },
    /// Local instances to a node: a study, a series, or files.
    Send {
        node: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        study_uid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        series_uid: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        paths: Vec<PathBuf>,
        #[serde(default, skip_serializing_if = "AssociationSettings::is_default")]
        association: AssociationSettings,
    },
    /// The cached thumbnail of a local series.
    Thumbnail {
        series_uid: String,
        size: u32,
    },
    Echo {
        node: String,
        #[serde(default, skip_serializing_if = "AssociationSettings::is_default")]
        association: AssociationSettings,
    },
    Delete {
        target: DeleteTarget,
    },
}

impl JobSpec {
    pub fn kind(&self) -> JobKind {
        match self {
            JobSpec::Import { .. } => JobKind::Import,
            JobSpec::Query { .. } => JobKind::Query,
            JobSpec::Retrieve { .. } => JobKind::Retrieve,
            JobSpec::Send { .. } => JobKind::Send,
            JobSpec::Thumbnail { .. } => JobKind::Thumbnail,
            JobSpec::Echo { .. } => JobKind::Echo,
            JobSpec::Delete { .. } => JobKind::Delete,
        }
    }

    /// The remote node the job talks to, for the per-node caps.
    pub fn node(&self) -> Option<&str> {
        match self {
            JobSpec::Query { node, .. }
            | JobSpec::Retrieve { node, .. }
            | JobSpec::Send { node, .. }
            | JobSpec::Echo { node, .. } => Some(node),
            JobSpec::Import { .. } | JobSpec::Thumbnail { .. } | JobSpec::Delete { .. } => None,
        }
    }

    /// Two pending jobs with the same key are one job: the second submission is merged into the
    /// first. The key is the specification itself, in its canonical JSON form.
    pub fn duplicate_key(&self) -> String {
        serde_json::to_string(self).expect("a job specification always serialises")
    }

    /// Where a job goes when the submitter does not say: what the user waits for goes first.
    pub fn default_priority(&self) -> Priority {
        match self {
            JobSpec::Echo { .. } | JobSpec::Query { .. } => Priority::High,
            JobSpec::Retrieve {
                sop_instance_uid: Some(_),
                ..
            } => Priority::High,
            JobSpec::Thumbnail { .. } => Priority::Normal,
            JobSpec::Import { .. }
            | JobSpec::Retrieve { .. }
            | JobSpec::Send { .. }
            | JobSpec::Delete { .. } => Priority::Normal,
        }
    }

    /// One line for lists: "retrieve series 1.2.3 from ORTHANC".
    pub fn title(&self) -> String {
        match self {
            JobSpec::Import { paths, link } => {
                let what = match paths.as_slice() {
                    [one] => one.display().to_string(),
                    many => format!("{} paths", many.len()),
                };
                format!("import {what}{}", if *link { " (linked)" } else { "" })
            }
            JobSpec::Query { node, query, .. } => {
                format!("query {} level on {node}", query.level)
            }
            JobSpec::Retrieve {
                node,
                study_uid,
                series_uid,
                sop_instance_uid,
                ..
            } => match (series_uid, sop_instance_uid) {
                (_, Some(i)) => format!("retrieve instance {i} from {node}"),
                (Some(s), None) => format!("retrieve series {s} from {node}"),
                (None, None) => format!("retrieve study {study_uid} from {node}"),
            },
            JobSpec::Send {
                node,
                study_uid,
                series_uid,
                paths,
                ..
            } => match (study_uid, series_uid) {
                (Some(s), _) => format!("send study {s} to {node}"),
                (_, Some(s)) => format!("send series {s} to {node}"),
                _ => format!("send {} path(s) to {node}", paths.len()),
            },
            JobSpec::Thumbnail { series_uid, size } => {
                format!("thumbnail of series {series_uid} ({size} px)")
            }
            JobSpec::Echo { node, .. } => format!("echo {node}"),
            JobSpec::Delete { target } => match target {
                DeleteTarget::Patient(uid) => format!("delete patient {uid}"),
                DeleteTarget::Study(uid) => format!("delete study {uid}"),
                DeleteTarget::Series(uid) => format!("delete series {uid}"),
                DeleteTarget::Instance(uid) => format!("delete instance {uid}"),
            },
        }
    }
}
