//! `lightbox serve`'s HTTP side as a newcomer meets it: outside loopback, credentials generated at
//! the first start, kept in the data directory, printed, and required on every request (run inside
//! the test's own network namespace, where "every interface" is only loopback); `--demo` filling
//! an empty store.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::http as agent;
use common::serve::Serve;
use std::time::Duration;

#[test]
fn a_non_loopback_bind_generates_credentials_and_requires_them() {
    if !support::isolated_network() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let serve = Serve::start(dir.path(), &["--http-bind", "0.0.0.0"]);
        let password = serve
            .printed()
            .iter()
            .find_map(|line| {
                line.split_once(" password ")
                    .map(|(_, p)| p.trim().to_string())
            })
            .expect("the password was printed");
        (serve, password)
    };
    let (server, password) = start();
    let port = server.url.rsplit(':').next().unwrap().to_string();
    let status_url = format!("http://127.0.0.1:{port}/api/status");
    assert_eq!(
        agent().get(&status_url).call().unwrap().status().as_u16(),
        401
    );
    use base64::Engine;
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let status_with = |authorization: String| {
        agent()
            .get(&status_url)
            .header("authorization", authorization)
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status_with(basic("lightbox", "not-the-password")), 401);
    assert_eq!(status_with(basic("lightbox", &password)), 200);
    let kept = std::fs::read_to_string(dir.path().join("http-credentials")).unwrap();
    assert_eq!(kept.trim(), format!("lightbox:{password}"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("http-credentials"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the credentials");
    }
    drop(server);
    // The next start keeps the same password.
    let (_server, again) = start();
    assert_eq!(again, password);
}

#[test]
fn demo_fills_an_empty_store_once() {
    let dir = tempfile::tempdir().unwrap();
    let studies = |url: &str| -> u64 {
        common::get_json(&format!("{url}/api/status"))["store"]["studies"]
            .as_u64()
            .unwrap()
    };
    let server = Serve::start(dir.path(), &["--demo"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while studies(&server.url) < 12 {
        assert!(
            std::time::Instant::now() < deadline,
            "the demo data never arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    // A store with studies gets nothing more.
    let server = Serve::start(dir.path(), &["--demo"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(studies(&server.url), 12);
}

#[test]
fn sigterm_stops_serve_while_a_page_listens_to_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Serve::start(dir.path(), &[]);
    // A page's event stream, open and read from.
    let events_url = format!("{}/api/events", server.url);
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut response = agent().get(&events_url).call().unwrap();
        let _ = opened_tx.send(response.status().as_u16());
        let mut sink = Vec::new();
        // Returns when serve ends the stream.
        let _ = std::io::Read::read_to_end(&mut response.body_mut().as_reader(), &mut sink);
    });
    assert_eq!(
        opened_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        200
    );
    let status = server.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(server.printed().iter().any(|l| l == "stopped"));
}

#[test]
fn the_log_level_is_chosen_on_the_command_line() {
    let ready = |serve: &Serve| {
        serve
            .printed()
            .iter()
            .any(|l| l.contains("DIMSE listener ready") && l.contains("INFO"))
    };
    let dir = tempfile::tempdir().unwrap();
    let chatty = Serve::start(dir.path(), &["--log-level", "lightbox_net=info"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready(&chatty) {
        assert!(
            std::time::Instant::now() < deadline,
            "no info line: {:?}",
            chatty.printed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(chatty);
    // By default only warnings and errors are logged.
    let quiet = Serve::start(dir.path(), &[]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!ready(&quiet), "{:?}", quiet.printed());
}
