//! A study on two nodes, in a real headless Chromium against `lightbox serve` and two real
//! Orthancs on loopback: the preferred node is the default source, and any other can be picked
//! from a study's or a series' menu. Screenshots go to `target/ui-screenshots/`.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::browser::Browser;
use common::serve::Serve;
use lightbox_synth::SynthSpec;
use serde_json::{json, Value};
use std::time::Duration;

fn post(url: &str, body: Value) -> Value {
    let mut response = common::http()
        .post(url)
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
}

fn put_node(url: &str, name: &str, port: u16) {
    let mut response = common::http()
        .put(format!("{url}/api/nodes/{name}"))
        .header("content-type", "application/json")
        .send(
            json!({ "name": name, "ae_title": "ORTHANC", "host": "127.0.0.1", "port": port })
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
}

/// The retrieval jobs, as (node, series UID or null, state, instances stored).
fn retrievals(url: &str) -> Vec<(String, Value, String, Value)> {
    let jobs = common::get_json(&format!("{url}/api/jobs?kind=retrieve&limit=100"));
    let list = jobs.as_array().or_else(|| jobs["jobs"].as_array()).unwrap();
    list.iter()
        .map(|j| {
            (
                j["spec"]["node"].as_str().unwrap_or_default().to_string(),
                j["spec"]["series_uid"].clone(),
                j["state"].as_str().unwrap_or_default().to_string(),
                j["output"]["stored"].clone(),
            )
        })
        .collect()
}

#[test]
fn a_study_on_two_nodes_comes_from_the_preferred_one_or_the_one_picked() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let (Some(alpha), Some(beta)) = (support::start_orthanc(), support::start_orthanc()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The same study (same UIDs) on both: two series of three instances.
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 2,
        instances_per_series: 3,
        rows: 32,
        columns: 32,
        seed: 31,
        ..SynthSpec::default()
    };
    support::synthetic_in_peer(&alpha.address, &dir.path().join("a"), &spec);
    support::synthetic_in_peer(&beta.address, &dir.path().join("b"), &spec);
    let serve = Serve::start(&dir.path().join("data"), &["--job-retries", "1"]);
    let url = serve.url.clone();
    put_node(&url, "alpha", alpha.address.port);
    put_node(&url, "beta", beta.address.port);
    let study = post(
        &format!("{url}/api/remote/studies"),
        json!({ "node": "alpha", "filters": {} }),
    )["studies"][0]["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    let series: Vec<String> = post(
        &format!("{url}/api/remote/series"),
        json!({ "node": "beta", "study": study }),
    )["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["SeriesInstanceUID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(series.len(), 2);

    browser.goto(&format!("{url}/#nodes"));
    // beta is marked as the preferred source, from its form.
    browser
        .find("[data-testid=node-row][data-node=beta] [data-testid=node-edit]")
        .click();
    browser.find("[data-testid=node-preferred]").click();
    browser.find("[data-testid=node-save]").click();
    browser.find("[data-testid=node-row][data-node=beta] [data-testid=node-preferred-badge]");
    let nodes = common::get_json(&format!("{url}/api/nodes"));
    let preferred: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["preferred"] == json!(true))
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(preferred, ["beta"]);

    // Both nodes searched, no prefetch: the study is found on both, beta starred.
    browser.find("[data-testid=tab-browser]").click();
    browser.execute(
        "const p = document.querySelector('[data-testid=prefetch]'); p.value = 'none'; p.dispatchEvent(new Event('change'));",
        &[],
    );
    browser.find("[data-testid=source-alpha]").click();
    browser.find("[data-testid=source-beta]").click();
    browser.find("[data-testid=search]").click();
    let row = format!("[data-testid=study][data-study-uid='{study}']");
    browser.wait_until("the study on both nodes", Duration::from_secs(20), || {
        browser
            .find_all(&format!("{row} [data-testid=source-badge]"))
            .len()
            == 2
    });
    let starred = browser.execute(
        "return [...document.querySelectorAll(arguments[0])].filter(b => b.dataset.default).map(b => b.dataset.source)",
        &[json!(format!("{row} [data-testid=source-badge]"))],
    );
    assert_eq!(starred, json!(["beta"]), "beta is the default source");

    // The first series from alpha, picked in its tile's menu.
    let expanded = browser.execute(
        "return document.querySelector(arguments[0]).classList.contains('expanded')",
        &[json!(row)],
    );
    if expanded != json!(true) {
        browser
            .find(&format!("{row} [data-testid=study-toggle]"))
            .click();
    }
    let tile = |uid: &str| format!("{row} [data-testid=series][data-series-uid='{uid}']");
    // Each node's series come in their own answer: the menu offers what the page knows.
    browser.wait_until(
        "series 1 known on both nodes",
        Duration::from_secs(20),
        || {
            browser.execute(
                "const e = window.lightbox.browser().entries.get(arguments[0]); const s = e && e.series.get(arguments[1]); return !!s && s.remote.size === 2 && !!document.querySelector(arguments[2]);",
                &[json!(study), json!(series[0]), json!(tile(&series[0]))],
            ) == json!(true)
        },
    );
    browser
        .find(&format!("{} [data-testid=menu-button]", tile(&series[0])))
        .click();
    assert_eq!(
        browser.find("[data-testid=action-retrieve]").text(),
        "Retrieve from beta"
    );
    browser.screenshot("sources-menu");
    browser
        .find("[data-testid=action-retrieve-from-alpha]")
        .click();
    browser.wait_until("series 1 retrieved", Duration::from_secs(30), || {
        retrievals(&url)
            .iter()
            .any(|(_, s, state, _)| *s == json!(series[0]) && state == "completed")
    });
    // The rest of the study from the default source: the study's own Retrieve.
    browser.wait_until("series 1 local", Duration::from_secs(20), || {
        browser.execute(
            "const t = document.querySelector(arguments[0]); return t ? t.dataset.state : null;",
            &[json!(tile(&series[0]))],
        ) == json!("local")
    });
    browser
        .find(&format!("{row} .study-row [data-testid=menu-button]"))
        .click();
    browser.find("[data-testid=action-retrieve]").click();
    // (The study, or its one series not here: only what is missing is asked for.)
    browser.wait_until("the rest retrieved", Duration::from_secs(30), || {
        retrievals(&url)
            .iter()
            .any(|(node, _, state, _)| node == "beta" && state == "completed")
    });
    let mut done: Vec<(String, Value)> = retrievals(&url)
        .into_iter()
        .map(|(node, _, _, stored)| (node, stored))
        .collect();
    done.sort_by_key(|(node, _)| node.clone());
    assert_eq!(
        done,
        [
            ("alpha".to_string(), json!(3)),
            ("beta".to_string(), json!(3))
        ],
        "each series from the node it was asked from, once"
    );
    let local = common::get_json(&format!("{url}/api/studies/{study}"));
    assert_eq!(local["study"]["NumberOfStudyRelatedInstances"], 6);
    browser.screenshot("sources-retrieved");
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    drop(serve);
}
