//! What changes the PostgreSQL index: inserting instances with their patients, studies and
//! series, and removing them with the counters kept right. Several nodes may write at once:
//! rows that two of them may create together are inserted with `ON CONFLICT DO NOTHING`, so
//! the second waits for the first and finds its row.

use super::super::{IndexError, InsertOutcome, RemoveTarget, Removed, RemovedFile};
use crate::model::InstanceRecord;
use postgres::Transaction;
use std::collections::{HashMap, HashSet};

pub(super) fn refresh_study_modalities(
    tx: &mut Transaction,
    study: i64,
) -> Result<(), postgres::Error> {
    tx.execute(
        "UPDATE studies SET modalities = coalesce((
             SELECT '\\' || string_agg(DISTINCT modality, '\\' ORDER BY modality) || '\\'
             FROM series WHERE study_ref = $1 AND modality IS NOT NULL AND modality != ''), '')
         WHERE id = $1",
        &[&study],
    )?;
    Ok(())
}

/// Indexes a batch with a few set-based statements, whatever its size: the instances not
/// indexed yet (the first of two with one SOP Instance UID), their new patients, studies and
/// series in the order they first appear (so that ids, which break ties in listings, follow the
/// batch as the SQLite index's do), then the counters of what they went into.
pub(super) fn insert_batch(
    tx: &mut Transaction,
    records: &[InstanceRecord],
) -> Result<Vec<InsertOutcome>, IndexError> {
    let uids: Vec<&str> = records
        .iter()
        .map(|r| r.sop_instance_uid.as_str())
        .collect();
    let mut before: HashMap<String, String> = tx
        .query(
            "SELECT sop_uid, file_path FROM instances WHERE sop_uid = ANY($1)",
            &[&uids],
        )?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, postgres::Error>>()?;
    let mut first: HashSet<&str> = HashSet::new();
    let fresh: Vec<&InstanceRecord> = records
        .iter()
        .filter(|r| !before.contains_key(&r.sop_instance_uid) && first.insert(&r.sop_instance_uid))
        .collect();
    let inserted = if fresh.is_empty() {
        HashSet::new()
    } else {
        insert_fresh(tx, &fresh)?
    };
    // Another node indexed some of them a moment ago: their files stay.
    let lost: Vec<&str> = fresh
        .iter()
        .map(|r| r.sop_instance_uid.as_str())
        .filter(|u| !inserted.contains(*u))
        .collect();
    if !lost.is_empty() {
        for row in tx.query(
            "SELECT sop_uid, file_path FROM instances WHERE sop_uid = ANY($1)",
            &[&lost],
        )? {
            before.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    // In batch order: the first record of a UID new here is inserted, later ones are duplicates
    // of it; a UID indexed before is a duplicate of what was there.
    let mut first_path: HashMap<&str, &str> = HashMap::new();
    Ok(records
        .iter()
        .map(|r| {
            let uid = r.sop_instance_uid.as_str();
            if let Some(path) = first_path.get(uid) {
                InsertOutcome::Duplicate {
                    existing_path: path.to_string(),
                }
            } else if inserted.contains(uid) {
                first_path.insert(uid, &r.file_path);
                InsertOutcome::Inserted
            } else {
                // (No path only if another node indexed and removed it within this batch.)
                InsertOutcome::Duplicate {
                    existing_path: before.get(uid).cloned().unwrap_or_default(),
                }
            }
        })
        .collect())
}

/// The first record of each distinct key, in the order of `records`.
fn first_of<'a, K: std::hash::Hash + Eq>(
    records: &[&'a InstanceRecord],
    key: impl Fn(&'a InstanceRecord) -> K,
) -> Vec<&'a InstanceRecord> {
    let mut seen = HashSet::new();
    records
        .iter()
        .copied()
        .filter(|r| seen.insert(key(r)))
        .collect()
}

fn column<'a, T>(records: &[&'a InstanceRecord], f: impl Fn(&'a InstanceRecord) -> T) -> Vec<T> {
    records.iter().map(|r| f(r)).collect()
}

/// Inserts instances none of which the index held; returns the UIDs that went in.
fn insert_fresh(
    tx: &mut Transaction,
    fresh: &[&InstanceRecord],
) -> Result<HashSet<String>, IndexError> {
    // Patients.
    let patients = first_of(fresh, |r| (&r.patient_id, &r.patient_name));
    let (ids, names) = (
        column(&patients, |r| r.patient_id.as_str()),
        column(&patients, |r| r.patient_name.as_str()),
    );
    tx.execute(
        "INSERT INTO patients (patient_id, patient_name, patient_name_norm, birth_date, sex)
         SELECT a, b, c, d, e FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
             $5::text[]) WITH ORDINALITY AS u(a, b, c, d, e, n)
         ORDER BY n ON CONFLICT DO NOTHING",
        &[
            &ids,
            &names,
            &column(&patients, |r| r.patient_name.to_uppercase()),
            &column(&patients, |r| r.patient_birth_date.as_deref()),
            &column(&patients, |r| r.patient_sex.as_deref()),
        ],
    )?;
    let mut patient_ids: HashMap<(String, String), i64> = HashMap::new();
    for row in tx.query(
        "SELECT p.id, p.patient_id, p.patient_name FROM patients p
         JOIN unnest($1::text[], $2::text[]) AS u(a, b) ON p.patient_id = u.a AND p.patient_name = u.b",
        &[&ids, &names],
    )? {
        patient_ids.insert((row.try_get(1)?, row.try_get(2)?), row.try_get(0)?);
    }
    let patient_of = |r: &InstanceRecord| {
        patient_ids
            .get(&(r.patient_id.clone(), r.patient_name.clone()))
            .copied()
            .unwrap_or_default()
    };

    // Studies.
    let studies = first_of(fresh, |r| &r.study_uid);
    let study_uids = column(&studies, |r| r.study_uid.as_str());
    tx.execute(
        "INSERT INTO studies (patient_ref, study_uid, study_date, study_time, description,
             description_norm, study_id, accession, referring_physician, patient_name_norm)
         SELECT a, b, c, d, e, f, g, h, i,
             (SELECT p.patient_name_norm FROM patients p WHERE p.id = a)
         FROM unnest($1::int8[], $2::text[], $3::text[],
             $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
             WITH ORDINALITY AS u(a, b, c, d, e, f, g, h, i, n)
         ORDER BY n ON CONFLICT DO NOTHING",
        &[
            &column(&studies, patient_of),
            &study_uids,
            &column(&studies, |r| r.study_date.as_deref()),
            &column(&studies, |r| r.study_time.as_deref()),
            &column(&studies, |r| r.study_description.as_deref()),
            &column(&studies, |r| {
                r.study_description.as_ref().map(|d| d.to_uppercase())
            }),
            &column(&studies, |r| r.study_id.as_deref()),
            &column(&studies, |r| r.accession_number.as_deref()),
            &column(&studies, |r| r.referring_physician.as_deref()),
        ],
    )?;
    let study_ids = ids_by_uid(tx, "studies", "study_uid", &study_uids)?;

    // Series: the new ones count in their studies.
    let series = first_of(fresh, |r| &r.series_uid);
    let series_uids = column(&series, |r| r.series_uid.as_str());
    let new_series: Vec<i64> = tx
        .query(
            "INSERT INTO series (study_ref, series_uid, modality, series_number, description,
                 body_part, series_date, series_time)
             SELECT a, b, c, d, e, f, g, h FROM unnest($1::int8[], $2::text[], $3::text[],
                 $4::int8[], $5::text[], $6::text[], $7::text[], $8::text[])
                 WITH ORDINALITY AS u(a, b, c, d, e, f, g, h, n)
             ORDER BY n ON CONFLICT DO NOTHING RETURNING id",
            &[
                &column(&series, |r| {
                    study_ids.get(&r.study_uid).copied().unwrap_or_default()
                }),
                &series_uids,
                &column(&series, |r| r.modality.as_deref()),
                &column(&series, |r| r.series_number),
                &column(&series, |r| r.series_description.as_deref()),
                &column(&series, |r| r.body_part.as_deref()),
                &column(&series, |r| r.series_date.as_deref()),
                &column(&series, |r| r.series_time.as_deref()),
            ],
        )?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, postgres::Error>>()?;
    let series_ids = ids_by_uid(tx, "series", "series_uid", &series_uids)?;
    if !new_series.is_empty() {
        tx.execute(
            "UPDATE studies st SET num_series = st.num_series + c.n
             FROM (SELECT study_ref, count(*) AS n FROM series WHERE id = ANY($1)
                   GROUP BY study_ref) c
             WHERE st.id = c.study_ref",
            &[&new_series],
        )?;
        tx.execute(
            "UPDATE studies SET modalities = coalesce((
                 SELECT '\\' || string_agg(DISTINCT modality, '\\' ORDER BY modality) || '\\'
                 FROM series WHERE study_ref = studies.id AND modality IS NOT NULL
                     AND modality != ''), '')
             WHERE id IN (SELECT study_ref FROM series WHERE id = ANY($1))",
            &[&new_series],
        )?;
    }

    // Instances, then what they add to their series and studies.
    let file_sizes = column(fresh, |r| r.file_size as i64);
    let inserted: Vec<String> = tx
        .query(
            "INSERT INTO instances (series_ref, sop_uid, sop_class_uid, instance_number,
                 transfer_syntax, rows, columns, frames, charset, file_path, file_size, linked,
                 received_at, source, image_set, temporal_position, slice_position)
             SELECT a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r FROM unnest($1::int8[],
                 $2::text[], $3::text[], $4::int8[], $5::text[], $6::int8[], $7::int8[],
                 $8::int8[], $9::text[], $10::text[], $11::int8[], $12::bool[], $13::int8[],
                 $14::text[], $15::text[], $16::float8[], $17::float8[])
                 WITH ORDINALITY AS u(a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r, n)
             ORDER BY n ON CONFLICT DO NOTHING RETURNING sop_uid",
            &[
                &column(fresh, |r| {
                    series_ids.get(&r.series_uid).copied().unwrap_or_default()
                }),
                &column(fresh, |r| r.sop_instance_uid.as_str()),
                &column(fresh, |r| r.sop_class_uid.as_deref()),
                &column(fresh, |r| r.instance_number),
                &column(fresh, |r| r.transfer_syntax.as_str()),
                &column(fresh, |r| r.rows),
                &column(fresh, |r| r.columns),
                &column(fresh, |r| r.frames),
                &column(fresh, |r| r.specific_character_set.as_deref()),
                &column(fresh, |r| r.file_path.as_str()),
                &file_sizes,
                &column(fresh, |r| r.linked),
                &column(fresh, |r| r.received_at),
                &column(fresh, |r| r.source.as_deref()),
                &column(fresh, |r| {
                    r.placement.as_ref().map_or("", |p| p.key.as_str())
                }),
                &column(fresh, |r| r.placement.as_ref().and_then(|p| p.temporal)),
                &column(fresh, |r| r.placement.as_ref().and_then(|p| p.position)),
            ],
        )?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, postgres::Error>>()?;
    if !inserted.is_empty() {
        tx.execute(
            "UPDATE series se SET num_instances = se.num_instances + c.n,
                 size = se.size + c.size, revision = se.revision + c.n
             FROM (SELECT series_ref, count(*) AS n, sum(file_size)::BIGINT AS size
                   FROM instances WHERE sop_uid = ANY($1) GROUP BY series_ref) c
             WHERE se.id = c.series_ref",
            &[&inserted],
        )?;
        tx.execute(
            "UPDATE studies st SET num_instances = st.num_instances + c.n
             FROM (SELECT se.study_ref, count(*) AS n FROM instances i
                   JOIN series se ON se.id = i.series_ref
                   WHERE i.sop_uid = ANY($1) GROUP BY se.study_ref) c
             WHERE st.id = c.study_ref",
            &[&inserted],
        )?;
    }
    Ok(inserted.into_iter().collect())
}

/// The ids of rows of `table` by their UIDs.
fn ids_by_uid(
    tx: &mut Transaction,
    table: &str,
    uid_column: &str,
    uids: &[&str],
) -> Result<HashMap<String, i64>, postgres::Error> {
    tx.query(
        &format!("SELECT {uid_column}, id FROM {table} WHERE {uid_column} = ANY($1)"),
        &[&uids],
    )?
    .iter()
    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
    .collect()
}

fn ids(tx: &mut Transaction, sql: &str, arg: &str) -> Result<Vec<i64>, postgres::Error> {
    tx.query(sql, &[&arg])?
        .iter()
        .map(|r| r.try_get(0))
        .collect()
}

/// The instances a target covers, as a filter on `instances` (its argument `$1`) with the
/// argument, and the ids of the series they are in.
pub(super) fn target_scope<'a>(
    tx: &mut Transaction,
    target: &'a RemoveTarget,
) -> Result<(&'static str, &'a str, Vec<i64>), postgres::Error> {
    Ok(match target {
        RemoveTarget::Instance(uid) => (
            "sop_uid = $1",
            uid,
            ids(
                tx,
                "SELECT series_ref FROM instances WHERE sop_uid = $1",
                uid,
            )?,
        ),
        RemoveTarget::Series(uid) => (
            "series_ref IN (SELECT id FROM series WHERE series_uid = $1)",
            uid,
            ids(tx, "SELECT id FROM series WHERE series_uid = $1", uid)?,
        ),
        RemoveTarget::Study(uid) => (
            "series_ref IN (SELECT se.id FROM series se JOIN studies st ON st.id = se.study_ref
                            WHERE st.study_uid = $1)",
            uid,
            ids(
                tx,
                "SELECT se.id FROM series se JOIN studies st ON st.id = se.study_ref
                 WHERE st.study_uid = $1",
                uid,
            )?,
        ),
        RemoveTarget::Patient(pid) => (
            "series_ref IN (SELECT se.id FROM series se JOIN studies st ON st.id = se.study_ref
                            JOIN patients p ON p.id = st.patient_ref WHERE p.patient_id = $1)",
            pid,
            ids(
                tx,
                "SELECT se.id FROM series se JOIN studies st ON st.id = se.study_ref
                 JOIN patients p ON p.id = st.patient_ref WHERE p.patient_id = $1",
                pid,
            )?,
        ),
    })
}

/// Deletes the target's instances, then recomputes the counters of every series and study they
/// touched from what remains, and drops whatever was left empty.
pub(super) fn remove_in(
    tx: &mut Transaction,
    target: &RemoveTarget,
) -> Result<Removed, IndexError> {
    let mut removed = Removed::default();
    let (instance_filter, arg, series_ids) = target_scope(tx, target)?;
    // Another node removing some of the same rows goes first: this waits for it, then goes on
    // with what it left (its series and study rows gone, their instances too).
    let series_ids: Vec<i64> = tx
        .query(
            "SELECT id FROM series WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&series_ids],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, postgres::Error>>()?;
    removed.files = tx
        .query(
            &format!("SELECT file_path, linked FROM instances WHERE {instance_filter}"),
            &[&arg],
        )?
        .iter()
        .map(|r| {
            Ok(RemovedFile {
                path: r.try_get(0)?,
                linked: r.try_get(1)?,
            })
        })
        .collect::<Result<_, postgres::Error>>()?;
    removed.instances = tx.execute(
        &format!("DELETE FROM instances WHERE {instance_filter}"),
        &[&arg],
    )?;

    let mut study_ids: Vec<i64> = Vec::new();
    for series in &series_ids {
        let study: i64 = tx
            .query_one("SELECT study_ref FROM series WHERE id = $1", &[series])?
            .try_get(0)?;
        if !study_ids.contains(&study) {
            study_ids.push(study);
        }
        tx.execute(
            "UPDATE series SET
                 num_instances = (SELECT count(*) FROM instances WHERE series_ref = $1),
                 num_previews = (SELECT count(*) FROM instances WHERE series_ref = $1 AND preview),
                 size = (SELECT coalesce(sum(file_size), 0)::BIGINT FROM instances
                         WHERE series_ref = $1),
                 revision = revision + 1
             WHERE id = $1",
            &[series],
        )?;
        removed.series += tx.execute(
            "DELETE FROM series WHERE id = $1 AND num_instances = 0",
            &[series],
        )?;
    }
    let mut patient_ids: Vec<i64> = Vec::new();
    for study in &study_ids {
        let patient: i64 = tx
            .query_one("SELECT patient_ref FROM studies WHERE id = $1", &[study])?
            .try_get(0)?;
        if !patient_ids.contains(&patient) {
            patient_ids.push(patient);
        }
        tx.execute(
            "UPDATE studies SET
                 num_series = (SELECT count(*) FROM series WHERE study_ref = $1),
                 num_instances = (SELECT coalesce(sum(num_instances), 0)::BIGINT FROM series
                                  WHERE study_ref = $1),
                 num_previews = (SELECT coalesce(sum(num_previews), 0)::BIGINT FROM series
                                 WHERE study_ref = $1)
             WHERE id = $1",
            &[study],
        )?;
        refresh_study_modalities(tx, *study)?;
        removed.studies += tx.execute(
            "DELETE FROM studies WHERE id = $1 AND num_series = 0",
            &[study],
        )?;
    }
    for patient in &patient_ids {
        removed.patients += tx.execute(
            "DELETE FROM patients WHERE id = $1
             AND NOT EXISTS (SELECT 1 FROM studies WHERE patient_ref = $1)",
            &[patient],
        )?;
    }
    Ok(removed)
}
