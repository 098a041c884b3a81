//! Study search filters, parsed and validated before they reach a backend.

pub use lightbox_dicom::matching::DateRange;

/// A DICOM-style text match: exact unless it holds the wildcards `*` (any run) or `?` (one char).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextPattern(String);

impl TextPattern {
    pub fn new(pattern: &str) -> Option<TextPattern> {
        let trimmed = pattern.trim();
        // A lone "*" matches everything, including absent values: no filter at all.
        if trimmed.is_empty() || trimmed.chars().all(|c| c == '*') {
            None
        } else {
            Some(TextPattern(trimmed.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn has_wildcards(&self) -> bool {
        self.0.contains(['*', '?'])
    }

    /// The pattern as an SQLite GLOB, with GLOB's own specials (`[`) escaped.
    pub fn to_glob(&self, uppercase: bool) -> String {
        let text = if uppercase {
            self.0.to_uppercase()
        } else {
            self.0.clone()
        };
        let mut glob = String::with_capacity(text.len() + 4);
        for c in text.chars() {
            match c {
                '[' => glob.push_str("[[]"),
                ']' => glob.push_str("[]]"),
                _ => glob.push(c),
            }
        }
        glob
    }
}

/// How many matches the browser's study list counts before it says "more than": enough for
/// any worklist a person pages through, few enough that a broad search of ten million
/// instances answers within 50 ms (BENCHMARKS.md, "Study search").
pub const BROWSE_COUNT_LIMIT: u64 = 1_000;

/// Study search: every filter is optional; results sort as `order` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StudyQuery {
    /// Case-insensitive, matched against the whole stored name (all component groups).
    pub patient_name: Option<TextPattern>,
    pub patient_id: Option<TextPattern>,
    pub study_date: Option<DateRange>,
    /// Any of these modalities in the study.
    pub modalities: Vec<String>,
    /// Case-insensitive.
    pub study_description: Option<TextPattern>,
    pub accession_number: Option<TextPattern>,
    /// Case-insensitive: studies with at least one series described so.
    pub series_description: Option<TextPattern>,
    /// Any of these Study Instance UIDs (DICOM UID list matching); empty: any study.
    pub study_uids: Vec<String>,
    pub limit: Option<u64>,
    pub offset: u64,
    pub order: StudyOrder,
    /// Studies whose only instances here are previews too (by default they are not local).
    pub include_previews: bool,
    /// Match Patient ID and Accession Number ignoring case too (as a browser's "contains" filter
    /// does); DICOM matching of those is case-sensitive, so this is off by default.
    pub ids_ignore_case: bool,
    /// Count the matches only up to this many, or up to the page's end when that is further
    /// (`None`: count them all). A broad search of a large archive then costs about what its
    /// page costs, not a count of a million rows; [`StudyPage::total_exact`] tells which it is.
    pub count_limit: Option<u64>,
}

impl StudyQuery {
    /// How many matches the count stops at, if it stops.
    pub(crate) fn count_bound(&self) -> Option<u64> {
        let page_end = self.offset.saturating_add(self.limit.unwrap_or(0));
        self.count_limit.map(|limit| limit.max(page_end))
    }
}

/// The SQL counting the studies `from_where` selects (`FROM … WHERE …`), stopping past `bound`.
pub(crate) fn count_sql(from_where: &str, bound: Option<u64>) -> String {
    match bound {
        None => format!("SELECT count(*) {from_where}"),
        // One row past the bound tells "more than the bound" from "exactly the bound".
        Some(bound) => format!(
            "SELECT count(*) FROM (SELECT 1 {from_where} LIMIT {}) AS counted",
            bound.saturating_add(1).min(i64::MAX as u64)
        ),
    }
}

/// How a page of studies is sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StudyOrder {
    /// Newest study first.
    #[default]
    Date,
    /// By patient name, then patient ID, then newest study first: a patient's studies are
    /// consecutive, so a paged list can be grouped by patient.
    Patient,
    /// By one column of the worklist (studies without a value last, either way), then newest
    /// study first.
    Column {
        column: StudyColumn,
        descending: bool,
    },
}

/// A column of the study worklist that a page can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StudyColumn {
    PatientName,
    PatientId,
    BirthDate,
    StudyDate,
    Description,
    Modalities,
    Accession,
    SeriesCount,
    InstanceCount,
}

impl StudyColumn {
    pub const ALL: [StudyColumn; 9] = [
        StudyColumn::PatientName,
        StudyColumn::PatientId,
        StudyColumn::BirthDate,
        StudyColumn::StudyDate,
        StudyColumn::Description,
        StudyColumn::Modalities,
        StudyColumn::Accession,
        StudyColumn::SeriesCount,
        StudyColumn::InstanceCount,
    ];

    /// The column's name in query strings.
    pub fn name(self) -> &'static str {
        match self {
            StudyColumn::PatientName => "patient_name",
            StudyColumn::PatientId => "patient_id",
            StudyColumn::BirthDate => "birth_date",
            StudyColumn::StudyDate => "study_date",
            StudyColumn::Description => "description",
            StudyColumn::Modalities => "modalities",
            StudyColumn::Accession => "accession",
            StudyColumn::SeriesCount => "series",
            StudyColumn::InstanceCount => "instances",
        }
    }

    pub fn from_name(name: &str) -> Option<StudyColumn> {
        StudyColumn::ALL.into_iter().find(|c| c.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_ranges() {
        let r = DateRange::parse("20200101-20201231").unwrap();
        assert_eq!(
            (r.from.as_deref(), r.to.as_deref()),
            (Some("20200101"), Some("20201231"))
        );
        let r = DateRange::parse("20200101-").unwrap();
        assert_eq!((r.from.as_deref(), r.to), (Some("20200101"), None));
        let r = DateRange::parse("-20201231").unwrap();
        assert_eq!((r.from, r.to.as_deref()), (None, Some("20201231")));
        let r = DateRange::parse("2020-03-04").unwrap();
        assert_eq!(r.from.as_deref(), Some("20200304"));
        assert!(DateRange::parse("-").is_err());
        assert!(DateRange::parse("2020").is_err());
        assert!(DateRange::parse("20201340").is_err());
    }

    #[test]
    fn patterns() {
        assert_eq!(TextPattern::new("*"), None);
        assert_eq!(TextPattern::new("  "), None);
        let p = TextPattern::new("smi[th*").unwrap();
        assert!(p.has_wildcards());
        assert_eq!(p.to_glob(true), "SMI[[]TH*");
    }
}
