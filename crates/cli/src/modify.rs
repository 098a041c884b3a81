//! `lightbox modify`: attributes of a patient's, a study's or a series' instances changed, as a
//! job (queued to a running server, else run here).

use crate::jobs::{execute, Runtime};
use anyhow::{Context, Result};
use clap::Args;
use lightbox_core::jobs::kinds::modify::ModifyOutput;
use lightbox_core::jobs::{DeleteTarget, JobSpec};
use std::collections::BTreeMap;

#[derive(Args)]
pub struct ModifyArgs {
    #[command(flatten)]
    target: Target,
    /// KEYWORD=VALUE: set an attribute (repeatable), e.g. PatientID=P123
    #[arg(long = "set", value_name = "KEYWORD=VALUE")]
    set: Vec<String>,
    /// KEYWORD: remove an attribute (repeatable)
    #[arg(long = "remove", value_name = "KEYWORD")]
    remove: Vec<String>,
    /// New Study, Series and SOP Instance UIDs (a new study; the original is kept)
    #[arg(long)]
    new_uids: bool,
    /// With --new-uids, delete the original once the new one is stored
    #[arg(long, requires = "new_uids")]
    replace_source: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct Target {
    /// Every study of the patient with this Patient ID
    #[arg(long)]
    patient: Option<String>,
    #[arg(long)]
    study: Option<String>,
    #[arg(long)]
    series: Option<String>,
}

pub fn run(rt: &Runtime, args: ModifyArgs) -> Result<()> {
    let target = match (args.target.patient, args.target.study, args.target.series) {
        (Some(p), ..) => DeleteTarget::Patient(p),
        (_, Some(s), _) => DeleteTarget::Study(s),
        (_, _, Some(s)) => DeleteTarget::Series(s),
        _ => unreachable!("clap requires one target"),
    };
    let mut set = BTreeMap::new();
    for pair in &args.set {
        let (keyword, value) = pair
            .split_once('=')
            .with_context(|| format!("--set {pair:?}: expected KEYWORD=VALUE"))?;
        set.insert(keyword.trim().to_string(), value.to_string());
    }
    let spec = JobSpec::Modify {
        target,
        set,
        remove: args.remove,
        new_uids: args.new_uids,
        keep_source: !args.replace_source,
    };
    let finished = execute(rt, spec, args.json)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(finished.output.as_ref().unwrap_or(&serde_json::Value::Null))?
        );
    } else if let Some(o) = finished.output::<ModifyOutput>() {
        println!("modified {} instance(s)", o.instances);
        for study in &o.studies {
            if study.from == study.to {
                println!("  study {}", study.from);
            } else {
                println!("  study {} → {}", study.from, study.to);
            }
        }
        if o.source_kept {
            println!("  the originals are kept");
        }
    }
    finished.result()
}
