//! Export: instances of the store, as they were stored, into a folder or a zip a colleague's
//! viewer opens: readable names (`patient/study/series/00001.dcm`), or a file-set for media
//! with ISO 9660-safe names and a DICOMDIR ([`media`]). A zip is written front to back
//! ([`zipstream`]), so a download starts at once and a large export needs no scratch copy.
//!
//! The CLI's `lightbox export` and the server's zip download both go through [`plan`].

pub mod media;
pub mod zipstream;

use crate::index::{IndexError, StudyQuery, TextPattern};
use crate::model::{InstanceSummary, StudySummary};
use crate::store::Store;
use lightbox_dicom::dicomdir::DicomDirError;
use lightbox_dicom::{read_file, ParseError, ReadMode};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zipstream::ZipStream;

/// The File-set ID of the media Lightbox writes.
pub const FILE_SET_ID: &str = "LIGHTBOX";

/// What to export: any mix of patients (by Patient ID), studies and series.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub patients: Vec<String>,
    pub studies: Vec<String>,
    pub series: Vec<String>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.patients.is_empty() && self.studies.is_empty() && self.series.is_empty()
    }
}

/// How files are named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// `PATIENT/STUDY/SERIES/00001.dcm`, from the patient's, study's and series' own words.
    Readable,
    /// `DICOM/PT000001/ST000001/SE000001/IM000001`, with a DICOMDIR beside `DICOM`.
    Media,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("nothing to export: name a patient, a study or a series")]
    NothingSelected,
    #[error("no {level} {uid} in the store")]
    NotFound { level: &'static str, uid: String },
    #[error("a Patient ID, without wildcards: {0:?}")]
    PatientPattern(String),
    #[error("reading the index: {0}")]
    Index(#[from] IndexError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: ParseError,
    },
    #[error("{0} is not empty: export into a new or empty folder")]
    NotEmpty(PathBuf),
    #[error("the DICOMDIR: {0}")]
    Directory(#[from] DicomDirError),
}

/// One file to export and where it goes (path components under the folder or archive root).
#[derive(Clone, Debug)]
pub struct Entry {
    pub components: Vec<String>,
    pub instance: InstanceSummary,
}

impl Entry {
    pub fn name(&self) -> String {
        self.components.join("/")
    }
}

/// What an export will write: a name for the whole (a zip's file name), and its files in order.
#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub naming: Naming,
    pub entries: Vec<Entry>,
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    pub files: u64,
    pub bytes: u64,
    /// Instances the DICOMDIR lists (0 without one).
    pub dicomdir_records: u64,
}

/// A file or folder name made of safe characters only.
pub fn safe_name(text: &str) -> String {
    let cleaned: String = text
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let cleaned = cleaned.trim_matches(['_', '.']).to_string();
    if cleaned.is_empty() {
        "unnamed".into()
    } else {
        cleaned
    }
}

/// A study, and the only series of it to export (`None`: all of them).
type StudyPart = (StudySummary, Option<BTreeSet<String>>);

/// The studies a selection covers, each with the series it is limited to (`None`: all),
/// patients first, then studies, then series; each study once.
fn studies_of(store: &Store, selection: &Selection) -> Result<Vec<StudyPart>, ExportError> {
    let index = store.index();
    let mut out: Vec<StudyPart> = Vec::new();
    let mut add = |study: StudySummary, series: Option<String>| {
        match out.iter_mut().find(|(s, _)| s.study_uid == study.study_uid) {
            Some((_, only)) => match (only.as_mut(), series) {
                (Some(set), Some(series)) => {
                    set.insert(series);
                }
                // The whole study was asked for, or now is.
                (_, None) => *only = None,
                (None, Some(_)) => {}
            },
            None => out.push((study, series.map(|s| BTreeSet::from([s])))),
        }
    };
    for patient_id in &selection.patients {
        let pattern = TextPattern::new(patient_id)
            .filter(|p| !p.has_wildcards())
            .ok_or_else(|| ExportError::PatientPattern(patient_id.clone()))?;
        let page = index.search_studies(&StudyQuery {
            patient_id: Some(pattern),
            ..StudyQuery::default()
        })?;
        if page.studies.is_empty() {
            return Err(ExportError::NotFound {
                level: "patient",
                uid: patient_id.clone(),
            });
        }
        for study in page.studies {
            add(study, None);
        }
    }
    for study_uid in &selection.studies {
        let study = index
            .study(study_uid)?
            .ok_or_else(|| ExportError::NotFound {
                level: "study",
                uid: study_uid.clone(),
            })?;
        add(study, None);
    }
    for series_uid in &selection.series {
        let not_found = || ExportError::NotFound {
            level: "series",
            uid: series_uid.clone(),
        };
        let series = index.series(series_uid)?.ok_or_else(not_found)?;
        let study = index.study(&series.study_uid)?.ok_or_else(not_found)?;
        add(study, Some(series_uid.clone()));
    }
    Ok(out)
}

/// Every instance of the selection, named as `naming` says.
pub fn plan(store: &Store, selection: &Selection, naming: Naming) -> Result<Plan, ExportError> {
    if selection.is_empty() {
        return Err(ExportError::NothingSelected);
    }
    let index = store.index();
    let studies = studies_of(store, selection)?;
    let mut entries = Vec::new();
    let mut name = String::new();
    // Media names number patients (by ID and name), and studies and series within them.
    let mut patients: Vec<(String, String)> = Vec::new();
    let mut studies_of_patient: Vec<usize> = Vec::new();
    for (study, only_series) in &studies {
        let patient = safe_name(&format!("{}_{}", study.patient_id, study.patient_name));
        let study_dir = safe_name(&format!(
            "{}_{}",
            study.study_date.as_deref().unwrap_or("nodate"),
            study.study_description.as_deref().unwrap_or("study")
        ));
        if name.is_empty() {
            name = match (only_series, studies.len()) {
                (_, n) if n > 1 => format!("{patient}_and_more"),
                (Some(_), _) => format!("{patient}_{study_dir}_series"),
                (None, _) => format!("{patient}_{study_dir}"),
            };
        }
        let key = (study.patient_id.clone(), study.patient_name.clone());
        let p = match patients.iter().position(|k| *k == key) {
            Some(p) => p,
            None => {
                patients.push(key);
                studies_of_patient.push(0);
                patients.len() - 1
            }
        };
        studies_of_patient[p] += 1;
        let s = studies_of_patient[p];
        let mut series_number = 0;
        for series in index.series_of_study(&study.study_uid)? {
            if only_series
                .as_ref()
                .is_some_and(|only| !only.contains(&series.series_uid))
            {
                continue;
            }
            series_number += 1;
            let series_dir = safe_name(&format!(
                "{}_{}",
                series
                    .series_number
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                series
                    .series_description
                    .as_deref()
                    .unwrap_or(series.modality.as_deref().unwrap_or("series"))
            ));
            for (i, instance) in index
                .instances_of_series(&series.series_uid)?
                .into_iter()
                .enumerate()
            {
                let components = match naming {
                    Naming::Readable => vec![
                        patient.clone(),
                        study_dir.clone(),
                        series_dir.clone(),
                        format!("{:05}.dcm", i + 1),
                    ],
                    Naming::Media => vec![
                        media::ROOT.to_string(),
                        media::component("PT", p + 1),
                        media::component("ST", s),
                        media::component("SE", series_number),
                        media::component("IM", i + 1),
                    ],
                };
                entries.push(Entry {
                    components,
                    instance,
                });
            }
        }
    }
    Ok(Plan {
        name,
        naming,
        entries,
    })
}

/// Reads an entry's header into the directory being built; returns what must precede the
/// stored bytes for the file to be a PS3.10 file (media hold nothing else): nothing, the
/// preamble and prefix a file stored without them lacks, or a whole file meta group.
fn list_in(
    directory: &mut media::Directory,
    entry: &Entry,
    path: &Path,
) -> Result<Vec<u8>, ExportError> {
    let file = read_file(path, ReadMode::Header).map_err(|source| ExportError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    directory.add(&entry.components, &file.dataset, &file.transfer_syntax);
    let mut lead = [0u8; 132];
    let read = {
        let mut f = std::fs::File::open(path).map_err(io_error(path))?;
        let mut n = 0;
        while n < lead.len() {
            match f.read(&mut lead[n..]).map_err(io_error(path))? {
                0 => break,
                k => n += k,
            }
        }
        n
    };
    if read == lead.len() && &lead[128..] == b"DICM" {
        return Ok(Vec::new());
    }
    if read >= 2 && lead[..2] == [0x02, 0x00] {
        let mut prefix = vec![0u8; 128];
        prefix.extend_from_slice(b"DICM");
        return Ok(prefix);
    }
    let text = |t| file.dataset.text(t).unwrap_or_default();
    Ok(lightbox_dicom::meta::part10_header(
        &text(lightbox_dicom::tag::SOP_CLASS_UID),
        &text(lightbox_dicom::tag::SOP_INSTANCE_UID),
        &file.transfer_syntax,
        None,
    ))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A local file of an entry's instance (fetched first from an object store).
fn stored_file(store: &Store, entry: &Entry) -> Result<PathBuf, ExportError> {
    store
        .local_path(&entry.instance.file_path)
        .map_err(io_error(Path::new(&entry.instance.file_path)))
}

/// Writes the plan into `dir` (created if needed; it must be empty), with a DICOMDIR for media.
pub fn to_folder(store: &Store, plan: &Plan, dir: &Path) -> Result<ExportReport, ExportError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    if std::fs::read_dir(dir)
        .map_err(io_error(dir))?
        .next()
        .is_some()
    {
        return Err(ExportError::NotEmpty(dir.to_path_buf()));
    }
    let mut report = ExportReport::default();
    let mut directory = media::Directory::default();
    for entry in &plan.entries {
        let source = stored_file(store, entry)?;
        let mut target = dir.to_path_buf();
        target.extend(&entry.components);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let prefix = match plan.naming {
            Naming::Media => list_in(&mut directory, entry, &source)?,
            Naming::Readable => Vec::new(),
        };
        let mut input = std::fs::File::open(&source).map_err(io_error(&source))?;
        let mut output = std::fs::File::create(&target).map_err(io_error(&target))?;
        output.write_all(&prefix).map_err(io_error(&target))?;
        let copied = std::io::copy(&mut input, &mut output).map_err(io_error(&target))?;
        report.bytes += prefix.len() as u64 + copied;
        report.files += 1;
    }
    if plan.naming == Naming::Media {
        let bytes = directory.encode(FILE_SET_ID)?;
        let path = dir.join("DICOMDIR");
        std::fs::write(&path, &bytes).map_err(io_error(&path))?;
        report.dicomdir_records = directory.instances() as u64;
    }
    Ok(report)
}

/// Writes the plan as a zip into `out`, streamed; for media, the DICOMDIR comes last.
pub fn to_zip<W: Write>(store: &Store, plan: &Plan, out: W) -> Result<W, ExportError> {
    let mut zip = ZipStream::new(out);
    let mut directory = media::Directory::default();
    let writing = |e| ExportError::Io {
        path: PathBuf::from(&plan.name),
        source: e,
    };
    for entry in &plan.entries {
        let source = stored_file(store, entry)?;
        let prefix = match plan.naming {
            Naming::Media => list_in(&mut directory, entry, &source)?,
            Naming::Readable => Vec::new(),
        };
        let file = std::fs::File::open(&source).map_err(io_error(&source))?;
        let size = prefix.len() as u64 + entry.instance.file_size.max(0) as u64;
        zip.add(&entry.name(), size, &mut prefix.as_slice().chain(file))
            .map_err(writing)?;
    }
    if plan.naming == Naming::Media {
        let bytes = directory.encode(FILE_SET_ID)?;
        zip.add("DICOMDIR", bytes.len() as u64, &mut bytes.as_slice())
            .map_err(writing)?;
    }
    zip.finish().map_err(writing)
}
