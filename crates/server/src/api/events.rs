//! Server-sent events: the job engine's events as they happen, and the store's totals when they
//! change (checked every second), so the page never polls.

use crate::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use lightbox_core::index::IndexStats;
use lightbox_core::jobs::JobEvent;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

const STORE_CHECK: Duration = Duration::from_secs(1);
const KEEP_ALIVE: Duration = Duration::from_secs(15);

struct Feed {
    state: AppState,
    jobs: Option<broadcast::Receiver<JobEvent>>,
    ticker: tokio::time::Interval,
    last_store: Option<IndexStats>,
    stopping: tokio::sync::watch::Receiver<bool>,
}

pub async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut ticker = tokio::time::interval(STORE_CHECK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = Feed {
        stopping: state.stopping.clone(),
        jobs: state.engine.as_ref().map(|e| e.subscribe()),
        state,
        ticker,
        last_store: None,
    };
    let events = stream::unfold(feed, |mut feed| async move {
        loop {
            if *feed.stopping.borrow() {
                return None;
            }
            let next = match feed.jobs.as_mut() {
                Some(jobs) => tokio::select! {
                    received = jobs.recv() => Next::Job(received),
                    _ = feed.ticker.tick() => Next::Tick,
                    _ = feed.stopping.changed() => Next::Stop,
                },
                None => tokio::select! {
                    _ = feed.ticker.tick() => Next::Tick,
                    _ = feed.stopping.changed() => Next::Stop,
                },
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
                Next::Tick => {
                    let store = feed.state.store.clone();
                    let stats = tokio::task::spawn_blocking(move || store.index().stats())
                        .await
                        .ok()
                        .and_then(Result::ok);
                    if let Some(stats) = stats {
                        if feed.last_store.as_ref() != Some(&stats) {
                            let data = serde_json::to_string(&stats).unwrap_or_default();
                            let first = feed.last_store.is_none();
                            feed.last_store = Some(stats);
                            if !first {
                                return Some((
                                    Ok(Event::default().event("store").data(data)),
                                    feed,
                                ));
                            }
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
    Tick,
    Stop,
}
