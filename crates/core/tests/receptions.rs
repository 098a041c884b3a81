//! What the storage listener receives, as the jobs page shows it: one association that stores
//! something is one `receive` activity (calling AE, counts, series in words, refusals with their
//! reasons), the thumbnails of its series are its jobs, an association that stores nothing
//! leaves no record, and a record cut by a stop ends as failed at the next start.

mod support;

use lightbox_core::jobs::kinds::receive::ReceiveOutput;
use lightbox_core::jobs::received::{FollowUps, ReceivedActivities};
use lightbox_core::jobs::runner::{LocalRunner, MoveListener};
use lightbox_core::jobs::{
    Engine, EngineConfig, FailureCategory, JobFilter, JobKind, JobQueue, JobRecord, JobSpec,
    JobState, NewJob, ParentFilter, Priority,
};
use lightbox_core::nodes::Nodes;
use lightbox_core::store::Store;
use lightbox_net::dimse::server::ServerConfig;
use lightbox_net::dimse::{c_echo, c_store, AeAddress, ScuOptions};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A storage listener with its job engine, as `lightbox serve` runs them, on 127.0.0.1.
struct Node {
    engine: Arc<Engine>,
    address: AeAddress,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Node {
    fn start(dir: &Path) -> Node {
        let store = Arc::new(Store::open(dir).unwrap());
        let runner = LocalRunner::new(store.clone(), Nodes::new(dir), MoveListener::Running);
        let engine =
            Arc::new(Engine::start(dir, Arc::new(runner), EngineConfig::default()).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let (observer, follow_ups) = ReceivedActivities::start(
            engine.clone(),
            store.clone(),
            Nodes::new(dir),
            stop.clone(),
            FollowUps::default(),
        )
        .unwrap();
        let listener = lightbox_core::scp::listener(
            "127.0.0.1:0",
            store,
            ServerConfig::default(),
            Some(observer),
        )
        .unwrap();
        let port = listener.local_addr().unwrap().port();
        let flag = stop.clone();
        let serving = std::thread::spawn(move || listener.serve(flag).unwrap());
        Node {
            engine,
            address: AeAddress {
                ae_title: "LIGHTBOX".into(),
                host: "127.0.0.1".into(),
                port,
            },
            stop,
            threads: vec![serving, follow_ups],
        }
    }

    fn jobs(&self, filter: JobFilter) -> Vec<JobRecord> {
        self.engine.list(&filter).unwrap().0
    }

    fn receptions(&self) -> Vec<JobRecord> {
        self.jobs(JobFilter {
            kind: Some(JobKind::Receive),
            ..JobFilter::default()
        })
    }

    fn wait_for(&self, what: &str, mut done: impl FnMut(&Node) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.engine.shutdown();
    }
}

fn scu() -> ScuOptions {
    ScuOptions {
        calling_ae_title: "MODALITY".into(),
        timeout: Duration::from_secs(10),
        cancel: None,
        tls: None,
    }
}

#[test]
fn an_association_that_stores_is_one_activity_with_its_thumbnails_under_it() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());

    // An echo stores nothing: no record.
    c_echo::echo(&node.address, &scu()).unwrap();

    // Two instances of two studies, and two the store refuses (a codestream cut short, a file
    // cut in its middle), in one association.
    let files = dir.path().join("to-send");
    std::fs::create_dir_all(&files).unwrap();
    let short = files.join("short_jpeg.dcm");
    support::with_truncated_codestream(&data.join("test_files/SC_rgb_jpeg_dcmtk.dcm"), &short, 200);
    let cut = files.join("cut_rle.dcm");
    let rle = std::fs::read(data.join("test_files/MR_small_RLE.dcm")).unwrap();
    std::fs::write(&cut, &rle[..2707]).unwrap();
    let sent = c_store::send_files(
        &node.address,
        &scu(),
        &[
            data.join("test_files/CT_small.dcm"),
            short,
            data.join("test_files/MR_small.dcm"),
            cut,
        ],
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((sent.sent, sent.failed), (2, 2), "{sent:?}");

    node.wait_for("the association's record to end", |n| {
        n.receptions()
            .first()
            .is_some_and(|r| r.state.is_finished())
    });
    let receptions = node.receptions();
    assert_eq!(
        receptions.len(),
        1,
        "the echo left a record: {receptions:?}"
    );
    let record = &receptions[0];
    assert_eq!(record.state, JobState::Failed);
    let error = record.error.as_ref().unwrap();
    assert_eq!(error.category, FailureCategory::Partial, "{error:?}");
    assert!(
        error.message.starts_with("2 of 4 instances refused"),
        "{}",
        error.message
    );
    let JobSpec::Receive {
        calling_ae_title,
        peer,
        ..
    } = &record.spec
    else {
        panic!("{:?}", record.spec);
    };
    assert_eq!(
        (calling_ae_title.as_str(), peer.as_str()),
        ("MODALITY", "127.0.0.1")
    );
    assert_eq!(
        record.title,
        "received 2 instances of 2 studies from MODALITY at 127.0.0.1"
    );
    let output: ReceiveOutput = record.output_as().unwrap();
    assert_eq!(
        (output.stored, output.duplicates, output.refused),
        (2, 0, 2),
        "{output:?}"
    );
    assert_eq!(output.called_ae_title, "LIGHTBOX");
    assert_eq!(output.ended, "released");
    assert!(output.bytes > 0);
    assert_eq!(output.refusals.len(), 2);
    for refusal in &output.refusals {
        assert!(!refusal.sop_instance_uid.is_empty(), "{refusal:?}");
        assert!(!refusal.reason.is_empty(), "{refusal:?}");
    }
    // The series in words, from the index: CT_small's patient is CompressedSamples^CT1.
    assert_eq!(output.series.len(), 2, "{:?}", output.series);
    assert!(output.series.iter().all(|s| s.instances == 1));
    let ct = output
        .series
        .iter()
        .find(|s| {
            s.study
                .as_deref()
                .is_some_and(|w| w.contains("CompressedSamples, CT1"))
        })
        .unwrap_or_else(|| panic!("{:?}", output.series));
    assert!(ct.series.is_some(), "{ct:?}");

    // The series' thumbnails are the activity's jobs, not activities of their own.
    let id = record.id;
    node.wait_for("the thumbnails", |n| {
        let under = n.jobs(JobFilter {
            parent: ParentFilter::Of(id),
            ..JobFilter::default()
        });
        under.len() == 2 && under.iter().all(|j| j.state == JobState::Completed)
    });
    let thumbnails = node.jobs(JobFilter {
        parent: ParentFilter::Of(id),
        ..JobFilter::default()
    });
    assert!(thumbnails.iter().all(|j| j.kind == JobKind::Thumbnail));
    assert!(
        thumbnails
            .iter()
            .any(|j| j.title.contains("CompressedSamples, CT1")),
        "titles in words: {:?}",
        thumbnails.iter().map(|j| &j.title).collect::<Vec<_>>()
    );
    let top = node.jobs(JobFilter {
        parent: ParentFilter::TopLevel,
        ..JobFilter::default()
    });
    assert_eq!(top.iter().map(|j| j.id).collect::<Vec<_>>(), vec![id]);
    let counted = node.engine.get(id).unwrap().unwrap().children;
    assert_eq!((counted.total, counted.completed), (2, 2), "{counted:?}");

    // A record is not a job to run: no retry, cancel or priority.
    assert!(!node.engine.retry(id).unwrap());
    assert!(!node.engine.cancel(id).unwrap());
    assert!(!node.engine.set_priority(id, Priority::High).unwrap());

    // The same instances again: a second activity, of duplicates, with no new thumbnails.
    let again = c_store::send_files(
        &node.address,
        &scu(),
        &[data.join("test_files/CT_small.dcm")],
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(again.sent, 1);
    node.wait_for("the second record", |n| {
        let r = n.receptions();
        r.len() == 2 && r[0].state.is_finished()
    });
    let second = &node.receptions()[0];
    assert_eq!(second.state, JobState::Completed, "{:?}", second.error);
    let output: ReceiveOutput = second.output_as().unwrap();
    assert_eq!((output.stored, output.duplicates), (0, 1));
    assert!(
        second
            .title
            .starts_with("received 1 instance of CompressedSamples, CT1"),
        "{}",
        second.title
    );
    std::thread::sleep(Duration::from_millis(2600));
    assert!(second.children.is_empty());
    assert!(node
        .engine
        .get(second.id)
        .unwrap()
        .unwrap()
        .children
        .is_empty());
}

#[test]
fn a_record_cut_by_a_stop_ends_as_failed_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let queue = JobQueue::open(dir.path()).unwrap();
        let record = NewJob::new(JobSpec::Receive {
            calling_ae_title: "MODALITY".into(),
            peer: "127.0.0.1".into(),
            node: None,
            started_at: 0,
        });
        queue.open_activity(&record).unwrap()
    };
    let node = Node::start(dir.path());
    let record = node.engine.get(id).unwrap().unwrap();
    assert_eq!(record.state, JobState::Failed);
    assert_eq!(record.error.unwrap().category, FailureCategory::Network);
    // It is never run, even as a retry.
    assert!(!node.engine.retry(id).unwrap());
    assert_eq!(node.engine.get(id).unwrap().unwrap().attempts, 1);
}

#[test]
fn clearing_finished_jobs_keeps_an_activity_until_its_jobs_are_done_and_then_takes_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = JobQueue::open(dir.path()).unwrap();
    let activity = queue
        .open_activity(&NewJob::new(JobSpec::Receive {
            calling_ae_title: "MODALITY".into(),
            peer: "127.0.0.1".into(),
            node: None,
            started_at: 0,
        }))
        .unwrap();
    queue
        .finish(activity, JobState::Completed, None, None)
        .unwrap();
    let thumbnail = |series: &str| {
        NewJob::new(JobSpec::Thumbnail {
            series_uid: series.into(),
            size: 64,
        })
        .under(activity)
    };
    let done = queue.submit(&thumbnail("1.2.1"), 0).unwrap().id;
    let pending = queue.submit(&thumbnail("1.2.2"), 0).unwrap().id;
    queue.finish(done, JobState::Completed, None, None).unwrap();
    let unrelated = NewJob::new(JobSpec::Thumbnail {
        series_uid: "1.2.3".into(),
        size: 64,
    });
    let unrelated = queue.submit(&unrelated, 0).unwrap().id;

    // One of its jobs is pending: the activity and its pending job stay (the finished one may go).
    queue.clear_finished(None).unwrap();
    assert!(queue.get(activity).unwrap().is_some());
    assert!(queue.get(pending).unwrap().is_some());
    let counts = queue.get(activity).unwrap().unwrap().children;
    assert_eq!(counts.active, 1, "{counts:?}");

    // All done: the activity goes, and its jobs with it; other pending jobs stay.
    queue.finish(pending, JobState::Failed, None, None).unwrap();
    queue.clear_finished(None).unwrap();
    for id in [activity, done, pending] {
        assert!(queue.get(id).unwrap().is_none(), "job {id} left behind");
    }
    assert!(queue.get(unrelated).unwrap().is_some());
}
