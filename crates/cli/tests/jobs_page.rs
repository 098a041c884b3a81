//! The Jobs page with more jobs than a page holds, in a real headless Chromium against
//! `lightbox serve`: paging through every job, a text filter the server applies to all of them,
//! and a job that arrives while an older page is shown. Screenshots go to
//! `target/ui-screenshots/`.

mod common;

use common::browser::Browser;
use common::serve::Serve;
use serde_json::{json, Value};
use std::time::Duration;

const JOBS: u64 = 250;

fn submit(url: &str, series_uid: &str) -> i64 {
    let mut response = common::http()
        .post(format!("{url}/api/jobs"))
        .header("content-type", "application/json")
        .send(
            json!({ "spec": { "kind": "thumbnail", "series_uid": series_uid, "size": 64 } })
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    let answer: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    answer["id"].as_i64().unwrap_or_else(|| panic!("{answer}"))
}

/// The IDs of the job rows shown, in order.
fn shown_ids(browser: &Browser) -> Vec<i64> {
    serde_json::from_value(browser.execute(
        "return [...document.querySelectorAll('[data-testid=job-row]')].map(r => Number(r.dataset.jobId));",
        &[],
    ))
    .unwrap()
}

/// The server's IDs of a page of jobs.
fn page_ids(url: &str, query: &str) -> Vec<i64> {
    common::get_json(&format!("{url}/api/jobs?{query}"))["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect()
}

fn count_text(browser: &Browser) -> String {
    browser.find("[data-testid=jobs-count]").text()
}

#[test]
fn every_job_is_reached_page_by_page_and_the_filter_covers_them_all() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(&dir.path().join("data"), &[]);
    let url = serve.url.clone();
    // Thumbnails of series the store does not have: each fails at once.
    for i in 0..JOBS {
        submit(&url, &format!("1.2.3.{i}"));
    }
    let settled = || {
        common::get_json(&format!(
            "{url}/api/jobs?state=queued&state=running&state=waiting_retry&limit=1"
        ))["total"]
            == json!(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !settled() {
        assert!(std::time::Instant::now() < deadline, "jobs still pending");
        std::thread::sleep(Duration::from_millis(100));
    }

    browser.goto(&format!("{url}/#jobs"));
    browser.wait_until("the first page", Duration::from_secs(10), || {
        shown_ids(&browser) == page_ids(&url, "limit=100")
    });
    assert_eq!(count_text(&browser), "1–100 of 250 jobs");
    assert!(!browser.find("[data-testid=jobs-newer]").is_enabled());
    browser.find("[data-testid=jobs-older]").click();
    browser.wait_until("the second page", Duration::from_secs(10), || {
        shown_ids(&browser) == page_ids(&url, "limit=100&offset=100")
    });
    assert_eq!(count_text(&browser), "101–200 of 250 jobs");
    browser.find("[data-testid=jobs-older]").click();
    browser.wait_until("the last page", Duration::from_secs(10), || {
        shown_ids(&browser) == page_ids(&url, "limit=100&offset=200")
    });
    assert_eq!(count_text(&browser), "201–250 of 250 jobs");
    assert!(!browser.find("[data-testid=jobs-older]").is_enabled());
    let oldest = *shown_ids(&browser).last().unwrap();
    assert_eq!(
        oldest,
        *page_ids(&url, "limit=1&offset=249").first().unwrap()
    );
    browser.screenshot("jobs-last-page");

    // A job arriving meanwhile does not push into an old page: the Newer button counts it.
    let late = submit(&url, "1.2.3.late");
    browser.wait_for_text("[data-testid=jobs-newer]", "Newer (1 new)");
    assert!(!shown_ids(&browser).contains(&late));

    // The text filter asks the server, over every job: one series' thumbnail, from any page.
    browser
        .find("[data-testid=jobs-filter-text]")
        .send_keys("1.2.3.77");
    browser.wait_until("the filtered list", Duration::from_secs(10), || {
        shown_ids(&browser) == page_ids(&url, "text=1.2.3.77")
    });
    assert_eq!(shown_ids(&browser).len(), 1);
    assert_eq!(count_text(&browser), "1–1 of 1 job");
    let title = browser.find("[data-testid=job-row] .job-title").text();
    assert!(title.contains("1.2.3.77"), "{title}");

    // Cleared, back to the first page, newest first, the late job at the top.
    browser.find("[data-testid=jobs-filter-text]").clear();
    browser.execute(
        "document.querySelector('[data-testid=jobs-filter-text]').dispatchEvent(new Event('input'))",
        &[],
    );
    browser.wait_until("the first page again", Duration::from_secs(10), || {
        shown_ids(&browser).first() == Some(&late)
    });
    assert_eq!(count_text(&browser), "1–100 of 251 jobs");
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    drop(serve);
}
