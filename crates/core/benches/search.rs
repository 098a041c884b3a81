//! Study search latency on an index of 100,000 studies / 1,000,000 instances (or as many as
//! `LIGHTBOX_BENCH_INSTANCES` says, in steps of 50 instances a patient).
//!
//! `cargo bench -p lightbox-core --bench search`: SQLite, the index built once through the
//! `Index` trait's batched inserts and kept under `target/bench-index/` for later runs.
//! `LIGHTBOX_BENCH_INDEX=postgres`: a PostgreSQL server of the bench's own (Debian's package,
//! initialised in a temporary folder, on loopback), the index built through the same trait in
//! every run; or, with `LIGHTBOX_BENCH_POSTGRES=postgres://…`, a database of the caller's, built
//! the first time and reused while it holds the same number of studies.

#[path = "../tests/support/mod.rs"]
mod support;

use lightbox_core::index::{
    DateRange, Index, PostgresIndex, SqliteIndex, StudyQuery, TextPattern, BROWSE_COUNT_LIMIT,
};
use lightbox_core::model::InstanceRecord;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

/// Patients in the index: 20,000 (1,000,000 instances) unless `LIGHTBOX_BENCH_INSTANCES` says.
fn patients() -> u64 {
    static PATIENTS: OnceLock<u64> = OnceLock::new();
    *PATIENTS.get_or_init(|| {
        let per_patient = STUDIES_PER_PATIENT * SERIES_PER_STUDY * INSTANCES_PER_SERIES;
        std::env::var("LIGHTBOX_BENCH_INSTANCES")
            .ok()
            .and_then(|n| n.replace(['_', ','], "").parse::<u64>().ok())
            .map_or(20_000, |n| (n / per_patient).max(1))
    })
}
/// Instances a call of `Index::insert_batch` builds the index with: 5,000 unless
/// `LIGHTBOX_BENCH_BATCH` says (the storage listener's batches hold up to 500).
fn batch_size() -> usize {
    std::env::var("LIGHTBOX_BENCH_BATCH")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000)
}
const STUDIES_PER_PATIENT: u64 = 5;
const SERIES_PER_STUDY: u64 = 2;
const INSTANCES_PER_SERIES: u64 = 5;

const FAMILY: &[&str] = &[
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "GARCIA",
    "MILLER",
    "DAVIS",
    "RODRIGUEZ",
    "MARTINEZ",
    "HERNANDEZ",
    "LOPEZ",
    "GONZALEZ",
    "WILSON",
    "ANDERSON",
    "THOMAS",
    "TAYLOR",
    "MOORE",
    "JACKSON",
    "MARTIN",
    "LEE",
    "PEREZ",
    "THOMPSON",
    "WHITE",
    "HARRIS",
    "SANCHEZ",
    "CLARK",
    "RAMIREZ",
    "LEWIS",
    "ROBINSON",
    "WALKER",
    "YOUNG",
    "ALLEN",
    "KING",
    "WRIGHT",
    "SCOTT",
    "TORRES",
    "NGUYEN",
    "HILL",
    "FLORES",
    "GREEN",
    "ADAMS",
    "NELSON",
    "BAKER",
    "HALL",
    "RIVERA",
    "CAMPBELL",
    "MITCHELL",
    "CARTER",
    "ROBERTS",
    "MULLER",
    "SCHMIDT",
    "SCHNEIDER",
    "FISCHER",
    "WEBER",
    "MEYER",
    "WAGNER",
    "BECKER",
    "SCHULZ",
    "HOFFMANN",
    "DUBOIS",
    "LAURENT",
    "LEROY",
    "MOREAU",
    "ROSSI",
    "RUSSO",
    "FERRARI",
    "ESPOSITO",
    "BIANCHI",
    "ROMANO",
    "SATO",
    "SUZUKI",
    "TAKAHASHI",
    "TANAKA",
    "WATANABE",
    "KIM",
    "PARK",
    "CHOI",
    "WANG",
    "LI",
    "ZHANG",
    "LIU",
    "CHEN",
    "YANG",
    "HUANG",
    "ZHAO",
    "NOVAK",
    "SVOBODA",
    "KOWALSKI",
    "NOWAK",
    "JANSEN",
    "DE JONG",
    "PETERSEN",
    "NIELSEN",
    "HANSEN",
    "JOHANSSON",
    "ANDERSSON",
    "KARLSSON",
    "NILSSON",
    "ERIKSSON",
];
const GIVEN: &[&str] = &[
    "JAMES",
    "MARY",
    "JOHN",
    "PATRICIA",
    "ROBERT",
    "JENNIFER",
    "MICHAEL",
    "LINDA",
    "WILLIAM",
    "ELIZABETH",
    "DAVID",
    "BARBARA",
    "RICHARD",
    "SUSAN",
    "JOSEPH",
    "JESSICA",
    "THOMAS",
    "SARAH",
    "CHARLES",
    "KAREN",
    "ANNA",
    "SOFIA",
    "LUCAS",
    "EMMA",
    "NOAH",
    "MIA",
    "HANA",
    "YUKI",
    "MIN",
    "WEI",
];
const MODALITIES: &[&str] = &["CT", "MR", "CR", "DX", "US", "PT", "MG", "NM", "XA", "OT"];
const DESCRIPTIONS: &[&str] = &[
    "CT CHEST W CONTRAST",
    "CT ABDOMEN PELVIS",
    "MR BRAIN WO",
    "MR KNEE LEFT",
    "XR CHEST 2 VIEWS",
    "US ABDOMEN COMPLETE",
    "PET CT WHOLE BODY",
    "MAMMO SCREENING BILATERAL",
    "CT HEAD WO CONTRAST",
    "MR LUMBAR SPINE",
];

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn patient_name(p: u64) -> String {
    format!(
        "{}^{}",
        FAMILY[(mix(p) % FAMILY.len() as u64) as usize],
        GIVEN[(mix(p ^ 77) % GIVEN.len() as u64) as usize]
    )
}

fn study_date(s: u64) -> String {
    let day = mix(s ^ 5) % 3650;
    let (y, rest) = (2016 + day / 365, day % 365);
    format!("{y}{:02}{:02}", rest / 31 % 12 + 1, rest % 28 + 1)
}

fn records_of_study(s: u64) -> Vec<InstanceRecord> {
    let p = s / STUDIES_PER_PATIENT;
    let modality = MODALITIES[(mix(s ^ 9) % MODALITIES.len() as u64) as usize];
    let mut out = Vec::new();
    for se in 0..SERIES_PER_STUDY {
        for i in 0..INSTANCES_PER_SERIES {
            out.push(InstanceRecord {
                patient_id: format!("PID{p:07}"),
                patient_name: patient_name(p),
                patient_birth_date: Some(format!("19{:02}0101", mix(p) % 90 + 10)),
                patient_sex: Some(if p.is_multiple_of(2) { "F" } else { "M" }.into()),
                study_uid: format!("1.2.826.0.1.3680043.10.1588.9.{s}"),
                study_date: Some(study_date(s)),
                study_time: Some(format!("{:02}3000", mix(s) % 24)),
                study_description: Some(
                    DESCRIPTIONS[(mix(s ^ 3) % DESCRIPTIONS.len() as u64) as usize].into(),
                ),
                study_id: Some(format!("{}", s % 1000)),
                accession_number: Some(format!("ACC{s:08}")),
                series_uid: format!("1.2.826.0.1.3680043.10.1588.9.{s}.{se}"),
                modality: Some(modality.into()),
                series_number: Some(se as i64 + 1),
                sop_instance_uid: format!("1.2.826.0.1.3680043.10.1588.9.{s}.{se}.{i}"),
                sop_class_uid: Some("1.2.840.10008.5.1.4.1.1.2".into()),
                instance_number: Some(i as i64 + 1),
                transfer_syntax: "1.2.840.10008.1.2.1".into(),
                rows: Some(512),
                columns: Some(512),
                frames: Some(1),
                file_path: format!("files/{s}/{se}/{i}.dcm"),
                file_size: 526_000,
                received_at: 1_700_000_000_000,
                ..InstanceRecord::default()
            });
        }
    }
    out
}

/// Bump when the synthetic records change, so that a cached index of older records is rebuilt.
const DATA_VERSION: u32 = 1;

/// Fills an empty index; returns what to say about it.
fn build(index: &dyn Index) -> String {
    let studies = patients() * STUDIES_PER_PATIENT;
    let started = Instant::now();
    let mut generating = std::time::Duration::ZERO;
    let mut batch = Vec::new();
    for s in 0..studies {
        let t = Instant::now();
        batch.extend(records_of_study(s));
        generating += t.elapsed();
        if batch.len() >= batch_size() {
            index.insert_batch(&batch).unwrap();
            batch.clear();
        }
    }
    index.insert_batch(&batch).unwrap();
    let secs = started.elapsed().as_secs_f64();
    let n = studies * SERIES_PER_STUDY * INSTANCES_PER_SERIES;
    format!(
        "built on {}: {studies} studies, {n} instances in {secs:.1} s, of which {:.1} s generating \
         the records and {:.1} s in Index::insert_batch (batches of {}): {:.0} instances/s",
        today(),
        generating.as_secs_f64(),
        secs - generating.as_secs_f64(),
        batch_size(),
        n as f64 / (secs - generating.as_secs_f64())
    )
}

/// Opens the cached SQLite index, or builds it; returns the index and what to say about it.
fn sqlite_index() -> (Box<dyn Index>, String) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-index");
    std::fs::create_dir_all(&dir).unwrap();
    let studies = patients() * STUDIES_PER_PATIENT;
    let name = if studies == 100_000 {
        format!("index-100k-v{DATA_VERSION}.sqlite")
    } else {
        format!("index-{studies}-studies-v{DATA_VERSION}.sqlite")
    };
    let path = dir.join(&name);
    let build_note = dir.join(format!("{name}.build.txt"));
    if let Ok(note) = std::fs::read_to_string(&build_note) {
        let index = SqliteIndex::open(&path).unwrap();
        if index.stats().unwrap().studies == studies {
            return (
                Box::new(index),
                format!("reused {} ({})", path.display(), note.trim()),
            );
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{name}{suffix}")));
    }
    let _ = std::fs::remove_file(&build_note);
    let index = SqliteIndex::open(&path).unwrap();
    let note = build(&index);
    std::fs::write(&build_note, &note).unwrap();
    (Box::new(index), note)
}

/// A PostgreSQL index at `url`: reused when it holds the studies this run asks for, else built;
/// then vacuumed and analysed, as autovacuum would a minute after a load (or a migration).
fn postgres_index(url: &str) -> (Box<dyn Index>, String) {
    let index = PostgresIndex::open(url).unwrap();
    let studies = index.stats().unwrap().studies;
    let note = if studies == patients() * STUDIES_PER_PATIENT {
        format!("reused {studies} studies already in the database")
    } else {
        assert_eq!(
            studies, 0,
            "{url} holds another number of studies: give an empty database"
        );
        build(&index)
    };
    let started = Instant::now();
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap()
        .batch_execute("VACUUM ANALYZE")
        .unwrap();
    let analyzed = started.elapsed().as_secs_f64();
    (
        Box::new(index),
        format!("PostgreSQL on loopback, {note}; VACUUM ANALYZE then took {analyzed:.1} s"),
    )
}

/// Today's date (UTC) as YYYY-MM-DD, without a date crate.
fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The first `n` characters (all of a shorter name).
fn prefix(name: &str, n: usize) -> &str {
    &name[..name.len().min(n)]
}

/// What reading the store's totals costs (every open page's header shows them, read once a
/// second per node while a page listens); on PostgreSQL, beside counting them from the rows,
/// which must agree.
fn store_totals(index: &dyn Index, postgres_url: Option<&str>) {
    const RUNS: usize = 20;
    let kept = timed(RUNS, || index.stats().unwrap());
    print!(
        "store totals, Index::stats(): p50 {:.2} ms, p95 {:.2} ms",
        percentile(&kept, 0.5),
        percentile(&kept, 0.95)
    );
    if let Some(url) = postgres_url {
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        let totals = index.stats().unwrap();
        let counted = timed(5, || {
            let row = client.query_one(COUNT_TOTALS, &[]).unwrap();
            let n = |i: usize| row.get::<_, i64>(i) as u64;
            let counted = [n(0), n(1), n(2), n(3), n(4), n(5)];
            assert_eq!(
                counted,
                [
                    totals.patients,
                    totals.studies,
                    totals.series,
                    totals.instances,
                    totals.previews,
                    totals.bytes
                ],
                "kept and counted totals"
            );
        });
        print!(
            "; counted from the rows (as before migration 5): p50 {:.1} ms, p95 {:.1} ms",
            percentile(&counted, 0.5),
            percentile(&counted, 0.95)
        );
    }
    println!("\n");
}

/// The store's totals counted from the patients, studies and series, as `Index::stats()` did on
/// PostgreSQL before the index kept them.
const COUNT_TOTALS: &str =
    "SELECT (SELECT count(*) FROM patients p WHERE EXISTS (SELECT 1 FROM studies s
                WHERE s.patient_ref = p.id AND s.listed)),
            (SELECT count(*) FROM studies WHERE listed),
            (SELECT count(*) FROM series WHERE num_instances > num_previews),
            (SELECT coalesce(sum(num_instances - num_previews), 0)::BIGINT FROM series),
            (SELECT coalesce(sum(num_previews), 0)::BIGINT FROM series),
            (SELECT coalesce(sum(size), 0)::BIGINT FROM series)";

/// Milliseconds each of `runs` calls took, sorted.
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> Vec<f64> {
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(f());
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load().trim());
    let server;
    let postgres_url = match (
        std::env::var("LIGHTBOX_BENCH_INDEX").as_deref(),
        std::env::var("LIGHTBOX_BENCH_POSTGRES"),
    ) {
        (_, Ok(url)) => Some(url),
        (Ok("postgres"), _) => {
            server = support::postgres::start_postgres().expect("PostgreSQL (Debian's package)");
            Some(server.database())
        }
        _ => None,
    };
    let (index, build_note) = match &postgres_url {
        Some(url) => postgres_index(url),
        None => sqlite_index(),
    };
    let stats = index.stats().unwrap();
    println!("index: {build_note}");
    println!(
        "index: {} patients, {} studies, {} series, {} instances\n",
        stats.patients, stats.studies, stats.series, stats.instances
    );
    store_totals(index.as_ref(), postgres_url.as_deref());
    let pattern = |s: &str| TextPattern::new(s);
    type Make = Box<dyn Fn(u64) -> StudyQuery>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "no filter (first page)",
            Box::new(|_| StudyQuery::default()),
        ),
        (
            "patient name, exact",
            Box::new(move |i| StudyQuery {
                patient_name: pattern(&patient_name(mix(i) % patients()).to_lowercase()),
                ..Default::default()
            }),
        ),
        (
            "patient name, prefix*",
            Box::new(move |i| StudyQuery {
                patient_name: pattern(&format!(
                    "{}*",
                    prefix(FAMILY[(i % FAMILY.len() as u64) as usize], 3)
                )),
                ..Default::default()
            }),
        ),
        (
            "patient name, *contains*",
            Box::new(move |i| StudyQuery {
                patient_name: pattern(&format!(
                    "*{}*",
                    &prefix(GIVEN[(i % GIVEN.len() as u64) as usize], 4)[1..]
                )),
                ..Default::default()
            }),
        ),
        (
            "patient ID",
            Box::new(|i| StudyQuery {
                patient_id: TextPattern::new(&format!("PID{:07}", mix(i) % patients())),
                ..Default::default()
            }),
        ),
        (
            "study date range (1 month)",
            Box::new(|i| {
                let y = 2016 + i % 10;
                let m = i % 12 + 1;
                StudyQuery {
                    study_date: Some(
                        DateRange::parse(&format!("{y}{m:02}01-{y}{m:02}28")).unwrap(),
                    ),
                    ..Default::default()
                }
            }),
        ),
        (
            "study date from (open end)",
            Box::new(|i| StudyQuery {
                study_date: Some(DateRange::parse(&format!("{}0101-", 2016 + i % 10)).unwrap()),
                ..Default::default()
            }),
        ),
        (
            "modality (any of 1)",
            Box::new(|i| StudyQuery {
                modalities: vec![MODALITIES[(i % MODALITIES.len() as u64) as usize].into()],
                ..Default::default()
            }),
        ),
        (
            "modalities (any of 2)",
            Box::new(|i| StudyQuery {
                modalities: vec![
                    MODALITIES[(i % 5) as usize].into(),
                    MODALITIES[(i % 5 + 5) as usize].into(),
                ],
                ..Default::default()
            }),
        ),
        (
            "description *contains*",
            Box::new(|i| StudyQuery {
                study_description: TextPattern::new(&format!(
                    "*{}*",
                    ["CHEST", "BRAIN", "ABDOMEN", "SPINE", "KNEE"][(i % 5) as usize]
                )),
                ..Default::default()
            }),
        ),
        (
            "accession number",
            Box::new(|i| StudyQuery {
                accession_number: TextPattern::new(&format!(
                    "ACC{:08}",
                    mix(i) % (patients() * STUDIES_PER_PATIENT)
                )),
                ..Default::default()
            }),
        ),
        (
            "name + date + modality",
            Box::new(move |i| StudyQuery {
                patient_name: pattern(&format!(
                    "{}*",
                    prefix(FAMILY[(i % FAMILY.len() as u64) as usize], 2)
                )),
                study_date: Some(DateRange::parse(&format!("{}0101-", 2016 + i % 8)).unwrap()),
                modalities: vec!["CT".into(), "MR".into()],
                ..Default::default()
            }),
        ),
    ];
    // Each filter twice, turn about: with every match counted, and counted as the browser
    // counts them (up to BROWSE_COUNT_LIMIT).
    println!(
        "| Filter (limit 100) | matches (median) | all counted: p50 ms | p95 ms | \
         counted up to {BROWSE_COUNT_LIMIT}: p50 ms | p95 ms | max ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    const RUNS: u64 = 50;
    for (label, make) in &cases {
        let mut exact = Vec::with_capacity(RUNS as usize);
        let mut bounded = Vec::with_capacity(RUNS as usize);
        let mut totals = Vec::with_capacity(RUNS as usize);
        for i in 0..RUNS {
            for count_limit in [None, Some(BROWSE_COUNT_LIMIT)] {
                let query = StudyQuery {
                    limit: Some(100),
                    count_limit,
                    ..make(i)
                };
                let started = Instant::now();
                let page = index.search_studies(&query).unwrap();
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                if count_limit.is_none() {
                    exact.push(ms);
                    totals.push(page.total);
                } else {
                    bounded.push(ms);
                    let all = *totals.last().unwrap();
                    assert_eq!(page.total, all.min(BROWSE_COUNT_LIMIT), "{label}");
                    assert_eq!(page.total_exact, all <= BROWSE_COUNT_LIMIT, "{label}");
                }
            }
        }
        exact.sort_by(f64::total_cmp);
        bounded.sort_by(f64::total_cmp);
        totals.sort();
        println!(
            "| {label} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            totals[totals.len() / 2],
            percentile(&exact, 0.5),
            percentile(&exact, 0.95),
            percentile(&bounded, 0.5),
            percentile(&bounded, 0.95),
            bounded[bounded.len() - 1]
        );
    }
    println!("\nload average after: {}", load().trim());
}
