//! The browser's worklist table in a real headless Chromium against `lightbox serve`: 1,000
//! studies, sorted by each column both ways, keyboard navigation, the layout remembered, and the
//! filters folding on a narrow screen. Screenshots go to `target/ui-screenshots/`.

mod common;

use common::browser::{keys, Browser};
use common::serve::Serve;
use lightbox_synth::SynthSpec;
use serde_json::{json, Value};
use std::time::Duration;

const STUDIES: usize = 1_000;
const COLUMNS: &[&str] = &[
    "patient_name",
    "patient_id",
    "birth_date",
    "study_date",
    "description",
    "modalities",
    "accession",
    "series",
    "instances",
];

fn open(browser: &Browser, url: &str) {
    browser.goto(url);
    browser.wait_until("the first page rendered", Duration::from_secs(20), || {
        browser.execute("return document.body.dataset.ready === '1'", &[]) == json!(true)
    });
}

/// The Study Instance UIDs of the table's rows, in order.
fn row_uids(browser: &Browser) -> Vec<String> {
    serde_json::from_value(browser.execute(
        "return [...document.querySelectorAll('[data-testid=worklist][data-where=local] tbody.study')].map(b => b.dataset.studyUid);",
        &[],
    ))
    .unwrap()
}

/// Whether the table's first rows are these (more pages may have been loaded below them).
fn starts_with(browser: &Browser, expected: &[String]) -> bool {
    row_uids(browser).get(..expected.len()) == Some(expected)
}

/// The UIDs of the server's first `limit` studies in this order.
fn server_order(url: &str, column: &str, dir: &str, limit: usize) -> Vec<String> {
    let page = common::get_json(&format!(
        "{url}/api/studies?order={column}&dir={dir}&limit={limit}"
    ));
    page["studies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["StudyInstanceUID"].as_str().unwrap().to_string())
        .collect()
}

/// The `aria-sort` of a column's head.
fn aria_sort(browser: &Browser, column: &str) -> Value {
    browser.execute(
        "const b = document.querySelector(`[data-testid=sort-${arguments[0]}]`); return b ? b.closest('th').getAttribute('aria-sort') : null;",
        &[json!(column)],
    )
}

/// The row that has the keyboard focus: its study, or null.
fn focused_study(browser: &Browser) -> Value {
    browser.execute(
        "const a = document.activeElement; return a && a.classList.contains('wl-row') ? a.parentElement.dataset.studyUid : null;",
        &[],
    )
}

fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn press(browser: &Browser, key: &str) {
    browser.find("tr.wl-row:focus").send_keys(key);
}

#[test]
fn a_thousand_studies_sort_by_every_column_and_answer_the_keyboard() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    // 200 patients × 5 studies; studies of one and of three series, so that counts differ.
    let spec = SynthSpec {
        patients: 190,
        studies_per_patient: 5,
        series_per_study: 1,
        instances_per_series: 1,
        rows: 8,
        columns: 8,
        seed: 21,
        ..SynthSpec::default()
    };
    lightbox_synth::generate(&spec, &source.join("a")).unwrap();
    lightbox_synth::generate(
        &SynthSpec {
            patients: 10,
            series_per_study: 3,
            instances_per_series: 2,
            seed: 22,
            ..spec.clone()
        },
        &source.join("b"),
    )
    .unwrap();
    let data = dir.path().join("data");
    let imported = common::ok_json(
        &data,
        &["import", "--link", "--json", source.to_str().unwrap()],
    );
    assert_eq!(imported["imported"], 950 + 300, "{imported}");
    let serve = Serve::start(&data, &[]);
    let url = serve.url.clone();
    browser.set_window_size(1440, 900);
    open(&browser, &format!("{url}/"));

    // The table replaces the tiles; newest first by default.
    browser.find("[data-testid=view-table]").click();
    let newest = server_order(&url, "study_date", "desc", 50);
    browser.wait_until("the worklist", Duration::from_secs(10), || {
        starts_with(&browser, &newest)
    });
    assert_eq!(
        browser.execute(
            "return document.querySelectorAll('[data-testid=patient]').length",
            &[]
        ),
        json!(0),
        "no patient groups in the table"
    );
    assert_eq!(aria_sort(&browser, "study_date"), json!("descending"));
    browser.screenshot("worklist-newest-first");

    // Dense: with the table's head at the top of the window, 30 studies and more are in view.
    let in_view = browser.execute(
        "const t = document.querySelector('[data-testid=worklist]');\
         window.scrollTo(0, t.getBoundingClientRect().top + window.scrollY - document.querySelector('.topbar').offsetHeight);\
         const head = t.tHead.getBoundingClientRect().bottom;\
         return [...t.querySelectorAll('tr.wl-row')].filter(r => { const b = r.getBoundingClientRect(); return b.top >= head && b.bottom <= window.innerHeight; }).length;",
        &[],
    );
    assert!(in_view.as_u64().unwrap() >= 30, "{in_view} rows in view");
    browser.execute("window.scrollTo(0, 0)", &[]);

    // Every column, both ways: the rows are the server's, in its order.
    let mut orders = std::collections::HashSet::new();
    for column in COLUMNS {
        let first_dir = if ["study_date", "series", "instances"].contains(column) {
            "desc"
        } else {
            "asc"
        };
        let dirs = if first_dir == "asc" {
            ["asc", "desc"]
        } else {
            ["desc", "asc"]
        };
        for dir in dirs {
            let expected = server_order(&url, column, dir, 50);
            browser.click_fresh(&format!("[data-testid=sort-{column}]"));
            browser.wait_until(
                &format!("the table sorted by {column} {dir}"),
                Duration::from_secs(10),
                || starts_with(&browser, &expected),
            );
            let want = if dir == "asc" {
                "ascending"
            } else {
                "descending"
            };
            assert_eq!(aria_sort(&browser, column), json!(want), "{column} {dir}");
            orders.insert(expected);
        }
    }
    assert!(orders.len() >= 14, "{} distinct orders", orders.len());
    browser.screenshot("worklist-sorted");

    // The layout and the sort are remembered (the last sort: fewest instances first).
    let expected = server_order(&url, "instances", "asc", 50);
    open(&browser, &format!("{url}/"));
    browser.wait_until("the remembered table", Duration::from_secs(10), || {
        starts_with(&browser, &expected)
    });
    assert_eq!(aria_sort(&browser, "instances"), json!("ascending"));

    // Scrolling down loads every study, a page at a time.
    browser.click_fresh("[data-testid=sort-patient_name]");
    let expected = server_order(&url, "patient_name", "asc", 50);
    browser.wait_until("sorted by name", Duration::from_secs(10), || {
        starts_with(&browser, &expected)
    });
    browser.wait_until("all 1,000 studies", Duration::from_secs(60), || {
        browser.execute(
            "window.scrollTo(0, document.documentElement.scrollHeight)",
            &[],
        );
        row_uids(&browser).len() == STUDIES
    });
    let mut all = server_order(&url, "patient_name", "asc", 500);
    all.extend(
        common::get_json(&format!(
            "{url}/api/studies?order=patient_name&dir=asc&limit=500&offset=500"
        ))["studies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["StudyInstanceUID"].as_str().unwrap().to_string()),
    );
    assert_eq!(row_uids(&browser), all, "every page in the server's order");

    // The keyboard: '/' goes to the search, arrows and Home/End move between rows.
    browser.execute("window.scrollTo(0, 0)", &[]);
    let uids = row_uids(&browser);
    browser
        .find("[data-testid=worklist] tr.wl-row td.wl-c-patient_id")
        .click();
    assert_eq!(focused_study(&browser), json!(uids[0]));
    for _ in 0..3 {
        press(&browser, keys::DOWN);
    }
    assert_eq!(focused_study(&browser), json!(uids[3]));
    press(&browser, keys::UP);
    assert_eq!(focused_study(&browser), json!(uids[2]));
    press(&browser, keys::PAGE_DOWN);
    assert_eq!(focused_study(&browser), json!(uids[12]));
    press(&browser, keys::END);
    assert_eq!(focused_study(&browser), json!(uids[STUDIES - 1]));
    press(&browser, keys::HOME);
    assert_eq!(focused_study(&browser), json!(uids[0]));
    // Right shows the study's series, Left hides them again.
    press(&browser, keys::RIGHT);
    let tiles = format!("tbody[data-study-uid='{}'] [data-testid=series]", uids[0]);
    browser.wait_until("the study's series", Duration::from_secs(10), || {
        browser.find_all(&tiles).len() == 1 && browser.find(&tiles).is_displayed()
    });
    assert_eq!(
        browser
            .find("tr.wl-row:focus")
            .attr("aria-expanded")
            .as_deref(),
        Some("true")
    );
    press(&browser, keys::LEFT);
    assert!(!browser.find(&tiles).is_displayed(), "series hidden again");
    // Space selects the study.
    press(&browser, keys::SPACE);
    browser.wait_for_text("#selection-count", "1 selected");
    press(&browser, keys::SPACE);
    assert!(!browser.find("#selection-bar").is_displayed());
    press(&browser, "/");
    assert_eq!(
        browser.execute("return document.activeElement.id", &[]),
        json!("f-patient-name")
    );
    // In a field, '/' is a character.
    browser.find("#f-patient-name").send_keys("a/");
    assert_eq!(
        browser.find("#f-patient-name").property("value"),
        json!("a/")
    );
    browser.find("#f-patient-name").clear();
    browser.screenshot("worklist-keyboard");

    // A filter keeps the sort.
    let name = common::get_json(&format!("{url}/api/studies?order=patient_name&limit=1"))
        ["studies"][0]["PatientName"]
        .as_str()
        .unwrap()
        .to_lowercase();
    browser.find("#f-patient-name").send_keys(&name);
    let expected: Vec<String> = common::get_json(&format!(
        "{url}/api/studies?order=patient_name&dir=asc&patient_name={}&limit=50",
        percent_encoded(&name)
    ))["studies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["StudyInstanceUID"].as_str().unwrap().to_string())
        .collect();
    assert!(!expected.is_empty() && expected.len() < 50);
    browser.wait_until("the filtered table", Duration::from_secs(10), || {
        starts_with(&browser, &expected)
    });

    // A narrow window: the filters fold to the name and Search, and open on demand.
    browser.set_window_size(800, 900);
    browser.wait_until("the filters folded", Duration::from_secs(5), || {
        !browser.find("#f-study-description").is_displayed()
    });
    assert!(browser.find("#f-patient-name").is_displayed());
    assert!(browser.find("[data-testid=search]").is_displayed());
    let form_height = browser.execute(
        "return document.querySelector('#filter-form').getBoundingClientRect().height",
        &[],
    );
    assert!(form_height.as_f64().unwrap() < 150.0, "{form_height}");
    let overflow = browser.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
        &[],
    );
    assert_eq!(overflow, json!(0), "the table fits the narrow window");
    browser.screenshot("worklist-narrow");
    browser.find("[data-testid=filters-toggle]").click();
    assert!(browser.find("#f-study-description").is_displayed());
    assert_eq!(
        browser
            .find("[data-testid=filters-toggle]")
            .attr("aria-expanded")
            .as_deref(),
        Some("true")
    );

    // Back to the tiles: patient groups again.
    browser.set_window_size(1440, 900);
    browser.find("[data-testid=view-tiles]").click();
    browser.wait_until("patient groups", Duration::from_secs(10), || {
        !browser.find_all("[data-testid=patient]").is_empty()
    });
    assert!(browser.find_all("[data-testid=worklist]").is_empty());
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    assert_eq!(
        browser.execute("return window.lightboxErrors || []", &[]),
        json!([])
    );
    drop(serve);
}
