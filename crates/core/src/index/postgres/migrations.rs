//! Versioned schema migrations of the PostgreSQL index, tracked in `lightbox_schema`.
//!
//! Append new steps; never edit a released one. Nodes that start together take an advisory
//! lock, so that one of them migrates and the others see the result.

use super::super::{IndexError, IndexErrorKind};
use postgres::Client;

/// The advisory lock key of the migrations ("LBOXINDX").
const MIGRATION_LOCK: i64 = 0x4c42_4f58_494e_4458;

const MIGRATIONS: &[&str] = &[
    // 1: the SQLite index's schema, as it stands after its third step. Text that is compared
    // or sorted is in the "C" collation: byte order, as SQLite's, whatever the database's
    // locale.
    r#"
    CREATE TABLE patients (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        patient_id TEXT COLLATE "C" NOT NULL,
        patient_name TEXT COLLATE "C" NOT NULL,
        patient_name_norm TEXT COLLATE "C" NOT NULL,
        birth_date TEXT COLLATE "C",
        sex TEXT COLLATE "C",
        UNIQUE (patient_id, patient_name)
    );
    CREATE INDEX patients_by_name ON patients (patient_name_norm, patient_id, id);
    CREATE INDEX patients_by_id ON patients (patient_id);
    CREATE TABLE studies (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        patient_ref BIGINT NOT NULL REFERENCES patients (id),
        study_uid TEXT COLLATE "C" NOT NULL UNIQUE,
        study_date TEXT COLLATE "C",
        study_time TEXT COLLATE "C",
        description TEXT COLLATE "C",
        description_norm TEXT COLLATE "C",
        study_id TEXT COLLATE "C",
        accession TEXT COLLATE "C",
        referring_physician TEXT COLLATE "C",
        modalities TEXT COLLATE "C" NOT NULL DEFAULT '',
        num_series BIGINT NOT NULL DEFAULT 0,
        num_instances BIGINT NOT NULL DEFAULT 0,
        num_previews BIGINT NOT NULL DEFAULT 0
    );
    -- In the listings' own order (newest first, no date last), so that a page is read off it.
    CREATE INDEX studies_newest_first
        ON studies (study_date DESC NULLS LAST, study_time DESC NULLS LAST, id DESC);
    CREATE INDEX studies_by_patient ON studies (patient_ref);
    CREATE INDEX studies_by_accession ON studies (accession);
    CREATE TABLE series (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        study_ref BIGINT NOT NULL REFERENCES studies (id),
        series_uid TEXT COLLATE "C" NOT NULL UNIQUE,
        modality TEXT COLLATE "C",
        series_number BIGINT,
        description TEXT COLLATE "C",
        body_part TEXT COLLATE "C",
        series_date TEXT COLLATE "C",
        series_time TEXT COLLATE "C",
        num_instances BIGINT NOT NULL DEFAULT 0,
        num_previews BIGINT NOT NULL DEFAULT 0,
        size BIGINT NOT NULL DEFAULT 0,
        revision BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX series_by_study ON series (study_ref);
    CREATE TABLE instances (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        series_ref BIGINT NOT NULL REFERENCES series (id),
        sop_uid TEXT COLLATE "C" NOT NULL UNIQUE,
        sop_class_uid TEXT COLLATE "C",
        instance_number BIGINT,
        transfer_syntax TEXT NOT NULL,
        rows BIGINT,
        columns BIGINT,
        frames BIGINT,
        charset TEXT,
        file_path TEXT NOT NULL,
        file_size BIGINT NOT NULL,
        linked BOOLEAN NOT NULL,
        received_at BIGINT NOT NULL,
        source TEXT,
        image_set TEXT,
        temporal_position DOUBLE PRECISION,
        slice_position DOUBLE PRECISION,
        preview BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX instances_by_series ON instances (series_ref, instance_number);
    "#,
    // 2: each study's patient name beside it (a patient row never changes: another name is
    // another patient), so that a name filter narrows the studies through one index (with the
    // date, which name searches are often combined with), and a walk in date order tests each
    // study without a join.
    r#"
    ALTER TABLE studies ADD COLUMN patient_name_norm TEXT COLLATE "C";
    UPDATE studies s SET patient_name_norm = p.patient_name_norm
        FROM patients p WHERE p.id = s.patient_ref;
    ALTER TABLE studies ALTER COLUMN patient_name_norm SET NOT NULL;
    CREATE INDEX studies_by_patient_name ON studies (patient_name_norm, study_date);
    "#,
    // 3: the settings every node of a cluster shares (remote nodes, routing rules), as the
    // JSON a node keeps in its data directory otherwise.
    r#"
    CREATE TABLE lightbox_lists (
        name TEXT PRIMARY KEY,
        items TEXT NOT NULL
    );
    "#,
    // 4: whether a study is listed (it has instances that are not only previews), and the two
    // indexes a study search walks carrying what the browser's filters test, so that a search
    // finds its page's studies from an index alone and reads only those rows. `listed` is
    // generated: it changes when a study's first real instance arrives, not with every count,
    // so that updating the counts stays a heap-only update that leaves the indexes alone.
    r#"
    ALTER TABLE studies ADD COLUMN listed BOOLEAN
        GENERATED ALWAYS AS (num_instances > num_previews) STORED;
    DROP INDEX studies_newest_first;
    CREATE INDEX studies_newest_first
        ON studies (study_date DESC NULLS LAST, study_time DESC NULLS LAST, id DESC)
        INCLUDE (patient_name_norm, modalities, listed);
    DROP INDEX studies_by_patient_name;
    CREATE INDEX studies_by_patient_name ON studies (patient_name_norm, study_date)
        INCLUDE (study_time, id, modalities, listed);
    "#,
    // 5: the store's totals kept as they change, for the header every open page shows: counting
    // them took 0.7 s at ten million instances. Triggers on the patients, studies and series
    // keep them, whichever statement changes those rows. Each database session adds what its
    // statements change to a row of its own (a slot by backend PID), so that concurrent writers
    // do not queue on one row; a reading sums the slots. A patient is counted while it has a
    // listed study, which `listed_studies` counts, so that two writers listing a patient's
    // first studies at once meet on the patient's row and count it once.
    r#"
    LOCK TABLE patients, studies, series IN SHARE ROW EXCLUSIVE MODE;
    CREATE TABLE store_totals (
        slot INT PRIMARY KEY,
        patients BIGINT NOT NULL,
        studies BIGINT NOT NULL,
        series BIGINT NOT NULL,
        instances BIGINT NOT NULL,
        previews BIGINT NOT NULL,
        bytes BIGINT NOT NULL
    );
    ALTER TABLE patients ADD COLUMN listed_studies BIGINT NOT NULL DEFAULT 0;
    UPDATE patients p SET listed_studies = c.n
        FROM (SELECT patient_ref, count(*) AS n FROM studies WHERE listed GROUP BY patient_ref) c
        WHERE p.id = c.patient_ref;
    INSERT INTO store_totals
        SELECT -1,
            (SELECT count(*) FROM patients WHERE listed_studies > 0),
            (SELECT count(*) FROM studies WHERE listed),
            (SELECT count(*) FROM series WHERE num_instances > num_previews),
            (SELECT coalesce(sum(num_instances - num_previews), 0) FROM series),
            (SELECT coalesce(sum(num_previews), 0) FROM series),
            (SELECT coalesce(sum(size), 0) FROM series);

    CREATE FUNCTION add_to_store_totals(d_patients BIGINT, d_studies BIGINT, d_series BIGINT,
            d_instances BIGINT, d_previews BIGINT, d_bytes BIGINT) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO store_totals AS t VALUES (pg_backend_pid() % 1024, d_patients, d_studies,
            d_series, d_instances, d_previews, d_bytes)
        ON CONFLICT (slot) DO UPDATE SET patients = t.patients + excluded.patients,
            studies = t.studies + excluded.studies, series = t.series + excluded.series,
            instances = t.instances + excluded.instances,
            previews = t.previews + excluded.previews, bytes = t.bytes + excluded.bytes
    $$;

    -- Transition tables exist per event: `new_rows` unless deleting, `old_rows` unless
    -- inserting.
    CREATE FUNCTION series_to_store_totals() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        d_series BIGINT := 0; d_instances BIGINT := 0; d_previews BIGINT := 0;
        d_bytes BIGINT := 0; o_series BIGINT; o_instances BIGINT; o_previews BIGINT;
        o_bytes BIGINT;
    BEGIN
        IF TG_OP <> 'DELETE' THEN
            SELECT count(*) FILTER (WHERE num_instances > num_previews),
                coalesce(sum(num_instances - num_previews), 0),
                coalesce(sum(num_previews), 0), coalesce(sum(size), 0)
            INTO d_series, d_instances, d_previews, d_bytes FROM new_rows;
        END IF;
        IF TG_OP <> 'INSERT' THEN
            SELECT count(*) FILTER (WHERE num_instances > num_previews),
                coalesce(sum(num_instances - num_previews), 0),
                coalesce(sum(num_previews), 0), coalesce(sum(size), 0)
            INTO o_series, o_instances, o_previews, o_bytes FROM old_rows;
            d_series := d_series - o_series;
            d_instances := d_instances - o_instances;
            d_previews := d_previews - o_previews;
            d_bytes := d_bytes - o_bytes;
        END IF;
        IF d_series <> 0 OR d_instances <> 0 OR d_previews <> 0 OR d_bytes <> 0 THEN
            PERFORM add_to_store_totals(0, 0, d_series, d_instances, d_previews, d_bytes);
        END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION studies_to_store_totals() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        gained BIGINT[] := '{}'; lost BIGINT[] := '{}'; d_studies BIGINT; patient BIGINT;
        change BIGINT;
    BEGIN
        IF TG_OP <> 'DELETE' THEN
            SELECT coalesce(array_agg(patient_ref), '{}') INTO gained FROM new_rows WHERE listed;
        END IF;
        IF TG_OP <> 'INSERT' THEN
            SELECT coalesce(array_agg(patient_ref), '{}') INTO lost FROM old_rows WHERE listed;
        END IF;
        d_studies := cardinality(gained) - cardinality(lost);
        -- One patient at a time in patient order, so that two writers listing studies of
        -- the same patients do not deadlock.
        FOR patient, change IN
            SELECT r, sum(d) FROM (SELECT unnest(gained) AS r, 1 AS d
                UNION ALL SELECT unnest(lost), -1) u
            GROUP BY r HAVING sum(d) <> 0 ORDER BY r
        LOOP
            UPDATE patients SET listed_studies = listed_studies + change WHERE id = patient;
        END LOOP;
        IF d_studies <> 0 THEN
            PERFORM add_to_store_totals(0, d_studies, 0, 0, 0, 0);
        END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION patients_to_store_totals() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        d_patients BIGINT := 0; o_patients BIGINT := 0;
    BEGIN
        IF TG_OP <> 'DELETE' THEN
            SELECT count(*) INTO d_patients FROM new_rows WHERE listed_studies > 0;
        END IF;
        IF TG_OP <> 'INSERT' THEN
            SELECT count(*) INTO o_patients FROM old_rows WHERE listed_studies > 0;
        END IF;
        IF d_patients <> o_patients THEN
            PERFORM add_to_store_totals(d_patients - o_patients, 0, 0, 0, 0, 0);
        END IF;
        RETURN NULL;
    END $$;

    -- Each table's three triggers: patients_inserted, patients_updated, patients_deleted…
    DO $$
    DECLARE
        t TEXT;
    BEGIN
        FOREACH t IN ARRAY ARRAY['patients', 'studies', 'series'] LOOP
            EXECUTE format('CREATE TRIGGER %1$s_inserted AFTER INSERT ON %1$s
                REFERENCING NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION %1$s_to_store_totals()', t);
            EXECUTE format('CREATE TRIGGER %1$s_updated AFTER UPDATE ON %1$s
                REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION %1$s_to_store_totals()', t);
            EXECUTE format('CREATE TRIGGER %1$s_deleted AFTER DELETE ON %1$s
                REFERENCING OLD TABLE AS old_rows
                FOR EACH STATEMENT EXECUTE FUNCTION %1$s_to_store_totals()', t);
        END LOOP;
    END $$;
    "#,
];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn migrate(client: &mut Client) -> Result<(), IndexError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS lightbox_schema (version BIGINT NOT NULL)")?;
    let current: i64 = match tx.query_opt("SELECT version FROM lightbox_schema", &[])? {
        Some(row) => row.try_get(0)?,
        None => {
            tx.execute("INSERT INTO lightbox_schema (version) VALUES (0)", &[])?;
            0
        }
    };
    if current > LATEST {
        return Err(IndexErrorKind::SchemaTooNew {
            found: current,
            supported: LATEST,
        }
        .into());
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "UPDATE lightbox_schema SET version = $1",
            &[&(step as i64 + 1)],
        )?;
    }
    trigram_indexes(&mut tx);
    tx.commit()?;
    Ok(())
}

/// Trigram indexes for the browser's "contains" searches of names and descriptions, which no
/// B-tree serves (at ten million instances, a rare fragment of a name took 187 ms at the 95th
/// percentile without one, 11 ms with it). `pg_trgm` ships with PostgreSQL and is a trusted
/// extension, but a database may still refuse it: then searches work as before, slower, and
/// the next start tries again.
fn trigram_indexes(tx: &mut postgres::Transaction) {
    const INDEXES: &[(&str, &str)] = &[
        ("studies_by_patient_name_trigrams", "patient_name_norm"),
        ("studies_by_description_trigrams", "description_norm"),
    ];
    for (name, column) in INDEXES {
        let exists = tx
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[name])
            .and_then(|row| row.try_get::<_, bool>(0));
        if matches!(exists, Ok(true)) {
            continue;
        }
        let created = tx.savepoint(*name).and_then(|mut step| {
            step.batch_execute(&format!(
                "CREATE EXTENSION IF NOT EXISTS pg_trgm;
                 CREATE INDEX IF NOT EXISTS {name} ON studies USING gin ({column} gin_trgm_ops)"
            ))?;
            step.commit()
        });
        if let Err(e) = created {
            tracing::warn!(error = %e, index = name, "no trigram index: contains searches of {column} read every study");
        }
    }
}
