//! The SQLite index: one writer connection (batched transactions), pooled readers under WAL.

use super::migrations;
use super::{
    Index, IndexError, IndexErrorKind, IndexStats, InsertOutcome, RemoveTarget, Removed,
    RemovedFile, SetMember, StudyColumn, StudyOrder, StudyPage, StudyQuery, TextPattern,
};
use crate::image_sets::Placement;
use crate::model::{InstanceRecord, InstanceSummary, SeriesSummary, StudySummary};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row, Transaction};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct SqliteIndex {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn open_connection(path: &Path) -> Result<Connection, IndexError> {
    let conn = Connection::open(path).map_err(|source| IndexErrorKind::Open {
        path: path.display().to_string(),
        source,
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -32768;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(conn)
}

impl SqliteIndex {
    pub fn open(path: &Path) -> Result<SqliteIndex, IndexError> {
        let mut writer = open_connection(path)?;
        migrations::migrate(&mut writer)?;
        Ok(SqliteIndex {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, IndexError> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path)?,
        };
        let result = f(&conn);
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        Ok(result?)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Modalities are stored as `\CT\MR\` so that "any of" filters are substring tests.
fn modalities_list(stored: &str) -> Vec<String> {
    stored
        .split('\\')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect()
}

fn refresh_study_modalities(tx: &Transaction, study: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE studies SET modalities = coalesce((
             SELECT '\\' || group_concat(m, '\\') || '\\' FROM (
                 SELECT DISTINCT modality AS m FROM series
                 WHERE study_ref = ?1 AND modality IS NOT NULL AND modality != '' ORDER BY m)), '')
         WHERE id = ?1",
    )?
    .execute([study])?;
    Ok(())
}

fn insert_one(tx: &Transaction, r: &InstanceRecord) -> Result<InsertOutcome, IndexError> {
    let existing: Option<String> = tx
        .prepare_cached("SELECT file_path FROM instances WHERE sop_uid = ?")?
        .query_row([&r.sop_instance_uid], |row| row.get(0))
        .optional()?;
    if let Some(existing_path) = existing {
        return Ok(InsertOutcome::Duplicate { existing_path });
    }

    let patient: Option<i64> = tx
        .prepare_cached("SELECT id FROM patients WHERE patient_id = ? AND patient_name = ?")?
        .query_row([&r.patient_id, &r.patient_name], |row| row.get(0))
        .optional()?;
    let patient = match patient {
        Some(id) => id,
        None => {
            tx.prepare_cached(
                "INSERT INTO patients (patient_id, patient_name, patient_name_norm, birth_date, sex)
                 VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![
                r.patient_id,
                r.patient_name,
                r.patient_name.to_uppercase(),
                r.patient_birth_date,
                r.patient_sex
            ])?;
            tx.last_insert_rowid()
        }
    };

    let study: Option<i64> = tx
        .prepare_cached("SELECT id FROM studies WHERE study_uid = ?")?
        .query_row([&r.study_uid], |row| row.get(0))
        .optional()?;
    let study = match study {
        Some(id) => id,
        None => {
            tx.prepare_cached(
                "INSERT INTO studies (patient_ref, study_uid, study_date, study_time, description,
                     description_norm, study_id, accession, referring_physician)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                patient,
                r.study_uid,
                r.study_date,
                r.study_time,
                r.study_description,
                r.study_description.as_ref().map(|d| d.to_uppercase()),
                r.study_id,
                r.accession_number,
                r.referring_physician
            ])?;
            tx.last_insert_rowid()
        }
    };

    let series: Option<i64> = tx
        .prepare_cached("SELECT id FROM series WHERE series_uid = ?")?
        .query_row([&r.series_uid], |row| row.get(0))
        .optional()?;
    let series = match series {
        Some(id) => id,
        None => {
            tx.prepare_cached(
                "INSERT INTO series (study_ref, series_uid, modality, series_number, description,
                     body_part, series_date, series_time)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                study,
                r.series_uid,
                r.modality,
                r.series_number,
                r.series_description,
                r.body_part,
                r.series_date,
                r.series_time
            ])?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached("UPDATE studies SET num_series = num_series + 1 WHERE id = ?")?
                .execute([study])?;
            refresh_study_modalities(tx, study)?;
            id
        }
    };

    tx.prepare_cached(
        "INSERT INTO instances (series_ref, sop_uid, sop_class_uid, instance_number, transfer_syntax,
             rows, columns, frames, charset, file_path, file_size, linked, received_at, source,
             image_set, temporal_position, slice_position)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        series,
        r.sop_instance_uid,
        r.sop_class_uid,
        r.instance_number,
        r.transfer_syntax,
        r.rows,
        r.columns,
        r.frames,
        r.specific_character_set,
        r.file_path,
        r.file_size as i64,
        r.linked,
        r.received_at,
        r.source,
        r.placement.as_ref().map_or("", |p| p.key.as_str()),
        r.placement.as_ref().and_then(|p| p.temporal),
        r.placement.as_ref().and_then(|p| p.position)
    ])?;
    tx.prepare_cached(
        "UPDATE series SET num_instances = num_instances + 1, size = size + ?, revision = revision + 1
         WHERE id = ?",
    )?
    .execute(params![r.file_size as i64, series])?;
    tx.prepare_cached("UPDATE studies SET num_instances = num_instances + 1 WHERE id = ?")?
        .execute([study])?;
    Ok(InsertOutcome::Inserted)
}

const STUDY_COLUMNS: &str =
    "p.patient_name, p.patient_id, p.birth_date, p.sex, s.study_uid, s.study_date,
    s.study_time, s.description, s.study_id, s.accession, s.referring_physician, s.modalities,
    s.num_series, s.num_instances - s.num_previews, s.num_previews";

fn study_from_row(row: &Row) -> rusqlite::Result<StudySummary> {
    Ok(StudySummary {
        patient_name: row.get(0)?,
        patient_id: row.get(1)?,
        patient_birth_date: row.get(2)?,
        patient_sex: row.get(3)?,
        study_uid: row.get(4)?,
        study_date: row.get(5)?,
        study_time: row.get(6)?,
        study_description: row.get(7)?,
        study_id: row.get(8)?,
        accession_number: row.get(9)?,
        referring_physician: row.get(10)?,
        modalities: modalities_list(&row.get::<_, String>(11)?),
        series_count: row.get(12)?,
        instance_count: row.get(13)?,
        preview_count: row.get(14)?,
    })
}

const SERIES_COLUMNS: &str =
    "st.study_uid, se.series_uid, se.modality, se.series_number, se.description,
    se.body_part, se.series_date, se.series_time, se.num_instances - se.num_previews, se.size,
    (SELECT i.rows FROM instances i WHERE i.series_ref = se.id ORDER BY i.instance_number LIMIT 1),
    (SELECT i.columns FROM instances i WHERE i.series_ref = se.id ORDER BY i.instance_number LIMIT 1),
    se.num_previews";

fn series_from_row(row: &Row) -> rusqlite::Result<SeriesSummary> {
    Ok(SeriesSummary {
        study_uid: row.get(0)?,
        series_uid: row.get(1)?,
        modality: row.get(2)?,
        series_number: row.get(3)?,
        series_description: row.get(4)?,
        body_part: row.get(5)?,
        series_date: row.get(6)?,
        series_time: row.get(7)?,
        instance_count: row.get(8)?,
        size: row.get(9)?,
        rows: row.get(10)?,
        columns: row.get(11)?,
        preview_count: row.get(12)?,
    })
}

const INSTANCE_COLUMNS: &str = "st.study_uid, se.series_uid, i.sop_uid, i.sop_class_uid, i.instance_number,
    i.transfer_syntax, i.rows, i.columns, i.frames, i.file_path, i.file_size, i.linked, i.received_at,
    i.preview";

fn instance_from_row(row: &Row) -> rusqlite::Result<InstanceSummary> {
    Ok(InstanceSummary {
        study_uid: row.get(0)?,
        series_uid: row.get(1)?,
        sop_instance_uid: row.get(2)?,
        sop_class_uid: row.get(3)?,
        instance_number: row.get(4)?,
        transfer_syntax: row.get(5)?,
        rows: row.get(6)?,
        columns: row.get(7)?,
        frames: row.get(8)?,
        file_path: row.get(9)?,
        file_size: row.get(10)?,
        linked: row.get(11)?,
        received_at: row.get(12)?,
        preview: row.get(13)?,
    })
}

/// Builds the WHERE clause of a study search; the second value says whether patients are needed.
fn study_filter(q: &StudyQuery) -> (String, Vec<SqlValue>, bool) {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    let mut needs_patient = false;
    let mut text =
        |column: &str, pattern: &TextPattern, uppercase: bool, args: &mut Vec<SqlValue>| {
            if pattern.has_wildcards() {
                clauses.push(format!("{column} GLOB ?"));
                args.push(SqlValue::Text(pattern.to_glob(uppercase)));
            } else {
                clauses.push(format!("{column} = ?"));
                let value = if uppercase {
                    pattern.as_str().to_uppercase()
                } else {
                    pattern.as_str().to_string()
                };
                args.push(SqlValue::Text(value));
            }
        };
    if let Some(p) = &q.patient_name {
        text("p.patient_name_norm", p, true, &mut args);
        needs_patient = true;
    }
    // upper() folds ASCII only, which is what IDs are made of.
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
        // upper() folds ASCII only, like the pattern's own fold for the usual descriptions.
        let (op, value) = if p.has_wildcards() {
            ("GLOB", p.to_glob(true))
        } else {
            ("=", p.as_str().to_uppercase())
        };
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM series se WHERE se.study_ref = s.id AND upper(se.description) {op} ?)"
        ));
        args.push(SqlValue::Text(value));
    }
    if let Some(range) = &q.study_date {
        if let Some(from) = &range.from {
            clauses.push("s.study_date >= ?".into());
            args.push(SqlValue::Text(from.clone()));
        }
        if let Some(to) = &range.to {
            clauses.push("s.study_date <= ?".into());
            args.push(SqlValue::Text(to.clone()));
        }
    }
    if !q.modalities.is_empty() {
        let any: Vec<&str> = q
            .modalities
            .iter()
            .map(|_| "instr(s.modalities, ?) > 0")
            .collect();
        clauses.push(format!("({})", any.join(" OR ")));
        for m in &q.modalities {
            args.push(SqlValue::Text(format!("\\{}\\", m.trim().to_uppercase())));
        }
    }
    if !q.include_previews {
        clauses.push("s.num_instances > s.num_previews".into());
    }
    if !q.study_uids.is_empty() {
        let marks = vec!["?"; q.study_uids.len()].join(", ");
        clauses.push(format!("s.study_uid IN ({marks})"));
        args.extend(q.study_uids.iter().map(|u| SqlValue::Text(u.clone())));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, args, needs_patient)
}

const NEWEST_FIRST: &str = "s.study_date DESC, s.study_time DESC, s.id DESC";

/// The ORDER BY of a study page.
fn order_by(order: StudyOrder) -> String {
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
    let direction = if descending { "DESC" } else { "ASC" };
    // NULL and '' sort first in SQLite; a worklist puts studies without the value last. Going
    // down they are last already, and the plain column can use an index.
    let empty_last = if text && !descending {
        format!("coalesce({expr}, '') = '', ")
    } else {
        String::new()
    };
    format!("{empty_last}{expr} {direction}, {NEWEST_FIRST}")
}

impl Index for SqliteIndex {
    fn insert_batch(&self, records: &[InstanceRecord]) -> Result<Vec<InsertOutcome>, IndexError> {
        self.write(|tx| records.iter().map(|r| insert_one(tx, r)).collect())
    }

    fn instance_path(&self, sop_instance_uid: &str) -> Result<Option<String>, IndexError> {
        self.read(|c| {
            c.prepare_cached("SELECT file_path FROM instances WHERE sop_uid = ?")?
                .query_row([sop_instance_uid], |r| r.get(0))
                .optional()
        })
    }

    fn visit_managed_paths(
        &self,
        visit: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Result<(), IndexError> {
        // A connection of its own: a pass over a large index must not hold a pooled reader.
        let conn = open_connection(&self.path)?;
        let mut statement =
            conn.prepare("SELECT file_path FROM instances WHERE NOT linked ORDER BY file_path")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let path: String = row.get(0)?;
            if !visit(&path) {
                break;
            }
        }
        Ok(())
    }

    fn search_studies(&self, q: &StudyQuery) -> Result<StudyPage, IndexError> {
        let (filter, args, needs_patient) = study_filter(q);
        self.read(|c| {
            let from_where = if needs_patient {
                format!("FROM studies s JOIN patients p ON p.id = s.patient_ref {filter}")
            } else {
                format!("FROM studies s {filter}")
            };
            let bound = q.count_bound();
            let count_sql = super::query::count_sql(&from_where, bound);
            let total: i64 = c.prepare_cached(&count_sql)?.query_row(params_from_iter(&args), |r| r.get(0))?;
            let order = order_by(q.order);
            let page_sql = format!(
                "SELECT {STUDY_COLUMNS} FROM studies s JOIN patients p ON p.id = s.patient_ref {filter}
                 ORDER BY {order} LIMIT ? OFFSET ?"
            );
            let mut page_args = args.clone();
            page_args.push(SqlValue::Integer(q.limit.map(|l| l as i64).unwrap_or(-1)));
            page_args.push(SqlValue::Integer(q.offset as i64));
            let studies = c
                .prepare_cached(&page_sql)?
                .query_map(params_from_iter(&page_args), study_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(StudyPage::counted(total as u64, bound, studies))
        })
    }

    fn study(&self, study_uid: &str) -> Result<Option<StudySummary>, IndexError> {
        let query = StudyQuery {
            study_uids: vec![study_uid.to_string()],
            include_previews: true,
            ..StudyQuery::default()
        };
        Ok(self.search_studies(&query)?.studies.into_iter().next())
    }

    fn series_of_study(&self, study_uid: &str) -> Result<Vec<SeriesSummary>, IndexError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SERIES_COLUMNS} FROM series se JOIN studies st ON st.id = se.study_ref
                 WHERE st.study_uid = ? ORDER BY se.series_number IS NULL, se.series_number, se.id"
            ))?
            .query_map([study_uid], series_from_row)?
            .collect()
        })
    }

    fn series(&self, series_uid: &str) -> Result<Option<SeriesSummary>, IndexError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SERIES_COLUMNS} FROM series se JOIN studies st ON st.id = se.study_ref
                 WHERE se.series_uid = ?"
            ))?
            .query_row([series_uid], series_from_row)
            .optional()
        })
    }

    fn instances_of_series(&self, series_uid: &str) -> Result<Vec<InstanceSummary>, IndexError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {INSTANCE_COLUMNS} FROM instances i JOIN series se ON se.id = i.series_ref
                 JOIN studies st ON st.id = se.study_ref WHERE se.series_uid = ?
                 ORDER BY i.instance_number IS NULL, i.instance_number, i.sop_uid"
            ))?
            .query_map([series_uid], instance_from_row)?
            .collect()
        })
    }

    fn instance(&self, sop_instance_uid: &str) -> Result<Option<InstanceSummary>, IndexError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {INSTANCE_COLUMNS} FROM instances i JOIN series se ON se.id = i.series_ref
                 JOIN studies st ON st.id = se.study_ref WHERE i.sop_uid = ?"
            ))?
            .query_row([sop_instance_uid], instance_from_row)
            .optional()
        })
    }

    fn series_revision(&self, series_uid: &str) -> Result<Option<i64>, IndexError> {
        self.read(|c| {
            c.prepare_cached("SELECT revision FROM series WHERE series_uid = ?")?
                .query_row([series_uid], |r| r.get(0))
                .optional()
        })
    }

    fn sop_classes_of_study(&self, study_uid: &str) -> Result<Vec<String>, IndexError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT DISTINCT i.sop_class_uid FROM studies st
                 JOIN series se ON se.study_ref = st.id
                 JOIN instances i ON i.series_ref = se.id
                 WHERE st.study_uid = ? AND i.sop_class_uid IS NOT NULL
                 ORDER BY 1",
            )?
            .query_map([study_uid], |r| r.get(0))?
            .collect()
        })
    }

    fn remove(&self, target: &RemoveTarget) -> Result<Removed, IndexError> {
        self.write(|tx| remove_in(tx, target))
    }

    fn mark_preview(&self, sop_instance_uid: &str) -> Result<bool, IndexError> {
        self.write(|tx| {
            let series: Option<i64> = tx
                .prepare_cached(
                    "SELECT series_ref FROM instances WHERE sop_uid = ? AND preview = 0",
                )?
                .query_row([sop_instance_uid], |r| r.get(0))
                .optional()?;
            let Some(series) = series else {
                return Ok(false);
            };
            tx.prepare_cached("UPDATE instances SET preview = 1 WHERE sop_uid = ?")?
                .execute([sop_instance_uid])?;
            tx.prepare_cached("UPDATE series SET num_previews = num_previews + 1 WHERE id = ?")?
                .execute([series])?;
            tx.prepare_cached(
                "UPDATE studies SET num_previews = num_previews + 1
                 WHERE id = (SELECT study_ref FROM series WHERE id = ?)",
            )?
            .execute([series])?;
            Ok(true)
        })
    }

    fn keep_previews(&self, target: &RemoveTarget) -> Result<u64, IndexError> {
        self.write(|tx| {
            let (instance_filter, arg, series_ids) = target_scope(tx, target)?;
            let kept = tx.execute(
                &format!("UPDATE instances SET preview = 0 WHERE preview = 1 AND {instance_filter}"),
                [arg],
            )? as u64;
            if kept == 0 {
                return Ok(0);
            }
            for series in &series_ids {
                tx.execute(
                    "UPDATE series SET num_previews =
                         (SELECT count(*) FROM instances WHERE series_ref = ?1 AND preview = 1)
                     WHERE id = ?1",
                    [series],
                )?;
                tx.execute(
                    "UPDATE studies SET num_previews =
                         (SELECT coalesce(sum(num_previews), 0) FROM series WHERE study_ref = studies.id)
                     WHERE id = (SELECT study_ref FROM series WHERE id = ?)",
                    [series],
                )?;
            }
            Ok(kept)
        })
    }

    fn stats(&self) -> Result<IndexStats, IndexError> {
        self.read(|c| {
            c.query_row(
                // The series keep their instances' count and size: summing those is much
                // cheaper than reading every instance (the top bar asks on every page load).
                "SELECT (SELECT count(*) FROM patients p WHERE EXISTS (SELECT 1 FROM studies s
                            WHERE s.patient_ref = p.id AND s.num_instances > s.num_previews)),
                        (SELECT count(*) FROM studies WHERE num_instances > num_previews),
                        (SELECT count(*) FROM series WHERE num_instances > num_previews),
                        (SELECT coalesce(sum(num_instances - num_previews), 0) FROM series),
                        (SELECT coalesce(sum(num_previews), 0) FROM series),
                        (SELECT coalesce(sum(size), 0) FROM series)",
                [],
                |r| {
                    Ok(IndexStats {
                        patients: r.get::<_, i64>(0)? as u64,
                        studies: r.get::<_, i64>(1)? as u64,
                        series: r.get::<_, i64>(2)? as u64,
                        instances: r.get::<_, i64>(3)? as u64,
                        previews: r.get::<_, i64>(4)? as u64,
                        bytes: r.get::<_, i64>(5)? as u64,
                    })
                },
            )
        })
    }

    fn image_set_members(&self, series_uid: &str) -> Result<Vec<SetMember>, IndexError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT i.sop_uid, i.instance_number, i.frames, i.file_path, i.image_set,
                        i.temporal_position, i.slice_position
                 FROM instances i JOIN series se ON se.id = i.series_ref WHERE se.series_uid = ?
                 ORDER BY i.instance_number IS NULL, i.instance_number, i.sop_uid",
            )?
            .query_map([series_uid], |r| {
                let placement = match r.get::<_, Option<String>>(4)? {
                    None => None,
                    Some(key) if key.is_empty() => Some(None),
                    Some(key) => Some(Some(Placement {
                        key,
                        temporal: r.get(5)?,
                        position: r.get(6)?,
                    })),
                };
                Ok(SetMember {
                    sop_instance_uid: r.get(0)?,
                    instance_number: r.get(1)?,
                    frames: r.get::<_, Option<i64>>(2)?.unwrap_or(1).max(1) as u64,
                    file_path: r.get(3)?,
                    placement,
                })
            })?
            .collect()
        })
    }

    fn set_placement(
        &self,
        sop_instance_uid: &str,
        placement: Option<&Placement>,
    ) -> Result<(), IndexError> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE instances SET image_set = ?2, temporal_position = ?3, slice_position = ?4
                 WHERE sop_uid = ?1",
            )?
            .execute(params![
                sop_instance_uid,
                placement.map_or("", |p| p.key.as_str()),
                placement.and_then(|p| p.temporal),
                placement.and_then(|p| p.position)
            ])?;
            Ok(())
        })
    }
}

fn ids(tx: &Transaction, sql: &str, arg: &str) -> rusqlite::Result<Vec<i64>> {
    tx.prepare_cached(sql)?
        .query_map([arg], |r| r.get(0))?
        .collect()
}

/// The instances a target covers, as a filter on `instances` with its argument, and the ids of
/// the series they are in.
fn target_scope<'a>(
    tx: &Transaction,
    target: &'a RemoveTarget,
) -> rusqlite::Result<(&'static str, &'a String, Vec<i64>)> {
    Ok(match target {
        RemoveTarget::Instance(uid) => (
            "sop_uid = ?",
            uid,
            ids(tx, "SELECT series_ref FROM instances WHERE sop_uid = ?", uid)?,
        ),
        RemoveTarget::Series(uid) => (
            "series_ref IN (SELECT id FROM series WHERE series_uid = ?)",
            uid,
            ids(tx, "SELECT id FROM series WHERE series_uid = ?", uid)?,
        ),
        RemoveTarget::Study(uid) => (
            "series_ref IN (SELECT se.id FROM series se JOIN studies st ON st.id = se.study_ref
                            WHERE st.study_uid = ?)",
            uid,
            ids(tx, "SELECT se.id FROM series se JOIN studies st ON st.id = se.study_ref WHERE st.study_uid = ?", uid)?,
        ),
        RemoveTarget::Patient(pid) => (
            "series_ref IN (SELECT se.id FROM series se JOIN studies st ON st.id = se.study_ref
                            JOIN patients p ON p.id = st.patient_ref WHERE p.patient_id = ?)",
            pid,
            ids(
                tx,
                "SELECT se.id FROM series se JOIN studies st ON st.id = se.study_ref
                 JOIN patients p ON p.id = st.patient_ref WHERE p.patient_id = ?",
                pid,
            )?,
        ),
    })
}

/// Deletes the target's instances, then recomputes the counters of every series and study they
/// touched from what remains, and drops whatever was left empty.
fn remove_in(tx: &Transaction, target: &RemoveTarget) -> Result<Removed, IndexError> {
    let mut removed = Removed::default();
    let (instance_filter, arg, series_ids) = target_scope(tx, target)?;
    removed.files = tx
        .prepare(&format!(
            "SELECT file_path, linked FROM instances WHERE {instance_filter}"
        ))?
        .query_map([arg], |r| {
            Ok(RemovedFile {
                path: r.get(0)?,
                linked: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    removed.instances = tx.execute(
        &format!("DELETE FROM instances WHERE {instance_filter}"),
        [arg],
    )? as u64;

    // Empty studies and patients can also exist without series (a patient ID with no studies).
    let mut study_ids: Vec<i64> = Vec::new();
    for series in &series_ids {
        let study: i64 =
            tx.query_row("SELECT study_ref FROM series WHERE id = ?", [series], |r| {
                r.get(0)
            })?;
        if !study_ids.contains(&study) {
            study_ids.push(study);
        }
        tx.execute(
            "UPDATE series SET num_instances = (SELECT count(*) FROM instances WHERE series_ref = ?1),
                 num_previews = (SELECT count(*) FROM instances WHERE series_ref = ?1 AND preview = 1),
                 size = (SELECT coalesce(sum(file_size), 0) FROM instances WHERE series_ref = ?1),
                 revision = revision + 1
             WHERE id = ?1",
            [series],
        )?;
        removed.series += tx.execute(
            "DELETE FROM series WHERE id = ? AND num_instances = 0",
            [series],
        )? as u64;
    }
    let mut patient_ids: Vec<i64> = Vec::new();
    for study in &study_ids {
        let patient: i64 = tx.query_row(
            "SELECT patient_ref FROM studies WHERE id = ?",
            [study],
            |r| r.get(0),
        )?;
        if !patient_ids.contains(&patient) {
            patient_ids.push(patient);
        }
        tx.execute(
            "UPDATE studies SET num_series = (SELECT count(*) FROM series WHERE study_ref = ?1),
                 num_instances = (SELECT coalesce(sum(num_instances), 0) FROM series WHERE study_ref = ?1),
                 num_previews = (SELECT coalesce(sum(num_previews), 0) FROM series WHERE study_ref = ?1)
             WHERE id = ?1",
            [study],
        )?;
        refresh_study_modalities(tx, *study)?;
        removed.studies += tx.execute(
            "DELETE FROM studies WHERE id = ? AND num_series = 0",
            [study],
        )? as u64;
    }
    for patient in &patient_ids {
        removed.patients += tx.execute(
            "DELETE FROM patients WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM studies WHERE patient_ref = ?1)",
            [patient],
        )? as u64;
    }
    Ok(removed)
}
