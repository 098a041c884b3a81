//! Shared test set-up of the core and the crates above it: the test data (from the DICOM-data
//! crate's support), and the networking peers (DCMTK, Orthanc) started on loopback.
#![allow(dead_code)]

#[path = "../../../dicom/tests/support/mod.rs"]
mod data;

pub use data::*;

pub mod certificates;
pub mod link;
pub mod postgres;
pub mod seaweedfs;

use lightbox_net::dimse::AeAddress;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A peer program (DCMTK, Orthanc) from the system, or `None` (and a CI failure) when missing.
pub fn peer_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        missing(&format!(
            "the peer program {name} (Debian packages dcmtk, orthanc)"
        ));
    }
    found
}

/// Sends every file under `dir` to `LIGHTBOX` at `host:port` with DCMTK's `dcmsend`, in one
/// association, as `MODALITY`. DCMTK leaves Nagle's algorithm on unless told: each instance
/// would wait out a delayed ACK.
pub fn dcmsend(dcmsend: &Path, host: &str, port: &str, dir: &Path) {
    let sent = Command::new(dcmsend)
        .env("TCP_NODELAY", "1")
        .args(["-aet", "MODALITY", "-aec", "LIGHTBOX", host, port])
        .args(["--scan-directories", "--recurse"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "dcmsend: {}",
        String::from_utf8_lossy(&sent.stderr)
    );
}

/// Whether this process runs in a network namespace of its own, where peers that bind every
/// interface (DCMTK, Orthanc) can only be reached on loopback. `scripts/test.sh` sets it up.
pub fn isolated_network() -> bool {
    let isolated = std::env::var("LIGHTBOX_TEST_NETNS").as_deref() == Ok("1");
    if !isolated {
        missing("a private network namespace for peers that listen on all interfaces (run scripts/test.sh)");
    }
    isolated
}

/// A free TCP port on loopback (for peers that cannot be started on port 0).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a cluster of Lightbox nodes shares, each of the test's own: a PostgreSQL server and a
/// SeaweedFS with the bucket `lightbox`; `None` (and a CI failure) when one is missing.
pub fn start_cluster_servers() -> Option<(postgres::Postgres, seaweedfs::SeaweedFs)> {
    let postgres = postgres::start_postgres()?;
    let s3 = seaweedfs::start_seaweedfs("lightbox")?;
    Some((postgres, s3))
}

/// A child process killed when dropped, so no test leaves a peer running.
pub struct Peer(pub Child);

impl Peer {
    /// SIGINT, for a server that stops its parts in order on it; waits up to `within` (and is
    /// killed when dropped if it is still running then).
    pub fn interrupt(&mut self, within: Duration) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "peer did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An Orthanc server on loopback ports with its own storage, stopped when dropped.
pub struct Orthanc {
    _peer: Peer,
    pub address: AeAddress,
    pub http_port: u16,
    _dir: tempfile::TempDir,
}

impl Orthanc {
    /// Stops (SIGSTOP) or resumes (SIGCONT) the server: a peer that hangs, then comes back.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self._peer.0.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }
}

pub fn start_orthanc() -> Option<Orthanc> {
    start_orthanc_knowing(serde_json::json!({}))
}

/// Orthanc with `modalities` in its DicomModalities (the nodes it may C-MOVE to), and its HTTP
/// port for the REST calls that make it act as an SCU.
pub fn start_orthanc_knowing(modalities: serde_json::Value) -> Option<Orthanc> {
    start_orthanc_configured(serde_json::json!({ "DicomModalities": modalities }))
}

/// Orthanc with its DICOMweb plugin (Debian's orthanc-dicomweb) under `/dicom-web/`.
pub fn start_orthanc_dicomweb() -> Option<Orthanc> {
    let plugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";
    if !Path::new(plugin).is_file() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{plugin} is missing: install orthanc-dicomweb");
        }
        eprintln!("skipping: {plugin} is missing");
        return None;
    }
    start_orthanc_configured(serde_json::json!({
        "Plugins": [plugin],
        "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": true }
    }))
}

/// Orthanc with `extra` merged into its configuration.
pub fn start_orthanc_configured(extra: serde_json::Value) -> Option<Orthanc> {
    let orthanc = peer_tool("Orthanc").or_else(|| {
        Path::new("/usr/sbin/Orthanc")
            .is_file()
            .then(|| PathBuf::from("/usr/sbin/Orthanc"))
    })?;
    if !isolated_network() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (dicom_port, http_port) = (free_port(), free_port());
    let config = serde_json::json!({
        "Name": "lightbox-test",
        "StorageDirectory": dir.path().join("db"),
        "IndexDirectory": dir.path().join("db"),
        "DicomAet": "ORTHANC",
        "DicomPort": dicom_port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": false,
        "AuthenticationEnabled": false,
        "DicomCheckCalledAet": true,
        "DicomAlwaysAllowStore": true,
        "DicomAlwaysAllowFind": true,
        "DicomAlwaysAllowGet": true,
        "DicomAlwaysAllowMove": true,
        "UnknownSopClassAccepted": true,
        "SyncStorageArea": false,
        "Plugins": []
    });
    let mut config = config;
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            config.insert(key.clone(), value.clone());
        }
    }
    let config_path = dir.path().join("orthanc.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let log = std::fs::File::create(dir.path().join("orthanc.log")).unwrap();
    let peer = Peer(
        Command::new(orthanc)
            .arg(&config_path)
            .env("TCP_NODELAY", "1")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_for_port(dicom_port);
    wait_for_port(http_port);
    Some(Orthanc {
        _peer: peer,
        address: AeAddress {
            ae_title: "ORTHANC".into(),
            host: "127.0.0.1".into(),
            port: dicom_port,
        },
        http_port,
        _dir: dir,
    })
}

/// Generates `spec` under `dir` and sends every file to `peer` (C-STORE); returns the files.
pub fn synthetic_in_peer(
    peer: &AeAddress,
    dir: &Path,
    spec: &lightbox_synth::SynthSpec,
) -> Vec<PathBuf> {
    lightbox_synth::generate(spec, dir).unwrap();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let options = lightbox_net::dimse::ScuOptions::default();
    let sent =
        lightbox_net::dimse::c_store::send_files(peer, &options, &files, &mut |_| {}).unwrap();
    assert_eq!(sent.sent as usize, files.len(), "{sent:?}");
    files
}

/// A copy of `source` (encapsulated pixel data) whose last fragment loses `cut` bytes at its
/// end while every item length stays consistent: a codestream cut short inside a well-formed
/// file, as a faulty sender would produce.
pub fn with_truncated_codestream(source: &Path, target: &Path, cut: u64) {
    use lightbox_dicom::parse::{locate_fragments, ByteSource, FileSource};
    let file = lightbox_dicom::read_file(source, lightbox_dicom::ReadMode::Header).unwrap();
    let Some(lightbox_dicom::Value::Deferred(span)) = file
        .dataset
        .get(lightbox_dicom::tag::PIXEL_DATA)
        .map(|e| e.value.clone())
    else {
        panic!("{}: no pixel data", source.display())
    };
    let mut src = FileSource::open(source).unwrap();
    let len = src.len();
    let (_, fragments, _) = locate_fragments(&mut src, span.offset, len, false).unwrap();
    let last = *fragments.last().unwrap();
    let bytes = std::fs::read(source).unwrap();
    let kept = (last.length - cut) & !1;
    let mut out = bytes[..(last.offset - 8) as usize].to_vec();
    out.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
    out.extend_from_slice(&(kept as u32).to_le_bytes());
    out.extend_from_slice(&bytes[last.offset as usize..(last.offset + kept) as usize]);
    out.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    std::fs::write(target, out).unwrap();
}
