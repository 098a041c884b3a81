//! Versioned schema migrations, tracked in SQLite's `user_version`.
//!
//! Append new steps; never edit a released one.

use super::{IndexError, IndexErrorKind};
use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: patients → studies → series → instances, with the counters listings show.
    r#"
    CREATE TABLE patients (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL,
        patient_name TEXT NOT NULL,
        patient_name_norm TEXT NOT NULL,
        birth_date TEXT,
        sex TEXT,
        UNIQUE (patient_id, patient_name)
    );
    CREATE INDEX patients_by_name ON patients (patient_name_norm);
    CREATE TABLE studies (
        id INTEGER PRIMARY KEY,
        patient_ref INTEGER NOT NULL REFERENCES patients (id),
        study_uid TEXT NOT NULL UNIQUE,
        study_date TEXT,
        study_time TEXT,
        description TEXT,
        description_norm TEXT,
        study_id TEXT,
        accession TEXT,
        referring_physician TEXT,
        modalities TEXT NOT NULL DEFAULT '',
        num_series INTEGER NOT NULL DEFAULT 0,
        num_instances INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX studies_by_date ON studies (study_date, study_time);
    CREATE INDEX studies_by_patient ON studies (patient_ref);
    CREATE INDEX studies_by_accession ON studies (accession);
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        study_ref INTEGER NOT NULL REFERENCES studies (id),
        series_uid TEXT NOT NULL UNIQUE,
        modality TEXT,
        series_number INTEGER,
        description TEXT,
        body_part TEXT,
        series_date TEXT,
        series_time TEXT,
        num_instances INTEGER NOT NULL DEFAULT 0,
        size INTEGER NOT NULL DEFAULT 0,
        revision INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX series_by_study ON series (study_ref);
    CREATE TABLE instances (
        id INTEGER PRIMARY KEY,
        series_ref INTEGER NOT NULL REFERENCES series (id),
        sop_uid TEXT NOT NULL UNIQUE,
        sop_class_uid TEXT,
        instance_number INTEGER,
        transfer_syntax TEXT NOT NULL,
        rows INTEGER,
        columns INTEGER,
        frames INTEGER,
        charset TEXT,
        file_path TEXT NOT NULL,
        file_size INTEGER NOT NULL,
        linked INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        source TEXT
    );
    CREATE INDEX instances_by_series ON instances (series_ref, instance_number);
    "#,
    // 2: where each instance goes among its series' image sets (NULL: not read yet; an empty
    // set key: no pixels).
    r#"
    ALTER TABLE instances ADD COLUMN image_set TEXT;
    ALTER TABLE instances ADD COLUMN temporal_position REAL;
    ALTER TABLE instances ADD COLUMN slice_position REAL;
    "#,
    // 3: preview instances (fetched for a thumbnail: a study of previews only is not local),
    // counted apart in their series and study.
    r#"
    ALTER TABLE instances ADD COLUMN preview INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE series ADD COLUMN num_previews INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE studies ADD COLUMN num_previews INTEGER NOT NULL DEFAULT 0;
    "#,
];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn migrate(conn: &mut Connection) -> Result<(), IndexError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(IndexErrorKind::SchemaTooNew {
            found: current,
            supported: LATEST,
        }
        .into());
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", step as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
