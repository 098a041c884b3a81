//! The web UI in Chromium with 100,000 studies in the store: first paint of the study list, and
//! a filter keystroke until the list has been redrawn, both timed inside the page
//! (`performance.now()`), plus the next page when scrolling to the end of the list.
//!
//! Run: `cargo bench -p lightbox --bench ui` (needs chromium and chromium-driver).

#[path = "../tests/common/browser.rs"]
mod browser;
#[path = "../tests/common/serve.rs"]
mod serve;

use browser::Browser;
use serde_json::json;
use serve::Serve;
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
    assert!(console.is_empty(), "console errors: {console:?}");
}
