//! Server-sent events: the job engine's events as they happen, and the store's totals when they
//! change (read every second by one task for every page), so the page never polls.

use crate::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use lightbox_core::index::IndexStats;
use lightbox_core::jobs::JobEvent;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

const STORE_CHECK: Duration = Duration::from_secs(1);
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The store's totals as one task per node reads them, once a second while a page listens,
/// rather than each open page asking the index itself: PostgreSQL keeps them (0.2 ms a
/// reading), but SQLite counts them from its series (51 ms at a million instances).
#[derive(Default)]
pub(crate) struct StoreTotals {
    latest: OnceLock<watch::Receiver<Option<IndexStats>>>,
}

impl StoreTotals {
    /// The totals as they change; the task reading them starts with the first page.
    fn subscribe(&self, state: &AppState) -> watch::Receiver<Option<IndexStats>> {
        self.latest
            .get_or_init(|| {
                let (sender, receiver) = watch::channel(None);
                tokio::spawn(read_totals(
                    state.store.clone(),
                    state.stopping.clone(),
                    sender,
                ));
                receiver
            })
            .clone()
    }
}

/// Reads the index's totals each second while a page listens (the receiver kept in
/// [`StoreTotals`] is not one), until the server stops.
async fn read_totals(
    store: std::sync::Arc<lightbox_core::store::Store>,
    mut stopping: watch::Receiver<bool>,
    sender: watch::Sender<Option<IndexStats>>,
) {
    let mut ticker = tokio::time::interval(STORE_CHECK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            stopped = stopping.changed() => if stopped.is_err() { return },
        }
        if *stopping.borrow() {
            return;
        }
        if sender.receiver_count() <= 1 {
            continue;
        }
        let store = store.clone();
        let read = tokio::task::spawn_blocking(move || store.index().stats()).await;
        match read {
            Ok(Ok(stats)) => {
                sender.send_if_modified(|latest| {
                    let changed = latest.as_ref() != Some(&stats);
                    *latest = Some(stats);
                    changed
                });
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "store totals: cannot read the index"),
            Err(e) => tracing::warn!(error = %e, "store totals: the reading task failed"),
        }
    }
}

struct Feed {
    jobs: Option<broadcast::Receiver<JobEvent>>,
    totals: Option<watch::Receiver<Option<IndexStats>>>,
    /// The totals last read when the stream opened, then the last sent: only changes are sent.
    seen: Option<IndexStats>,
    stopping: watch::Receiver<bool>,
}

pub async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut totals = state.store_totals.subscribe(&state);
    let seen = totals.borrow_and_update().clone();
    let feed = Feed {
        stopping: state.stopping.clone(),
        jobs: state.engine.as_ref().map(|e| e.subscribe()),
        totals: Some(totals),
        seen,
    };
    let events = stream::unfold(feed, |mut feed| async move {
        loop {
            if *feed.stopping.borrow() {
                return None;
            }
            let (jobs, totals) = (&mut feed.jobs, &mut feed.totals);
            let next = tokio::select! {
                received = async { jobs.as_mut().expect("enabled").recv().await }, if jobs.is_some() => Next::Job(received),
                changed = async { totals.as_mut().expect("enabled").changed().await }, if totals.is_some() => Next::Totals(changed.is_ok()),
                _ = feed.stopping.changed() => Next::Stop,
            };
            match next {
                // The server stops (or its stop signal is gone): the stream ends.
                Next::Stop => return None,
                Next::Job(Ok(event)) => {
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    return Some((Ok(Event::default().event("job").data(data)), feed));
                }
                // Too slow a reader missed events: the page reloads its job list.
                Next::Job(Err(RecvError::Lagged(_))) => {
                    return Some((Ok(Event::default().event("resync").data("{}")), feed));
                }
                Next::Job(Err(RecvError::Closed)) => feed.jobs = None,
                Next::Totals(false) => feed.totals = None,
                Next::Totals(true) => {
                    let latest = feed
                        .totals
                        .as_mut()
                        .and_then(|t| t.borrow_and_update().clone());
                    let Some(stats) = latest else { continue };
                    // The first totals read after the page opened are its baseline.
                    let first = feed.seen.is_none();
                    if feed.seen.as_ref() != Some(&stats) {
                        feed.seen = Some(stats.clone());
                        if !first {
                            let data = serde_json::to_string(&stats).unwrap_or_default();
                            return Some((Ok(Event::default().event("store").data(data)), feed));
                        }
                    }
                }
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

enum Next {
    Job(Result<JobEvent, RecvError>),
    /// The totals changed (false: their task has ended).
    Totals(bool),
    Stop,
}
