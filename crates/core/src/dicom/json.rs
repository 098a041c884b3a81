//! The DICOM JSON model (PS3.18 F.2) of a data set. Bulk data is left out and marked with a
//! `BulkDataURI` the caller chooses (the web server later makes it resolvable).

use super::dataset::{DataSet, Element, Value};
use super::parse::DicomFile;
use super::tag::Tag;
use super::values::{base64, binary_numbers, tags, Number};
use super::vr::Vr;
use serde_json::{json, Map, Value as Json};

/// Binary values up to this size are inlined (base64); larger ones are bulk data.
pub const INLINE_BINARY_MAX: usize = 1024;

pub fn to_json(file: &DicomFile, bulk_data_uri: &dyn Fn(&[Tag]) -> String) -> Json {
    dataset_json(&file.dataset, &mut Vec::new(), bulk_data_uri)
}

fn dataset_json(ds: &DataSet, path: &mut Vec<Tag>, bulk: &dyn Fn(&[Tag]) -> String) -> Json {
    let mut object = Map::new();
    for element in &ds.elements {
        path.push(element.tag);
        object.insert(element.tag.hex(), element_json(ds, element, path, bulk));
        path.pop();
    }
    Json::Object(object)
}

fn element_json(
    ds: &DataSet,
    element: &Element,
    path: &mut Vec<Tag>,
    bulk: &dyn Fn(&[Tag]) -> String,
) -> Json {
    let vr = element.vr;
    let mut object = Map::new();
    object.insert("vr".into(), json!(vr.as_str()));
    match &element.value {
        Value::Sequence(items) => {
            if !items.is_empty() {
                let items: Vec<Json> = items
                    .iter()
                    .map(|item| dataset_json(item, path, bulk))
                    .collect();
                object.insert("Value".into(), Json::Array(items));
            }
        }
        Value::Deferred(_) | Value::Encapsulated { .. } => {
            object.insert("BulkDataURI".into(), json!(bulk(path)));
        }
        Value::Bytes(bytes) if vr.is_binary() => {
            if bytes.len() > INLINE_BINARY_MAX {
                object.insert("BulkDataURI".into(), json!(bulk(path)));
            } else if !bytes.is_empty() {
                object.insert("InlineBinary".into(), json!(base64(bytes)));
            }
        }
        Value::Bytes(_) => {
            let values = plain_values(ds, element);
            if values.iter().any(|v| !v.is_null()) {
                object.insert("Value".into(), Json::Array(values));
            }
        }
    }
    Json::Object(object)
}

fn number_json(n: Number) -> Json {
    match n {
        Number::Int(v) => json!(v),
        Number::Unsigned(v) => json!(v),
        // JSON has no NaN or infinity: such values are left empty (null).
        Number::Float(v) if v.is_finite() => json!(v),
        Number::Float(_) => Json::Null,
    }
}

/// Values of a non-binary, non-sequence element; empty values are `null` (F.2.5).
fn plain_values(ds: &DataSet, element: &Element) -> Vec<Json> {
    if let Some(numbers) = binary_numbers(element, ds.big_endian) {
        return numbers.into_iter().map(number_json).collect();
    }
    if element.vr == Vr::AT {
        return tags(element, ds.big_endian)
            .into_iter()
            .map(|t| json!(t.hex()))
            .collect();
    }
    let text = ds.element_text(element).unwrap_or_default();
    if text.is_empty() {
        return Vec::new();
    }
    let values: Vec<&str> = match element.vr {
        Vr::LT | Vr::ST | Vr::UT | Vr::UR => vec![text.as_str()],
        _ => text.split('\\').collect(),
    };
    values
        .into_iter()
        .map(|v| {
            let v = v.trim_matches(' ');
            if v.is_empty() {
                return Json::Null;
            }
            match element.vr {
                Vr::PN => person_name(v),
                Vr::IS => v
                    .parse::<i64>()
                    .map(|n| json!(n))
                    .unwrap_or_else(|_| decimal(v)),
                Vr::DS => decimal(v),
                _ => json!(v),
            }
        })
        .collect()
}

fn decimal(v: &str) -> Json {
    match v.parse::<f64>() {
        Ok(n) if n.is_finite() => json!(n),
        _ => Json::Null,
    }
}

/// `Alphabetic=Ideographic=Phonetic`, empty groups left out.
fn person_name(value: &str) -> Json {
    let mut object = Map::new();
    for (group, text) in ["Alphabetic", "Ideographic", "Phonetic"]
        .iter()
        .zip(value.split('='))
    {
        if !text.is_empty() {
            object.insert((*group).into(), json!(text));
        }
    }
    Json::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_name_groups() {
        assert_eq!(
            person_name("Yamada^Tarou=山田^太郎=やまだ^たろう"),
            json!({"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"})
        );
        assert_eq!(person_name("=Wang"), json!({"Ideographic": "Wang"}));
    }

    #[test]
    fn numbers_and_text() {
        let file = crate::dicom::read_bytes(&synthetic(), crate::dicom::ReadMode::Full).unwrap();
        let j = to_json(&file, &|_| "bulk".into());
        assert_eq!(j["00280010"], json!({"vr": "US", "Value": [16]}));
        assert_eq!(j["00201041"], json!({"vr": "DS", "Value": [-12.5]}));
        assert_eq!(j["00080060"], json!({"vr": "CS", "Value": ["CT"]}));
        assert_eq!(j["00100010"], json!({"vr": "PN"}));
    }

    /// Explicit VR little endian data set with a few elements, no meta.
    fn synthetic() -> Vec<u8> {
        let mut out = Vec::new();
        let mut put = |g: u16, e: u16, vr: &[u8; 2], value: &[u8]| {
            out.extend_from_slice(&g.to_le_bytes());
            out.extend_from_slice(&e.to_le_bytes());
            out.extend_from_slice(vr);
            out.extend_from_slice(&(value.len() as u16).to_le_bytes());
            out.extend_from_slice(value);
        };
        put(0x0008, 0x0060, b"CS", b"CT");
        put(0x0010, 0x0010, b"PN", b"");
        put(0x0020, 0x1041, b"DS", b"-12.5 ");
        put(0x0028, 0x0010, b"US", &16u16.to_le_bytes());
        out
    }
}
