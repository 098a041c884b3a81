//! Patient, study, series and instance records.
//!
//! Listing types serialize with DICOM keywords as field names, so the CLI's `--json`, the web API
//! and (later) remote query results share one shape.

use crate::image_sets::Placement;
use lightbox_dicom::{tag, DicomFile};
use serde::{Deserialize, Serialize};

/// Everything the index stores about one instance, read from its header.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub patient_id: String,
    pub patient_name: String,
    pub patient_birth_date: Option<String>,
    pub patient_sex: Option<String>,
    pub study_uid: String,
    pub study_date: Option<String>,
    pub study_time: Option<String>,
    pub study_description: Option<String>,
    pub study_id: Option<String>,
    pub accession_number: Option<String>,
    pub referring_physician: Option<String>,
    pub series_uid: String,
    pub modality: Option<String>,
    pub series_number: Option<i64>,
    pub series_description: Option<String>,
    pub body_part: Option<String>,
    pub series_date: Option<String>,
    pub series_time: Option<String>,
    pub sop_instance_uid: String,
    pub sop_class_uid: Option<String>,
    pub instance_number: Option<i64>,
    pub transfer_syntax: String,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
    pub frames: Option<i64>,
    pub specific_character_set: Option<String>,
    /// Where the file is: inside the store for managed files, the original path for linked ones.
    pub file_path: String,
    pub file_size: u64,
    /// Linked files are indexed in place and never deleted by Lightbox.
    pub linked: bool,
    /// Milliseconds since the Unix epoch.
    pub received_at: i64,
    /// Where it came from: an import path, or later a remote AE title.
    pub source: Option<String>,
    /// Its place among the series' image sets (`None`: it has no pixels).
    #[serde(default)]
    pub placement: Option<Placement>,
}

/// Why a parsed file cannot be indexed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("no {0} (the index needs it to place the instance)")]
    Missing(&'static str),
}

impl InstanceRecord {
    /// Reads the indexed attributes of a parsed file. File placement fields are left empty.
    pub fn from_file(file: &DicomFile) -> Result<InstanceRecord, RecordError> {
        let ds = &file.dataset;
        let sop_instance_uid = ds
            .first_text(tag::SOP_INSTANCE_UID)
            .or_else(|| file.meta.first_text(tag::MEDIA_STORAGE_SOP_INSTANCE_UID))
            .ok_or(RecordError::Missing("SOP Instance UID"))?;
        let study_uid = ds
            .first_text(tag::STUDY_INSTANCE_UID)
            .ok_or(RecordError::Missing("Study Instance UID"))?;
        let series_uid = ds
            .first_text(tag::SERIES_INSTANCE_UID)
            .ok_or(RecordError::Missing("Series Instance UID"))?;
        let int = |t| ds.int(t);
        Ok(InstanceRecord {
            patient_id: ds.text(tag::PATIENT_ID).unwrap_or_default(),
            patient_name: ds.text(tag::PATIENT_NAME).unwrap_or_default(),
            patient_birth_date: ds.text(tag::PATIENT_BIRTH_DATE),
            patient_sex: ds.text(tag::PATIENT_SEX),
            study_uid,
            study_date: ds.text(tag::STUDY_DATE),
            study_time: ds.text(tag::STUDY_TIME),
            study_description: ds.text(tag::STUDY_DESCRIPTION),
            study_id: ds.text(tag::STUDY_ID),
            accession_number: ds.text(tag::ACCESSION_NUMBER),
            referring_physician: ds.text(tag::REFERRING_PHYSICIAN_NAME),
            series_uid,
            modality: ds.first_text(tag::MODALITY),
            series_number: int(tag::SERIES_NUMBER),
            series_description: ds.text(tag::SERIES_DESCRIPTION),
            body_part: ds.text(tag::BODY_PART_EXAMINED),
            series_date: ds.text(tag::SERIES_DATE),
            series_time: ds.text(tag::SERIES_TIME),
            sop_instance_uid,
            sop_class_uid: ds
                .first_text(tag::SOP_CLASS_UID)
                .or_else(|| file.meta.first_text(tag::MEDIA_STORAGE_SOP_CLASS_UID)),
            instance_number: int(tag::INSTANCE_NUMBER),
            transfer_syntax: file.transfer_syntax.clone(),
            rows: int(tag::ROWS),
            columns: int(tag::COLUMNS),
            frames: int(tag::NUMBER_OF_FRAMES).or_else(|| ds.get(tag::PIXEL_DATA).map(|_| 1)),
            specific_character_set: ds.text(tag::SPECIFIC_CHARACTER_SET),
            placement: Placement::of(ds),
            ..InstanceRecord::default()
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudySummary {
    #[serde(rename = "PatientName")]
    pub patient_name: String,
    #[serde(rename = "PatientID")]
    pub patient_id: String,
    #[serde(rename = "PatientBirthDate")]
    pub patient_birth_date: Option<String>,
    #[serde(rename = "PatientSex")]
    pub patient_sex: Option<String>,
    #[serde(rename = "StudyInstanceUID")]
    pub study_uid: String,
    #[serde(rename = "StudyDate")]
    pub study_date: Option<String>,
    #[serde(rename = "StudyTime")]
    pub study_time: Option<String>,
    #[serde(rename = "StudyDescription")]
    pub study_description: Option<String>,
    #[serde(rename = "StudyID")]
    pub study_id: Option<String>,
    #[serde(rename = "AccessionNumber")]
    pub accession_number: Option<String>,
    #[serde(rename = "ReferringPhysicianName")]
    pub referring_physician: Option<String>,
    #[serde(rename = "ModalitiesInStudy")]
    pub modalities: Vec<String>,
    #[serde(rename = "NumberOfStudyRelatedSeries")]
    pub series_count: i64,
    /// Instances here, previews apart.
    #[serde(rename = "NumberOfStudyRelatedInstances")]
    pub instance_count: i64,
    /// Preview instances here (fetched for a thumbnail; they do not make the study local).
    #[serde(rename = "PreviewInstances", default)]
    pub preview_count: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesSummary {
    #[serde(rename = "StudyInstanceUID")]
    pub study_uid: String,
    #[serde(rename = "SeriesInstanceUID")]
    pub series_uid: String,
    #[serde(rename = "Modality")]
    pub modality: Option<String>,
    #[serde(rename = "SeriesNumber")]
    pub series_number: Option<i64>,
    #[serde(rename = "SeriesDescription")]
    pub series_description: Option<String>,
    #[serde(rename = "BodyPartExamined")]
    pub body_part: Option<String>,
    #[serde(rename = "SeriesDate")]
    pub series_date: Option<String>,
    #[serde(rename = "SeriesTime")]
    pub series_time: Option<String>,
    /// Instances here, previews apart.
    #[serde(rename = "NumberOfSeriesRelatedInstances")]
    pub instance_count: i64,
    /// Preview instances here (fetched for a thumbnail).
    #[serde(rename = "PreviewInstances", default)]
    pub preview_count: i64,
    /// Bytes of all the series' files.
    #[serde(rename = "SeriesSize")]
    pub size: i64,
    /// Of the first instance; absent for series without images.
    #[serde(rename = "Rows", default)]
    pub rows: Option<i64>,
    #[serde(rename = "Columns", default)]
    pub columns: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceSummary {
    #[serde(rename = "StudyInstanceUID")]
    pub study_uid: String,
    #[serde(rename = "SeriesInstanceUID")]
    pub series_uid: String,
    #[serde(rename = "SOPInstanceUID")]
    pub sop_instance_uid: String,
    #[serde(rename = "SOPClassUID")]
    pub sop_class_uid: Option<String>,
    #[serde(rename = "InstanceNumber")]
    pub instance_number: Option<i64>,
    #[serde(rename = "TransferSyntaxUID")]
    pub transfer_syntax: String,
    #[serde(rename = "Rows")]
    pub rows: Option<i64>,
    #[serde(rename = "Columns")]
    pub columns: Option<i64>,
    #[serde(rename = "NumberOfFrames")]
    pub frames: Option<i64>,
    #[serde(rename = "FilePath")]
    pub file_path: String,
    #[serde(rename = "FileSize")]
    pub file_size: i64,
    #[serde(rename = "Linked")]
    pub linked: bool,
    #[serde(rename = "ReceivedAt")]
    pub received_at: i64,
    /// Fetched only for a thumbnail: not yet a local copy of its study.
    #[serde(rename = "Preview")]
    pub preview: bool,
}
