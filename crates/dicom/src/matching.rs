//! DICOM matching (PS3.4 C.2.2.2): single values with `*` and `?` wildcards, ranges of dates and
//! times, lists of UIDs; the rules the Query/Retrieve SCP applies to every key.

use crate::tag::{self, Tag};
use crate::vr::Vr;

/// DICOM single-value matching: `*` and `?` wildcards, otherwise exact (names ignore case).
pub fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| {
        if ignore_case {
            s.to_uppercase()
        } else {
            s.to_string()
        }
    };
    let (p, v): (Vec<char>, Vec<char>) = (
        fold(pattern).chars().collect(),
        fold(value).chars().collect(),
    );
    // Iterative wildcard matching with backtracking to the last '*'.
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether `value` (possibly multi-valued) matches the key `pattern` for an attribute of `vr`.
pub fn key_matches(tag: Tag, vr: Vr, pattern: &str, value: Option<&str>) -> bool {
    let pattern = pattern.trim();
    if pattern.is_empty() || pattern == "*" {
        return true; // universal matching
    }
    let value = value.unwrap_or("").trim();
    match vr {
        Vr::UI => pattern.split('\\').any(|uid| uid.trim() == value),
        Vr::DA | Vr::TM | Vr::DT if pattern.contains('-') => {
            let (from, to) = pattern.split_once('-').unwrap_or((pattern, pattern));
            !value.is_empty()
                && (from.is_empty() || value >= from.trim())
                && (to.is_empty() || value <= to.trim())
        }
        _ => {
            let ignore_case =
                vr == Vr::PN || tag == tag::STUDY_DESCRIPTION || tag == tag::SERIES_DESCRIPTION;
            value
                .split('\\')
                .any(|v| wildcard_match(pattern, v, ignore_case))
        }
    }
}

/// An inclusive date range over `YYYYMMDD` values; either end may be open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DateRangeError {
    #[error("invalid date {0:?}: expected YYYYMMDD (or YYYY-MM-DD)")]
    InvalidDate(String),
    #[error("invalid date range {0:?}: expected DATE, DATE-DATE, DATE- or -DATE")]
    InvalidRange(String),
}

fn normalize_date(text: &str) -> Result<String, DateRangeError> {
    let digits: String = text.chars().filter(|c| *c != '-' && *c != '.').collect();
    let valid = digits.len() == 8
        && digits.chars().all(|c| c.is_ascii_digit())
        && (1..=12).contains(&digits[4..6].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&digits[6..8].parse::<u32>().unwrap_or(0));
    if valid {
        Ok(digits)
    } else {
        Err(DateRangeError::InvalidDate(text.to_string()))
    }
}

impl DateRange {
    /// Parses `A-B`, `A-`, `-B` or `A` (DICOM range matching), dates as `YYYYMMDD`.
    /// ISO dates (`2024-01-31`) are accepted for single dates only, since their dashes would be
    /// ambiguous with the range separator.
    pub fn parse(text: &str) -> Result<DateRange, DateRangeError> {
        let text = text.trim();
        if text.len() == 10 && text.matches('-').count() == 2 {
            let d = normalize_date(text)?;
            return Ok(DateRange {
                from: Some(d.clone()),
                to: Some(d),
            });
        }
        let parts: Vec<&str> = text.split('-').collect();
        let date = |s: &str| -> Result<Option<String>, DateRangeError> {
            if s.is_empty() {
                Ok(None)
            } else {
                normalize_date(s).map(Some)
            }
        };
        match parts.as_slice() {
            [single] if !single.is_empty() => {
                let d = normalize_date(single)?;
                Ok(DateRange {
                    from: Some(d.clone()),
                    to: Some(d),
                })
            }
            [from, to] if !(from.is_empty() && to.is_empty()) => Ok(DateRange {
                from: date(from)?,
                to: date(to)?,
            }),
            _ => Err(DateRangeError::InvalidRange(text.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rules() {
        assert!(wildcard_match("SMI*", "SMITH^JOHN", false));
        assert!(wildcard_match("*TH^J?HN", "SMITH^JOHN", false));
        assert!(!wildcard_match("SMI?", "SMITH", false));
        assert!(wildcard_match("smith*", "SMITH^J", true));
        assert!(key_matches(
            tag::STUDY_DATE,
            Vr::DA,
            "20200101-20201231",
            Some("20200505")
        ));
        assert!(!key_matches(
            tag::STUDY_DATE,
            Vr::DA,
            "20200101-",
            Some("20191231")
        ));
        assert!(key_matches(
            tag::STUDY_INSTANCE_UID,
            Vr::UI,
            "1.2\\1.3",
            Some("1.3")
        ));
        assert!(!key_matches(
            tag::STUDY_INSTANCE_UID,
            Vr::UI,
            "1.2\\1.3",
            Some("1.2.3")
        ));
        assert!(key_matches(
            Tag(0x0008, 0x0061),
            Vr::CS,
            "MR",
            Some("CT\\MR")
        ));
        assert!(key_matches(tag::PATIENT_NAME, Vr::PN, "", None));
    }
}
