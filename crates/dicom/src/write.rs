//! Encoding small data sets (query identifiers and responses) in a native transfer syntax.

use super::dictionary;
use super::tag::Tag;
use super::transfer_syntax::Encoding;
use super::vr::Vr;

/// Elements to encode: tag and text value (binary numeric VRs are written from their text).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataSetBuilder {
    elements: Vec<(Tag, Vr, Vec<u8>)>,
}

impl DataSetBuilder {
    /// Adds a text-valued element with the dictionary's VR (empty values are allowed: in a
    /// query they ask for the attribute to be returned).
    pub fn text(&mut self, tag: Tag, value: &str) -> &mut Self {
        let vr = dictionary::implicit_vr(tag);
        let mut bytes = match vr {
            Vr::US => value
                .trim()
                .parse::<u16>()
                .map(|v| v.to_le_bytes().to_vec())
                .unwrap_or_default(),
            Vr::UL => value
                .trim()
                .parse::<u32>()
                .map(|v| v.to_le_bytes().to_vec())
                .unwrap_or_default(),
            _ => value.as_bytes().to_vec(),
        };
        if bytes.len() % 2 == 1 {
            bytes.push(if vr == Vr::UI { 0 } else { b' ' });
        }
        self.elements.retain(|(t, ..)| *t != tag);
        self.elements.push((tag, vr, bytes));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// Little endian, explicit or implicit VR, elements in ascending tag order.
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        let mut elements = self.elements.clone();
        elements.sort_by_key(|(tag, ..)| *tag);
        let mut out = Vec::new();
        for (tag, vr, value) in elements {
            out.extend_from_slice(&tag.0.to_le_bytes());
            out.extend_from_slice(&tag.1.to_le_bytes());
            if encoding.explicit_vr {
                out.extend_from_slice(vr.as_str().as_bytes());
                if vr.has_long_length() {
                    out.extend_from_slice(&[0, 0]);
                    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
                } else {
                    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
                }
            } else {
                out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            }
            out.extend_from_slice(&value);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, tag};

    #[test]
    fn round_trips_in_both_encodings() {
        let mut b = DataSetBuilder::default();
        b.text(tag::PATIENT_NAME, "Müller^Jürgen")
            .text(tag::STUDY_INSTANCE_UID, "1.2.3")
            .text(tag::MODALITY, "")
            .text(tag::ROWS, "512");
        for enc in [Encoding::EXPLICIT_LE, Encoding::IMPLICIT_LE] {
            let bytes = b.encode(enc);
            let mut ds = parse::read_dataset(&bytes, enc).unwrap();
            ds.charset = std::sync::Arc::new(crate::charset::SpecificCharacterSet::from_terms(&[
                "ISO_IR 192",
            ]));
            assert_eq!(ds.text(tag::PATIENT_NAME).unwrap(), "Müller^Jürgen");
            assert_eq!(ds.text(tag::STUDY_INSTANCE_UID).unwrap(), "1.2.3");
            assert_eq!(ds.int(tag::ROWS), Some(512));
            assert!(ds.get(tag::MODALITY).is_some());
        }
    }
}
