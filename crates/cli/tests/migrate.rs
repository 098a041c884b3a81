//! `lightbox migrate` from a local store into a cluster (a PostgreSQL index and a SeaweedFS
//! bucket started by the test on loopback): killed with SIGKILL part way and run again, it
//! finishes with every instance indexed once and every object's hash the source file's; a
//! later run copies nothing; an object lost from the bucket is copied again; a node on the
//! cluster lists what the local store held, linked files included.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use lightbox_synth::SynthSpec;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn cluster_command(data: &Path, index: &str, s3: &support::seaweedfs::SeaweedFs) -> Command {
    common::cluster_command(data, index, &s3.url("migrated"), s3.env())
}

fn migrate_command(data: &Path, index: &str, s3: &support::seaweedfs::SeaweedFs) -> Command {
    let mut command = common::lightbox_command(data);
    command
        .args([
            "migrate",
            "--to-index",
            index,
            "--to-store",
            &s3.url("migrated"),
        ])
        .arg("--json")
        .envs(s3.env());
    command
}

fn report(command: &mut Command) -> Value {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn study_uids(listed: &Value) -> Vec<String> {
    let mut uids: Vec<String> = listed["studies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["StudyInstanceUID"].as_str().unwrap().to_string())
        .collect();
    uids.sort();
    uids
}

#[test]
fn a_local_store_moves_into_a_cluster_resumably_and_verified() {
    let Some((postgres, s3)) = support::start_cluster_servers() else {
        return;
    };
    let Some(samples) = support::pydicom_data() else {
        return;
    };
    let index = postgres.database();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("local");
    let generated = dir.path().join("generated");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 10,
            studies_per_patient: 2,
            series_per_study: 3,
            instances_per_series: 50,
            rows: 16,
            columns: 16,
            seed: 21,
            ..SynthSpec::default()
        },
        &generated,
    )
    .unwrap();
    let imported = common::lightbox(&data, &["import", generated.to_str().unwrap()]);
    assert!(imported.status.success());
    // Linked files too: the cluster gets managed copies of them.
    let linked = dir.path().join("linked");
    std::fs::create_dir_all(&linked).unwrap();
    for name in ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"] {
        std::fs::copy(samples.join("test_files").join(name), linked.join(name)).unwrap();
    }
    let imported = common::lightbox(&data, &["import", "--link", linked.to_str().unwrap()]);
    assert!(imported.status.success());
    let local = common::ok_json(&data, &["studies", "--json", "--limit", "1000"]);
    let total = 10 * 2 * 3 * 50 + 3;

    // Killed part way, after some instances are copied.
    let mut first = migrate_command(&data, &index, &s3)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let other = dir.path().join("other");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let status = cluster_command(&other, &index, &s3)
            .args(["stats", "--json"])
            .output()
            .unwrap();
        let copied = serde_json::from_slice::<Value>(&status.stdout)
            .ok()
            .and_then(|s| s["instances"].as_u64())
            .unwrap_or(0);
        if copied > 0 || Instant::now() > deadline {
            break;
        }
    }
    first.kill().unwrap();
    let _ = first.wait();

    let second = report(&mut migrate_command(&data, &index, &s3));
    assert_eq!(second["instances"], total, "{second}");
    assert_eq!(second["verified"], total, "{second}");
    assert_eq!(second["failed"], serde_json::json!([]), "{second}");
    let copied_before = second["already_there"].as_u64().unwrap();
    assert!(
        copied_before > 0,
        "the first run was killed before it copied: {second}"
    );
    assert!(
        second["copied"].as_u64().unwrap() > 0,
        "the first run was not interrupted: {second}"
    );
    assert_eq!(
        copied_before + second["copied"].as_u64().unwrap(),
        total,
        "{second}"
    );

    // Nothing left to copy; everything still verified.
    let third = report(&mut migrate_command(&data, &index, &s3));
    assert_eq!(third["copied"], 0, "{third}");
    assert_eq!(third["already_there"], total, "{third}");
    assert_eq!(third["verified"], total, "{third}");

    // A node on the cluster lists the same studies, each instance once, and reads a formerly
    // linked file from the bucket.
    let listed: Value = serde_json::from_slice(
        &cluster_command(&other, &index, &s3)
            .args(["studies", "--json", "--limit", "1000"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(study_uids(&listed), study_uids(&local));
    let status: Value = serde_json::from_slice(
        &cluster_command(&other, &index, &s3)
            .args(["stats", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(status["instances"], total, "{status}");
    let ct = lightbox_dicom::read_file(
        &samples.join("test_files/CT_small.dcm"),
        lightbox_dicom::ReadMode::Header,
    )
    .unwrap();
    let uid = ct
        .dataset
        .text(lightbox_dicom::tag::SOP_INSTANCE_UID)
        .unwrap();
    let dump = cluster_command(&other, &index, &s3)
        .args(["dump", &uid])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert!(String::from_utf8_lossy(&dump.stdout).contains("CompressedSamples^CT1"));

    // An object lost from the bucket is copied again by the next run.
    let list_keys = |s3: &support::seaweedfs::SeaweedFs| s3.keys("migrated/files/");
    let keys = list_keys(&s3);
    assert_eq!(keys.len(), total as usize);
    let lost = &keys[0];
    let deleted = s3
        .curl()
        .args(["-X", "DELETE"])
        .arg(s3.bucket_url(lost))
        .status()
        .unwrap();
    assert!(deleted.success());
    assert_eq!(list_keys(&s3).len(), total as usize - 1);
    let repaired = report(&mut migrate_command(&data, &index, &s3));
    assert_eq!(repaired["repaired"], 1, "{repaired}");
    assert_eq!(repaired["verified"], total, "{repaired}");
    assert_eq!(list_keys(&s3).len(), total as usize);
}
