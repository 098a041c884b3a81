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

pub fn serve(
    data_dir: &Path,
    store: Arc<Store>,
    address: &str,
    config: scp::ScpConfig,
    jobs: EngineConfig,
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
    let listener = scp::StorageScp::bind(address, store, config.clone())
        .with_context(|| format!("listening on {address}"))?
        .on_stored(on_stored);
    eprintln!(
        "storage listener {} on {}, job engine running (data in {})",
        config.ae_title,
        listener.local_addr()?,
        data_dir.display()
    );
    let served = listener.serve(shutdown.clone());
    shutdown.store(true, Ordering::SeqCst);
    let _ = follow_ups.join();
    // Running jobs are interrupted and resume at the next start.
    engine.shutdown();
    served?;
    std::fs::write(&clean_marker, b"")?;
    eprintln!("stopped");
    Ok(())
}
