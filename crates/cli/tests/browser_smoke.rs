//! The WebDriver client of the UI tests against a fixed page from a tiny HTTP server: typing,
//! clicking, waiting for the DOM, console errors, screenshots and dialogs.

mod common;

use common::browser::{keys, Browser};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Smoke</title>
<style>body { font: 16px sans-serif; margin: 2em } li { color: #063 }</style></head>
<body>
<h1>Lightbox smoke test — ✓ Ünïcode</h1>
<input id="name" placeholder="Your name">
<button id="greet">Greet</button>
<button id="warn">Alert</button>
<ul id="out"></ul>
<script>
  const name = document.getElementById('name');
  const out = document.getElementById('out');
  document.getElementById('greet').addEventListener('click', () => {
    const li = document.createElement('li');
    li.textContent = 'Hello, ' + name.value;
    out.append(li);
    console.error('greeted ' + name.value);
  });
  name.addEventListener('keydown', e => {
    if (e.key === 'Enter') document.getElementById('greet').click();
  });
  document.getElementById('warn').addEventListener('click', () => alert('Careful!'));
  console.log('page ready');
</script>
</body></html>"#;

/// Serves `PAGE` for every request on a loopback port, in a thread; returns the page's URL.
fn serve_page() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // Read the request head (GET requests have no body), then answer and close.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                PAGE.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}

#[test]
fn drives_a_page() {
    let started = Instant::now();
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    eprintln!("browser started in {:?}", started.elapsed());
    let url = serve_page();
    browser.goto(&url);
    assert_eq!(browser.title(), "Smoke");
    assert_eq!(browser.current_url(), url);
    assert!(browser.console_errors().is_empty());

    // Typing and clicking change the DOM; the click's console.error is in the log.
    let name = browser.find("#name");
    assert_eq!(name.attr("placeholder").as_deref(), Some("Your name"));
    assert_eq!(name.attr("nonexistent"), None);
    name.send_keys("Ada");
    assert_eq!(name.property("value"), json!("Ada"));
    browser.find("#greet").click();
    let item = browser.wait_for_text("#out li", "Hello, Ada");
    assert!(item.is_displayed());
    let errors = browser.console_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("greeted Ada"), "{errors:?}");
    assert!(
        browser.console_errors().is_empty(),
        "entries are handed out once"
    );

    // Special keys: Enter in the input greets too.
    name.clear();
    name.send_keys(&format!("Bob{}", keys::ENTER));
    browser.wait_until("a second greeting", Duration::from_secs(5), || {
        browser.find("#out").find_all("li").len() == 2
    });
    assert_eq!(browser.find_all("#out li")[1].text(), "Hello, Bob");
    assert_eq!(browser.wait_for_text("#out li", "Bob").text(), "Hello, Bob");
    assert!(browser.try_find("#missing").is_none());

    // Scripts, with an element as argument, synchronous and asynchronous.
    let list = browser.find("#out");
    let count = browser.execute("return arguments[0].children.length", &[list.json()]);
    assert_eq!(count, json!(2));
    let sum = browser.execute_async(
        "const done = arguments[arguments.length - 1]; setTimeout(() => done(arguments[0] + 1), 50)",
        &[json!(41)],
    );
    assert_eq!(sum, json!(42));

    // The window size is the outer size; the viewport is what the page sees.
    browser.set_window_size(1000, 700);
    let width = browser.execute("return window.innerWidth", &[]);
    assert_eq!(width, json!(1000));

    let shot = browser.screenshot("browser_smoke");
    assert!(std::fs::read(&shot)
        .expect("screenshot")
        .starts_with(b"\x89PNG"));

    // Dialogs.
    assert_eq!(browser.alert_text(), None);
    browser.find("#warn").click();
    assert_eq!(browser.alert_text().as_deref(), Some("Careful!"));
    browser.accept_alert();
    assert_eq!(browser.alert_text(), None);

    browser.refresh();
    assert!(browser.find_all("#out li").is_empty());
    eprintln!("test done in {:?}", started.elapsed());
}
