//! Query/Retrieve matching over the local index (PS3.4 C.2.2): the C-FIND side of the Q/R SCP.
//!
//! Keys the index can answer quickly (names, IDs, dates, UIDs, modalities, descriptions,
//! accession) narrow the candidates in SQL; then every key with a value is matched here with
//! the standard's rules (wildcards, ranges, UID lists), so any supported attribute can be a key.

use crate::index::{DateRange, Index, IndexError, StudyQuery, TextPattern};
use crate::model::{InstanceSummary, SeriesSummary, StudySummary};
use lightbox_dicom::matching::key_matches;
use lightbox_dicom::tag::{self, Tag};
use lightbox_dicom::write::DataSetBuilder;
use lightbox_dicom::{dictionary, DataSet, Vr};
use lightbox_net::dimse::c_find::FindHandler;
use lightbox_net::query::{
    Level, QueryModel, MODALITIES_IN_STUDY, PATIENT_STUDIES, QUERY_RETRIEVE_LEVEL,
    SERIES_INSTANCES, SOP_CLASSES_IN_STUDY, STUDY_INSTANCES, STUDY_SERIES,
};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("missing or invalid Query/Retrieve Level")]
    Level,
    #[error("invalid key {tag}: {reason}")]
    Key { tag: Tag, reason: String },
    #[error(transparent)]
    Index(#[from] IndexError),
}

fn study_values(s: &StudySummary, tag: Tag) -> Option<String> {
    Some(match tag {
        tag::PATIENT_NAME => s.patient_name.clone(),
        tag::PATIENT_ID => s.patient_id.clone(),
        tag::PATIENT_BIRTH_DATE => s.patient_birth_date.clone()?,
        tag::PATIENT_SEX => s.patient_sex.clone()?,
        tag::STUDY_INSTANCE_UID => s.study_uid.clone(),
        tag::STUDY_DATE => s.study_date.clone()?,
        tag::STUDY_TIME => s.study_time.clone()?,
        tag::STUDY_DESCRIPTION => s.study_description.clone()?,
        tag::STUDY_ID => s.study_id.clone()?,
        tag::ACCESSION_NUMBER => s.accession_number.clone()?,
        tag::REFERRING_PHYSICIAN_NAME => s.referring_physician.clone()?,
        MODALITIES_IN_STUDY => s.modalities.join("\\"),
        STUDY_SERIES => s.series_count.to_string(),
        STUDY_INSTANCES => s.instance_count.to_string(),
        _ => return None,
    })
}

fn series_values(s: &SeriesSummary, tag: Tag) -> Option<String> {
    Some(match tag {
        tag::SERIES_INSTANCE_UID => s.series_uid.clone(),
        tag::STUDY_INSTANCE_UID => s.study_uid.clone(),
        tag::MODALITY => s.modality.clone()?,
        tag::SERIES_NUMBER => s.series_number?.to_string(),
        tag::SERIES_DESCRIPTION => s.series_description.clone()?,
        tag::BODY_PART_EXAMINED => s.body_part.clone()?,
        tag::SERIES_DATE => s.series_date.clone()?,
        tag::SERIES_TIME => s.series_time.clone()?,
        SERIES_INSTANCES => s.instance_count.to_string(),
        _ => return None,
    })
}

fn instance_values(i: &InstanceSummary, tag: Tag) -> Option<String> {
    Some(match tag {
        tag::SOP_INSTANCE_UID => i.sop_instance_uid.clone(),
        tag::SOP_CLASS_UID => i.sop_class_uid.clone()?,
        tag::INSTANCE_NUMBER => i.instance_number?.to_string(),
        tag::ROWS => i.rows?.to_string(),
        tag::COLUMNS => i.columns?.to_string(),
        tag::NUMBER_OF_FRAMES => i.frames?.to_string(),
        tag::SERIES_INSTANCE_UID => i.series_uid.clone(),
        tag::STUDY_INSTANCE_UID => i.study_uid.clone(),
        _ => return None,
    })
}

/// The keys of a query: every element except the level and the character set.
fn keys(identifier: &DataSet) -> Vec<(Tag, Vr, String)> {
    identifier
        .elements
        .iter()
        .filter(|e| {
            e.tag != QUERY_RETRIEVE_LEVEL
                && e.tag != tag::SPECIFIC_CHARACTER_SET
                && e.tag.0 != 0x0000
        })
        .map(|e| {
            (
                e.tag,
                dictionary::implicit_vr(e.tag),
                identifier.element_text(e).unwrap_or_default(),
            )
        })
        .collect()
}

/// The index-accelerated part of a study-level query.
fn study_query(keys: &[(Tag, Vr, String)]) -> Result<StudyQuery, FindError> {
    let mut q = StudyQuery::default();
    for (tag, _, value) in keys.iter().filter(|k| !k.2.trim().is_empty()) {
        match *tag {
            tag::PATIENT_NAME => q.patient_name = TextPattern::new(value),
            tag::PATIENT_ID => q.patient_id = TextPattern::new(value),
            tag::ACCESSION_NUMBER => q.accession_number = TextPattern::new(value),
            tag::STUDY_DESCRIPTION => q.study_description = TextPattern::new(value),
            tag::STUDY_INSTANCE_UID => {
                q.study_uids = value.split('\\').map(|u| u.trim().to_string()).collect()
            }
            MODALITIES_IN_STUDY => {
                q.modalities = value.split('\\').map(|m| m.trim().to_uppercase()).collect()
            }
            tag::STUDY_DATE => {
                q.study_date = Some(DateRange::parse(value).map_err(|e| FindError::Key {
                    tag: *tag,
                    reason: e.to_string(),
                })?)
            }
            _ => {}
        }
    }
    Ok(q)
}

/// A response identifier: each requested key with its value (empty when unknown).
fn response(
    level: Level,
    keys: &[(Tag, Vr, String)],
    value: &dyn Fn(Tag) -> Option<String>,
) -> DataSetBuilder {
    let mut b = DataSetBuilder::default();
    b.text(tag::SPECIFIC_CHARACTER_SET, "ISO_IR 192")
        .text(QUERY_RETRIEVE_LEVEL, level.as_str());
    for (tag, ..) in keys {
        b.text(*tag, &value(*tag).unwrap_or_default());
    }
    b
}

fn all_match(keys: &[(Tag, Vr, String)], value: &dyn Fn(Tag) -> Option<String>) -> bool {
    keys.iter()
        .all(|(tag, vr, pattern)| key_matches(*tag, *vr, pattern, value(*tag).as_deref()))
}

/// Answers a C-FIND identifier from the index.
pub fn find(index: &dyn Index, identifier: &DataSet) -> Result<Vec<DataSetBuilder>, FindError> {
    let level = identifier
        .first_text(QUERY_RETRIEVE_LEVEL)
        .and_then(|l| Level::parse(&l))
        .ok_or(FindError::Level)?;
    let keys = keys(identifier);
    // Every match is answered: no count needed beyond what the page holds.
    let query = StudyQuery {
        count_limit: Some(0),
        ..study_query(&keys)?
    };
    let studies = index.search_studies(&query)?.studies;
    // Keys of the levels above the one queried narrow the candidates; the queried level's keys
    // are matched on each result.
    let study_keys: Vec<_> = keys
        .iter()
        .filter(|k| study_values(&studies_probe(), k.0).is_some())
        .cloned()
        .collect();
    let studies: Vec<StudySummary> = studies
        .into_iter()
        .filter(|s| all_match(&study_keys, &|t| study_values(s, t)))
        .collect();
    let mut out = Vec::new();
    match level {
        Level::Patient => {
            let mut seen = std::collections::HashSet::new();
            for s in &studies {
                if seen.insert((s.patient_id.clone(), s.patient_name.clone())) {
                    let count = studies
                        .iter()
                        .filter(|o| {
                            o.patient_id == s.patient_id && o.patient_name == s.patient_name
                        })
                        .count();
                    out.push(response(level, &keys, &|t| {
                        if t == PATIENT_STUDIES {
                            Some(count.to_string())
                        } else {
                            study_values(s, t)
                        }
                    }));
                }
            }
        }
        Level::Study => {
            for s in &studies {
                if let Some(response) = study_response(index, &keys, s)? {
                    out.push(response);
                }
            }
        }
        Level::Series | Level::Image => {
            for s in &studies {
                for series in index.series_of_study(&s.study_uid)? {
                    let series_match = |t| series_values(&series, t).or_else(|| study_values(s, t));
                    if !keys
                        .iter()
                        .filter(|k| series_values(&series, k.0).is_some())
                        .all(|(t, vr, p)| key_matches(*t, *vr, p, series_match(*t).as_deref()))
                    {
                        continue;
                    }
                    if level == Level::Series {
                        out.push(response(level, &keys, &series_match));
                        continue;
                    }
                    for instance in index.instances_of_series(&series.series_uid)? {
                        let value = |t| instance_values(&instance, t).or_else(|| series_match(t));
                        let instance_keys = keys
                            .iter()
                            .filter(|k| instance_values(&instance, k.0).is_some());
                        if instance_keys
                            .clone()
                            .all(|(t, vr, p)| key_matches(*t, *vr, p, value(*t).as_deref()))
                        {
                            out.push(response(level, &keys, &value));
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A study's response, or `None` when it fails a key the index could not match (SOP Classes
/// in Study, which costs a look at the instances and is computed only when asked for).
fn study_response(
    index: &dyn Index,
    keys: &[(Tag, Vr, String)],
    s: &StudySummary,
) -> Result<Option<DataSetBuilder>, FindError> {
    let classes_key = keys.iter().find(|k| k.0 == SOP_CLASSES_IN_STUDY);
    let classes = match classes_key {
        Some(_) => Some(index.sop_classes_of_study(&s.study_uid)?.join("\\")),
        None => None,
    };
    // A key with values matches when the study holds any of those classes.
    if let Some((_, _, pattern)) = classes_key {
        let held = classes.as_deref().unwrap_or("");
        let wanted: Vec<&str> = pattern
            .split('\\')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if !wanted.is_empty() && !held.split('\\').any(|c| wanted.contains(&c)) {
            return Ok(None);
        }
    }
    let value = |t| {
        if t == SOP_CLASSES_IN_STUDY {
            classes.clone()
        } else {
            study_values(s, t)
        }
    };
    Ok(Some(response(Level::Study, keys, &value)))
}

/// One page of matches and the number of all matches. A study-level query without matching
/// keys (the worklist's "latest studies") is paged by the index itself; any other query is
/// matched in full and then sliced.
pub fn find_page(
    index: &dyn Index,
    identifier: &DataSet,
    offset: usize,
    limit: usize,
) -> Result<(Vec<DataSetBuilder>, usize), FindError> {
    let level = identifier
        .first_text(QUERY_RETRIEVE_LEVEL)
        .and_then(|l| Level::parse(&l))
        .ok_or(FindError::Level)?;
    let keys = keys(identifier);
    let universal = keys
        .iter()
        .all(|(_, _, v)| v.trim().is_empty() || v.trim() == "*");
    if level == Level::Study && universal {
        let page = index.search_studies(&StudyQuery {
            limit: Some(limit as u64),
            offset: offset as u64,
            ..StudyQuery::default()
        })?;
        let mut out = Vec::with_capacity(page.studies.len());
        for s in &page.studies {
            out.extend(study_response(index, &keys, s)?);
        }
        return Ok((out, page.total as usize));
    }
    let all = find(index, identifier)?;
    let total = all.len();
    Ok((all.into_iter().skip(offset).take(limit).collect(), total))
}

/// A study with every field present, to tell which keys are study-level attributes.
fn studies_probe() -> StudySummary {
    StudySummary {
        preview_count: 0,
        patient_name: String::new(),
        patient_id: String::new(),
        patient_birth_date: Some(String::new()),
        patient_sex: Some(String::new()),
        study_uid: String::new(),
        study_date: Some(String::new()),
        study_time: Some(String::new()),
        study_description: Some(String::new()),
        study_id: Some(String::new()),
        accession_number: Some(String::new()),
        referring_physician: Some(String::new()),
        modalities: Vec::new(),
        series_count: 0,
        instance_count: 0,
    }
}

/// The C-FIND service of this node: queries matched against the index.
pub struct IndexFind(pub Arc<dyn Index>);

impl FindHandler for IndexFind {
    fn find(
        &self,
        _model: QueryModel,
        identifier: &DataSet,
    ) -> Result<Vec<DataSetBuilder>, String> {
        find(self.0.as_ref(), identifier).map_err(|e| e.to_string())
    }
}
