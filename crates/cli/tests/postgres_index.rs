//! Lightbox on a PostgreSQL index (`--index postgres://…`), a real server of the test's own on
//! loopback: import from the command line, `dcmsend` into `lightbox serve`, the browser's API
//! and DICOMweb answering from it, and a second data directory naming the same database seeing
//! the same studies.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::serve::Serve;
use common::{lightbox, ok_json};
use lightbox_synth::SynthSpec;
use serde_json::Value;

fn generated(dir: &std::path::Path, seed: u64, patients: u32) -> std::path::PathBuf {
    let out = dir.join(format!("generated-{seed}"));
    lightbox_synth::generate(
        &SynthSpec {
            patients,
            studies_per_patient: 2,
            series_per_study: 2,
            instances_per_series: 3,
            rows: 16,
            columns: 16,
            seed,
            ..SynthSpec::default()
        },
        &out,
    )
    .unwrap();
    out
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
fn the_cli_and_the_server_work_on_a_postgresql_index() {
    let Some(dcmsend) = support::peer_tool("dcmsend") else {
        return;
    };
    let Some(postgres) = support::postgres::start_postgres() else {
        return;
    };
    let url = postgres.database();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let index = ["--index", url.as_str()];

    let imported = lightbox(
        &data,
        &[
            &index[..],
            &["import", generated(dir.path(), 1, 2).to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(
        !data.join("index.sqlite").exists(),
        "the data directory holds no index of its own"
    );
    let listed = ok_json(&data, &[&index[..], &["studies", "--json"]].concat());
    assert_eq!(study_uids(&listed).len(), 4, "{listed}");

    // The server on the same index: what dcmsend stores is listed with what was imported.
    let serve = Serve::start(&data, &index);
    let (host, port) = serve
        .dimse_address()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .unwrap();
    support::dcmsend(&dcmsend, &host, &port, &generated(dir.path(), 2, 1));
    let api = common::get_json(&format!("{}/api/studies?limit=100", serve.url));
    assert_eq!(api["total"], 6, "{api}");
    let stats = common::get_json(&format!("{}/api/status", serve.url));
    assert_eq!(stats["store"]["instances"], 6 * 2 * 3, "{stats}");
    let qido = common::get_json(&format!("{}/dicom-web/studies", serve.url));
    assert_eq!(qido.as_array().unwrap().len(), 6, "{qido}");

    // An instance retrieved over WADO-RS is the file the index points to.
    let study = study_uids(&api)[0].clone();
    let series = common::get_json(&format!("{}/dicom-web/studies/{study}/series", serve.url));
    let series_uid = series[0]["0020000E"]["Value"][0]
        .as_str()
        .unwrap()
        .to_string();
    let instances = common::get_json(&format!(
        "{}/dicom-web/studies/{study}/series/{series_uid}/instances",
        serve.url
    ));
    assert_eq!(instances.as_array().unwrap().len(), 3, "{instances}");
    let rendered = common::http()
        .get(format!(
            "{}/api/series/{series_uid}/thumbnail?size=64",
            serve.url
        ))
        .call()
        .unwrap();
    assert_eq!(rendered.status().as_u16(), 200);

    // A second data directory on the same database lists the same studies.
    let other = dir.path().join("other");
    let seen = ok_json(&other, &[&index[..], &["studies", "--json"]].concat());
    assert_eq!(study_uids(&seen), study_uids(&api));
    drop(serve);
}
