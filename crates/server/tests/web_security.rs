//! What a hostile web page could do to a loopback Lightbox, refused before any handler runs: a
//! write from another origin (CSRF: a form post or a `no-cors` fetch of an upload, a body-less
//! POST that clears the job history) and a request under a foreign Host name (DNS rebinding).
//! Links in answers come from the server's own address, never from the request's Host.

mod common;

use common::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

/// One raw HTTP/1.1 request with exactly these headers; the status and the body.
fn request(
    origin: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let address = origin.trim_start_matches("http://");
    let mut socket = TcpStream::connect(address).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {address}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).unwrap();
    socket.write_all(body).unwrap();
    let mut response = Vec::new();
    socket.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn instances(data: &Path) -> u64 {
    lightbox_core::store::Store::open(data)
        .unwrap()
        .index()
        .stats()
        .unwrap()
        .instances
}

fn any_instance(dir: &Path) -> Vec<u8> {
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 1,
        rows: 16,
        columns: 16,
        seed: 3,
        modality: Some("OT".into()),
        ..lightbox_synth::SynthSpec::default()
    };
    lightbox_synth::generate(&spec, dir).unwrap();
    let file = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .find(|e| e.file_type().is_file())
        .unwrap();
    std::fs::read(file.path()).unwrap()
}

#[test]
fn writes_from_another_origin_are_refused_and_change_nothing() {
    let data = tempfile::tempdir().unwrap();
    let source = tempfile::tempdir().unwrap();
    let dicom = any_instance(source.path());
    let server = Server::with_engine(data.path(), None);
    let url = &server.origin;

    // A page on another site posting an upload as text/plain with mode no-cors.
    let (status, body) = request(
        url,
        "POST",
        "/api/upload?name=forged.dcm",
        &[
            ("Origin", "http://evil.example"),
            ("Content-Type", "text/plain"),
        ],
        &dicom,
    );
    assert_eq!(status, 403, "{body}");
    // Another port of this machine is another origin too.
    let (status, _) = request(
        url,
        "POST",
        "/api/upload?name=forged.dcm",
        &[("Origin", "http://localhost:3000")],
        &dicom,
    );
    assert_eq!(status, 403);
    // An opaque origin (a sandboxed frame, a file).
    let (status, _) = request(url, "POST", "/api/jobs/clear", &[("Origin", "null")], b"");
    assert_eq!(status, 403);
    // No Origin, but the browser says the request comes from another site.
    for site in ["cross-site", "same-site"] {
        let (status, _) = request(
            url,
            "POST",
            "/api/jobs/clear",
            &[("Sec-Fetch-Site", site)],
            b"",
        );
        assert_eq!(status, 403, "{site}");
    }
    let (status, _) = request(
        url,
        "PUT",
        "/api/nodes/evil",
        &[
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/json"),
        ],
        br#"{"name":"evil","ae_title":"EVIL","host":"10.0.0.9","port":104}"#,
    );
    assert_eq!(status, 403);
    let (status, _) = request(
        url,
        "POST",
        "/dicom-web/studies",
        &[
            ("Origin", "http://evil.example"),
            (
                "Content-Type",
                "multipart/related; type=\"application/dicom\"; boundary=x",
            ),
        ],
        b"--x--\r\n",
    );
    assert_eq!(status, 403);
    assert_eq!(instances(data.path()), 0, "nothing was stored");
    let (_, nodes) = request(url, "GET", "/api/nodes", &[], b"");
    assert!(!nodes.contains("evil"), "{nodes}");
    eprintln!(
        "figure: cross-site writes (no-cors text/plain upload, STOW, jobs/clear, a node, \
         Sec-Fetch-Site cross-site and same-site): all 403, 0 instances stored, no node added"
    );

    // The UI's own requests, and programs that send no browser headers, go through.
    let (status, body) = request(
        url,
        "POST",
        "/api/upload?name=mine.dcm",
        &[("Origin", url), ("Sec-Fetch-Site", "same-origin")],
        &dicom,
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = request(url, "POST", "/api/jobs/clear", &[], b"");
    assert_eq!(status, 200);
    assert_eq!(instances(data.path()), 1);
}

#[test]
fn a_foreign_host_name_reaches_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::with_engine(data.path(), None);
    let url = &server.origin;
    let port = url.rsplit(':').next().unwrap();
    for (method, path, body) in [
        ("GET", "/api/status", &b""[..]),
        ("GET", "/", &b""[..]),
        ("GET", "/dicom-web/studies", &b""[..]),
        (
            "PUT",
            "/api/nodes/exfil",
            &br#"{"name":"exfil","ae_title":"EXFIL","host":"10.0.0.9","port":104}"#[..],
        ),
        (
            "POST",
            "/api/import",
            &br#"{"paths":["/etc"],"link":true}"#[..],
        ),
    ] {
        let evil = format!("evil.example:{port}");
        let (status, answer) = request(
            url,
            method,
            path,
            &[("Host", &evil), ("Content-Type", "application/json")],
            body,
        );
        assert_eq!(status, 421, "{method} {path}: {answer}");
    }
    let (_, nodes) = request(url, "GET", "/api/nodes", &[], b"");
    assert!(!nodes.contains("exfil"), "{nodes}");
    eprintln!(
        "figure: Host: evil.example (DNS rebinding) on status, UI, QIDO, a node and an import \
         of /etc: all 421, no node added"
    );
    // Loopback names are this server's.
    let localhost = format!("localhost:{port}");
    assert_eq!(
        request(url, "GET", "/api/status", &[("Host", &localhost)], b"").0,
        200
    );
}

#[test]
fn links_come_from_the_servers_own_address() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::with_engine(data.path(), None);
    let url = &server.origin;
    let port = url.rsplit(':').next().unwrap();
    let (status, body) = request(
        url,
        "GET",
        "/api/status",
        &[("Host", &format!("localhost:{port}"))],
        b"",
    );
    assert_eq!(status, 200);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status["http"],
        serde_json::json!(url),
        "not the Host header's name"
    );
}

#[test]
fn credentials_any_scheme_case_and_wrong_guesses_slowed_down() {
    use base64::Engine;
    let data = tempfile::tempdir().unwrap();
    let credentials: lightbox_server::Credentials = "admin:correct-horse".parse().unwrap();
    let server = Server::with_engine(data.path(), Some(credentials));
    let url = server.origin.clone();
    let basic = |secret: &str| base64::engine::general_purpose::STANDARD.encode(secret);
    let right = format!("bAsIc {}", basic("admin:correct-horse"));
    let (status, _) = request(
        &url,
        "GET",
        "/api/status",
        &[("Authorization", &right)],
        b"",
    );
    assert_eq!(status, 200, "the scheme is case-insensitive");

    // Wrong guesses: each answered after a pause, only a few at a time.
    let started = std::time::Instant::now();
    let guesses: Vec<_> = (0..12)
        .map(|i| {
            let url = url.clone();
            let wrong = format!("Basic {}", basic(&format!("admin:guess-{i}")));
            std::thread::spawn(move || {
                request(
                    &url,
                    "GET",
                    "/api/status",
                    &[("Authorization", &wrong)],
                    b"",
                )
                .0
            })
        })
        .collect();
    // The right password is never held up by them.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let quick = std::time::Instant::now();
    assert_eq!(
        request(
            &url,
            "GET",
            "/api/status",
            &[("Authorization", &right)],
            b""
        )
        .0,
        200
    );
    assert!(quick.elapsed() < std::time::Duration::from_millis(500));
    let statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let answered = statuses.iter().filter(|&&s| s == 401).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(answered + refused, 12, "{statuses:?}");
    assert!(answered <= 4 && refused >= 8, "{statuses:?}");
    // Without credentials at all (a browser's first request): asked for them at once.
    let first = std::time::Instant::now();
    assert_eq!(request(&url, "GET", "/api/status", &[], b"").0, 401);
    assert!(first.elapsed() < std::time::Duration::from_millis(500));
}
