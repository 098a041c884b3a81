//! What the storage listener receives. Each association that stores something is recorded as
//! an activity (a `receive` job, see [`kinds::receive`](super::kinds::receive)); an association
//! that brings what one of our C-MOVEs asked for is listed under that retrieval. A series that
//! received instances gets a thumbnail job under the activity once it has been quiet for a
//! moment (a series arriving instance by instance would otherwise be rendered again and again).

use super::kinds::receive::{OnNewInstance, Reception};
use super::kinds::thumbnail::THUMBNAIL_SIZE;
use super::{Engine, JobFilter, JobId, JobKind, JobSpec, JobState, NewJob, Priority, Subject};
use crate::nodes::{Nodes, RetrieveMethod};
use crate::store::Store;
use lightbox_net::dimse::observer::{AssociationObserver, AssociationWatch, Peer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a series must receive nothing before its thumbnail is made.
const QUIET: Duration = Duration::from_secs(2);
const TICK: Duration = Duration::from_millis(250);

/// The storage listener's observer: a [`Reception`] for each association.
pub struct ReceivedActivities {
    engine: Arc<Engine>,
    store: Arc<Store>,
    nodes: Nodes,
    on_new_instance: OnNewInstance,
}

impl ReceivedActivities {
    /// Starts the thumbnail follow-up thread; returns the observer to give the storage
    /// listener, and the thread (it ends once `stop` is set, after queuing what it still holds).
    pub fn start(
        engine: Arc<Engine>,
        store: Arc<Store>,
        nodes: Nodes,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<(Arc<ReceivedActivities>, JoinHandle<()>)> {
        let arrivals: Arc<Mutex<Vec<(String, JobId)>>> = Arc::default();
        let on_new_instance: OnNewInstance = {
            let arrivals = arrivals.clone();
            Arc::new(move |series_uid: &str, activity: JobId| {
                arrivals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((series_uid.to_string(), activity));
            })
        };
        let thread = {
            let (engine, store) = (engine.clone(), store.clone());
            std::thread::Builder::new()
                .name("received-series".into())
                .spawn(move || thumbnails_when_quiet(&engine, &store, &arrivals, &stop))?
        };
        let observer = ReceivedActivities {
            engine,
            store,
            nodes,
            on_new_instance,
        };
        Ok((Arc::new(observer), thread))
    }

    /// The known node of that AE title, and our running C-MOVE from it whose instances this
    /// association may bring (the newest, when several run).
    fn node_and_retrieval(&self, calling_ae_title: &str) -> (Option<String>, Option<JobId>) {
        let nodes = self.nodes.list().unwrap_or_default();
        let Some(node) = nodes
            .iter()
            .find(|n| n.dicomweb.is_none() && n.ae_title.trim() == calling_ae_title)
        else {
            return (None, None);
        };
        if node.retrieve_method != RetrieveMethod::CMove {
            return (Some(node.name.clone()), None);
        }
        let filter = JobFilter {
            states: vec![JobState::Running],
            kind: Some(JobKind::Retrieve),
            node: Some(node.name.clone()),
            limit: Some(1),
            ..JobFilter::default()
        };
        let retrieval = match self.engine.list(&filter) {
            Ok((jobs, _)) => jobs.first().map(|j| j.parent.unwrap_or(j.id)),
            Err(e) => {
                tracing::warn!(error = %e, "reading running retrievals failed");
                None
            }
        };
        (Some(node.name.clone()), retrieval)
    }
}

impl AssociationObserver for ReceivedActivities {
    fn established(&self, peer: &Peer) -> Box<dyn AssociationWatch> {
        let (node, parent) = self.node_and_retrieval(peer.calling_ae_title.trim());
        Box::new(Reception::new(
            self.engine.clone(),
            self.store.clone(),
            peer,
            node,
            parent,
            self.on_new_instance.clone(),
        ))
    }
}

/// Queues a thumbnail for each series that received instances and then nothing for
/// [`QUIET`], under the activity that brought its last instance.
fn thumbnails_when_quiet(
    engine: &Engine,
    store: &Store,
    arrivals: &Mutex<Vec<(String, JobId)>>,
    stop: &AtomicBool,
) {
    let mut last_arrival: HashMap<String, (Instant, JobId)> = HashMap::new();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let new = std::mem::take(&mut *arrivals.lock().unwrap_or_else(|e| e.into_inner()));
        let now = Instant::now();
        for (series_uid, activity) in new {
            last_arrival.insert(series_uid, (now, activity));
        }
        let quiet: Vec<(String, JobId)> = last_arrival
            .iter()
            .filter(|(_, (at, _))| stopping || now.duration_since(*at) >= QUIET)
            .map(|(series, (_, activity))| (series.clone(), *activity))
            .collect();
        for (series_uid, activity) in quiet {
            last_arrival.remove(&series_uid);
            let spec = JobSpec::Thumbnail {
                series_uid,
                size: THUMBNAIL_SIZE,
            };
            let title = spec.title_about(&Subject::local(store.index().as_ref(), &spec));
            let job = NewJob::new(spec)
                .titled(title)
                .priority(Priority::Low)
                .under(activity);
            if let Err(e) = engine.submit(job) {
                tracing::warn!(error = %e, "queuing a thumbnail failed");
            }
        }
        if stopping {
            return;
        }
        std::thread::sleep(TICK);
    }
}
