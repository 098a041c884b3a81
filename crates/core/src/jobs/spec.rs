//! What a job does. A specification is plain data (it is stored as JSON in the queue), so a job
//! queued by one process can run in another, and after a restart.

use super::Priority;
use crate::index::Index;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// An association a peer opened to the storage listener: recorded, never run.
    Receive,
    Modify,
    Anonymize,
}

impl JobKind {
    pub const ALL: [JobKind; 10] = [
        JobKind::Import,
        JobKind::Query,
        JobKind::Retrieve,
        JobKind::Send,
        JobKind::Thumbnail,
        JobKind::Echo,
        JobKind::Delete,
        JobKind::Receive,
        JobKind::Modify,
        JobKind::Anonymize,
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
            JobKind::Receive => "receive",
            JobKind::Modify => "modify",
            JobKind::Anonymize => "anonymize",
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

impl DeleteTarget {
    /// "study 1.2.3", "patient P1".
    pub fn describe(&self) -> String {
        match self {
            DeleteTarget::Patient(id) => format!("patient {id}"),
            DeleteTarget::Study(uid) => format!("study {uid}"),
            DeleteTarget::Series(uid) => format!("series {uid}"),
            DeleteTarget::Instance(uid) => format!("instance {uid}"),
        }
    }
}

/// Where de-identified copies go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", content = "at", rename_all = "snake_case")]
pub enum AnonymizeDestination {
    /// New studies in the local store.
    Local,
    /// DICOM media (files and a DICOMDIR) in a new or empty folder.
    Folder(PathBuf),
    /// The same media as a zip.
    Zip(PathBuf),
    /// Sent to a node.
    Node(String),
}

impl AnonymizeDestination {
    pub fn describe(&self) -> String {
        match self {
            AnonymizeDestination::Local => "local".into(),
            AnonymizeDestination::Folder(dir) => dir.display().to_string(),
            AnonymizeDestination::Zip(path) => path.display().to_string(),
            AnonymizeDestination::Node(name) => name.clone(),
        }
    }

    /// For a job's title: "into the local store", "to pacs".
    fn in_words(&self) -> String {
        match self {
            AnonymizeDestination::Local => "into the local store".into(),
            other => format!("to {}", other.describe()),
        }
    }
}

/// A pseudonym given for one patient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PseudonymRow {
    /// The source Patient ID.
    pub source: String,
    pub patient_id: String,
    #[serde(default)]
    pub patient_name: String,
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
        /// user asks); implies `preview_first`. For an instance: store it as a preview (it
        /// does not make its study local; a later retrieval of it keeps it for good).
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
    /// Attributes of a patient's, study's or series' instances changed (see `kinds::modify`).
    Modify {
        target: DeleteTarget,
        /// Keyword → new value.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        set: BTreeMap<String, String>,
        /// Keywords to remove.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remove: Vec<String>,
        /// New Study, Series and SOP Instance UIDs (references follow): a new study.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        new_uids: bool,
        /// With new UIDs, keep the original (the default); without, it is always replaced.
        #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
        keep_source: bool,
    },
    /// A de-identified copy (PS3.15 Annex E; see `kinds::anonymize`).
    Anonymize {
        target: DeleteTarget,
        /// Options of the profile, by name (`retain-dates`, `clean-descriptors`…).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        options: Vec<String>,
        destination: AnonymizeDestination,
        /// A file holding the project key; none: the data directory's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project_key: Option<PathBuf>,
        /// A CSV of pseudonyms: source Patient ID, new Patient ID, new Patient's Name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pseudonyms: Option<PathBuf>,
        /// Pseudonyms given one by one.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pseudonym_rows: Vec<PseudonymRow>,
        /// Private elements known to be safe (`(gggg,xxee) CREATOR` lines), kept under
        /// `retain-safe-private`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        safe_private: Option<PathBuf>,
        /// Rectangles blanked in every frame (burned-in text).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        blank: Vec<lightbox_dicom::deid::pixels::Rect>,
    },
    /// What a peer sent in one association to the storage listener. The listener keeps this
    /// record while the association lasts (an activity): the engine never runs it.
    Receive {
        calling_ae_title: String,
        /// The peer's IP address.
        peer: String,
        /// The known node with that AE title, if one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        /// When the association was established (ms since the epoch).
        started_at: i64,
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
            JobSpec::Receive { .. } => JobKind::Receive,
            JobSpec::Modify { .. } => JobKind::Modify,
            JobSpec::Anonymize { .. } => JobKind::Anonymize,
        }
    }

    /// Whether only the node it was submitted on can run it: it reads or writes that node's own
    /// files (a folder to import, media to write).
    pub fn runs_where_submitted(&self) -> bool {
        match self {
            JobSpec::Import { .. } => true,
            JobSpec::Anonymize { destination, .. } => matches!(
                destination,
                AnonymizeDestination::Folder(_) | AnonymizeDestination::Zip(_)
            ),
            _ => false,
        }
    }

    /// The remote node the job talks to, for the per-node caps.
    pub fn node(&self) -> Option<&str> {
        match self {
            JobSpec::Query { node, .. }
            | JobSpec::Retrieve { node, .. }
            | JobSpec::Send { node, .. }
            | JobSpec::Echo { node, .. } => Some(node),
            JobSpec::Receive { node, .. } => node.as_deref(),
            JobSpec::Anonymize {
                destination: AnonymizeDestination::Node(node),
                ..
            } => Some(node),
            JobSpec::Anonymize { .. } => None,
            JobSpec::Import { .. }
            | JobSpec::Thumbnail { .. }
            | JobSpec::Delete { .. }
            | JobSpec::Modify { .. } => None,
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
            | JobSpec::Delete { .. }
            | JobSpec::Modify { .. }
            | JobSpec::Anonymize { .. }
            | JobSpec::Receive { .. } => Priority::Normal,
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
            JobSpec::Receive {
                calling_ae_title,
                peer,
                ..
            } => format!("receive from {calling_ae_title} ({peer})"),
            JobSpec::Modify {
                target, new_uids, ..
            } => {
                let what = target.describe();
                let uids = if *new_uids { " (new UIDs)" } else { "" };
                format!("modify {what}{uids}")
            }
            JobSpec::Anonymize {
                target,
                destination,
                ..
            } => format!(
                "de-identify {} {}",
                target.describe(),
                destination.in_words()
            ),
        }
    }

    /// The title in words when the subject is known: "retrieve series “Axial 1.25” of Doe,
    /// Jane (2019-07-16 CT chest) from pacs"; [`JobSpec::title`] otherwise.
    pub fn title_about(&self, subject: &Subject) -> String {
        let Some(words) = subject.describe(self.series_uid().is_some()) else {
            return self.title();
        };
        match self {
            JobSpec::Retrieve {
                node,
                sop_instance_uid: None,
                ..
            } => format!("retrieve {words} from {node}"),
            JobSpec::Send {
                node,
                study_uid,
                series_uid,
                ..
            } if study_uid.is_some() || series_uid.is_some() => format!("send {words} to {node}"),
            JobSpec::Thumbnail { size, .. } => format!("thumbnail of {words} ({size} px)"),
            JobSpec::Delete {
                target: DeleteTarget::Study(_) | DeleteTarget::Series(_),
            } => format!("delete {words}"),
            JobSpec::Modify {
                target: DeleteTarget::Study(_) | DeleteTarget::Series(_),
                new_uids,
                ..
            } => format!(
                "modify {words}{}",
                if *new_uids { " (new UIDs)" } else { "" }
            ),
            JobSpec::Anonymize {
                target: DeleteTarget::Study(_) | DeleteTarget::Series(_),
                destination,
                ..
            } => format!("de-identify {words} {}", destination.in_words()),
            _ => self.title(),
        }
    }

    /// The series a job concerns, if one.
    fn series_uid(&self) -> Option<&str> {
        match self {
            JobSpec::Retrieve { series_uid, .. } | JobSpec::Send { series_uid, .. } => {
                series_uid.as_deref()
            }
            JobSpec::Thumbnail { series_uid, .. } => Some(series_uid),
            _ => match self.target() {
                Some(DeleteTarget::Series(uid)) => Some(uid),
                _ => None,
            },
        }
    }

    /// The patient, study or series a job deletes, modifies or de-identifies.
    fn target(&self) -> Option<&DeleteTarget> {
        match self {
            JobSpec::Delete { target }
            | JobSpec::Modify { target, .. }
            | JobSpec::Anonymize { target, .. } => Some(target),
            _ => None,
        }
    }
}

fn yes() -> bool {
    true
}

/// What a job concerns, for its title, as DICOM writes it (each as far as known): the patient's
/// name, the study's date and description, the series' number, description and modality.
/// The words are made here, for the index's knowledge and the page's alike.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Subject {
    /// Patient's Name (`Family^Given^Middle^Prefix^Suffix`).
    pub patient_name: Option<String>,
    /// Study Date (`YYYYMMDD`).
    pub study_date: Option<String>,
    pub study_description: Option<String>,
    pub series_number: Option<String>,
    pub series_description: Option<String>,
    pub modality: Option<String>,
}

/// The longest a part of a title may be, in characters.
const SUBJECT_PART: usize = 80;

/// A part of a title: on one line, without control characters, and not too long.
fn part(text: Option<String>) -> Option<String> {
    let cleaned: String = text?
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match cleaned.chars().count() {
        0 => None,
        n if n > SUBJECT_PART => {
            Some(cleaned.chars().take(SUBJECT_PART - 1).collect::<String>() + "…")
        }
        _ => Some(cleaned),
    }
}

/// A person name as the page shows it: "Family, Prefix Given Middle" (its first group).
fn person_name(pn: &str) -> String {
    let group = pn.split('=').next().unwrap_or_default();
    let parts: Vec<&str> = group.split('^').map(str::trim).collect();
    let at = |i: usize| parts.get(i).copied().unwrap_or_default();
    let rest: Vec<&str> = [at(3), at(1), at(2)]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    match (at(0), rest.is_empty()) {
        (family, true) => family.to_string(),
        ("", false) => rest.join(" "),
        (family, false) => format!("{family}, {}", rest.join(" ")),
    }
}

/// `YYYYMMDD` as `YYYY-MM-DD`; anything else as it is.
fn iso_date(date: &str) -> String {
    match date.len() {
        8 if date.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..])
        }
        _ => date.to_string(),
    }
}

/// Words joined by spaces, `None` when there are none.
fn joined(words: [Option<String>; 2]) -> Option<String> {
    let words: Vec<String> = words
        .into_iter()
        .flatten()
        .filter(|w| !w.is_empty())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

impl Subject {
    /// The patient, study and series of a job, as far as the local index knows them.
    pub fn local(index: &dyn Index, spec: &JobSpec) -> Subject {
        let (study_uid, series_uid) = match spec {
            JobSpec::Retrieve {
                study_uid,
                series_uid,
                ..
            } => (Some(study_uid.clone()), series_uid.clone()),
            JobSpec::Send {
                study_uid,
                series_uid,
                ..
            } => (study_uid.clone(), series_uid.clone()),
            JobSpec::Thumbnail { series_uid, .. } => (None, Some(series_uid.clone())),
            _ => match spec.target() {
                Some(DeleteTarget::Study(uid)) => (Some(uid.clone()), None),
                Some(DeleteTarget::Series(uid)) => (None, Some(uid.clone())),
                _ => (None, None),
            },
        };
        Subject::of(index, study_uid.as_deref(), series_uid.as_deref())
    }

    /// A study's and a series' subject, as far as the local index knows them.
    pub fn of(index: &dyn Index, study_uid: Option<&str>, series_uid: Option<&str>) -> Subject {
        let series = series_uid.and_then(|uid| index.series(uid).ok().flatten());
        let study = study_uid
            .map(str::to_string)
            .or_else(|| series.as_ref().map(|s| s.study_uid.clone()))
            .and_then(|uid| index.study(&uid).ok().flatten());
        let (patient_name, study_date, study_description) = match study {
            Some(s) => (Some(s.patient_name), s.study_date, s.study_description),
            None => (None, None, None),
        };
        let (series_number, series_description, modality) = match series {
            Some(s) => (
                s.series_number.map(|n| n.to_string()),
                s.series_description,
                s.modality,
            ),
            None => (None, None, None),
        };
        Subject {
            patient_name,
            study_date,
            study_description,
            series_number,
            series_description,
            modality,
        }
    }

    /// Each field of `other` that this one lacks.
    pub fn or(self, other: Subject) -> Subject {
        Subject {
            patient_name: self.patient_name.or(other.patient_name),
            study_date: self.study_date.or(other.study_date),
            study_description: self.study_description.or(other.study_description),
            series_number: self.series_number.or(other.series_number),
            series_description: self.series_description.or(other.series_description),
            modality: self.modality.or(other.modality),
        }
    }

    /// "Doe, Jane (2019-07-16 CT chest)": the patient and the study; `None` when neither is known.
    pub fn patient_and_study(&self) -> Option<String> {
        let patient = part(self.patient_name.as_deref().map(person_name));
        let study = part(joined([
            self.study_date.as_deref().map(iso_date),
            self.study_description.clone(),
        ]));
        match (patient, study) {
            (None, None) => None,
            (Some(patient), None) => Some(patient),
            (None, Some(study)) => Some(format!("({study})")),
            (Some(patient), Some(study)) => Some(format!("{patient} ({study})")),
        }
    }

    /// "#2 Axial 1.25" (the series' number and description, or its modality).
    pub fn series_words(&self) -> Option<String> {
        part(joined([
            self.series_number.as_ref().map(|n| format!("#{n}")),
            self.series_description.clone().or(self.modality.clone()),
        ]))
    }

    /// "series “#2 Axial 1.25” of Doe, Jane (2019-07-16 CT chest)", or "the study of …";
    /// `None` when nothing is known.
    fn describe(&self, of_series: bool) -> Option<String> {
        let patient = part(self.patient_name.as_deref().map(person_name));
        let study = part(joined([
            self.study_date.as_deref().map(iso_date),
            self.study_description.clone(),
        ]));
        let series = part(joined([
            self.series_number.as_ref().map(|n| format!("#{n}")),
            self.series_description.clone().or(self.modality.clone()),
        ]));
        if patient.is_none() && study.is_none() && series.is_none() {
            return None;
        }
        let mut words = match (of_series, series) {
            (true, Some(series)) => format!("series “{series}”"),
            (true, None) => "a series".to_string(),
            (false, _) => "the study".to_string(),
        };
        if let Some(patient) = patient {
            words += &format!(" of {patient}");
        }
        if let Some(study) = study {
            words += &format!(" ({study})");
        }
        Some(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_name_the_subject_in_words_on_one_line() {
        let retrieve = JobSpec::Retrieve {
            node: "pacs".into(),
            study_uid: "1.2".into(),
            series_uid: Some("1.2.3".into()),
            sop_instance_uid: None,
            preview_first: false,
            preview_only: false,
            association: AssociationSettings::default(),
        };
        let subject = Subject {
            patient_name: Some("Doe^Jane".into()),
            study_date: Some("20190716".into()),
            study_description: Some("CT\nchest".into()),
            series_number: Some("2".into()),
            series_description: Some("Axial\t1.25".into()),
            modality: Some("CT".into()),
        };
        assert_eq!(
            retrieve.title_about(&subject),
            "retrieve series “#2 Axial 1.25” of Doe, Jane (2019-07-16 CT chest) from pacs"
        );
        assert_eq!(retrieve.title_about(&Subject::default()), retrieve.title());
        let long = Subject {
            patient_name: Some("x".repeat(500)),
            ..Subject::default()
        };
        let title = retrieve.title_about(&long);
        assert!(title.chars().count() < 130, "{title}");
        assert!(title.contains('…'));
    }
}
