//! The index behaviour suite, on both backends: the same records go into the SQLite index and
//! into a PostgreSQL index (a real server of the test's own, on loopback), and every question
//! the trait answers gets the same answer from both, before and after previews, placements and
//! removals. Writers racing on one PostgreSQL database index each instance once, and a
//! database of an older schema counts its totals when migrated.

mod support;

use lightbox_core::image_sets::Placement;
use lightbox_core::index::{
    DateRange, Index, PostgresIndex, RemoveTarget, SqliteIndex, StudyColumn, StudyOrder,
    StudyQuery, TextPattern,
};
use lightbox_core::model::InstanceRecord;
use lightbox_dicom::{read_file, ReadMode};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// Records of pydicom's files and of generated studies, with the odd values a real archive
/// holds: no dates, no description, wildcard characters and non-ASCII in names, previews.
fn records(dir: &Path) -> Vec<InstanceRecord> {
    let generated = dir.join("generated");
    lightbox_synth::generate(
        &lightbox_synth::SynthSpec {
            patients: 12,
            studies_per_patient: 2,
            series_per_study: 2,
            instances_per_series: 3,
            rows: 8,
            columns: 8,
            seed: 16,
            ..lightbox_synth::SynthSpec::default()
        },
        &generated,
    )
    .unwrap();
    let mut files: Vec<_> = walkdir::WalkDir::new(&generated)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    if let Some(data) = support::pydicom_data() {
        files.extend(
            walkdir::WalkDir::new(data)
                .into_iter()
                .flatten()
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path()),
        );
    }
    files.sort();
    let mut out: Vec<InstanceRecord> = Vec::new();
    for (n, path) in files.iter().enumerate() {
        let Ok(file) = read_file(path, ReadMode::Header) else {
            continue;
        };
        let Ok(mut record) = InstanceRecord::from_file(&file) else {
            continue;
        };
        record.file_path = format!("files/{n:05}.dcm");
        record.file_size = 1000 + n as u64;
        record.linked = n % 5 == 0;
        record.received_at = 1_700_000_000 + n as i64;
        out.push(record);
    }
    // Odd values, in studies of their own.
    let odd = [
        ("O1", "Smith_%^Ann", None, None),
        ("O2", "Müller^Jürgen", Some("20200101"), Some("")),
        ("O3", "", Some("19991231"), Some("Head [a]*")),
        ("O4", "smith^bob", None, Some("CT 50% dose")),
    ];
    for (n, (id, name, date, description)) in odd.iter().enumerate() {
        for i in 0..2 {
            let mut r = out[n].clone();
            r.patient_id = id.to_string();
            r.patient_name = name.to_string();
            r.study_uid = format!("2.25.9000{n}");
            r.series_uid = format!("2.25.9100{n}");
            r.sop_instance_uid = format!("2.25.920{n}{i}");
            r.study_date = date.map(str::to_string);
            r.study_description = description.map(str::to_string);
            r.series_number = None;
            r.instance_number = if i == 0 { None } else { Some(7) };
            r.modality = Some(["CT", "MR", "SR", ""][n].to_string());
            r.file_path = format!("files/odd-{n}-{i}.dcm");
            out.push(r);
        }
    }
    out
}

fn pattern(text: &str) -> Option<TextPattern> {
    TextPattern::new(text)
}

/// A grid of study searches: every filter, alone and together, each order, pages.
fn queries() -> Vec<StudyQuery> {
    let mut filters = vec![StudyQuery::default()];
    for name in ["smith*", "*^ann", "M?LLER*", "S*", "*%*", "*_*"] {
        filters.push(StudyQuery {
            patient_name: pattern(name),
            ..StudyQuery::default()
        });
    }
    for id in ["O1", "o*", "LB*", "*1"] {
        for ids_ignore_case in [false, true] {
            filters.push(StudyQuery {
                patient_id: pattern(id),
                ids_ignore_case,
                ..StudyQuery::default()
            });
        }
    }
    for description in ["head*", "*50%*", "*[a]*", "CT*"] {
        filters.push(StudyQuery {
            study_description: pattern(description),
            ..StudyQuery::default()
        });
        filters.push(StudyQuery {
            series_description: pattern(description),
            ..StudyQuery::default()
        });
    }
    for range in ["20000101-", "-20191231", "20200101", "19900101-20201231"] {
        filters.push(StudyQuery {
            study_date: Some(DateRange::parse(range).unwrap()),
            ..StudyQuery::default()
        });
    }
    for modalities in [vec!["CT"], vec!["mr", "SR"], vec!["OT"]] {
        filters.push(StudyQuery {
            modalities: modalities.into_iter().map(String::from).collect(),
            ..StudyQuery::default()
        });
    }
    filters.push(StudyQuery {
        accession_number: pattern("*1*"),
        modalities: vec!["CT".into()],
        study_date: Some(DateRange::parse("19000101-").unwrap()),
        ..StudyQuery::default()
    });
    let mut orders = vec![StudyOrder::Date, StudyOrder::Patient];
    for column in StudyColumn::ALL {
        for descending in [false, true] {
            orders.push(StudyOrder::Column { column, descending });
        }
    }
    let mut out = Vec::new();
    for f in &filters {
        for include_previews in [false, true] {
            out.push(StudyQuery {
                include_previews,
                ..f.clone()
            });
        }
    }
    for order in orders {
        for (limit, offset) in [(None, 0), (Some(7), 0), (Some(7), 7), (Some(50), 3)] {
            out.push(StudyQuery {
                order,
                limit,
                offset,
                ..StudyQuery::default()
            });
        }
    }
    // Counts stopped at a bound: below, at and above the number of matches and the page's end.
    for count_limit in [Some(0), Some(3), Some(30), Some(10_000)] {
        for (limit, offset) in [(None, 0), (Some(7), 0), (Some(7), 40)] {
            for patient_name in [None, pattern("S*")] {
                out.push(StudyQuery {
                    count_limit,
                    limit,
                    offset,
                    patient_name,
                    ..StudyQuery::default()
                });
            }
        }
    }
    out
}

/// A count stopped at a bound is the exact count when that is within the bound (or the page's
/// end, if further), else the bound, marked inexact; the page itself is the same either way.
fn bounded_counts_hold(index: &dyn Index) -> usize {
    let mut checked = 0;
    for bounded in queries().into_iter().filter(|q| q.count_limit.is_some()) {
        let all = index
            .search_studies(&StudyQuery {
                count_limit: None,
                ..bounded.clone()
            })
            .unwrap();
        assert!(all.total_exact);
        let page = index.search_studies(&bounded).unwrap();
        let bound = bounded
            .count_limit
            .unwrap()
            .max(bounded.offset + bounded.limit.unwrap_or(0));
        assert_eq!(page.studies, all.studies, "{bounded:?}");
        assert_eq!(page.total, all.total.min(bound), "{bounded:?}");
        assert_eq!(page.total_exact, all.total <= bound, "{bounded:?}");
        checked += 1;
    }
    checked
}

/// Asks both indexes every question; panics at the first answer that differs.
fn same_answers(sqlite: &dyn Index, postgres: &dyn Index) -> usize {
    let mut asked = 0;
    let mut ask = |what: &str, a: String, b: String| {
        asked += 1;
        assert_eq!(a, b, "{what}: SQLite (left) and PostgreSQL (right) differ");
    };
    ask(
        "stats",
        format!("{:?}", sqlite.stats().unwrap()),
        format!("{:?}", postgres.stats().unwrap()),
    );
    for q in queries() {
        ask(
            &format!("search {q:?}"),
            format!("{:?}", sqlite.search_studies(&q).unwrap()),
            format!("{:?}", postgres.search_studies(&q).unwrap()),
        );
    }
    let everything = StudyQuery {
        include_previews: true,
        ..StudyQuery::default()
    };
    let studies = sqlite.search_studies(&everything).unwrap().studies;
    for study in studies
        .iter()
        .map(|s| s.study_uid.as_str())
        .chain(["2.25.404"])
    {
        ask(
            &format!("study {study}"),
            format!("{:?}", sqlite.study(study).unwrap()),
            format!("{:?}", postgres.study(study).unwrap()),
        );
        ask(
            &format!("SOP classes of {study}"),
            format!("{:?}", sqlite.sop_classes_of_study(study).unwrap()),
            format!("{:?}", postgres.sop_classes_of_study(study).unwrap()),
        );
        let series = sqlite.series_of_study(study).unwrap();
        ask(
            &format!("series of {study}"),
            format!("{series:?}"),
            format!("{:?}", postgres.series_of_study(study).unwrap()),
        );
        for s in series.iter().map(|s| s.series_uid.as_str()) {
            ask(
                &format!("series {s}"),
                format!("{:?}", sqlite.series(s).unwrap()),
                format!("{:?}", postgres.series(s).unwrap()),
            );
            ask(
                &format!("revision of {s}"),
                format!("{:?}", sqlite.series_revision(s).unwrap()),
                format!("{:?}", postgres.series_revision(s).unwrap()),
            );
            ask(
                &format!("image set members of {s}"),
                format!("{:?}", sqlite.image_set_members(s).unwrap()),
                format!("{:?}", postgres.image_set_members(s).unwrap()),
            );
            let instances = sqlite.instances_of_series(s).unwrap();
            ask(
                &format!("instances of {s}"),
                format!("{instances:?}"),
                format!("{:?}", postgres.instances_of_series(s).unwrap()),
            );
            for i in instances.iter().take(2) {
                let uid = i.sop_instance_uid.as_str();
                ask(
                    &format!("instance {uid}"),
                    format!("{:?}", sqlite.instance(uid).unwrap()),
                    format!("{:?}", postgres.instance(uid).unwrap()),
                );
                ask(
                    &format!("path of {uid}"),
                    format!("{:?}", sqlite.instance_path(uid).unwrap()),
                    format!("{:?}", postgres.instance_path(uid).unwrap()),
                );
            }
        }
    }
    asked
}

/// What both hold, whatever order rows that tie were inserted in.
fn same_contents(sqlite: &dyn Index, postgres: &dyn Index) -> usize {
    let mut asked = 1;
    assert_eq!(sqlite.stats().unwrap(), postgres.stats().unwrap());
    for q in queries() {
        let uids = |i: &dyn Index| {
            let page = i
                .search_studies(&StudyQuery {
                    limit: None,
                    offset: 0,
                    ..q.clone()
                })
                .unwrap();
            let set: BTreeSet<String> = page.studies.into_iter().map(|s| s.study_uid).collect();
            (page.total, set)
        };
        assert_eq!(uids(sqlite), uids(postgres), "search {q:?}");
        asked += 1;
    }
    let everything = StudyQuery {
        include_previews: true,
        ..StudyQuery::default()
    };
    for study in sqlite.search_studies(&everything).unwrap().studies {
        let uid = study.study_uid.as_str();
        assert_eq!(
            Some(&study),
            postgres.study(uid).unwrap().as_ref(),
            "study {uid}"
        );
        let series = |i: &dyn Index| {
            let mut list = i.series_of_study(uid).unwrap();
            list.sort_by(|a, b| a.series_uid.cmp(&b.series_uid));
            list
        };
        assert_eq!(series(sqlite), series(postgres), "series of {uid}");
        for s in series(sqlite) {
            assert_eq!(
                sqlite.instances_of_series(&s.series_uid).unwrap(),
                postgres.instances_of_series(&s.series_uid).unwrap()
            );
        }
        asked += 2;
    }
    asked
}

/// Both do the same thing and say the same about it.
fn both<T: std::fmt::Debug>(
    sqlite: &dyn Index,
    postgres: &dyn Index,
    what: &str,
    act: impl Fn(&dyn Index) -> T,
) -> T {
    let (a, b) = (act(sqlite), act(postgres));
    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}");
    a
}

#[test]
fn both_backends_answer_every_question_alike() {
    let Some(server) = support::postgres::start_postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let records = records(dir.path());
    assert!(records.len() > 200, "{} records", records.len());
    let sqlite = SqliteIndex::open(&dir.path().join("index.sqlite")).unwrap();
    let postgres = PostgresIndex::open(&server.database()).unwrap();
    let (s, p): (&dyn Index, &dyn Index) = (&sqlite, &postgres);

    // In batches, some of them holding instances indexed already.
    for batch in records.chunks(37) {
        both(s, p, "insert", |i| i.insert_batch(batch).unwrap());
    }
    let again = both(s, p, "insert again", |i| {
        i.insert_batch(&records[..10]).unwrap()
    });
    assert!(again
        .iter()
        .all(|o| matches!(o, lightbox_core::index::InsertOutcome::Duplicate { .. })));
    // One new instance twice in a batch: the first is indexed, the second is its duplicate.
    let mut twice = vec![records[0].clone(), records[0].clone()];
    twice[0].sop_instance_uid = "2.25.77".into();
    twice[1].sop_instance_uid = "2.25.77".into();
    twice[1].file_path = "files/second.dcm".into();
    let outcomes = both(s, p, "twice in a batch", |i| {
        i.insert_batch(&twice).unwrap()
    });
    assert_eq!(
        outcomes[1],
        lightbox_core::index::InsertOutcome::Duplicate {
            existing_path: twice[0].file_path.clone()
        }
    );
    let asked = same_answers(s, p);
    let counted = bounded_counts_hold(s) + bounded_counts_hold(p);
    assert_eq!(counted, 2 * 24);

    // Previews: marked, then kept by a retrieval of their study.
    let everything = StudyQuery {
        include_previews: true,
        ..StudyQuery::default()
    };
    let studies = s.search_studies(&everything).unwrap().studies;
    let first_series = s.series_of_study(&studies[0].study_uid).unwrap();
    let previews: Vec<String> = s
        .instances_of_series(&first_series[0].series_uid)
        .unwrap()
        .into_iter()
        .map(|i| i.sop_instance_uid)
        .collect();
    for uid in &previews {
        assert!(both(s, p, "mark preview", |i| i.mark_preview(uid).unwrap()));
        assert!(!both(s, p, "mark again", |i| i.mark_preview(uid).unwrap()));
    }
    // A study of previews only is not listed unless asked for.
    let only_previews = studies.iter().find(|st| {
        s.series_of_study(&st.study_uid)
            .unwrap()
            .iter()
            .all(|se| se.instance_count <= 1)
    });
    if let Some(study) = only_previews {
        for se in s.series_of_study(&study.study_uid).unwrap() {
            for i in s.instances_of_series(&se.series_uid).unwrap() {
                both(s, p, "mark", |x| {
                    x.mark_preview(&i.sop_instance_uid).unwrap()
                });
            }
        }
    }
    same_answers(s, p);
    let kept = both(s, p, "keep previews", |i| {
        i.keep_previews(&RemoveTarget::Series(first_series[0].series_uid.clone()))
            .unwrap()
    });
    assert_eq!(kept as usize, previews.len());

    // Placements read later.
    let placement = Placement {
        key: "0|8|8|1|1,0,0,0,1,0|0.5,0.5".into(),
        temporal: Some(2.0),
        position: Some(-12.5),
    };
    both(s, p, "placement", |i| {
        i.set_placement(&previews[0], Some(&placement)).unwrap()
    });
    both(s, p, "no placement", |i| {
        i.set_placement(&previews[1], None).unwrap()
    });
    same_answers(s, p);

    // Removals at every level, parents left empty going with them.
    let instance = s
        .instances_of_series(&first_series[1].series_uid)
        .unwrap()
        .remove(0)
        .sop_instance_uid;
    let targets = [
        RemoveTarget::Instance(instance),
        RemoveTarget::Series(first_series[0].series_uid.clone()),
        RemoveTarget::Study(studies[1].study_uid.clone()),
        RemoveTarget::Patient(studies[2].patient_id.clone()),
        RemoveTarget::Patient("O3".into()),
        RemoveTarget::Study("2.25.404".into()),
    ];
    for target in &targets {
        both(s, p, &format!("remove {target:?}"), |i| {
            let mut removed = i.remove(target).unwrap();
            removed.files.sort_by(|a, b| a.path.cmp(&b.path));
            removed
        });
        same_answers(s, p);
    }
    eprintln!(
        "figure: {} records, {asked} questions answered alike by SQLite and PostgreSQL after inserting, and again after each of {} changes",
        records.len(),
        targets.len() + 3
    );
}

/// Studies enough that broad searches match more than PostgreSQL sorts from their matches
/// (2,000), so that those pages are found by walking an index: names, dates and times that
/// tie, studies without a date, several modalities, and studies of previews only.
fn many_studies() -> (Vec<InstanceRecord>, Vec<String>) {
    const NAMES: &[&str] = &[
        "SMITH^ANN",
        "Smith^Bob",
        "MÜLLER^JÜRGEN",
        "LEE^MIN",
        "",
        "O'NEIL^SEAN",
    ];
    const MODALITIES: &[&str] = &["CT", "MR", "SR", "OT", ""];
    let mut records = Vec::new();
    let mut previews = Vec::new();
    for s in 0..2_600u32 {
        let p = s % 700;
        for i in 0..(1 + s % 2) {
            let record = InstanceRecord {
                patient_id: format!("LB{p:04}"),
                patient_name: NAMES[p as usize % NAMES.len()].into(),
                study_uid: format!("2.25.5{s:05}"),
                study_date: (s % 9 != 0)
                    .then(|| format!("20{:02}0{}1{}", 10 + s % 13, 1 + s % 9, s % 3)),
                study_time: (s % 4 != 0).then(|| format!("{:02}0000", s % 5)),
                study_description: Some(["CT HEAD", "MR KNEE 50%", "chest"][s as usize % 3].into()),
                accession_number: Some(format!("A{}", s % 400)),
                series_uid: format!("2.25.6{s:05}"),
                modality: Some(MODALITIES[s as usize % MODALITIES.len()].into()),
                series_number: Some(1),
                sop_instance_uid: format!("2.25.7{s:05}{i}"),
                sop_class_uid: Some("1.2.840.10008.5.1.4.1.1.2".into()),
                instance_number: Some(i as i64 + 1),
                transfer_syntax: "1.2.840.10008.1.2.1".into(),
                file_path: format!("files/many/{s}/{i}.dcm"),
                file_size: 100,
                received_at: 1_700_000_000,
                ..InstanceRecord::default()
            };
            if s % 11 == 0 {
                previews.push(record.sop_instance_uid.clone());
            }
            records.push(record);
        }
    }
    (records, previews)
}

#[test]
fn searches_matching_thousands_answer_alike() {
    let Some(server) = support::postgres::start_postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteIndex::open(&dir.path().join("index.sqlite")).unwrap();
    let postgres = PostgresIndex::open(&server.database()).unwrap();
    let (s, p): (&dyn Index, &dyn Index) = (&sqlite, &postgres);
    let (records, previews) = many_studies();
    for batch in records.chunks(500) {
        both(s, p, "insert", |i| i.insert_batch(batch).unwrap());
    }
    for uid in &previews {
        both(s, p, "mark preview", |i| i.mark_preview(uid).unwrap());
    }
    let listed = s.search_studies(&StudyQuery::default()).unwrap().total;
    assert!(listed > 2_000, "{listed} studies listed");
    let mut questions = queries();
    // Pages deep into the walk, under each order.
    for order in [
        StudyOrder::Date,
        StudyOrder::Patient,
        StudyOrder::Column {
            column: StudyColumn::PatientName,
            descending: true,
        },
        StudyOrder::Column {
            column: StudyColumn::InstanceCount,
            descending: false,
        },
    ] {
        for offset in [0, 1_990, 2_350] {
            questions.push(StudyQuery {
                order,
                limit: Some(100),
                offset,
                count_limit: Some(1_000),
                ..StudyQuery::default()
            });
        }
    }
    for q in &questions {
        both(s, p, &format!("search {q:?}"), |i| {
            i.search_studies(q).unwrap()
        });
    }
    let counted = bounded_counts_hold(s) + bounded_counts_hold(p);
    assert_eq!(counted, 2 * 24);
}

#[test]
fn writers_racing_on_one_database_index_each_instance_once() {
    let Some(server) = support::postgres::start_postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Each SOP instance once: which file of two with one UID a race keeps is not the question.
    let mut seen = BTreeSet::new();
    let records: Vec<InstanceRecord> = records(dir.path())
        .into_iter()
        .filter(|r| seen.insert(r.sop_instance_uid.clone()))
        .collect();
    let url = server.database();
    // Two "nodes", each with its own pool, four writers each; every writer indexes all the
    // records, in its own order and batching.
    let nodes: Vec<Arc<PostgresIndex>> = (0..2)
        .map(|_| Arc::new(PostgresIndex::open(&url).unwrap()))
        .collect();
    let inserted: usize = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let node = nodes[w % 2].clone();
                let mut mine = records.clone();
                mine.rotate_left(w * records.len() / 8);
                if w % 3 == 1 {
                    mine.reverse();
                }
                scope.spawn(move || {
                    mine.chunks(5 + w)
                        .flat_map(|batch| node.insert_batch(batch).unwrap())
                        .filter(|o| *o == lightbox_core::index::InsertOutcome::Inserted)
                        .count()
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(
        inserted,
        records.len(),
        "each instance inserted by one writer"
    );

    // The counters and lists agree with a single writer's (the order of rows that tie on
    // every sort key follows insertion, which the race decided: compared as sets).
    let sqlite = SqliteIndex::open(&dir.path().join("index.sqlite")).unwrap();
    sqlite.insert_batch(&records).unwrap();
    let asked = same_contents(&sqlite, nodes[1].as_ref());

    // Then removals and previews at once: each study, series and patient removed by two
    // writers on different pools, previews marked while their neighbours go. What remains,
    // and the store's totals, end as one writer's.
    let everything = StudyQuery {
        include_previews: true,
        ..StudyQuery::default()
    };
    let studies = sqlite.search_studies(&everything).unwrap().studies;
    let mut changes: Vec<Change> = Vec::new();
    for (n, study) in studies.iter().enumerate() {
        let series = sqlite.series_of_study(&study.study_uid).unwrap();
        match n % 4 {
            0 => changes.push(Change::Remove(RemoveTarget::Study(study.study_uid.clone()))),
            1 => changes.push(Change::Remove(RemoveTarget::Series(
                series[0].series_uid.clone(),
            ))),
            2 => {
                for se in &series {
                    for i in sqlite.instances_of_series(&se.series_uid).unwrap() {
                        changes.push(Change::Preview(i.sop_instance_uid));
                    }
                }
            }
            _ => changes.push(Change::Remove(RemoveTarget::Patient(
                study.patient_id.clone(),
            ))),
        }
    }
    for change in &changes {
        change.apply(&sqlite);
    }
    std::thread::scope(|scope| {
        for w in 0..8 {
            let node = nodes[w % 2].clone();
            let mut mine: Vec<&Change> = changes.iter().skip(w / 2).step_by(4).collect();
            if w % 2 == 1 {
                mine.reverse();
            }
            scope.spawn(move || mine.into_iter().for_each(|c| c.apply(node.as_ref())));
        }
    });
    let after = sqlite.stats().unwrap();
    assert!(after.patients > 0 && after.previews > 0, "{after:?}");
    let asked_after = same_contents(&sqlite, nodes[0].as_ref());
    eprintln!(
        "figure: 8 writers on 2 pools, {} instances each: indexed once, {asked} answers as one SQLite writer's; \
         {} removals and previews raced by pairs of writers: {asked_after} answers as one writer's",
        records.len(),
        changes.len()
    );
}

/// A change the racing writers make, each twice.
enum Change {
    Remove(RemoveTarget),
    Preview(String),
}

impl Change {
    fn apply(&self, index: &dyn Index) {
        match self {
            Change::Remove(target) => {
                index.remove(target).unwrap();
            }
            Change::Preview(uid) => {
                index.mark_preview(uid).unwrap();
            }
        }
    }
}

#[test]
fn a_database_of_schema_4_counts_its_totals_when_migrated() {
    let Some(server) = support::postgres::start_postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let records = records(dir.path());
    let sqlite = SqliteIndex::open(&dir.path().join("index.sqlite")).unwrap();
    let url = server.database();
    let (s, p): (&dyn Index, &dyn Index) = (&sqlite, &PostgresIndex::open(&url).unwrap());
    for batch in records.chunks(50) {
        both(s, p, "insert", |i| i.insert_batch(batch).unwrap());
    }
    let studies = s.search_studies(&StudyQuery::default()).unwrap().studies;
    let series = s.series_of_study(&studies[0].study_uid).unwrap();
    for i in s.instances_of_series(&series[0].series_uid).unwrap() {
        both(s, p, "mark preview", |x| {
            x.mark_preview(&i.sop_instance_uid).unwrap()
        });
    }
    both(s, p, "remove", |i| {
        i.remove(&RemoveTarget::Patient(studies[1].patient_id.clone()))
            .unwrap()
            .instances
    });

    // Back to what schema 4 held (migration 5 added the totals, the patients' count of listed
    // studies and the triggers), then opened again: the migration counts the totals from the
    // rows, and the triggers keep them from there.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "DROP TABLE store_totals;
             DROP FUNCTION add_to_store_totals, series_to_store_totals, studies_to_store_totals,
                 patients_to_store_totals CASCADE;
             ALTER TABLE patients DROP COLUMN listed_studies;
             UPDATE lightbox_schema SET version = 4;",
        )
        .unwrap();
    let migrated = PostgresIndex::open(&url).unwrap();
    let p: &dyn Index = &migrated;
    let version: i64 = client
        .query_one("SELECT version FROM lightbox_schema", &[])
        .unwrap()
        .get(0);
    assert!(version >= 5, "schema {version}");
    let totals = both(s, p, "stats after the migration", |i| i.stats().unwrap());
    assert!(totals.patients > 0 && totals.previews > 0, "{totals:?}");
    both(s, p, "remove after the migration", |i| {
        i.remove(&RemoveTarget::Study(studies[2].study_uid.clone()))
            .unwrap()
            .instances
    });
    both(s, p, "stats after a removal", |i| i.stats().unwrap());
}
