//! `lightbox export`: patients, studies and series of the store into a folder or a zip, with
//! readable names, or as media (ISO 9660 names and a DICOMDIR).

use anyhow::{bail, Context, Result};
use clap::Args;
use lightbox_core::export::{self, Naming, Selection};
use lightbox_core::store::Store;
use std::path::PathBuf;

#[derive(Args)]
pub struct ExportArgs {
    /// A patient, by Patient ID (repeatable)
    #[arg(long)]
    patient: Vec<String>,
    /// A study, by Study Instance UID (repeatable)
    #[arg(long)]
    study: Vec<String>,
    /// A series, by Series Instance UID (repeatable)
    #[arg(long)]
    series: Vec<String>,
    /// Media names (DICOM/PT000001/ST000001/SE000001/IM000001) and a DICOMDIR (STD-GEN-CD)
    #[arg(long)]
    dicomdir: bool,
    /// Write a zip archive (streamed) instead of a folder
    #[arg(long, value_name = "FILE", conflicts_with = "dir")]
    zip: Option<PathBuf>,
    /// The folder to write into (created; it must be empty)
    #[arg(required_unless_present = "zip")]
    dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(store: &Store, args: ExportArgs) -> Result<()> {
    let selection = Selection {
        patients: args.patient,
        studies: args.study,
        series: args.series,
    };
    let naming = if args.dicomdir {
        Naming::Media
    } else {
        Naming::Readable
    };
    let plan = export::plan(store, &selection, naming)?;
    let (report, written) = match (&args.zip, &args.dir) {
        (Some(zip), _) => {
            let file = std::fs::File::create(zip)
                .with_context(|| format!("creating {}", zip.display()))?;
            let out = export::to_zip(store, &plan, std::io::BufWriter::new(file))?;
            out.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .with_context(|| format!("writing {}", zip.display()))?;
            let bytes = std::fs::metadata(zip).map(|m| m.len()).unwrap_or(0);
            (
                export::ExportReport {
                    files: plan.entries.len() as u64,
                    bytes,
                    dicomdir_records: if args.dicomdir {
                        plan.entries.len() as u64
                    } else {
                        0
                    },
                },
                zip.clone(),
            )
        }
        (None, Some(dir)) => (export::to_folder(store, &plan, dir)?, dir.clone()),
        (None, None) => bail!("give a folder, or --zip FILE"),
    };
    if args.json {
        let mut out = serde_json::to_value(&report)?;
        out["path"] = serde_json::json!(written);
        println!("{out}");
    } else {
        println!(
            "exported {} file(s), {} bytes, to {}{}",
            report.files,
            report.bytes,
            written.display(),
            if args.dicomdir {
                format!(" (DICOMDIR listing {})", report.dicomdir_records)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}
