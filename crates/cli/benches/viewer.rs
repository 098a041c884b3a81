//! The viewer in Chromium on a local 200-slice 512×512 CT: from navigation to the first slice
//! drawn and to the whole stack scrollable (performance marks the page sets), the frame rate
//! while scrolling and while dragging the window (one step per animation frame, counted in the
//! page), and the renderer processes' memory with the stack loaded against its 16-bit size.
//!
//! With `LIGHTBOX_TEST_NETNS=1` (inside a private network namespace, where Orthanc may listen)
//! it also opens the same kind of series from Orthanc over C-GET and times the first slice and
//! the whole series against `lightbox retrieve` of it.
//!
//! Run: `cargo bench -p lightbox --bench viewer` (needs chromium and chromium-driver), or with
//! the streaming part: `unshare -n bash -c 'ip link set lo up && LIGHTBOX_TEST_NETNS=1 cargo
//! bench -p lightbox --bench viewer'` (needs Orthanc too).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::browser::Browser;
use common::serve::Serve;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const SLICES: u32 = 200;
const SIZE: u32 = 512;
const ROUNDS: usize = 7;

fn lightbox(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lightbox"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "lightbox {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// Resident memory of Chromium's renderer processes together, in MB.
fn renderer_rss_mb() -> f64 {
    let mut kb = 0u64;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if !cmdline.contains("--type=renderer") {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        kb += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    kb as f64 / 1024.0
}

/// Frames the page drew per second over `ms` while `step` ran once per animation frame.
fn frame_rate(browser: &Browser, step: &str, ms: u32) -> f64 {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         const v = window.lightbox.viewports[0];
         let frames = 0, i = 0;
         const start = performance.now();
         const tick = (now) => {{
           if (now - start >= {ms}) {{ done(frames * 1000 / (now - start)); return; }}
           i++; {step};
           frames++;
           requestAnimationFrame(tick);
         }};
         requestAnimationFrame(tick);"
    );
    browser.execute_async(&script, &[]).as_f64().unwrap()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let source = dir.path().join("ct");
    let (slices, size) = (SLICES.to_string(), SIZE.to_string());
    lightbox(
        &data,
        &[
            "generate",
            source.to_str().unwrap(),
            "--patients",
            "1",
            "--studies",
            "1",
            "--series",
            "1",
            "--instances",
            &slices,
            "--rows",
            &size,
            "--columns",
            &size,
            "--modality",
            "CT",
        ],
    );
    lightbox(&data, &["import", source.to_str().unwrap()]);
    let studies: Value = serde_json::from_str(&lightbox(&data, &["studies", "--json"])).unwrap();
    let study = studies["studies"][0]["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    let series: Value =
        serde_json::from_str(&lightbox(&data, &["series", &study, "--json"])).unwrap();
    let series = series[0]["SeriesInstanceUID"].as_str().unwrap().to_string();

    let serve = Serve::start(&data, &[]);
    let browser = Browser::start();
    browser.set_window_size(1280, 800);
    browser.goto(&format!("{}/", serve.url));
    std::thread::sleep(Duration::from_secs(1));
    let blank = renderer_rss_mb();
    let viewer = format!("{}/view/{study}/{series}", serve.url);
    let (mut first, mut all, mut preview) = (Vec::new(), Vec::new(), Vec::new());
    let mut memory = 0.0;
    for round in 0..ROUNDS {
        // As a click on a tile does: the page navigates to the viewer.
        browser.execute("location.assign(arguments[0])", &[json!(viewer)]);
        browser.wait_until("the whole stack", Duration::from_secs(60), || {
            browser.performance_mark("lightbox:all-loaded").is_some()
        });
        first.push(browser.performance_mark("lightbox:first-slice").unwrap());
        all.push(browser.performance_mark("lightbox:all-loaded").unwrap());
        // When the server's rendering of the first slice was painted (Element Timing).
        let painted = browser.execute_async(
            "const done = arguments[arguments.length - 1];
             new PerformanceObserver((list) => {
               const e = list.getEntries().find((x) => x.identifier === 'first-slice');
               if (e) done(e.renderTime || e.loadTime);
             }).observe({ type: 'element', buffered: true });
             setTimeout(() => done(null), 2000);",
            &[],
        );
        preview.push(
            painted
                .as_f64()
                .expect("the first slice's rendering was painted"),
        );
        if round == 0 {
            std::thread::sleep(Duration::from_millis(500));
            memory = renderer_rss_mb() - blank;
        }
    }
    // Where the time goes: the frame requests of the last round, from the page's resource timing.
    let timing = browser.execute(
        "const r = performance.getEntriesByType('resource').filter((e) => e.name.includes('/frames/'));
         const d = r.map((e) => e.responseEnd - e.startTime).sort((a, b) => a - b);
         const w = r.map((e) => e.responseStart - e.requestStart).sort((a, b) => a - b);
         const first = r.length ? Math.min(...r.map((e) => e.startTime)) : 0;
         const last = r.length ? Math.max(...r.map((e) => e.responseEnd)) : 0;
         const md = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/metadata'));
         return { n: r.length, median: d[d.length >> 1], wait: w[w.length >> 1], first, last,
                  metadata: md ? [md.startTime, md.responseEnd] : null };",
        &[],
    );
    eprintln!("frame requests: {timing}");
    let busy = browser.execute_async(
        "const done = arguments[arguments.length - 1];
         new PerformanceObserver((list) => {
           const t = list.getEntries();
           done({ n: t.length, total: t.reduce((s, e) => s + e.duration, 0),
                  longest: Math.max(0, ...t.map((e) => e.duration)),
                  spans: t.slice(0, 12).map((e) => [Math.round(e.startTime), Math.round(e.duration)]) });
         }).observe({ type: 'longtask', buffered: true });
         setTimeout(() => done('no long tasks recorded'), 2000);",
        &[],
    );
    eprintln!("long tasks on the page's main thread (last round): {busy}");
    let mut scroll: Vec<f64> = (0..ROUNDS)
        .map(|_| frame_rate(&browser, "v.show(i % v.total)", 2000))
        .collect();
    let mut window: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            frame_rate(
                &browser,
                "v.setWindow(40 + (i % 200), 400 + (i % 300))",
                2000,
            )
        })
        .collect();
    let console = browser.console_errors();
    drop(serve);
    let streamed = (std::env::var("LIGHTBOX_TEST_NETNS").as_deref() == Ok("1"))
        .then(|| streaming(&browser, dir.path()));
    drop(browser);

    let pixels_mb = f64::from(SLICES * SIZE * SIZE * 2) / (1024.0 * 1024.0);
    println!("| Chromium, local {SLICES}-slice {SIZE}×{SIZE} CT ({ROUNDS} rounds) | median | p95 | rounds |");
    println!("|---|---:|---:|---|");
    let row = |what: &str, unit: &str, values: &mut Vec<f64>| {
        let rounds: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
        let median = percentile(values, 0.5);
        let p95 = percentile(values, 0.95);
        println!(
            "| {what} | {median:.0} {unit} | {p95:.0} {unit} | {} |",
            rounds.join(" / ")
        );
    };
    row(
        "navigation → first slice shown (server's rendering)",
        "ms",
        &mut preview,
    );
    row(
        "navigation → first slice drawn at full precision",
        "ms",
        &mut first,
    );
    row("navigation → whole stack scrollable", "ms", &mut all);
    row("scrolling, a slice per frame", "fps", &mut scroll);
    row("window drag, a new window per frame", "fps", &mut window);
    println!(
        "| renderer memory with the stack loaded | {memory:.0} MB | | pixels at 16 bits: {pixels_mb:.0} MB ({:.2}×) |",
        memory / pixels_mb
    );
    if let Some((mut first, mut complete, mut retrieve)) = streamed {
        println!();
        println!("| Chromium, {SLICES}-slice {SIZE}×{SIZE} CT on Orthanc over C-GET ({STREAM_ROUNDS} rounds) | median | rounds |");
        println!("|---|---:|---|");
        let row = |what: &str, values: &mut Vec<f64>| {
            let rounds: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
            println!(
                "| {what} | {:.0} ms | {} |",
                percentile(values, 0.5),
                rounds.join(" / ")
            );
        };
        let ratio = percentile(&mut complete.clone(), 0.5) / percentile(&mut retrieve.clone(), 0.5);
        row("navigation → first slice drawn", &mut first);
        row("navigation → whole series scrollable", &mut complete);
        row("`lightbox retrieve` of the series", &mut retrieve);
        println!("| whole series in the viewer ÷ `lightbox retrieve` | {ratio:.2}× | |");
    }
    assert!(console.is_empty(), "console errors: {console:?}");
}

const STREAM_ROUNDS: usize = 3;

/// The series opened from Orthanc in the viewer, and retrieved by the CLI, each into an empty
/// store: (first slice, whole series, `lightbox retrieve`) in ms, a round each.
fn streaming(browser: &Browser, dir: &Path) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let orthanc = support::start_orthanc().expect("Orthanc");
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: SLICES,
        rows: SIZE as u16,
        columns: SIZE as u16,
        seed: 9,
        modality: Some("CT".into()),
        ..lightbox_synth::SynthSpec::default()
    };
    let files = support::synthetic_in_peer(&orthanc.address, &dir.join("remote"), &spec);
    let header = lightbox_dicom::read_file(&files[0], lightbox_dicom::ReadMode::Header).unwrap();
    let study = header
        .dataset
        .first_text(lightbox_dicom::tag::STUDY_INSTANCE_UID)
        .unwrap();
    let series = header
        .dataset
        .first_text(lightbox_dicom::tag::SERIES_INSTANCE_UID)
        .unwrap();
    let node = format!("ORTHANC@127.0.0.1:{}", orthanc.address.port);
    let (mut first, mut complete, mut retrieve) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..STREAM_ROUNDS {
        let data = dir.join(format!("viewer-{round}"));
        lightbox(&data, &["nodes", "add", "orthanc", &node]);
        let serve = Serve::start(&data, &[]);
        browser.goto(&format!("{}/", serve.url));
        let url = format!("{}/view/{study}/{series}?node=orthanc", serve.url);
        browser.execute("location.assign(arguments[0])", &[json!(url)]);
        browser.wait_until("the whole series", Duration::from_secs(120), || {
            browser.performance_mark("lightbox:all-loaded").is_some()
        });
        first.push(browser.performance_mark("lightbox:first-slice").unwrap());
        complete.push(browser.performance_mark("lightbox:all-loaded").unwrap());
        drop(serve);

        let data = dir.join(format!("cli-{round}"));
        lightbox(&data, &["nodes", "add", "orthanc", &node]);
        let started = std::time::Instant::now();
        lightbox(
            &data,
            &[
                "retrieve", "orthanc", "--study", &study, "--series", &series,
            ],
        );
        retrieve.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    (first, complete, retrieve)
}
