//! Study search: every filter compared against a brute-force evaluation of the same DICOM
//! matching rules over all studies of a synthetic store.

use lightbox_core::import::{self, ImportOptions, ImportProgress};
use lightbox_core::index::{DateRange, StudyColumn, StudyOrder, StudyQuery, TextPattern};
use lightbox_core::model::{InstanceRecord, StudySummary};
use lightbox_core::store::Store;
use lightbox_synth::{self as synth, SynthSpec};

/// DICOM wildcard matching (`*` any run, `?` one character) over characters.
fn wildcard(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| wildcard(rest, &text[i..])),
        Some(('?', rest)) => !text.is_empty() && wildcard(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && wildcard(rest, &text[1..]),
    }
}

fn matches(pattern: &str, value: Option<&str>, case_insensitive: bool) -> bool {
    let fold = |s: &str| {
        if case_insensitive {
            s.to_uppercase()
        } else {
            s.to_string()
        }
    };
    let p: Vec<char> = fold(pattern).chars().collect();
    let v: Vec<char> = fold(value.unwrap_or("")).chars().collect();
    wildcard(&p, &v)
}

fn brute_force(all: &[StudySummary], q: &StudyQuery) -> Vec<String> {
    all.iter()
        .filter(|s| {
            q.patient_name
                .as_ref()
                .is_none_or(|p| matches(p.as_str(), Some(&s.patient_name), true))
        })
        .filter(|s| {
            q.patient_id
                .as_ref()
                .is_none_or(|p| matches(p.as_str(), Some(&s.patient_id), false))
        })
        .filter(|s| {
            q.study_description
                .as_ref()
                .is_none_or(|p| matches(p.as_str(), s.study_description.as_deref(), true))
        })
        .filter(|s| {
            q.accession_number
                .as_ref()
                .is_none_or(|p| matches(p.as_str(), s.accession_number.as_deref(), false))
        })
        .filter(|s| {
            q.study_date.as_ref().is_none_or(|r| {
                let Some(d) = s.study_date.as_deref() else {
                    return false;
                };
                r.from.as_deref().is_none_or(|f| d >= f) && r.to.as_deref().is_none_or(|t| d <= t)
            })
        })
        .filter(|s| {
            q.modalities.is_empty() || q.modalities.iter().any(|m| s.modalities.contains(m))
        })
        .map(|s| s.study_uid.clone())
        .collect()
}

#[test]
fn every_filter_agrees_with_brute_force_and_pages_are_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let spec = SynthSpec {
        patients: 60,
        studies_per_patient: 3,
        series_per_study: 2,
        instances_per_series: 2,
        rows: 16,
        columns: 16,
        seed: 7,
        modality: None,
        ..Default::default()
    };
    synth::generate(&spec, &data).unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let report = import::import(
        &store,
        &[data],
        &ImportOptions { link: true },
        &ImportProgress::default(),
    )
    .unwrap();
    assert_eq!(report.imported, 60 * 3 * 2 * 2);
    let index = store.index();

    let all = index.search_studies(&StudyQuery::default()).unwrap();
    assert_eq!(all.total, 180);
    assert_eq!(all.studies.len(), 180);
    // Newest first.
    let dates: Vec<&str> = all
        .studies
        .iter()
        .map(|s| s.study_date.as_deref().unwrap())
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "sorted by study date descending"
    );
    for s in &all.studies {
        assert_eq!(s.series_count, 2);
        assert_eq!(s.instance_count, 4);
        assert!(!s.modalities.is_empty());
    }

    // Pick filter values from the data so every query has matches, plus some that have none.
    let sample = &all.studies[17];
    let name = sample.patient_name.clone();
    let family = name.split('^').next().unwrap().to_string();
    let non_ascii = all
        .studies
        .iter()
        .find(|s| !s.patient_name.is_ascii())
        .expect("synthetic data has non-ASCII names");
    let mut queries: Vec<(&str, StudyQuery)> = vec![
        (
            "exact name, other case",
            StudyQuery {
                patient_name: TextPattern::new(&name.to_lowercase()),
                ..Default::default()
            },
        ),
        (
            "name prefix",
            StudyQuery {
                patient_name: TextPattern::new(&format!("{}*", family.to_lowercase())),
                ..Default::default()
            },
        ),
        (
            "name contains",
            StudyQuery {
                patient_name: TextPattern::new(&format!("*{}*", &family[1..3])),
                ..Default::default()
            },
        ),
        (
            "name with ?",
            StudyQuery {
                patient_name: TextPattern::new(&format!("?{}*", &family[1..])),
                ..Default::default()
            },
        ),
        (
            "non-ASCII name, other case",
            StudyQuery {
                patient_name: TextPattern::new(&format!(
                    "{}*",
                    non_ascii
                        .patient_name
                        .split('^')
                        .next()
                        .unwrap()
                        .to_lowercase()
                )),
                ..Default::default()
            },
        ),
        (
            "patient ID",
            StudyQuery {
                patient_id: TextPattern::new(&sample.patient_id),
                ..Default::default()
            },
        ),
        (
            "patient ID wildcard",
            StudyQuery {
                patient_id: TextPattern::new(&format!("{}*", &sample.patient_id[..4])),
                ..Default::default()
            },
        ),
        (
            "patient ID with ?",
            StudyQuery {
                patient_id: TextPattern::new(&format!("{}?", &sample.patient_id[..7])),
                ..Default::default()
            },
        ),
        (
            "accession",
            StudyQuery {
                accession_number: TextPattern::new(sample.accession_number.as_deref().unwrap()),
                ..Default::default()
            },
        ),
        (
            "description contains",
            StudyQuery {
                study_description: TextPattern::new("*brain*"),
                ..Default::default()
            },
        ),
        (
            "description exact",
            StudyQuery {
                study_description: TextPattern::new(
                    &sample.study_description.clone().unwrap().to_lowercase(),
                ),
                ..Default::default()
            },
        ),
        (
            "one modality",
            StudyQuery {
                modalities: vec!["CT".into()],
                ..Default::default()
            },
        ),
        (
            "any of modalities",
            StudyQuery {
                modalities: vec!["MR".into(), "US".into()],
                ..Default::default()
            },
        ),
        (
            "no match",
            StudyQuery {
                patient_name: TextPattern::new("NOBODY^HERE"),
                ..Default::default()
            },
        ),
    ];
    let (newest, oldest) = (dates[0].to_string(), dates[dates.len() - 1].to_string());
    let mid = dates[90].to_string();
    for (label, range) in [
        ("date range", format!("{oldest}-{mid}")),
        ("from", format!("{mid}-")),
        ("until", format!("-{mid}")),
        ("single date", mid.clone()),
        ("all dates", format!("{oldest}-{newest}")),
    ] {
        let query = StudyQuery {
            study_date: Some(DateRange::parse(&range).unwrap()),
            ..Default::default()
        };
        queries.push((label, query));
    }
    queries.push((
        "combined",
        StudyQuery {
            patient_name: TextPattern::new("*a*"),
            study_date: Some(DateRange::parse(&format!("{mid}-")).unwrap()),
            modalities: vec!["CT".into(), "MR".into(), "CR".into()],
            ..Default::default()
        },
    ));

    for (label, query) in &queries {
        let expected = brute_force(&all.studies, query);
        let page = index.search_studies(query).unwrap();
        let got: Vec<String> = page.studies.iter().map(|s| s.study_uid.clone()).collect();
        assert_eq!(page.total as usize, expected.len(), "{label}: total");
        assert_eq!(got, expected, "{label}");
        if *label != "no match" {
            assert!(!expected.is_empty(), "{label} should match something");
        }
    }

    // Paging: consecutive pages tile the full result without gaps or repeats.
    let mut paged = Vec::new();
    for offset in (0..180).step_by(25) {
        let page = index
            .search_studies(&StudyQuery {
                limit: Some(25),
                offset,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.total, 180);
        paged.extend(page.studies.into_iter().map(|s| s.study_uid));
    }
    let full: Vec<String> = all.studies.iter().map(|s| s.study_uid.clone()).collect();
    assert_eq!(paged, full);

    // Series and instances of a study, ordered by number.
    let series = index.series_of_study(&sample.study_uid).unwrap();
    assert_eq!(series.len(), 2);
    assert!(series[0].series_number < series[1].series_number);
    let instances = index.instances_of_series(&series[0].series_uid).unwrap();
    assert_eq!(instances.len(), 2);
    assert_eq!(
        instances
            .iter()
            .map(|i| i.instance_number.unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
}

/// What a worklist column sorts by, as SQLite compares it: bytes, an absent value below an
/// empty one.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Text(Option<String>),
    Number(i64),
}

impl Key {
    fn is_empty(&self) -> bool {
        matches!(self, Key::Text(None)) || matches!(self, Key::Text(Some(t)) if t.is_empty())
    }
}

fn column_key(s: &StudySummary, column: StudyColumn) -> Key {
    let text = |v: Option<&str>| Key::Text(v.map(str::to_string));
    match column {
        StudyColumn::PatientName => text(Some(&s.patient_name.to_uppercase())),
        StudyColumn::PatientId => text(Some(&s.patient_id)),
        StudyColumn::BirthDate => text(s.patient_birth_date.as_deref()),
        StudyColumn::StudyDate => text(s.study_date.as_deref()),
        StudyColumn::Description => text(
            s.study_description
                .as_deref()
                .map(str::to_uppercase)
                .as_deref(),
        ),
        StudyColumn::Modalities if s.modalities.is_empty() => text(Some("")),
        StudyColumn::Modalities => text(Some(&format!("\\{}\\", s.modalities.join("\\")))),
        StudyColumn::Accession => text(s.accession_number.as_deref()),
        StudyColumn::SeriesCount => Key::Number(s.series_count),
        StudyColumn::InstanceCount => Key::Number(s.instance_count),
    }
}

#[test]
fn every_worklist_column_sorts_both_ways_with_empty_values_last() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let spec = SynthSpec {
        patients: 25,
        studies_per_patient: 3,
        series_per_study: 1,
        instances_per_series: 1,
        rows: 8,
        columns: 8,
        seed: 11,
        modality: None,
        ..Default::default()
    };
    synth::generate(&spec, &data).unwrap();
    // Studies of one to three series, so that counts differ.
    let more = dir.path().join("more");
    synth::generate(
        &SynthSpec {
            patients: 4,
            series_per_study: 3,
            seed: 12,
            ..spec.clone()
        },
        &more,
    )
    .unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    import::import(
        &store,
        &[data, more],
        &ImportOptions { link: true },
        &ImportProgress::default(),
    )
    .unwrap();
    let index = store.index();
    // Studies without a description, accession, birth date, modality or even a date, as the
    // index keeps them (absent or empty): they go last, both ways.
    let any_file = index
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies[0]
        .clone();
    let series = &index.series_of_study(&any_file.study_uid).unwrap()[0];
    let instance = &index.instances_of_series(&series.series_uid).unwrap()[0];
    let file = lightbox_dicom::read_file(
        std::path::Path::new(&instance.file_path),
        lightbox_dicom::ReadMode::Header,
    )
    .unwrap();
    let template = InstanceRecord::from_file(&file).unwrap();
    let blanks: Vec<InstanceRecord> = (0..4)
        .map(|i| {
            let empty = |v: &str| {
                if i % 2 == 0 {
                    None
                } else {
                    Some(v.to_string())
                }
            };
            InstanceRecord {
                patient_id: format!("BLANK{i}"),
                patient_name: if i == 3 {
                    String::new()
                } else {
                    format!("Blank^{i}")
                },
                patient_birth_date: empty(""),
                study_uid: format!("1.2.3.999.{i}"),
                study_date: if i == 1 {
                    None
                } else {
                    template.study_date.clone()
                },
                study_description: empty(""),
                accession_number: empty(""),
                series_uid: format!("1.2.3.999.{i}.1"),
                modality: empty(""),
                sop_instance_uid: format!("1.2.3.999.{i}.1.1"),
                ..template.clone()
            }
        })
        .collect();
    index.insert_batch(&blanks).unwrap();
    // The default order is newest first, which is every column's tie-break.
    let newest_first = index
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    assert_eq!(newest_first.len(), 91);
    let mut distinct_orders = std::collections::HashSet::new();
    for column in StudyColumn::ALL {
        for descending in [false, true] {
            let order = StudyOrder::Column { column, descending };
            let mut expected = newest_first.clone();
            expected.sort_by(|a, b| {
                let (ka, kb) = (column_key(a, column), column_key(b, column));
                if descending {
                    kb.cmp(&ka)
                } else {
                    (ka.is_empty(), ka).cmp(&(kb.is_empty(), kb))
                }
            });
            let expected: Vec<&str> = expected.iter().map(|s| s.study_uid.as_str()).collect();
            let mut paged = Vec::new();
            for offset in (0..91).step_by(10) {
                let page = index
                    .search_studies(&StudyQuery {
                        order,
                        limit: Some(10),
                        offset,
                        ..Default::default()
                    })
                    .unwrap();
                assert_eq!(page.total, 91);
                paged.extend(page.studies.into_iter().map(|s| s.study_uid));
            }
            assert_eq!(paged, expected, "{column:?} descending={descending}");
            distinct_orders.insert(paged);
        }
    }
    // The data makes the columns order the studies differently.
    assert!(
        distinct_orders.len() >= 12,
        "{} distinct orders",
        distinct_orders.len()
    );
}
