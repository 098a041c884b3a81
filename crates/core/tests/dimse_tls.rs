//! DICOM over TLS (PS3.15 B.1, the BCP 195 profiles): Lightbox's listener against DCMTK's SCUs
//! and Lightbox's SCU, and Lightbox's SCU against DCMTK's storescp, with certificates made by
//! openssl for the test. Untrusted servers, clients without a certificate and plain clients
//! are refused, and the listener carries on serving.

mod support;

use support::certificates::Certificates;
use support::{wait_for_port, Peer};

use lightbox_core::store::Store;
use lightbox_net::dimse::server::ServerConfig;
use lightbox_net::dimse::{c_echo, c_store, AeAddress, DimseError, ScuOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A Lightbox listener on 127.0.0.1:0 that accepts associations over TLS only.
struct TlsListener {
    store: Arc<Store>,
    address: AeAddress,
    shutdown: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TlsListener {
    fn start(certificates: &Certificates, mutual: bool) -> TlsListener {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let config = ServerConfig {
            tls: Some(certificates.server(mutual).config(&[]).unwrap()),
            timeout: Duration::from_secs(5),
            ..ServerConfig::default()
        };
        let scp = lightbox_core::scp::listener("127.0.0.1:0", store.clone(), config, None).unwrap();
        let port = scp.local_addr().unwrap().port();
        let shutdown = Arc::new(AtomicBool::new(false));
        let flag = shutdown.clone();
        let thread = std::thread::spawn(move || scp.serve(flag).unwrap());
        TlsListener {
            store,
            address: AeAddress {
                ae_title: "LIGHTBOX".into(),
                host: "127.0.0.1".into(),
                port,
            },
            shutdown,
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn instances(&self) -> u64 {
        self.store.index().stats().unwrap().instances
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn options(tls: Option<lightbox_net::tls::ClientTls>) -> ScuOptions {
    ScuOptions {
        timeout: Duration::from_secs(5),
        tls: tls.map(|t| t.config().unwrap()),
        ..ScuOptions::default()
    }
}

fn ct_small(data: &Path) -> PathBuf {
    data.join("test_files/CT_small.dcm")
}

fn run(tool: &Path, args: &[&str]) -> Output {
    Command::new(tool)
        .args(args)
        .env("TCP_NODELAY", "1")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn lightbox_scu_and_scp_over_tls() {
    let (Some(data), Some(certs)) = (support::pydicom_data(), Certificates::generate()) else {
        return;
    };
    let listener = TlsListener::start(&certs, true);
    let trusted = options(Some(certs.client(&certs.ca, true)));
    c_echo::echo(&listener.address, &trusted).unwrap();
    let report =
        c_store::send_files(&listener.address, &trusted, &[ct_small(&data)], &mut |_| {}).unwrap();
    assert_eq!((report.sent, report.failed), (1, 0), "{report:?}");

    // A server whose certificate no trusted CA issued: refused during the handshake, and not
    // worth retrying.
    let wary = options(Some(certs.client(&certs.stranger_ca, true)));
    match c_echo::echo(&listener.address, &wary) {
        Err(e @ DimseError::Tls { .. }) => assert!(!e.is_transient(), "{e}"),
        other => panic!("an untrusted server must be refused: {other:?}"),
    }
    // The listener requires a client certificate, and refuses a plain association.
    let anonymous = options(Some(certs.client(&certs.ca, false)));
    match c_echo::echo(&listener.address, &anonymous) {
        Err(e @ DimseError::Tls { .. }) => assert!(!e.is_transient(), "{e}"),
        other => panic!("a client without a certificate must be refused: {other:?}"),
    }
    assert!(c_echo::echo(&listener.address, &options(None)).is_err());

    // Still serving, and only what came over TLS was stored.
    c_echo::echo(&listener.address, &trusted).unwrap();
    assert_eq!(listener.instances(), 1);
}

#[test]
fn dcmtk_scus_associate_with_lightbox_over_tls() {
    let (Some(data), Some(certs), Some(echoscu), Some(storescu)) = (
        support::pydicom_data(),
        Certificates::generate(),
        support::peer_tool("echoscu"),
        support::peer_tool("storescu"),
    ) else {
        return;
    };
    let listener = TlsListener::start(&certs, true);
    let port = listener.address.port.to_string();
    let key = certs.client_key.to_str().unwrap();
    let cert = certs.client_certificate.to_str().unwrap();
    let ca = certs.ca.to_str().unwrap();
    let with_certificate = ["+tls", key, cert, "+cf", ca, "-aec", "LIGHTBOX"];

    let echo = run(
        &echoscu,
        &[&with_certificate[..], &["127.0.0.1", &port]].concat(),
    );
    assert!(echo.status.success(), "echoscu +tls: {}", text(&echo));
    let file = ct_small(&data);
    let store = run(
        &storescu,
        &[
            &with_certificate[..],
            &["127.0.0.1", &port, file.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(store.status.success(), "storescu +tls: {}", text(&store));
    assert_eq!(listener.instances(), 1);

    // Anonymous TLS (no client certificate) and plain TCP are both refused.
    let anonymous = run(
        &echoscu,
        &["+tla", "+cf", ca, "-aec", "LIGHTBOX", "127.0.0.1", &port],
    );
    assert!(!anonymous.status.success(), "anonymous TLS was accepted");
    let plain = run(&echoscu, &["-aec", "LIGHTBOX", "127.0.0.1", &port]);
    assert!(!plain.status.success(), "a plain association was accepted");
    // DCMTK checks our certificate: against a CA that did not issue it, it gives up.
    let stranger = certs.stranger_ca.to_str().unwrap();
    let wary = run(
        &echoscu,
        &[
            "+tls",
            key,
            cert,
            "+cf",
            stranger,
            "-aec",
            "LIGHTBOX",
            "127.0.0.1",
            &port,
        ],
    );
    assert!(!wary.status.success(), "echoscu trusted an unknown issuer");

    let echo = run(
        &echoscu,
        &[&with_certificate[..], &["127.0.0.1", &port]].concat(),
    );
    assert!(echo.status.success(), "after the refusals: {}", text(&echo));
}

#[test]
fn lightbox_sends_to_dcmtk_storescp_over_tls() {
    let (Some(data), Some(certs), Some(storescp)) = (
        support::pydicom_data(),
        Certificates::generate(),
        support::peer_tool("storescp"),
    ) else {
        return;
    };
    if !support::isolated_network() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let _peer = Peer(
        Command::new(&storescp)
            .arg("+tls")
            .args([&certs.server_key, &certs.server_certificate])
            .arg("+cf")
            .arg(&certs.ca)
            .args(["-aet", "STORESCP", "-od"])
            .arg(out.path())
            .arg(port.to_string())
            .env("TCP_NODELAY", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    let target = AeAddress {
        ae_title: "STORESCP".into(),
        host: "127.0.0.1".into(),
        port,
    };
    let trusted = options(Some(certs.client(&certs.ca, true)));
    c_echo::echo(&target, &trusted).unwrap();
    let files = [ct_small(&data), data.join("test_files/MR_small.dcm")];
    let report = c_store::send_files(&target, &trusted, &files, &mut |_| {}).unwrap();
    assert_eq!((report.sent, report.failed), (2, 0), "{report:?}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 2);

    // storescp's certificate checked against a CA that did not issue it.
    let wary = options(Some(certs.client(&certs.stranger_ca, true)));
    match c_store::send_files(&target, &wary, &files, &mut |_| {}) {
        Err(e @ DimseError::Tls { .. }) => assert!(!e.is_transient(), "{e}"),
        other => panic!("an untrusted storescp must be refused: {other:?}"),
    }
    // storescp requires a client certificate (its default): without one, nothing is stored.
    let anonymous = options(Some(certs.client(&certs.ca, false)));
    match c_store::send_files(&target, &anonymous, &files, &mut |_| {}) {
        Err(e @ DimseError::Tls { .. }) => assert!(!e.is_transient(), "{e}"),
        other => panic!("storescp must refuse a client without a certificate: {other:?}"),
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 2);
}
