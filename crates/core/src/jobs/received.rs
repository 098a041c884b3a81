//! What the storage listener receives. Each association that stores something is recorded as
//! an activity (a `receive` job, see [`kinds::receive`](super::kinds::receive)); an association
//! that brings what one of our C-MOVEs asked for is listed under that retrieval. A series that
//! received instances gets a thumbnail job under the activity once it has been quiet for a
//! moment (a series arriving instance by instance would otherwise be rendered again and again),
//! and once a series or a study has been stable for the stable age, the routing rules
//! ([`crate::routes`]) queue sends of it, under the same activity.

use super::kinds::receive::{NewInstance, OnNewInstance, Reception};
use super::kinds::thumbnail::THUMBNAIL_SIZE;
use super::{
    AnonymizeDestination, DeleteTarget, Engine, JobFilter, JobId, JobKind, JobSpec, JobState,
    NewJob, Priority, Subject,
};
use crate::nodes::{Nodes, RetrieveMethod};
use crate::routes::{Arrival, Route, RouteLevel, Routes};
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

/// Settings of what follows a reception.
#[derive(Clone, Copy, Debug)]
pub struct FollowUps {
    /// How long a series (or a study) must receive nothing before routing rules see it.
    pub stable_age: Duration,
}

impl Default for FollowUps {
    fn default() -> FollowUps {
        FollowUps {
            stable_age: DEFAULT_STABLE_AGE,
        }
    }
}

/// Orthanc's `StableAge`: a minute without a new instance.
pub const DEFAULT_STABLE_AGE: Duration = Duration::from_secs(60);

impl ReceivedActivities {
    /// Starts the follow-up thread (thumbnails, routing); returns the observer to give the
    /// storage listener, and the thread (it ends once `stop` is set, after queuing the
    /// thumbnails it still owes; routing waits for stability, which a stop is not).
    pub fn start(
        engine: Arc<Engine>,
        store: Arc<Store>,
        nodes: Nodes,
        stop: Arc<AtomicBool>,
        settings: FollowUps,
    ) -> std::io::Result<(Arc<ReceivedActivities>, JoinHandle<()>)> {
        let arrivals: Arc<Mutex<Vec<NewInstance>>> = Arc::default();
        let on_new_instance: OnNewInstance = {
            let arrivals = arrivals.clone();
            Arc::new(move |new: NewInstance| {
                arrivals.lock().unwrap_or_else(|e| e.into_inner()).push(new);
            })
        };
        let thread = {
            let follow_ups = FollowUpThread {
                engine: engine.clone(),
                store: store.clone(),
                routes: Routes::of_store(&store),
                nodes: Nodes::of_store(&store),
                stable_age: settings.stable_age,
            };
            std::thread::Builder::new()
                .name("received-series".into())
                .spawn(move || follow_ups.run(&arrivals, &stop))?
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

/// A series waiting to become stable for the routing rules.
struct Unrouted {
    last: Instant,
    activity: JobId,
    calling_ae_title: String,
    node: Option<String>,
    study_uid: Option<String>,
}

struct FollowUpThread {
    engine: Arc<Engine>,
    store: Arc<Store>,
    routes: Routes,
    nodes: Nodes,
    stable_age: Duration,
}

impl FollowUpThread {
    /// Queues a thumbnail for each series that received instances and then nothing for
    /// [`QUIET`], and runs the routing rules on series and studies once they are stable, each
    /// job under the activity that brought the last instance.
    fn run(&self, arrivals: &Mutex<Vec<NewInstance>>, stop: &AtomicBool) {
        let mut unthumbnailed: HashMap<String, (Instant, JobId)> = HashMap::new();
        let mut unrouted: HashMap<String, Unrouted> = HashMap::new();
        // Studies whose series were all routed, waiting for the study to be stable as a whole.
        let mut studies: HashMap<String, Unrouted> = HashMap::new();
        loop {
            let stopping = stop.load(Ordering::SeqCst);
            let new = std::mem::take(&mut *arrivals.lock().unwrap_or_else(|e| e.into_inner()));
            let now = Instant::now();
            for heard in new {
                unthumbnailed.insert(heard.series_uid.clone(), (now, heard.activity));
                // The latest instance decides who sent it; the study, once known, stays.
                let study_uid = unrouted.remove(&heard.series_uid).and_then(|u| u.study_uid);
                unrouted.insert(
                    heard.series_uid,
                    Unrouted {
                        last: now,
                        activity: heard.activity,
                        calling_ae_title: heard.calling_ae_title,
                        node: heard.node,
                        study_uid,
                    },
                );
            }
            let quiet: Vec<(String, JobId)> = unthumbnailed
                .iter()
                .filter(|(_, (at, _))| stopping || now.duration_since(*at) >= QUIET)
                .map(|(series, (_, activity))| (series.clone(), *activity))
                .collect();
            for (series_uid, activity) in quiet {
                unthumbnailed.remove(&series_uid);
                self.thumbnail(series_uid, activity);
            }
            if stopping {
                return;
            }
            self.route_stable(now, &mut unrouted, &mut studies);
            std::thread::sleep(TICK);
        }
    }

    fn thumbnail(&self, series_uid: String, activity: JobId) {
        let spec = JobSpec::Thumbnail {
            series_uid,
            size: THUMBNAIL_SIZE,
        };
        let title = spec.title_about(&Subject::local(self.store.index().as_ref(), &spec));
        let job = NewJob::new(spec)
            .titled(title)
            .priority(Priority::Low)
            .under(activity);
        if let Err(e) = self.engine.submit(job) {
            tracing::warn!(error = %e, "queuing a thumbnail failed");
        }
    }

    /// Series stable for the stable age meet the series rules and wait for their study; a
    /// study none of whose series is still arriving meets the study rules.
    fn route_stable(
        &self,
        now: Instant,
        unrouted: &mut HashMap<String, Unrouted>,
        studies: &mut HashMap<String, Unrouted>,
    ) {
        if unrouted.is_empty() && studies.is_empty() {
            return;
        }
        let index = self.store.index();
        for (series_uid, u) in unrouted.iter_mut() {
            if u.study_uid.is_none() {
                u.study_uid = index.series(series_uid).ok().flatten().map(|s| s.study_uid);
            }
        }
        let stable: Vec<String> = unrouted
            .iter()
            .filter(|(_, u)| now.duration_since(u.last) >= self.stable_age)
            .map(|(series, _)| series.clone())
            .collect();
        // The rules are read only when something may meet them.
        if stable.is_empty() && studies.is_empty() {
            return;
        }
        let routes = self.routes.list().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading the routing rules failed");
            Vec::new()
        });
        for series_uid in stable {
            let Some(u) = unrouted.remove(&series_uid) else {
                continue;
            };
            self.apply(&routes, RouteLevel::Series, &series_uid, &u);
            if let Some(study_uid) = u.study_uid.clone() {
                studies.entry(study_uid).or_insert(u);
            }
        }
        let arriving: Vec<&str> = unrouted
            .values()
            .filter_map(|u| u.study_uid.as_deref())
            .collect();
        let ready: Vec<String> = studies
            .keys()
            .filter(|study| !arriving.contains(&study.as_str()))
            .cloned()
            .collect();
        for study_uid in ready {
            if let Some(u) = studies.remove(&study_uid) {
                self.apply(&routes, RouteLevel::Study, &study_uid, &u);
            }
        }
    }

    /// Queues a send for each rule of `level` the series (or study) matches.
    fn apply(&self, routes: &[Route], level: RouteLevel, uid: &str, u: &Unrouted) {
        let index = self.store.index();
        let rules: Vec<&Route> = routes.iter().filter(|r| r.level == level).collect();
        if rules.is_empty() {
            return;
        }
        let Some(study) = u
            .study_uid
            .as_deref()
            .and_then(|s| index.study(s).ok().flatten())
        else {
            return;
        };
        let all_series = index.series_of_study(&study.study_uid).unwrap_or_default();
        let series = match level {
            RouteLevel::Series => all_series.iter().find(|s| s.series_uid == uid),
            RouteLevel::Study => all_series.first(),
        };
        let Some(series) = series else {
            return;
        };
        let modalities: Vec<String> = all_series
            .iter()
            .filter_map(|s| s.modality.clone())
            .collect();
        let arrival = Arrival {
            series,
            study: &study,
            study_modalities: &modalities,
            calling_ae_title: &u.calling_ae_title,
            node: u.node.as_deref(),
        };
        for rule in rules.into_iter().filter(|r| r.matches(&arrival)) {
            let destination = self.nodes.resolve(&rule.to).ok();
            if rule.loops_back(&arrival, destination.as_ref().map(|n| n.ae_title.as_str())) {
                tracing::info!(route = %rule.name, "not routed back to where it came from");
                continue;
            }
            let target = match level {
                RouteLevel::Series => DeleteTarget::Series(uid.to_string()),
                RouteLevel::Study => DeleteTarget::Study(uid.to_string()),
            };
            let spec = match (&rule.deidentify, level) {
                (Some(options), _) => JobSpec::Anonymize {
                    target,
                    options: options.clone(),
                    destination: AnonymizeDestination::Node(rule.to.clone()),
                    project_key: None,
                    pseudonyms: None,
                    pseudonym_rows: Vec::new(),
                    safe_private: None,
                    blank: Vec::new(),
                },
                (None, RouteLevel::Series) => JobSpec::Send {
                    node: rule.to.clone(),
                    study_uid: None,
                    series_uid: Some(uid.to_string()),
                    paths: Vec::new(),
                    association: Default::default(),
                },
                (None, RouteLevel::Study) => JobSpec::Send {
                    node: rule.to.clone(),
                    study_uid: Some(uid.to_string()),
                    series_uid: None,
                    paths: Vec::new(),
                    association: Default::default(),
                },
            };
            let title = format!(
                "{} (route {})",
                spec.title_about(&Subject::local(index.as_ref(), &spec)),
                rule.name
            );
            let job = NewJob::new(spec).titled(title).under(u.activity);
            if let Err(e) = self.engine.submit(job) {
                tracing::warn!(route = %rule.name, error = %e, "queuing a routed send failed");
            }
        }
    }
}
