//! `lightbox`: the command line over the core library.

mod anonymize;
mod export;
mod jobs;
mod migrate;
mod modify;
mod output;
mod routes;
mod serve;
mod sweep;
mod verbs;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use lightbox_core::index::{DateRange, StudyOrder, StudyQuery, TextPattern};
use lightbox_core::jobs::{AssociationSettings, DeleteTarget, QuerySpec};
use lightbox_core::nodes::{DicomWebEndpoint, Node, Nodes, RetrieveMethod, WebAuth};
use lightbox_core::render::thumbnail;
use lightbox_core::store::Store;
use lightbox_dicom::{self as dicom, ReadMode};
use lightbox_net::dimse::server::ServerConfig;
use lightbox_net::dimse::{self, AeAddress};
use lightbox_net::remote::MoveListener;
use lightbox_synth::{self as synth, SynthSpec};
use std::path::PathBuf;
use std::time::Instant;

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
    /// Where the index is: a PostgreSQL database (postgres://USER[:PASSWORD]@HOST:PORT/DB),
    /// shared by every node that names it [default: index.sqlite in the data directory]
    #[arg(long, env = "LIGHTBOX_INDEX", global = true, value_name = "URL")]
    index: Option<String>,
    /// Where the managed files are: a bucket of an S3-compatible object store
    /// (s3://BUCKET[/PREFIX]; endpoint, region and credentials from AWS_ENDPOINT_URL,
    /// AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP), shared by every node
    /// that names it [default: files/ in the data directory]
    #[arg(long, env = "LIGHTBOX_STORE", global = true, value_name = "URL")]
    store: Option<String>,
    /// What the log shows: error, warn, info, debug or trace, or per module as RUST_LOG takes it
    /// (`lightbox_net=debug,info`) [default: RUST_LOG, else warn]
    #[arg(long, global = true)]
    log_level: Option<String>,
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
    /// Write patients, studies or series to a folder or a zip, with a DICOMDIR for media
    Export(export::ExportArgs),
    /// Change attributes of a patient, study or series (new UIDs, or in place), as a job
    Modify(modify::ModifyArgs),
    /// Copy this store (index rows and files) into another, e.g. a cluster's PostgreSQL
    /// index and S3 bucket, verified by counts and hashes; resumable
    Migrate(migrate::MigrateArgs),
    /// Find and delete the bucket's objects no index entry names (uploads of a node that died
    /// before indexing them), and count index entries without an object
    Sweep(sweep::SweepArgs),
    /// A de-identified copy (PS3.15 Annex E) of a patient, study or series: into the store, a
    /// folder or zip (DICOM media), or to a node, as a job
    Anonymize(anonymize::AnonymizeArgs),
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
        /// For a series: its middle instance first, then its thumbnail, then the rest (as
        /// three jobs, each after the one before)
        #[arg(long, requires = "series", conflicts_with = "instance")]
        preview_first: bool,
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
    /// The job queue: list (default), show, cancel, retry, priority, clear, watch
    Jobs(jobs::JobsArgs),
    /// Routing rules: send on what the storage listener receives, once stable
    #[command(subcommand)]
    Routes(routes::RoutesCommand),
    /// Run the storage listener, the Q/R SCP and the job engine until interrupted
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
        /// Memory all decodes together may use, in MB (thumbnails, renders, transcodes for a
        /// send): a frame that needs more is refused with the reason
        #[arg(long, default_value_t = lightbox_dicom::pixel::DEFAULT_DECODE_BUDGET >> 20)]
        decode_memory: u64,
        /// Associations served at once; beyond this, requests are rejected ("local limit
        /// exceeded") until one ends
        #[arg(long, default_value_t = lightbox_net::dimse::server::DEFAULT_MAX_ASSOCIATIONS)]
        max_associations: usize,
        /// Jobs running at once (all kinds together)
        #[arg(long, default_value_t = 8)]
        job_workers: usize,
        /// Automatic retries of a job after a network failure
        #[arg(long, default_value_t = 3)]
        job_retries: u32,
        /// Days finished jobs stay in the history
        #[arg(long, default_value_t = 7)]
        job_history_days: u64,
        /// Seconds a received series or study must receive nothing before routing rules see it
        #[arg(long, default_value_t = 60)]
        route_stable_seconds: u64,
        /// Address of the HTTP server (web UI, JSON API, DICOMweb); anything but loopback needs
        /// credentials
        #[arg(long, default_value = "127.0.0.1")]
        http_bind: String,
        /// HTTP port (0 picks a free one)
        #[arg(long, default_value_t = 8080)]
        http_port: u16,
        /// HTTP Basic credentials every request must carry: USER:PASSWORD (generated and kept in
        /// the data directory when a non-loopback address is given without them)
        #[arg(long, env = "LIGHTBOX_HTTP_CREDENTIALS")]
        http_credentials: Option<lightbox_server::Credentials>,
        /// A name this server answers to over HTTP besides the loopback names and the bound
        /// address (repeatable; the first one is used in links); requests for any other Host
        /// are refused
        #[arg(long = "http-host", value_name = "NAME")]
        http_hosts: Vec<String>,
        /// An origin (scheme://host[:port]) whose pages may use the DICOMweb server, /dicom-web
        /// and /wado: preflights answered, CORS headers added (repeatable; none by default)
        #[arg(long = "cors-origin", value_name = "ORIGIN")]
        cors_origins: Vec<String>,
        /// HTTP connections at once (open pages' event streams included); beyond, 503
        #[arg(long, default_value_t = 512)]
        http_max_connections: usize,
        /// Seconds a client may take to send a request's headers, keep an idle connection open,
        /// or pause in the middle of a request body
        #[arg(long, default_value_t = 30)]
        http_timeout: u64,
        /// Certificate chain (PEM, this server's first) for TLS: with --tls-key, the HTTP server
        /// speaks HTTPS only and a DICOM TLS listener runs on --tls-port beside the plain one
        #[arg(long, requires = "tls_key", value_name = "PEM")]
        tls_cert: Option<PathBuf>,
        /// Private key (PEM) of --tls-cert
        #[arg(long, requires = "tls_cert", value_name = "PEM")]
        tls_key: Option<PathBuf>,
        /// Require a client certificate issued by these CAs (PEM) over DICOM TLS and HTTPS
        #[arg(long, requires = "tls_cert", value_name = "PEM")]
        tls_client_ca: Option<PathBuf>,
        /// Port of the DICOM TLS listener (PS3.15 Annex B; 2762 is registered for it)
        #[arg(long, default_value_t = 2762)]
        tls_port: u16,
        /// Do not open the web UI in a browser
        #[arg(long)]
        no_browser: bool,
        /// With an empty store, import a small generated sample data set to look at
        #[arg(long)]
        demo: bool,
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
        /// Start each cross-sectional series with a localizer (a scout across the stack)
        #[arg(long)]
        localizer: bool,
        /// Write each CT or MR series as one enhanced multi-frame instance (geometry in
        /// functional groups)
        #[arg(long)]
        enhanced: bool,
    },
}

#[derive(Subcommand)]
enum NodesCommand {
    /// Add a node: NAME AET@host:port (DIMSE), or NAME --dicomweb URL
    Add(Box<AddNode>),
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

#[derive(clap::Args)]
struct AddNode {
    name: String,
    #[arg(required_unless_present = "dicomweb")]
    address: Option<AeAddress>,
    /// A DICOMweb node: its base URL (e.g. http://pacs:8042/dicom-web)
    #[arg(long, conflicts_with = "address")]
    dicomweb: Option<String>,
    /// HTTP Basic credentials for a DICOMweb node: USER:PASSWORD
    #[arg(long, requires = "dicomweb", conflicts_with = "auth_bearer")]
    auth_basic: Option<String>,
    /// A bearer token for a DICOMweb node
    #[arg(long, requires = "dicomweb")]
    auth_bearer: Option<String>,
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
    /// Retrieve from it when a study is on several nodes
    #[arg(long)]
    preferred: bool,
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// The node takes associations over TLS only: the certificates (PEM) that vouch for it
    /// (its own when self-signed, or its CA)
    #[arg(long, conflicts_with = "dicomweb", value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// Our client certificate (PEM), for a TLS node that checks its clients
    #[arg(long, requires = "tls_ca", requires = "tls_key", value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    tls_key: Option<PathBuf>,
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
    fn settings(&self) -> AssociationSettings {
        AssociationSettings {
            calling_ae_title: self.calling_ae_title.clone(),
            timeout_seconds: self.timeout,
        }
    }
}

fn echo_node(node: &Node) -> Result<()> {
    let remote = node.remote(None, None, &MoveListener::Running)?;
    let rtt = remote.echo()?;
    let (verb, outcome) = match node.dicomweb {
        Some(_) => ("DICOMweb", "answered"),
        None => ("C-ECHO", "success"),
    };
    println!(
        "{verb} {} ({}): {outcome} in {:.1} ms",
        node.name,
        remote.address(),
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
    /// Studies with a series described so; case-insensitive, wildcards * and ?
    #[arg(long)]
    series_description: Option<String>,
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

/// Where a C-MOVE run from the command line receives when no server runs.
const DEFAULT_LISTEN: &str = "127.0.0.1:11112";

fn default_data_dir() -> Result<PathBuf> {
    dirs::data_dir().map(|d| d.join("lightbox")).context(
        "no user data directory on this platform: pass --data-dir or set LIGHTBOX_DATA_DIR",
    )
}

/// Log lines go to standard error, filtered by `--log-level`, else `RUST_LOG`, else warnings.
fn start_logging(level: Option<&str>) -> Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).with_context(|| format!("--log-level {level}"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = start_logging(cli.log_level.as_deref()).and_then(|()| run(cli)) {
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
        localizer,
        enhanced,
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
            localizer,
            enhanced,
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
    let index = lightbox_core::index::IndexLocation::parse(cli.index.as_deref().unwrap_or(""))?;
    if let Command::Jobs(args) = cli.command {
        return jobs::command(&data_dir, &index, args);
    }
    let objects = lightbox_core::store::ObjectLocation::parse(cli.store.as_deref().unwrap_or(""))?;
    let store = std::sync::Arc::new(
        Store::open_with(&data_dir, &index, &objects)
            .with_context(|| format!("opening the store in {}", data_dir.display()))?,
    );
    // Remote nodes and routing rules are the cluster's when the index is shared.
    match cli.command {
        Command::Nodes(command) => return run_nodes(&Nodes::of_store(&store), &command),
        Command::Routes(command) => return routes::run(&store, command),
        _ => {}
    }
    let runtime = jobs::Runtime {
        data_dir: data_dir.clone(),
        store: store.clone(),
        listen: DEFAULT_LISTEN.to_string(),
    };
    match cli.command {
        Command::Import { paths, link, json } => verbs::import(&runtime, paths, link, json),
        Command::Echo { target, scu } => verbs::echo(&runtime, target, scu.settings()),
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
            let query = QuerySpec {
                level,
                patient_root,
                patient_name: filters.patient_name,
                patient_id: filters.patient_id,
                study_date: filters.date,
                modalities: filters.modality,
                study_description: filters.description,
                accession_number: filters.accession,
                study_uid,
                series_uid,
                cascade: false,
            };
            verbs::find(&runtime, target, query, scu.settings(), json)
        }
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
            let path = store
                .local_path(&instance.file_path)
                .with_context(|| format!("reading instance {sop_instance_uid}"))?;
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
        Command::Export(args) => export::run(&store, args),
        Command::Modify(args) => modify::run(&runtime, args),
        Command::Migrate(args) => migrate::run(&data_dir, &store, &index, &objects, args),
        Command::Sweep(args) => sweep::run(&store, args),
        Command::Anonymize(args) => anonymize::run(&runtime, args),
        Command::Rm(args) => {
            let target = match (args.patient, args.study, args.series, args.instance) {
                (Some(p), ..) => DeleteTarget::Patient(p),
                (_, Some(s), ..) => DeleteTarget::Study(s),
                (_, _, Some(s), _) => DeleteTarget::Series(s),
                (_, _, _, Some(i)) => DeleteTarget::Instance(i),
                _ => unreachable!("clap requires one target"),
            };
            verbs::remove(&runtime, target)
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
            preview_first,
            listen,
            scu,
            json,
        } => {
            let args = verbs::RetrieveArgs {
                node: target,
                study_uid: study,
                series_uid: series,
                sop_instance_uid: instance,
                preview_first,
                association: scu.settings(),
            };
            let runtime = jobs::Runtime { listen, ..runtime };
            verbs::retrieve(&runtime, args, json)
        }
        Command::Send {
            target,
            paths,
            study,
            series,
            scu,
            json,
        } => {
            let args = verbs::SendArgs {
                node: target,
                study_uid: study,
                series_uid: series,
                paths,
                association: scu.settings(),
            };
            verbs::send(&runtime, args, json)
        }
        Command::Serve {
            bind,
            port,
            ae_title,
            any_called_ae_title,
            allow_calling,
            known_nodes_only,
            max_associations,
            decode_memory,
            job_workers,
            job_retries,
            job_history_days,
            route_stable_seconds,
            http_bind,
            http_port,
            http_credentials,
            http_hosts,
            cors_origins,
            http_max_connections,
            http_timeout,
            tls_cert,
            tls_key,
            tls_client_ca,
            tls_port,
            no_browser,
            demo,
        } => {
            let tls = match (tls_cert, tls_key) {
                (Some(certificate), Some(private_key)) => Some(serve::TlsOptions {
                    identity: lightbox_net::tls::ServerTls {
                        certificate,
                        private_key,
                        client_ca: tls_client_ca,
                    },
                    dimse_address: format!("{bind}:{tls_port}"),
                }),
                _ => None,
            };
            lightbox_dicom::pixel::set_decode_budget(decode_memory << 20);
            let config = ServerConfig {
                ae_title,
                require_called_ae_title: !any_called_ae_title,
                allowed_calling_ae_titles: (!allow_calling.is_empty()).then_some(allow_calling),
                known_nodes_only,
                max_associations: max_associations.max(1),
                ..ServerConfig::default()
            };
            let jobs = serve::JobOptions {
                engine: lightbox_core::jobs::EngineConfig {
                    workers: job_workers.max(1),
                    max_retries: job_retries,
                    history: std::time::Duration::from_secs(job_history_days * 24 * 3600),
                    ..lightbox_core::jobs::EngineConfig::default()
                },
                follow_ups: lightbox_core::jobs::received::FollowUps {
                    stable_age: std::time::Duration::from_secs(route_stable_seconds),
                },
            };
            let http = serve::HttpOptions {
                address: format!("{http_bind}:{http_port}"),
                credentials: http_credentials,
                host_names: http_hosts,
                cors_origins: lightbox_server::cors::CorsOrigins::parse(&cors_origins)
                    .map_err(anyhow::Error::msg)?,
                limits: lightbox_server::HttpLimits {
                    max_connections: http_max_connections.max(1),
                    header_timeout: std::time::Duration::from_secs(http_timeout.max(1)),
                    body_idle_timeout: std::time::Duration::from_secs(http_timeout.max(1)),
                },
                open_browser: !no_browser,
                demo,
            };
            serve::serve(
                &data_dir,
                store,
                &format!("{bind}:{port}"),
                config,
                jobs,
                http,
                tls,
            )
        }
        Command::Generate { .. } | Command::Nodes(_) | Command::Jobs(_) | Command::Routes(_) => {
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
        series_description: pattern(f.series_description),
        study_uids: Vec::new(),
        limit: Some(f.limit),
        offset: f.offset,
        order: StudyOrder::Date,
        ids_ignore_case: false,
        include_previews: false,
        // The command line says how many match, exactly.
        count_limit: None,
    })
}

fn run_nodes(nodes: &Nodes, command: &NodesCommand) -> Result<()> {
    match command {
        NodesCommand::Add(add) => {
            let AddNode {
                name,
                address,
                dicomweb,
                auth_basic,
                auth_bearer,
                calling_ae_title,
                retrieve,
                move_destination,
                no_query,
                no_send,
                preferred,
                timeout,
                tls_ca,
                tls_cert,
                tls_key,
            } = &**add;
            // Kept absolute: `serve` may run from another directory.
            let absolute = |path: &PathBuf| {
                std::path::absolute(path).with_context(|| format!("{}", path.display()))
            };
            let tls = match tls_ca {
                Some(ca) => Some(lightbox_core::nodes::ClientTls {
                    ca: absolute(ca)?,
                    certificate: tls_cert.as_ref().map(absolute).transpose()?,
                    private_key: tls_key.as_ref().map(absolute).transpose()?,
                }),
                None => None,
            };
            let base = match (address, dicomweb) {
                (Some(address), _) => Node::new(name, address),
                (None, Some(url)) => {
                    let auth = match (auth_basic, auth_bearer) {
                        (Some(basic), _) => {
                            let (user, password) = basic
                                .split_once(':')
                                .context("--auth-basic: expected USER:PASSWORD")?;
                            WebAuth::Basic {
                                user: user.into(),
                                password: password.into(),
                            }
                        }
                        (None, Some(token)) => WebAuth::Bearer {
                            token: token.clone(),
                        },
                        (None, None) => WebAuth::None,
                    };
                    Node::dicomweb(
                        name,
                        DicomWebEndpoint {
                            url: url.clone(),
                            auth,
                        },
                    )
                }
                (None, None) => unreachable!("clap requires an address or --dicomweb"),
            };
            let node = Node {
                calling_ae_title: calling_ae_title.clone(),
                retrieve_method: *retrieve,
                move_destination: move_destination.clone(),
                query_retrieve: !no_query,
                send_target: !no_send,
                timeout_seconds: *timeout,
                preferred: *preferred,
                tls,
                ..base
            };
            let shown = match &node.dicomweb {
                Some(web) => web.url.clone(),
                None => node.address().to_string(),
            };
            nodes.add(node)?;
            println!("added {name} ({shown})");
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
                    let (address, retrieve) = match &n.dicomweb {
                        Some(web) => (web.url.clone(), "WADO-RS"),
                        None if n.tls.is_some() => (format!("{} (TLS)", n.address()), retrieve),
                        None => (n.address().to_string(), retrieve),
                    };
                    println!(
                        "{:<16} {:<32} {:<10} {:<6} {:<6} {:<16}",
                        n.name,
                        address,
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
            echo_node(&node)?;
        }
    }
    Ok(())
}
