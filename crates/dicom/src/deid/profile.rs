//! The confidentiality profile itself: PS3.15 Table E.1-1 (kept as text beside this file, one
//! attribute per line, as the standard prints it), its options, and the action each attribute
//! gets under a chosen set of options.

use crate::tag::Tag;
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

/// The options of PS3.15 E.3, each a column of Table E.1-1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeidOption {
    RetainSafePrivate,
    RetainUids,
    RetainDeviceIdentity,
    RetainInstitutionIdentity,
    RetainPatientCharacteristics,
    RetainFullDates,
    /// Retain Longitudinal Temporal Information with Modified Dates: every date of a patient
    /// moved by the same number of days.
    RetainModifiedDates,
    CleanDescriptors,
    CleanStructuredContent,
    CleanGraphics,
}

impl DeidOption {
    pub const ALL: [DeidOption; 10] = [
        DeidOption::RetainSafePrivate,
        DeidOption::RetainUids,
        DeidOption::RetainDeviceIdentity,
        DeidOption::RetainInstitutionIdentity,
        DeidOption::RetainPatientCharacteristics,
        DeidOption::RetainFullDates,
        DeidOption::RetainModifiedDates,
        DeidOption::CleanDescriptors,
        DeidOption::CleanStructuredContent,
        DeidOption::CleanGraphics,
    ];

    /// The name users give (`--option retain-dates`).
    pub fn name(self) -> &'static str {
        match self {
            DeidOption::RetainSafePrivate => "retain-safe-private",
            DeidOption::RetainUids => "retain-uids",
            DeidOption::RetainDeviceIdentity => "retain-device-identity",
            DeidOption::RetainInstitutionIdentity => "retain-institution-identity",
            DeidOption::RetainPatientCharacteristics => "retain-patient-characteristics",
            DeidOption::RetainFullDates => "retain-full-dates",
            DeidOption::RetainModifiedDates => "retain-dates",
            DeidOption::CleanDescriptors => "clean-descriptors",
            DeidOption::CleanStructuredContent => "clean-structured-content",
            DeidOption::CleanGraphics => "clean-graphics",
        }
    }

    pub fn parse(name: &str) -> Option<DeidOption> {
        let name = name.trim().to_ascii_lowercase();
        if name == "retain-modified-dates" {
            return Some(DeidOption::RetainModifiedDates);
        }
        DeidOption::ALL.into_iter().find(|o| o.name() == name)
    }

    /// The column of the table file.
    fn column(self) -> &'static str {
        match self {
            DeidOption::RetainSafePrivate => "safe",
            DeidOption::RetainUids => "uids",
            DeidOption::RetainDeviceIdentity => "device",
            DeidOption::RetainInstitutionIdentity => "institution",
            DeidOption::RetainPatientCharacteristics => "patient",
            DeidOption::RetainFullDates => "full-dates",
            DeidOption::RetainModifiedDates => "modified-dates",
            DeidOption::CleanDescriptors => "descriptors",
            DeidOption::CleanStructuredContent => "structured",
            DeidOption::CleanGraphics => "graphics",
        }
    }

    /// Its code in the De-identification Method Code Sequence (CID 7050) and the code's meaning.
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            DeidOption::RetainSafePrivate => ("113111", "Retain Safe Private Option"),
            DeidOption::RetainUids => ("113110", "Retain UIDs Option"),
            DeidOption::RetainDeviceIdentity => ("113109", "Retain Device Identity Option"),
            DeidOption::RetainInstitutionIdentity => {
                ("113112", "Retain Institution Identity Option")
            }
            DeidOption::RetainPatientCharacteristics => {
                ("113108", "Retain Patient Characteristics Option")
            }
            DeidOption::RetainFullDates => (
                "113106",
                "Retain Longitudinal Temporal Information Full Dates Option",
            ),
            DeidOption::RetainModifiedDates => (
                "113107",
                "Retain Longitudinal Temporal Information Modified Dates Option",
            ),
            DeidOption::CleanDescriptors => ("113105", "Clean Descriptors Option"),
            DeidOption::CleanStructuredContent => ("113104", "Clean Structured Content Option"),
            DeidOption::CleanGraphics => ("113103", "Clean Graphics Option"),
        }
    }
}

/// The basic profile's code and meaning.
pub const BASIC_PROFILE_CODE: (&str, &str) =
    ("113100", "Basic Application Confidentiality Profile");
/// The Clean Pixel Data Option's (burned-in text blanked).
pub const CLEAN_PIXEL_DATA_CODE: (&str, &str) = ("113101", "Clean Pixel Data Option");

/// What happens to one attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// D: a dummy value of its VR (a sequence keeps its items, each de-identified in turn).
    Dummy,
    /// Z: present, empty.
    Empty,
    /// X: removed.
    Remove,
    /// K: kept (a sequence's items are still de-identified).
    Keep,
    /// C: cleaned: dates moved, identifying words taken out of text, items de-identified.
    Clean,
    /// U: a new UID derived from the old one (a sequence's UIDs likewise).
    NewUid,
}

impl Action {
    fn parse(code: &str) -> Option<Action> {
        Some(match code.trim_end_matches('*') {
            "D" => Action::Dummy,
            "Z" => Action::Empty,
            "X" => Action::Remove,
            "K" => Action::Keep,
            "C" => Action::Clean,
            "U" => Action::NewUid,
            _ => return None,
        })
    }

    /// Where the table leaves the choice to the attribute's type in the IOD (X/Z, Z/D, X/D,
    /// X/Z/D, X/Z/U*), the one that keeps any IOD valid: a dummy for a type 1 attribute, an
    /// empty one for type 2, so nothing required goes missing.
    fn of_combination(code: &str) -> Option<Action> {
        let actions: Vec<Action> = code.split('/').map(Action::parse).collect::<Option<_>>()?;
        [Action::Dummy, Action::NewUid, Action::Empty, Action::Remove]
            .into_iter()
            .find(|a| actions.contains(a))
    }
}

/// A row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The tag as the table prints it, `(0008,0050)` or `(60xx,3000)`.
    pub tag: &'static str,
    /// The basic profile's code as printed (`X/Z/D`), and the action it resolves to.
    pub basic_code: &'static str,
    pub basic: Action,
    /// The options that change the action, with their codes as printed.
    pub options: Vec<(DeidOption, &'static str)>,
    pub name: String,
    /// The tag's bits, and which of them the row fixes (0 bits are the x digits).
    value: u32,
    mask: u32,
}

impl Row {
    pub fn matches(&self, tag: Tag) -> bool {
        tag.as_u32() & self.mask == self.value
    }
}

/// Table E.1-1, read from its text.
pub struct Table {
    rows: Vec<Row>,
    exact: HashMap<u32, usize>,
    /// Rows of repeating groups (curves, overlays).
    patterns: Vec<usize>,
}

const TABLE_TEXT: &str = include_str!("table_e1_1.txt");

fn parse_tag(text: &'static str) -> Option<(u32, u32)> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let (group, element) = inner.split_once(',')?;
    if group.len() != 4 || element.len() != 4 {
        return None;
    }
    let (mut value, mut mask) = (0u32, 0u32);
    for c in group.chars().chain(element.chars()) {
        value <<= 4;
        mask <<= 4;
        if c != 'x' {
            value |= c.to_digit(16)?;
            mask |= 0xF;
        }
    }
    Some((value, mask))
}

impl Table {
    fn parse(text: &'static str) -> Result<Table, String> {
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| format!("table line {}: {what}: {line}", n + 1);
            let words: Vec<&'static str> = line.split_whitespace().collect();
            let [tag, basic_code, ..] = words[..] else {
                return Err(bad("a tag and an action"));
            };
            let (value, mask) = parse_tag(tag).ok_or_else(|| bad("not a tag"))?;
            let basic = Action::of_combination(basic_code).ok_or_else(|| bad("not an action"))?;
            let mut options = Vec::new();
            let mut name_at = 2;
            while let Some((column, code)) = words.get(name_at).and_then(|w| w.split_once('=')) {
                let option = DeidOption::ALL
                    .into_iter()
                    .find(|o| o.column() == column)
                    .ok_or_else(|| bad("unknown option"))?;
                Action::parse(code).ok_or_else(|| bad("not an option action"))?;
                options.push((option, code));
                name_at += 1;
            }
            rows.push(Row {
                tag,
                basic_code,
                basic,
                options,
                name: words[name_at..].join(" "),
                value,
                mask,
            });
        }
        let mut exact = HashMap::new();
        let mut patterns = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            if row.mask == u32::MAX {
                if exact.insert(row.value, i).is_some() {
                    return Err(format!("{} is in the table twice", row.tag));
                }
            } else {
                patterns.push(i);
            }
        }
        Ok(Table {
            rows,
            exact,
            patterns,
        })
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The row of a standard attribute, if the table lists it.
    pub fn row(&self, tag: Tag) -> Option<&Row> {
        if let Some(&i) = self.exact.get(&tag.as_u32()) {
            return Some(&self.rows[i]);
        }
        self.patterns
            .iter()
            .map(|&i| &self.rows[i])
            .find(|row| row.matches(tag))
    }
}

/// The table (read once).
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::parse(TABLE_TEXT).expect("the profile table parses"))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProfileError {
    #[error("{0:?}: not an option (options: {list})", list = option_list())]
    UnknownOption(String),
    #[error("retain-full-dates and retain-dates exclude each other")]
    DatesTwice,
}

fn option_list() -> String {
    DeidOption::ALL.map(DeidOption::name).join(", ")
}

/// The basic profile with a set of options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    options: BTreeSet<DeidOption>,
}

impl Profile {
    pub fn new(options: impl IntoIterator<Item = DeidOption>) -> Result<Profile, ProfileError> {
        let options: BTreeSet<DeidOption> = options.into_iter().collect();
        if options.contains(&DeidOption::RetainFullDates)
            && options.contains(&DeidOption::RetainModifiedDates)
        {
            return Err(ProfileError::DatesTwice);
        }
        Ok(Profile { options })
    }

    /// From the names users give.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Profile, ProfileError> {
        let options = names
            .iter()
            .map(|n| {
                DeidOption::parse(n.as_ref())
                    .ok_or_else(|| ProfileError::UnknownOption(n.as_ref().to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Profile::new(options)
    }

    pub fn options(&self) -> impl Iterator<Item = DeidOption> + '_ {
        self.options.iter().copied()
    }

    pub fn has(&self, option: DeidOption) -> bool {
        self.options.contains(&option)
    }

    /// The action a row gets: the basic profile's, unless a chosen option says otherwise
    /// (keeping wins over cleaning when two chosen options both do).
    pub fn action(&self, row: &Row) -> Action {
        let mut chosen: Vec<Action> = row
            .options
            .iter()
            .filter(|(option, _)| self.options.contains(option))
            .filter_map(|(_, code)| Action::parse(code))
            .collect();
        chosen.sort();
        [Action::Keep, Action::Clean, Action::NewUid, Action::Dummy]
            .into_iter()
            .find(|a| chosen.contains(a))
            .or_else(|| chosen.first().copied())
            .unwrap_or(row.basic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_whole() {
        let t = table();
        assert_eq!(t.rows().len(), 655);
        let accession = t.row(Tag(0x0008, 0x0050)).unwrap();
        assert_eq!(accession.basic, Action::Empty);
        assert_eq!(accession.name, "Accession Number");
        let comments = t.row(Tag(0x0018, 0x4000)).unwrap();
        assert_eq!(comments.options, [(DeidOption::CleanDescriptors, "C")]);
        assert_eq!(comments.name, "Acquisition Comments");
        let overlay = t.row(Tag(0x6002, 0x3000)).unwrap();
        assert_eq!(overlay.name, "Overlay Data");
        assert!(t.row(Tag(0x6002, 0x0010)).is_none());
        assert_eq!(t.row(Tag(0x5004, 0x1234)).unwrap().name, "Curve Data");
        assert!(t.row(Tag(0x0028, 0x0010)).is_none());
    }

    #[test]
    fn options_change_the_action_of_their_rows_only() {
        let t = table();
        let study_date = t.row(Tag(0x0008, 0x0020)).unwrap();
        let ref_image = t.row(Tag(0x0008, 0x1140)).unwrap();
        let basic = Profile::default();
        assert_eq!(basic.action(study_date), Action::Empty);
        assert_eq!(basic.action(ref_image), Action::NewUid);
        let dates = Profile::from_names(&["retain-dates", "retain-uids"]).unwrap();
        assert_eq!(dates.action(study_date), Action::Clean);
        assert_eq!(dates.action(ref_image), Action::Keep);
        let full = Profile::from_names(&["retain-full-dates"]).unwrap();
        assert_eq!(full.action(study_date), Action::Keep);
        assert_eq!(
            Profile::from_names(&["retain-full-dates", "retain-modified-dates"]),
            Err(ProfileError::DatesTwice)
        );
        assert!(matches!(
            Profile::from_names(&["retain-everything"]),
            Err(ProfileError::UnknownOption(_))
        ));
        // X/Z/D: a dummy, so a type 1 attribute is never missing.
        let creation_time = t.row(Tag(0x0008, 0x0013)).unwrap();
        assert_eq!(basic.action(creation_time), Action::Dummy);
    }
}
