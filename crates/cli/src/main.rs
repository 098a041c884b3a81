//! `lightbox`: the command line over the core library.

mod output;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use lightbox_core::dicom::{self, ReadMode};
use lightbox_core::dimse::scu::ScuOptions;
use lightbox_core::dimse::{self, scp, scu, AeAddress};
use lightbox_core::import::{self, ImportOptions, ImportProgress};
use lightbox_core::index::{DateRange, RemoveTarget, StudyQuery, TextPattern};
use lightbox_core::nodes::{Node, Nodes, RetrieveMethod};
use lightbox_core::render::thumbnail;
use lightbox_core::store::Store;
use lightbox_core::synth::{self, SynthSpec};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "lightbox",
    version,
    about = "A visual DICOM browser and mini-PACS"
)]
struct Cli {
    /// Data directory holding the index and the managed files [default: the platform's user data dir]
    #[arg(long, env = "LIGHTBOX_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import files, folders (recursively), DICOMDIR media and zip archives
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Index files where they are instead of copying them into the store
        #[arg(long)]
        link: bool,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Search studies (newest first)
    Studies {
        #[command(flatten)]
        filters: StudyFilters,
        #[arg(long)]
        json: bool,
    },
    /// List the series of a study
    Series {
        study_uid: String,
        #[arg(long)]
        json: bool,
    },
    /// List the instances of a series
    Instances {
        series_uid: String,
        #[arg(long)]
        json: bool,
    },
    /// Show every element of an instance
    Dump {
        sop_instance_uid: String,
        /// DICOM JSON model (PS3.18 F.2); bulk data is left out and marked with a BulkDataURI
        #[arg(long)]
        json: bool,
    },
    /// Write the thumbnail of a series as PNG
    Thumbnail {
        series_uid: String,
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// Longest side in pixels
        #[arg(long, default_value_t = thumbnail::DEFAULT_SIZE)]
        size: u32,
    },
    /// Remove from the index and delete managed files (linked files are never deleted)
    Rm(RemoveArgs),
    /// Counts of the store
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// C-ECHO a remote node (a node name or AET@host:port)
    Echo {
        target: String,
        #[command(flatten)]
        scu: ScuArgs,
    },
    /// C-STORE files, a study or a series of the store to a remote node (name or AET@host:port)
    Send {
        target: String,
        /// Files or folders to send
        paths: Vec<PathBuf>,
        #[arg(long, conflicts_with_all = ["paths", "series"])]
        study: Option<String>,
        #[arg(long, conflicts_with = "paths")]
        series: Option<String>,
        #[command(flatten)]
        scu: ScuArgs,
        #[arg(long)]
        json: bool,
    },
    /// C-FIND on a remote node: patient, study, series or instance level
    Find {
        target: String,
        #[arg(long, default_value = "study")]
        level: String,
        /// Patient root information model (default: study root)
        #[arg(long)]
        patient_root: bool,
        #[command(flatten)]
        filters: StudyFilters,
        #[arg(long)]
        study_uid: Option<String>,
        #[arg(long)]
        series_uid: Option<String>,
        #[command(flatten)]
        scu: ScuArgs,
        #[arg(long)]
        json: bool,
    },
    /// Retrieve a study, series or instance from a remote node into the store
    Retrieve {
        target: String,
        #[arg(long)]
        study: String,
        #[arg(long)]
        series: Option<String>,
        /// SOP Instance UID (needs --series)
        #[arg(long, requires = "series")]
        instance: Option<String>,
        /// For C-MOVE nodes: where our storage listener receives (a running `lightbox serve`
        /// there is used; otherwise one is started for the retrieval)
        #[arg(long, default_value = "127.0.0.1:11112")]
        listen: String,
        #[command(flatten)]
        scu: ScuArgs,
        #[arg(long)]
        json: bool,
    },
    /// Remote DICOM nodes: add, list, remove, verify
    #[command(subcommand)]
    Nodes(NodesCommand),
    /// Run the storage listener (C-STORE and C-ECHO SCP) until interrupted
    Serve {
        /// Address to listen on (loopback by default)
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[arg(long, default_value_t = 11112)]
        port: u16,
        #[arg(long, default_value = dimse::DEFAULT_AE_TITLE)]
        ae_title: String,
        /// Accept associations whatever AE title they call
        #[arg(long)]
        any_called_ae_title: bool,
        /// Only accept these calling AE titles (repeatable)
        #[arg(long = "allow-calling")]
        allow_calling: Vec<String>,
        /// Only accept the AE titles of known nodes (and --allow-calling ones)
        #[arg(long)]
        known_nodes_only: bool,
    },
    /// Generate a deterministic synthetic data set (for tests, demos and benchmarks)
    Generate {
        output: PathBuf,
        #[arg(long, default_value_t = 2)]
        patients: u32,
        #[arg(long, default_value_t = 2)]
        studies: u32,
        #[arg(long, default_value_t = 2)]
        series: u32,
        #[arg(long, default_value_t = 5)]
        instances: u32,
        #[arg(long, default_value_t = 512)]
        rows: u16,
        #[arg(long, default_value_t = 512)]
        columns: u16,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// One modality for every series (CT, MR, CR, DX, US, PT) instead of a mix
        #[arg(long)]
        modality: Option<String>,
    },
}

#[derive(Subcommand)]
enum NodesCommand {
    /// Add a node: NAME AET@host:port
    Add {
        name: String,
        address: AeAddress,
        /// Our AE title towards this node [default: LIGHTBOX]
        #[arg(long)]
        calling_ae_title: Option<String>,
        /// How to retrieve from it: get (C-GET) or move (C-MOVE)
        #[arg(long, default_value = "get")]
        retrieve: RetrieveMethod,
        /// C-MOVE destination AE title [default: our storage listener's]
        #[arg(long)]
        move_destination: Option<String>,
        /// Do not use it for query/retrieve
        #[arg(long)]
        no_query: bool,
        /// Do not offer it as a send target
        #[arg(long)]
        no_send: bool,
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Rm {
        name: String,
    },
    /// C-ECHO the node and print the round trip
    Verify {
        name: String,
    },
}

#[derive(Args)]
struct ScuArgs {
    /// Our AE title in the association [default: the node's, else LIGHTBOX]
    #[arg(long)]
    calling_ae_title: Option<String>,
    /// Connection, association and response timeout in seconds [default: the node's, else 30]
    #[arg(long)]
    timeout: Option<u64>,
}

impl ScuArgs {
    fn options(&self, node: &Node) -> ScuOptions {
        ScuOptions {
            calling_ae_title: self
                .calling_ae_title
                .clone()
                .unwrap_or_else(|| node.calling_ae_title().to_string()),
            timeout: self
                .timeout
                .map(|t| Duration::from_secs(t.max(1)))
                .unwrap_or_else(|| node.timeout()),
            cancel: None,
        }
    }
}

fn echo_node(node: &Node, options: &ScuOptions) -> Result<()> {
    let rtt = scu::echo(&node.address(), options)?;
    println!(
        "C-ECHO {} ({}): success in {:.1} ms",
        node.name,
        node.address(),
        rtt.as_secs_f64() * 1000.0
    );
    Ok(())
}

#[derive(Args)]
struct StudyFilters {
    /// Case-insensitive; DICOM wildcards * and ?
    #[arg(long)]
    patient_name: Option<String>,
    #[arg(long)]
    patient_id: Option<String>,
    /// DATE, DATE-DATE, DATE- or -DATE (YYYYMMDD)
    #[arg(long)]
    date: Option<String>,
    /// Any of these modalities (repeatable)
    #[arg(long)]
    modality: Vec<String>,
    /// Study description; case-insensitive, wildcards * and ?
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    accession: Option<String>,
    #[arg(long, default_value_t = 100)]
    limit: u64,
    #[arg(long, default_value_t = 0)]
    offset: u64,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct RemoveArgs {
    #[arg(long)]
    patient: Option<String>,
    #[arg(long)]
    study: Option<String>,
    #[arg(long)]
    series: Option<String>,
    #[arg(long)]
    instance: Option<String>,
}

fn default_data_dir() -> Result<PathBuf> {
    dirs::data_dir().map(|d| d.join("lightbox")).context(
        "no user data directory on this platform: pass --data-dir or set LIGHTBOX_DATA_DIR",
    )
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Command::Generate {
        output,
        patients,
        studies,
        series,
        instances,
        rows,
        columns,
        seed,
        modality,
    } = cli.command
    {
        let spec = SynthSpec {
            patients,
            studies_per_patient: studies,
            series_per_study: series,
            instances_per_series: instances,
            rows,
            columns,
            seed,
            modality,
        };
        let started = Instant::now();
        let report = synth::generate(&spec, &output)
            .with_context(|| format!("writing {}", output.display()))?;
        eprintln!(
            "generated {} files ({} MB) in {:.1}s under {}",
            report.files,
            report.bytes / 1_000_000,
            started.elapsed().as_secs_f64(),
            output.display()
        );
        return Ok(());
    }
    let data_dir = match cli.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let nodes = Nodes::new(&data_dir);
    match &cli.command {
        Command::Echo { target, scu } => {
            let node = nodes.resolve(target)?;
            return echo_node(&node, &scu.options(&node));
        }
        Command::Nodes(command) => return run_nodes(&nodes, command),
        Command::Find {
            target,
            level,
            patient_root,
            filters,
            study_uid,
            series_uid,
            scu,
            json,
        } => {
            let node = nodes.resolve(target)?;
            return run_find(
                &node,
                level,
                *patient_root,
                filters,
                study_uid.as_deref(),
                series_uid.as_deref(),
                &scu.options(&node),
                *json,
            );
        }
        _ => {}
    }
    let store = Store::open(&data_dir)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    match cli.command {
        Command::Import { paths, link, json } => run_import(&store, &paths, link, json),
        Command::Studies { filters, json } => {
            let query = study_query(filters)?;
            let page = store.index().search_studies(&query)?;
            output::studies(&page, &query, json)
        }
        Command::Series { study_uid, json } => {
            if store.index().study(&study_uid)?.is_none() {
                bail!("no study {study_uid} in the store");
            }
            output::series(&store.index().series_of_study(&study_uid)?, json)
        }
        Command::Instances { series_uid, json } => {
            if store.index().series(&series_uid)?.is_none() {
                bail!("no series {series_uid} in the store");
            }
            output::instances(&store.index().instances_of_series(&series_uid)?, json)
        }
        Command::Dump {
            sop_instance_uid,
            json,
        } => {
            let instance = store
                .index()
                .instance(&sop_instance_uid)?
                .with_context(|| format!("no instance {sop_instance_uid} in the store"))?;
            let path = store.resolve(&instance.file_path);
            let file = dicom::read_file(&path, ReadMode::Full)
                .with_context(|| format!("reading {}", path.display()))?;
            if json {
                let bulk = |tags: &[dicom::Tag]| {
                    let path: Vec<String> = tags.iter().map(|t| t.hex()).collect();
                    format!("instances/{sop_instance_uid}/bulk/{}", path.join("/"))
                };
                println!(
                    "{}",
                    serde_json::to_string_pretty(&dicom::json::to_json(&file, &bulk))?
                );
            } else {
                print!("{}", dicom::dump::dump(&file));
            }
            Ok(())
        }
        Command::Thumbnail {
            series_uid,
            output,
            size,
        } => {
            let png = lightbox_core::render::series_thumbnail(&store, &series_uid, size)?;
            std::fs::write(&output, png)
                .with_context(|| format!("writing {}", output.display()))?;
            Ok(())
        }
        Command::Rm(args) => {
            let target = match (args.patient, args.study, args.series, args.instance) {
                (Some(p), ..) => RemoveTarget::Patient(p),
                (_, Some(s), ..) => RemoveTarget::Study(s),
                (_, _, Some(s), _) => RemoveTarget::Series(s),
                (_, _, _, Some(i)) => RemoveTarget::Instance(i),
                _ => unreachable!("clap requires one target"),
            };
            let removed = store.index().remove(&target)?;
            if removed.instances == 0 {
                bail!("nothing matched {target:?}");
            }
            let mut failures = 0;
            for file in removed.files.iter().filter(|f| !f.linked) {
                if let Err(e) = store.delete_managed(&file.path) {
                    failures += 1;
                    eprintln!("warning: could not delete {}: {e}", file.path);
                }
            }
            println!(
                "removed {} patient(s), {} study(ies), {} series, {} instance(s); deleted {} managed file(s), kept {} linked file(s)",
                removed.patients,
                removed.studies,
                removed.series,
                removed.instances,
                removed.files.iter().filter(|f| !f.linked).count() - failures,
                removed.files.iter().filter(|f| f.linked).count()
            );
            Ok(())
        }
        Command::Stats { json } => {
            let stats = store.index().stats()?;
            if json {
                println!("{}", serde_json::to_string(&stats)?);
            } else {
                println!(
                    "{} patients, {} studies, {} series, {} instances, {} MB in {}",
                    stats.patients,
                    stats.studies,
                    stats.series,
                    stats.instances,
                    stats.bytes / 1_000_000,
                    store.root().display()
                );
            }
            Ok(())
        }
        Command::Retrieve {
            target,
            study,
            series,
            instance,
            listen,
            scu,
            json,
        } => {
            let node = nodes.resolve(&target)?;
            let target = scu::RetrieveTarget {
                study_uid: study,
                series_uid: series,
                sop_instance_uid: instance,
            };
            run_retrieve(
                std::sync::Arc::new(store),
                &node,
                target,
                &listen,
                &scu.options(&node),
                json,
            )
        }
        Command::Send {
            target,
            paths,
            study,
            series,
            scu,
            json,
        } => {
            let node = nodes.resolve(&target)?;
            run_send(
                &store,
                &node,
                paths,
                study,
                series,
                &scu.options(&node),
                json,
            )
        }
        Command::Serve {
            bind,
            port,
            ae_title,
            any_called_ae_title,
            allow_calling,
            known_nodes_only,
        } => {
            let config = scp::ScpConfig {
                ae_title,
                require_called_ae_title: !any_called_ae_title,
                allowed_calling_ae_titles: (!allow_calling.is_empty()).then_some(allow_calling),
                known_nodes_only,
                ..scp::ScpConfig::default()
            };
            let address = format!("{bind}:{port}");
            // A clean stop leaves this marker; without it the last run crashed (or this is the
            // first), and the index catches up with the files before anything is accepted.
            let clean_marker = data_dir.join(".clean-shutdown");
            if std::fs::remove_file(&clean_marker).is_err() {
                let recovered = import::reconcile(&store)?;
                if recovered.indexed + recovered.scratch_removed > 0
                    || !recovered.unreadable.is_empty()
                {
                    eprintln!(
                        "recovered after an unclean stop: indexed {} file(s), removed {} abandoned temporary file(s), {} unreadable",
                        recovered.indexed,
                        recovered.scratch_removed,
                        recovered.unreadable.len()
                    );
                }
            }
            let listener =
                scp::StorageScp::bind(&address, std::sync::Arc::new(store), config.clone())
                    .with_context(|| format!("listening on {address}"))?;
            let shutdown = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(signal, shutdown.clone())?;
            }
            eprintln!(
                "storage listener {} on {} (data in {})",
                config.ae_title,
                listener.local_addr()?,
                data_dir.display()
            );
            listener.serve(shutdown)?;
            std::fs::write(&clean_marker, b"")?;
            eprintln!("stopped");
            Ok(())
        }
        Command::Generate { .. }
        | Command::Echo { .. }
        | Command::Nodes(_)
        | Command::Find { .. } => {
            unreachable!("handled above")
        }
    }
}

fn study_query(f: StudyFilters) -> Result<StudyQuery> {
    let pattern = |s: Option<String>| s.as_deref().and_then(TextPattern::new);
    Ok(StudyQuery {
        patient_name: pattern(f.patient_name),
        patient_id: pattern(f.patient_id),
        study_date: f.date.as_deref().map(DateRange::parse).transpose()?,
        modalities: f
            .modality
            .iter()
            .flat_map(|m| m.split(','))
            .map(|m| m.trim().to_uppercase())
            .filter(|m| !m.is_empty())
            .collect(),
        study_description: pattern(f.description),
        accession_number: pattern(f.accession),
        study_uids: Vec::new(),
        limit: Some(f.limit),
        offset: f.offset,
    })
}

fn run_retrieve(
    store: std::sync::Arc<Store>,
    node: &Node,
    target: scu::RetrieveTarget,
    listen: &str,
    options: &ScuOptions,
    json: bool,
) -> Result<()> {
    if !node.query_retrieve {
        bail!("node {} is not enabled for query/retrieve", node.name);
    }
    let started = Instant::now();
    let show_bar = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = show_bar.then(|| indicatif::ProgressBar::new(0));
    let mut progress = |p: &scu::RetrieveProgress| {
        if let Some(bar) = &bar {
            bar.set_length(p.expected);
            bar.set_position(p.done);
        }
    };
    let report = match node.retrieve_method {
        RetrieveMethod::CGet => scu::get(&node.address(), options, &target, &store, &mut progress)?,
        RetrieveMethod::CMove => {
            let destination = node
                .move_destination
                .clone()
                .unwrap_or_else(|| options.calling_ae_title.clone());
            // Our own listener receives what the peer sends: a running `lightbox serve` holds
            // the port already; otherwise one runs just for this retrieval.
            let config = scp::ScpConfig {
                ae_title: destination.clone(),
                ..scp::ScpConfig::default()
            };
            let temporary = match scp::StorageScp::bind(listen, store.clone(), config) {
                Ok(listener) => {
                    let shutdown = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let flag = shutdown.clone();
                    Some((shutdown, std::thread::spawn(move || listener.serve(flag))))
                }
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => None,
                Err(e) => {
                    return Err(e).with_context(|| format!("listening on {listen} for the C-MOVE"))
                }
            };
            let report = scu::move_to(
                &node.address(),
                options,
                &target,
                &destination,
                &mut progress,
            );
            if let Some((shutdown, thread)) = temporary {
                shutdown.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = thread.join();
            }
            report?
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "retrieved {} new instance(s), {} already stored, {} failed, of {} expected from {} in {:.2}s",
            report.stored,
            report.duplicates,
            report.failed + report.errors.len() as u64,
            report.expected,
            node.name,
            started.elapsed().as_secs_f64()
        );
        for e in &report.errors {
            println!("  {e}");
        }
    }
    if !report.errors.is_empty() || report.failed > 0 {
        bail!("the retrieval was incomplete");
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_find(
    node: &Node,
    level: &str,
    patient_root: bool,
    f: &StudyFilters,
    study_uid: Option<&str>,
    series_uid: Option<&str>,
    options: &ScuOptions,
    json: bool,
) -> Result<()> {
    use lightbox_core::dicom::{tag, write::DataSetBuilder};
    use lightbox_core::dimse::qr::{self, Level};
    let level = Level::parse(level)
        .with_context(|| format!("level {level:?}: expected patient, study, series or instance"))?;
    if let Some(date) = &f.date {
        DateRange::parse(date)?;
    }
    let mut identifier = DataSetBuilder::default();
    identifier.text(qr::QUERY_RETRIEVE_LEVEL, level.as_str());
    for key in qr::default_return_keys(level) {
        identifier.text(*key, "");
    }
    let modality_key = if level == Level::Study {
        lightbox_core::dicom::Tag(0x0008, 0x0061)
    } else {
        tag::MODALITY
    };
    let keys = [
        (tag::PATIENT_NAME, f.patient_name.clone()),
        (tag::PATIENT_ID, f.patient_id.clone()),
        (tag::STUDY_DATE, f.date.clone()),
        (tag::STUDY_DESCRIPTION, f.description.clone()),
        (tag::ACCESSION_NUMBER, f.accession.clone()),
        (
            modality_key,
            (!f.modality.is_empty()).then(|| f.modality.join("\\")),
        ),
        (tag::STUDY_INSTANCE_UID, study_uid.map(str::to_string)),
        (tag::SERIES_INSTANCE_UID, series_uid.map(str::to_string)),
    ];
    for (key, value) in keys {
        if let Some(value) = value {
            identifier.text(key, &value);
        }
    }
    // The study root model has no patient level.
    let model = if patient_root || level == Level::Patient {
        scu::QueryModel::PatientRoot
    } else {
        scu::QueryModel::StudyRoot
    };
    let matches = scu::find(&node.address(), options, model, &identifier)?;
    let rows: Vec<_> = matches.iter().map(qr::match_json).collect();
    if json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        for row in &rows {
            let fields: Vec<String> = row
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    )
                })
                .collect();
            println!("{}", fields.join("  "));
        }
        println!(
            "{} match(es) at {} level from {}",
            rows.len(),
            level.as_str(),
            node.name
        );
    }
    Ok(())
}

fn run_nodes(nodes: &Nodes, command: &NodesCommand) -> Result<()> {
    match command {
        NodesCommand::Add {
            name,
            address,
            calling_ae_title,
            retrieve,
            move_destination,
            no_query,
            no_send,
            timeout,
        } => {
            let node = Node {
                calling_ae_title: calling_ae_title.clone(),
                retrieve_method: *retrieve,
                move_destination: move_destination.clone(),
                query_retrieve: !no_query,
                send_target: !no_send,
                timeout_seconds: *timeout,
                ..Node::new(name, address)
            };
            nodes.add(node)?;
            println!("added {name} ({address})");
        }
        NodesCommand::List { json } => {
            let list = nodes.list()?;
            if *json {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                println!(
                    "{:<16} {:<32} {:<10} {:<6} {:<6} {:<16}",
                    "Name", "Address", "Retrieve", "Q/R", "Send", "Calling AE"
                );
                for n in list {
                    let retrieve = match n.retrieve_method {
                        RetrieveMethod::CGet => "C-GET",
                        RetrieveMethod::CMove => "C-MOVE",
                    };
                    println!(
                        "{:<16} {:<32} {:<10} {:<6} {:<6} {:<16}",
                        n.name,
                        n.address().to_string(),
                        retrieve,
                        n.query_retrieve,
                        n.send_target,
                        n.calling_ae_title()
                    );
                }
            }
        }
        NodesCommand::Rm { name } => {
            nodes.remove(name)?;
            println!("removed {name}");
        }
        NodesCommand::Verify { name } => {
            let node = nodes.resolve(name)?;
            echo_node(
                &node,
                &ScuOptions {
                    calling_ae_title: node.calling_ae_title().to_string(),
                    timeout: node.timeout(),
                    cancel: None,
                },
            )?;
        }
    }
    Ok(())
}

fn run_send(
    store: &Store,
    node: &Node,
    paths: Vec<PathBuf>,
    study: Option<String>,
    series: Option<String>,
    options: &ScuOptions,
    json: bool,
) -> Result<()> {
    let series_uids: Vec<String> = match (&study, &series) {
        (Some(study), _) => store
            .index()
            .series_of_study(study)?
            .into_iter()
            .map(|s| s.series_uid)
            .collect(),
        (_, Some(series)) => vec![series.clone()],
        _ => Vec::new(),
    };
    let mut files = Vec::new();
    for uid in &series_uids {
        files.extend(
            store
                .index()
                .instances_of_series(uid)?
                .into_iter()
                .map(|i| store.resolve(&i.file_path)),
        );
    }
    if study.is_some() || series.is_some() {
        if files.is_empty() {
            bail!(
                "nothing in the store for {}",
                study.or(series).unwrap_or_default()
            );
        }
    } else {
        for path in &paths {
            if path.is_dir() {
                files.extend(
                    walkdir::WalkDir::new(path)
                        .into_iter()
                        .flatten()
                        .filter(|e| e.file_type().is_file())
                        .map(|e| e.into_path()),
                );
            } else {
                files.push(path.clone());
            }
        }
        if files.is_empty() {
            bail!("nothing to send: give PATH..., --study or --series");
        }
    }
    let started = Instant::now();
    let target = node.address();
    if !node.send_target {
        bail!("node {} is not enabled as a send target", node.name);
    }
    let report = scu::send_files(&target, options, &files, &mut |sent| {
        if let Some(error) = &sent.error {
            eprintln!("failed {}: {error}", sent.path);
        }
    })?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        // Instances the peer takes only uncompressed are decoded first: say how many.
        let transcoded = match report.transcoded {
            0 => String::new(),
            n => format!(", {n} decoded to an uncompressed transfer syntax"),
        };
        println!(
            "sent {} instance(s) to {target} ({} with warnings{transcoded}), {} failed, in {:.2}s",
            report.sent,
            report.warnings,
            report.failed,
            started.elapsed().as_secs_f64()
        );
    }
    if report.failed > 0 {
        bail!("{} instance(s) could not be sent", report.failed);
    }
    Ok(())
}

fn run_import(store: &Store, paths: &[PathBuf], link: bool, json: bool) -> Result<()> {
    let progress = ImportProgress::default();
    let options = ImportOptions { link };
    let started = Instant::now();
    let show_bar = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = std::thread::scope(|scope| {
        let worker = scope.spawn(|| import::import(store, paths, &options, &progress));
        if show_bar {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files {msg}",
                )
                .expect("valid template"),
            );
            while !worker.is_finished() {
                bar.set_length(progress.discovered.load(Ordering::Relaxed));
                bar.set_position(progress.processed.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{} MB",
                    progress.bytes.load(Ordering::Relaxed) / 1_000_000
                ));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        }
        worker.join().expect("import thread panicked")
    })?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let secs = started.elapsed().as_secs_f64();
        println!(
            "imported {} instance(s), {} duplicate(s), {} skipped in {:.2}s",
            report.imported,
            report.duplicates,
            report.skipped.len(),
            secs
        );
        for s in &report.skipped {
            println!("  skipped {}: {}", s.path, s.reason);
        }
    }
    Ok(())
}
