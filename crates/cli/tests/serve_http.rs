//! `lightbox serve` outside loopback: credentials are generated at the first start, kept in the
//! data directory, printed, and required on every request. Run inside the test's own network
//! namespace, where "every interface" is only loopback.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_non_loopback_bind_generates_credentials_and_requires_them() {
    if !support::isolated_network() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lightbox"))
            .arg("--data-dir")
            .arg(dir.path())
            .args([
                "serve",
                "--port",
                "0",
                "--http-bind",
                "0.0.0.0",
                "--http-port",
                "0",
            ])
            .arg("--no-browser")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut password = None;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some((_, p)) = line.split_once(" password ") {
                    password = Some(p.trim().to_string());
                }
                if let Some(url) = line.strip_prefix("Lightbox is ready at ") {
                    let _ = tx.send((url.trim_end_matches('/').to_string(), password.clone()));
                }
            }
        });
        let (url, password) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        (
            support::Peer(child),
            url,
            password.expect("the password was printed"),
        )
    };
    let (server, url, password) = start();
    let port = url.rsplit(':').next().unwrap();
    let status_url = format!("http://127.0.0.1:{port}/api/status");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    assert_eq!(
        agent.get(&status_url).call().unwrap().status().as_u16(),
        401
    );
    use base64::Engine;
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let wrong = agent
        .get(&status_url)
        .header("authorization", basic("lightbox", "not-the-password"))
        .call()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = agent
        .get(&status_url)
        .header("authorization", basic("lightbox", &password))
        .call()
        .unwrap();
    assert_eq!(right.status().as_u16(), 200);
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
    let (_server, _, again) = start();
    assert_eq!(again, password);
}

#[test]
fn demo_fills_an_empty_store_once() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lightbox"))
            .arg("--data-dir")
            .arg(dir.path())
            .args([
                "serve",
                "--port",
                "0",
                "--http-port",
                "0",
                "--no-browser",
                "--demo",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(url) = line.strip_prefix("Lightbox is ready at ") {
                    let _ = tx.send(url.trim_end_matches('/').to_string());
                }
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        (support::Peer(child), url)
    };
    let studies = |url: &str| -> u64 {
        let mut response = ureq::get(format!("{url}/api/status")).call().unwrap();
        let status: serde_json::Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        status["store"]["studies"].as_u64().unwrap()
    };
    let (server, url) = start();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while studies(&url) < 12 {
        assert!(
            std::time::Instant::now() < deadline,
            "the demo data never arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    // A store with studies gets nothing more.
    let (_server, url) = start();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(studies(&url), 12);
}
