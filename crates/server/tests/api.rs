//! The JSON API of the web UI over a real store and job engine, on 127.0.0.1:0: filters and
//! paging, the metadata tree, thumbnails, uploads, zip downloads, nodes, jobs, server-sent
//! events, and the refusals (oversized bodies, traversal, bad JSON, missing credentials).

mod common;

use common::Server;
use lightbox_core::import::{self, ImportOptions, ImportProgress};
use lightbox_core::store::Store;
use lightbox_synth::{self as synth, SynthSpec};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// The server with a job engine over the store in `data`.
fn start(data: &Path, credentials: Option<lightbox_server::Credentials>) -> Server {
    Server::with_engine(data, credentials)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status and body (JSON, or `null` when the body is not JSON).
fn get(url: &str) -> (u16, Value) {
    let mut response = agent().get(url).call().unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn get_bytes(url: &str) -> (u16, String, Vec<u8>) {
    let mut response = agent().get(url).call().unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap();
    (status, content_type, bytes)
}

fn send(method: &str, url: &str, body: Value) -> (u16, Value) {
    let agent = agent();
    let mut response = match method {
        "POST" => agent.post(url),
        "PUT" => agent.put(url),
        _ => unreachable!(),
    }
    .header("content-type", "application/json")
    .send(body.to_string().as_bytes())
    .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn upload(url: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    let mut response = agent()
        .post(format!("{url}/api/upload?name={name}"))
        .send(bytes)
        .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A small synthetic store: 3 patients × 2 studies × 2 series × 3 instances.
fn populated(dir: &Path) -> std::path::PathBuf {
    let source = dir.join("source");
    synth::generate(
        &SynthSpec {
            patients: 3,
            studies_per_patient: 2,
            series_per_study: 2,
            instances_per_series: 3,
            rows: 64,
            columns: 64,
            ..SynthSpec::default()
        },
        &source,
    )
    .unwrap();
    let store = Store::open(&dir.join("data")).unwrap();
    let report = import::import(
        &store,
        std::slice::from_ref(&source),
        &ImportOptions::default(),
        &ImportProgress::default(),
    )
    .unwrap();
    assert_eq!(report.imported, 36);
    source
}

fn wait_for_job(url: &str, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, job) = get(&format!("{url}/api/jobs/{id}"));
        let state = job["state"].as_str().unwrap_or("").to_string();
        if ["completed", "failed", "canceled"].contains(&state.as_str()) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} still {state}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn studies_filter_page_and_group_by_patient() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let server = start(&dir.path().join("data"), None);
    let url = &server.origin;

    let (status, all) = get(&format!("{url}/api/studies?order=patient&limit=4"));
    assert_eq!(status, 200);
    assert_eq!(all["total"], 6);
    let page = all["studies"].as_array().unwrap();
    assert_eq!(page.len(), 4);
    // Patient order: a patient's two studies are consecutive, names ascending.
    let patients: Vec<&str> = page
        .iter()
        .map(|s| s["PatientID"].as_str().unwrap())
        .collect();
    assert_eq!(patients[0], patients[1]);
    assert_eq!(patients[2], patients[3]);
    let names: Vec<String> = page
        .iter()
        .map(|s| s["PatientName"].as_str().unwrap().to_uppercase())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
    let (_, rest) = get(&format!("{url}/api/studies?order=patient&limit=4&offset=4"));
    assert_eq!(rest["studies"].as_array().unwrap().len(), 2);

    // A name filter is "contains", case-insensitive.
    let first = &page[0];
    let name = first["PatientName"].as_str().unwrap();
    let fragment = name[1..4].to_lowercase();
    let (_, by_name) = get(&format!("{url}/api/studies?patient_name={fragment}"));
    assert!(by_name["total"].as_u64().unwrap() >= 2);
    for s in by_name["studies"].as_array().unwrap() {
        assert!(s["PatientName"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains(&fragment));
    }

    // Series description: only studies that have such a series.
    let study_uid = first["StudyInstanceUID"].as_str().unwrap();
    let (_, study) = get(&format!("{url}/api/studies/{study_uid}"));
    let series = study["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["Rows"], 64);
    let description = series[0]["SeriesDescription"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let (_, by_series) = get(&format!(
        "{url}/api/studies?series_description={description}"
    ));
    assert!(by_series["total"].as_u64().unwrap() >= 1);
    for s in by_series["studies"].as_array().unwrap() {
        let uid = s["StudyInstanceUID"].as_str().unwrap();
        let (_, detail) = get(&format!("{url}/api/studies/{uid}"));
        assert!(detail["series"]
            .as_array()
            .unwrap()
            .iter()
            .any(|se| se["SeriesDescription"]
                .as_str()
                .unwrap_or("")
                .to_lowercase()
                .contains(&description)));
    }

    // Modalities and dates.
    let modality = first["ModalitiesInStudy"][0].as_str().unwrap();
    let (_, by_modality) = get(&format!(
        "{url}/api/studies?modality={modality}&modality=ZZ"
    ));
    for s in by_modality["studies"].as_array().unwrap() {
        assert!(s["ModalitiesInStudy"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == modality));
    }
    let date = first["StudyDate"].as_str().unwrap();
    let (_, by_date) = get(&format!("{url}/api/studies?date={date}-{date}"));
    assert!(by_date["studies"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["StudyDate"] == date));
    let (status, bad) = get(&format!("{url}/api/studies?date=2024"));
    assert_eq!((status, bad["field"].as_str()), (400, Some("date")));
    let (status, _) = get(&format!("{url}/api/studies/1.2.3.4"));
    assert_eq!(status, 404);
}

#[test]
fn metadata_thumbnails_downloads_and_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let source = populated(dir.path());
    let data = dir.path().join("data");
    let server = start(&data, None);
    let url = &server.origin;
    let (_, page) = get(&format!("{url}/api/studies?limit=1"));
    let study = &page["studies"][0];
    let study_uid = study["StudyInstanceUID"].as_str().unwrap();
    let (_, detail) = get(&format!("{url}/api/studies/{study_uid}"));
    let series_uid = detail["series"][0]["SeriesInstanceUID"].as_str().unwrap();

    // Instances: no file paths leave the server.
    let (_, instances) = get(&format!("{url}/api/series/{series_uid}/instances"));
    let instances = instances.as_array().unwrap();
    assert_eq!(instances.len(), 3);
    assert!(instances[0].get("FilePath").is_none());
    let sop = instances[0]["SOPInstanceUID"].as_str().unwrap();

    // The metadata tree: file meta first, the patient's name as a value.
    let (status, metadata) = get(&format!("{url}/api/instances/{sop}/metadata"));
    assert_eq!(status, 200);
    let elements = metadata["elements"].as_array().unwrap();
    assert!(elements[0]["tag"].as_str().unwrap().starts_with("0002"));
    let name = elements.iter().find(|e| e["tag"] == "00100010").unwrap();
    assert_eq!(name["value"], study["PatientName"]);
    assert_eq!(name["keyword"], "PatientName");
    let pixels = elements.iter().find(|e| e["tag"] == "7FE00010").unwrap();
    assert_eq!(pixels["value"], format!("(binary, {} bytes)", 64 * 64 * 2));

    // Thumbnails and rendered frames are PNG images of the requested size.
    let (status, content_type, png) =
        get_bytes(&format!("{url}/api/series/{series_uid}/thumbnail?size=48"));
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
    let image = image::load_from_memory(&png).unwrap();
    assert_eq!((image.width(), image.height()), (48, 48));
    let (status, _, png) = get_bytes(&format!("{url}/api/instances/{sop}/rendered?size=32"));
    assert_eq!(status, 200);
    assert_eq!(image::load_from_memory(&png).unwrap().width(), 32);
    assert_eq!(get(&format!("{url}/api/series/1.2.3/thumbnail")).0, 404);

    // A window chosen by the viewer: everything above it white, below it black.
    let grey_levels = |path: &str| -> Vec<u8> {
        let mut response = agent()
            .get(format!("{url}{path}"))
            .header("accept", "image/png")
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let png = response.body_mut().read_to_vec().unwrap();
        let image = image::load_from_memory(&png).unwrap().to_luma8();
        let mut levels: Vec<u8> = image.into_raw();
        levels.sort();
        levels.dedup();
        levels
    };
    let rendered =
        format!("/dicom-web/studies/{study_uid}/series/{series_uid}/instances/{sop}/rendered");
    assert_eq!(grey_levels(&format!("{rendered}?window=-100000,1")), [255]);
    assert_eq!(
        grey_levels(&format!("{rendered}?window=100000,1,linear-exact")),
        [0]
    );
    assert!(
        grey_levels(&rendered).len() > 2,
        "the default window shows detail"
    );
    assert_eq!(
        grey_levels(&format!("/api/instances/{sop}/rendered?window=-100000,1")),
        [255]
    );
    assert_eq!(get(&format!("{url}{rendered}?window=40")).0, 400);

    // A study as a zip: every file, byte for byte.
    let (status, content_type, zipped) =
        get_bytes(&format!("{url}/api/download?study={study_uid}"));
    assert_eq!((status, content_type.as_str()), (200, "application/zip"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    assert_eq!(
        archive.len(),
        study["NumberOfStudyRelatedInstances"].as_u64().unwrap() as usize
    );
    let store = Store::open(&data).unwrap();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        assert!(!entry.name().contains(".."), "{}", entry.name());
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let file = lightbox_dicom::read_bytes(&bytes, lightbox_dicom::ReadMode::Header).unwrap();
        let uid = file
            .dataset
            .first_text(lightbox_dicom::tag::SOP_INSTANCE_UID)
            .unwrap();
        let stored = store.index().instance_path(&uid).unwrap().unwrap();
        assert_eq!(
            std::fs::read(store.local_path(&stored).unwrap()).unwrap(),
            bytes
        );
    }
    assert_eq!(get(&format!("{url}/api/download")).0, 400);
    // The same study twice and one of its series, as media: each instance once, ISO 9660
    // names, the DICOMDIR last.
    let (status, _, zipped) = get_bytes(&format!(
        "{url}/api/download?study={study_uid}&series={series_uid}&study={study_uid}&dicomdir=1"
    ));
    assert_eq!(status, 200);
    let mut media = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    assert_eq!(media.len(), archive.len() + 1);
    assert_eq!(media.by_index(media.len() - 1).unwrap().name(), "DICOMDIR");
    for i in 0..media.len() - 1 {
        let name = media.by_index(i).unwrap().name().to_string();
        let parts: Vec<&str> = name.split('/').collect();
        assert_eq!(parts.len(), 5, "{name}");
        assert!(
            parts
                .iter()
                .all(|p| lightbox_dicom::dicomdir::valid_component(p)),
            "{name}"
        );
    }
    assert_eq!(get(&format!("{url}/api/download?study=1.2.3.4.5")).0, 404);

    // Uploads: a duplicate, a non-DICOM file, a zip of new instances.
    let any_file = walkdir::WalkDir::new(&source)
        .into_iter()
        .flatten()
        .find(|e| e.file_type().is_file())
        .unwrap()
        .into_path();
    let (status, report) = upload(url, "a.dcm", &std::fs::read(&any_file).unwrap());
    assert_eq!((status, report["duplicates"].as_u64()), (200, Some(1)));
    let (_, report) = upload(url, "notes.txt", b"not a DICOM file at all");
    assert_eq!(report["skipped"][0]["name"], "notes.txt");
    let more = dir.path().join("more");
    synth::generate(
        &SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 4,
            rows: 16,
            columns: 16,
            seed: 99,
            ..SynthSpec::default()
        },
        &more,
    )
    .unwrap();
    let mut zipped = Vec::new();
    {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
        for (i, entry) in walkdir::WalkDir::new(&more)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .enumerate()
        {
            writer
                .start_file(
                    format!("dir/{i}.dcm"),
                    zip::write::SimpleFileOptions::default(),
                )
                .unwrap();
            writer
                .write_all(&std::fs::read(entry.path()).unwrap())
                .unwrap();
        }
        writer.finish().unwrap();
    }
    let (status, report) = upload(url, "more.zip", &zipped);
    assert_eq!(
        (status, report["stored"].as_u64()),
        (200, Some(4)),
        "{report}"
    );
    assert_eq!(
        get(&format!("{url}/api/status")).1["store"]["instances"],
        40
    );
}

/// Raw HTTP, for what a well-behaved client would never send.
fn raw_request(url: &str, request: &str) -> String {
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn refusals_are_clear_and_safe() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, None);
    let url = &server.origin;

    // The page is served with a policy that allows no inline script.
    let (status, content_type, html) = get_bytes(&format!("{url}/"));
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert!(!html.is_empty());
    let response = agent().get(format!("{url}/")).call().unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));

    // Traversal: never a file from outside the embedded assets.
    for path in [
        "/ui/../../../../etc/passwd",
        "/ui/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc/passwd",
    ] {
        let answer = raw_request(
            url,
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        );
        assert!(!answer.contains("root:"), "{path}: {answer}");
        assert!(
            answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 400"),
            "{path}: {answer}"
        );
    }

    // Oversized: a JSON body over 1 MiB, an upload declaring more than the limit.
    // (Raw, declared but not sent: a client still sending when the 413 comes gets a broken pipe.)
    let answer = raw_request(
        url,
        "POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let answer = raw_request(
        url,
        "POST /api/upload?name=big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3000000000\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // Malformed JSON and unknown things: JSON errors, no internals.
    let mut response = agent()
        .post(format!("{url}/api/jobs"))
        .header("content-type", "application/json")
        .send("{not json")
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let error: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert!(error["error"].is_string());
    assert_eq!(get(&format!("{url}/api/nothing-here")).0, 404);
    let (status, error) = send(
        "POST",
        &format!("{url}/api/remote/studies"),
        json!({ "node": "nowhere", "filters": {} }),
    );
    assert_eq!((status, error["field"].as_str()), (400, Some("node")));
    let (status, error) = send(
        "POST",
        &format!("{url}/api/import"),
        json!({ "paths": ["relative/path"] }),
    );
    assert_eq!((status, error["field"].as_str()), (400, Some("paths")));

    // With credentials, nothing answers without them.
    let guarded_dir = tempfile::tempdir().unwrap();
    let guarded = start(
        guarded_dir.path(),
        Some("admin:correct-horse".parse().unwrap()),
    );
    assert_eq!(get(&format!("{}/api/status", guarded.origin)).0, 401);
    assert_eq!(get(&format!("{}/", guarded.origin)).0, 401);
}

#[test]
fn nodes_are_validated_and_keep_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, None);
    let url = &server.origin;
    let nodes = format!("{url}/api/nodes");

    let (status, error) = send(
        "PUT",
        &format!("{nodes}/pacs"),
        json!({ "name": "pacs", "ae_title": "A_TITLE_FAR_TOO_LONG", "host": "h", "port": 104 }),
    );
    assert_eq!((status, error["field"].as_str()), (400, Some("ae_title")));
    let (status, error) = send(
        "PUT",
        &format!("{nodes}/pacs"),
        json!({ "name": "pacs", "ae_title": "PACS", "host": "h", "port": 0 }),
    );
    assert_eq!((status, error["field"].as_str()), (400, Some("port")));

    let web = json!({ "name": "web", "ae_title": "DICOMWEB", "host": "-", "port": 1,
        "dicomweb": { "url": "http://127.0.0.1:9/dicom-web",
                      "auth": { "kind": "basic", "user": "u", "password": "s3cret-pass" } } });
    assert_eq!(send("PUT", &format!("{nodes}/web"), web.clone()).0, 200);
    let (_, listed) = get(&nodes);
    assert_eq!(listed[0]["dicomweb"]["auth"]["password"], "");
    // An edit that leaves the password blank keeps it.
    let mut edited = web.clone();
    edited["timeout_seconds"] = json!(3);
    edited["dicomweb"]["auth"]["password"] = json!("");
    assert_eq!(send("PUT", &format!("{nodes}/web"), edited).0, 200);
    let stored = std::fs::read_to_string(data.join("nodes.json")).unwrap();
    assert!(stored.contains("s3cret-pass"), "{stored}");
    assert!(stored.contains("\"timeout_seconds\": 3"), "{stored}");

    // Verifying a node nobody answers for: a clear failure, quickly.
    let (status, verdict) = send("POST", &format!("{nodes}/web/verify"), json!({}));
    assert_eq!(status, 200);
    assert_eq!(verdict["ok"], false);
    assert!(!verdict["error"].as_str().unwrap().is_empty());

    let response = agent().delete(format!("{nodes}/web")).call().unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(
        agent()
            .delete(format!("{nodes}/web"))
            .call()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}

#[test]
fn jobs_run_from_the_api_and_their_events_stream() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let data = dir.path().join("data");
    let server = start(&data, None);
    let url = server.origin.clone();

    // Two pages listen to the events before submitting.
    let listen = || {
        let (events_tx, events_rx) = std::sync::mpsc::channel::<String>();
        let events_url = format!("{url}/api/events");
        std::thread::spawn(move || {
            let mut response = agent().get(&events_url).call().unwrap();
            let mut reader = std::io::BufReader::new(response.body_mut().as_reader());
            let mut line = String::new();
            while std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) > 0 {
                if events_tx.send(line.clone()).is_err() {
                    return;
                }
                line.clear();
            }
        });
        events_rx
    };
    let (events_rx, other_page) = (listen(), listen());
    std::thread::sleep(Duration::from_millis(300));

    let (_, page) = get(&format!("{url}/api/studies?limit=1"));
    let study_uid = page["studies"][0]["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, submitted) = send(
        "POST",
        &format!("{url}/api/jobs"),
        json!({ "spec": { "kind": "delete", "target": { "level": "study", "uid": study_uid } },
                "priority": "high" }),
    );
    assert_eq!(status, 200, "{submitted}");
    let id = submitted["id"].as_i64().unwrap();
    let job = wait_for_job(&url, id);
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["output"]["studies"], 1);
    assert!(job["log"].is_array());
    assert_eq!(get(&format!("{url}/api/studies/{study_uid}")).0, 404);

    // The events named that job: queued, then its states; then the store's new totals.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while !(seen.contains("\"state\":\"completed\"") && seen.contains("event: store")) {
        assert!(Instant::now() < deadline, "events so far: {seen}");
        if let Ok(line) = events_rx.recv_timeout(Duration::from_millis(200)) {
            seen.push_str(&line);
        }
    }
    assert!(
        seen.contains(&format!("\"event\":\"queued\",\"id\":{id}")),
        "{seen}"
    );
    // The other page hears of the store's new totals too (one reading of them serves both).
    let mut other = String::new();
    while !other.contains("event: store") {
        assert!(
            Instant::now() < deadline,
            "the other page's events: {other}"
        );
        if let Ok(line) = other_page.recv_timeout(Duration::from_millis(200)) {
            other.push_str(&line);
        }
    }
    let totals = |events: &str| {
        let after = &events[events.find("event: store").unwrap()..];
        after.lines().nth(1).unwrap_or_default().to_string()
    };
    assert_eq!(totals(&other), totals(&seen));

    let (_, listed) = get(&format!("{url}/api/jobs?state=completed&kind=delete"));
    assert_eq!(listed["total"], 1);
    let (status, _) = send("POST", &format!("{url}/api/jobs/{id}/retry"), json!({}));
    assert_eq!(status, 200);
    assert_eq!(
        send("POST", &format!("{url}/api/jobs/999/cancel"), json!({})).0,
        404
    );
    let (status, bad) = send(
        "POST",
        &format!("{url}/api/jobs/{id}/priority"),
        json!({ "priority": "urgent" }),
    );
    assert_eq!((status, bad["error"].is_string()), (400, true));
    wait_for_job(&url, id);
    let (_, cleared) = send("POST", &format!("{url}/api/jobs/clear"), json!({}));
    assert!(cleared["cleared"].as_u64().unwrap() >= 1);
}

#[test]
fn upload_reports_name_the_upload_never_a_server_path() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    let url = &server.origin;
    let mut zipped = Vec::new();
    {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
        writer
            .start_file("notes.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(b"not DICOM").unwrap();
        writer.finish().unwrap();
    }
    let (status, report) = upload(url, "mixed.zip", &zipped);
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["skipped"][0]["name"], "mixed.zip: notes.txt",
        "{report}"
    );
    let (_, report) = upload(url, "plain.txt", b"not DICOM either");
    assert_eq!(report["skipped"][0]["name"], "plain.txt", "{report}");
    let data_dir = dir.path().display().to_string();
    assert!(!report.to_string().contains(&data_dir), "{report}");
}
