//! Applying the profile to a data set: every element at every depth of every sequence gets its
//! row's action, private elements go unless retained as safe, the patient gets a pseudonym,
//! and the data set says how it was de-identified (PatientIdentityRemoved, the method and its
//! code sequence). What was done is counted per attribute, for the job's report.

use super::profile::{
    table, Action, DeidOption, Profile, BASIC_PROFILE_CODE, CLEAN_PIXEL_DATA_CODE,
};
use super::{dates, uids};
use crate::dataset::{DataSet, Element, Value};
use crate::dictionary;
use crate::edit;
use crate::tag::{self, Tag};
use crate::vr::Vr;
use std::collections::{BTreeMap, HashSet};

const PATIENT_IDENTITY_REMOVED: Tag = Tag(0x0012, 0x0062);
const DEIDENTIFICATION_METHOD: Tag = Tag(0x0012, 0x0063);
const DEIDENTIFICATION_METHOD_CODE_SEQUENCE: Tag = Tag(0x0012, 0x0064);
const LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED: Tag = Tag(0x0028, 0x0303);
const CODE_VALUE: Tag = Tag(0x0008, 0x0100);
const CODING_SCHEME_DESIGNATOR: Tag = Tag(0x0008, 0x0102);
const CODE_MEANING: Tag = Tag(0x0008, 0x0104);

/// Private elements that carry nothing identifying, kept under Retain Safe Private: each is
/// named by its private creator, its group and the low byte of its element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SafePrivate {
    entries: HashSet<(String, u16, u8)>,
}

impl SafePrivate {
    /// Lines of `(gggg,xxee) PRIVATE CREATOR`, as PS3.15 Table E.3.10-1 prints them; `#`
    /// starts a comment.
    pub fn parse(text: &str) -> Result<SafePrivate, String> {
        let mut entries = HashSet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = || {
                format!(
                    "safe private list, line {}: expected (gggg,xxee) CREATOR",
                    n + 1
                )
            };
            let (tag, creator) = line.split_once(char::is_whitespace).ok_or_else(bad)?;
            let inner = tag
                .strip_prefix('(')
                .and_then(|t| t.strip_suffix(')'))
                .ok_or_else(bad)?;
            let (group, element) = inner.split_once(',').ok_or_else(bad)?;
            let group = u16::from_str_radix(group, 16).map_err(|_| bad())?;
            let low = element
                .strip_prefix("xx")
                .or_else(|| element.strip_prefix("XX"))
                .and_then(|e| u8::from_str_radix(e, 16).ok())
                .ok_or_else(bad)?;
            if group % 2 == 0 {
                return Err(bad());
            }
            entries.insert((creator.trim().to_ascii_uppercase(), group, low));
        }
        Ok(SafePrivate { entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn contains(&self, creator: &str, group: u16, low: u8) -> bool {
        self.entries
            .contains(&(creator.trim().to_ascii_uppercase(), group, low))
    }
}

/// What a de-identification job holds for all of its instances.
#[derive(Clone, Debug)]
pub struct Settings {
    pub profile: Profile,
    /// The project key: UIDs, pseudonyms and date shifts derive from it.
    pub key: Vec<u8>,
    pub safe_private: SafePrivate,
}

/// What one patient becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub patient_id: String,
    pub patient_name: String,
    /// Days every date moves under Retain Modified Dates.
    pub date_shift: i64,
}

/// What was done to an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Removed,
    Emptied,
    /// A dummy value, or the pseudonym.
    Replaced,
    NewUid,
    /// Dates moved by the patient's shift.
    Shifted,
    /// Identifying words taken out of the text.
    Cleaned,
    /// Set by the de-identification itself (PatientIdentityRemoved and the method).
    Added,
}

/// What a de-identification did: per attribute (by tag), how often each outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub attributes: BTreeMap<Tag, BTreeMap<Outcome, u64>>,
    /// Private elements removed.
    pub private_removed: u64,
}

impl Changes {
    fn note(&mut self, tag: Tag, outcome: Outcome) {
        *self
            .attributes
            .entry(tag)
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }

    pub fn merge(&mut self, other: &Changes) {
        for (tag, outcomes) in &other.attributes {
            let mine = self.attributes.entry(*tag).or_default();
            for (outcome, n) in outcomes {
                *mine.entry(*outcome).or_default() += n;
            }
        }
        self.private_removed += other.private_removed;
    }
}

/// The attribute's name for a report: its keyword, else the table's name for it.
pub fn attribute_name(t: Tag) -> String {
    dictionary::keyword(t)
        .map(str::to_string)
        .or_else(|| table().row(t).map(|r| r.name.clone()))
        .unwrap_or_else(|| t.to_string())
}

/// Values that identify the patient and may turn up in free text (Clean Descriptors takes
/// them out): names, IDs and the like of the top level, before anything changed.
fn identifiers(ds: &DataSet) -> Vec<String> {
    const SOURCES: &[Tag] = &[
        tag::PATIENT_NAME,
        tag::PATIENT_ID,
        tag::ACCESSION_NUMBER,
        tag::REFERRING_PHYSICIAN_NAME,
        Tag(0x0010, 0x1000), // Other Patient IDs
        Tag(0x0010, 0x1001), // Other Patient Names
        Tag(0x0010, 0x1005), // Patient's Birth Name
        Tag(0x0010, 0x1060), // Patient's Mother's Birth Name
        Tag(0x0010, 0x1040), // Patient's Address
        Tag(0x0010, 0x2154), // Patient's Telephone Numbers
        Tag(0x0010, 0x1090), // Medical Record Locator
        Tag(0x0010, 0x2297), // Responsible Person
        Tag(0x0008, 0x1050), // Performing Physician's Name
        Tag(0x0008, 0x1060), // Name of Physician(s) Reading Study
        Tag(0x0008, 0x1070), // Operators' Name
        Tag(0x0032, 0x1032), // Requesting Physician
        tag::PATIENT_BIRTH_DATE,
    ];
    let mut found: Vec<String> = Vec::new();
    for &t in SOURCES {
        for value in ds.texts(t) {
            let mut add = |v: &str| {
                let v = v.trim();
                if v.chars().count() >= 3 && !found.iter().any(|f| f.eq_ignore_ascii_case(v)) {
                    found.push(v.to_string());
                }
            };
            add(&value);
            if ds.get(t).map(|e| e.vr) == Some(Vr::PN) {
                value.split(['^', '=', ' ']).for_each(&mut add);
            }
        }
    }
    // The longest first, so a whole name goes before its parts.
    found.sort_by_key(|v| std::cmp::Reverse(v.len()));
    found
}

struct Walk<'a> {
    settings: &'a Settings,
    subject: &'a Subject,
    identifiers: Vec<String>,
    changes: Changes,
}

/// De-identifies `ds` (an instance's data set) in place.
pub fn deidentify(
    settings: &Settings,
    subject: &Subject,
    ds: &mut DataSet,
    pixels_cleaned: bool,
) -> Changes {
    let mut walk = Walk {
        settings,
        subject,
        identifiers: identifiers(ds),
        changes: Changes::default(),
    };
    walk.data_set(ds, true);
    walk.describe(ds, pixels_cleaned);
    walk.changes
}

fn pad(mut value: Vec<u8>, vr: Vr) -> Vec<u8> {
    if value.len() % 2 == 1 {
        value.push(if vr == Vr::UI || !vr.is_string() {
            0
        } else {
            b' '
        });
    }
    value
}

/// A dummy value of the VR, never empty.
fn dummy(vr: Vr) -> Vec<u8> {
    let text: &[u8] = match vr {
        Vr::DA => b"19000101",
        Vr::DT => b"19000101000000",
        Vr::TM => b"000000",
        Vr::AS => b"000Y",
        Vr::DS | Vr::IS => b"0",
        Vr::UR => b"urn:x-anonymous",
        Vr::US | Vr::SS => return vec![0; 2],
        Vr::UL | Vr::SL | Vr::FL | Vr::AT | Vr::OF | Vr::OL => return vec![0; 4],
        Vr::FD | Vr::SV | Vr::UV | Vr::OD | Vr::OV => return vec![0; 8],
        Vr::OB | Vr::OW | Vr::UN => return vec![0; 2],
        _ => b"ANONYMOUS",
    };
    pad(text.to_vec(), vr)
}

impl Walk<'_> {
    fn data_set(&mut self, ds: &mut DataSet, top: bool) {
        let creators: BTreeMap<(u16, u16), String> = ds
            .elements
            .iter()
            .filter(|e| e.tag.is_private() && (0x0010..=0x00FF).contains(&e.tag.1))
            .map(|e| ((e.tag.0, e.tag.1), ds.element_text(e).unwrap_or_default()))
            .collect();
        let mut kept_blocks: HashSet<(u16, u16)> = HashSet::new();
        let charset = ds.charset.clone();
        let elements = std::mem::take(&mut ds.elements);
        let mut kept = Vec::with_capacity(elements.len());
        for mut element in elements {
            let t = element.tag;
            if t.1 == 0x0000 {
                continue; // group lengths: they would be wrong afterwards
            }
            if t.is_private() {
                if (0x0010..=0x00FF).contains(&t.1) {
                    kept.push(element); // decided below, once its block is known
                    continue;
                }
                let block = (t.0, t.1 >> 8);
                let safe = self.settings.profile.has(DeidOption::RetainSafePrivate)
                    && creators.get(&block).is_some_and(|creator| {
                        self.settings
                            .safe_private
                            .contains(creator, t.0, (t.1 & 0xFF) as u8)
                    });
                if safe {
                    kept_blocks.insert(block);
                    if let Value::Sequence(items) = &mut element.value {
                        for item in items {
                            self.data_set(item, false);
                        }
                    }
                    kept.push(element);
                } else {
                    self.changes.private_removed += 1;
                }
                continue;
            }
            if top && (t == tag::PATIENT_NAME || t == tag::PATIENT_ID) {
                continue; // the pseudonym, set in `describe`
            }
            if top && is_method_attribute(t) {
                continue; // set anew in `describe`
            }
            let Some(row) = table().row(t) else {
                if let Value::Sequence(items) = &mut element.value {
                    for item in items {
                        self.data_set(item, false);
                    }
                }
                kept.push(element);
                continue;
            };
            let action = self.settings.profile.action(row);
            if self.element(&mut element, action, &charset) {
                kept.push(element);
            }
        }
        // A private creator stays while an element of its block does.
        kept.retain(|e| {
            let t = e.tag;
            if !(t.is_private() && (0x0010..=0x00FF).contains(&t.1)) {
                return true;
            }
            let keep = kept_blocks.contains(&(t.0, t.1));
            if !keep {
                self.changes.private_removed += 1;
            }
            keep
        });
        ds.elements = kept;
    }

    /// Applies `action` to one element; whether it stays.
    fn element(
        &mut self,
        element: &mut Element,
        action: Action,
        charset: &std::sync::Arc<crate::charset::SpecificCharacterSet>,
    ) -> bool {
        let t = element.tag;
        let vr = match element.vr {
            Vr::UN => dictionary::implicit_vr(t),
            vr => vr,
        };
        if let Value::Sequence(items) = &mut element.value {
            match action {
                Action::Remove => {
                    self.changes.note(t, Outcome::Removed);
                    return false;
                }
                Action::Empty => {
                    if !items.is_empty() {
                        items.clear();
                        self.changes.note(t, Outcome::Emptied);
                    }
                }
                // Kept, dummied, cleaned or with new UIDs: the items are de-identified in turn.
                _ => {
                    for item in items {
                        self.data_set(item, false);
                    }
                }
            }
            return true;
        }
        match action {
            Action::Keep => {}
            Action::Remove => {
                self.changes.note(t, Outcome::Removed);
                return false;
            }
            Action::Empty => {
                if element.value_length() > 0 {
                    element.value = Value::Bytes(Vec::new());
                    self.changes.note(t, Outcome::Emptied);
                }
            }
            Action::Dummy => {
                if vr == Vr::UI {
                    return self.element(element, Action::NewUid, charset);
                }
                element.value = Value::Bytes(dummy(vr));
                self.changes.note(t, Outcome::Replaced);
            }
            Action::NewUid => {
                let Value::Bytes(bytes) = &element.value else {
                    element.value = Value::Bytes(Vec::new());
                    self.changes.note(t, Outcome::Emptied);
                    return true;
                };
                let text = String::from_utf8_lossy(bytes);
                let values: Vec<String> = text
                    .trim_end_matches(['\0', ' '])
                    .split('\\')
                    .map(|v| v.trim_matches(['\0', ' ']))
                    .map(|v| {
                        // The standard's own UIDs (classes, syntaxes, codes) say nothing of anyone.
                        if v.is_empty() || v.starts_with("1.2.840.10008.") {
                            v.to_string()
                        } else {
                            uids::derive(&self.settings.key, v)
                        }
                    })
                    .collect();
                let new = pad(values.join("\\").into_bytes(), Vr::UI);
                if new != *bytes {
                    element.value = Value::Bytes(new);
                    self.changes.note(t, Outcome::NewUid);
                }
            }
            Action::Clean => self.clean(element, vr, charset),
        }
        true
    }

    fn clean(
        &mut self,
        element: &mut Element,
        vr: Vr,
        charset: &std::sync::Arc<crate::charset::SpecificCharacterSet>,
    ) {
        let t = element.tag;
        let Value::Bytes(bytes) = &element.value else {
            if vr.is_string() {
                // Text too long to have been read: nothing can vouch for it.
                element.value = Value::Bytes(dummy(vr));
                self.changes.note(t, Outcome::Replaced);
            }
            return;
        };
        if vr == Vr::DA || vr == Vr::DT {
            let text = String::from_utf8_lossy(bytes);
            let shifted: Option<Vec<String>> = text
                .trim_end_matches(['\0', ' '])
                .split('\\')
                .map(|v| {
                    let v = v.trim();
                    match (v.is_empty(), vr) {
                        (true, _) => Some(String::new()),
                        (_, Vr::DA) => dates::shift_date(v, self.subject.date_shift),
                        _ => dates::shift_date_time(v, self.subject.date_shift),
                    }
                })
                .collect();
            match shifted {
                Some(values) => {
                    let new = pad(values.join("\\").into_bytes(), vr);
                    if new != *bytes {
                        element.value = Value::Bytes(new);
                        self.changes.note(t, Outcome::Shifted);
                    }
                }
                None => {
                    // Not a date that can be moved: it cannot stay as it is either.
                    element.value = Value::Bytes(Vec::new());
                    self.changes.note(t, Outcome::Emptied);
                }
            }
            return;
        }
        if !vr.is_string() || vr == Vr::TM {
            return; // times of day and binary values (overlays, curves) stay
        }
        let text = DataSet::new(charset.clone(), false)
            .element_text(element)
            .unwrap_or_default();
        let cleaned = scrub(&text, &self.identifiers);
        if cleaned == text {
            return;
        }
        let encoded = if cleaned.is_ascii() || charset.is_utf8_compatible() {
            pad(cleaned.into_bytes(), vr)
        } else {
            dummy(vr) // re-encoding in the source's character set is not ours to guess
        };
        element.value = Value::Bytes(encoded);
        self.changes.note(t, Outcome::Cleaned);
    }

    /// The pseudonym, and how the data set was de-identified (PS3.15 E.1.1 and CID 7050).
    fn describe(&mut self, ds: &mut DataSet, pixels_cleaned: bool) {
        let subject = self.subject;
        for (t, value) in [
            (tag::PATIENT_NAME, subject.patient_name.as_str()),
            (tag::PATIENT_ID, subject.patient_id.as_str()),
        ] {
            // A pseudonym outside its character set falls back to its code.
            if edit::set_text(ds, t, value).is_err() {
                let _ = edit::set_text(ds, t, "ANONYMOUS");
            }
            self.changes.note(t, Outcome::Replaced);
        }
        let profile = &self.settings.profile;
        let mut codes = vec![BASIC_PROFILE_CODE];
        if pixels_cleaned {
            codes.push(CLEAN_PIXEL_DATA_CODE);
        }
        codes.extend(profile.options().map(DeidOption::code));
        let method: Vec<String> = std::iter::once("Lightbox PS3.15 E.1 Basic Profile".to_string())
            .chain(profile.options().map(|o| o.name().to_string()))
            .chain(pixels_cleaned.then(|| "clean-pixel-data".to_string()))
            .collect();
        let temporal = if profile.has(DeidOption::RetainFullDates) {
            "UNMODIFIED"
        } else if profile.has(DeidOption::RetainModifiedDates) {
            "MODIFIED"
        } else {
            "REMOVED"
        };
        let _ = edit::set_text(ds, PATIENT_IDENTITY_REMOVED, "YES");
        let _ = edit::set_text(ds, DEIDENTIFICATION_METHOD, &method.join("\\"));
        let _ = edit::set_text(ds, LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED, temporal);
        let items = codes
            .into_iter()
            .map(|(value, meaning)| {
                let mut item = DataSet::new(ds.charset.clone(), ds.big_endian);
                let _ = edit::set_text(&mut item, CODE_VALUE, value);
                let _ = edit::set_text(&mut item, CODING_SCHEME_DESIGNATOR, "DCM");
                let _ = edit::set_text(&mut item, CODE_MEANING, meaning);
                item
            })
            .collect();
        let sequence = Element {
            tag: DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
            vr: Vr::SQ,
            value: Value::Sequence(items),
        };
        match ds.elements.binary_search_by_key(&sequence.tag, |e| e.tag) {
            Ok(at) => ds.elements[at] = sequence,
            Err(at) => ds.elements.insert(at, sequence),
        }
        for t in [
            PATIENT_IDENTITY_REMOVED,
            DEIDENTIFICATION_METHOD,
            DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
            LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
        ] {
            self.changes.note(t, Outcome::Added);
        }
    }
}

fn is_method_attribute(t: Tag) -> bool {
    matches!(
        t,
        PATIENT_IDENTITY_REMOVED
            | DEIDENTIFICATION_METHOD
            | DEIDENTIFICATION_METHOD_CODE_SEQUENCE
            | LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED
    )
}

/// `text` with every identifier in it (ASCII case ignored) replaced by `***`.
fn scrub(text: &str, identifiers: &[String]) -> String {
    let mut out = text.to_string();
    for id in identifiers {
        let needle = id.to_ascii_lowercase();
        let mut from = 0;
        loop {
            let haystack = out.to_ascii_lowercase();
            let Some(at) = haystack[from..].find(&needle).map(|i| i + from) else {
                break;
            };
            out.replace_range(at..at + needle.len(), "***");
            from = at + 3;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charset::SpecificCharacterSet;
    use std::sync::Arc;

    fn text_element(ds: &mut DataSet, t: Tag, value: &str) {
        edit::set_text(ds, t, value).unwrap();
    }

    fn settings(options: &[&str]) -> Settings {
        Settings {
            profile: Profile::from_names(options).unwrap(),
            key: b"test key".to_vec(),
            safe_private: SafePrivate::parse("(0009,xx01) SAFE VENDOR").unwrap(),
        }
    }

    fn subject() -> Subject {
        Subject {
            patient_id: "ANON1".into(),
            patient_name: "ANON^1".into(),
            date_shift: -10,
        }
    }

    fn sample() -> DataSet {
        let charset = Arc::new(SpecificCharacterSet::default());
        let mut ds = DataSet::new(charset.clone(), false);
        text_element(&mut ds, tag::PATIENT_NAME, "Doe^Jane");
        text_element(&mut ds, tag::PATIENT_ID, "P123");
        text_element(&mut ds, tag::STUDY_DATE, "20240131");
        text_element(&mut ds, tag::STUDY_DESCRIPTION, "CT for Jane Doe P123");
        text_element(&mut ds, tag::STUDY_INSTANCE_UID, "1.2.3.4");
        text_element(&mut ds, tag::SOP_CLASS_UID, "1.2.840.10008.5.1.4.1.1.2");
        text_element(&mut ds, Tag(0x0010, 0x1010), "042Y");
        let mut item = DataSet::new(charset, false);
        text_element(&mut item, Tag(0x0008, 0x1155), "1.2.3.4.5");
        text_element(&mut item, tag::PATIENT_NAME, "Doe^Jane");
        ds.elements.push(Element {
            tag: Tag(0x0008, 0x1140),
            vr: Vr::SQ,
            value: Value::Sequence(vec![item]),
        });
        for (t, value) in [
            (Tag(0x0009, 0x0010), "SAFE VENDOR"),
            (Tag(0x0009, 0x1001), "kept"),
            (Tag(0x0009, 0x1002), "gone"),
            (Tag(0x0011, 0x0010), "OTHER"),
            (Tag(0x0011, 0x1001), "gone"),
        ] {
            ds.elements.push(Element {
                tag: t,
                vr: Vr::LO,
                value: Value::Bytes(pad(value.as_bytes().to_vec(), Vr::LO)),
            });
        }
        ds.elements.sort_by_key(|e| e.tag);
        ds
    }

    #[test]
    fn the_basic_profile_at_every_depth() {
        let mut ds = sample();
        let changes = deidentify(&settings(&[]), &subject(), &mut ds, false);
        assert_eq!(ds.text(tag::PATIENT_NAME).unwrap(), "ANON^1");
        assert_eq!(ds.text(tag::PATIENT_ID).unwrap(), "ANON1");
        assert!(ds.text(tag::STUDY_DATE).is_none() && ds.get(tag::STUDY_DATE).is_some());
        assert!(ds.get(tag::STUDY_DESCRIPTION).is_none());
        assert!(ds.get(Tag(0x0010, 0x1010)).is_none());
        let study = ds.text(tag::STUDY_INSTANCE_UID).unwrap();
        assert_eq!(study, uids::derive(b"test key", "1.2.3.4"));
        assert_eq!(
            ds.text(tag::SOP_CLASS_UID).unwrap(),
            "1.2.840.10008.5.1.4.1.1.2"
        );
        let item = &ds.items(Tag(0x0008, 0x1140))[0];
        assert_eq!(
            item.text(Tag(0x0008, 0x1155)).unwrap(),
            uids::derive(b"test key", "1.2.3.4.5")
        );
        assert!(item.text(tag::PATIENT_NAME).is_none());
        assert!(ds.elements.iter().all(|e| !e.tag.is_private()));
        assert_eq!(changes.private_removed, 5);
        assert_eq!(ds.text(PATIENT_IDENTITY_REMOVED).unwrap(), "YES");
        let codes = ds.items(DEIDENTIFICATION_METHOD_CODE_SEQUENCE);
        assert_eq!(codes.len(), 1);
        assert_eq!(codes[0].text(CODE_VALUE).unwrap(), "113100");
        assert_eq!(
            ds.text(LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED).unwrap(),
            "REMOVED"
        );
        assert_eq!(
            changes.attributes[&tag::PATIENT_NAME],
            BTreeMap::from([(Outcome::Replaced, 1), (Outcome::Emptied, 1)])
        );
    }

    #[test]
    fn options_keep_shift_and_clean() {
        let mut ds = sample();
        let s = settings(&[
            "retain-dates",
            "clean-descriptors",
            "retain-patient-characteristics",
            "retain-safe-private",
        ]);
        deidentify(&s, &subject(), &mut ds, true);
        assert_eq!(ds.text(tag::STUDY_DATE).unwrap(), "20240121");
        assert_eq!(
            ds.text(tag::STUDY_DESCRIPTION).unwrap(),
            "CT for *** *** ***"
        );
        assert_eq!(ds.text(Tag(0x0010, 0x1010)).unwrap(), "042Y");
        let private: Vec<Tag> = ds
            .elements
            .iter()
            .filter(|e| e.tag.is_private())
            .map(|e| e.tag)
            .collect();
        assert_eq!(private, [Tag(0x0009, 0x0010), Tag(0x0009, 0x1001)]);
        assert_eq!(
            ds.text(LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED).unwrap(),
            "MODIFIED"
        );
        let codes: Vec<String> = ds
            .items(DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
            .iter()
            .map(|i| i.text(CODE_VALUE).unwrap())
            .collect();
        assert_eq!(
            codes,
            ["113100", "113101", "113111", "113108", "113107", "113105"]
        );
    }

    #[test]
    fn safe_private_lists_are_checked() {
        assert_eq!(
            SafePrivate::parse("# vendor\n(0019,xx0A) GEMS_ACQU_01\n")
                .unwrap()
                .len(),
            1
        );
        assert!(SafePrivate::parse("(0018,xx0A) EVEN GROUP").is_err());
        assert!(SafePrivate::parse("0019,xx0A GEMS").is_err());
    }
}
