//! Media: ISO 9660-safe names for a file-set (`DICOM/PT000001/ST000001/SE000001/IM000001`)
//! and the DICOMDIR that lists it (the General Purpose CD-R profile, STD-GEN-CD: patient, study,
//! series and instance records, keys taken from each file as it was stored).

use lightbox_dicom::dicomdir::{self, FileReference, Key, Record};
use lightbox_dicom::{tag, DataSet, Tag, Vr};
use std::collections::HashMap;

/// The folder every file of the set is under.
pub const ROOT: &str = "DICOM";

/// The File ID components of the `n`-th item of a level (`PT`, `ST`, `SE`, `IM`): two letters
/// and six digits, as ISO 9660 level 1 allows.
pub fn component(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:06}")
}

/// How a record needs a key (PS3.3 F.5): a value (type 1: invented when the file has none), an
/// element even if empty (type 2), or only what the file has (type 3).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Value,
    Element,
    IfPresent,
}
use Need::{Element, IfPresent, Value};

const CONTENT_DATE: Tag = Tag(0x0008, 0x0023);
const CONTENT_TIME: Tag = Tag(0x0008, 0x0033);
const CONCEPT_NAME_CODE_SEQUENCE: Tag = Tag(0x0040, 0xA043);

/// The keys of each record type (STD-GEN-CD), after the Specific Character Set.
fn keys_of(record_type: &str) -> &'static [(Tag, Vr, Need)] {
    match record_type {
        "PATIENT" => &[
            (tag::PATIENT_NAME, Vr::PN, Element),
            (tag::PATIENT_ID, Vr::LO, Value),
        ],
        "STUDY" => &[
            (tag::STUDY_DATE, Vr::DA, Value),
            (tag::STUDY_TIME, Vr::TM, Value),
            (tag::ACCESSION_NUMBER, Vr::SH, Element),
            (tag::STUDY_DESCRIPTION, Vr::LO, Element),
            (tag::STUDY_INSTANCE_UID, Vr::UI, Value),
            (tag::STUDY_ID, Vr::SH, Value),
        ],
        "SERIES" => &[
            (tag::MODALITY, Vr::CS, Value),
            (tag::SERIES_INSTANCE_UID, Vr::UI, Value),
            (tag::SERIES_NUMBER, Vr::IS, Value),
        ],
        "SR DOCUMENT" => &[
            (CONTENT_DATE, Vr::DA, Value),
            (CONTENT_TIME, Vr::TM, Value),
            (tag::INSTANCE_NUMBER, Vr::IS, Value),
            (VERIFICATION_DATE_TIME, Vr::DT, IfPresent),
            (CONCEPT_NAME_CODE_SEQUENCE, Vr::SQ, Value),
            (Tag(0x0040, 0xA491), Vr::CS, Value),
            (Tag(0x0040, 0xA493), Vr::CS, Value),
        ],
        "KEY OBJECT DOC" | "WAVEFORM" | "RAW DATA" => &[
            (CONTENT_DATE, Vr::DA, Value),
            (CONTENT_TIME, Vr::TM, Value),
            (tag::INSTANCE_NUMBER, Vr::IS, Value),
            (CONCEPT_NAME_CODE_SEQUENCE, Vr::SQ, IfPresent),
        ],
        "PRESENTATION" | "REGISTRATION" | "FIDUCIAL" => &[
            (CONTENT_DATE, Vr::DA, IfPresent),
            (CONTENT_TIME, Vr::TM, IfPresent),
            (tag::INSTANCE_NUMBER, Vr::IS, Value),
            (Tag(0x0070, 0x0080), Vr::CS, Value),
            (Tag(0x0070, 0x0081), Vr::LO, Element),
            (Tag(0x0070, 0x0082), Vr::DA, IfPresent),
            (Tag(0x0070, 0x0083), Vr::TM, IfPresent),
            (Tag(0x0070, 0x0084), Vr::PN, Element),
        ],
        "RT DOSE" => &[
            (tag::INSTANCE_NUMBER, Vr::IS, Value),
            (Tag(0x3004, 0x000A), Vr::CS, Value),
        ],
        "RT STRUCTURE SET" => &[
            (tag::INSTANCE_NUMBER, Vr::IS, Value),
            (Tag(0x3006, 0x0002), Vr::SH, Value),
            (Tag(0x3006, 0x0008), Vr::DA, Element),
            (Tag(0x3006, 0x0009), Vr::TM, Element),
        ],
        "RT PLAN" => &[
            (tag::INSTANCE_NUMBER, Vr::IS, Value),
            (Tag(0x300A, 0x0002), Vr::SH, Value),
            (Tag(0x300A, 0x0006), Vr::DA, Element),
            (Tag(0x300A, 0x0007), Vr::TM, Element),
        ],
        "RT TREAT RECORD" => &[
            (tag::INSTANCE_NUMBER, Vr::IS, Value),
            (Tag(0x3008, 0x0250), Vr::DA, Element),
            (Tag(0x3008, 0x0251), Vr::TM, Element),
        ],
        "ENCAP DOC" => &[
            (CONTENT_DATE, Vr::DA, Element),
            (CONTENT_TIME, Vr::TM, Element),
            (tag::INSTANCE_NUMBER, Vr::IS, Value),
            (CONCEPT_NAME_CODE_SEQUENCE, Vr::SQ, Element),
            (Tag(0x0042, 0x0010), Vr::ST, Element),
            (Tag(0x0042, 0x0012), Vr::LO, Value),
        ],
        _ => &[(tag::INSTANCE_NUMBER, Vr::IS, Value)],
    }
}

/// Where a record sits: its number among its siblings (1 for the first), for invented values.
#[derive(Clone, Copy)]
struct Place {
    number: usize,
}

/// A date or time written the pre-1993 way (`1997.04.24`, `14:04:38`) as today's form.
fn current_form(vr: Vr, bytes: &[u8]) -> Vec<u8> {
    match vr {
        Vr::DA if bytes.len() >= 10 && bytes[4] == b'.' && bytes[7] == b'.' => {
            bytes.iter().copied().filter(|b| *b != b'.').collect()
        }
        Vr::TM => bytes.iter().copied().filter(|b| *b != b':').collect(),
        _ => bytes.to_vec(),
    }
}

/// A value for a type 1 key the file lacks, as DCMTK's `dcmmkdir --invent` would make one:
/// numbers from the record's place, dates and times from the file's other ones.
fn invented(ds: &DataSet, t: Tag, place: Place) -> Option<Vec<u8>> {
    let first_of = |tags: &[Tag]| {
        tags.iter()
            .find_map(|t| {
                ds.bytes(*t)
                    .filter(|b| !b.iter().all(|c| *c == b' ' || *c == 0))
            })
            .map(|b| b.to_vec())
    };
    let value = match t {
        tag::STUDY_DATE | CONTENT_DATE => first_of(&[
            tag::SERIES_DATE,
            Tag(0x0008, 0x0022),
            CONTENT_DATE,
            tag::STUDY_DATE,
        ])
        .map(|b| current_form(Vr::DA, &b))
        .unwrap_or_else(|| b"19000101".to_vec()),
        tag::STUDY_TIME | CONTENT_TIME => first_of(&[
            tag::SERIES_TIME,
            Tag(0x0008, 0x0032),
            CONTENT_TIME,
            tag::STUDY_TIME,
        ])
        .map(|b| current_form(Vr::TM, &b))
        .unwrap_or_else(|| b"000000".to_vec()),
        tag::PATIENT_ID => format!("LB{:06}", place.number).into_bytes(),
        tag::STUDY_ID | tag::SERIES_NUMBER | tag::INSTANCE_NUMBER => {
            place.number.to_string().into_bytes()
        }
        tag::MODALITY => b"OT".to_vec(),
        // Labels, flags and the like: "UNNAMED" is what a user would see in a viewer.
        Tag(0x3006, 0x0002) | Tag(0x300A, 0x0002) | Tag(0x0070, 0x0080) => b"UNNAMED".to_vec(),
        _ => return None,
    };
    Some(value)
}

const VERIFICATION_DATE_TIME: Tag = Tag(0x0040, 0xA030);
const VERIFYING_OBSERVER_SEQUENCE: Tag = Tag(0x0040, 0xA073);
const VERIFICATION_FLAG: Tag = Tag(0x0040, 0xA493);

/// A verified SR's record names when it was verified (type 1C): the last verifying observer's
/// Verification DateTime, which the document keeps in its Verifying Observer Sequence.
fn verification_date_time(ds: &DataSet) -> Option<Key> {
    if ds.text(VERIFICATION_FLAG).as_deref() != Some("VERIFIED") {
        return None;
    }
    let value = ds
        .bytes(VERIFICATION_DATE_TIME)
        .map(<[u8]>::to_vec)
        .or_else(|| {
            ds.items(VERIFYING_OBSERVER_SEQUENCE)
                .iter()
                .rev()
                .find_map(|item| item.bytes(VERIFICATION_DATE_TIME).map(<[u8]>::to_vec))
        })?;
    Some(Key {
        tag: VERIFICATION_DATE_TIME,
        vr: Vr::DT,
        value,
    })
}

/// A record's keys from the data set of its (first) instance.
fn keys(ds: &DataSet, record_type: &str, place: Place) -> Vec<Key> {
    let mut out = Vec::new();
    if let (Some(charset), Some(bytes)) = (
        ds.get(tag::SPECIFIC_CHARACTER_SET),
        ds.bytes(tag::SPECIFIC_CHARACTER_SET),
    ) {
        out.push(Key {
            tag: tag::SPECIFIC_CHARACTER_SET,
            vr: charset.vr,
            value: bytes.to_vec(),
        });
    }
    for &(t, vr, need) in keys_of(record_type) {
        if t == VERIFICATION_DATE_TIME {
            if let Some(key) = verification_date_time(ds) {
                out.push(key);
            }
            continue;
        }
        let present = ds.get(t).map(|element| {
            let value = match &element.value {
                lightbox_dicom::Value::Sequence(items) => dicomdir::encode_items(items),
                _ => current_form(vr, ds.bytes(t).unwrap_or_default()),
            };
            let vr = if element.vr == Vr::UN { vr } else { element.vr };
            (vr, value)
        });
        let empty = |(_, value): &(Vr, Vec<u8>)| value.iter().all(|b| *b == b' ' || *b == 0);
        let key = match (present, need) {
            (Some(p), Value) if empty(&p) => invented(ds, t, place).map(|v| (vr, v)),
            (Some(p), _) => Some(p),
            (None, Value) => invented(ds, t, place).map(|v| (vr, v)),
            (None, Element) => Some((vr, Vec::new())),
            (None, IfPresent) => None,
        };
        if let Some((vr, value)) = key {
            out.push(Key { tag: t, vr, value });
        }
    }
    out
}

/// The records of a file-set, built instance by instance (in the order of their File IDs).
#[derive(Default)]
pub struct Directory {
    patients: Vec<Record>,
    /// Patient component → its place; study and series components → their paths of places.
    patient_at: HashMap<String, usize>,
    study_at: HashMap<(String, String), usize>,
    series_at: HashMap<(String, String, String), usize>,
}

impl Directory {
    /// Adds an instance stored at `components` (`DICOM`, patient, study, series, file), with its
    /// data set and its transfer syntax.
    pub fn add(&mut self, components: &[String], ds: &DataSet, transfer_syntax: &str) {
        let [_, patient, study, series, _] = components else {
            return;
        };
        let p = *self.patient_at.entry(patient.clone()).or_insert_with(|| {
            let place = Place {
                number: self.patients.len() + 1,
            };
            self.patients
                .push(Record::new("PATIENT", keys(ds, "PATIENT", place)));
            self.patients.len() - 1
        });
        let studies = &mut self.patients[p].children;
        let s = *self
            .study_at
            .entry((patient.clone(), study.clone()))
            .or_insert_with(|| {
                let place = Place {
                    number: studies.len() + 1,
                };
                studies.push(Record::new("STUDY", keys(ds, "STUDY", place)));
                studies.len() - 1
            });
        let all_series = &mut studies[s].children;
        let se = *self
            .series_at
            .entry((patient.clone(), study.clone(), series.clone()))
            .or_insert_with(|| {
                let place = Place {
                    number: all_series.len() + 1,
                };
                all_series.push(Record::new("SERIES", keys(ds, "SERIES", place)));
                all_series.len() - 1
            });
        let sop_class = ds.text(tag::SOP_CLASS_UID).unwrap_or_default();
        let record_type = dicomdir::record_type_of(&sop_class);
        let place = Place {
            number: all_series[se].children.len() + 1,
        };
        let instance_keys = keys(ds, record_type, place);
        all_series[se].children.push(Record {
            file: Some(FileReference {
                components: components.to_vec(),
                sop_instance_uid: ds.text(tag::SOP_INSTANCE_UID).unwrap_or_default(),
                sop_class_uid: sop_class,
                transfer_syntax_uid: transfer_syntax.to_string(),
            }),
            ..Record::new(record_type, instance_keys)
        });
    }

    pub fn instances(&self) -> usize {
        self.patients
            .iter()
            .flat_map(|p| &p.children)
            .flat_map(|s| &s.children)
            .map(|se| se.children.len())
            .sum()
    }

    /// The DICOMDIR file.
    pub fn encode(&self, file_set_id: &str) -> Result<Vec<u8>, dicomdir::DicomDirError> {
        dicomdir::encode(
            file_set_id,
            &lightbox_dicom::meta::random_uid(),
            &self.patients,
        )
    }
}
