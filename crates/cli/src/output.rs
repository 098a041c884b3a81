//! Listings as text tables or JSON (DICOM keywords as field names).

use anyhow::Result;
use lightbox_core::index::{StudyPage, StudyQuery};
use lightbox_core::model::{InstanceSummary, SeriesSummary};
use serde::Serialize;

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        format!("{text:width$}")
    } else {
        let mut s: String = text.chars().take(width - 1).collect();
        s.push('…');
        s
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

#[derive(Serialize)]
struct StudiesJson<'a> {
    total: u64,
    offset: u64,
    studies: &'a [lightbox_core::model::StudySummary],
}

pub fn studies(page: &StudyPage, query: &StudyQuery, json: bool) -> Result<()> {
    if json {
        let out = StudiesJson {
            total: page.total,
            offset: query.offset,
            studies: &page.studies,
        };
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    println!(
        "{:<10} {:<24} {:<12} {:<9} {:<30} {:>6} {:>6}  StudyInstanceUID",
        "Date", "Patient", "ID", "Mod", "Description", "Series", "Inst"
    );
    for s in &page.studies {
        println!(
            "{:<10} {} {} {} {} {:>6} {:>6}  {}",
            opt(&s.study_date),
            cut(&s.patient_name, 24),
            cut(&s.patient_id, 12),
            cut(&s.modalities.join(","), 9),
            cut(opt(&s.study_description), 30),
            s.series_count,
            s.instance_count,
            s.study_uid
        );
    }
    let shown = page.studies.len() as u64;
    println!(
        "{} of {} studies (offset {})",
        shown, page.total, query.offset
    );
    Ok(())
}

pub fn series(series: &[SeriesSummary], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(series)?);
        return Ok(());
    }
    println!(
        "{:>6} {:<9} {:<36} {:>6} {:>10}  SeriesInstanceUID",
        "Number", "Modality", "Description", "Inst", "Size"
    );
    for s in series {
        println!(
            "{:>6} {:<9} {} {:>6} {:>10}  {}",
            s.series_number.map(|n| n.to_string()).unwrap_or_default(),
            opt(&s.modality),
            cut(opt(&s.series_description), 36),
            s.instance_count,
            s.size,
            s.series_uid
        );
    }
    Ok(())
}

pub fn instances(instances: &[InstanceSummary], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(instances)?);
        return Ok(());
    }
    println!(
        "{:>6} {:>5}x{:<5} {:>6} {:>10}  SOPInstanceUID",
        "Number", "Cols", "Rows", "Frames", "Size"
    );
    for i in instances {
        let n = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        println!(
            "{:>6} {:>5}x{:<5} {:>6} {:>10}  {}",
            n(i.instance_number),
            n(i.columns),
            n(i.rows),
            n(i.frames),
            i.file_size,
            i.sop_instance_uid
        );
    }
    Ok(())
}
