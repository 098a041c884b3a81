//! A readable dump of every element: file meta first, then the data set with sequences
//! indented and items numbered; private tags included, bulk data summarised.

use super::dataset::{DataSet, Element, Value};
use super::parse::DicomFile;
use super::values::{binary_numbers, tags};
use super::vr::Vr;
use super::{dictionary, transfer_syntax};
use std::fmt::Write;

const MAX_SHOWN: usize = 80;

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
            let _ = writeln!(out, "[{}] {}", bytes.len(), shown_value(ds, element, bytes));
        }
    }
}

fn shown_value(ds: &DataSet, element: &Element, bytes: &[u8]) -> String {
    if let Some(numbers) = binary_numbers(element, ds.big_endian) {
        return cut(numbers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\\"));
    }
    if element.vr == Vr::AT {
        return cut(tags(element, ds.big_endian)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\\"));
    }
    if element.vr.is_binary() {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02X}")).collect();
        return format!(
            "{}{}",
            head.join(" "),
            if bytes.len() > 8 { " …" } else { "" }
        );
    }
    cut(ds.element_text(element).unwrap_or_default())
}

fn cut(text: String) -> String {
    // Control characters (CR, LF in long texts) would break the one-line-per-element layout.
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= MAX_SHOWN {
        return flat;
    }
    let mut shown: String = flat.chars().take(MAX_SHOWN).collect();
    shown.push('…');
    shown
}
