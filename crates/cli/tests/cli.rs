//! The `lightbox` binary end to end: generate, import, list, dump, thumbnail, remove.

mod common;

use common::{lightbox, ok_json};
use std::process::Command;

#[test]
fn import_list_dump_thumbnail_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = dir.path().join("store");
    let sample = data.to_str().unwrap();
    let out = lightbox(
        &store,
        &[
            "generate",
            sample,
            "--patients",
            "2",
            "--studies",
            "2",
            "--series",
            "2",
            "--instances",
            "3",
            "--rows",
            "64",
            "--columns",
            "48",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(data.join("notes.txt"), "not DICOM").unwrap();

    let report = ok_json(&store, &["import", "--json", sample]);
    assert_eq!(report["imported"], 24);
    assert_eq!(report["duplicates"], 0);
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0]["path"].as_str().unwrap().ends_with("notes.txt"));
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("not a DICOM file"));
    let again = ok_json(&store, &["import", "--json", sample]);
    assert_eq!(
        (again["imported"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(24))
    );

    let studies = ok_json(&store, &["studies", "--json"]);
    assert_eq!(studies["total"], 4);
    let list = studies["studies"].as_array().unwrap();
    for key in [
        "PatientName",
        "PatientID",
        "StudyInstanceUID",
        "StudyDate",
        "StudyDescription",
        "ModalitiesInStudy",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
        "AccessionNumber",
    ] {
        assert!(list[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(list[0]["NumberOfStudyRelatedSeries"], 2);
    assert_eq!(list[0]["NumberOfStudyRelatedInstances"], 6);
    let modality = list[0]["ModalitiesInStudy"][0]
        .as_str()
        .unwrap()
        .to_string();
    let filtered = ok_json(
        &store,
        &["studies", "--json", "--modality", &modality, "--limit", "1"],
    );
    assert!(filtered["total"].as_u64().unwrap() >= 1);
    assert_eq!(filtered["studies"].as_array().unwrap().len(), 1);
    let id = list[0]["PatientID"].as_str().unwrap();
    let by_id = ok_json(&store, &["studies", "--json", "--patient-id", id]);
    assert_eq!(by_id["total"], 2);
    let bad_date = lightbox(&store, &["studies", "--date", "2020-13"]);
    assert!(!bad_date.status.success());
    assert!(String::from_utf8_lossy(&bad_date.stderr).contains("invalid date"));

    let study_uid = list[0]["StudyInstanceUID"].as_str().unwrap();
    let series = ok_json(&store, &["series", "--json", study_uid]);
    let series = series.as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["NumberOfSeriesRelatedInstances"], 3);
    assert_eq!(series[0]["SeriesNumber"], 1);
    let series_uid = series[0]["SeriesInstanceUID"].as_str().unwrap();
    let instances = ok_json(&store, &["instances", "--json", series_uid]);
    let instances = instances.as_array().unwrap();
    assert_eq!(
        instances
            .iter()
            .map(|i| i["InstanceNumber"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let sop = instances[1]["SOPInstanceUID"].as_str().unwrap();

    let dump = lightbox(&store, &["dump", sop]);
    assert!(dump.status.success());
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        text.contains("PatientName") && text.contains(sop) && text.contains("PixelData"),
        "{text}"
    );
    let json = ok_json(&store, &["dump", "--json", sop]);
    assert_eq!(json["00080018"]["Value"][0], sop);
    assert_eq!(json["00100010"]["vr"], "PN");
    assert!(json["7FE00010"]["BulkDataURI"]
        .as_str()
        .unwrap()
        .contains("7FE00010"));
    assert!(json["7FE00010"].get("InlineBinary").is_none());

    let png = dir.path().join("thumb.png");
    let out = lightbox(
        &store,
        &[
            "thumbnail",
            series_uid,
            "-o",
            png.to_str().unwrap(),
            "--size",
            "32",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&png).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (24, 32),
        "48×64 scaled to fit 32, aspect kept"
    );

    let out = lightbox(&store, &["rm", "--series", series_uid]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = ok_json(&store, &["stats", "--json"]);
    assert_eq!(stats["instances"], 21);
    assert_eq!(stats["series"], 7);
    assert_eq!(stats["studies"], 4);
    let files = walkdir::WalkDir::new(store.join("files"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(files, 21, "the removed series' managed files are deleted");

    let missing = lightbox(&store, &["series", "1.2.3.4"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no study 1.2.3.4"));
}

/// A `lightbox serve` process, terminated (and checked to exit cleanly) by the test.
struct Server(std::process::Child);

impl Server {
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "lightbox serve did not stop on SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_receives_what_send_sends_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (sender, receiver) = (dir.path().join("sender"), dir.path().join("receiver"));
    let out = lightbox(
        &sender,
        &[
            "generate",
            data.to_str().unwrap(),
            "--patients",
            "1",
            "--studies",
            "1",
            "--series",
            "2",
            "--instances",
            "4",
            "--rows",
            "32",
            "--columns",
            "32",
        ],
    );
    assert!(out.status.success());
    assert_eq!(
        ok_json(&sender, &["import", "--json", data.to_str().unwrap()])["imported"],
        8
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let server = Server(
        common::lightbox_command(&receiver)
            .args([
                "serve",
                "--port",
                &port,
                "--http-port",
                "0",
                "--ae-title",
                "RECEIVER",
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let target = format!("RECEIVER@127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !lightbox(&sender, &["echo", &target]).status.success() {
        assert!(
            std::time::Instant::now() < deadline,
            "the listener never answered C-ECHO"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Through a named node: add, verify, list, send.
    let out = lightbox(
        &sender,
        &["nodes", "add", "receiver", &target, "--retrieve", "move"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let duplicate = lightbox(&sender, &["nodes", "add", "receiver", &target]);
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("exists already"));
    let bad = lightbox(
        &sender,
        &["nodes", "add", "bad", "WAY_TOO_LONG_AE_TITLE@127.0.0.1:104"],
    );
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("AE title"));
    let verify = lightbox(&sender, &["nodes", "verify", "receiver"]);
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("success"),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let listed = ok_json(&sender, &["nodes", "list", "--json"]);
    assert_eq!(listed[0]["name"], "receiver");
    assert_eq!(listed[0]["retrieve_method"], "c-move");
    let study = ok_json(&sender, &["studies", "--json"])["studies"][0]["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    let report = ok_json(&sender, &["send", "receiver", "--study", &study, "--json"]);
    assert_eq!(
        (report["sent"].as_u64(), report["failed"].as_u64()),
        (Some(8), Some(0))
    );
    // The receiver answers C-FIND over what it stored, in the listings' JSON shape.
    let found = ok_json(&sender, &["find", "receiver", "--level", "study", "--json"]);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["StudyInstanceUID"], study.as_str());
    assert_eq!(found[0]["NumberOfStudyRelatedInstances"], 8);
    assert!(found[0]["ModalitiesInStudy"].is_array());
    let series = ok_json(
        &sender,
        &[
            "find",
            "receiver",
            "--level",
            "series",
            "--study-uid",
            &study,
            "--json",
        ],
    );
    assert_eq!(series.as_array().unwrap().len(), 2);
    let none = ok_json(
        &sender,
        &["find", "receiver", "--patient-name", "NOBODY*", "--json"],
    );
    assert_eq!(none, serde_json::json!([]));
    // A third store retrieves the study back by C-GET.
    let third = dir.path().join("third");
    let retrieved = ok_json(&third, &["retrieve", &target, "--study", &study, "--json"]);
    assert_eq!(
        (retrieved["expected"].as_u64(), retrieved["stored"].as_u64()),
        (Some(8), Some(8))
    );
    assert_eq!(ok_json(&third, &["stats", "--json"])["instances"], 8);
    // A fourth store retrieves it by C-MOVE: the serving store knows it as a node, and the
    // retrieving command runs its own listener for the duration.
    let mover = dir.path().join("mover");
    let mover_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    assert!(lightbox(
        &receiver,
        &[
            "nodes",
            "add",
            "mover",
            &format!("MOVER@127.0.0.1:{mover_port}")
        ]
    )
    .status
    .success());
    assert!(lightbox(
        &mover,
        &[
            "nodes",
            "add",
            "source",
            &target,
            "--retrieve",
            "move",
            "--move-destination",
            "MOVER"
        ]
    )
    .status
    .success());
    let moved = ok_json(
        &mover,
        &[
            "retrieve",
            "source",
            "--study",
            &study,
            "--listen",
            &format!("127.0.0.1:{mover_port}"),
            "--json",
        ],
    );
    assert_eq!(
        (moved["stored"].as_u64(), moved["failed"].as_u64()),
        (Some(8), Some(0)),
        "{moved}"
    );
    assert_eq!(ok_json(&mover, &["stats", "--json"])["instances"], 8);
    let unknown = lightbox(&sender, &["echo", "nobody"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no node named"));
    assert!(lightbox(&sender, &["nodes", "rm", "receiver"])
        .status
        .success());
    assert_eq!(
        ok_json(&sender, &["nodes", "list", "--json"]),
        serde_json::json!([])
    );
    // A wrong called AE title is refused with a clear error.
    let refused = lightbox(&sender, &["echo", &format!("SOMEONE@127.0.0.1:{port}")]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("rejected"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    assert!(server.stop().success(), "serve exits cleanly on SIGTERM");
    let stats = ok_json(&receiver, &["stats", "--json"]);
    assert_eq!(stats["instances"], 8);
    let received = ok_json(&receiver, &["studies", "--json"]);
    assert_eq!(received["studies"][0]["StudyInstanceUID"], study.as_str());
}
