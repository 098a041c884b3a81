//! The web UI in Chromium with 100,000 studies in the store: first paint of the study list, and
//! a filter keystroke until the list has been redrawn, both timed inside the page
//! (`performance.now()`), plus the next page when scrolling to the end of the list; then the same
//! for the worklist table, and a click on a column's head until the table is sorted again.
//!
//! Run: `cargo bench -p lightbox --bench ui` (needs chromium and chromium-driver).

#[path = "../tests/common/mod.rs"]
mod common;

use common::browser::Browser;
use common::serve::Serve;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PATIENTS: u32 = 20_000;
const STUDIES_PER_PATIENT: u32 = 5;
const ROUNDS: usize = 7;
const KEYSTROKES: &[&str] = &["a", "n", "d", "e", "r"];

fn lightbox(data: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_lightbox"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "lightbox {args:?}");
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let source = dir.path().join("many");
    let started = Instant::now();
    lightbox(
        &data,
        &[
            "generate",
            source.to_str().unwrap(),
            "--patients",
            &PATIENTS.to_string(),
            "--studies",
            &STUDIES_PER_PATIENT.to_string(),
            "--series",
            "1",
            "--instances",
            "1",
            "--rows",
            "8",
            "--columns",
            "8",
        ],
    );
    lightbox(&data, &["import", "--link", source.to_str().unwrap()]);
    eprintln!(
        "store of {} studies ready in {:?}",
        PATIENTS * STUDIES_PER_PATIENT,
        started.elapsed()
    );

    let serve = Serve::start(&data, &[]);
    let url = format!("{}/", serve.url);
    let browser = Browser::start();
    browser.set_window_size(1600, 1000);

    // First paint: navigation start until the first page of studies is in the DOM.
    let mut first_paint = Vec::new();
    for _ in 0..ROUNDS {
        browser.goto(&url);
        browser.wait_until("the study list", Duration::from_secs(30), || {
            browser.execute("return document.body.dataset.ready === '1'", &[]) == json!(true)
        });
        let ms = browser.execute(
            "return performance.getEntriesByName('lightbox-ready')[0].startTime",
            &[],
        );
        first_paint.push(ms.as_f64().unwrap());
    }
    let studies_shown = browser.execute(
        "return document.querySelectorAll('[data-testid=study]').length",
        &[],
    );

    // Keystrokes in the patient name filter: from the input event to the redrawn list.
    let mut keystroke = Vec::new();
    for _ in 0..ROUNDS {
        browser.execute(
            "const f = document.querySelector('[data-testid=filter-patient-name]'); f.value = ''; f.dispatchEvent(new Event('input', {bubbles: true}));",
            &[],
        );
        std::thread::sleep(Duration::from_millis(400));
        for key in KEYSTROKES {
            let ms = browser.execute_async(
                "const [key, done] = arguments;\
                 const f = document.querySelector('[data-testid=filter-patient-name]');\
                 const t0 = performance.now();\
                 document.addEventListener('lightbox:results', () => done(performance.now() - t0), { once: true });\
                 f.value += key; f.dispatchEvent(new Event('input', { bubbles: true }));",
                &[json!(key)],
            );
            keystroke.push(ms.as_f64().unwrap());
        }
    }
    let debounce = browser.execute("return window.lightboxFilterDelay ?? null", &[]);

    // Scrolling to the end of the list: until the next page has been appended.
    browser.goto(&url);
    browser.wait_until("the study list", Duration::from_secs(30), || {
        browser.execute("return document.body.dataset.ready === '1'", &[]) == json!(true)
    });
    let mut next_page = Vec::new();
    for _ in 0..ROUNDS * 2 {
        let ms = browser.execute_async(
            "const done = arguments[0];\
             const t0 = performance.now();\
             document.addEventListener('lightbox:results', () => done(performance.now() - t0), { once: true });\
             window.scrollTo(0, document.documentElement.scrollHeight);",
            &[],
        );
        next_page.push(ms.as_f64().unwrap());
    }
    // The worklist table: first paint, a click on a column's head until the list is sorted
    // again, and filter keystrokes, each as above.
    let table = table_rounds(&browser, &url);
    let console = browser.console_errors();
    drop(browser);
    drop(serve);

    println!(
        "| Chromium, {} studies in the store ({ROUNDS} rounds) | median ms | p95 ms |",
        PATIENTS * STUDIES_PER_PATIENT
    );
    println!("|---|---:|---:|");
    let row = |what: &str, values: &mut Vec<f64>| {
        let median = percentile(values, 0.5);
        let p95 = percentile(values, 0.95);
        println!("| {what} | {median:.0} | {p95:.0} |");
    };
    row(
        &format!("first paint of the study list ({studies_shown} studies drawn)"),
        &mut first_paint,
    );
    row(
        &format!(
            "filter keystroke → list redrawn ({} keystrokes; debounce {debounce} ms included)",
            keystroke.len()
        ),
        &mut keystroke,
    );
    row("scroll to the end → next page appended", &mut next_page);
    let Table {
        mut first_paint,
        mut by_date,
        mut by_name,
        mut by_description,
        mut keystroke,
        rows_drawn,
    } = table;
    row(
        &format!("table: first paint ({rows_drawn} rows drawn)"),
        &mut first_paint,
    );
    row(
        "table: sort by study date (click → rows redrawn)",
        &mut by_date,
    );
    row("table: sort by patient name", &mut by_name);
    row("table: sort by description", &mut by_description);
    row(
        &format!(
            "table: filter keystroke → rows redrawn ({} keystrokes)",
            keystroke.len()
        ),
        &mut keystroke,
    );
    assert!(console.is_empty(), "console errors: {console:?}");
}

/// What the worklist table's rounds measured, in ms.
struct Table {
    first_paint: Vec<f64>,
    by_date: Vec<f64>,
    by_name: Vec<f64>,
    by_description: Vec<f64>,
    keystroke: Vec<f64>,
    rows_drawn: Value,
}

/// From a click (or an input event) to the next `lightbox:results`, timed in the page.
const UNTIL_RESULTS: &str = "const [css, key, done] = arguments;\
     const t0 = performance.now();\
     document.addEventListener('lightbox:results', () => done(performance.now() - t0), { once: true });\
     const el = document.querySelector(css);\
     if (key === null) el.click(); else { el.value += key; el.dispatchEvent(new Event('input', { bubbles: true })); }";

fn table_rounds(browser: &Browser, url: &str) -> Table {
    let ready = || {
        browser.wait_until("the table", Duration::from_secs(30), || {
            browser.execute(
                "return document.body.dataset.ready === '1' && !!document.querySelector('[data-testid=worklist]')",
                &[],
            ) == json!(true)
        })
    };
    // The layout is a stored preference; set before the page starts, it opens as a table.
    browser.goto(url);
    browser.execute(
        "localStorage.setItem('lightbox.listView', '\"table\"'); localStorage.setItem('lightbox.listSort', JSON.stringify({ column: 'study_date', dir: 'desc' }));",
        &[],
    );
    let mut first_paint = Vec::new();
    for _ in 0..ROUNDS {
        browser.goto(url);
        ready();
        let ms = browser.execute(
            "return performance.getEntriesByName('lightbox-ready')[0].startTime",
            &[],
        );
        first_paint.push(ms.as_f64().unwrap());
    }
    let rows_drawn = browser.execute(
        "return document.querySelectorAll('[data-testid=worklist] tr.wl-row').length",
        &[],
    );
    let click = |column: &str| {
        let css = format!("[data-testid=sort-{column}]");
        let ms = browser.execute_async(UNTIL_RESULTS, &[json!(css), Value::Null]);
        // The next page may follow the first; let it land before the next click.
        std::thread::sleep(Duration::from_millis(300));
        ms.as_f64().unwrap()
    };
    let (mut by_date, mut by_name, mut by_description) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        by_name.push(click("patient_name"));
        by_date.push(click("study_date"));
        by_description.push(click("description"));
    }
    click("study_date");
    let mut keystroke = Vec::new();
    for _ in 0..ROUNDS {
        browser.execute(
            "const f = document.querySelector('[data-testid=filter-patient-name]'); f.value = ''; f.dispatchEvent(new Event('input', {bubbles: true}));",
            &[],
        );
        std::thread::sleep(Duration::from_millis(400));
        for key in KEYSTROKES {
            let ms = browser.execute_async(
                UNTIL_RESULTS,
                &[json!("[data-testid=filter-patient-name]"), json!(key)],
            );
            keystroke.push(ms.as_f64().unwrap());
        }
    }
    Table {
        first_paint,
        by_date,
        by_name,
        by_description,
        keystroke,
        rows_drawn,
    }
}
