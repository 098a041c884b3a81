//! `lightbox routes`: the routing rules that send on what the storage listener receives.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use lightbox_core::nodes::Nodes;
use lightbox_core::routes::{Route, RouteLevel, Routes};
use lightbox_core::store::Store;

#[derive(Subcommand)]
pub enum RoutesCommand {
    /// Add a rule (or replace the one of that name)
    Add(Box<AddArgs>),
    /// The rules
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a rule
    Rm { name: String },
}

#[derive(Args)]
pub struct AddArgs {
    name: String,
    /// The node that receives what matches
    #[arg(long)]
    to: String,
    /// Send whole studies once stable, instead of each series
    #[arg(long)]
    study: bool,
    /// Only these modalities (repeatable)
    #[arg(long = "modality")]
    modalities: Vec<String>,
    /// Only from these calling AE titles (repeatable)
    #[arg(long = "calling-ae")]
    calling_ae_titles: Vec<String>,
    /// Only from these known nodes (repeatable)
    #[arg(long = "from-node")]
    from_nodes: Vec<String>,
    /// Wildcards on the series' description (the study's with --study)
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    study_description: Option<String>,
    #[arg(long)]
    patient_name: Option<String>,
    #[arg(long)]
    patient_id: Option<String>,
    #[arg(long)]
    accession_number: Option<String>,
    /// A study date or range: 20240101-, -20231231, 20240115
    #[arg(long)]
    study_date: Option<String>,
    /// Send a de-identified copy (the PS3.15 basic profile) instead of what was received
    #[arg(long)]
    deidentify: bool,
    /// With --deidentify: an option of the profile (repeatable), as `anonymize --option`
    #[arg(long = "deid-option", requires = "deidentify", value_name = "OPTION")]
    deid_options: Vec<String>,
    /// Keep the rule but do not apply it
    #[arg(long)]
    disabled: bool,
}

pub fn run(store: &Store, command: RoutesCommand) -> Result<()> {
    let routes = Routes::of_store(store);
    match command {
        RoutesCommand::Add(args) => {
            let AddArgs {
                name,
                to,
                study,
                modalities,
                calling_ae_titles,
                from_nodes,
                description,
                study_description,
                patient_name,
                patient_id,
                accession_number,
                study_date,
                deidentify,
                deid_options,
                disabled,
            } = *args;
            let deidentify = if deidentify {
                let profile = lightbox_dicom::deid::profile::Profile::from_names(&deid_options)?;
                Some(profile.options().map(|o| o.name().to_string()).collect())
            } else {
                None
            };
            if Nodes::of_store(store).resolve(&to).is_err() {
                bail!("no node named {to:?}: add it with `lightbox nodes add` first");
            }
            routes.put(Route {
                name: name.clone(),
                to,
                level: if study {
                    RouteLevel::Study
                } else {
                    RouteLevel::Series
                },
                modalities,
                calling_ae_titles,
                from_nodes,
                description,
                study_description,
                patient_name,
                patient_id,
                accession_number,
                study_date,
                deidentify,
                enabled: !disabled,
            })?;
            println!("route {name} saved");
            Ok(())
        }
        RoutesCommand::List { json } => {
            let list = routes.list()?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
                return Ok(());
            }
            for r in &list {
                let level = match r.level {
                    RouteLevel::Series => "series",
                    RouteLevel::Study => "studies",
                };
                let mut when = Vec::new();
                if !r.modalities.is_empty() {
                    when.push(format!("modality {}", r.modalities.join("|")));
                }
                if !r.calling_ae_titles.is_empty() {
                    when.push(format!("from AE {}", r.calling_ae_titles.join("|")));
                }
                if !r.from_nodes.is_empty() {
                    when.push(format!("from node {}", r.from_nodes.join("|")));
                }
                for (what, pattern) in [
                    ("description", &r.description),
                    ("study description", &r.study_description),
                    ("patient name", &r.patient_name),
                    ("patient ID", &r.patient_id),
                    ("accession", &r.accession_number),
                    ("study date", &r.study_date),
                ] {
                    if let Some(p) = pattern {
                        when.push(format!("{what} {p}"));
                    }
                }
                println!(
                    "{}{}: {level} to {}{}",
                    r.name,
                    if r.enabled { "" } else { " (disabled)" },
                    r.to,
                    if when.is_empty() {
                        String::new()
                    } else {
                        format!(" when {}", when.join(", "))
                    }
                );
            }
            Ok(())
        }
        RoutesCommand::Rm { name } => {
            routes.remove(&name)?;
            println!("route {name} removed");
            Ok(())
        }
    }
}
