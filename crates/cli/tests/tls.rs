//! `lightbox serve --tls-cert/--tls-key/--tls-client-ca`: HTTPS checked with `curl --cacert`, the
//! DICOM TLS port with DCMTK's `storescu +tls`, and a node that requires TLS sent to by a job.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::serve::Serve;
use common::{lightbox, ok_json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::certificates::Certificates;

fn run(tool: &Path, args: &[&str]) -> Output {
    Command::new(tool)
        .args(args)
        .output()
        .expect("run a peer tool")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// `serve` with TLS from `certs` (client certificates required when `mutual`), its TLS port
/// picked by itself.
fn start_tls(data_dir: &Path, certs: &Certificates, mutual: bool, extra: &[&str]) -> Serve {
    let mut args = vec![
        "--tls-cert",
        path(&certs.server_certificate),
        "--tls-key",
        path(&certs.server_key),
        "--tls-port",
        "0",
    ];
    if mutual {
        args.extend(["--tls-client-ca", path(&certs.ca)]);
    }
    args.extend(extra);
    Serve::start(data_dir, &args)
}

/// The port of the DICOM TLS listener, as serve printed it.
fn tls_port(serve: &Serve) -> String {
    serve
        .printed()
        .iter()
        .find_map(|l| {
            let rest = l.strip_prefix("DICOM TLS listener ")?;
            Some(rest.rsplit(':').next()?.trim().to_string())
        })
        .expect("serve printed its DICOM TLS listener")
}

fn plain_port(serve: &Serve) -> String {
    serve
        .dimse_address()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string()
}

/// `curl` with `args`, its body and whether it succeeded (`--fail`: an HTTP error is a failure).
fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--max-time", "20"])
        .args(args)
        .output()
        .expect("run curl");
    (out.status.success(), text(&out))
}

#[test]
fn serve_speaks_https_and_dicom_tls_with_client_certificates() {
    let (Some(data), Some(certs), Some(storescu), Some(echoscu), Some(_curl)) = (
        support::pydicom_data(),
        Certificates::generate(),
        support::peer_tool("storescu"),
        support::peer_tool("echoscu"),
        support::peer_tool("curl"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let serve = start_tls(dir.path(), &certs, true, &[]);
    assert!(serve.url.starts_with("https://"), "{}", serve.url);
    let secure = tls_port(&serve);
    let ct = data.join("test_files/CT_small.dcm");
    let with_certificate = [
        "+tls",
        path(&certs.client_key),
        path(&certs.client_certificate),
        "+cf",
        path(&certs.ca),
    ];

    // DCMTK stores an instance over the TLS port.
    let stored = run(
        &storescu,
        &[
            &with_certificate[..],
            &["-aec", "LIGHTBOX", "127.0.0.1", &secure, path(&ct)],
        ]
        .concat(),
    );
    assert!(stored.status.success(), "storescu +tls: {}", text(&stored));
    // Without a client certificate, and in plain text, the TLS port lets nobody in.
    let anonymous = run(
        &echoscu,
        &[
            "+tls",
            "+cf",
            path(&certs.ca),
            "-aec",
            "LIGHTBOX",
            "127.0.0.1",
            &secure,
        ],
    );
    assert!(!anonymous.status.success(), "{}", text(&anonymous));
    let plain_to_tls = run(
        &echoscu,
        &["-to", "5", "-aec", "LIGHTBOX", "127.0.0.1", &secure],
    );
    assert!(!plain_to_tls.status.success(), "{}", text(&plain_to_tls));
    // The plain port still serves plain associations.
    let plain = run(
        &echoscu,
        &["-aec", "LIGHTBOX", "127.0.0.1", &plain_port(&serve)],
    );
    assert!(plain.status.success(), "{}", text(&plain));

    // HTTPS: the stored study is there for a client that trusts the CA and presents its
    // certificate (stored instances are indexed in the background: a moment's wait).
    let trusted = [
        "--cacert",
        path(&certs.ca),
        "--cert",
        path(&certs.client_certificate),
        "--key",
        path(&certs.client_key),
    ];
    let studies = format!("{}/dicom-web/studies", serve.url);
    let deadline = Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let (ok, body) = curl(&[&trusted[..], &[&studies]].concat());
        assert!(ok, "QIDO over HTTPS: {body}");
        if body.contains("1.3.6.1.4.1.5962.1.2.1.20040119072730.12322") {
            break body;
        }
        assert!(Instant::now() < deadline, "the study never showed: {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(listed.starts_with('['), "{listed}");
    // A client without a certificate, one that trusts another CA, and plain HTTP get nothing.
    let (ok, body) = curl(&["--cacert", path(&certs.ca), &studies]);
    assert!(!ok, "no client certificate: {body}");
    let (ok, body) = curl(&[
        "--cacert",
        path(&certs.stranger_ca),
        "--cert",
        path(&certs.client_certificate),
        "--key",
        path(&certs.client_key),
        &studies,
    ]);
    assert!(!ok, "an untrusted server certificate: {body}");
    let (ok, body) = curl(&[&studies.replacen("https://", "http://", 1)]);
    assert!(!ok, "plain HTTP to the HTTPS port: {body}");
    // The HTTPS server holds to the same origin rules: a foreign page's write is refused.
    let clear = format!("{}/api/jobs/clear", serve.url);
    let (ok, body) = curl(
        &[
            &trusted[..],
            &["-X", "POST", "-H", "Origin: https://evil.example", &clear],
        ]
        .concat(),
    );
    assert!(!ok && body.contains("403"), "{body}");
    let own_origin = format!("Origin: {}", serve.url);
    let (ok, body) = curl(&[&trusted[..], &["-X", "POST", "-H", &own_origin, &clear]].concat());
    assert!(ok, "its own page's write: {body}");
}

#[test]
fn a_node_that_requires_tls_is_sent_to_by_a_job() {
    let (Some(data), Some(certs)) = (support::pydicom_data(), Certificates::generate()) else {
        return;
    };
    let receiver_dir = tempfile::tempdir().unwrap();
    let receiver = start_tls(
        receiver_dir.path(),
        &certs,
        true,
        &["--ae-title", "RECEIVER"],
    );
    let secure = tls_port(&receiver);
    let sender = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = ["CT_small.dcm", "MR_small.dcm"]
        .iter()
        .map(|f| data.join("test_files").join(f))
        .collect();
    let target = format!("RECEIVER@127.0.0.1:{secure}");

    // A wrong path is said when the node is added, not at its first association.
    let missing = lightbox(
        sender.path(),
        &[
            "nodes",
            "add",
            "bad",
            &target,
            "--tls-ca",
            "/nonexistent/ca.pem",
        ],
    );
    assert!(!missing.status.success(), "{}", text(&missing));
    assert!(
        text(&missing).contains("/nonexistent/ca.pem"),
        "{}",
        text(&missing)
    );

    let add = |name: &str, extra: &[&str]| {
        let out = lightbox(
            sender.path(),
            &[
                &["nodes", "add", name, &target, "--tls-ca", path(&certs.ca)],
                extra,
            ]
            .concat(),
        );
        assert!(out.status.success(), "nodes add {name}: {}", text(&out));
    };
    add(
        "receiver",
        &[
            "--tls-cert",
            path(&certs.client_certificate),
            "--tls-key",
            path(&certs.client_key),
        ],
    );
    add("anonymous", &[]);
    let listed = ok_json(sender.path(), &["nodes", "list", "--json"]);
    assert_eq!(listed[0]["tls"]["ca"], path(&certs.ca));

    let verify = lightbox(sender.path(), &["nodes", "verify", "receiver"]);
    assert!(verify.status.success(), "{}", text(&verify));
    let report = ok_json(
        sender.path(),
        &[
            "send",
            "receiver",
            "--json",
            path(&files[0]),
            path(&files[1]),
        ],
    );
    assert_eq!(
        (report["sent"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(0)),
        "{report}"
    );
    // The receiver answers C-FIND over TLS with what it stored.
    let deadline = Instant::now() + Duration::from_secs(20);
    while ok_json(
        sender.path(),
        &["find", "receiver", "--level", "study", "--json"],
    )
    .as_array()
    .unwrap()
    .len()
        < 2
    {
        assert!(Instant::now() < deadline, "the sent studies never showed");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The receiver wants a client certificate: without one the job fails at once, as a
    // failure a retry cannot mend.
    let started = Instant::now();
    let refused = lightbox(
        sender.path(),
        &["send", "anonymous", "--json", path(&files[0])],
    );
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("TLS"), "{}", text(&refused));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "retried: {:?}",
        started.elapsed()
    );
}
