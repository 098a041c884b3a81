//! Writing a media directory (DICOMDIR, PS3.10 and PS3.3 Annex F): the patient → study →
//! series → instance records of a file-set, each with its keys and, for instances, the file it
//! references. Records are written depth first in one Directory Record Sequence of defined
//! lengths, so that every offset is known before the first byte is written.

use super::dataset::{DataSet, Value};
use super::meta::part10_header;
use super::tag::{self, Tag};
use super::vr::Vr;

/// Media Storage Directory Storage: the SOP class of a DICOMDIR.
pub const MEDIA_STORAGE_DIRECTORY: &str = "1.2.840.10008.1.3.10";
/// The transfer syntax a DICOMDIR is written in (PS3.10 8.6: Explicit VR Little Endian).
const EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1";

const FILE_SET_ID: Tag = Tag(0x0004, 0x1130);
const OFFSET_OF_FIRST_ROOT_RECORD: Tag = Tag(0x0004, 0x1200);
const OFFSET_OF_LAST_ROOT_RECORD: Tag = Tag(0x0004, 0x1202);
const FILE_SET_CONSISTENCY_FLAG: Tag = Tag(0x0004, 0x1212);
const OFFSET_OF_NEXT_RECORD: Tag = Tag(0x0004, 0x1400);
const RECORD_IN_USE_FLAG: Tag = Tag(0x0004, 0x1410);
const OFFSET_OF_LOWER_LEVEL: Tag = Tag(0x0004, 0x1420);
const REFERENCED_SOP_CLASS_UID_IN_FILE: Tag = Tag(0x0004, 0x1510);
const REFERENCED_SOP_INSTANCE_UID_IN_FILE: Tag = Tag(0x0004, 0x1511);
const REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE: Tag = Tag(0x0004, 0x1512);

/// One key of a record: its tag, VR and value bytes (as the source file had them, or text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub tag: Tag,
    pub vr: Vr,
    pub value: Vec<u8>,
}

impl Key {
    pub fn text(tag: Tag, vr: Vr, text: &str) -> Key {
        Key {
            tag,
            vr,
            value: text.as_bytes().to_vec(),
        }
    }
}

/// The file an instance record references: its path components on the media, and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReference {
    /// Components of the File ID (at most 8, each of up to 8 of `A`–`Z`, `0`–`9` and `_`).
    pub components: Vec<String>,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub transfer_syntax_uid: String,
}

/// A directory record and the records under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// `PATIENT`, `STUDY`, `SERIES`, `IMAGE`, `SR DOCUMENT`…
    pub record_type: String,
    pub keys: Vec<Key>,
    pub file: Option<FileReference>,
    pub children: Vec<Record>,
}

impl Record {
    pub fn new(record_type: &str, keys: Vec<Key>) -> Record {
        Record {
            record_type: record_type.to_string(),
            keys,
            file: None,
            children: Vec::new(),
        }
    }
}

/// Why a File ID component cannot be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DicomDirError {
    #[error("file ID component {0:?}: up to 8 of A-Z, 0-9 and _")]
    FileIdComponent(String),
    #[error("file ID {0:?}: at most 8 components")]
    FileIdDepth(Vec<String>),
    #[error("the directory would exceed 4 GiB, which its offsets cannot address")]
    TooLarge,
}

/// Whether `component` is a valid File ID component (PS3.10 8.5: ISO 9660 level 1 names).
pub fn valid_component(component: &str) -> bool {
    (1..=8).contains(&component.len())
        && component
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The record type of an instance of this SOP class (PS3.3 F.4, Table F.4-1).
pub fn record_type_of(sop_class_uid: &str) -> &'static str {
    const STORAGE: &str = "1.2.840.10008.5.1.4.1.1.";
    let Some(class) = sop_class_uid.strip_prefix(STORAGE) else {
        return "IMAGE";
    };
    match class {
        "88.59" => "KEY OBJECT DOC",
        c if c.starts_with("88.") => "SR DOCUMENT",
        c if c.starts_with("11.") => "PRESENTATION",
        c if c.starts_with("9.") => "WAVEFORM",
        "481.2" => "RT DOSE",
        "481.3" => "RT STRUCTURE SET",
        "481.4" | "481.6" | "481.7" => "RT TREAT RECORD",
        "481.5" | "481.8" | "481.9" => "RT PLAN",
        "104.1" | "104.2" | "104.3" | "104.4" | "104.5" => "ENCAP DOC",
        "66" => "RAW DATA",
        "66.1" | "66.3" => "REGISTRATION",
        "66.2" => "FIDUCIAL",
        "66.5" => "SURFACE",
        "67" => "VALUE MAP",
        "4.2" => "SPECTROSCOPY",
        _ => "IMAGE",
    }
}

/// One element, Explicit VR Little Endian, padded to even length.
fn element(out: &mut Vec<u8>, tag: Tag, vr: Vr, value: &[u8]) {
    let pad = usize::from(value.len() % 2 == 1);
    let length = value.len() + pad;
    out.extend_from_slice(&tag.0.to_le_bytes());
    out.extend_from_slice(&tag.1.to_le_bytes());
    out.extend_from_slice(vr.as_str().as_bytes());
    if vr.has_long_length() {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(length as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(length as u16).to_le_bytes());
    }
    out.extend_from_slice(value);
    if pad == 1 {
        out.push(if vr == Vr::UI { 0 } else { b' ' });
    }
}

/// The records in the order they are written (depth first), each with the indexes of its next
/// sibling and first child.
struct Flat<'a> {
    record: &'a Record,
    next: Option<usize>,
    first_child: Option<usize>,
}

fn flatten<'a>(records: &'a [Record], out: &mut Vec<Flat<'a>>) -> Option<usize> {
    let mut first = None;
    let mut previous: Option<usize> = None;
    for record in records {
        let at = out.len();
        out.push(Flat {
            record,
            next: None,
            first_child: None,
        });
        if let Some(p) = previous {
            out[p].next = Some(at);
        }
        first.get_or_insert(at);
        previous = Some(at);
        let child = flatten(&record.children, out);
        out[at].first_child = child;
    }
    first
}

/// Items of a sequence as a key's value (a Concept Name Code Sequence copied from its file):
/// Explicit VR Little Endian, defined lengths. Values left in the source (bulk data) are left
/// out; a key's items are small coded entries.
pub fn encode_items(items: &[DataSet]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        let mut body = Vec::new();
        for e in &item.elements {
            match &e.value {
                Value::Bytes(bytes) => element(&mut body, e.tag, e.vr, bytes),
                Value::Sequence(nested) => element(&mut body, e.tag, Vr::SQ, &encode_items(nested)),
                Value::Deferred(_) | Value::Encapsulated { .. } => {}
            }
        }
        out.extend_from_slice(&tag::ITEM.0.to_le_bytes());
        out.extend_from_slice(&tag::ITEM.1.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// A record's item body, with the offsets given.
fn record_body(record: &Record, next: u32, lower: u32) -> Result<Vec<u8>, DicomDirError> {
    let mut keys: Vec<(Tag, Vr, Vec<u8>)> = vec![
        (OFFSET_OF_NEXT_RECORD, Vr::UL, next.to_le_bytes().to_vec()),
        (RECORD_IN_USE_FLAG, Vr::US, 0xFFFFu16.to_le_bytes().to_vec()),
        (OFFSET_OF_LOWER_LEVEL, Vr::UL, lower.to_le_bytes().to_vec()),
        (
            tag::DIRECTORY_RECORD_TYPE,
            Vr::CS,
            record.record_type.as_bytes().to_vec(),
        ),
    ];
    if let Some(file) = &record.file {
        if file.components.len() > 8 {
            return Err(DicomDirError::FileIdDepth(file.components.clone()));
        }
        if let Some(bad) = file.components.iter().find(|c| !valid_component(c)) {
            return Err(DicomDirError::FileIdComponent(bad.clone()));
        }
        keys.push((
            tag::REFERENCED_FILE_ID,
            Vr::CS,
            file.components.join("\\").into_bytes(),
        ));
        keys.push((
            REFERENCED_SOP_CLASS_UID_IN_FILE,
            Vr::UI,
            file.sop_class_uid.as_bytes().to_vec(),
        ));
        keys.push((
            REFERENCED_SOP_INSTANCE_UID_IN_FILE,
            Vr::UI,
            file.sop_instance_uid.as_bytes().to_vec(),
        ));
        keys.push((
            REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE,
            Vr::UI,
            file.transfer_syntax_uid.as_bytes().to_vec(),
        ));
    }
    for key in &record.keys {
        // The record's own elements come from the writer, never from a source's keys.
        if key.tag.0 != 0x0004 && !keys.iter().any(|(t, ..)| *t == key.tag) {
            keys.push((key.tag, key.vr, key.value.clone()));
        }
    }
    keys.sort_by_key(|(t, ..)| *t);
    let mut body = Vec::new();
    for (tag, vr, value) in keys {
        element(&mut body, tag, vr, &value);
    }
    Ok(body)
}

/// The whole DICOMDIR file (preamble, file meta, directory) for `roots` (the patient records).
pub fn encode(
    file_set_id: &str,
    instance_uid: &str,
    roots: &[Record],
) -> Result<Vec<u8>, DicomDirError> {
    let mut flat = Vec::new();
    let first_root = flatten(roots, &mut flat);
    // Every record's size does not depend on the offsets (they are fixed-size UL values).
    let sizes: Vec<usize> = flat
        .iter()
        .map(|f| record_body(f.record, 0, 0).map(|b| b.len() + 8))
        .collect::<Result<_, _>>()?;
    let header = part10_header(
        MEDIA_STORAGE_DIRECTORY,
        instance_uid,
        EXPLICIT_VR_LITTLE_ENDIAN,
        None,
    );
    let mut lead = Vec::new();
    element(&mut lead, FILE_SET_ID, Vr::CS, file_set_id.as_bytes());
    // Offsets count from the first byte of the file (its preamble).
    let lead_len = lead.len() + 2 * 12 + 10 + 12;
    let sequence_start = header.len() + lead_len;
    let mut offsets = Vec::with_capacity(flat.len());
    let mut at = sequence_start;
    for size in &sizes {
        offsets.push(at);
        at += size;
    }
    if at > u32::MAX as usize {
        return Err(DicomDirError::TooLarge);
    }
    let offset = |i: Option<usize>| i.map(|i| offsets[i] as u32).unwrap_or(0);
    let last_root = first_root.map(|mut i| {
        while let Some(n) = flat[i].next {
            i = n;
        }
        i
    });
    let mut out = header;
    out.extend_from_slice(&lead);
    element(
        &mut out,
        OFFSET_OF_FIRST_ROOT_RECORD,
        Vr::UL,
        &offset(first_root).to_le_bytes(),
    );
    element(
        &mut out,
        OFFSET_OF_LAST_ROOT_RECORD,
        Vr::UL,
        &offset(last_root).to_le_bytes(),
    );
    element(
        &mut out,
        FILE_SET_CONSISTENCY_FLAG,
        Vr::US,
        &0u16.to_le_bytes(),
    );
    let items: usize = sizes.iter().sum();
    out.extend_from_slice(&tag::DIRECTORY_RECORD_SEQUENCE.0.to_le_bytes());
    out.extend_from_slice(&tag::DIRECTORY_RECORD_SEQUENCE.1.to_le_bytes());
    out.extend_from_slice(b"SQ\0\0");
    out.extend_from_slice(&(items as u32).to_le_bytes());
    debug_assert_eq!(out.len(), sequence_start);
    for f in &flat {
        let body = record_body(f.record, offset(f.next), offset(f.first_child))?;
        out.extend_from_slice(&tag::ITEM.0.to_le_bytes());
        out.extend_from_slice(&tag::ITEM.1.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read_bytes, ReadMode};

    fn image(n: u32) -> Record {
        Record {
            file: Some(FileReference {
                components: vec!["DICOM".into(), format!("IM{n:06}")],
                sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
                sop_instance_uid: format!("1.2.3.{n}"),
                transfer_syntax_uid: EXPLICIT_VR_LITTLE_ENDIAN.into(),
            }),
            ..Record::new(
                "IMAGE",
                vec![Key::text(tag::INSTANCE_NUMBER, Vr::IS, &n.to_string())],
            )
        }
    }

    #[test]
    fn offsets_point_at_the_records_they_name() {
        let mut series = Record::new("SERIES", vec![Key::text(tag::MODALITY, Vr::CS, "CT")]);
        series.children = vec![image(1), image(2), image(3)];
        let mut study = Record::new("STUDY", vec![]);
        study.children = vec![series];
        let mut patient = Record::new("PATIENT", vec![Key::text(tag::PATIENT_ID, Vr::LO, "P1")]);
        patient.children = vec![study];
        let other = Record::new("PATIENT", vec![Key::text(tag::PATIENT_ID, Vr::LO, "P2")]);
        let bytes = encode("TEST", "1.2.3", &[patient, other]).unwrap();
        let file = read_bytes(&bytes, ReadMode::Full).unwrap();
        let ds = &file.dataset;
        let records = ds.items(tag::DIRECTORY_RECORD_SEQUENCE);
        assert_eq!(records.len(), 7);
        // Each record's item starts where the offsets say: find them by scanning for the item
        // tag at those positions.
        let at = |offset: u32| {
            let o = offset as usize;
            assert_eq!(
                &bytes[o..o + 4],
                &[0xFE, 0xFF, 0x00, 0xE0],
                "an item at {o}"
            );
            o
        };
        let ul = |ds: &crate::DataSet, t: Tag| ds.int(t).unwrap() as u32;
        let first = ul(ds, OFFSET_OF_FIRST_ROOT_RECORD);
        let last = ul(ds, OFFSET_OF_LAST_ROOT_RECORD);
        at(first);
        at(last);
        assert!(last > first);
        // Patient 1 → study → series → three images; patient 2 is the next root.
        assert_eq!(ul(&records[0], OFFSET_OF_NEXT_RECORD), last);
        let lower = ul(&records[0], OFFSET_OF_LOWER_LEVEL);
        at(lower);
        for image in &records[3..6] {
            assert_eq!(image.texts(tag::REFERENCED_FILE_ID).len(), 2);
        }
        assert_eq!(ul(&records[5], OFFSET_OF_NEXT_RECORD), 0);
        assert_eq!(ul(&records[6], OFFSET_OF_LOWER_LEVEL), 0);
        assert!(matches!(
            ds.get(tag::DIRECTORY_RECORD_SEQUENCE).unwrap().value,
            Value::Sequence(_)
        ));
    }

    #[test]
    fn file_ids_are_iso_9660_names() {
        let mut bad = image(1);
        bad.file.as_mut().unwrap().components[1] = "im-1.dcm".into();
        assert_eq!(
            encode("X", "1.2", &[bad]),
            Err(DicomDirError::FileIdComponent("im-1.dcm".into()))
        );
        assert!(valid_component("IM000001"));
        assert!(!valid_component("IM0000001"));
        assert_eq!(
            record_type_of("1.2.840.10008.5.1.4.1.1.88.22"),
            "SR DOCUMENT"
        );
        assert_eq!(
            record_type_of("1.2.840.10008.5.1.4.1.1.88.59"),
            "KEY OBJECT DOC"
        );
        assert_eq!(record_type_of("1.2.840.10008.5.1.4.1.1.2"), "IMAGE");
    }
}
