//! The web UI end to end, in a real headless Chromium, against `lightbox serve` and a real
//! Orthanc on loopback. Every test saves screenshots to `target/ui-screenshots/` and checks that
//! the page logged no errors.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::browser::{keys, Browser};
use common::http as agent;
use common::serve::Serve;
use lightbox_dicom::meta::part10_header;
use lightbox_dicom::transfer_syntax::Encoding;
use lightbox_dicom::{tag, write::DataSetBuilder};
use lightbox_synth::SynthSpec;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const XSS_NAME: &str = "<img src=x onerror=alert(1)>";
const XSS_DESCRIPTION: &str = "<script>alert(2)</script>";

/// `lightbox serve`, and its JSON API.
struct Lightbox {
    _serve: Serve,
    url: String,
}

impl Lightbox {
    fn start(data_dir: &Path) -> Lightbox {
        let serve = Serve::start(data_dir, &["--job-retries", "1"]);
        let url = serve.url.clone();
        Lightbox { _serve: serve, url }
    }

    fn api(&self, path: &str) -> Value {
        common::get_json(&format!("{}{path}", self.url))
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let mut response = agent()
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes())
            .unwrap();
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// Adds a DIMSE node nobody listens on (a free loopback port), named `name`.
    fn add_unreachable_node(&self, name: &str) {
        let port = support::free_port();
        let mut response = agent()
            .put(format!("{}/api/nodes/{name}", self.url))
            .header("content-type", "application/json")
            .send(
                json!({ "name": name, "ae_title": name.to_uppercase(), "host": "127.0.0.1", "port": port })
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
}

/// A secondary capture whose patient name and study description are markup.
fn write_markup_instance(path: &Path) {
    let sop_class = "1.2.840.10008.5.1.4.1.1.7";
    let sop = "1.2.826.0.1.3680043.10.1588.99.1";
    let mut ds = DataSetBuilder::default();
    ds.text(tag::SOP_CLASS_UID, sop_class)
        .text(tag::SOP_INSTANCE_UID, sop)
        .text(tag::STUDY_INSTANCE_UID, "1.2.826.0.1.3680043.10.1588.99.2")
        .text(tag::SERIES_INSTANCE_UID, "1.2.826.0.1.3680043.10.1588.99.3")
        .text(tag::PATIENT_NAME, XSS_NAME)
        .text(tag::PATIENT_ID, "XSS-1")
        .text(tag::STUDY_DATE, "20240102")
        .text(tag::STUDY_DESCRIPTION, XSS_DESCRIPTION)
        .text(tag::MODALITY, "OT")
        .text(tag::SERIES_NUMBER, "1");
    let mut bytes = part10_header(sop_class, sop, "1.2.840.10008.1.2.1", None);
    bytes.extend(ds.encode(Encoding::EXPLICIT_LE));
    std::fs::write(path, bytes).unwrap();
}

/// No console errors and nothing the page caught and recorded itself.
fn assert_no_page_errors(browser: &Browser) {
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    let caught = browser.execute("return window.lightboxErrors || []", &[]);
    assert_eq!(caught, json!([]), "errors the page caught");
}

fn open(browser: &Browser, lightbox: &Lightbox) {
    browser.goto(&format!("{}/", lightbox.url));
    browser.wait_until("the first page rendered", Duration::from_secs(20), || {
        browser.execute("return document.body.dataset.ready === '1'", &[]) == json!(true)
    });
}

/// An attribute of the first element matching `css`, read in one step (rows re-render live,
/// so an element found in one command may be gone by the next).
fn attr_of(browser: &Browser, css: &str, name: &str) -> Option<String> {
    browser
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            &[json!(css), json!(name)],
        )
        .as_str()
        .map(str::to_string)
}

/// The text of the first element matching `css`, read in one step.
fn text_of(browser: &Browser, css: &str) -> String {
    browser
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            &[json!(css)],
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The tags of the metadata rows shown now.
fn metadata_tags(browser: &Browser) -> Vec<String> {
    serde_json::from_value(browser.execute(
        "return [...document.querySelectorAll('[data-testid=metadata-row]')].map(r => r.dataset.tag);",
        &[],
    ))
    .unwrap_or_default()
}

fn series_state(browser: &Browser, series_uid: &str) -> String {
    attr_of(
        browser,
        &format!("[data-testid=series][data-series-uid='{series_uid}']"),
        "data-state",
    )
    .unwrap_or_default()
}

fn thumbnail_loaded(browser: &Browser, series_uid: &str) -> bool {
    browser.execute(
        "const img = document.querySelector(`[data-testid=series][data-series-uid='${arguments[0]}'] [data-testid=series-thumbnail]`);\
         return !!img && img.complete && img.naturalWidth > 0;",
        &[json!(series_uid)],
    ) == json!(true)
}

#[test]
fn local_studies_show_markup_as_text_and_metadata_is_searchable() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 3,
            studies_per_patient: 2,
            series_per_study: 2,
            instances_per_series: 5,
            rows: 128,
            columns: 128,
            ..SynthSpec::default()
        },
        &source,
    )
    .unwrap();
    write_markup_instance(&source.join("markup.dcm"));
    let data = dir.path().join("data");
    let imported = common::ok_json(&data, &["import", "--json", source.to_str().unwrap()]);
    assert_eq!(imported["imported"], 61, "{imported}");
    let lightbox = Lightbox::start(&data);
    open(&browser, &lightbox);

    // The markup patient: its name is text on the page, and nothing ran.
    browser.wait_for_text("[data-testid=patient]", XSS_NAME);
    browser.wait_for_text("[data-testid=study]", XSS_DESCRIPTION);
    assert_eq!(browser.alert_text(), None, "an alert opened");
    let injected = browser.execute(
        "return document.querySelectorAll('img[src=\"x\"], img[src$=\"/x\"], script:not([src])').length",
        &[],
    );
    assert_eq!(injected, json!(0));
    browser.screenshot("local-markup-as-text");

    // Filters: a patient name narrows the list, live.
    let total = lightbox.api("/api/studies?limit=1")["total"]
        .as_u64()
        .unwrap();
    assert_eq!(total, 7);
    browser
        .find("[data-testid=filter-patient-id]")
        .send_keys("xss-");
    browser.wait_until(
        "the list narrowed to one study",
        Duration::from_secs(10),
        || browser.find_all("[data-testid=study]").len() == 1,
    );
    browser.find("[data-testid=filter-patient-id]").clear();
    browser
        .find("[data-testid=filter-patient-id]")
        .send_keys(keys::ENTER);
    browser.wait_until("all studies again", Duration::from_secs(10), || {
        browser.find_all("[data-testid=study]").len() == 7
    });

    // The metadata explorer of a synthetic series: search by keyword, by tag, step instances.
    // The first synthetic patient's newest study (expanded by default, as the first two are).
    let study = lightbox.api("/api/studies?order=patient&limit=3")["studies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["PatientID"] != "XSS-1")
        .unwrap()
        .clone();
    let study_uid = study["StudyInstanceUID"].as_str().unwrap();
    let series = lightbox.api(&format!("/api/studies/{study_uid}"))["series"][0].clone();
    let series_uid = series["SeriesInstanceUID"].as_str().unwrap();
    let tile = format!("[data-testid=series][data-series-uid='{series_uid}']");
    browser.find(&tile);
    assert_eq!(series_state(&browser, series_uid), "local");
    browser.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
        &[json!(tile)],
    );
    browser.wait_until("the thumbnail loaded", Duration::from_secs(10), || {
        thumbnail_loaded(&browser, series_uid)
    });
    browser
        .find(&format!("{tile} [data-testid=menu-button]"))
        .click();
    browser.find("[data-testid=action-metadata]").click();
    browser.find("[data-testid=metadata]");
    browser.wait_until("metadata rows", Duration::from_secs(10), || {
        metadata_tags(&browser).len() > 20
    });
    let search = browser.find("[data-testid=metadata-search]");
    search.send_keys("PatientName");
    browser.wait_until(
        "rows filtered to the patient's name",
        Duration::from_secs(5),
        || {
            let tags = metadata_tags(&browser);
            !tags.is_empty() && tags.iter().all(|t| t == "00100010")
        },
    );
    let name_row = text_of(&browser, "[data-testid=metadata-row][data-tag='00100010']");
    assert!(
        name_row.contains(study["PatientName"].as_str().unwrap()),
        "{name_row}"
    );
    search.clear();
    search.send_keys("0020,0013");
    browser.wait_until("the instance number row", Duration::from_secs(5), || {
        metadata_tags(&browser).iter().any(|t| t == "00200013")
    });
    let number_row = "[data-testid=metadata-row][data-tag='00200013']";
    let first = text_of(&browser, number_row);
    browser.find("[data-testid=metadata-next]").click();
    browser.wait_until("the next instance", Duration::from_secs(5), || {
        let now = text_of(&browser, number_row);
        !now.is_empty() && now != first
    });
    browser.screenshot("local-metadata-search");
    browser
        .find("[data-testid=metadata-search]")
        .send_keys(keys::ESCAPE);

    // The series preview steps with the keyboard; Escape closes it.
    browser
        .find(&format!(
            "[data-testid=series][data-series-uid='{series_uid}'] [data-testid=menu-button]"
        ))
        .click();
    browser.find("[data-testid=action-preview]").click();
    let preview_src = || attr_of(&browser, "[data-testid=preview-image]", "src");
    browser.wait_until("the first image", Duration::from_secs(10), || {
        preview_src().is_some_and(|s| !s.is_empty())
    });
    let first_image = preview_src();
    browser.find("[data-testid=preview]").send_keys(keys::RIGHT);
    browser.wait_until("the next image", Duration::from_secs(10), || {
        preview_src() != first_image
            && browser.execute(
                "const i = document.querySelector('[data-testid=preview-image]'); return i.complete && i.naturalWidth > 0;",
                &[],
            ) == json!(true)
    });
    browser.screenshot("local-preview");
    browser
        .find("[data-testid=preview]")
        .send_keys(keys::ESCAPE);
    browser.wait_until("the preview closed", Duration::from_secs(5), || {
        !browser.find("[data-testid=preview]").is_displayed()
    });

    // Keyboard: Tab moves from one filter to the next.
    browser.execute("window.scrollTo(0, 0)", &[]);
    browser.find("[data-testid=filter-patient-name]").click();
    browser
        .find("[data-testid=filter-patient-name]")
        .send_keys(keys::TAB);
    assert_eq!(
        browser.execute("return document.activeElement.dataset.testid", &[]),
        json!("filter-patient-id")
    );

    // Delete a study from the local store, with confirmation.
    browser
        .find(&format!(
            "[data-testid=study][data-study-uid='{study_uid}'] [data-testid=menu-button]"
        ))
        .click();
    browser.find("[data-testid=action-delete]").click();
    browser.find("[data-testid=confirm-ok]").click();
    browser.wait_until("the study left the list", Duration::from_secs(20), || {
        browser
            .try_find(&format!(
                "[data-testid=study][data-study-uid='{study_uid}']"
            ))
            .is_none()
    });
    assert_eq!(
        lightbox.api("/api/studies?limit=1")["total"],
        6,
        "the store lost exactly one study"
    );
    browser.screenshot("local-after-delete");
    assert_no_page_errors(&browser);
}

#[test]
fn remote_nodes_query_preview_retrieve_and_send_against_orthanc() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let Some(orthanc) = support::start_orthanc() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Orthanc holds one patient's study: two series, one large enough to watch it arrive.
    support::synthetic_in_peer(
        &orthanc.address,
        &dir.path().join("remote"),
        &SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 2,
            instances_per_series: 80,
            rows: 512,
            columns: 512,
            seed: 7,
            ..SynthSpec::default()
        },
    );
    // Lightbox holds another study, to send.
    let local = dir.path().join("local");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 4,
            rows: 64,
            columns: 64,
            seed: 8,
            ..SynthSpec::default()
        },
        &local,
    )
    .unwrap();
    let data = dir.path().join("data");
    common::ok_json(&data, &["import", "--json", local.to_str().unwrap()]);
    let lightbox = Lightbox::start(&data);
    open(&browser, &lightbox);

    // Add Orthanc as a node from the Nodes page, with a field error on the way, and verify it.
    browser.find("[data-testid=tab-nodes]").click();
    browser.find("[data-testid=node-add]").click();
    browser.find("[data-testid=node-name]").send_keys("orthanc");
    browser
        .find("[data-testid=node-ae-title]")
        .send_keys("ORTHANC");
    browser
        .find("[data-testid=node-host]")
        .send_keys("127.0.0.1");
    let port = browser.find("[data-testid=node-port]");
    port.clear();
    port.send_keys("70000");
    browser.find("[data-testid=node-save]").click();
    browser.wait_for_text("[data-testid=field-error][data-field=port]", "65535");
    let port = browser.find("[data-testid=node-port]");
    port.clear();
    port.send_keys(&orthanc.address.port.to_string());
    browser.find("[data-testid=node-save]").click();
    browser
        .find("[data-testid=node-row][data-node=orthanc] [data-testid=node-verify]")
        .click();
    browser.wait_for_text("[data-testid=node-verify-result]", "✓");
    let verdict = text_of(&browser, "[data-testid=node-verify-result]");
    assert!(verdict.contains("ms"), "{verdict}");
    browser.screenshot("nodes-verified");
    let nodes = lightbox.api("/api/nodes");
    assert_eq!(nodes[0]["port"], orthanc.address.port);

    // Query Orthanc from the browser page with a filter: its study appears, remote.
    browser.find("[data-testid=tab-browser]").click();
    browser.refresh();
    open(&browser, &lightbox);
    browser.find("[data-testid=source-orthanc]").click();
    let remote_study = {
        let found = lightbox.post(
            "/api/remote/studies",
            json!({ "node": "orthanc", "filters": {} }),
        );
        found["studies"][0].clone()
    };
    let remote_uid = remote_study["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    let name = remote_study["PatientName"].as_str().unwrap();
    browser
        .find("[data-testid=filter-patient-name]")
        .send_keys(&name[..3].to_lowercase());
    browser.find("[data-testid=search]").click();
    let study_row = format!("[data-testid=study][data-study-uid='{remote_uid}']");
    browser.find(&study_row);
    // Expanded (it is the patient's first study): both series tiles, remote, then previews.
    let remote_series = lightbox.post(
        "/api/remote/series",
        json!({ "node": "orthanc", "study": remote_uid }),
    )["series"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(remote_series.len(), 2);
    let uids: Vec<String> = remote_series
        .iter()
        .map(|s| s["SeriesInstanceUID"].as_str().unwrap().to_string())
        .collect();
    let first_tile = format!(
        "{study_row} [data-testid=series][data-series-uid='{}']",
        uids[0]
    );
    // Expanded or not is the row's own state, set when it is drawn; its tiles may still be on
    // their way (asking for them is no test of it: a click then would fold the study).
    let expanded = browser.execute(
        "return document.querySelector(arguments[0]).classList.contains('expanded')",
        &[json!(study_row)],
    );
    if expanded != json!(true) {
        browser
            .find(&format!("{study_row} [data-testid=study-toggle]"))
            .click();
    }
    browser.find(&first_tile);
    for uid in &uids {
        browser.wait_until(
            &format!("series {uid}'s preview thumbnail"),
            Duration::from_secs(60),
            || thumbnail_loaded(&browser, uid),
        );
        // A preview is no local copy: the series stays remote, its tile says a preview is here.
        assert_eq!(series_state(&browser, uid), "remote");
        browser.find(&format!(
            "[data-testid=series][data-series-uid='{uid}'] [data-testid=series-preview]"
        ));
    }
    browser.screenshot("remote-previews");
    // Nor do the previews make the study local: it stays in the remote block, the local list
    // and the store's counts do not have it, and its previews are counted apart.
    let detail = lightbox.api(&format!("/api/studies/{remote_uid}"));
    assert_eq!(
        detail["study"]["NumberOfStudyRelatedInstances"], 0,
        "{detail}"
    );
    assert_eq!(detail["study"]["PreviewInstances"], 2, "{detail}");
    assert_eq!(
        lightbox.api(&format!("/api/studies?study_uid={remote_uid}"))["total"],
        0
    );
    let status = lightbox.api("/api/status");
    assert_eq!(status["store"]["studies"], 1, "{status}");
    assert_eq!(status["store"]["previews"], 2, "{status}");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        browser
            .try_find(&format!("#remote-list [data-study-uid='{remote_uid}']"))
            .is_some(),
        "still among the remote results"
    );

    // The filters change: the node's results for the old ones go, and it is asked again with
    // the new ones (a name nobody has: none), then again when the name is back.
    let remote_status = || text_of(&browser, "[data-testid=remote-status-orthanc]");
    let name_filter = browser.find("[data-testid=filter-patient-name]");
    name_filter.send_keys("qqq");
    browser.wait_until(
        "the node asked with the new name",
        Duration::from_secs(20),
        || {
            remote_status() == "orthanc: 0 studies"
                && browser
                    .try_find(&format!(
                        "[data-testid=study][data-study-uid='{remote_uid}']"
                    ))
                    .is_none()
        },
    );
    name_filter.send_keys(&keys::BACKSPACE.repeat(3));
    browser.wait_until("the node asked with the name back", Duration::from_secs(20), || {
        remote_status() == "orthanc: 1 study"
            && browser
                .try_find(&format!(
                    "[data-testid=study][data-study-uid='{remote_uid}'] [data-testid=source-badge][data-source=orthanc]"
                ))
                .is_some()
    });

    // Retrieve the first series: progress shows, then it is local.
    let first = &uids[0];
    browser
        .find(&format!(
            "[data-testid=series][data-series-uid='{first}'] [data-testid=menu-button]"
        ))
        .click();
    browser.find("[data-testid=action-retrieve]").click();
    let mut saw_progress = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = series_state(&browser, first);
        let progress_bar = format!(
            "[data-testid=series][data-series-uid='{first}'] [data-testid=series-progress]"
        );
        if state == "retrieving" && !saw_progress && browser.try_find(&progress_bar).is_some() {
            saw_progress = true;
            browser.screenshot("remote-retrieving");
        }
        if state == "local" {
            break;
        }
        assert!(Instant::now() < deadline, "series still {state}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(saw_progress, "a progress bar while retrieving");
    // The retrieval's job is named in words: its patient, study, series and node.
    let retrieval = lightbox.api("/api/jobs?kind=retrieve")["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["spec"]["series_uid"] == first.as_str() && j["spec"]["preview_first"] != true)
        .expect("the series' retrieval")
        .clone();
    let title = retrieval["title"].as_str().unwrap();
    let family = name.split('^').next().unwrap();
    let series_description = remote_series[0]["SeriesDescription"]
        .as_str()
        .unwrap_or_default();
    assert!(
        title.starts_with("retrieve series “")
            && title.contains(family)
            && title.contains(series_description)
            && title.ends_with(" from orthanc"),
        "{title}"
    );
    let stored = lightbox.api(&format!("/api/series/{first}"));
    assert_eq!(stored["NumberOfSeriesRelatedInstances"], 80);
    assert_eq!(
        stored["PreviewInstances"], 0,
        "its preview kept as part of it"
    );
    // Local now, the study moves to the local list; its row counts what is here (the other
    // series' preview apart) and the study's instances on the node.
    let local_row = format!("#results [data-testid=study][data-study-uid='{remote_uid}']");
    browser.wait_for_text(
        &format!("{local_row} [data-testid=study-remote-count]"),
        "(160 on orthanc)",
    );
    assert!(text_of(&browser, &local_row).contains("80 instances here"));
    browser.screenshot("remote-retrieved");

    // The whole study retrieved (queued elsewhere, as the CLI would): each tile counts its own
    // series against that series' total, the one already here stays local, and no tile flashes
    // back to remote, neither while the study comes nor once it is done.
    let second = &uids[1];
    browser.execute(
        "const log = window.__tiles = [];
         const seen = new Map();
         const note = () => {
           for (const t of document.querySelectorAll('[data-testid=series]')) {
             const bar = t.querySelector('[data-testid=series-progress]');
             const entry = [t.dataset.seriesUid, t.dataset.state,
               bar ? Number(bar.dataset.done) : null, bar ? Number(bar.dataset.total) : null];
             const key = JSON.stringify(entry);
             if (seen.get(entry[0]) !== key) { seen.set(entry[0], key); log.push(entry); }
           }
         };
         note();
         new MutationObserver(note).observe(document.body,
           { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state', 'data-done'] });",
        &[],
    );
    let queued = lightbox.post(
        "/api/jobs",
        json!({ "spec": { "kind": "retrieve", "node": "orthanc", "study_uid": remote_uid } }),
    );
    assert!(queued["id"].is_number(), "{queued}");
    browser.wait_until("the second series local", Duration::from_secs(120), || {
        series_state(&browser, second) == "local"
    });
    // Once its rows are read again too.
    std::thread::sleep(Duration::from_millis(1500));
    let log = browser.execute("return window.__tiles", &[]);
    let entries: Vec<(String, String, Option<u64>, Option<u64>)> =
        serde_json::from_value(log.clone()).unwrap();
    let of = |uid: &str| -> Vec<&(String, String, Option<u64>, Option<u64>)> {
        entries.iter().filter(|e| e.0 == uid).collect()
    };
    assert!(
        of(first).iter().all(|e| e.1 == "local"),
        "the series already here stays local: {log}"
    );
    let states: Vec<&str> = of(second).iter().map(|e| e.1.as_str()).collect();
    // Remote (its preview only) until the retrieval starts; never back to remote after.
    let started = states.iter().position(|s| *s == "retrieving");
    assert!(started.is_some(), "{log}");
    assert!(
        !states[started.unwrap_or_default()..].contains(&"remote"),
        "never back to remote: {log}"
    );
    let from_local = states.iter().position(|s| *s == "local").unwrap();
    assert!(
        states[from_local..].iter().all(|s| *s == "local"),
        "local once done: {log}"
    );
    assert!(
        of(second)
            .iter()
            .filter(|e| e.1 == "retrieving")
            .all(|e| e.3 == Some(80) && e.2.unwrap() <= 80),
        "its own count, against its own total: {log}"
    );
    assert_eq!(
        lightbox.api(&format!("/api/series/{second}"))["NumberOfSeriesRelatedInstances"],
        80
    );
    // Deleted again, for the retrieval that fails below.
    let deleting = lightbox.post(
        "/api/jobs",
        json!({ "spec": { "kind": "delete", "target": { "level": "series", "uid": second } } }),
    );
    assert!(deleting["id"].is_number(), "{deleting}");
    browser.wait_until("the second series remote", Duration::from_secs(30), || {
        series_state(&browser, second) == "remote"
    });

    // Send the local study to Orthanc from its menu (the name filter cleared first).
    let name_filter = browser.find("[data-testid=filter-patient-name]");
    name_filter.clear();
    name_filter.send_keys(keys::ENTER);
    let local_study = lightbox.api("/api/studies?patient_id=&limit=50")["studies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["StudyInstanceUID"] != remote_uid.as_str())
        .unwrap()
        .clone();
    let local_uid = local_study["StudyInstanceUID"].as_str().unwrap();
    browser
        .find(&format!(
            "[data-testid=study][data-study-uid='{local_uid}'] [data-testid=menu-button]"
        ))
        .click();
    browser.find("[data-testid=action-send]").click();
    browser.find("[data-testid=send-ok]").click();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let studies = common::get_json(&format!("http://127.0.0.1:{}/studies", orthanc.http_port));
        if studies.as_array().unwrap().len() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "Orthanc never got the study");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Orthanc goes away: retrieving the second series fails (after its one retry), the tile says
    // why, and its Retry queues the job again.
    let tile = format!("[data-testid=series][data-series-uid='{second}']");
    // The list was redrawn by the last search: wait until the tile knows it is on Orthanc again
    // (its preview prefetched again, or not yet).
    browser.wait_until(
        "the deleted series on Orthanc again",
        Duration::from_secs(60),
        || {
            matches!(
                series_state(&browser, second).as_str(),
                "remote" | "partial"
            )
        },
    );
    drop(orthanc);
    browser.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
        &[json!(tile)],
    );
    browser
        .find(&format!("{tile} [data-testid=menu-button]"))
        .click();
    browser.find("[data-testid=action-retrieve]").click();
    browser.wait_until("the retrieval failed", Duration::from_secs(60), || {
        series_state(&browser, second) == "failed"
    });
    let reason = attr_of(
        &browser,
        &format!("{tile} [data-testid=series-error]"),
        "title",
    )
    .unwrap_or_default();
    assert!(reason.contains("connect"), "{reason}");
    let shown = text_of(
        &browser,
        &format!("{tile} [data-testid=series-error-reason]"),
    );
    assert!(
        shown.contains("connect"),
        "the reason on the tile itself: {shown}"
    );
    browser.screenshot("remote-failed");
    let failed = lightbox.api("/api/jobs?kind=retrieve&state=failed")["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["spec"]["series_uid"] == second.as_str())
        .expect("the failed retrieval")["id"]
        .as_i64()
        .unwrap();
    browser.click_fresh(&format!("{tile} [data-testid=series-retry]"));
    browser.wait_until("the job queued again", Duration::from_secs(10), || {
        lightbox.api(&format!("/api/jobs/{failed}"))["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"].as_str().unwrap().contains("queued again"))
    });
    assert_no_page_errors(&browser);
}

#[test]
fn jobs_panel_cancels_and_retries_and_import_uploads_files() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let lightbox = Lightbox::start(&data);
    open(&browser, &lightbox);
    // An empty store says how to fill it.
    browser.find("[data-testid=empty-store]");
    browser.screenshot("empty-store");

    // A node nobody listens on: its retrieval keeps failing and waits to retry.
    lightbox.add_unreachable_node("gone");
    let job = lightbox.post(
        "/api/jobs",
        json!({ "spec": { "kind": "retrieve", "node": "gone", "study_uid": "1.2.3" } }),
    );
    let id = job["id"].as_i64().unwrap();
    browser.find("[data-testid=tab-jobs]").click();
    let row_selector = format!("[data-testid=job-row][data-job-id='{id}']");
    browser.wait_until("the job waits to retry", Duration::from_secs(20), || {
        attr_of(&browser, &row_selector, "data-state").as_deref() == Some("waiting_retry")
    });
    // Its priority is changed from the page.
    browser.execute(
        "const s = document.querySelector(arguments[0]);
         s.value = 'highest'; s.dispatchEvent(new Event('change'));",
        &[json!(format!("{row_selector} [data-testid=job-priority]"))],
    );
    browser.wait_until(
        "the job at the highest priority",
        Duration::from_secs(10),
        || lightbox.api(&format!("/api/jobs/{id}"))["priority"] == "highest",
    );
    browser.click_fresh(&format!("{row_selector} [data-testid=job-cancel]"));
    browser.wait_until("the job is canceled", Duration::from_secs(10), || {
        attr_of(&browser, &row_selector, "data-state").as_deref() == Some("canceled")
    });
    browser.screenshot("jobs-canceled");
    browser.click_fresh(&format!("{row_selector} [data-testid=job-retry]"));
    browser.wait_until(
        "the job runs again and fails",
        Duration::from_secs(30),
        || {
            matches!(
                attr_of(&browser, &row_selector, "data-state").as_deref(),
                Some("waiting_retry" | "failed" | "running" | "queued")
            )
        },
    );
    browser.click_fresh(&format!("{row_selector} [data-testid=job-details]"));
    browser.wait_for_text("body", "cannot connect to 127.0.0.1");
    browser.screenshot("jobs-details");
    let record = lightbox.api(&format!("/api/jobs/{id}"));
    let log: Vec<&str> = record["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    let retried = log
        .iter()
        .position(|m| m.contains("queued again"))
        .expect("retried");
    assert!(
        log[..retried].iter().any(|m| m.contains("canceled")),
        "{log:?}"
    );
    assert!(
        log[retried..].iter().any(|m| m.contains("failed")),
        "{log:?}"
    );

    // Upload files from the import page: the store fills, the summary says so.
    let source = dir.path().join("upload");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 3,
            rows: 32,
            columns: 32,
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
    browser.find("[data-testid=tab-import]").click();
    browser
        .find("[data-testid=import-files]")
        .send_keys(&files.join("\n"));
    browser.wait_for_text("[data-testid=import-summary]", "3");
    browser.screenshot("import-uploaded");
    assert_eq!(lightbox.api("/api/status")["store"]["instances"], 3);

    // The dark theme renders, and the browser page shows the upload.
    browser.find("[data-testid=tab-browser]").click();
    browser.find("[data-testid=theme-toggle]").click();
    browser.wait_until("one study listed", Duration::from_secs(10), || {
        browser.find_all("[data-testid=study]").len() == 1
    });
    browser.screenshot("browser-dark");

    // A path on the server imported from the page: its report lists every file it skipped with
    // the reason, as an upload's does: a text file, a FIFO, a link to a folder, a broken link.
    let folder = dir.path().join("on-the-server");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 2,
            rows: 16,
            columns: 16,
            seed: 5,
            ..SynthSpec::default()
        },
        &folder,
    )
    .unwrap();
    std::fs::write(folder.join("notes.txt"), "not an image").unwrap();
    let fifo = folder.join("a-fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink(&source, folder.join("link-to-a-folder")).unwrap();
    std::os::unix::fs::symlink(folder.join("gone"), folder.join("broken-link")).unwrap();
    browser.find("[data-testid=tab-import]").click();
    browser
        .find("[data-testid=import-path]")
        .send_keys(folder.to_str().unwrap());
    browser.find("[data-testid=import-path-go]").click();
    browser.wait_for_text(
        "[data-testid=import-path-status] [data-testid=import-skipped]",
        "4 skipped",
    );
    let status = text_of(&browser, "[data-testid=import-path-status]");
    assert!(status.contains("2 stored"), "{status}");
    let skipped: Vec<String> = browser
        .find_all("[data-testid=import-path-status] [data-testid=import-skipped-file]")
        .iter()
        .map(|e| e.text())
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    let reason_of = |name: &str| {
        skipped
            .iter()
            .find(|s| s.contains(name))
            .unwrap_or_else(|| panic!("{name} not listed: {skipped:?}"))
            .clone()
    };
    assert!(reason_of("a-fifo").contains("FIFO"), "{skipped:?}");
    assert!(
        reason_of("link-to-a-folder").contains("link to a folder"),
        "{skipped:?}"
    );
    assert!(
        reason_of("broken-link").contains("broken link"),
        "{skipped:?}"
    );
    assert!(reason_of("notes.txt").contains("DICOM"), "{skipped:?}");
    browser.screenshot("import-path-skipped");
    assert_no_page_errors(&browser);
}

#[test]
fn a_node_that_is_down_is_reported_at_once_while_it_is_tried_again() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // One retry (after 2 s), then the query fails for good.
    let lightbox = Lightbox::start(&data);
    lightbox.add_unreachable_node("down");
    open(&browser, &lightbox);
    browser.find("[data-testid=source-down]").click();
    browser.find("[data-testid=search]").click();
    let status = "[data-testid=remote-status-down]";
    browser.wait_until("the failure said", Duration::from_secs(20), || {
        text_of(&browser, status).contains("✗")
    });
    // Said while the engine still tries: the query job has not ended.
    let first = text_of(&browser, status);
    let jobs = lightbox.api("/api/jobs?kind=query");
    let job = &jobs["jobs"][0];
    assert_ne!(
        job["state"], "failed",
        "reported before the retries: {first} / {job}"
    );
    assert!(
        first.contains("cannot connect") && first.contains("trying again"),
        "{first}"
    );
    browser.screenshot("remote-node-down");
    // The last attempt's outcome replaces the line.
    browser.wait_until("the retries' outcome", Duration::from_secs(30), || {
        text_of(&browser, status).contains("after 2 attempts")
    });
    assert_eq!(
        lightbox.api(&format!("/api/jobs/{}", job["id"]))["state"],
        "failed"
    );
}

/// More studies than the browser counts: the list says "more than 1,000", keeps loading as it
/// is scrolled, gives the exact number once it reaches its end, and counts every match at
/// once when asked ("Count all").
#[test]
fn a_list_longer_than_the_count_says_more_than_and_counts_exactly_at_its_end() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let source = dir.path().join("source");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 202,
            studies_per_patient: 5,
            series_per_study: 1,
            instances_per_series: 1,
            rows: 8,
            columns: 8,
            seed: 12,
            ..SynthSpec::default()
        },
        &source,
    )
    .unwrap();
    let imported = common::lightbox(&data, &["import", source.to_str().unwrap()]);
    assert!(imported.status.success(), "{imported:?}");
    let lightbox = Lightbox::start(&data);
    let page = lightbox.api("/api/studies?limit=50");
    assert_eq!(
        (page["total"].clone(), page["total_exact"].clone()),
        (json!(1000), json!(false))
    );
    let all = lightbox.api("/api/studies?limit=1&count=all");
    assert_eq!(
        (all["total"].clone(), all["total_exact"].clone()),
        (json!(1010), json!(true))
    );

    open(&browser, &lightbox);
    let count = || text_of(&browser, "#result-count").replace([',', '\u{202f}', '\u{a0}'], "");
    browser.wait_until("the bounded count", Duration::from_secs(20), || {
        count().starts_with("More than 1000 studies")
    });
    assert_eq!(
        attr_of(&browser, "#result-count", "data-total-exact").as_deref(),
        Some("false")
    );
    assert!(count().contains("(50 shown)"), "{}", count());
    browser.screenshot("more-than-counted");
    browser.wait_until("the whole list", Duration::from_secs(60), || {
        browser.execute(
            "window.scrollTo(0, document.body.scrollHeight); return true",
            &[],
        );
        count() == "1010 studies"
    });
    assert_eq!(
        attr_of(&browser, "#result-count", "data-total-exact").as_deref(),
        Some("true")
    );
    let rows = browser.execute(
        "return new Set([...document.querySelectorAll('[data-study-uid]')].map((e) => e.dataset.studyUid)).size",
        &[],
    );
    assert_eq!(rows, json!(1010));
    // A new list counts up to the bound again; asked for, it counts every match at once.
    browser.refresh();
    browser.wait_until("the bounded count again", Duration::from_secs(20), || {
        count().starts_with("More than 1000 studies")
    });
    assert!(browser.find("[data-testid=count-all]").is_displayed());
    browser.screenshot("count-all-offered");
    browser.set_window_size(800, 900);
    browser.find("[data-testid=theme-toggle]").click();
    browser.screenshot("count-all-offered-dark-800");
    browser.find("[data-testid=count-all]").click();
    browser.wait_until("every match counted", Duration::from_secs(20), || {
        count().starts_with("1010 studies")
    });
    assert!(count().contains(" shown)"), "{}", count());
    assert_eq!(
        attr_of(&browser, "#result-count", "data-total-exact").as_deref(),
        Some("true")
    );
    assert!(!browser.find("[data-testid=count-all]").is_displayed());
    assert_no_page_errors(&browser);
}
