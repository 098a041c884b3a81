//! Follow-ups of data received over the network: a series that received instances gets a
//! thumbnail job once it has been quiet for a moment (a series arriving instance by instance
//! would otherwise be rendered again and again).

use super::kinds::thumbnail::THUMBNAIL_SIZE;
use super::{Engine, JobSpec, NewJob, Priority};
use crate::scp::OnStored;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a series must receive nothing before its thumbnail is made.
const QUIET: Duration = Duration::from_secs(2);
const TICK: Duration = Duration::from_millis(250);

/// Starts the follow-up thread; returns the hook to give the storage listener, and the thread
/// (it ends once `stop` is set, after queuing what it still holds).
pub fn thumbnails_of_received_series(
    engine: Arc<Engine>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<(OnStored, JoinHandle<()>)> {
    let arrivals: Arc<Mutex<Vec<String>>> = Arc::default();
    let hook: OnStored = {
        let arrivals = arrivals.clone();
        Arc::new(move |series_uid: &str| {
            arrivals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(series_uid.to_string());
        })
    };
    let thread = std::thread::Builder::new()
        .name("received-series".into())
        .spawn(move || {
            let mut last_arrival: HashMap<String, Instant> = HashMap::new();
            loop {
                let stopping = stop.load(Ordering::SeqCst);
                let new = std::mem::take(&mut *arrivals.lock().unwrap_or_else(|e| e.into_inner()));
                let now = Instant::now();
                for series_uid in new {
                    last_arrival.insert(series_uid, now);
                }
                let quiet: Vec<String> = last_arrival
                    .iter()
                    .filter(|(_, at)| stopping || now.duration_since(**at) >= QUIET)
                    .map(|(series, _)| series.clone())
                    .collect();
                for series_uid in quiet {
                    last_arrival.remove(&series_uid);
                    let job = NewJob::new(JobSpec::Thumbnail {
                        series_uid,
                        size: THUMBNAIL_SIZE,
                    })
                    .priority(Priority::Low);
                    if let Err(e) = engine.submit(job) {
                        tracing::warn!(error = %e, "queuing a thumbnail failed");
                    }
                }
                if stopping {
                    return;
                }
                std::thread::sleep(TICK);
            }
        })?;
    Ok((hook, thread))
}
