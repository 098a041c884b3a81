//! A readable dump of every element: file meta first, then the data set with sequences
//! indented and items numbered; private tags included, bulk data summarised.

use super::dataset::{DataSet, Element, Value};
use super::parse::DicomFile;
use super::values::Number;
use super::vr::Vr;
use super::{dictionary, transfer_syntax};
use std::fmt::Write;

const MAX_SHOWN: usize = 80;

/// One line per element (tag, VR, keyword or `Private`/`Unknown`, value length, value), file meta
/// information first; sequence items are numbered and their elements indented.
pub fn dump(file: &DicomFile) -> String {
    let mut out = String::new();
    if !file.meta.elements.is_empty() {
        out.push_str("# File meta information\n");
        write_dataset(&mut out, &file.meta, 0);
    }
    let _ = writeln!(
        out,
        "# Data set ({}{})",
        transfer_syntax::name(&file.transfer_syntax),
        if file.transfer_syntax_inferred {
            ", inferred"
        } else {
            ""
        }
    );
    write_dataset(&mut out, &file.dataset, 0);
    out
}

fn write_dataset(out: &mut String, ds: &DataSet, depth: usize) {
    for element in &ds.elements {
        write_element(out, ds, element, depth);
    }
}

fn keyword(element: &Element) -> &'static str {
    dictionary::keyword(element.tag).unwrap_or(if element.tag.is_private() {
        "Private"
    } else {
        "Unknown"
    })
}

fn write_element(out: &mut String, ds: &DataSet, element: &Element, depth: usize) {
    let indent = "  ".repeat(depth);
    let _ = write!(
        out,
        "{indent}{} {} {:<36} ",
        element.tag,
        element.vr,
        keyword(element)
    );
    match &element.value {
        Value::Sequence(items) => {
            let _ = writeln!(
                out,
                "<{} item{}>",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            );
            for (i, item) in items.iter().enumerate() {
                let _ = writeln!(out, "{indent}  > Item {}", i + 1);
                write_dataset(out, item, depth + 2);
            }
        }
        Value::Deferred(span) if span.length == u64::MAX => {
            out.push_str("<encapsulated pixel data>\n")
        }
        Value::Deferred(span) => {
            let _ = writeln!(out, "<bulk data: {} bytes>", span.length);
        }
        Value::Encapsulated {
            fragments,
            offset_table,
        } => {
            let bytes: u64 = fragments.iter().map(|f| f.length).sum::<u64>() + offset_table.length;
            let _ = writeln!(
                out,
                "<encapsulated: {} fragments, {bytes} bytes>",
                fragments.len()
            );
        }
        Value::Bytes(bytes) => {
            let shown = shown_value(ds, element, bytes);
            let sep = if shown.is_empty() { "" } else { " " };
            let _ = writeln!(out, "[{}]{sep}{shown}", bytes.len());
        }
    }
}

/// One element of a header as a tree (the metadata explorer's shape): sequences carry their
/// items instead of a value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TreeElement {
    /// `GGGGEEEE`, upper-case hex.
    pub tag: String,
    /// The dictionary keyword; empty for private and unknown tags.
    pub keyword: &'static str,
    /// The keyword in words ("Patient Name"), or "Private tag" / "Unknown tag".
    pub name: String,
    pub vr: String,
    /// Value length in bytes as encoded.
    pub length: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Vec<TreeElement>>>,
}

/// Longest value shown in a tree; the explorer has room for more than a dump line.
const TREE_MAX_SHOWN: usize = 1024;

/// The file meta information and the data set as one tree, file order.
pub fn tree(file: &DicomFile) -> Vec<TreeElement> {
    let mut out = tree_of(&file.meta);
    out.extend(tree_of(&file.dataset));
    out
}

fn tree_of(ds: &DataSet) -> Vec<TreeElement> {
    ds.elements
        .iter()
        .map(|element| {
            let keyword = dictionary::keyword(element.tag).unwrap_or("");
            let name = if keyword.is_empty() {
                if element.tag.is_private() {
                    "Private tag".to_string()
                } else {
                    "Unknown tag".to_string()
                }
            } else {
                words(keyword)
            };
            let (value, items) = match &element.value {
                Value::Sequence(items) => (None, Some(items.iter().map(tree_of).collect())),
                // Long binary values (pixel data read in full, LUTs) are summarised, not
                // formatted number by number.
                Value::Bytes(bytes) if element.vr.is_binary() && bytes.len() > 4096 => {
                    (Some(format!("(binary, {} bytes)", bytes.len())), None)
                }
                Value::Bytes(bytes) => (
                    Some(cut_at(displayed(ds, element, bytes), TREE_MAX_SHOWN)),
                    None,
                ),
                _ => (
                    Some(format!("(binary, {} bytes)", element.value_length())),
                    None,
                ),
            };
            TreeElement {
                tag: element.tag.hex(),
                keyword,
                name,
                vr: element.vr.to_string(),
                length: element.value_length(),
                value,
                items,
            }
        })
        .collect()
}

/// `PatientBirthDate` → `Patient Birth Date`; runs of capitals stay together (`SOPInstanceUID`
/// → `SOP Instance UID`).
fn words(keyword: &str) -> String {
    let chars: Vec<char> = keyword.chars().collect();
    let mut out = String::with_capacity(keyword.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let boundary = match prev {
            Some(p) if c.is_uppercase() => {
                p.is_lowercase() || p.is_ascii_digit() || (p.is_uppercase() && next_lower)
            }
            Some(p) if c.is_ascii_digit() => !p.is_ascii_digit(),
            _ => false,
        };
        if boundary {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn shown_value(ds: &DataSet, element: &Element, bytes: &[u8]) -> String {
    cut_at(displayed(ds, element, bytes), MAX_SHOWN)
}

fn displayed(ds: &DataSet, element: &Element, bytes: &[u8]) -> String {
    if let Some(numbers) = element.numbers(ds.big_endian) {
        return numbers
            .iter()
            .map(|n| match n {
                // The shortest form of the single-precision value, not of its exact double.
                Number::Float(v) if element.vr == Vr::FL => (*v as f32).to_string(),
                n => n.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\\");
    }
    if element.vr == Vr::AT {
        return element
            .tags(ds.big_endian)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\\");
    }
    if element.vr.is_binary() {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02X}")).collect();
        return format!(
            "{}{}",
            head.join(" "),
            if bytes.len() > 8 { " …" } else { "" }
        );
    }
    ds.element_text(element).unwrap_or_default()
}

fn cut_at(text: String, max: usize) -> String {
    // Control characters (CR, LF in long texts) would break the one-line-per-element layout.
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut shown: String = flat.chars().take(max).collect();
    shown.push('…');
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read_bytes, ReadMode};

    /// Appends an explicit VR little endian element.
    fn put(out: &mut Vec<u8>, g: u16, e: u16, vr: &[u8; 2], value: &[u8]) {
        out.extend_from_slice(&g.to_le_bytes());
        out.extend_from_slice(&e.to_le_bytes());
        out.extend_from_slice(vr);
        if Vr::from_bytes(*vr).unwrap().has_long_length() {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        out.extend_from_slice(value);
    }

    fn dumped(bytes: &[u8]) -> String {
        dump(&read_bytes(bytes, ReadMode::Full).unwrap())
    }

    #[test]
    fn keywords_in_words() {
        assert_eq!(words("PatientBirthDate"), "Patient Birth Date");
        assert_eq!(words("SOPInstanceUID"), "SOP Instance UID");
        assert_eq!(words("ReferencedSOPSequence"), "Referenced SOP Sequence");
        assert_eq!(words("Rows"), "Rows");
    }

    #[test]
    fn tree_has_sequences_and_summaries() {
        let mut ds = Vec::new();
        put(&mut ds, 0x0010, 0x0010, b"PN", b"DOE^JANE");
        let mut item = Vec::new();
        put(&mut item, 0x0008, 0x1150, b"UI", b"1.2.3\0");
        let mut seq = Vec::new();
        seq.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        seq.extend_from_slice(&(item.len() as u32).to_le_bytes());
        seq.extend_from_slice(&item);
        put(&mut ds, 0x0008, 0x1115, b"SQ", &seq);
        put(&mut ds, 0x7FE0, 0x0010, b"OW", &vec![0u8; 8192]);
        let tree = tree(&read_bytes(&ds, ReadMode::Full).unwrap());
        let find = |tag: &str| tree.iter().find(|e| e.tag == tag).unwrap();
        assert_eq!(find("00100010").value.as_deref(), Some("DOE^JANE"));
        assert_eq!(find("00100010").name, "Patient Name");
        let items = find("00081115").items.as_ref().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0][0].keyword, "ReferencedSOPClassUID");
        assert_eq!(items[0][0].value.as_deref(), Some("1.2.3"));
        assert_eq!(
            find("7FE00010").value.as_deref(),
            Some("(binary, 8192 bytes)")
        );
    }

    #[test]
    fn values_of_every_kind() {
        let mut ds = Vec::new();
        put(&mut ds, 0x0008, 0x0008, b"CS", b"ORIGINAL\\PRIMARY ");
        put(&mut ds, 0x0008, 0x0050, b"SH", b"");
        put(
            &mut ds,
            0x0008,
            0x9999,
            b"AT",
            &[0x10, 0, 0x10, 0, 0xE0, 0x7F, 0x10, 0],
        );
        put(
            &mut ds,
            0x0009,
            0x1001,
            b"OB",
            &[0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6],
        );
        let fl: Vec<u8> = [-180.5358f32, 0.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        put(&mut ds, 0x0018, 0x9999, b"FL", &fl);
        put(&mut ds, 0x0028, 0x1050, b"SS", &[0xFE, 0xFF, 40, 0]);
        put(&mut ds, 0x0032, 0x4000, b"LT", "x".repeat(100).as_bytes());
        let text = dumped(&ds);
        let lines: Vec<&str> = text.lines().collect();
        let line = |tag: &str| *lines.iter().find(|l| l.starts_with(tag)).unwrap();
        assert!(line("(0008,0008) CS ImageType").ends_with("[17] ORIGINAL\\PRIMARY"));
        assert!(line("(0008,0050) SH AccessionNumber").ends_with("[0]"));
        assert!(line("(0008,9999) AT Unknown").ends_with("[8] (0010,0010)\\(7FE0,0010)"));
        assert!(line("(0009,1001) OB Private").ends_with("[10] DE AD BE EF 01 02 03 04 …"));
        assert!(line("(0018,9999) FL").ends_with("[8] -180.5358\\0.5"));
        assert!(line("(0028,1050) SS WindowCenter").ends_with("[4] -2\\40"));
        let long = line("(0032,4000) LT StudyComments");
        assert!(
            long.ends_with(&format!("[100] {}…", "x".repeat(MAX_SHOWN))),
            "{long}"
        );
    }

    #[test]
    fn sequences_are_indented_and_items_numbered() {
        let mut inner = Vec::new();
        put(&mut inner, 0x0008, 0x0100, b"SH", b"T-D1100 ");
        let mut items = Vec::new();
        for item in [inner, Vec::new()] {
            items.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            items.extend_from_slice(&(item.len() as u32).to_le_bytes());
            items.extend_from_slice(&item);
        }
        let mut ds = Vec::new();
        put(&mut ds, 0x0008, 0x2218, b"SQ", &items);
        let text = dumped(&ds);
        let lines: Vec<&str> = text.lines().skip_while(|l| l.starts_with('#')).collect();
        assert!(lines[0].starts_with("(0008,2218) SQ AnatomicRegionSequence"));
        assert!(lines[0].ends_with("<2 items>"));
        assert_eq!(lines[1], "  > Item 1");
        assert!(lines[2].starts_with("    (0008,0100) SH CodeValue"));
        assert!(lines[2].ends_with("[8] T-D1100"), "{text}");
        assert_eq!(lines[3], "  > Item 2");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn cut_flattens_and_shortens() {
        assert_eq!(cut_at("a\r\nb".into(), MAX_SHOWN), "a  b");
        assert_eq!(
            cut_at("é".repeat(81), MAX_SHOWN),
            format!("{}…", "é".repeat(80))
        );
        assert_eq!(cut_at("é".repeat(80), MAX_SHOWN), "é".repeat(80));
    }
}
