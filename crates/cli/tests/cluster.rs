//! Two `lightbox serve` nodes sharing one PostgreSQL index and one S3 bucket (SeaweedFS), both
//! started by the test on loopback: what `dcmsend` stores through node A, node B lists over
//! QIDO-RS and the API and serves over WADO with the same bytes; what STOW-RS stores through B,
//! A lists; a thumbnail either renders is the other's; neither keeps managed files of its own.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::serve::Serve;
use lightbox_synth::SynthSpec;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn node(data: &Path, index: &str, s3: &support::seaweedfs::SeaweedFs) -> Serve {
    let command = common::cluster_command(data, index, &s3.url("cluster"), s3.env());
    Serve::spawn(command, &[])
}

fn generated(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("generated");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 2,
            studies_per_patient: 2,
            series_per_study: 2,
            instances_per_series: 3,
            rows: 32,
            columns: 32,
            seed: 5,
            ..SynthSpec::default()
        },
        &out,
    )
    .unwrap();
    out
}

/// The content of the first part of a `multipart/related` body.
fn first_part(body: &[u8]) -> &[u8] {
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let start = find(body, b"\r\n\r\n", 0).expect("part headers") + 4;
    let end = find(body, b"\r\n--", start).expect("closing boundary");
    &body[start..end]
}

/// The content of the only part of a `multipart/related` body, whatever bytes it holds.
fn only_part(body: &[u8]) -> &[u8] {
    let start = body
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("part headers")
        + 4;
    let end = body
        .windows(4)
        .rposition(|w| w == b"\r\n--")
        .expect("closing boundary");
    &body[start..end]
}

fn get_bytes(url: &str) -> Vec<u8> {
    let mut response = common::http().get(url).call().unwrap();
    assert_eq!(response.status().as_u16(), 200, "GET {url}");
    response.body_mut().read_to_vec().unwrap()
}

/// Polls `url` (a JSON array) until it has `n` entries: the storage listener indexes in
/// batches, moments after it acknowledges.
fn wait_for_entries(url: &str, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = common::get_json(url);
        if listed.as_array().map(Vec::len) == Some(n) || Instant::now() > deadline {
            return listed;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The server process and its backends.
fn postgres_processes(server: u32) -> Vec<u32> {
    let children = std::process::Command::new("pgrep")
        .args(["-P", &server.to_string()])
        .output()
        .unwrap();
    let mut pids: Vec<u32> = String::from_utf8_lossy(&children.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    pids.push(server);
    pids
}

fn signal(pids: &[u32], signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(signal)
        .args(pids.iter().map(u32::to_string))
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pids:?}");
}

fn managed_files(data: &Path) -> usize {
    walkdir::WalkDir::new(data.join("files"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count()
}

#[test]
fn two_nodes_on_one_index_and_one_bucket_serve_what_either_stores() {
    let Some(dcmsend) = support::peer_tool("dcmsend") else {
        return;
    };
    let Some((postgres, s3)) = support::start_cluster_servers() else {
        return;
    };
    let Some(samples) = support::pydicom_data() else {
        return;
    };
    let index = postgres.database();
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let a = node(&data_a, &index, &s3);
    let b = node(&data_b, &index, &s3);

    // DIMSE into A.
    let (host, port) = a
        .dimse_address()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .unwrap();
    support::dcmsend(&dcmsend, &host, &port, &generated(dir.path()));
    let studies = wait_for_entries(&format!("{}/dicom-web/studies", b.url), 4);
    assert_eq!(studies.as_array().unwrap().len(), 4, "{studies}");
    let status = common::get_json(&format!("{}/api/status", b.url));
    assert_eq!(status["store"]["instances"], 24, "{status}");

    // Every instance B serves over WADO-URI is byte for byte what A serves.
    let mut compared = 0;
    for study in studies.as_array().unwrap() {
        let study_uid = study["0020000D"]["Value"][0].as_str().unwrap();
        let instances = common::get_json(&format!(
            "{}/dicom-web/studies/{study_uid}/instances",
            b.url
        ));
        for instance in instances.as_array().unwrap() {
            let series_uid = instance["0020000E"]["Value"][0].as_str().unwrap();
            let sop_uid = instance["00080018"]["Value"][0].as_str().unwrap();
            let wado = |base: &str| {
                get_bytes(&format!(
                    "{base}/wado?requestType=WADO&studyUID={study_uid}&seriesUID={series_uid}\
                     &objectUID={sop_uid}&contentType=application/dicom"
                ))
            };
            if compared == 0 {
                // A frame over WADO-RS, before B has fetched the instance: read by ranges from the
                // bucket.
                let frame = |base: &str| {
                    let body = get_bytes(&format!(
                        "{base}/dicom-web/studies/{study_uid}/series/{series_uid}\
                         /instances/{sop_uid}/frames/1"
                    ));
                    first_part(&body).to_vec()
                };
                let from_b = frame(&b.url);
                assert_eq!(from_b.len(), 32 * 32 * 2);
                assert_eq!(from_b, frame(&a.url));
            }
            let from_b = wado(&b.url);
            assert_eq!(&from_b[128..132], b"DICM");
            assert_eq!(from_b, wado(&a.url), "instance {sop_uid}");
            compared += 1;
        }
    }
    assert_eq!(compared, 24);

    // A thumbnail B renders is the one A then answers.
    let series = common::get_json(&format!("{}/api/studies?limit=10", a.url));
    let study_uid = series["studies"][0]["StudyInstanceUID"].as_str().unwrap();
    let series_list = common::get_json(&format!("{}/dicom-web/studies/{study_uid}/series", a.url));
    let series_uid = series_list[0]["0020000E"]["Value"][0].as_str().unwrap();
    let thumbnail =
        |base: &str| get_bytes(&format!("{base}/api/series/{series_uid}/thumbnail?size=64"));
    let from_b = thumbnail(&b.url);
    assert_eq!(&from_b[1..4], b"PNG");
    assert_eq!(thumbnail(&a.url), from_b);

    // STOW-RS into B; A lists it at once.
    let sample = std::fs::read(samples.join("test_files/CT_small.dcm")).unwrap();
    let mut body = b"--b\r\nContent-Type: application/dicom\r\n\r\n".to_vec();
    body.extend_from_slice(&sample);
    body.extend_from_slice(b"\r\n--b--\r\n");
    let stored = common::http()
        .post(format!("{}/dicom-web/studies", b.url))
        .header(
            "Content-Type",
            "multipart/related; type=\"application/dicom\"; boundary=b",
        )
        .header("Accept", "application/dicom+json")
        .send(&body[..])
        .unwrap();
    assert_eq!(stored.status().as_u16(), 200);
    let studies = wait_for_entries(&format!("{}/dicom-web/studies", a.url), 5);
    assert_eq!(studies.as_array().unwrap().len(), 5, "{studies}");

    // Metadata and bulk data that B serves of a large instance it has no copy of come from
    // ranged reads of the object: the same bytes A serves, and nothing fetched whole.
    let large = dir.path().join("large");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 10,
            rows: 256,
            columns: 256,
            modality: Some("CT".into()),
            enhanced: true,
            seed: 6,
            ..SynthSpec::default()
        },
        &large,
    )
    .unwrap();
    support::dcmsend(&dcmsend, &host, &port, &large);
    wait_for_entries(&format!("{}/dicom-web/studies", b.url), 6);
    let file = walkdir::WalkDir::new(&large)
        .into_iter()
        .flatten()
        .find(|e| e.file_type().is_file())
        .unwrap();
    let header = lightbox_dicom::read_file(file.path(), lightbox_dicom::ReadMode::Header).unwrap();
    let uid = |tag| header.dataset.text(tag).unwrap();
    let instance_url = |base: &str| {
        format!(
            "{base}/dicom-web/studies/{}/series/{}/instances/{}",
            uid(lightbox_dicom::tag::STUDY_INSTANCE_UID),
            uid(lightbox_dicom::tag::SERIES_INSTANCE_UID),
            uid(lightbox_dicom::tag::SOP_INSTANCE_UID)
        )
    };
    let metadata = common::get_json(&format!("{}/metadata", instance_url(&b.url)));
    let pixels_uri = metadata[0]["7FE00010"]["BulkDataURI"].as_str().unwrap();
    assert!(pixels_uri.ends_with("/bulk/7FE00010"), "{pixels_uri}");
    let bulk = |base: &str| get_bytes(&format!("{}/bulk/7FE00010", instance_url(base)));
    let from_b = bulk(&b.url);
    assert_eq!(only_part(&from_b).len(), 10 * 256 * 256 * 2);
    assert_eq!(only_part(&from_b), only_part(&bulk(&a.url)));
    let cached =
        data_b
            .join("cache/objects")
            .join(lightbox_core::store::Store::managed_relative_path(&uid(
                lightbox_dicom::tag::SOP_INSTANCE_UID,
            )));
    assert!(!cached.exists(), "B fetched the whole object");
    // A's cached copy is where B's would be: the check above looks in the right place.
    assert!(data_a
        .join("cache/objects")
        .join(lightbox_core::store::Store::managed_relative_path(&uid(
            lightbox_dicom::tag::SOP_INSTANCE_UID
        )))
        .is_file());

    assert_eq!(managed_files(&data_a), 0);
    assert_eq!(managed_files(&data_b), 0);
    drop((a, b));
}

/// Twelve associations, six into each node, store 10,000 instances; node A is killed with
/// SIGKILL part way, while the database is paused (SIGSTOP), so that whatever A answered
/// before its index entry was committed would be lost. Every instance either node
/// acknowledged is indexed once and readable through B, and every indexed instance has its
/// object; objects A uploaded but never indexed are then swept away by `lightbox sweep`.
#[test]
fn a_node_killed_mid_ingest_loses_no_acknowledged_instance() {
    let Some((postgres, s3)) = support::start_cluster_servers() else {
        return;
    };
    let Some(python) = support::python() else {
        return;
    };
    let index = postgres.database();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 10,
            studies_per_patient: 2,
            series_per_study: 5,
            instances_per_series: 100,
            rows: 8,
            columns: 8,
            seed: 9,
            ..SynthSpec::default()
        },
        &source,
    )
    .unwrap();
    let files: Vec<String> = walkdir::WalkDir::new(&source)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().display().to_string())
        .collect();
    assert_eq!(files.len(), 10_000);
    let list = dir.path().join("files.txt");
    std::fs::write(&list, files.join("\n")).unwrap();

    let mut a = node(&dir.path().join("a"), &index, &s3);
    let b = node(&dir.path().join("b"), &index, &s3);
    let acked = dir.path().join("acked.txt");
    let sender = std::process::Command::new(&python)
        .arg(support::workspace_root().join("crates/core/tests/support/store_scu.py"))
        .arg(&acked)
        .arg(format!("{},{}", a.dimse_address(), b.dimse_address()))
        .arg("6")
        .arg(&list)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once a fifth is acknowledged: the database paused for a second, A killed, the database
    // resumed.
    let acked_count = || std::fs::read_to_string(&acked).map_or(0, |t| t.lines().count());
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked_count() < 2_000 {
        assert!(Instant::now() < deadline, "the sender never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    let database = postgres_processes(postgres.pid());
    signal(&database, "-STOP");
    std::thread::sleep(Duration::from_secs(1));
    let during_pause = acked_count();
    signal(&[a.pid()], "-KILL");
    signal(&database, "-CONT");
    let sent = sender.wait_with_output().unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let summary: Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert!(!a.is_running());
    let acked: std::collections::BTreeSet<String> = std::fs::read_to_string(&acked)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        acked.len() > 2_000 && acked.len() < 10_000,
        "A died part way: {summary}, {} acknowledged",
        acked.len()
    );
    assert!(
        summary["failed_associations"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    eprintln!(
        "acknowledged: {} before the kill, {} in all",
        during_pause,
        acked.len()
    );

    // What B's cluster holds, read in-process through the same index and bucket.
    let reader = lightbox_core::store::Store::open_with(
        &dir.path().join("reader"),
        &lightbox_core::index::IndexLocation::Postgres(index.clone()),
        &s3.location("cluster"),
    )
    .unwrap();
    let stats = reader.index().stats().unwrap();
    let keys: std::collections::BTreeSet<String> = s3.keys("cluster/files/").into_iter().collect();
    for uid in &acked {
        let instance = reader
            .index()
            .instance(uid)
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged instance {uid} is not indexed"));
        assert!(
            keys.contains(&format!("cluster/{}", instance.file_path)),
            "{uid}"
        );
        let magic = reader.read_range(&instance.file_path, 128..132).unwrap();
        assert_eq!(magic, b"DICM", "{uid}");
    }
    // Every row has its object; rows are unique by SOP Instance UID, so the count is of
    // distinct instances.
    let mut rows = 0u64;
    let studies = reader
        .index()
        .search_studies(&lightbox_core::index::StudyQuery {
            limit: Some(1000),
            ..Default::default()
        })
        .unwrap();
    for study in &studies.studies {
        for series in reader.index().series_of_study(&study.study_uid).unwrap() {
            for instance in reader
                .index()
                .instances_of_series(&series.series_uid)
                .unwrap()
            {
                assert!(keys.contains(&format!("cluster/{}", instance.file_path)));
                rows += 1;
            }
        }
    }
    assert_eq!(rows, stats.instances);
    assert!(rows >= acked.len() as u64);
    // B still answers, and lists what was acknowledged through A before it died.
    let listed = common::get_json(&format!("{}/api/status", b.url));
    assert_eq!(listed["store"]["instances"], rows, "{listed}");

    // What A uploaded and never indexed, `lightbox sweep` finds and deletes (B is idle: no
    // upload is about to be indexed, so no grace period is needed); the bucket then holds
    // exactly the indexed instances.
    let sweep = common::cluster_command(
        &dir.path().join("sweeper"),
        &index,
        &s3.url("cluster"),
        s3.env(),
    )
    .args(["sweep", "--older-than", "0", "--json"])
    .output()
    .unwrap();
    assert!(
        sweep.status.success(),
        "{}",
        String::from_utf8_lossy(&sweep.stderr)
    );
    let report: Value = serde_json::from_slice(&sweep.stdout).unwrap();
    let orphans = keys.len() as u64 - rows;
    assert_eq!(report["objects"], keys.len() as u64, "{report}");
    assert_eq!(report["indexed"], rows, "{report}");
    assert_eq!(report["orphans"], orphans, "{report}");
    assert_eq!(report["deleted"], orphans, "{report}");
    assert_eq!(report["missing"], 0, "{report}");
    eprintln!("orphans swept after the kill: {orphans}");
    let left = s3.keys("cluster/files/").len() as u64;
    assert_eq!(left, rows);
    drop(b);
}

fn post(url: &str, body: Value) -> Value {
    let mut response = common::http()
        .post(url)
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"))
}

/// Orthanc holding one series of 300 CT-sized instances, reached through a link of
/// `bytes_per_second`: the link, and the node address (`AET@host:port`) to give Lightbox.
fn slow_orthanc(
    orthanc: &support::Orthanc,
    dir: &Path,
    bytes_per_second: u64,
) -> (support::link::SlowLink, String) {
    let source = dir.join("source");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 300,
            rows: 256,
            columns: 256,
            seed: 11,
            ..SynthSpec::default()
        },
        &source,
    )
    .unwrap();
    let files: Vec<std::path::PathBuf> = walkdir::WalkDir::new(&source)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    let options = lightbox_net::dimse::ScuOptions::default();
    let sent =
        lightbox_net::dimse::c_store::send_files(&orthanc.address, &options, &files, &mut |_| {})
            .unwrap();
    assert_eq!(sent.sent, 300);
    let link = support::link::SlowLink::to(orthanc.address.port, bytes_per_second);
    let remote = format!("{}@127.0.0.1:{}", orthanc.address.ae_title, link.port);
    (link, remote)
}

/// Makes `remote` the cluster's node `orthanc`, through the node of data directory `data`.
fn add_orthanc(data: &Path, index: &str, s3: &support::seaweedfs::SeaweedFs, remote: &str) {
    cluster_cli(data, index, s3, &["nodes", "add", "orthanc", remote]);
}

/// A cluster node named `name` (a lease of 3 s).
fn retrieving_node(
    data: &Path,
    name: &str,
    index: &str,
    s3: &support::seaweedfs::SeaweedFs,
) -> Serve {
    let mut env = s3.env();
    env.push(("LIGHTBOX_NODE_NAME", name.to_string()));
    env.push(("LIGHTBOX_JOB_LEASE_SECONDS", "3".to_string()));
    Serve::spawn(
        common::cluster_command(data, index, &s3.url("cluster"), env),
        &[],
    )
}

/// The study Orthanc holds, found through `node`.
fn remote_study(node: &Serve) -> String {
    post(
        &format!("{}/api/remote/studies", node.url),
        serde_json::json!({ "node": "orthanc", "filters": {} }),
    )["studies"][0]["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Queues the retrieval of `study` on `node`: its job.
fn submit_retrieval(node: &Serve, study: &str) -> i64 {
    post(
        &format!("{}/api/jobs", node.url),
        serde_json::json!({ "spec": { "kind": "retrieve", "node": "orthanc", "study_uid": study } }),
    )["id"]
        .as_i64()
        .unwrap()
}

/// A retrieval from Orthanc (over a slow link, so that it takes a while) runs on node A; B's
/// event stream shows its progress live; A is killed with `kill -9` part way; once A's lease
/// runs out B takes the job over and fetches only what is missing: every instance once, in
/// the index and in the bucket.
#[test]
fn a_retrieval_cut_by_kill_9_finishes_on_the_other_node() {
    let Some((postgres, s3)) = support::start_cluster_servers() else {
        return;
    };
    let Some(orthanc) = support::start_orthanc() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // About 40 MB at 4 MB/s: some ten seconds of retrieval.
    let (link, remote) = slow_orthanc(&orthanc, dir.path(), 4_000_000);
    let index = postgres.database();
    add_orthanc(&dir.path().join("node-a"), &index, &s3, &remote);
    let start = |name: &str| retrieving_node(&dir.path().join(name), name, &index, &s3);
    let mut a = start("node-a");
    let b = start("node-b");
    let study = remote_study(&a);

    // B's event stream, as its jobs page reads it.
    let heard_on_b = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    {
        let (url, heard) = (format!("{}/api/events", b.url), heard_on_b.clone());
        std::thread::spawn(move || {
            let mut response = common::http().get(&url).call().unwrap();
            let reader = std::io::BufReader::new(response.body_mut().as_reader());
            for line in std::io::BufRead::lines(reader) {
                let Ok(line) = line else { break };
                if let Some(event) = line.strip_prefix("data:") {
                    if let Ok(event) = serde_json::from_str(event.trim()) {
                        heard.lock().unwrap().push(event);
                    }
                }
            }
        });
    }
    let job = submit_retrieval(&a, &study);
    let job_on = |serve: &Serve| common::get_json(&format!("{}/api/jobs/{job}", serve.url));
    let stored = |serve: &Serve| {
        common::get_json(&format!("{}/api/status", serve.url))["store"]["instances"]
            .as_u64()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored(&b) < 40 {
        assert!(Instant::now() < deadline, "the retrieval never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before_kill = job_on(&b);
    assert_eq!(before_kill["state"], "running", "{before_kill}");
    assert_eq!(before_kill["claimed_by"], "node-a", "{before_kill}");
    // B's page saw A's job move.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !heard_on_b.lock().unwrap().iter().any(|e| {
        e["event"] == "progress" && e["id"] == job && e["progress"]["items_done"].as_u64() > Some(0)
    }) {
        assert!(
            Instant::now() < deadline,
            "B's events never showed A's progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&[a.pid()], "-KILL");
    let killed = Instant::now();
    let at_kill = stored(&b);
    assert!(at_kill < 300, "the retrieval ended before the kill");
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.is_running() {
        assert!(Instant::now() < deadline, "node A outlived kill -9");
        std::thread::sleep(Duration::from_millis(10));
    }

    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let record = job_on(&b);
        if record["state"] == "completed" {
            break record;
        }
        assert!(
            record["state"] == "running" || record["state"] == "queued",
            "{record}"
        );
        assert!(Instant::now() < deadline, "not finished on B: {record}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        killed.elapsed() >= Duration::from_secs(1),
        "taken over before the lease ran out"
    );
    assert_eq!(done["claimed_by"], "node-b", "{done}");
    let log: Vec<&str> = done["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert!(
        log.contains(&"interrupted (node node-a stopped); queued again"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("already stored; retrieving the rest")),
        "B fetched only what was missing: {log:?}"
    );
    assert!(
        done["output"]["stored"].as_u64().unwrap() <= 300 - at_kill,
        "{done}"
    );
    // Every instance once: in the index, and as one object each in the bucket.
    assert_eq!(stored(&b), 300);
    assert_eq!(s3.keys("cluster/files/").len(), 300);
    drop(b);
    drop(link);
}

/// The jobs page of node B, in a real headless Chromium, follows a retrieval that node A runs
/// (its state, the node running it, its progress as it moves) and cancels it: A stops it.
#[test]
fn the_jobs_page_of_one_node_follows_and_cancels_a_job_running_on_another() {
    let Some(browser) = common::browser::Browser::start_or_skip() else {
        return;
    };
    let Some((postgres, s3)) = support::start_cluster_servers() else {
        return;
    };
    let Some(orthanc) = support::start_orthanc() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // About 40 MB at 1 MB/s: long enough to watch, and to cancel.
    let (link, remote) = slow_orthanc(&orthanc, dir.path(), 1_000_000);
    let index = postgres.database();
    add_orthanc(&dir.path().join("a"), &index, &s3, &remote);
    let a = retrieving_node(&dir.path().join("a"), "node-a", &index, &s3);
    let study = remote_study(&a);
    let job = submit_retrieval(&a, &study);
    // B starts once A runs the retrieval, so that only A can have claimed it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let record = common::get_json(&format!("{}/api/jobs/{job}", a.url));
        if record["state"] == "running" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the retrieval never ran: {record}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut env = s3.env();
    env.push(("LIGHTBOX_NODE_NAME", "node-b".to_string()));
    let b = Serve::spawn(
        common::cluster_command(&dir.path().join("b"), &index, &s3.url("cluster"), env),
        &[],
    );
    browser.goto(&format!("{}/#jobs", b.url));
    browser.wait_until("the jobs page", Duration::from_secs(10), || {
        browser.try_find("[data-testid=jobs-filter-text]").is_some()
    });
    let row = format!("[data-testid=job-row][data-job-id='{job}']");
    // Read in one script: the rows are drawn anew as events arrive.
    let text_of = |css: String| -> Option<String> {
        browser
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                &[Value::String(css)],
            )
            .as_str()
            .map(str::to_string)
    };
    let done_items = || -> Option<u64> {
        let text = text_of(row.clone())?;
        let before = text.split(" / 300 items").next()?;
        before
            .rsplit(|c: char| !c.is_ascii_digit() && c != ',')
            .next()?
            .replace(',', "")
            .parse()
            .ok()
    };
    browser.wait_until(
        "A's job, running, on B's page",
        Duration::from_secs(30),
        || {
            text_of(format!("{row} [data-testid=job-claimed-by]")).as_deref() == Some("on node-a")
                && text_of(format!("{row} [data-testid=job-state]")).as_deref() == Some("running")
        },
    );
    // Its progress moves on B's page, from A's events alone (nothing is reloaded).
    let mut first = None;
    browser.wait_until("progress from A", Duration::from_secs(30), || {
        match (first, done_items()) {
            (None, Some(n)) if n > 0 => {
                first = Some(n);
                false
            }
            (Some(f), Some(n)) => n > f,
            _ => false,
        }
    });
    browser.screenshot("cluster-jobs-page-follows-another-node");
    // Clicked from a script: progress redraws the row many times a second, and a WebDriver
    // click between finding the button and pressing it would find it gone.
    browser.execute(
        "document.querySelector(arguments[0]).click();",
        &[Value::String(format!("{row} [data-testid=job-cancel]"))],
    );
    browser.wait_until("the cancel, on B's page", Duration::from_secs(30), || {
        text_of(format!("{row} [data-testid=job-state]")).as_deref() == Some("canceled")
    });
    let on_a = common::get_json(&format!("{}/api/jobs/{job}", a.url));
    assert_eq!(on_a["state"], "canceled", "{on_a}");
    let stored = common::get_json(&format!("{}/api/status", a.url))["store"]["instances"]
        .as_u64()
        .unwrap();
    assert!(stored < 300, "canceled part way: {stored} stored");
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    drop((a, b, link));
}

/// `lightbox ARGS` as a node of the cluster: its data directory, the shared index and bucket.
/// What it printed.
fn cluster_cli(
    data: &Path,
    index: &str,
    s3: &support::seaweedfs::SeaweedFs,
    args: &[&str],
) -> Vec<u8> {
    let out = common::cluster_command(data, index, &s3.url("cluster"), s3.env())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect()
}

/// The remote nodes and the routing rules are the cluster's: a node that kept its own before
/// it joined brings them in; a rule added on B routes what A receives, to a node A brought;
/// a node removed on B is gone from A.
#[test]
fn remote_nodes_and_routing_rules_are_the_same_on_every_node() {
    let Some(dcmsend) = support::peer_tool("dcmsend") else {
        return;
    };
    let Some((postgres, s3)) = support::start_cluster_servers() else {
        return;
    };
    let Some(orthanc) = support::start_orthanc() else {
        return;
    };
    let index = postgres.database();
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));

    // A, on its own (its index and lists in its data directory), knows the PACS.
    let pacs = format!("ORTHANC@127.0.0.1:{}", orthanc.address.port);
    let standalone = std::process::Command::new(env!("CARGO_BIN_EXE_lightbox"))
        .arg("--data-dir")
        .arg(&data_a)
        .env_remove("LIGHTBOX_INDEX")
        .args(["nodes", "add", "pacs", &pacs])
        .output()
        .unwrap();
    assert!(standalone.status.success(), "{standalone:?}");
    assert!(data_a.join("nodes.json").is_file());

    let stable = ["--route-stable-seconds", "2"];
    let command = |data: &Path| common::cluster_command(data, &index, &s3.url("cluster"), s3.env());
    let a = Serve::spawn(command(&data_a), &stable);
    let b = Serve::spawn(command(&data_b), &stable);
    assert_eq!(
        names(&common::get_json(&format!("{}/api/nodes", b.url))),
        ["pacs"]
    );

    // A rule made through B; A lists it.
    cluster_cli(
        &data_b,
        &index,
        &s3,
        &[
            "routes",
            "add",
            "ct-to-pacs",
            "--to",
            "pacs",
            "--modality",
            "CT",
        ],
    );
    assert_eq!(
        names(&common::get_json(&format!("{}/api/routes", a.url))),
        ["ct-to-pacs"]
    );

    // What A receives is routed by it.
    let source = dir.path().join("ct");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 2,
            instances_per_series: 3,
            rows: 16,
            columns: 16,
            seed: 9,
            modality: Some("CT".into()),
            ..SynthSpec::default()
        },
        &source,
    )
    .unwrap();
    let dimse = a.dimse_address();
    let (host, port) = dimse.rsplit_once(':').unwrap();
    support::dcmsend(&dcmsend, host, port, &source);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let series = common::get_json(&format!("http://127.0.0.1:{}/series", orthanc.http_port));
        if series.as_array().unwrap().len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the CT series never reached Orthanc"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A node added on A and the PACS removed on B: both nodes list only the new one.
    let added = common::http()
        .put(format!("{}/api/nodes/archive", a.url))
        .header("content-type", "application/json")
        .send(
            serde_json::json!({ "name": "archive", "ae_title": "ARCHIVE", "host": "127.0.0.1", "port": 11112 })
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    assert!(added.status().is_success(), "{added:?}");
    let removed = common::http()
        .delete(format!("{}/api/nodes/pacs", b.url))
        .call()
        .unwrap();
    assert!(removed.status().is_success(), "{removed:?}");
    for node in [&a, &b] {
        assert_eq!(
            names(&common::get_json(&format!("{}/api/nodes", node.url))),
            ["archive"]
        );
    }
    drop((a, b));
}

/// Patient ID and Study Instance UID of every DICOM file under `dir` but the DICOMDIR.
fn identities(dir: &Path) -> std::collections::BTreeSet<(String, String)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.file_name() != "DICOMDIR")
        .map(|e| {
            let file = lightbox_dicom::read_file(e.path(), lightbox_dicom::ReadMode::Header)
                .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
            let text = |tag| file.dataset.text(tag).unwrap_or_default().to_string();
            (
                text(lightbox_dicom::tag::PATIENT_ID),
                text(lightbox_dicom::tag::STUDY_INSTANCE_UID),
            )
        })
        .collect()
}

/// De-identification gives the same answers on every node: the cluster keeps one project key
/// and one table of pseudonyms, so a study de-identified on A and again on B has the same new
/// UIDs, and a pseudonym given by hand on A is the one B uses.
#[test]
fn de_identification_on_either_node_gives_the_same_uids_and_pseudonyms() {
    let Some((postgres, s3)) = support::start_cluster_servers() else {
        return;
    };
    let index = postgres.database();
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let source = generated(dir.path());
    cluster_cli(&data_a, &index, &s3, &["import", source.to_str().unwrap()]);
    let studies: Value =
        serde_json::from_slice(&cluster_cli(&data_b, &index, &s3, &["studies", "--json"])).unwrap();
    let studies = studies["studies"].as_array().unwrap();
    let first = &studies[0];
    let second = studies
        .iter()
        .find(|s| s["PatientID"] != first["PatientID"])
        .expect("two patients");
    let uid = |study: &Value| study["StudyInstanceUID"].as_str().unwrap().to_string();

    // On A, the first patient gets a pseudonym by hand.
    let table = dir.path().join("pseudonyms.csv");
    std::fs::write(
        &table,
        format!(
            "{},SUBJ-001,Subject^One\n",
            first["PatientID"].as_str().unwrap()
        ),
    )
    .unwrap();
    let anonymize = |data: &Path, study: &Value, out: &str, extra: &[&str]| {
        let out = dir.path().join(out);
        let mut args = vec!["anonymize", "--study"];
        let study = uid(study);
        args.push(&study);
        args.extend(["--to", out.to_str().unwrap()]);
        args.extend(extra);
        cluster_cli(data, &index, &s3, &args);
        identities(&out)
    };
    let given_on_a = anonymize(
        &data_a,
        first,
        "a1",
        &["--pseudonyms", table.to_str().unwrap()],
    );
    let made_on_a = anonymize(&data_a, second, "a2", &[]);
    let given_on_b = anonymize(&data_b, first, "b1", &[]);
    let made_on_b = anonymize(&data_b, second, "b2", &[]);
    assert_eq!(given_on_a.len(), 1, "{given_on_a:?}");
    assert_eq!(given_on_a.iter().next().unwrap().0, "SUBJ-001");
    assert_eq!(given_on_b, given_on_a);
    assert_eq!(made_on_b, made_on_a);
    let (made_id, made_study) = made_on_a.iter().next().unwrap();
    assert!(made_id.starts_with("ANON"), "{made_id}");
    assert_ne!(made_study, &uid(second));
    // Neither node keeps a key of its own.
    for data in [&data_a, &data_b] {
        assert!(!lightbox_core::deid::project::default_key_path(data).exists());
    }
}
