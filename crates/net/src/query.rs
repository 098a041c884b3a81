//! Queries and their matches, the same whatever the protocol: a [`QuerySpec`] is what the user
//! asks for (level and filters, as `lightbox find` takes them); a DIMSE node gets it as a C-FIND
//! identifier ([`find_identifier`]), a DICOMweb node as a QIDO-RS URL; each [`Match`] comes back
//! keyed by DICOM keyword.

use lightbox_dicom::matching::DateRange;
use lightbox_dicom::tag::{self, Tag};
use lightbox_dicom::write::DataSetBuilder;
use lightbox_dicom::{dictionary, DataSet, Vr};
use serde::{Deserialize, Serialize};

pub const PATIENT_ROOT_FIND: &str = "1.2.840.10008.5.1.4.1.2.1.1";
pub const STUDY_ROOT_FIND: &str = "1.2.840.10008.5.1.4.1.2.2.1";
pub const PATIENT_ROOT_GET: &str = "1.2.840.10008.5.1.4.1.2.1.3";
pub const STUDY_ROOT_GET: &str = "1.2.840.10008.5.1.4.1.2.2.3";
pub const PATIENT_ROOT_MOVE: &str = "1.2.840.10008.5.1.4.1.2.1.2";
pub const STUDY_ROOT_MOVE: &str = "1.2.840.10008.5.1.4.1.2.2.2";

pub const QUERY_RETRIEVE_LEVEL: Tag = Tag(0x0008, 0x0052);
pub const MODALITIES_IN_STUDY: Tag = Tag(0x0008, 0x0061);
pub const SOP_CLASSES_IN_STUDY: Tag = Tag(0x0008, 0x0062);
pub const PATIENT_STUDIES: Tag = Tag(0x0020, 0x1200);
pub const STUDY_SERIES: Tag = Tag(0x0020, 0x1206);
pub const STUDY_INSTANCES: Tag = Tag(0x0020, 0x1208);
pub const SERIES_INSTANCES: Tag = Tag(0x0020, 0x1209);

/// One match, keyed by DICOM keyword: numbers for counts and integers, an array for Modalities
/// in Study, strings otherwise.
pub type Match = serde_json::Map<String, serde_json::Value>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Patient,
    Study,
    Series,
    Image,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim().to_uppercase().as_str() {
            "PATIENT" => Some(Level::Patient),
            "STUDY" => Some(Level::Study),
            "SERIES" => Some(Level::Series),
            "IMAGE" | "INSTANCE" => Some(Level::Image),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Patient => "PATIENT",
            Level::Study => "STUDY",
            Level::Series => "SERIES",
            Level::Image => "IMAGE",
        }
    }
}

/// The information model of a C-FIND.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryModel {
    StudyRoot,
    PatientRoot,
}

impl QueryModel {
    pub fn find_uid(self) -> &'static str {
        match self {
            QueryModel::StudyRoot => STUDY_ROOT_FIND,
            QueryModel::PatientRoot => PATIENT_ROOT_FIND,
        }
    }
}

/// A query: the level, the model and the filters of `lightbox studies`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuerySpec {
    /// patient, study, series or instance.
    pub level: String,
    #[serde(default)]
    pub patient_root: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    /// A DICOM date or range (`20240101-20240131`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_date: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modalities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accession_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_uid: Option<String>,
    /// Also query the level below for each match, as follow-up jobs: patients → their studies
    /// → their series.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cascade: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuerySpecError {
    #[error("level {0:?}: expected patient, study, series or instance")]
    Level(String),
    #[error(transparent)]
    Date(#[from] lightbox_dicom::matching::DateRangeError),
}

impl QuerySpec {
    /// The level, checked.
    pub fn level(&self) -> Result<Level, QuerySpecError> {
        Level::parse(&self.level).ok_or_else(|| QuerySpecError::Level(self.level.clone()))
    }

    /// An instance-level listing of a study or series (what a retrieval resumes from).
    pub fn instances_of(study_uid: &str, series_uid: Option<&str>) -> QuerySpec {
        QuerySpec {
            level: "instance".into(),
            study_uid: Some(study_uid.into()),
            series_uid: series_uid.map(str::to_string),
            ..QuerySpec::default()
        }
    }

    /// The modality filter: comma-separated or repeated, upper case.
    pub fn modality_list(&self) -> Vec<String> {
        self.modalities
            .iter()
            .flat_map(|m| m.split(','))
            .map(|m| m.trim().to_uppercase())
            .filter(|m| !m.is_empty())
            .collect()
    }
}

/// The C-FIND identifier of a query: the level, the default return keys of that level, and the
/// filters as matching keys. The study root has no patient level, so that level uses the
/// patient root.
pub fn find_identifier(query: &QuerySpec) -> Result<(QueryModel, DataSetBuilder), QuerySpecError> {
    let level = query.level()?;
    if let Some(date) = &query.study_date {
        DateRange::parse(date)?;
    }
    let mut identifier = DataSetBuilder::default();
    identifier.text(QUERY_RETRIEVE_LEVEL, level.as_str());
    for key in default_return_keys(level) {
        identifier.text(*key, "");
    }
    let modality_key = if level == Level::Study {
        MODALITIES_IN_STUDY
    } else {
        tag::MODALITY
    };
    let modalities = query.modality_list();
    let keys = [
        (tag::PATIENT_NAME, query.patient_name.clone()),
        (tag::PATIENT_ID, query.patient_id.clone()),
        (tag::STUDY_DATE, query.study_date.clone()),
        (tag::STUDY_DESCRIPTION, query.study_description.clone()),
        (tag::ACCESSION_NUMBER, query.accession_number.clone()),
        (
            modality_key,
            (!modalities.is_empty()).then(|| modalities.join("\\")),
        ),
        (tag::STUDY_INSTANCE_UID, query.study_uid.clone()),
        (tag::SERIES_INSTANCE_UID, query.series_uid.clone()),
    ];
    for (key, value) in keys {
        if let Some(value) = value {
            identifier.text(key, &value);
        }
    }
    let model = if query.patient_root || level == Level::Patient {
        QueryModel::PatientRoot
    } else {
        QueryModel::StudyRoot
    };
    Ok((model, identifier))
}

/// A C-FIND match as a [`Match`].
pub fn match_json(ds: &DataSet) -> Match {
    use serde_json::Value as Json;
    let mut out = Match::new();
    for element in &ds.elements {
        if element.tag == QUERY_RETRIEVE_LEVEL || element.tag == tag::SPECIFIC_CHARACTER_SET {
            continue;
        }
        let Some(keyword) = dictionary::keyword(element.tag) else {
            continue;
        };
        let text = ds.element_text(element);
        let value = match (element.vr, text) {
            (_, None) if element.vr == Vr::US || element.vr == Vr::UL => {
                ds.int(element.tag).map(Json::from).unwrap_or(Json::Null)
            }
            (_, None) => Json::Null,
            (_, Some(t)) if element.tag == MODALITIES_IN_STUDY => {
                Json::from(t.split('\\').filter(|m| !m.is_empty()).collect::<Vec<_>>())
            }
            (Vr::IS, Some(t)) => t
                .trim()
                .parse::<i64>()
                .map(Json::from)
                .unwrap_or(Json::Null),
            (_, Some(t)) if t.is_empty() => Json::Null,
            (_, Some(t)) => Json::from(t),
        };
        out.insert(keyword.to_string(), value);
    }
    out
}

/// A text value of a match.
pub fn match_text(row: &Match, keyword: &str) -> Option<String> {
    row.get(keyword)
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

/// An integer value of a match (a number, or a string holding one).
pub fn match_int(row: &Match, keyword: &str) -> Option<i64> {
    row.get(keyword).and_then(|n| {
        n.as_i64()
            .or_else(|| n.as_str().and_then(|s| s.trim().parse().ok()))
    })
}

/// The return keys Lightbox asks for at each level (the same attributes its listings show).
pub fn default_return_keys(level: Level) -> &'static [Tag] {
    const PATIENT: &[Tag] = &[
        tag::PATIENT_NAME,
        tag::PATIENT_ID,
        tag::PATIENT_BIRTH_DATE,
        tag::PATIENT_SEX,
        PATIENT_STUDIES,
    ];
    const STUDY: &[Tag] = &[
        tag::PATIENT_NAME,
        tag::PATIENT_ID,
        tag::PATIENT_BIRTH_DATE,
        tag::PATIENT_SEX,
        tag::STUDY_INSTANCE_UID,
        tag::STUDY_DATE,
        tag::STUDY_TIME,
        tag::STUDY_DESCRIPTION,
        tag::STUDY_ID,
        tag::ACCESSION_NUMBER,
        tag::REFERRING_PHYSICIAN_NAME,
        MODALITIES_IN_STUDY,
        STUDY_SERIES,
        STUDY_INSTANCES,
    ];
    const SERIES: &[Tag] = &[
        tag::STUDY_INSTANCE_UID,
        tag::SERIES_INSTANCE_UID,
        tag::MODALITY,
        tag::SERIES_NUMBER,
        tag::SERIES_DESCRIPTION,
        tag::BODY_PART_EXAMINED,
        tag::SERIES_DATE,
        tag::SERIES_TIME,
        SERIES_INSTANCES,
    ];
    const IMAGE: &[Tag] = &[
        tag::STUDY_INSTANCE_UID,
        tag::SERIES_INSTANCE_UID,
        tag::SOP_INSTANCE_UID,
        tag::SOP_CLASS_UID,
        tag::INSTANCE_NUMBER,
        tag::ROWS,
        tag::COLUMNS,
        tag::NUMBER_OF_FRAMES,
    ];
    match level {
        Level::Patient => PATIENT,
        Level::Study => STUDY,
        Level::Series => SERIES,
        Level::Image => IMAGE,
    }
}
