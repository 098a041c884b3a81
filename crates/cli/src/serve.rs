//! `lightbox serve`: the storage listener and Q/R SCP, and the job engine that runs every long
//! operation of this data directory, until SIGINT or SIGTERM.

use anyhow::{Context, Result};
use lightbox_core::import;
use lightbox_core::jobs::engine::EngineError;
use lightbox_core::jobs::received::{FollowUps, ReceivedActivities};
use lightbox_core::jobs::runner::{LocalRunner, MoveListener};
use lightbox_core::jobs::{Engine, EngineConfig};
use lightbox_core::nodes::Nodes;
use lightbox_core::routes::Routes;
use lightbox_core::scp;
use lightbox_core::store::Store;
use lightbox_net::dimse::server::{DimseServer, ServerConfig};
use lightbox_net::tls::ServerTls;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where the HTTP server (UI, API, DICOMweb) listens, and the credentials it requires.
pub struct HttpOptions {
    pub address: String,
    pub credentials: Option<lightbox_server::Credentials>,
    /// Names the server answers to besides loopback and its address (`--http-host`).
    pub host_names: Vec<String>,
    /// Origins whose pages may use the DICOMweb server (`--cors-origin`).
    pub cors_origins: lightbox_server::cors::CorsOrigins,
    pub limits: lightbox_server::HttpLimits,
    pub open_browser: bool,
    /// Import a generated sample into an empty store.
    pub demo: bool,
}

/// The job engine's settings, and what follows what the storage listener receives.
pub struct JobOptions {
    pub engine: EngineConfig,
    pub follow_ups: FollowUps,
}

/// `--tls-cert`/`--tls-key`: the identity both the HTTPS server and the DICOM TLS listener
/// present, and where the latter listens.
pub struct TlsOptions {
    pub identity: ServerTls,
    pub dimse_address: String,
}

pub fn serve(
    data_dir: &Path,
    store: Arc<Store>,
    address: &str,
    config: ServerConfig,
    jobs: JobOptions,
    http: HttpOptions,
    tls: Option<TlsOptions>,
) -> Result<()> {
    // Certificates are read once, before anything starts: a wrong path is said at once. The
    // DIMSE listener takes the same identity without HTTP's ALPN protocol.
    let (https, dimse_tls) = match &tls {
        Some(tls) => {
            let https = tls.identity.config(&[b"http/1.1"])?;
            let mut dimse = (*https).clone();
            dimse.alpn_protocols.clear();
            (Some(https), Some(Arc::new(dimse)))
        }
        None => (None, None),
    };
    // A clean stop leaves this marker; without it the last run crashed (or this is the first),
    // and the index catches up with the files before anything is accepted.
    let clean_marker = data_dir.join(".clean-shutdown");
    // Scratch folders of processes that are gone (a CLI killed mid-import, say).
    store.remove_abandoned_scratch()?;
    if std::fs::remove_file(&clean_marker).is_err() {
        let recovered = import::reconcile(&store)?;
        if recovered.indexed + recovered.scratch_removed > 0 || !recovered.unreadable.is_empty() {
            eprintln!(
                "recovered after an unclean stop: indexed {} file(s), removed {} abandoned temporary file(s), {} unreadable",
                recovered.indexed,
                recovered.scratch_removed,
                recovered.unreadable.len()
            );
        }
    }
    if store.shared_lists().is_some() {
        // A node that kept its own lists before it joined the cluster brings them in now, if
        // the cluster has none yet; reading them is what adopts them.
        if let Err(e) = Nodes::of_store(&store).list() {
            tracing::warn!(error = %e, "the cluster's remote nodes");
        }
        if let Err(e) = Routes::of_store(&store).list() {
            tracing::warn!(error = %e, "the cluster's routing rules");
        }
    }
    let runner = LocalRunner::new(
        store.clone(),
        Nodes::of_store(&store),
        MoveListener::Running,
    );
    let queue = store.job_queue()?;
    let engine = match Engine::start_on(data_dir, queue, Arc::new(runner), jobs.engine) {
        Ok(engine) => Arc::new(engine),
        Err(EngineError::AlreadyRunning) => anyhow::bail!(
            "another `lightbox serve` already runs on {}",
            data_dir.display()
        ),
        Err(e) => return Err(e.into()),
    };
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, shutdown.clone())?;
    }
    let (received, follow_ups) = ReceivedActivities::start(
        engine.clone(),
        store.clone(),
        Nodes::of_store(&store),
        shutdown.clone(),
        jobs.follow_ups,
    )?;
    let http_address: std::net::SocketAddr = http
        .address
        .parse()
        .with_context(|| format!("HTTP address {}", http.address))?;
    let credentials = match http.credentials {
        Some(given) => Some(given),
        None if !http_address.ip().is_loopback() => Some(generated_credentials(data_dir)?),
        None => None,
    };
    lightbox_server::check_bind(&http_address, credentials.as_ref()).map_err(anyhow::Error::msg)?;
    let services = scp::services(store.clone(), Some(received))?;
    let listener = DimseServer::bind(address, config.clone(), services.clone())
        .with_context(|| format!("listening on {address}"))?;
    let dimse_address = listener.local_addr()?;
    let secure_listener = match (&tls, dimse_tls) {
        (Some(tls), Some(dimse_tls)) => {
            let address = &tls.dimse_address;
            let secure_config = ServerConfig {
                tls: Some(dimse_tls),
                ..config.clone()
            };
            let listener = DimseServer::bind(address, secure_config, services)
                .with_context(|| format!("listening on {address} (DICOM TLS)"))?;
            Some(listener)
        }
        _ => None,
    };
    let runtime = lightbox_server::runtime()?;
    let http_listener = runtime
        .block_on(tokio::net::TcpListener::bind(http_address))
        .with_context(|| format!("listening on {http_address} (HTTP)"))?;
    let http_local = http_listener.local_addr()?;
    let scheme = if https.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{http_local}");
    let (stop_streams, stopping) = tokio::sync::watch::channel(false);
    let router = lightbox_server::router(lightbox_server::ServerConfig {
        stopping,
        store: store.clone(),
        nodes: Nodes::of_store(&store),
        engine: Some(engine.clone()),
        credentials,
        address: http_local,
        host_names: http.host_names.clone(),
        https: https.is_some(),
        cors_origins: http.cors_origins.clone(),
        listener: Some(lightbox_server::ListenerStatus {
            ae_title: config.ae_title.clone(),
            address: dimse_address.to_string(),
        }),
    })?;
    let http_thread = {
        let stop = shutdown.clone();
        let limits = http.limits.clone();
        std::thread::spawn(move || {
            runtime.block_on(lightbox_server::serve(
                http_listener,
                router,
                limits,
                https,
                async move {
                    while !stop.load(Ordering::SeqCst) {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    // Open pages' event streams end, so the graceful shutdown can finish.
                    let _ = stop_streams.send(true);
                },
            ))
        })
    };
    eprintln!(
        "storage listener {} on {dimse_address}, job engine running (data in {})",
        config.ae_title,
        data_dir.display()
    );
    let secure_thread = match secure_listener {
        Some(listener) => {
            eprintln!(
                "DICOM TLS listener {} on {}",
                config.ae_title,
                listener.local_addr()?
            );
            let stop = shutdown.clone();
            Some(std::thread::spawn(move || listener.serve(stop)))
        }
        None => None,
    };
    eprintln!("DICOMweb on {url}/dicom-web");
    if http.demo {
        queue_demo_data(data_dir, &store, &engine)?;
    }
    // The line scripts and tests wait for.
    eprintln!("Lightbox is ready at {url}/");
    if http.open_browser {
        open_in_browser(&url);
    }
    let served = listener.serve(shutdown.clone());
    shutdown.store(true, Ordering::SeqCst);
    let secure_served = secure_thread.map(|thread| thread.join());
    let _ = follow_ups.join();
    if let Ok(Err(e)) = http_thread.join() {
        eprintln!("HTTP server: {e}");
    }
    // Running jobs are interrupted and resume at the next start.
    engine.shutdown();
    served?;
    match secure_served {
        Some(Ok(served)) => served.context("DICOM TLS listener")?,
        Some(Err(_)) => anyhow::bail!("the DICOM TLS listener panicked"),
        None => {}
    }
    std::fs::write(&clean_marker, b"")?;
    eprintln!("stopped");
    Ok(())
}

/// Credentials for a non-loopback bind given none: made once, kept in the data directory (only
/// its owner may read them) and printed, so the user can sign in.
fn generated_credentials(data_dir: &Path) -> Result<lightbox_server::Credentials> {
    let path = data_dir.join("http-credentials");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(_) => {
            let mut random = [0u8; 18];
            std::io::Read::read_exact(
                &mut std::fs::File::open("/dev/urandom").context("reading /dev/urandom")?,
                &mut random,
            )?;
            use base64::Engine as _;
            let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
            let text = format!("lightbox:{password}");
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            std::io::Write::write_all(&mut options.open(&path)?, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            text
        }
    };
    let credentials: lightbox_server::Credentials =
        text.trim().parse().map_err(anyhow::Error::msg)?;
    eprintln!(
        "HTTP credentials (kept in {}): user {} password {}",
        path.display(),
        credentials.user,
        credentials.password
    );
    Ok(credentials)
}

/// `--demo` on an empty store: a small generated data set, indexed in place by an import job.
fn queue_demo_data(data_dir: &Path, store: &Store, engine: &Engine) -> Result<()> {
    if store.index().stats()?.studies > 0 {
        return Ok(());
    }
    let folder = data_dir.join("demo-data");
    let spec = lightbox_synth::SynthSpec {
        patients: 6,
        studies_per_patient: 2,
        series_per_study: 3,
        instances_per_series: 16,
        rows: 256,
        columns: 256,
        ..lightbox_synth::SynthSpec::default()
    };
    lightbox_synth::generate(&spec, &folder)
        .with_context(|| format!("writing {}", folder.display()))?;
    engine.submit(lightbox_core::jobs::NewJob::new(
        lightbox_core::jobs::JobSpec::Import {
            paths: vec![folder],
            link: true,
        },
    ))?;
    eprintln!("demo: importing a generated sample data set");
    Ok(())
}

/// Best effort: a machine without a desktop simply has the URL printed.
fn open_in_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
