//! The DICOM JSON model (PS3.18 F.2) of a data set. Bulk data is left out and marked with a
//! `BulkDataURI` the caller chooses (the web server later makes it resolvable).
//!
//! Choices where the standard leaves room:
//! - binary values (OB, OD, OF, OL, OV, OW, UN) of at most [`INLINE_BINARY_MAX`] loaded bytes are
//!   `InlineBinary`; larger ones, and values the reader left in the file (pixel data, deferred
//!   bulk data), are `BulkDataURI`;
//! - JSON has no NaN or infinity and F.2.3 gives FL and FD no string form, so an FL or FD
//!   attribute holding any such value is marked as bulk data (F.2.2 allows `BulkDataURI` for FL
//!   and FD): nothing is lost, and no `null` stands for a value that is not empty;
//! - IS and DS values that are not finite numbers are kept as the original string, which F.2.3
//!   allows for IS and DS "to preserve the original format";
//! - FL values are written with the fewest digits that give back the same single-precision
//!   value (-180.5358, not the -180.53579711914062 of its exact double);
//! - Group Length (gggg,0000) attributes are left out (F.2.2);
//! - encapsulated pixel data is OB (PS3.5 A.4) even when read as OW from implicit VR data.

use super::dataset::{DataSet, Element, Value};
use super::parse::DicomFile;
use super::tag::Tag;
use super::values::{base64, Number};
use super::vr::Vr;
use serde_json::{json, Map, Value as Json};

/// Binary values up to this size are inlined (base64); larger ones are bulk data.
pub const INLINE_BINARY_MAX: usize = 1024;

/// The data set of `file` (not its file meta group) in the DICOM JSON model. `bulk_data_uri`
/// gets the tag path from the top-level data set down to the element (sequence items are not
/// numbered in it) and returns the URI to write.
pub fn to_json(file: &DicomFile, bulk_data_uri: &dyn Fn(&[Tag]) -> String) -> Json {
    dataset_json(&file.dataset, &mut Vec::new(), bulk_data_uri)
}

/// A data set (a query match, say) in the DICOM JSON model.
pub fn dataset_to_json(ds: &DataSet, bulk_data_uri: &dyn Fn(&[Tag]) -> String) -> Json {
    dataset_json(ds, &mut Vec::new(), bulk_data_uri)
}

fn dataset_json(ds: &DataSet, path: &mut Vec<Tag>, bulk: &dyn Fn(&[Tag]) -> String) -> Json {
    // Keys are sorted (F.2.2) whatever the map type: insert in tag order.
    let mut elements: Vec<&Element> = ds.elements.iter().filter(|e| e.tag.1 != 0).collect();
    elements.sort_by_key(|e| e.tag);
    let mut object = Map::new();
    for element in elements {
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
    let vr = match element.value {
        // Encapsulated pixel data is OB (PS3.5 A.4), whatever an implicit VR reading guessed.
        Value::Encapsulated { .. } => Vr::OB,
        _ => element.vr,
    };
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
        Value::Bytes(_) => match plain_values(ds, element) {
            Some(values) if values.is_empty() => {}
            Some(values) => {
                object.insert("Value".into(), Json::Array(values));
            }
            None => {
                object.insert("BulkDataURI".into(), json!(bulk(path)));
            }
        },
    }
    Json::Object(object)
}

/// Values of a non-binary, non-sequence element; empty values are `null` (F.2.5), an empty
/// attribute has no values. `None` when the values have no JSON form (NaN or infinity).
fn plain_values(ds: &DataSet, element: &Element) -> Option<Vec<Json>> {
    if let Some(numbers) = element.numbers(ds.big_endian) {
        let single = element.vr == Vr::FL;
        return numbers
            .into_iter()
            .map(|n| number_json(n, single))
            .collect();
    }
    if element.vr == Vr::AT {
        return Some(
            element
                .tags(ds.big_endian)
                .into_iter()
                .map(|t| json!(t.hex()))
                .collect(),
        );
    }
    let text = ds.element_text(element).unwrap_or_default();
    Some(text_values(&text, element.vr))
}

/// A binary number as JSON; `None` for NaN and infinities.
fn number_json(n: Number, single_precision: bool) -> Option<Json> {
    match n {
        Number::Int(v) => Some(json!(v)),
        Number::Unsigned(v) => Some(json!(v)),
        Number::Float(v) if !v.is_finite() => None,
        Number::Float(v) if single_precision => Some(json!(shortest_f32(v))),
        Number::Float(v) => Some(json!(v)),
    }
}

/// The double nearest to the shortest decimal form of `v` as a single-precision value.
fn shortest_f32(v: f64) -> f64 {
    (v as f32).to_string().parse().unwrap_or(v)
}

/// The values of decoded, padding-trimmed text of a textual VR.
fn text_values(text: &str, vr: Vr) -> Vec<Json> {
    if text.is_empty() {
        return Vec::new();
    }
    if matches!(vr, Vr::LT | Vr::ST | Vr::UT | Vr::UR) {
        // Single-valued; the backslash is an ordinary character and leading spaces count.
        return vec![json!(text)];
    }
    text.split('\\')
        .map(|v| {
            let v = v.trim_matches(' ');
            if v.is_empty() {
                return Json::Null;
            }
            match vr {
                Vr::PN => person_name(v),
                Vr::IS => integer_string(v),
                Vr::DS => decimal_string(v),
                _ => json!(v),
            }
        })
        .collect()
}

/// IS as a JSON number; a value that is no integer (some writers put decimals in IS) is read as
/// a decimal string.
fn integer_string(v: &str) -> Json {
    match v.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => decimal_string(v),
    }
}

/// DS as a JSON number; anything that is not a finite number stays the original string (F.2.3).
fn decimal_string(v: &str) -> Json {
    let decimal_chars = v
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    match v.parse::<f64>() {
        Ok(n) if decimal_chars && n.is_finite() => json!(n),
        _ => json!(v),
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
        assert_eq!(
            person_name("Wang^XiaoDong==wang^xiaodong"),
            json!({"Alphabetic": "Wang^XiaoDong", "Phonetic": "wang^xiaodong"})
        );
        assert_eq!(
            text_values("Doe^John\\=山田^太郎", Vr::PN),
            vec![
                json!({"Alphabetic": "Doe^John"}),
                json!({"Ideographic": "山田^太郎"})
            ]
        );
    }

    #[test]
    fn number_strings() {
        assert_eq!(
            text_values("1\\-2 \\+3", Vr::IS),
            vec![json!(1), json!(-2), json!(3)]
        );
        assert_eq!(
            text_values("0.5\\-1e3\\12", Vr::DS),
            vec![json!(0.5), json!(-1000.0), json!(12.0)]
        );
        // A decimal in IS is still a number; what is not a finite number stays a string.
        assert_eq!(text_values("2.0", Vr::IS), vec![json!(2.0)]);
        assert_eq!(
            text_values("NaN\\inf\\1e999\\1,5", Vr::DS),
            vec![json!("NaN"), json!("inf"), json!("1e999"), json!("1,5")]
        );
        // Empty values inside a multi-valued attribute are null (F.2.5).
        assert_eq!(
            text_values("1\\\\3", Vr::DS),
            vec![json!(1.0), Json::Null, json!(3.0)]
        );
        assert_eq!(text_values("", Vr::DS), Vec::<Json>::new());
    }

    #[test]
    fn binary_number_formatting() {
        assert_eq!(
            number_json(Number::Unsigned(65535), false),
            Some(json!(65535))
        );
        assert_eq!(number_json(Number::Int(-2), false), Some(json!(-2)));
        let fl = -180.5358f32 as f64;
        assert_eq!(number_json(Number::Float(fl), true), Some(json!(-180.5358)));
        assert_eq!(number_json(Number::Float(fl), false), Some(json!(fl)));
        assert_eq!(number_json(Number::Float(f64::NAN), false), None);
        assert_eq!(number_json(Number::Float(f64::INFINITY), true), None);
    }

    #[test]
    fn text_values_split_except_long_texts() {
        assert_eq!(
            text_values("ORIGINAL\\PRIMARY\\AXIAL", Vr::CS),
            vec![json!("ORIGINAL"), json!("PRIMARY"), json!("AXIAL")]
        );
        assert_eq!(text_values("  a\\b", Vr::LT), vec![json!("  a\\b")]);
        assert_eq!(
            text_values("http://x/a\\b", Vr::UR),
            vec![json!("http://x/a\\b")]
        );
    }

    #[test]
    fn elements_of_every_kind() {
        let file = crate::read_bytes(&synthetic(), crate::ReadMode::Full).unwrap();
        let j = to_json(&file, &|path| {
            let hex: Vec<String> = path.iter().map(|t| t.hex()).collect();
            format!("bulk/{}", hex.join("/"))
        });
        assert_eq!(j["00280010"], json!({"vr": "US", "Value": [16]}));
        assert_eq!(j["00281050"], json!({"vr": "SS", "Value": [-2, 40]}));
        assert_eq!(j["00209999"], json!({"vr": "SL", "Value": [-70000]}));
        assert_eq!(
            j["00189999"],
            json!({"vr": "FL", "Value": [0.5, -180.5358]})
        );
        assert_eq!(j["00189997"], json!({"vr": "FD", "Value": [0.1, -1e300]}));
        assert_eq!(j["00201041"], json!({"vr": "DS", "Value": [-12.5]}));
        assert_eq!(j["00080060"], json!({"vr": "CS", "Value": ["CT"]}));
        assert_eq!(j["00100010"], json!({"vr": "PN"}));
        assert_eq!(
            j["00089999"],
            json!({"vr": "AT", "Value": ["00100010", "7FE00010"]})
        );
        assert_eq!(
            j["00091010"],
            json!({"vr": "OB", "InlineBinary": "AQIDAA=="})
        );
        assert_eq!(j["00091011"], json!({"vr": "OB"}));
        assert_eq!(
            j["00091012"],
            json!({"vr": "OB", "BulkDataURI": "bulk/00091012"})
        );
        // NaN has no JSON form: the attribute is marked as bulk data.
        assert_eq!(
            j["00189998"],
            json!({"vr": "FD", "BulkDataURI": "bulk/00189998"})
        );
        assert_eq!(
            j["00400275"],
            json!({"vr": "SQ", "Value": [{"00400009": {"vr": "SH", "Value": ["A1"]}}, {}]})
        );
        assert_eq!(j["00400260"], json!({"vr": "SQ"}));
        // Group lengths are left out; keys are sorted.
        assert!(j.get("00080000").is_none());
        let keys: Vec<&String> = j.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn bulk_data_uri_gets_the_tag_path() {
        let mut item = Vec::new();
        put(&mut item, 0x0009, 0x1012, b"OB", &[7u8; 2000]);
        let mut seq = Vec::new();
        seq.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        seq.extend_from_slice(&(item.len() as u32).to_le_bytes());
        seq.extend_from_slice(&item);
        let mut bytes = Vec::new();
        put(&mut bytes, 0x0040, 0x0275, b"SQ", &seq);
        let file = crate::read_bytes(&bytes, crate::ReadMode::Full).unwrap();
        let j = to_json(&file, &|path| format!("{path:?}"));
        assert_eq!(
            j["00400275"]["Value"][0]["00091012"]["BulkDataURI"],
            json!("[(0040,0275), (0009,1012)]")
        );
    }

    #[test]
    fn encapsulated_pixel_data_is_ob_bulk_data() {
        // Implicit VR little endian: the dictionary says "OB or OW" for Pixel Data.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&[0x28, 0x00, 0x10, 0x00, 2, 0, 0, 0, 16, 0]);
        bytes.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, 0xFF, 0xFF, 0xFF, 0xFF]);
        for fragment in [&[][..], &[1, 2, 3, 4][..]] {
            bytes.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            bytes.extend_from_slice(&(fragment.len() as u32).to_le_bytes());
            bytes.extend_from_slice(fragment);
        }
        bytes.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let file = crate::read_bytes(&bytes, crate::ReadMode::Full).unwrap();
        assert!(matches!(
            file.pixel_data().unwrap().value,
            Value::Encapsulated { .. }
        ));
        let j = to_json(&file, &|_| "px".into());
        assert_eq!(j["00280010"], json!({"vr": "US", "Value": [16]}));
        assert_eq!(j["7FE00010"], json!({"vr": "OB", "BulkDataURI": "px"}));
    }

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

    /// Explicit VR little endian data set with elements of each kind, no meta.
    fn synthetic() -> Vec<u8> {
        let mut out = Vec::new();
        let le = |vals: &[u16]| -> Vec<u8> { vals.iter().flat_map(|v| v.to_le_bytes()).collect() };
        put(&mut out, 0x0008, 0x0000, b"UL", &100u32.to_le_bytes());
        put(&mut out, 0x0008, 0x0060, b"CS", b"CT");
        put(
            &mut out,
            0x0008,
            0x9999,
            b"AT",
            &le(&[0x0010, 0x0010, 0x7FE0, 0x0010]),
        );
        put(&mut out, 0x0009, 0x1010, b"OB", &[1, 2, 3, 0]);
        put(&mut out, 0x0009, 0x1011, b"OB", &[]);
        put(&mut out, 0x0009, 0x1012, b"OB", &[0u8; 1026]);
        put(&mut out, 0x0010, 0x0010, b"PN", b"");
        let fd: Vec<u8> = [0.1f64, -1e300]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        put(&mut out, 0x0018, 0x9997, b"FD", &fd);
        let fd: Vec<u8> = [1.0f64, f64::NAN]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        put(&mut out, 0x0018, 0x9998, b"FD", &fd);
        let fl: Vec<u8> = [0.5f32, -180.5358]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        put(&mut out, 0x0018, 0x9999, b"FL", &fl);
        put(&mut out, 0x0020, 0x1041, b"DS", b"-12.5 ");
        put(&mut out, 0x0020, 0x9999, b"SL", &(-70000i32).to_le_bytes());
        put(&mut out, 0x0028, 0x0010, b"US", &16u16.to_le_bytes());
        put(&mut out, 0x0028, 0x1050, b"SS", &le(&[(-2i16) as u16, 40]));
        put(&mut out, 0x0040, 0x0260, b"SQ", &[]);
        let mut first = Vec::new();
        put(&mut first, 0x0040, 0x0009, b"SH", b"A1");
        let mut items = Vec::new();
        for item in [first, Vec::new()] {
            items.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            items.extend_from_slice(&(item.len() as u32).to_le_bytes());
            items.extend_from_slice(&item);
        }
        put(&mut out, 0x0040, 0x0275, b"SQ", &items);
        out
    }
}
