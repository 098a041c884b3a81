//! Jobs through `lightbox serve`: CLI verbs queued on the running server, and a server killed
//! with SIGKILL in the middle of five series retrievals from Orthanc, then restarted.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::{lightbox, ok_json};

use lightbox_core::jobs::{JobFilter, JobKind, JobState};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `lightbox serve` on a free loopback port; killed when dropped.
struct Server {
    child: Child,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let port = support::free_port();
        let child = common::lightbox_command(data_dir)
            .args(["serve", "--port", &port.to_string(), "--http-port", "0"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        support::wait_for_port(port);
        Server { child }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn generate(output: &Path, series: u32, instances: u32, size: u32) {
    let out = lightbox(
        output,
        &[
            "generate",
            output.to_str().unwrap(),
            "--patients",
            "1",
            "--studies",
            "1",
            "--series",
            &series.to_string(),
            "--instances",
            &instances.to_string(),
            "--rows",
            &size.to_string(),
            "--columns",
            &size.to_string(),
            "--modality",
            "CT",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn dicom_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "dcm"))
        .map(|e| e.into_path())
        .collect()
}

fn files_under(dir: &Path) -> usize {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count()
}

#[test]
fn verbs_queue_through_a_running_server_and_run_in_process_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, data) = (dir.path().join("sample"), dir.path().join("data"));
    generate(&sample, 2, 3, 32);
    let server = Server::start(&data);

    let out = lightbox(&data, &["import", "--json", sample.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("queued on the running server"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["imported"], 6);
    assert_eq!(ok_json(&data, &["stats", "--json"])["instances"], 6);

    let jobs = ok_json(&data, &["jobs", "--json"]);
    assert_eq!(jobs["total"], 1);
    let job = &jobs["jobs"][0];
    assert_eq!(job["kind"], "import");
    assert_eq!(job["state"], "completed");
    assert_eq!(job["progress"]["items_done"], 6);
    let id = job["id"].as_i64().unwrap().to_string();
    let shown = ok_json(&data, &["jobs", "show", &id, "--json"]);
    assert_eq!(shown["job"]["output"]["imported"], 6);
    // A finished job cannot be canceled; the message says why.
    let cancel = lightbox(&data, &["jobs", "cancel", &id]);
    assert!(!cancel.status.success());
    assert!(String::from_utf8_lossy(&cancel.stderr).contains("already completed"));

    // A failure is reported with its category, and kept in the history with its reason.
    let gone = lightbox(&data, &["rm", "--series", "1.2.3.4.5"]);
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("nothing in the store matches"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
    let failed = ok_json(&data, &["jobs", "--json", "--state", "failed"]);
    assert_eq!(failed["jobs"][0]["kind"], "delete");
    assert_eq!(failed["jobs"][0]["error"]["category"], "input");

    assert!(server.terminate().success());
    // Without a server, verbs run in this process (and leave no job behind).
    let out = lightbox(&data, &["import", "--json", sample.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("queued"));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["duplicates"], 6);
    assert_eq!(ok_json(&data, &["jobs", "--json"])["total"], 2);
    let cleared = lightbox(&data, &["jobs", "clear"]);
    assert!(String::from_utf8_lossy(&cleared.stdout).contains("removed 2 finished job(s)"));
}

#[test]
fn kill_9_during_five_series_retrievals_then_restart_completes_them_without_duplicates() {
    let Some(orthanc) = support::start_orthanc() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (sample, data) = (dir.path().join("sample"), dir.path().join("data"));
    generate(&sample, 5, 80, 256);
    let files = dicom_files(&sample);
    assert_eq!(files.len(), 400);
    let options = lightbox_net::dimse::ScuOptions::default();
    let sent =
        lightbox_net::dimse::c_store::send_files(&orthanc.address, &options, &files, &mut |_| {})
            .unwrap();
    assert_eq!(sent.sent, 400);
    let remote = ok_json(
        &data,
        &[
            "find",
            &orthanc.address.to_string(),
            "--level",
            "series",
            "--json",
        ],
    );
    let study = remote[0]["StudyInstanceUID"].as_str().unwrap().to_string();
    let series: Vec<String> = remote
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["SeriesInstanceUID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(series.len(), 5);
    assert!(lightbox(
        &data,
        &["nodes", "add", "orthanc", &orthanc.address.to_string()]
    )
    .status
    .success());

    let server = Server::start(&data);
    let followers: Vec<Child> = series
        .iter()
        .map(|uid| {
            common::lightbox_command(&data)
                .args([
                    "retrieve", "orthanc", "--study", &study, "--series", uid, "--json",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Kill the server once the retrievals are well under way.
    let store = common::open_store(&data);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = store.index().stats().unwrap().instances;
        if stored >= 60 {
            assert!(stored < 400, "the retrievals ended before the kill");
            break;
        }
        assert!(Instant::now() < deadline, "the retrievals did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill_9();
    let stored_at_kill = store.index().stats().unwrap().instances;
    // The CLI followers notice the server is gone and say the job will resume.
    for follower in followers {
        let out = follower.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains("resumes when `lightbox serve` runs again"),
            "{stderr}"
        );
    }
    // The server's queue: beside its index (SQLite or PostgreSQL).
    let queue = store.job_queue().unwrap();
    let (jobs, total) = queue.list(&JobFilter::default()).unwrap();
    assert_eq!(total, 5, "five retrieve jobs: {jobs:?}");
    let interrupted = jobs.iter().filter(|j| j.state == JobState::Running).count();
    assert!(interrupted >= 1, "{jobs:?}");

    let server = Server::start(&data);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (jobs, _) = queue
            .list(&JobFilter {
                kind: Some(JobKind::Retrieve),
                ..JobFilter::default()
            })
            .unwrap();
        if jobs.iter().all(|j| j.state == JobState::Completed) {
            // Resumed jobs fetched only what was missing.
            let resumed = jobs
                .iter()
                .filter(|j| {
                    queue
                        .log(j.id)
                        .unwrap()
                        .iter()
                        .any(|l| l.message.contains("already stored; retrieving the rest"))
                })
                .count();
            assert!(resumed >= 1, "no job resumed a partial series");
            let fetched_after: u64 = jobs
                .iter()
                .map(|j| j.output.as_ref().unwrap()["stored"].as_u64().unwrap())
                .sum();
            assert!(
                fetched_after <= 400 - stored_at_kill,
                "{fetched_after} fetched after the restart, {stored_at_kill} were already stored"
            );
            break;
        }
        assert!(
            jobs.iter()
                .all(|j| !matches!(j.state, JobState::Failed | JobState::Canceled)),
            "{jobs:?}"
        );
        assert!(
            Instant::now() < deadline,
            "the retrievals did not finish: {jobs:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Every instance once, every file indexed, no partial file left.
    assert_eq!(store.index().stats().unwrap().instances, 400);
    assert_eq!(files_under(&data.join("files")), 400);
    // (tmp/ holds the live stores' scratch folders and their lock files; nothing inside them.)
    let partial = walkdir::WalkDir::new(data.join("tmp"))
        .min_depth(2)
        .into_iter()
        .flatten()
        .count();
    assert_eq!(partial, 0, "partial files left in tmp/");
    assert!(server.terminate().success());
}
