//! Changing a data set in memory before it is written back ([`rewrite`](super::rewrite)):
//! setting a text value in the data set's own character set, removing an element, and
//! replacing UIDs everywhere they occur, in sequences too.

use super::dataset::{DataSet, Element, Value};
use super::dictionary;
use super::tag::{self, Tag};
use super::vr::Vr;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("{0} is not a text attribute")]
    NotText(Tag),
    #[error("{tag}: a value outside ASCII in a data set of character set {charset:?}")]
    Charset { tag: Tag, charset: String },
    #[error("{tag}: {length} bytes, more than its VR {vr:?} allows")]
    TooLong { tag: Tag, vr: Vr, length: usize },
}

/// The longest value of a short-length VR.
const SHORT_VALUE: usize = 0xFFFF;

/// Sets a text attribute of the data set's top level to `text` (its VR from the dictionary, or
/// the element's own when it has one). A value outside ASCII needs a data set in UTF-8, or
/// one in the default repertoire, which then becomes UTF-8 (ASCII being a part of it).
pub fn set_text(ds: &mut DataSet, t: Tag, text: &str) -> Result<(), EditError> {
    let vr = ds
        .get(t)
        .map(|e| e.vr)
        .filter(|vr| *vr != Vr::UN)
        .unwrap_or_else(|| dictionary::implicit_vr(t));
    if !vr.is_string() {
        return Err(EditError::NotText(t));
    }
    if !text.is_ascii() {
        let charset = ds.texts(tag::SPECIFIC_CHARACTER_SET);
        match charset
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["ISO_IR 192"] => {}
            [] | [""] => {
                put(
                    ds,
                    tag::SPECIFIC_CHARACTER_SET,
                    Vr::CS,
                    b"ISO_IR 192".to_vec(),
                );
                ds.charset =
                    std::sync::Arc::new(super::charset::SpecificCharacterSet::from_terms(&[
                        "ISO_IR 192",
                    ]));
            }
            _ => {
                return Err(EditError::Charset {
                    tag: t,
                    charset: charset.join("\\"),
                })
            }
        }
    }
    let mut value = text.as_bytes().to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == Vr::UI { 0 } else { b' ' });
    }
    if !vr.has_long_length() && value.len() > SHORT_VALUE {
        return Err(EditError::TooLong {
            tag: t,
            vr,
            length: value.len(),
        });
    }
    put(ds, t, vr, value);
    Ok(())
}

/// Puts an element in its place (in tag order), replacing one of the same tag.
fn put(ds: &mut DataSet, t: Tag, vr: Vr, value: Vec<u8>) {
    let element = Element {
        tag: t,
        vr,
        value: Value::Bytes(value),
    };
    match ds.elements.binary_search_by_key(&t, |e| e.tag) {
        Ok(at) => ds.elements[at] = element,
        Err(at) => ds.elements.insert(at, element),
    }
}

/// Removes a top-level element; whether there was one.
pub fn remove(ds: &mut DataSet, t: Tag) -> bool {
    let before = ds.elements.len();
    ds.elements.retain(|e| e.tag != t);
    ds.elements.len() != before
}

/// Replaces every UID value found in `map` (each value of a UI element, at every depth of
/// every sequence); returns how many values were replaced.
pub fn remap_uids(ds: &mut DataSet, map: &HashMap<String, String>) -> usize {
    let mut replaced = 0;
    for element in &mut ds.elements {
        match &mut element.value {
            Value::Sequence(items) => {
                for item in items {
                    replaced += remap_uids(item, map);
                }
            }
            Value::Bytes(bytes) if element.vr == Vr::UI => {
                let text = String::from_utf8_lossy(bytes);
                let values: Vec<&str> = text
                    .trim_end_matches(['\0', ' '])
                    .split('\\')
                    .map(|v| v.trim_matches(['\0', ' ']))
                    .collect();
                if !values.iter().any(|v| map.contains_key(*v)) {
                    continue;
                }
                let new: Vec<&str> = values
                    .iter()
                    .map(|v| match map.get(*v) {
                        Some(to) => {
                            replaced += 1;
                            to.as_str()
                        }
                        None => v,
                    })
                    .collect();
                let mut value = new.join("\\").into_bytes();
                if value.len() % 2 == 1 {
                    value.push(0);
                }
                *bytes = value;
            }
            _ => {}
        }
    }
    replaced
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charset::SpecificCharacterSet;
    use std::sync::Arc;

    fn empty() -> DataSet {
        DataSet::new(Arc::new(SpecificCharacterSet::default()), false)
    }

    #[test]
    fn values_are_set_in_order_and_in_the_right_character_set() {
        let mut ds = empty();
        set_text(&mut ds, tag::PATIENT_ID, "P2").unwrap();
        set_text(&mut ds, tag::PATIENT_NAME, "Doe^Jane").unwrap();
        assert_eq!(ds.elements[0].tag, tag::PATIENT_NAME);
        set_text(&mut ds, tag::PATIENT_NAME, "Müller^Jürgen").unwrap();
        assert_eq!(ds.text(tag::PATIENT_NAME).unwrap(), "Müller^Jürgen");
        assert_eq!(ds.text(tag::SPECIFIC_CHARACTER_SET).unwrap(), "ISO_IR 192");
        let mut latin = empty();
        set_text(&mut latin, tag::SPECIFIC_CHARACTER_SET, "ISO_IR 100").unwrap();
        assert!(matches!(
            set_text(&mut latin, tag::PATIENT_NAME, "Müller"),
            Err(EditError::Charset { .. })
        ));
        assert_eq!(
            set_text(&mut ds, tag::ROWS, "5"),
            Err(EditError::NotText(tag::ROWS))
        );
        assert!(remove(&mut ds, tag::PATIENT_ID));
        assert!(!remove(&mut ds, tag::PATIENT_ID));
    }

    #[test]
    fn uids_are_replaced_at_every_depth_and_in_every_value() {
        let mut item = empty();
        set_text(&mut item, Tag(0x0008, 0x1155), "1.2.3").unwrap();
        let mut ds = empty();
        set_text(&mut ds, tag::STUDY_INSTANCE_UID, "1.2").unwrap();
        set_text(&mut ds, Tag(0x0008, 0x001A), "1.2\\1.9").unwrap();
        ds.elements.push(Element {
            tag: Tag(0x0008, 0x1140),
            vr: Vr::SQ,
            value: Value::Sequence(vec![item]),
        });
        let map: HashMap<String, String> = [("1.2", "2.25.1"), ("1.2.3", "2.25.22")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(remap_uids(&mut ds, &map), 3);
        assert_eq!(ds.text(tag::STUDY_INSTANCE_UID).unwrap(), "2.25.1");
        assert_eq!(ds.texts(Tag(0x0008, 0x001A)), ["2.25.1", "1.9"]);
        let nested = &ds.items(Tag(0x0008, 0x1140))[0];
        assert_eq!(nested.text(Tag(0x0008, 0x1155)).unwrap(), "2.25.22");
    }
}
