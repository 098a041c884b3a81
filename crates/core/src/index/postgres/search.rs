//! The study search in PostgreSQL's SQL: the same filters and the same order as the SQLite
//! index gives, NULLs and empty values included.

use super::super::{StudyColumn, StudyOrder, StudyQuery, TextPattern};

/// Numbered parameters (`$1`, `$2`…) and their text values, as a query is built.
#[derive(Default)]
pub(super) struct Args {
    pub values: Vec<String>,
}

impl Args {
    /// Keeps `value` and returns its placeholder.
    pub fn mark(&mut self, value: String) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }
}

/// The pattern as a LIKE pattern with `\` escaping LIKE's own specials.
fn like(pattern: &TextPattern, uppercase: bool) -> String {
    let text = if uppercase {
        pattern.as_str().to_uppercase()
    } else {
        pattern.as_str().to_string()
    };
    let mut like = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        match c {
            '*' => like.push('%'),
            '?' => like.push('_'),
            '%' | '_' | '\\' => {
                like.push('\\');
                like.push(c);
            }
            _ => like.push(c),
        }
    }
    like
}

/// The WHERE clause of a study search, its arguments, and whether it needs `patients`.
pub(super) fn study_filter(q: &StudyQuery) -> (String, Args, bool) {
    let mut clauses: Vec<String> = Vec::new();
    let mut args = Args::default();
    let mut needs_patient = false;
    let mut text = |column: &str, pattern: &TextPattern, uppercase: bool, args: &mut Args| {
        if pattern.has_wildcards() {
            let mark = args.mark(like(pattern, uppercase));
            clauses.push(format!("{column} LIKE {mark}"));
        } else {
            let value = if uppercase {
                pattern.as_str().to_uppercase()
            } else {
                pattern.as_str().to_string()
            };
            let mark = args.mark(value);
            clauses.push(format!("{column} = {mark}"));
        }
    };
    // The study's copy of its patient's name: no join to test it.
    if let Some(p) = &q.patient_name {
        text("s.patient_name_norm", p, true, &mut args);
    }
    // upper() in the "C" collation folds ASCII only, which is what IDs are made of.
    let (patient_id, accession) = if q.ids_ignore_case {
        ("upper(p.patient_id)", "upper(s.accession)")
    } else {
        ("p.patient_id", "s.accession")
    };
    if let Some(p) = &q.patient_id {
        text(patient_id, p, q.ids_ignore_case, &mut args);
        needs_patient = true;
    }
    if let Some(p) = &q.study_description {
        text("s.description_norm", p, true, &mut args);
    }
    if let Some(p) = &q.accession_number {
        text(accession, p, q.ids_ignore_case, &mut args);
    }
    if let Some(p) = &q.series_description {
        let condition = if p.has_wildcards() {
            format!("LIKE {}", args.mark(like(p, true)))
        } else {
            format!("= {}", args.mark(p.as_str().to_uppercase()))
        };
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM series se WHERE se.study_ref = s.id AND upper(se.description) {condition})"
        ));
    }
    if let Some(range) = &q.study_date {
        if let Some(from) = &range.from {
            clauses.push(format!("s.study_date >= {}", args.mark(from.clone())));
        }
        if let Some(to) = &range.to {
            clauses.push(format!("s.study_date <= {}", args.mark(to.clone())));
        }
    }
    if !q.modalities.is_empty() {
        let any: Vec<String> = q
            .modalities
            .iter()
            .map(|m| {
                let mark = args.mark(format!("\\{}\\", m.trim().to_uppercase()));
                format!("strpos(s.modalities, {mark}) > 0")
            })
            .collect();
        clauses.push(format!("({})", any.join(" OR ")));
    }
    if !q.include_previews {
        clauses.push("s.listed".into());
    }
    if !q.study_uids.is_empty() {
        let marks: Vec<String> = q.study_uids.iter().map(|u| args.mark(u.clone())).collect();
        clauses.push(format!("s.study_uid IN ({})", marks.join(", ")));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, args, needs_patient)
}

/// SQLite puts NULL below every value; so do these orders.
const NEWEST_FIRST: &str = "s.study_date DESC NULLS LAST, s.study_time DESC NULLS LAST, s.id DESC";

/// Whether the ORDER BY of `order` sorts by a patient's column (`p`), not only the study's.
pub(super) fn order_reads_patients(order: StudyOrder) -> bool {
    match order {
        StudyOrder::Date => false,
        StudyOrder::Patient => true,
        StudyOrder::Column { column, .. } => matches!(
            column,
            StudyColumn::PatientName | StudyColumn::PatientId | StudyColumn::BirthDate
        ),
    }
}

/// The ORDER BY of a study page.
pub(super) fn order_by(order: StudyOrder) -> String {
    let (column, descending) = match order {
        StudyOrder::Date => return NEWEST_FIRST.to_string(),
        StudyOrder::Patient => {
            return format!("p.patient_name_norm, p.patient_id, p.id, {NEWEST_FIRST}")
        }
        StudyOrder::Column { column, descending } => (column, descending),
    };
    let (expr, text) = match column {
        StudyColumn::PatientName => ("p.patient_name_norm", true),
        StudyColumn::PatientId => ("p.patient_id", true),
        StudyColumn::BirthDate => ("p.birth_date", true),
        StudyColumn::StudyDate if descending => return NEWEST_FIRST.to_string(),
        StudyColumn::StudyDate => ("s.study_date", true),
        StudyColumn::Description => ("s.description_norm", true),
        StudyColumn::Modalities => ("s.modalities", true),
        StudyColumn::Accession => ("s.accession", true),
        StudyColumn::SeriesCount => ("s.num_series", false),
        StudyColumn::InstanceCount => ("s.num_instances - s.num_previews", false),
    };
    let direction = if descending {
        "DESC NULLS LAST"
    } else {
        "ASC NULLS FIRST"
    };
    // A worklist puts studies without the value last, as the SQLite index does.
    let empty_last = if text && !descending {
        format!("coalesce({expr}, '') = '', ")
    } else {
        String::new()
    };
    format!("{empty_last}{expr} {direction}, {NEWEST_FIRST}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_become_like_and_like_specials_are_escaped() {
        let p = TextPattern::new("do*_50%?\\x").unwrap();
        assert_eq!(like(&p, true), "DO%\\_50\\%_\\\\X");
    }
}
