//! Routing end to end, against `lightbox serve` and a real Orthanc on loopback: DCMTK's
//! `dcmsend` stores a CT and an MR study into Lightbox; a rule forwards CT series to Orthanc
//! once they are stable, and the MR stays; what Orthanc itself sends into Lightbox is never
//! routed back to it. A rule that de-identifies sends Orthanc copies that hold no identifying
//! value, checked attribute by attribute against PS3.15 Table E.1-1.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::serve::Serve;
use common::{lightbox, ok_json};
use lightbox_synth::SynthSpec;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn generate(dir: &std::path::Path, modality: &str, seed: u64) -> std::path::PathBuf {
    let out = dir.join(modality);
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 2,
        instances_per_series: 4,
        rows: 16,
        columns: 16,
        seed,
        modality: Some(modality.into()),
        ..SynthSpec::default()
    };
    lightbox_synth::generate(&spec, &out).unwrap();
    out
}

fn orthanc_series(http_port: u16) -> Vec<Value> {
    let ids = common::get_json(&format!("http://127.0.0.1:{http_port}/series"));
    ids.as_array()
        .unwrap()
        .iter()
        .map(|id| {
            common::get_json(&format!(
                "http://127.0.0.1:{http_port}/series/{}",
                id.as_str().unwrap()
            ))
        })
        .collect()
}

/// The project key the node de-identified with: its data directory's, or, on a PostgreSQL
/// index, its database's.
fn project_key(data: &std::path::Path) -> String {
    match common::index_env(data).pop() {
        None => std::fs::read_to_string(data.join("deid/project.key"))
            .unwrap()
            .trim()
            .to_string(),
        Some((_, url)) => {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let row = client
                .query_one(
                    "SELECT items FROM lightbox_lists WHERE name = 'deid-project-key'",
                    &[],
                )
                .unwrap();
            serde_json::from_str(row.get(0)).unwrap()
        }
    }
}

fn jobs(url: &str, query: &str) -> Vec<Value> {
    common::get_json(&format!("{url}/api/jobs?{query}"))["jobs"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn stable_ct_series_go_to_orthanc_and_nothing_goes_back_where_it_came_from() {
    let Some(dcmsend) = support::peer_tool("dcmsend") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let serve = Serve::start(&data, &["--route-stable-seconds", "2"]);
    let url = serve.url.clone();
    let (host, port) = serve
        .dimse_address()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .unwrap();
    let Some(orthanc) = support::start_orthanc_knowing(json!({
        "lightbox": ["LIGHTBOX", "127.0.0.1", port.parse::<u16>().unwrap()]
    })) else {
        return;
    };
    let address = format!("ORTHANC@127.0.0.1:{}", orthanc.address.port);
    assert!(lightbox(&data, &["nodes", "add", "pacs", &address])
        .status
        .success());
    let added = lightbox(
        &data,
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
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let listed = ok_json(&data, &["routes", "list", "--json"]);
    assert_eq!(listed[0]["name"], "ct-to-pacs");

    for (modality, seed) in [("CT", 5), ("MR", 6)] {
        let source = generate(dir.path(), modality, seed);
        support::dcmsend(&dcmsend, &host, &port, &source);
    }

    // The two CT series reach Orthanc, whole; the MR never does.
    wait_for("the CT series on Orthanc", Duration::from_secs(60), || {
        let series = orthanc_series(orthanc.http_port);
        series.len() == 2
            && series
                .iter()
                .all(|s| s["Instances"].as_array().unwrap().len() == 4)
    });
    // Past the MR's stable age too: it stays here.
    std::thread::sleep(Duration::from_secs(4));
    let series = orthanc_series(orthanc.http_port);
    assert_eq!(series.len(), 2);
    assert!(
        series
            .iter()
            .all(|s| s["MainDicomTags"]["Modality"] == "CT"),
        "{series:?}"
    );
    // The sends are the routed activity's jobs, named by their rule.
    let sends = jobs(&url, "kind=send");
    assert_eq!(sends.len(), 2, "{sends:?}");
    let receptions = jobs(&url, "kind=receive");
    for send in &sends {
        assert!(
            send["title"]
                .as_str()
                .unwrap()
                .ends_with("(route ct-to-pacs)"),
            "{send}"
        );
        assert_eq!(send["state"], "completed", "{send}");
        assert!(
            receptions.iter().any(|r| r["id"] == send["parent"]),
            "{send}"
        );
    }

    // Orthanc sends a study into Lightbox: a rule for everything would route it to Orthanc
    // again; it does not.
    assert!(
        lightbox(&data, &["routes", "add", "all-to-pacs", "--to", "pacs"])
            .status
            .success()
    );
    let study = series[0]["ParentStudy"].as_str().unwrap().to_string();
    // First removed here, so that it arrives as new.
    let ct = ok_json(&data, &["studies", "--json"]);
    let ct_uid = ct
        .as_array()
        .or_else(|| ct["studies"].as_array())
        .unwrap()
        .iter()
        .find(|s| s["ModalitiesInStudy"] == json!(["CT"]))
        .unwrap()["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(lightbox(&data, &["rm", "--study", &ct_uid])
        .status
        .success());
    let mut response = common::http()
        .post(format!(
            "http://127.0.0.1:{}/modalities/lightbox/store",
            orthanc.http_port
        ))
        .header("content-type", "application/json")
        .send(
            json!({ "Resources": [study], "Synchronous": true })
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.body_mut().read_to_string().unwrap()
    );
    wait_for(
        "Orthanc's association recorded",
        Duration::from_secs(30),
        || {
            jobs(&url, "kind=receive")
                .iter()
                .any(|r| r["spec"]["calling_ae_title"] == "ORTHANC" && r["state"] == "completed")
        },
    );
    // Past the stable age, with time for rules to run: still only the two first sends.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        jobs(&url, "kind=send").len(),
        2,
        "{:?}",
        jobs(&url, "kind=send")
    );
    let from_orthanc = jobs(&url, "kind=receive")
        .into_iter()
        .find(|r| r["spec"]["calling_ae_title"] == "ORTHANC")
        .unwrap();
    assert_eq!(from_orthanc["spec"]["node"], "pacs");
    drop(serve);
}

/// SOP Instance UID of every DICOM file under `dir`.
fn by_sop_instance(
    dir: &std::path::Path,
) -> std::collections::BTreeMap<String, std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let file =
                lightbox_dicom::read_file(e.path(), lightbox_dicom::ReadMode::Header).ok()?;
            let uid = file.dataset.text(lightbox_dicom::tag::SOP_INSTANCE_UID)?;
            Some((uid, e.path().to_path_buf()))
        })
        .collect()
}

#[test]
fn a_de_identifying_rule_sends_orthanc_copies_with_no_identifying_value() {
    let Some(dcmsend) = support::peer_tool("dcmsend") else {
        return;
    };
    let (Some(pydicom), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A CT rich in identifiers (every attribute of the table, in sequences and private blocks
    // too) and a generated CT study; an MR study that no rule takes.
    let ct = generate(dir.path(), "CT", 7);
    support::run_reference_script(
        &python,
        "identifier_rich.py",
        &[
            pydicom.join("test_files/CT_small.dcm").as_os_str(),
            ct.join("rich.dcm").as_os_str(),
        ],
    );
    let mr = generate(dir.path(), "MR", 8);
    let sources = by_sop_instance(&ct);
    assert_eq!(sources.len(), 9);

    let data = dir.path().join("data");
    let serve = Serve::start(&data, &["--route-stable-seconds", "2"]);
    let (host, port) = serve
        .dimse_address()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .unwrap();
    let Some(orthanc) = support::start_orthanc_knowing(json!({})) else {
        return;
    };
    let address = format!("ORTHANC@127.0.0.1:{}", orthanc.address.port);
    assert!(lightbox(&data, &["nodes", "add", "pacs", &address])
        .status
        .success());
    let added = lightbox(
        &data,
        &[
            "routes",
            "add",
            "ct-deidentified",
            "--to",
            "pacs",
            "--modality",
            "CT",
            "--deidentify",
        ],
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let listed = ok_json(&data, &["routes", "list", "--json"]);
    assert_eq!(listed[0]["deidentify"], json!([]), "{listed}");
    support::dcmsend(&dcmsend, &host, &port, &ct);
    support::dcmsend(&dcmsend, &host, &port, &mr);

    let instances = |port: u16| -> Vec<String> {
        common::get_json(&format!("http://127.0.0.1:{port}/instances"))
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_string())
            .collect()
    };
    wait_for(
        "the CT instances on Orthanc",
        Duration::from_secs(90),
        || instances(orthanc.http_port).len() == sources.len(),
    );
    std::thread::sleep(Duration::from_secs(4));
    let held = instances(orthanc.http_port);
    assert_eq!(held.len(), sources.len(), "only the CT, once");

    // What Orthanc holds, file by file, paired with what was sent by the new UID the
    // project key gives.
    let received = dir.path().join("orthanc");
    std::fs::create_dir_all(&received).unwrap();
    for id in &held {
        let mut response = common::http()
            .get(format!(
                "http://127.0.0.1:{}/instances/{id}/file",
                orthanc.http_port
            ))
            .call()
            .unwrap();
        let bytes = response.body_mut().read_to_vec().unwrap();
        std::fs::write(received.join(format!("{id}.dcm")), bytes).unwrap();
    }
    let received = by_sop_instance(&received);
    let key = project_key(&data);
    let key = key.as_str();
    let pairs: Vec<_> = sources
        .iter()
        .map(|(uid, source)| {
            let new_uid = lightbox_dicom::deid::uids::derive(key.as_bytes(), uid);
            let output = received
                .get(&new_uid)
                .unwrap_or_else(|| panic!("{uid} is not on Orthanc as {new_uid}"));
            (source.clone(), output.clone())
        })
        .collect();
    let config = dir.path().join("check.json");
    std::fs::write(
        &config,
        json!({"options": [], "key": key, "pairs": pairs}).to_string(),
    )
    .unwrap();
    let result: Value = serde_json::from_str(&support::run_reference_script(
        &python,
        "deid_check.py",
        &[config.as_os_str()],
    ))
    .unwrap();
    let violations = result["violations"].as_array().unwrap();
    assert!(
        violations.is_empty(),
        "{} violations, the first: {:#?}",
        violations.len(),
        &violations[..violations.len().min(20)]
    );
    let checked = result["checked"].as_u64().unwrap();
    assert!(checked > 100, "only {checked} attributes checked");
    eprintln!(
        "figure: {} routed instances on Orthanc, {checked} attributes checked, 0 violations",
        pairs.len()
    );

    // The routed work is an anonymize job per CT series, named by its rule.
    let routed = jobs(&serve.url, "kind=anonymize");
    assert_eq!(routed.len(), 3, "{routed:?}");
    for job in &routed {
        assert_eq!(job["state"], "completed", "{job}");
        assert!(
            job["title"]
                .as_str()
                .unwrap()
                .ends_with("(route ct-deidentified)"),
            "{job}"
        );
        assert_eq!(
            job["spec"]["destination"],
            json!({"to": "node", "at": "pacs"})
        );
    }
    assert!(jobs(&serve.url, "kind=send").is_empty());
    drop(serve);
}

#[test]
fn rules_are_added_edited_and_removed_on_the_routes_page() {
    let Some(browser) = common::browser::Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let serve = Serve::start(&data, &[]);
    let url = serve.url.clone();
    assert!(
        lightbox(&data, &["nodes", "add", "pacs", "PACS@127.0.0.1:1"])
            .status
            .success()
    );
    browser.goto(&format!("{url}/#/routes"));
    browser.wait_until("the empty list", Duration::from_secs(10), || {
        browser.find("[data-testid=routes-empty]").is_displayed()
    });
    browser.click_fresh("[data-testid=route-add]");
    browser
        .find("[data-testid=route-name]")
        .send_keys("ct-to-pacs");
    browser
        .find("[data-testid=route-modalities]")
        .send_keys("ct, mr");
    browser
        .find("[data-testid=route-description]")
        .send_keys("*AXIAL*");
    // The profile's options show once the rule de-identifies.
    assert!(!browser
        .find("[data-testid=route-deid-option-clean-descriptors]")
        .is_displayed());
    browser.find("[data-testid=route-deidentify]").click();
    browser
        .find("[data-testid=route-deid-option-clean-descriptors]")
        .click();
    browser.find("[data-testid=route-save]").click();
    browser.wait_for_text(
        "[data-testid=route-row][data-route=ct-to-pacs] [data-testid=route-when]",
        "modality CT or MR, description *AXIAL*",
    );
    let saved = common::get_json(&format!("{url}/api/routes"));
    assert_eq!(saved[0]["to"], "pacs");
    assert_eq!(saved[0]["modalities"], json!(["CT", "MR"]));
    assert_eq!(saved[0]["level"], "series");
    assert_eq!(saved[0]["deidentify"], json!(["clean-descriptors"]));
    assert!(browser
        .find("[data-testid=route-row][data-route=ct-to-pacs] [data-testid=route-deidentified]")
        .is_displayed());
    browser.screenshot("routes-page");

    // Edited: whole studies, disabled.
    browser.click_fresh("[data-testid=route-row][data-route=ct-to-pacs] [data-testid=route-edit]");
    browser.execute(
        "const l = document.querySelector('[data-testid=route-level]'); l.value = 'study';
         document.querySelector('[data-testid=route-enabled]').click();",
        &[],
    );
    browser.find("[data-testid=route-save]").click();
    browser.wait_until("the edited rule", Duration::from_secs(10), || {
        let saved = common::get_json(&format!("{url}/api/routes"));
        saved[0]["level"] == "study" && saved[0]["enabled"] == false
    });
    // A rule to a node that does not exist is refused, with the reason.
    let refused = common::http()
        .put(format!("{url}/api/routes/x"))
        .header("content-type", "application/json")
        .send(
            json!({ "name": "x", "to": "nobody" })
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);

    browser
        .click_fresh("[data-testid=route-row][data-route=ct-to-pacs] [data-testid=route-remove]");
    browser.find("[data-testid=confirm-ok]").click();
    browser.wait_until("the rule gone", Duration::from_secs(10), || {
        browser.find("[data-testid=routes-empty]").is_displayed()
    });
    assert_eq!(common::get_json(&format!("{url}/api/routes")), json!([]));
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    drop(serve);
}
