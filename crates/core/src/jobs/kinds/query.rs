//! `query`: a search on a node at one level; with `cascade`, follow-up queries one level down
//! for each match (patients → their studies → their series).

use crate::jobs::runner::{control, LocalRunner};
use crate::jobs::spec::AssociationSettings;
use crate::jobs::{JobContext, JobFailure, JobSpec, NewJob, Progress};
use lightbox_net::query::{match_text, Match, QuerySpec};
use serde::{Deserialize, Serialize};

/// The matches, each keyed by DICOM keyword.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueryOutput(pub Vec<Match>);

impl QueryOutput {
    /// The matches as the JSON the queue keeps, moved rather than serialised (there can be
    /// tens of thousands).
    pub fn into_json(self) -> serde_json::Value {
        serde_json::Value::Array(self.0.into_iter().map(serde_json::Value::Object).collect())
    }
}

pub(crate) fn run(
    runner: &LocalRunner,
    node: &str,
    query: &QuerySpec,
    settings: &AssociationSettings,
    ctx: &JobContext,
) -> Result<QueryOutput, JobFailure> {
    let node = runner.query_retrieve_node(node)?;
    let remote = runner.remote(&node, settings)?;
    let rows = remote.find(query, &mut control(ctx, |_| {}))?;
    if query.cascade {
        cascade(&node.name, query, settings, &rows, ctx);
    }
    ctx.progress(Progress {
        items_done: rows.len() as u64,
        items_total: rows.len() as u64,
        ..Progress::default()
    });
    Ok(QueryOutput(rows))
}

/// The next level's queries for each match: a patient's studies, a study's series.
fn cascade(
    node: &str,
    query: &QuerySpec,
    settings: &AssociationSettings,
    rows: &[Match],
    ctx: &JobContext,
) {
    for row in rows {
        let next = match query.level.as_str() {
            "patient" | "PATIENT" => QuerySpec {
                level: "study".into(),
                patient_root: query.patient_root,
                patient_id: match_text(row, "PatientID"),
                cascade: true,
                ..QuerySpec::default()
            },
            "study" | "STUDY" => QuerySpec {
                level: "series".into(),
                patient_root: query.patient_root,
                patient_id: query
                    .patient_root
                    .then(|| match_text(row, "PatientID"))
                    .flatten(),
                study_uid: match_text(row, "StudyInstanceUID"),
                ..QuerySpec::default()
            },
            _ => return,
        };
        if next.patient_id.is_none() && next.study_uid.is_none() {
            continue;
        }
        ctx.follow_up(NewJob::new(JobSpec::Query {
            node: node.to_string(),
            query: next,
            association: settings.clone(),
        }));
    }
}
