//! The PostgreSQL index: the same answers as the SQLite one, for many Lightbox nodes sharing one
//! database. Connections are pooled; a write is one transaction, tried again when PostgreSQL
//! gives it up to another node's (a deadlock or a serialization failure).

mod lists;
mod migrations;
mod search;
mod write;

use super::{
    Index, IndexError, IndexErrorKind, IndexStats, InsertOutcome, RemoveTarget, Removed, SetMember,
    StudyPage, StudyQuery,
};
use crate::image_sets::Placement;
use crate::model::{InstanceRecord, InstanceSummary, SeriesSummary, StudySummary};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Transaction};
use std::sync::Mutex;
use std::time::Duration;

/// Connections kept open between uses.
const IDLE_CONNECTIONS: usize = 16;
/// Tries of a write that PostgreSQL gave up to a concurrent one.
const WRITE_TRIES: u32 = 8;

pub struct PostgresIndex {
    config: postgres::Config,
    /// The database for messages: its address without a password.
    name: String,
    idle: Mutex<Vec<Client>>,
}

/// `postgres://user@host:port/db`, whatever the URL held besides (a password above all).
pub(crate) fn display_name(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or_default(),
        config.get_dbname().unwrap_or_default()
    )
}

impl PostgresIndex {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`) and brings
    /// its schema up to date.
    pub fn open(url: &str) -> Result<PostgresIndex, IndexError> {
        let config: postgres::Config =
            url.parse().map_err(|source| IndexErrorKind::OpenPostgres {
                url: "the --index URL".into(),
                source,
            })?;
        let index = PostgresIndex {
            name: display_name(&config),
            config,
            idle: Mutex::new(Vec::new()),
        };
        let mut client = index.connect()?;
        off_async_threads(|| migrations::migrate(&mut client))?;
        index
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(client);
        Ok(index)
    }

    /// The database, for messages (no password).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn connect(&self) -> Result<Client, IndexError> {
        let mut config = self.config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        off_async_threads(|| config.connect(NoTls)).map_err(|source| {
            IndexErrorKind::OpenPostgres {
                url: self.name.clone(),
                source,
            }
            .into()
        })
    }

    fn with_client<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, IndexError> + Send,
    ) -> Result<T, IndexError> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut client = match pooled {
            Some(client) if !client.is_closed() => client,
            _ => self.connect()?,
        };
        let out = off_async_threads(|| f(&mut client));
        if !client.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < IDLE_CONNECTIONS {
                idle.push(client);
            }
        }
        out
    }

    fn read<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, IndexError> {
        self.with_client(|c| Ok(f(c)?))
    }

    fn write<T: Send>(
        &self,
        f: impl Fn(&mut Transaction) -> Result<T, IndexError> + Sync,
    ) -> Result<T, IndexError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let result = self.with_client(|c| {
                let mut tx = c.transaction()?;
                let out = f(&mut tx)?;
                tx.commit()?;
                Ok(out)
            });
            match result {
                Err(e) if e.is_contention() && tries < WRITE_TRIES => {
                    tracing::debug!(error = %e, tries, "index write given up to another; again");
                    std::thread::sleep(Duration::from_millis(5 << tries.min(6)));
                }
                other => return other,
            }
        }
    }
}

/// Runs `f` here, or on a thread of its own when this thread drives an async runtime: the
/// synchronous driver runs each request on a runtime of its own, which cannot start inside
/// another (an axum handler or a DIMSE association reading the index directly).
pub(crate) fn off_async_threads<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("lightbox-postgres".into())
            .spawn_scoped(scope, f)
            .expect("a thread for an index request")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Text arguments as the driver takes them.
fn params(values: &[String]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn modalities_list(stored: &str) -> Vec<String> {
    stored
        .split('\\')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect()
}

const STUDY_COLUMNS: &str =
    "p.patient_name, p.patient_id, p.birth_date, p.sex, s.study_uid, s.study_date,
    s.study_time, s.description, s.study_id, s.accession, s.referring_physician, s.modalities,
    s.num_series, s.num_instances - s.num_previews, s.num_previews";

fn study_from_row(row: &Row) -> Result<StudySummary, postgres::Error> {
    Ok(StudySummary {
        patient_name: row.try_get(0)?,
        patient_id: row.try_get(1)?,
        patient_birth_date: row.try_get(2)?,
        patient_sex: row.try_get(3)?,
        study_uid: row.try_get(4)?,
        study_date: row.try_get(5)?,
        study_time: row.try_get(6)?,
        study_description: row.try_get(7)?,
        study_id: row.try_get(8)?,
        accession_number: row.try_get(9)?,
        referring_physician: row.try_get(10)?,
        modalities: modalities_list(row.try_get(11)?),
        series_count: row.try_get(12)?,
        instance_count: row.try_get(13)?,
        preview_count: row.try_get(14)?,
    })
}

const SERIES_COLUMNS: &str =
    "st.study_uid, se.series_uid, se.modality, se.series_number, se.description,
    se.body_part, se.series_date, se.series_time, se.num_instances - se.num_previews, se.size,
    (SELECT i.rows FROM instances i WHERE i.series_ref = se.id
     ORDER BY i.instance_number NULLS FIRST LIMIT 1),
    (SELECT i.columns FROM instances i WHERE i.series_ref = se.id
     ORDER BY i.instance_number NULLS FIRST LIMIT 1),
    se.num_previews";

fn series_from_row(row: &Row) -> Result<SeriesSummary, postgres::Error> {
    Ok(SeriesSummary {
        study_uid: row.try_get(0)?,
        series_uid: row.try_get(1)?,
        modality: row.try_get(2)?,
        series_number: row.try_get(3)?,
        series_description: row.try_get(4)?,
        body_part: row.try_get(5)?,
        series_date: row.try_get(6)?,
        series_time: row.try_get(7)?,
        instance_count: row.try_get(8)?,
        size: row.try_get(9)?,
        rows: row.try_get(10)?,
        columns: row.try_get(11)?,
        preview_count: row.try_get(12)?,
    })
}

const INSTANCE_COLUMNS: &str = "st.study_uid, se.series_uid, i.sop_uid, i.sop_class_uid,
    i.instance_number, i.transfer_syntax, i.rows, i.columns, i.frames, i.file_path, i.file_size,
    i.linked, i.received_at, i.preview";

fn instance_from_row(row: &Row) -> Result<InstanceSummary, postgres::Error> {
    Ok(InstanceSummary {
        study_uid: row.try_get(0)?,
        series_uid: row.try_get(1)?,
        sop_instance_uid: row.try_get(2)?,
        sop_class_uid: row.try_get(3)?,
        instance_number: row.try_get(4)?,
        transfer_syntax: row.try_get(5)?,
        rows: row.try_get(6)?,
        columns: row.try_get(7)?,
        frames: row.try_get(8)?,
        file_path: row.try_get(9)?,
        file_size: row.try_get(10)?,
        linked: row.try_get(11)?,
        received_at: row.try_get(12)?,
        preview: row.try_get(13)?,
    })
}

fn all<T>(
    rows: Vec<Row>,
    from_row: fn(&Row) -> Result<T, postgres::Error>,
) -> Result<Vec<T>, postgres::Error> {
    rows.iter().map(from_row).collect()
}

/// A search with at most this many matches gets its page sorted from its matches (found
/// through the filter's own indexes); one with more, by walking the order's index until the
/// page is full. The walk is quick when matches are common and slow when they are rare,
/// which PostgreSQL's estimates cannot tell apart well enough: at ten million instances a
/// rare combination (name, dates and modality) took 150 ms by the walk and 5 ms from its
/// 1,844 matches (BENCHMARKS.md, "Study search").
const SORT_MATCHES_UP_TO: u64 = 2_000;

/// The studies with these IDs, sorted by `order` (an ORDER BY of `s` and `p`), a page of them.
fn page_of(
    c: &mut Client,
    ids: &[i64],
    order: &str,
    limit: Option<i64>,
    offset: i64,
) -> Result<Vec<StudySummary>, postgres::Error> {
    // Fences, so that the planner cannot go back to walking the order's index (it does, even
    // for a list of IDs) nor merge-join all patients: the studies by their keys, each one's
    // patient by its key, then sorted.
    let page_sql = format!(
        "WITH few AS MATERIALIZED (SELECT * FROM studies WHERE id = ANY($1))
         SELECT {STUDY_COLUMNS} FROM few s
         CROSS JOIN LATERAL (SELECT * FROM patients pp WHERE pp.id = s.patient_ref OFFSET 0) p
         ORDER BY {order} LIMIT $2 OFFSET $3"
    );
    all(
        c.query(&page_sql, &[&ids, &limit, &offset])?,
        study_from_row,
    )
}

/// Series of instances in the order listings give: InstanceNumber, those without one last.
const INSTANCE_ORDER: &str = "i.instance_number ASC NULLS LAST, i.sop_uid";

impl Index for PostgresIndex {
    fn insert_batch(&self, records: &[InstanceRecord]) -> Result<Vec<InsertOutcome>, IndexError> {
        self.write(|tx| write::insert_batch(tx, records))
    }

    fn instance_path(&self, sop_instance_uid: &str) -> Result<Option<String>, IndexError> {
        self.read(|c| {
            c.query_opt(
                "SELECT file_path FROM instances WHERE sop_uid = $1",
                &[&sop_instance_uid],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })
    }

    fn visit_managed_paths(
        &self,
        visit: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Result<(), IndexError> {
        // A cursor, a page of rows at a time: the server sorts, this side holds one page.
        const PAGE: i32 = 10_000;
        self.read(|c| {
            let mut tx = c.build_transaction().read_only(true).start()?;
            let portal = tx.bind(
                "SELECT file_path FROM instances WHERE NOT linked ORDER BY file_path COLLATE \"C\"",
                &[],
            )?;
            loop {
                let rows = tx.query_portal(&portal, PAGE)?;
                for row in &rows {
                    if !visit(row.try_get(0)?) {
                        return tx.commit();
                    }
                }
                if rows.len() < PAGE as usize {
                    return tx.commit();
                }
            }
        })
    }

    fn search_studies(&self, q: &StudyQuery) -> Result<StudyPage, IndexError> {
        let (filter, args, needs_patient) = search::study_filter(q);
        let order = search::order_by(q.order);
        let limit = q.limit.map(|l| l as i64);
        let offset = q.offset as i64;
        self.read(|c| {
            let from_where = |join_patients: bool| {
                if join_patients {
                    format!("FROM studies s JOIN patients p ON p.id = s.patient_ref {filter}")
                } else {
                    format!("FROM studies s {filter}")
                }
            };
            // First the matches, if there are few: then the page is sorted from them, and they
            // are the count.
            let few_sql = format!(
                "SELECT s.id {} LIMIT {}",
                from_where(needs_patient),
                SORT_MATCHES_UP_TO + 1
            );
            let matches: Vec<i64> = c
                .query(&few_sql, &params(&args.values))?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let few = matches.len() as u64 <= SORT_MATCHES_UP_TO;
            let bound = q.count_bound();
            let counted = match bound {
                _ if few => matches.len() as u64,
                // More than the bound match: that is all the count has to say.
                Some(bound) if matches.len() as u64 > bound => bound + 1,
                _ => {
                    let count_sql = super::query::count_sql(&from_where(needs_patient), bound);
                    let total: i64 = c.query_one(&count_sql, &params(&args.values))?.try_get(0)?;
                    total as u64
                }
            };
            let studies = if few {
                page_of(c, &matches, &order, limit, offset)?
            } else if limit.is_none() {
                // Every match, in one go: no page to find first.
                let n = args.values.len();
                let sql = format!(
                    "SELECT {STUDY_COLUMNS} FROM studies s JOIN patients p ON p.id = s.patient_ref
                     {filter} ORDER BY {order} OFFSET ${}",
                    n + 1
                );
                let mut all_args = params(&args.values);
                all_args.push(&offset);
                all(c.query(&sql, &all_args)?, study_from_row)?
            } else {
                // The page's studies by walking the order's index, which carries what the
                // filters test (migration 4): no row is read until the page is known.
                let n = args.values.len();
                let ids_sql = format!(
                    "SELECT s.id {} ORDER BY {order} LIMIT ${} OFFSET ${}",
                    from_where(needs_patient || search::order_reads_patients(q.order)),
                    n + 1,
                    n + 2
                );
                let mut page_args = params(&args.values);
                page_args.push(&limit);
                page_args.push(&offset);
                let ids: Vec<i64> = c
                    .query(&ids_sql, &page_args)?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?;
                page_of(c, &ids, &order, limit, 0)?
            };
            Ok(StudyPage::counted(counted, bound, studies))
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
            let sql = format!(
                "SELECT {SERIES_COLUMNS} FROM series se JOIN studies st ON st.id = se.study_ref
                 WHERE st.study_uid = $1 ORDER BY se.series_number ASC NULLS LAST, se.id"
            );
            all(c.query(&sql, &[&study_uid])?, series_from_row)
        })
    }

    fn series(&self, series_uid: &str) -> Result<Option<SeriesSummary>, IndexError> {
        self.read(|c| {
            let sql = format!(
                "SELECT {SERIES_COLUMNS} FROM series se JOIN studies st ON st.id = se.study_ref
                 WHERE se.series_uid = $1"
            );
            c.query_opt(&sql, &[&series_uid])?
                .map(|r| series_from_row(&r))
                .transpose()
        })
    }

    fn instances_of_series(&self, series_uid: &str) -> Result<Vec<InstanceSummary>, IndexError> {
        self.read(|c| {
            let sql = format!(
                "SELECT {INSTANCE_COLUMNS} FROM instances i JOIN series se ON se.id = i.series_ref
                 JOIN studies st ON st.id = se.study_ref WHERE se.series_uid = $1
                 ORDER BY {INSTANCE_ORDER}"
            );
            all(c.query(&sql, &[&series_uid])?, instance_from_row)
        })
    }

    fn instance(&self, sop_instance_uid: &str) -> Result<Option<InstanceSummary>, IndexError> {
        self.read(|c| {
            let sql = format!(
                "SELECT {INSTANCE_COLUMNS} FROM instances i JOIN series se ON se.id = i.series_ref
                 JOIN studies st ON st.id = se.study_ref WHERE i.sop_uid = $1"
            );
            c.query_opt(&sql, &[&sop_instance_uid])?
                .map(|r| instance_from_row(&r))
                .transpose()
        })
    }

    fn series_revision(&self, series_uid: &str) -> Result<Option<i64>, IndexError> {
        self.read(|c| {
            c.query_opt(
                "SELECT revision FROM series WHERE series_uid = $1",
                &[&series_uid],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })
    }

    fn sop_classes_of_study(&self, study_uid: &str) -> Result<Vec<String>, IndexError> {
        self.read(|c| {
            c.query(
                "SELECT DISTINCT i.sop_class_uid FROM studies st
                 JOIN series se ON se.study_ref = st.id
                 JOIN instances i ON i.series_ref = se.id
                 WHERE st.study_uid = $1 AND i.sop_class_uid IS NOT NULL
                 ORDER BY 1",
                &[&study_uid],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
        })
    }

    fn remove(&self, target: &RemoveTarget) -> Result<Removed, IndexError> {
        self.write(|tx| write::remove_in(tx, target))
    }

    fn stats(&self) -> Result<IndexStats, IndexError> {
        self.read(|c| {
            // Kept by triggers as rows change (migration 5): counting them instead took 0.7 s
            // at ten million instances.
            let r = c.query_one(
                "SELECT coalesce(sum(patients), 0)::BIGINT, coalesce(sum(studies), 0)::BIGINT,
                        coalesce(sum(series), 0)::BIGINT, coalesce(sum(instances), 0)::BIGINT,
                        coalesce(sum(previews), 0)::BIGINT, coalesce(sum(bytes), 0)::BIGINT
                 FROM store_totals",
                &[],
            )?;
            let n = |i: usize| r.try_get::<_, i64>(i).map(|v| v as u64);
            Ok(IndexStats {
                patients: n(0)?,
                studies: n(1)?,
                series: n(2)?,
                instances: n(3)?,
                previews: n(4)?,
                bytes: n(5)?,
            })
        })
    }

    fn mark_preview(&self, sop_instance_uid: &str) -> Result<bool, IndexError> {
        self.write(|tx| {
            let series: i64 = match tx.query_opt(
                "UPDATE instances SET preview = TRUE WHERE sop_uid = $1 AND NOT preview
                 RETURNING series_ref",
                &[&sop_instance_uid],
            )? {
                Some(row) => row.try_get(0)?,
                None => return Ok(false),
            };
            tx.execute(
                "UPDATE series SET num_previews = num_previews + 1 WHERE id = $1",
                &[&series],
            )?;
            tx.execute(
                "UPDATE studies SET num_previews = num_previews + 1
                 WHERE id = (SELECT study_ref FROM series WHERE id = $1)",
                &[&series],
            )?;
            Ok(true)
        })
    }

    fn keep_previews(&self, target: &RemoveTarget) -> Result<u64, IndexError> {
        self.write(|tx| {
            let (instance_filter, arg, series_ids) = write::target_scope(tx, target)?;
            let kept = tx.execute(
                &format!(
                    "UPDATE instances SET preview = FALSE WHERE preview AND {instance_filter}"
                ),
                &[&arg],
            )?;
            if kept == 0 {
                return Ok(0);
            }
            for series in &series_ids {
                tx.execute(
                    "UPDATE series SET num_previews =
                         (SELECT count(*) FROM instances WHERE series_ref = $1 AND preview)
                     WHERE id = $1",
                    &[series],
                )?;
                tx.execute(
                    "UPDATE studies SET num_previews =
                         (SELECT coalesce(sum(num_previews), 0)::BIGINT FROM series
                          WHERE study_ref = studies.id)
                     WHERE id = (SELECT study_ref FROM series WHERE id = $1)",
                    &[series],
                )?;
            }
            Ok(kept)
        })
    }

    fn image_set_members(&self, series_uid: &str) -> Result<Vec<SetMember>, IndexError> {
        self.read(|c| {
            let sql = format!(
                "SELECT i.sop_uid, i.instance_number, i.frames, i.file_path, i.image_set,
                        i.temporal_position, i.slice_position
                 FROM instances i JOIN series se ON se.id = i.series_ref WHERE se.series_uid = $1
                 ORDER BY {INSTANCE_ORDER}"
            );
            c.query(&sql, &[&series_uid])?
                .iter()
                .map(|r| {
                    let placement = match r.try_get::<_, Option<String>>(4)? {
                        None => None,
                        Some(key) if key.is_empty() => Some(None),
                        Some(key) => Some(Some(Placement {
                            key,
                            temporal: r.try_get(5)?,
                            position: r.try_get(6)?,
                        })),
                    };
                    Ok(SetMember {
                        sop_instance_uid: r.try_get(0)?,
                        instance_number: r.try_get(1)?,
                        frames: r.try_get::<_, Option<i64>>(2)?.unwrap_or(1).max(1) as u64,
                        file_path: r.try_get(3)?,
                        placement,
                    })
                })
                .collect()
        })
    }

    fn set_placement(
        &self,
        sop_instance_uid: &str,
        placement: Option<&Placement>,
    ) -> Result<(), IndexError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE instances SET image_set = $2, temporal_position = $3, slice_position = $4
                 WHERE sop_uid = $1",
                &[
                    &sop_instance_uid,
                    &placement.map_or("", |p| p.key.as_str()),
                    &placement.and_then(|p| p.temporal),
                    &placement.and_then(|p| p.position),
                ],
            )?;
            Ok(())
        })
    }
}
