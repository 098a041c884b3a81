//! `lightbox export` and the page's downloads: a folder or zip of media with a DICOMDIR from the
//! command line, and, in a real headless Chromium against `lightbox serve`, a selection of
//! several studies downloaded as one zip (as media, too), a study modified, and one
//! de-identified from its menu with the report read on the jobs page.

mod common;

use common::browser::Browser;
use common::serve::Serve;
use common::{lightbox, ok_json};
use lightbox_synth::SynthSpec;
use std::io::Read;
use std::time::Duration;

fn generated(dir: &std::path::Path) -> std::path::PathBuf {
    let source = dir.join("generated");
    let spec = SynthSpec {
        patients: 2,
        studies_per_patient: 2,
        series_per_study: 2,
        instances_per_series: 2,
        rows: 16,
        columns: 16,
        seed: 2024,
        ..SynthSpec::default()
    };
    lightbox_synth::generate(&spec, &source).unwrap();
    source
}

/// A data directory under `dir` holding the generated studies.
fn imported(dir: &std::path::Path) -> std::path::PathBuf {
    let data = dir.join("data");
    let source = generated(dir);
    assert!(lightbox(&data, &["import", source.to_str().unwrap()])
        .status
        .success());
    data
}

fn study_uids(data: &std::path::Path) -> Vec<String> {
    let studies = ok_json(data, &["studies", "--json"]);
    let list = studies
        .as_array()
        .or_else(|| studies["studies"].as_array())
        .unwrap();
    list.iter()
        .map(|s| s["StudyInstanceUID"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn export_writes_media_folders_and_zips_and_refuses_a_full_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = imported(dir.path());
    let studies = study_uids(&data);
    assert_eq!(studies.len(), 4);

    let out = dir.path().join("media");
    let report = ok_json(
        &data,
        &[
            "export",
            "--study",
            &studies[0],
            "--study",
            &studies[1],
            "--dicomdir",
            "--json",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(report["files"], 8, "{report}");
    assert_eq!(report["dicomdir_records"], 8);
    assert!(out.join("DICOMDIR").is_file());
    let file_set =
        lightbox_dicom::read_file(&out.join("DICOMDIR"), lightbox_dicom::ReadMode::Full).unwrap();
    let referenced: Vec<Vec<String>> = file_set
        .dataset
        .items(lightbox_dicom::tag::DIRECTORY_RECORD_SEQUENCE)
        .iter()
        .map(|r| r.texts(lightbox_dicom::tag::REFERENCED_FILE_ID))
        .filter(|ids| !ids.is_empty())
        .collect();
    assert_eq!(referenced.len(), 8);
    for components in &referenced {
        let mut path = out.clone();
        path.extend(components);
        assert!(path.is_file(), "{}", path.display());
    }

    // Again into the same folder: refused, with the reason, and nothing changed.
    let again = lightbox(
        &data,
        &["export", "--study", &studies[0], out.to_str().unwrap()],
    );
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("is not empty"), "{said}");

    // A zip of a whole patient, readable names.
    let zip_path = dir.path().join("patient.zip");
    let patient = ok_json(&data, &["studies", "--json"]);
    let patient_id = patient
        .as_array()
        .or_else(|| patient["studies"].as_array())
        .unwrap()[0]["PatientID"]
        .as_str()
        .unwrap()
        .to_string();
    let report = ok_json(
        &data,
        &[
            "export",
            "--patient",
            &patient_id,
            "--zip",
            zip_path.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(report["files"], 8, "{report}");
    let archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    assert_eq!(archive.len(), 8);
    assert!(archive.file_names().all(|n| n.ends_with(".dcm")));
}

/// The downloads the page starts, in order (anchors clicked, recorded instead of followed).
fn downloads(browser: &Browser) -> Vec<String> {
    serde_json::from_value(browser.execute("return window.__downloads || []", &[])).unwrap()
}

#[test]
fn a_selection_of_studies_downloads_as_one_zip() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = imported(dir.path());
    let serve = Serve::start(&data, &[]);
    let url = serve.url.clone();
    browser.goto(&format!("{url}/"));
    browser.wait_until("the studies", Duration::from_secs(20), || {
        browser.find_all("[data-testid=study]").len() == 4
    });
    browser.execute(
        "window.__downloads = [];
         HTMLAnchorElement.prototype.click = function () { window.__downloads.push(this.href); };",
        &[],
    );
    let chosen: Vec<String> = serde_json::from_value(browser.execute(
        "const rows = [...document.querySelectorAll('[data-testid=study]')].slice(0, 2);
         for (const r of rows) r.querySelector('input[type=checkbox]').click();
         return rows.map(r => r.dataset.studyUid);",
        &[],
    ))
    .unwrap();
    browser.find("[data-testid=selection-download]").click();
    browser
        .find("[data-testid=selection-download-media]")
        .click();
    let started = downloads(&browser);
    assert_eq!(started.len(), 2, "one download per click: {started:?}");
    for href in &started {
        for uid in &chosen {
            assert!(href.contains(&format!("study={uid}")), "{href} lacks {uid}");
        }
    }
    assert!(!started[0].contains("dicomdir"));
    assert!(started[1].ends_with("dicomdir=1"), "{}", started[1]);

    // What the media link gives: both studies' instances and the DICOMDIR, in one zip.
    let mut response = common::http().get(&started[1]).call().unwrap();
    let mut zipped = Vec::new();
    response
        .body_mut()
        .as_reader()
        .read_to_end(&mut zipped)
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    assert_eq!(archive.len(), 2 * 4 + 1);
    assert_eq!(archive.by_index(8).unwrap().name(), "DICOMDIR");
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    drop(serve);
}

#[test]
fn a_study_is_modified_from_its_menu() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = imported(dir.path());
    let study = study_uids(&data)[0].clone();
    let serve = Serve::start(&data, &[]);
    let url = serve.url.clone();
    browser.goto(&format!("{url}/"));
    let row = format!("[data-testid=study][data-study-uid='{study}']");
    browser.wait_until("the study", Duration::from_secs(20), || {
        browser.try_find(&row).is_some()
    });
    browser.click_fresh(&format!("{row} .study-row [data-testid=menu-button]"));
    browser.find("[data-testid=action-modify]").click();
    let id = browser.find("[data-testid=modify-patient-id]");
    id.clear();
    id.send_keys("FIXED-ID");
    let description = browser.find("[data-testid=modify-study-description]");
    description.clear();
    description.send_keys("Corrected description");
    browser.find("[data-testid=modify-save]").click();
    browser.wait_until("the study modified", Duration::from_secs(30), || {
        let s = common::get_json(&format!("{url}/api/studies/{study}"));
        s["study"]["PatientID"] == "FIXED-ID"
            && s["study"]["StudyDescription"] == "Corrected description"
    });
    let job = &common::get_json(&format!("{url}/api/jobs?kind=modify"))["jobs"][0];
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["spec"]["set"]["PatientID"], "FIXED-ID");
    assert!(
        job["spec"]["set"].get("PatientName").is_none(),
        "only what changed: {job}"
    );
    assert_eq!(job["output"]["instances"], 4);
    // The page shows it once the store changed.
    browser.wait_for_text(&row, "Corrected description");
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    drop(serve);
}

#[test]
fn a_study_is_de_identified_from_its_menu_and_its_report_is_readable() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = imported(dir.path());
    let study = study_uids(&data)[0].clone();
    let serve = Serve::start(&data, &[]);
    let url = serve.url.clone();
    let before = common::get_json(&format!("{url}/api/studies/{study}"));
    browser.goto(&format!("{url}/"));
    let row = format!("[data-testid=study][data-study-uid='{study}']");
    browser.wait_until("the study", Duration::from_secs(20), || {
        browser.try_find(&row).is_some()
    });
    browser.click_fresh(&format!("{row} .study-row [data-testid=menu-button]"));
    browser.find("[data-testid=action-anonymize]").click();
    browser
        .find("[data-testid=anonymize-patient-id]")
        .send_keys("RESEARCH-7");
    browser
        .find("[data-testid=anonymize-patient-name]")
        .send_keys("Subject^Seven");
    browser
        .find("[data-testid=anonymize-option-retain-dates]")
        .click();
    // A rectangle that is not one is refused in the dialog, with the reason.
    let blank = browser.find("[data-testid=anonymize-blank]");
    blank.send_keys("0,0,8");
    browser.find("[data-testid=anonymize-save]").click();
    browser.wait_for_text("[data-testid=anonymize-error]", "x,y,width,height");
    blank.clear();
    blank.send_keys("0,0,8,4");
    browser.screenshot("anonymize-dialog");
    browser.find("[data-testid=anonymize-save]").click();

    let job = || common::get_json(&format!("{url}/api/jobs?kind=anonymize"))["jobs"][0].clone();
    browser.wait_until("the copy made", Duration::from_secs(60), || {
        job()["state"] == "completed"
    });
    let job = job();
    let title = job["title"].as_str().unwrap();
    assert!(
        title.starts_with("de-identify the study of ") && title.ends_with(" into the local store"),
        "{title}"
    );
    assert_eq!(job["spec"]["options"], serde_json::json!(["retain-dates"]));
    assert_eq!(
        job["spec"]["destination"],
        serde_json::json!({"to": "local"})
    );
    assert_eq!(
        job["spec"]["blank"],
        serde_json::json!([{"x": 0, "y": 0, "width": 8, "height": 4}])
    );
    let out = &job["output"]["studies"][0];
    assert_eq!(out["source_study"], study.as_str(), "{job}");
    assert_eq!(out["PatientID"], "RESEARCH-7");
    assert_eq!(out["PatientName"], "Subject^Seven");
    // The copy is a new study of the pseudonym; the original is as it was.
    let new_uid = out["StudyInstanceUID"].as_str().unwrap();
    assert_ne!(new_uid, study);
    let copy = common::get_json(&format!("{url}/api/studies/{new_uid}"));
    assert_eq!(copy["study"]["PatientID"], "RESEARCH-7", "{copy}");
    assert_eq!(
        common::get_json(&format!("{url}/api/studies/{study}"))["study"],
        before["study"]
    );

    // The report on the jobs page: the new study, and what was done to each attribute.
    browser.goto(&format!("{url}/#jobs"));
    let row = format!("[data-testid=job-row][data-job-id='{}']", job["id"]);
    browser
        .find(&format!("{row} [data-testid=job-details]"))
        .click();
    browser.wait_until("the report", Duration::from_secs(10), || {
        browser
            .try_find("[data-testid=job-anonymized-studies] tbody tr")
            .is_some()
    });
    let studies = browser.find("[data-testid=job-anonymized-studies]").text();
    assert!(
        studies.contains("RESEARCH-7") && studies.contains(new_uid),
        "{studies}"
    );
    let changes: Vec<String> = serde_json::from_value(browser.execute(
        "return [...document.querySelectorAll('[data-testid=job-deid-changes] tbody tr')]
           .map(r => r.innerText.replace(/\\s+/g, ' ').trim())",
        &[],
    ))
    .unwrap();
    assert!(
        changes.iter().any(|r| r.starts_with("StudyInstanceUID")),
        "{changes:?}"
    );
    assert!(
        changes.iter().any(|r| r.starts_with("StudyDate")),
        "dates shifted: {changes:?}"
    );
    let summary = browser.find("[data-testid=job-summary]").text();
    assert!(
        summary.contains("retain-dates") && summary.contains("0,0,8,4"),
        "{summary}"
    );
    browser.screenshot("anonymize-report");
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    drop(serve);
}
