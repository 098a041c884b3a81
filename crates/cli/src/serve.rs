//! `lightbox serve`: the storage listener and Q/R SCP, and the job engine that runs every long
//! operation of this data directory, until SIGINT or SIGTERM.

use anyhow::{Context, Result};
use lightbox_core::dimse::scp;
use lightbox_core::import;
use lightbox_core::jobs::engine::EngineError;
use lightbox_core::jobs::received::thumbnails_of_received_series;
use lightbox_core::jobs::runner::{LocalRunner, MoveListener};
use lightbox_core::jobs::{Engine, EngineConfig};
use lightbox_core::nodes::Nodes;
use lightbox_core::store::Store;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where the HTTP server (DICOMweb) listens, and the credentials it requires.
pub struct HttpOptions {
    pub address: String,
    pub credentials: Option<lightbox_server::Credentials>,
}

pub fn serve(
    data_dir: &Path,
    store: Arc<Store>,
    address: &str,
    config: scp::ScpConfig,
    jobs: EngineConfig,
    http: HttpOptions,
) -> Result<()> {
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
    let runner = LocalRunner {
        store: store.clone(),
        nodes: Nodes::new(data_dir),
        move_listener: MoveListener::Running,
    };
    let engine = match Engine::start(data_dir, Arc::new(runner), jobs) {
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
    let (on_stored, follow_ups) = thumbnails_of_received_series(engine.clone(), shutdown.clone())?;
    let http_address: std::net::SocketAddr = http
        .address
        .parse()
        .with_context(|| format!("HTTP address {}", http.address))?;
    lightbox_server::check_bind(&http_address, http.credentials.as_ref())
        .map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let http_listener = runtime
        .block_on(tokio::net::TcpListener::bind(http_address))
        .with_context(|| format!("listening on {http_address} (HTTP)"))?;
    let http_local = http_listener.local_addr()?;
    let router = lightbox_server::router(
        store.clone(),
        http.credentials,
        &format!("http://{http_local}"),
    )?;
    let http_thread = {
        let stop = shutdown.clone();
        std::thread::spawn(move || {
            runtime.block_on(lightbox_server::serve(http_listener, router, async move {
                while !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }))
        })
    };
    let listener = scp::StorageScp::bind(address, store, config.clone())
        .with_context(|| format!("listening on {address}"))?
        .on_stored(on_stored);
    eprintln!(
        "storage listener {} on {}, job engine running (data in {})",
        config.ae_title,
        listener.local_addr()?,
        data_dir.display()
    );
    eprintln!("DICOMweb on http://{http_local}/dicom-web");
    let served = listener.serve(shutdown.clone());
    shutdown.store(true, Ordering::SeqCst);
    let _ = follow_ups.join();
    if let Ok(Err(e)) = http_thread.join() {
        eprintln!("HTTP server: {e}");
    }
    // Running jobs are interrupted and resume at the next start.
    engine.shutdown();
    served?;
    std::fs::write(&clean_marker, b"")?;
    eprintln!("stopped");
    Ok(())
}
