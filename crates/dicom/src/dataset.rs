//! Parsed data sets: elements, values and typed accessors.

use super::charset::{SpecificCharacterSet, TextKind};
use super::tag::Tag;
use super::values::{self, Number};
use super::vr::Vr;
use std::sync::Arc;

/// Where a value that was not loaded lives in its source stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub offset: u64,
    pub length: u64,
}

#[derive(Clone, Debug)]
pub enum Value {
    Bytes(Vec<u8>),
    Sequence(Vec<DataSet>),
    /// A value left in its source (bulk data, or anything larger than the reader keeps).
    Deferred(Span),
    /// Encapsulated pixel data: the basic offset table item, then each fragment, left in the source.
    Encapsulated {
        offset_table: Span,
        fragments: Vec<Span>,
    },
}

#[derive(Clone, Debug)]
pub struct Element {
    pub tag: Tag,
    pub vr: Vr,
    pub value: Value,
}

impl Element {
    /// The values of a US, SS, UL, SL, UV, SV, FL or FD element; `None` for other VRs and for
    /// values left in the file.
    pub fn numbers(&self, big_endian: bool) -> Option<Vec<Number>> {
        match &self.value {
            Value::Bytes(b) => values::binary_numbers(self.vr, b, big_endian),
            _ => None,
        }
    }

    /// The values of an AT element.
    pub fn tags(&self, big_endian: bool) -> Vec<Tag> {
        match &self.value {
            Value::Bytes(b) => values::tags(b, big_endian),
            _ => Vec::new(),
        }
    }

    /// The value's length in bytes as encoded (for listings).
    pub fn value_length(&self) -> u64 {
        match &self.value {
            Value::Bytes(b) => b.len() as u64,
            Value::Deferred(span) => span.length,
            Value::Sequence(_) => 0,
            Value::Encapsulated {
                offset_table,
                fragments,
            } => offset_table.length + fragments.iter().map(|f| f.length).sum::<u64>(),
        }
    }
}

/// A data set (or sequence item) in file order, with the character set and byte order it was read with.
#[derive(Clone, Debug)]
pub struct DataSet {
    pub elements: Vec<Element>,
    pub charset: Arc<SpecificCharacterSet>,
    pub big_endian: bool,
}

fn trim_text(s: &str, vr: Vr) -> &str {
    // Leading spaces are significant in the long text VRs; elsewhere both ends are padding.
    let trailing = s.trim_end_matches([' ', '\0']);
    match vr {
        Vr::LT | Vr::ST | Vr::UT => trailing,
        _ => trailing.trim_start_matches(' '),
    }
}

impl DataSet {
    pub fn new(charset: Arc<SpecificCharacterSet>, big_endian: bool) -> DataSet {
        DataSet {
            elements: Vec::new(),
            charset,
            big_endian,
        }
    }

    pub fn get(&self, tag: Tag) -> Option<&Element> {
        self.elements.iter().find(|e| e.tag == tag)
    }

    pub fn bytes(&self, tag: Tag) -> Option<&[u8]> {
        match &self.get(tag)?.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The element's value as text, decoded with the data set's character set and trimmed of
    /// padding; `None` when absent, empty, or not textual.
    pub fn text(&self, tag: Tag) -> Option<String> {
        let element = self.get(tag)?;
        let text = self.element_text(element)?;
        if text.is_empty() {
            None
        } else {
            Some(text)
        }
    }

    /// The first of a multi-valued text element's values.
    pub fn first_text(&self, tag: Tag) -> Option<String> {
        let text = self.text(tag)?;
        let first = text.split('\\').next().unwrap_or("");
        let first = first.trim();
        (!first.is_empty()).then(|| first.to_string())
    }

    /// All values of a multi-valued text element.
    pub fn texts(&self, tag: Tag) -> Vec<String> {
        match self.text(tag) {
            Some(text) => text.split('\\').map(|v| v.trim().to_string()).collect(),
            None => Vec::new(),
        }
    }

    pub fn element_text(&self, element: &Element) -> Option<String> {
        let Value::Bytes(bytes) = &element.value else {
            return None;
        };
        let vr = element.vr;
        let decoded = if vr.is_charset_text() {
            let kind = match vr {
                Vr::PN => TextKind::PersonName,
                Vr::LT | Vr::ST | Vr::UT => TextKind::Text,
                _ => TextKind::MultiValued,
            };
            self.charset.decode(bytes, kind)
        } else if vr.is_string() || vr == Vr::UN {
            String::from_utf8_lossy(bytes).into_owned()
        } else {
            return None;
        };
        let trimmed = trim_text(&decoded, vr);
        // Trailing empty component groups carry nothing ("Wang^XiaoDong=王^小東=").
        let trimmed = if vr == Vr::PN {
            trimmed.trim_end_matches(['=', ' '])
        } else {
            trimmed
        };
        Some(trimmed.to_string())
    }

    /// Integer values of US, SS, UL, SL, UV, SV, IS (and DS, truncated) elements.
    pub fn ints(&self, tag: Tag) -> Vec<i64> {
        let Some(element) = self.get(tag) else {
            return Vec::new();
        };
        if let Some(numbers) = element.numbers(self.big_endian) {
            return numbers.into_iter().map(Number::as_i64).collect();
        }
        match (&element.value, element.vr) {
            (_, Vr::IS | Vr::DS) => self.floats(tag).into_iter().map(|f| f as i64).collect(),
            // Some writers put US values under UN or OW (e.g. LUT descriptors).
            (Value::Bytes(b), Vr::UN | Vr::OW | Vr::OB) => b
                .chunks_exact(2)
                .map(|c| values::u16_of(c, self.big_endian) as i64)
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn int(&self, tag: Tag) -> Option<i64> {
        self.ints(tag).into_iter().next()
    }

    /// Values of DS, IS and the binary numeric VRs as floating point.
    pub fn floats(&self, tag: Tag) -> Vec<f64> {
        let Some(element) = self.get(tag) else {
            return Vec::new();
        };
        if let Some(numbers) = element.numbers(self.big_endian) {
            return numbers.into_iter().map(Number::as_f64).collect();
        }
        match (&element.value, element.vr) {
            (Value::Bytes(b), Vr::DS | Vr::IS) => String::from_utf8_lossy(b)
                .split('\\')
                .filter_map(|v| v.trim_matches([' ', '\0']).parse::<f64>().ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn float(&self, tag: Tag) -> Option<f64> {
        self.floats(tag).into_iter().next()
    }

    pub fn items(&self, tag: Tag) -> &[DataSet] {
        match self.get(tag).map(|e| &e.value) {
            Some(Value::Sequence(items)) => items,
            _ => &[],
        }
    }
}
