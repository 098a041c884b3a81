//! Indexing off the storage listener's critical path. An instance received over the network is
//! answered once its file is in place in the store; its index entry follows in the background,
//! batched with whatever else arrived meanwhile (within a millisecond or so when the listener
//! is idle), and at the latest before the association's release is answered. After a crash,
//! [`super::reconcile`] indexes files that were placed but not yet indexed.
//!
//! With the files in an object store that is not so: the bucket is shared, the node may never
//! start again, and no other node could tell a placed-but-unindexed object from a stray one.
//! There an instance is answered only once its index entry is committed: the listener waits
//! for the batch that carries it, so concurrent associations still share each commit.

use super::{parse_and_place, ImportOptions, ImportProgress, Ingested, Input, Parsed, Skipped};
use crate::index::InsertOutcome;
use crate::model::InstanceRecord;
use crate::store::{ObjectLocation, Store};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const BATCH: usize = 512;

/// Whether the record's batch was committed.
type Committed = crossbeam_channel::Sender<Result<(), String>>;

enum Message {
    /// A record, and who waits for its batch's commit (when acknowledging waits on the index).
    Record(Box<InstanceRecord>, Option<Committed>),
    /// Answered once every record sent before it is committed.
    Flush(crossbeam_channel::Sender<()>),
}

pub struct BackgroundIndexer {
    store: Arc<Store>,
    tx: Mutex<Option<crossbeam_channel::Sender<Message>>>,
    /// SOP Instance UIDs placed but not yet committed: a second copy arriving meanwhile is a
    /// duplicate, as it would be once indexed.
    pending: Arc<Mutex<HashSet<String>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Answer only once indexed (the files are in an object store).
    answer_when_indexed: bool,
}

/// What became of an instance handed to [`BackgroundIndexer::ingest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub outcome: Ingested,
    /// The instance's series (for follow-ups such as thumbnails, and records of what arrived).
    pub series_uid: Option<String>,
}

impl BackgroundIndexer {
    pub fn start(store: Arc<Store>) -> std::io::Result<BackgroundIndexer> {
        let (tx, rx) = crossbeam_channel::unbounded::<Message>();
        let pending: Arc<Mutex<HashSet<String>>> = Arc::default();
        let thread = {
            let store = store.clone();
            let pending = pending.clone();
            std::thread::Builder::new()
                .name("background-index".into())
                .spawn(move || write_batches(&store, &rx, &pending))?
        };
        Ok(BackgroundIndexer {
            answer_when_indexed: store.object_location() != ObjectLocation::DataDir,
            store,
            tx: Mutex::new(Some(tx)),
            pending,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The ingest path of [`super::ingest`], answering once the file is in place.
    pub fn ingest(&self, tmp: tempfile::NamedTempFile, source: &str) -> Result<Placed, Skipped> {
        let input = Input::Unpacked {
            tmp,
            label: source.to_string(),
        };
        match parse_and_place(
            &self.store,
            input,
            &ImportOptions::default(),
            &self.pending,
            &ImportProgress::default(),
        ) {
            Parsed::Record(record) => {
                let series_uid = record.series_uid.clone();
                let uid = record.sop_instance_uid.clone();
                let (committed_tx, committed_rx) = crossbeam_channel::bounded(1);
                let committed = self.answer_when_indexed.then_some(committed_tx);
                let failed = |reason: String| Skipped {
                    path: source.to_string(),
                    reason,
                    store_failed: true,
                };
                if !self.send(Message::Record(record, committed)) {
                    self.pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&uid);
                    return Err(failed("the index writer has stopped".into()));
                }
                if self.answer_when_indexed {
                    match committed_rx.recv() {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(failed(format!("indexing failed: {e}"))),
                        Err(_) => return Err(failed("the index writer has stopped".into())),
                    }
                }
                Ok(Placed {
                    outcome: Ingested::Stored,
                    series_uid: Some(series_uid),
                })
            }
            Parsed::Duplicate { series_uid } => Ok(Placed {
                outcome: Ingested::Duplicate,
                series_uid: Some(series_uid),
            }),
            Parsed::Skipped(skipped) => Err(skipped),
        }
    }

    /// Waits until everything ingested so far is committed to the index.
    pub fn flush(&self) {
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        if self.send(Message::Flush(done_tx)) {
            let _ = done_rx.recv();
        }
    }

    fn send(&self, message: Message) -> bool {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        tx.as_ref().is_some_and(|tx| tx.send(message).is_ok())
    }
}

impl Drop for BackgroundIndexer {
    fn drop(&mut self) {
        // Closing the channel ends the writer once it has committed what it holds.
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

fn write_batches(
    store: &Store,
    rx: &crossbeam_channel::Receiver<Message>,
    pending: &Mutex<HashSet<String>>,
) {
    while let Ok(first) = rx.recv() {
        let mut records = Vec::new();
        let mut waiting: Vec<Committed> = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Record(record, committed) => {
                    records.push(*record);
                    waiting.extend(committed);
                }
                Message::Flush(done) => flushes.push(done),
            }
            if records.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !records.is_empty() {
            let result = store.index().insert_batch(&records);
            for committed in waiting {
                let _ = committed.send(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
            }
            match result {
                Ok(outcomes) => {
                    let duplicates = outcomes
                        .iter()
                        .filter(|o| matches!(o, InsertOutcome::Duplicate { .. }))
                        .count();
                    if duplicates > 0 {
                        tracing::info!(duplicates, "background index: instances already indexed");
                    }
                }
                // The files are in place: the next start-up after a crash, or a re-import,
                // indexes them. Say so rather than lose the information.
                Err(e) => tracing::error!(
                    instances = records.len(),
                    error = %e,
                    "background index: indexing placed instances failed"
                ),
            }
            let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
            for record in &records {
                pending.remove(&record.sop_instance_uid);
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
