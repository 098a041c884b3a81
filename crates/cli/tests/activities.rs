//! What the storage listener receives, on the Jobs page of a real headless Chromium against
//! `lightbox serve`: DCMTK's `dcmsend` sending 1,000 instances in one association is one
//! activity (calling AE, counts, its series in words) with the thumbnails of its series under
//! it; a C-MOVE retrieval from a real Orthanc lists the association that brought its instances
//! under the retrieval. Screenshots go to `target/ui-screenshots/`.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::browser::Browser;
use common::serve::Serve;
use lightbox_synth::SynthSpec;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn jobs(url: &str, query: &str) -> (Vec<Value>, u64) {
    let answer = common::get_json(&format!("{url}/api/jobs?{query}"));
    (
        answer["jobs"].as_array().unwrap().clone(),
        answer["total"].as_u64().unwrap(),
    )
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
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

fn put(url: &str, body: Value) {
    let mut response = common::http()
        .put(url)
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.body_mut().read_to_string().unwrap()
    );
}

fn count(browser: &Browser, css: &str) -> usize {
    browser.find_all(css).len()
}

#[test]
fn a_thousand_instances_in_one_association_are_one_activity_with_their_thumbnails() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let Some(dcmsend) = support::peer_tool("dcmsend") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 4,
        instances_per_series: 250,
        rows: 16,
        columns: 16,
        seed: 1000,
        modality: Some("CT".into()),
        ..SynthSpec::default()
    };
    lightbox_synth::generate(&spec, &source).unwrap();
    let serve = Serve::start(&dir.path().join("data"), &[]);
    let url = serve.url.clone();
    let (host, port) = serve
        .dimse_address()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .unwrap();

    support::dcmsend(&dcmsend, &host, &port, &source);

    wait_for("the association's record", Duration::from_secs(30), || {
        let (list, _) = jobs(&url, "kind=receive");
        list.len() == 1 && list[0]["state"] == "completed"
    });
    let record = jobs(&url, "kind=receive").0.remove(0);
    let id = record["id"].as_i64().unwrap();
    let output = &record["output"];
    assert_eq!(output["stored"], 1000, "{output}");
    assert_eq!(output["duplicates"], 0);
    assert_eq!(output["refused"], 0);
    assert_eq!(output["calling_ae_title"], "MODALITY");
    assert_eq!(output["ended"], "released");
    let series = output["series"].as_array().unwrap();
    assert_eq!(series.len(), 4, "{series:?}");
    assert!(series
        .iter()
        .all(|s| s["instances"] == 250 && s["series"].is_string()));
    let title = record["title"].as_str().unwrap();
    assert!(
        title.starts_with("received 1,000 instances of ")
            && title.ends_with(" from MODALITY at 127.0.0.1"),
        "{title}"
    );
    assert_eq!(record["spec"]["calling_ae_title"], "MODALITY");

    // One thumbnail per series, under the activity; the activity alone at the top.
    wait_for("the thumbnails", Duration::from_secs(60), || {
        jobs(&url, &format!("parent={id}&state=completed")).1 == 4
    });
    let (under, total_under) = jobs(&url, &format!("parent={id}"));
    assert_eq!(total_under, 4);
    assert!(under
        .iter()
        .all(|j| j["kind"] == "thumbnail" && j["parent"] == id));
    let (top, total_top) = jobs(&url, "parent=top");
    assert_eq!(total_top, 1, "{top:?}");
    assert_eq!(top[0]["id"], id);
    assert_eq!(top[0]["children"]["total"], 4);
    assert_eq!(top[0]["children"]["completed"], 4);

    // The Jobs page: one row, its jobs folded under it; details as tables.
    browser.goto(&format!("{url}/#jobs"));
    let row = format!("[data-testid=job-row][data-job-id='{id}']");
    browser.find(&row);
    assert_eq!(count(&browser, "[data-testid=job-row]"), 1);
    assert_eq!(
        browser.find(&row).attr("data-kind").as_deref(),
        Some("receive")
    );
    assert_eq!(browser.find(&format!("{row} .job-title")).text(), title);
    // A record of what a peer did is not cancelled, retried or reprioritised.
    assert!(browser
        .try_find(&format!("{row} [data-testid=job-retry]"))
        .is_none());
    assert!(browser
        .try_find(&format!("{row} [data-testid=job-priority]"))
        .is_none());
    let toggle = browser.find(&format!("{row} [data-testid=job-children]"));
    assert!(
        toggle.text().contains("4 jobs: 4 done"),
        "{}",
        toggle.text()
    );
    toggle.click();
    browser.wait_until("the activity's jobs", Duration::from_secs(10), || {
        count(&browser, "[data-testid=job-child-row]") == 4
    });
    assert_eq!(
        count(
            &browser,
            "[data-testid=job-child-row][data-kind=thumbnail][data-state=completed]"
        ),
        4
    );
    let child_title = browser
        .find("[data-testid=job-child-row] .job-title")
        .text();
    assert!(
        child_title.starts_with("thumbnail of series “#"),
        "{child_title}"
    );
    browser.screenshot("jobs-activity");
    browser.click_fresh(&format!("{row} [data-testid=job-details]"));
    browser.wait_until("the series table", Duration::from_secs(10), || {
        count(&browser, "[data-testid=job-received-series] tbody tr") == 4
    });
    let summary = browser.find("[data-testid=job-summary]").text();
    assert!(
        summary.contains("MODALITY") && summary.contains("1,000"),
        "{summary}"
    );
    browser.screenshot("jobs-activity-details");

    // Filtered, the jobs are found wherever they belong.
    browser
        .find("[data-testid=jobs-filter-text]")
        .send_keys("thumbnail");
    browser.wait_until("the thumbnails listed", Duration::from_secs(10), || {
        count(&browser, "[data-testid=job-row][data-kind=thumbnail]") == 4
    });
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    drop(serve);
}

#[test]
fn the_association_a_c_move_brings_is_listed_under_the_retrieval() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(&dir.path().join("data"), &[]);
    let url = serve.url.clone();
    let port: u16 = serve
        .dimse_address()
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap();
    let Some(orthanc) =
        support::start_orthanc_knowing(json!({ "lightbox": ["LIGHTBOX", "127.0.0.1", port] }))
    else {
        return;
    };
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 2,
        instances_per_series: 5,
        rows: 16,
        columns: 16,
        seed: 77,
        ..SynthSpec::default()
    };
    support::synthetic_in_peer(&orthanc.address, &dir.path().join("source"), &spec);
    put(
        &format!("{url}/api/nodes/pacs"),
        json!({ "name": "pacs", "ae_title": "ORTHANC", "host": "127.0.0.1",
                "port": orthanc.address.port, "retrieve_method": "c-move" }),
    );
    let study = post(
        &format!("{url}/api/remote/studies"),
        json!({ "node": "pacs", "filters": {} }),
    )["studies"][0]["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    let job = post(
        &format!("{url}/api/jobs"),
        json!({ "spec": { "kind": "retrieve", "node": "pacs", "study_uid": study } }),
    );
    let retrieval = job["id"].as_i64().unwrap();
    wait_for("the retrieval", Duration::from_secs(60), || {
        common::get_json(&format!("{url}/api/jobs/{retrieval}"))["state"] == "completed"
    });
    wait_for("the association's record", Duration::from_secs(30), || {
        let (list, _) = jobs(&url, "kind=receive");
        list.len() == 1 && list[0]["state"] == "completed"
    });
    let record = jobs(&url, "kind=receive").0.remove(0);
    assert_eq!(record["parent"], retrieval, "{record}");
    assert_eq!(record["spec"]["node"], "pacs");
    assert_eq!(record["output"]["stored"], 10, "{record}");
    // Only the retrieval is an activity; the association and the thumbnails are its jobs.
    let (top, _) = jobs(&url, "parent=top");
    let top_ids: Vec<i64> = top.iter().map(|j| j["id"].as_i64().unwrap()).collect();
    assert!(top_ids.contains(&retrieval), "{top_ids:?}");
    assert!(
        !top_ids.contains(&record["id"].as_i64().unwrap()),
        "{top_ids:?}"
    );
    wait_for("the thumbnails", Duration::from_secs(60), || {
        let (under, _) = jobs(
            &url,
            &format!("parent={retrieval}&kind=thumbnail&state=completed"),
        );
        under.len() >= 2
    });
    drop(serve);
}
