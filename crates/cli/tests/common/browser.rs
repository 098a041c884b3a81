//! A small synchronous W3C WebDriver client for the UI tests: it starts chromedriver on a free
//! loopback port, opens one headless Chromium session and drives it.
//!
//! Every command that fails panics with the command, the WebDriver error code and its message.
//! Dropping the `Browser` (also while a test panics) ends the session, which quits Chromium, and
//! then stops chromedriver.
//!
//! Chromium and chromedriver are `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's
//! `chromium` and `chromium-driver`), or whatever the `CHROMIUM` and `CHROMEDRIVER` environment
//! variables name. Without them a test skips through [`Browser::start_or_skip`], unless `CI=true`.
#![allow(dead_code)]

use base64::Engine as _;
use serde_json::{json, Value};
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The W3C key for an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How often `find`, `wait_until` and `wait_for_text` look again.
const POLL: Duration = Duration::from_millis(100);

/// Special keys for [`Element::send_keys`], e.g. `input.send_keys(&format!("abc{}", keys::ENTER))`.
pub mod keys {
    pub const BACKSPACE: &str = "\u{E003}";
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
    pub const SHIFT: &str = "\u{E008}";
    pub const CONTROL: &str = "\u{E009}";
    pub const ALT: &str = "\u{E00A}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const SPACE: &str = "\u{E00D}";
    pub const PAGE_UP: &str = "\u{E00E}";
    pub const PAGE_DOWN: &str = "\u{E00F}";
    pub const END: &str = "\u{E010}";
    pub const HOME: &str = "\u{E011}";
    pub const LEFT: &str = "\u{E012}";
    pub const UP: &str = "\u{E013}";
    pub const RIGHT: &str = "\u{E014}";
    pub const DOWN: &str = "\u{E015}";
    pub const DELETE: &str = "\u{E017}";
}

/// A WebDriver error answer (or a failed HTTP exchange, as `error` "http").
#[derive(Debug)]
pub struct WebDriverError {
    pub command: String,
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WebDriver {}: {}: {}",
            self.command, self.error, self.message
        )
    }
}

/// A headless Chromium session driven through chromedriver.
pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:PORT`
    server: String,
    session: String,
    /// Chromium's own process id, as chromedriver reports it (to kill it if the session cannot
    /// be ended).
    chromium_pid: Option<u64>,
    agent: ureq::Agent,
    /// Chromium's profile and chromedriver's log.
    dir: tempfile::TempDir,
    /// How long `find` and `wait_for_text` wait (10 s unless changed).
    pub timeout: Duration,
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The executable named by `var`, else the first of `candidates` that exists.
fn locate(var: &str, candidates: &[&str]) -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var(var) {
        return if Path::new(&path).is_file() {
            Ok(PathBuf::from(path))
        } else {
            Err(format!("{var}={path} does not exist"))
        };
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "{} not found (install Debian's chromium and chromium-driver, or set {var})",
                candidates[0]
            )
        })
}

fn binaries() -> Result<(PathBuf, PathBuf), String> {
    Ok((
        locate("CHROMEDRIVER", &["/usr/bin/chromedriver"])?,
        locate("CHROMIUM", &["/usr/bin/chromium"])?,
    ))
}

/// Where screenshots go: `<target dir>/ui-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("ui-screenshots")
}

/// A file-name-safe version of `s` (letters, digits, `-`, `_`, `.`; at most 80 characters).
fn file_name(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .take(80)
        .collect()
}

/// The running test's name (its thread's), for failure screenshots.
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("test")
        .replace("::", "-")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; panics when that fails, with the reason.
    pub fn start() -> Browser {
        let (driver, chromium) = binaries().unwrap_or_else(|e| panic!("{e}"));
        Browser::launch(&driver, &chromium)
    }

    /// [`Browser::start`], or `None` (after saying so on stderr) when Chromium or chromedriver is
    /// not installed; under `CI=true` their absence panics.
    pub fn start_or_skip() -> Option<Browser> {
        match binaries() {
            Ok((driver, chromium)) => Some(Browser::launch(&driver, &chromium)),
            Err(e) if under_ci() => panic!("{e} (needed under CI=true)"),
            Err(e) => {
                eprintln!("skipped: {e}");
                None
            }
        }
    }

    fn launch(driver_path: &Path, chromium: &Path) -> Browser {
        let started = Instant::now();
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log_path = dir.path().join("chromedriver.log");
        let log = File::create(&log_path).expect("chromedriver log");
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("chromedriver log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_path.display()));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(90)))
            .build()
            .into();
        let mut browser = Browser {
            driver,
            server: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            chromium_pid: None,
            agent,
            dir,
            timeout: Duration::from_secs(10),
        };
        let driver_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

        // chromedriver is ready once /status says so.
        loop {
            if let Ok(Some(status)) = browser.driver.try_wait() {
                panic!("chromedriver exited ({status}):\n{}", driver_log());
            }
            if let Ok(status) = browser.request("GET", "/status", "/status", None) {
                if status["ready"] == true {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                panic!("chromedriver not ready after 20 s:\n{}", driver_log());
            }
            sleep(Duration::from_millis(50));
        }

        let profile = browser.dir.path().join("profile");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--no-proxy-server",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,900",
            // One locale wherever the tests run: dates are shown in the browser's.
            "--lang=en-US",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"pageLoad": 30_000, "script": 30_000},
        }}});
        let session = browser
            .request("POST", "/session", "/session", Some(&capabilities))
            .unwrap_or_else(|e| panic!("{e}\nchromedriver log:\n{}", driver_log()));
        browser.session = session["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        browser.chromium_pid = session["capabilities"]["goog:processID"].as_u64();
        browser
    }

    /// One HTTP exchange with chromedriver (`path` from its root): the answer's `value`, or its
    /// error, which names the command as `method` and `command`.
    fn request(
        &self,
        method: &str,
        path: &str,
        command: &str,
        body: Option<&Value>,
    ) -> Result<Value, WebDriverError> {
        let url = format!("{}{path}", self.server);
        let command = format!("{method} {command}");
        let fail = |error: &str, message: String| WebDriverError {
            command: command.clone(),
            error: error.to_string(),
            message,
        };
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json; charset=utf-8")
                .send(body.unwrap_or(&json!({})).to_string()),
        };
        let mut response = response.map_err(|e| fail("http", e.to_string()))?;
        let status = response.status();
        let text = response
            .body_mut()
            .with_config()
            .limit(512 << 20)
            .read_to_string()
            .map_err(|e| fail("http", e.to_string()))?;
        let mut answer: Value = serde_json::from_str(&text)
            .map_err(|e| fail("http", format!("HTTP {status}, not JSON ({e}): {text}")))?;
        let value = answer["value"].take();
        match value["error"].as_str() {
            Some(error) => Err(fail(
                error,
                value["message"].as_str().unwrap_or("").to_string(),
            )),
            None if !status.is_success() => Err(fail("http", format!("HTTP {status}: {text}"))),
            None => Ok(value),
        }
    }

    /// A session command (`path` relative to the session, e.g. "/url"), its error as a value.
    fn try_cmd(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, WebDriverError> {
        let session_path = format!("/session/{}{path}", self.session);
        let command = if path.is_empty() {
            "/session/{id}"
        } else {
            path
        };
        self.request(method, &session_path, command, body)
    }

    /// A session command; an error panics.
    fn cmd(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.try_cmd(method, path, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    // Navigation.

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(&json!({ "url": url })));
    }

    pub fn current_url(&self) -> String {
        string(self.cmd("GET", "/url", None))
    }

    pub fn refresh(&self) {
        self.cmd("POST", "/refresh", None);
    }

    pub fn back(&self) {
        self.cmd("POST", "/back", None);
    }

    pub fn title(&self) -> String {
        string(self.cmd("GET", "/title", None))
    }

    /// The window's outer size, in CSS pixels.
    pub fn set_window_size(&self, width: u32, height: u32) {
        let rect = json!({ "width": width, "height": height });
        self.cmd("POST", "/window/rect", Some(&rect));
    }

    // Elements.

    /// The first element matching `css`, waiting up to `self.timeout` for one; then panics, with
    /// a screenshot.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.find_in("", css)
    }

    /// The first element matching `css` now, if any.
    pub fn try_find(&self, css: &str) -> Option<Element<'_>> {
        self.try_find_in("", css)
    }

    /// Every element matching `css` now (no waiting).
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        self.find_all_in("", css)
    }

    /// `scope` is "" (the document) or "/element/ID".
    fn find_in(&self, scope: &str, css: &str) -> Element<'_> {
        let mut found = None;
        self.wait_until(
            &format!("an element matching `{css}`"),
            self.timeout,
            || {
                found = self.try_find_in(scope, css);
                found.is_some()
            },
        );
        found.expect("found")
    }

    fn try_find_in(&self, scope: &str, css: &str) -> Option<Element<'_>> {
        let by = json!({ "using": "css selector", "value": css });
        match self.try_cmd("POST", &format!("{scope}/element"), Some(&by)) {
            Ok(value) => Some(self.element(&value)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("{e}"),
        }
    }

    fn find_all_in(&self, scope: &str, css: &str) -> Vec<Element<'_>> {
        let by = json!({ "using": "css selector", "value": css });
        match self.cmd("POST", &format!("{scope}/elements"), Some(&by)) {
            Value::Array(all) => all.iter().map(|e| self.element(e)).collect(),
            other => panic!("find_all({css}): not a list: {other}"),
        }
    }

    fn element(&self, reference: &Value) -> Element<'_> {
        let id = reference[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("not an element reference: {reference}"));
        Element {
            browser: self,
            id: id.to_string(),
        }
    }

    /// Calls `condition` every 100 ms until it holds; after `timeout` panics with `what` (what
    /// was waited for), the page's URL and a screenshot.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
        let started = Instant::now();
        while !condition() {
            if started.elapsed() >= timeout {
                let url = self.try_cmd("GET", "/url", None).map(string);
                let url = url.unwrap_or_else(|e| e.to_string());
                let shot = match self.try_screenshot(&format!("{}-failed", test_name())) {
                    Ok(path) => path.display().to_string(),
                    Err(e) => format!("none ({e})"),
                };
                let errors = self
                    .try_cmd(
                        "POST",
                        "/execute/sync",
                        Some(
                            &json!({ "script": "return window.lightboxErrors || []", "args": [] }),
                        ),
                    )
                    .map(|errors| errors.to_string())
                    .unwrap_or_else(|e| e.to_string());
                let console = self
                    .try_cmd("POST", "/se/log", Some(&json!({ "type": "browser" })))
                    .map(|entries| entries.to_string())
                    .unwrap_or_else(|e| e.to_string());
                panic!(
                    "waited {:.1} s for {what}, in vain; page {url}; screenshot {shot}; \
                     the page's errors {errors}; its console {console}",
                    timeout.as_secs_f64()
                );
            }
            sleep(POLL);
        }
    }

    /// Waits (up to `self.timeout`) until an element matching `css` contains `text`; returns the
    /// first that does.
    pub fn wait_for_text(&self, css: &str, text: &str) -> Element<'_> {
        let mut found = None;
        let what = format!("an element matching `{css}` with the text {text:?}");
        self.wait_until(&what, self.timeout, || {
            // An element replaced since it was found (stale) just does not count this time.
            found = self.find_all(css).into_iter().find(|e| {
                let read = self.try_cmd("GET", &e.path("/text"), None);
                read.is_ok_and(|t| t.as_str().is_some_and(|t| t.contains(text)))
            });
            found.is_some()
        });
        found.expect("found")
    }

    // Scripts.

    /// Runs `script` (a function body: `return ...`; arguments in `arguments[i]`; elements as
    /// [`Element::json`]) and returns its value.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        let body = json!({ "script": script, "args": args });
        self.cmd("POST", "/execute/sync", Some(&body))
    }

    /// Runs `script` that calls its last argument (`arguments[arguments.length - 1]`) with the
    /// result, within 30 s.
    pub fn execute_async(&self, script: &str, args: &[Value]) -> Value {
        let body = json!({ "script": script, "args": args });
        self.cmd("POST", "/execute/async", Some(&body))
    }

    /// Finds `css` and clicks it; should the page redraw it in between (the element went stale:
    /// a job event re-rendered its tile, say), finds it again.
    pub fn click_fresh(&self, css: &str) {
        for _ in 0..5 {
            let element = self.find(css);
            match self.try_cmd("POST", &element.path("/click"), None) {
                Ok(_) => return,
                Err(e) if e.error == "stale element reference" => continue,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("{css} went stale five times in a row");
    }

    /// When the page set its first performance mark `name` (ms since navigation), if it did.
    pub fn performance_mark(&self, name: &str) -> Option<f64> {
        self.execute(
            "const m = performance.getEntriesByName(arguments[0]); return m.length ? m[0].startTime : null;",
            &[json!(name)],
        )
        .as_f64()
    }

    /// Performs a sequence of W3C mouse actions, then releases whatever they left pressed.
    pub fn pointer_actions(&self, actions: Vec<Value>) {
        let body = json!({ "actions": [{
            "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" }, "actions": actions,
        }] });
        self.cmd("POST", "/actions", Some(&body));
        self.cmd("DELETE", "/actions", None);
    }

    // Diagnostics.

    /// Saves the page as `<target dir>/ui-screenshots/<name>.png`; returns that path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        self.try_screenshot(name).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_screenshot(&self, name: &str) -> Result<PathBuf, WebDriverError> {
        let png = self.try_cmd("GET", "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or(""))
            .expect("screenshot as base64");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        let path = dir.join(format!("{}.png", file_name(name)));
        std::fs::write(&path, png).expect("write screenshot");
        Ok(path)
    }

    /// The messages of the browser's SEVERE log entries since the last call (chromedriver hands
    /// each entry out once): `console.error` calls, uncaught exceptions and failed resource loads.
    /// Each reads like `http://127.0.0.1:PORT/app.js 12:7 "message" 42` (strings quoted).
    pub fn console_errors(&self) -> Vec<String> {
        let entries = self.cmd("POST", "/se/log", Some(&json!({ "type": "browser" })));
        let entries = entries.as_array().cloned().unwrap_or_default();
        entries
            .into_iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| string(e["message"].clone()))
            .collect()
    }

    // Dialogs (alert, confirm, prompt).

    /// The text of the open dialog, if one is open.
    pub fn alert_text(&self) -> Option<String> {
        match self.try_cmd("GET", "/alert/text", None) {
            Ok(text) => Some(string(text)),
            Err(e) if e.error == "no such alert" => None,
            Err(e) => panic!("{e}"),
        }
    }

    pub fn accept_alert(&self) {
        self.cmd("POST", "/alert/accept", None);
    }

    pub fn dismiss_alert(&self) {
        self.cmd("POST", "/alert/dismiss", None);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session quits Chromium; should that fail, Chromium is killed directly.
        let ended = self.session.is_empty() || self.try_cmd("DELETE", "", None).is_ok();
        if !ended {
            if let Some(pid) = self.chromium_pid {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// An element of the page, found by `Browser::find` and its kin.
#[derive(Clone)]
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl<'a> Element<'a> {
    fn path(&self, command: &str) -> String {
        format!("/element/{}{command}", self.id)
    }

    /// The element as a script argument for [`Browser::execute`].
    pub fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    pub fn click(&self) {
        self.browser.cmd("POST", &self.path("/click"), None);
    }

    /// Types `text`; special keys from [`keys`] can be part of it.
    pub fn send_keys(&self, text: &str) {
        let body = json!({ "text": text });
        self.browser.cmd("POST", &self.path("/value"), Some(&body));
    }

    pub fn clear(&self) {
        self.browser.cmd("POST", &self.path("/clear"), None);
    }

    /// The rendered text (what a user sees; hidden parts excluded).
    pub fn text(&self) -> String {
        string(self.browser.cmd("GET", &self.path("/text"), None))
    }

    /// The HTML attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<String> {
        let value = self
            .browser
            .cmd("GET", &self.path(&format!("/attribute/{name}")), None);
        (!value.is_null()).then(|| string(value))
    }

    /// The DOM property `name` (e.g. "value", "checked"), as JSON.
    pub fn property(&self, name: &str) -> Value {
        self.browser
            .cmd("GET", &self.path(&format!("/property/{name}")), None)
    }

    /// Drags with mouse `button` (0 left, 1 middle, 2 right) from `from` to `to`, offsets in CSS
    /// pixels from the element's top-left corner, moving through `steps` points on the way.
    pub fn drag(&self, button: u8, from: (f64, f64), to: (f64, f64), steps: u32) {
        let (width, height) = self.size();
        // W3C actions measure from the element's centre; offsets are floored alike, so that the
        // distance between two points stays what was asked.
        let at = |x: f64, y: f64| {
            json!({ "type": "pointerMove", "duration": 20, "origin": self.json(),
                    "x": (x - width / 2.0).floor() as i64, "y": (y - height / 2.0).floor() as i64 })
        };
        let mut actions = vec![
            at(from.0, from.1),
            json!({ "type": "pointerDown", "button": button }),
        ];
        for i in 1..=steps.max(1) {
            let t = f64::from(i) / f64::from(steps.max(1));
            actions.push(at(
                from.0 + (to.0 - from.0) * t,
                from.1 + (to.1 - from.1) * t,
            ));
        }
        actions.push(json!({ "type": "pointerUp", "button": button }));
        self.browser.pointer_actions(actions);
    }

    /// Moves the mouse over the point `at` (CSS pixels from the element's top-left corner).
    pub fn hover(&self, at: (f64, f64)) {
        let (width, height) = self.size();
        self.browser.pointer_actions(vec![json!({
            "type": "pointerMove", "duration": 20, "origin": self.json(),
            "x": (at.0 - width / 2.0).floor() as i64, "y": (at.1 - height / 2.0).floor() as i64,
        })]);
    }

    /// The element's width and height in CSS pixels.
    pub fn size(&self) -> (f64, f64) {
        let rect = self.browser.cmd("GET", &self.path("/rect"), None);
        (
            rect["width"].as_f64().unwrap_or(0.0),
            rect["height"].as_f64().unwrap_or(0.0),
        )
    }

    pub fn is_displayed(&self) -> bool {
        self.browser.cmd("GET", &self.path("/displayed"), None) == true
    }

    /// Whether the element is enabled (a button not disabled).
    pub fn is_enabled(&self) -> bool {
        self.browser.cmd("GET", &self.path("/enabled"), None) == true
    }

    /// The first matching element inside this one, waiting like [`Browser::find`].
    pub fn find(&self, css: &str) -> Element<'a> {
        self.browser.find_in(&self.path(""), css)
    }

    /// Every matching element inside this one, now.
    pub fn find_all(&self, css: &str) -> Vec<Element<'a>> {
        self.browser.find_all_in(&self.path(""), css)
    }
}

/// A JSON string's contents; any other value as JSON text.
fn string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}
