//! What changes the PostgreSQL index: inserting instances with their patients, studies and
//! series, and removing them with the counters kept right. Several nodes may write at once:
//! rows that two of them may create together are inserted with `ON CONFLICT DO NOTHING`, so
//! the second waits for the first and finds its row.

use super::super::{IndexError, InsertOutcome, RemoveTarget, Removed, RemovedFile};
use crate::model::InstanceRecord;
use postgres::Transaction;

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

/// The id of the row `insert` adds, or of the one that was there (or that another node added
/// meanwhile): `insert` returns the id when it inserted, `select` finds it otherwise.
fn id_of(
    tx: &mut Transaction,
    select: &str,
    insert: &str,
    key: &[&(dyn postgres::types::ToSql + Sync)],
    values: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<(i64, bool), postgres::Error> {
    if let Some(row) = tx.query_opt(select, key)? {
        return Ok((row.try_get(0)?, false));
    }
    if let Some(row) = tx.query_opt(insert, values)? {
        return Ok((row.try_get(0)?, true));
    }
    let row = tx.query_one(select, key)?;
    Ok((row.try_get(0)?, false))
}

pub(super) fn insert_one(
    tx: &mut Transaction,
    r: &InstanceRecord,
) -> Result<InsertOutcome, IndexError> {
    if let Some(row) = tx.query_opt(
        "SELECT file_path FROM instances WHERE sop_uid = $1",
        &[&r.sop_instance_uid],
    )? {
        return Ok(InsertOutcome::Duplicate {
            existing_path: row.try_get(0)?,
        });
    }
    let (patient, _) = id_of(
        tx,
        "SELECT id FROM patients WHERE patient_id = $1 AND patient_name = $2",
        "INSERT INTO patients (patient_id, patient_name, patient_name_norm, birth_date, sex)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
        &[&r.patient_id, &r.patient_name],
        &[
            &r.patient_id,
            &r.patient_name,
            &r.patient_name.to_uppercase(),
            &r.patient_birth_date,
            &r.patient_sex,
        ],
    )?;
    let (study, _) = id_of(
        tx,
        "SELECT id FROM studies WHERE study_uid = $1",
        "INSERT INTO studies (patient_ref, study_uid, study_date, study_time, description,
             description_norm, study_id, accession, referring_physician)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id",
        &[&r.study_uid],
        &[
            &patient,
            &r.study_uid,
            &r.study_date,
            &r.study_time,
            &r.study_description,
            &r.study_description.as_ref().map(|d| d.to_uppercase()),
            &r.study_id,
            &r.accession_number,
            &r.referring_physician,
        ],
    )?;
    let (series, new_series) = id_of(
        tx,
        "SELECT id FROM series WHERE series_uid = $1",
        "INSERT INTO series (study_ref, series_uid, modality, series_number, description,
             body_part, series_date, series_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
        &[&r.series_uid],
        &[
            &study,
            &r.series_uid,
            &r.modality,
            &r.series_number,
            &r.series_description,
            &r.body_part,
            &r.series_date,
            &r.series_time,
        ],
    )?;
    if new_series {
        tx.execute(
            "UPDATE studies SET num_series = num_series + 1 WHERE id = $1",
            &[&study],
        )?;
        refresh_study_modalities(tx, study)?;
    }
    let file_size = r.file_size as i64;
    let inserted = tx.query_opt(
        "INSERT INTO instances (series_ref, sop_uid, sop_class_uid, instance_number,
             transfer_syntax, rows, columns, frames, charset, file_path, file_size, linked,
             received_at, source, image_set, temporal_position, slice_position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT DO NOTHING RETURNING id",
        &[
            &series,
            &r.sop_instance_uid,
            &r.sop_class_uid,
            &r.instance_number,
            &r.transfer_syntax,
            &r.rows,
            &r.columns,
            &r.frames,
            &r.specific_character_set,
            &r.file_path,
            &file_size,
            &r.linked,
            &r.received_at,
            &r.source,
            &r.placement.as_ref().map_or("", |p| p.key.as_str()),
            &r.placement.as_ref().and_then(|p| p.temporal),
            &r.placement.as_ref().and_then(|p| p.position),
        ],
    )?;
    if inserted.is_none() {
        // Another node indexed the same instance a moment ago: its file stays.
        let row = tx.query_one(
            "SELECT file_path FROM instances WHERE sop_uid = $1",
            &[&r.sop_instance_uid],
        )?;
        return Ok(InsertOutcome::Duplicate {
            existing_path: row.try_get(0)?,
        });
    }
    tx.execute(
        "UPDATE series SET num_instances = num_instances + 1, size = size + $1,
             revision = revision + 1
         WHERE id = $2",
        &[&file_size, &series],
    )?;
    tx.execute(
        "UPDATE studies SET num_instances = num_instances + 1 WHERE id = $1",
        &[&study],
    )?;
    Ok(InsertOutcome::Inserted)
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
