//! Routing rules: what the storage listener receives is sent on to a node, without a click,
//! once it is stable (nothing more of it arrived for a while). A rule matches on what the
//! browser filters on (modality, descriptions, patient) and on where the data came from (the
//! calling AE title, the known node). Rules live in `routes.json` in the data directory.
//!
//! Loops cannot form: data is never routed to the node it came from, and a repeat of what is
//! stored already (a duplicate) is not an arrival, so two nodes routing to each other stop
//! after one round.

use crate::lists::{ListError, ListHome};
use crate::model::{SeriesSummary, StudySummary};
use lightbox_dicom::matching::{wildcard_match, DateRange};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a rule sends: each series as it becomes stable, or the whole study once all of it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteLevel {
    #[default]
    Series,
    Study,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub name: String,
    /// The node that receives what matches.
    pub to: String,
    #[serde(default)]
    pub level: RouteLevel,
    /// Any of these modalities (of the series, or any series of the study); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modalities: Vec<String>,
    /// Sent by any of these calling AE titles; any when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calling_ae_titles: Vec<String>,
    /// Sent by any of these known nodes; any when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_nodes: Vec<String>,
    /// Wildcards (`*`, `?`, case ignored) on the series' description (the study's for study
    /// rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accession_number: Option<String>,
    /// A study date or range, as the browser takes it (`20240101-`, `-20231231`, `20240115`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_date: Option<String>,
    /// Send a de-identified copy (PS3.15 Annex E, with these options; none: the basic
    /// profile) instead of the instances as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deidentify: Option<Vec<String>>,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// What arrived and became stable: a series (with its study), and who sent it.
#[derive(Clone, Debug)]
pub struct Arrival<'a> {
    pub series: &'a SeriesSummary,
    pub study: &'a StudySummary,
    /// The modalities of the study's series (for study rules).
    pub study_modalities: &'a [String],
    pub calling_ae_title: &'a str,
    pub node: Option<&'a str>,
}

/// A pattern against a value: a missing value matches only `*`.
fn like(pattern: &Option<String>, value: Option<&str>) -> bool {
    match pattern.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => true,
        Some(p) => wildcard_match(p, value.unwrap_or(""), true),
    }
}

/// A date within a range (ends included); a study without a date is in no range.
fn in_range(range: &Option<String>, date: Option<&str>) -> bool {
    let Some(range) = range.as_deref().map(str::trim).filter(|r| !r.is_empty()) else {
        return true;
    };
    let (Ok(range), Some(date)) = (DateRange::parse(range), date.map(str::trim)) else {
        return false;
    };
    range.from.as_deref().is_none_or(|from| date >= from)
        && range.to.as_deref().is_none_or(|to| date <= to)
}

fn any_of(wanted: &[String], value: Option<&str>) -> bool {
    wanted.is_empty()
        || value.is_some_and(|v| {
            wanted
                .iter()
                .any(|w| w.trim().eq_ignore_ascii_case(v.trim()))
        })
}

impl Route {
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.trim().is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(format!(
                "route name {:?}: letters, digits, '-', '_' and '.' only",
                self.name
            ));
        }
        if self.to.trim().is_empty() {
            return Err("a route needs a destination node".into());
        }
        if let Some(range) = self.study_date.as_deref().filter(|r| !r.trim().is_empty()) {
            DateRange::parse(range).map_err(|e| format!("study date: {e}"))?;
        }
        if let Some(options) = &self.deidentify {
            lightbox_dicom::deid::profile::Profile::from_names(options)
                .map_err(|e| format!("de-identification: {e}"))?;
        }
        Ok(())
    }

    /// Whether the rule sends this arrival (the destination is checked apart: see
    /// [`Route::loops_back`]).
    pub fn matches(&self, a: &Arrival) -> bool {
        let modality_ok = match self.level {
            RouteLevel::Series => any_of(&self.modalities, a.series.modality.as_deref()),
            RouteLevel::Study => {
                self.modalities.is_empty()
                    || a.study_modalities
                        .iter()
                        .any(|m| any_of(&self.modalities, Some(m)))
            }
        };
        let description = match self.level {
            RouteLevel::Series => a.series.series_description.as_deref(),
            RouteLevel::Study => a.study.study_description.as_deref(),
        };
        self.enabled
            && modality_ok
            && any_of(&self.calling_ae_titles, Some(a.calling_ae_title))
            && (self.from_nodes.is_empty() || any_of(&self.from_nodes, a.node))
            && like(&self.description, description)
            && like(
                &self.study_description,
                a.study.study_description.as_deref(),
            )
            && like(&self.patient_name, Some(&a.study.patient_name))
            && like(&self.patient_id, Some(&a.study.patient_id))
            && like(&self.accession_number, a.study.accession_number.as_deref())
            && in_range(&self.study_date, a.study.study_date.as_deref())
    }

    /// Whether sending this arrival would return it to where it came from.
    pub fn loops_back(&self, a: &Arrival, destination_ae_title: Option<&str>) -> bool {
        a.node == Some(self.to.as_str())
            || destination_ae_title.is_some_and(|ae| ae.trim() == a.calling_ae_title.trim())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    #[error("reading {place}: {reason}")]
    Read { place: String, reason: String },
    #[error("writing {place}: {reason}")]
    Write { place: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("no route named {0:?}")]
    Unknown(String),
}

/// The routing rules: `DATA_DIR/routes.json`, or the cluster's list when the index is shared.
pub struct Routes {
    home: ListHome,
}

impl From<ListError<RoutesError>> for RoutesError {
    fn from(e: ListError<RoutesError>) -> Self {
        match e {
            ListError::Read { place, reason } => RoutesError::Read { place, reason },
            ListError::Write { place, reason } => RoutesError::Write { place, reason },
            ListError::Refused(e) => e,
        }
    }
}

impl Routes {
    /// The rules of the data directory `data_dir` alone.
    pub fn new(data_dir: &Path) -> Routes {
        Routes {
            home: ListHome::in_data_dir(data_dir, "routes.json"),
        }
    }

    /// The rules of the store: the cluster's, when its index is in PostgreSQL.
    pub fn of_store(store: &crate::store::Store) -> Routes {
        Routes {
            home: ListHome::of_store(store, "routes.json"),
        }
    }

    pub fn list(&self) -> Result<Vec<Route>, RoutesError> {
        Ok(self.home.read::<Route, RoutesError>()?)
    }

    /// Adds the route, or replaces the one of the same name.
    pub fn put(&self, route: Route) -> Result<(), RoutesError> {
        route.validate().map_err(RoutesError::Invalid)?;
        Ok(self.home.update(|routes: &mut Vec<Route>| {
            match routes.iter_mut().find(|r| r.name == route.name) {
                Some(existing) => *existing = route.clone(),
                None => routes.push(route.clone()),
            }
            Ok::<(), RoutesError>(())
        })?)
    }

    pub fn remove(&self, name: &str) -> Result<(), RoutesError> {
        Ok(self.home.update(|routes: &mut Vec<Route>| {
            let before = routes.len();
            routes.retain(|r| r.name != name);
            if routes.len() == before {
                return Err(RoutesError::Unknown(name.to_string()));
            }
            Ok(())
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(modality: &str, description: &str) -> SeriesSummary {
        SeriesSummary {
            study_uid: "1.2".into(),
            series_uid: "1.2.3".into(),
            modality: Some(modality.into()),
            series_number: Some(1),
            series_description: Some(description.into()),
            body_part: None,
            series_date: None,
            series_time: None,
            instance_count: 1,
            preview_count: 0,
            size: 0,
            rows: None,
            columns: None,
        }
    }

    fn route(json: serde_json::Value) -> Route {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn rules_match_on_what_came_and_from_whom_and_never_send_it_back() {
        let study: StudySummary = serde_json::from_value(serde_json::json!({
            "PatientName": "Doe^Jane", "PatientID": "P1", "StudyInstanceUID": "1.2",
            "StudyDescription": "CT CHEST", "ModalitiesInStudy": ["CT"], "StudyDate": "20240310",
            "NumberOfStudyRelatedSeries": 1, "NumberOfStudyRelatedInstances": 1
        }))
        .unwrap();
        let ct = series("CT", "Axial 1.25");
        let arrival = Arrival {
            series: &ct,
            study: &study,
            study_modalities: &["CT".to_string()],
            calling_ae_title: "CT01",
            node: Some("scanner"),
        };
        let ct_rule = route(serde_json::json!({"name": "ct", "to": "pacs", "modalities": ["ct"]}));
        assert!(ct_rule.matches(&arrival));
        let mr_rule = route(serde_json::json!({"name": "mr", "to": "pacs", "modalities": ["MR"]}));
        assert!(!mr_rule.matches(&arrival));
        let from =
            route(serde_json::json!({"name": "f", "to": "pacs", "calling_ae_titles": ["CT02"]}));
        assert!(!from.matches(&arrival));
        let described = route(
            serde_json::json!({"name": "d", "to": "pacs", "description": "axial*",
            "patient_name": "DOE*"}),
        );
        assert!(described.matches(&arrival));
        let dated =
            route(serde_json::json!({"name": "t", "to": "pacs", "study_date": "20240101-"}));
        assert!(dated.matches(&arrival));
        let old = route(serde_json::json!({"name": "t", "to": "pacs", "study_date": "-20231231"}));
        assert!(!old.matches(&arrival));
        assert!(
            route(serde_json::json!({"name": "t", "to": "pacs", "study_date": "2024x"}))
                .validate()
                .is_err()
        );
        let off = route(serde_json::json!({"name": "o", "to": "pacs", "enabled": false}));
        assert!(!off.matches(&arrival));
        let back = route(serde_json::json!({"name": "b", "to": "scanner"}));
        assert!(back.loops_back(&arrival, None));
        assert!(ct_rule.loops_back(&arrival, Some("CT01")));
        assert!(!ct_rule.loops_back(&arrival, Some("ORTHANC")));
        assert!(route(serde_json::json!({"name": "bad name", "to": "x"}))
            .validate()
            .is_err());
    }
}
