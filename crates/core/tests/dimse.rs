//! DIMSE: Lightbox's SCU and SCP against each other and against DCMTK, on loopback.

mod support;

use support::{start_orthanc, start_orthanc_knowing, wait_for_port, Peer};

use lightbox_core::index::StudyQuery;
use lightbox_core::store::Store;
use lightbox_net::dimse::server::ServerConfig as ScpConfig;
use lightbox_net::dimse::{c_echo, c_find, c_get, c_move, c_store};
use lightbox_net::dimse::{AeAddress, DimseError, ScuOptions};
use lightbox_net::report::SentInstance;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A Lightbox storage SCP on 127.0.0.1:0 with its own store, stopped when dropped.
struct Listener {
    store: Arc<Store>,
    address: AeAddress,
    shutdown: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Listener {
    fn start(config: ScpConfig) -> Listener {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let scp = lightbox_core::scp::listener("127.0.0.1:0", store.clone(), config.clone(), None)
            .unwrap();
        let port = scp.local_addr().unwrap().port();
        let shutdown = Arc::new(AtomicBool::new(false));
        let flag = shutdown.clone();
        let thread = std::thread::spawn(move || scp.serve(flag).unwrap());
        let address = AeAddress {
            ae_title: config.ae_title,
            host: "127.0.0.1".into(),
            port,
        };
        Listener {
            store,
            address,
            shutdown,
            thread: Some(thread),
            _dir: dir,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn options() -> ScuOptions {
    ScuOptions {
        calling_ae_title: "TESTSCU".into(),
        timeout: Duration::from_secs(10),
        cancel: None,
        tls: None,
    }
}

/// Files of pydicom's test set that are complete instances (what an import keeps), with their
/// SOP Instance UIDs (several files hold the same instance in different encodings).
/// Files whose data set contradicts their stated transfer syntax are left out: Lightbox reads
/// them, but refuses to send them (`malformed_files_are_refused_with_a_reason`).
fn instance_files(data: &Path) -> Vec<(PathBuf, String, bool)> {
    let mut keep = Vec::new();
    for entry in std::fs::read_dir(data.join("test_files"))
        .unwrap()
        .flatten()
    {
        let path = entry.path();
        let Ok(file) = lightbox_dicom::read_file(&path, lightbox_dicom::ReadMode::Header) else {
            continue;
        };
        if file.encoding != lightbox_dicom::transfer_syntax::Encoding::of(&file.transfer_syntax) {
            continue;
        }
        if let Ok(record) = lightbox_core::model::InstanceRecord::from_file(&file) {
            let has_meta = !file.meta.elements.is_empty() && !file.transfer_syntax_inferred;
            keep.push((path, record.sop_instance_uid, has_meta));
        }
    }
    keep.sort();
    keep
}

fn distinct_uids<'a>(files: impl Iterator<Item = &'a (PathBuf, String, bool)>) -> usize {
    files
        .map(|f| f.1.clone())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

fn paths(files: &[(PathBuf, String, bool)]) -> Vec<PathBuf> {
    files.iter().map(|f| f.0.clone()).collect()
}

#[test]
fn lightbox_scu_to_lightbox_scp_stores_every_instance() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let listener = Listener::start(ScpConfig::default());
    let rtt = c_echo::echo(&listener.address, &options()).unwrap();
    assert!(rtt < Duration::from_secs(1));

    let files = instance_files(&data);
    assert!(files.len() > 50);
    let report =
        c_store::send_files(&listener.address, &options(), &paths(&files), &mut |_| {}).unwrap();
    assert_eq!(
        report.failed,
        0,
        "{:?}",
        report
            .instances
            .iter()
            .filter(|i| i.error.is_some())
            .collect::<Vec<_>>()
    );
    assert_eq!(report.sent as usize, files.len());
    let stats = listener.store.index().stats().unwrap();
    assert_eq!(stats.instances as usize, distinct_uids(files.iter()));
    // Stored byte for byte: the data set after the file meta is what was sent.
    for study in listener
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
    {
        for series in listener
            .store
            .index()
            .series_of_study(&study.study_uid)
            .unwrap()
        {
            for instance in listener
                .store
                .index()
                .instances_of_series(&series.series_uid)
                .unwrap()
            {
                let stored = lightbox_dicom::read_file(
                    &listener.store.local_path(&instance.file_path).unwrap(),
                    lightbox_dicom::ReadMode::Header,
                )
                .unwrap();
                assert_eq!(
                    stored
                        .meta
                        .first_text(lightbox_dicom::tag::SOURCE_APPLICATION_ENTITY_TITLE)
                        .as_deref(),
                    Some("TESTSCU")
                );
            }
        }
    }
    // Sending again: duplicates are acknowledged and nothing changes.
    let again = c_store::send_files(
        &listener.address,
        &options(),
        &paths(&files[..3]),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(again.sent, 3);
    assert_eq!(
        listener.store.index().stats().unwrap().instances as usize,
        distinct_uids(files.iter())
    );
}

#[test]
fn malformed_files_are_refused_with_a_reason() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let listener = Listener::start(ScpConfig::default());
    // SC_rgb_jpeg.dcm states JPEG Baseline (explicit VR) but its data set is implicit VR.
    let files = [
        data.join("test_files/SC_rgb_jpeg.dcm"),
        data.join("test_files/README.txt"),
        data.join("test_files/CT_small.dcm"),
    ];
    let report = c_store::send_files(&listener.address, &options(), &files, &mut |_| {}).unwrap();
    assert_eq!((report.sent, report.failed), (1, 2));
    assert!(report.instances.iter().any(|i| i
        .error
        .as_deref()
        .is_some_and(|e| e.contains("cannot be sent as is"))));
    assert!(report.instances.iter().any(|i| i
        .error
        .as_deref()
        .is_some_and(|e| e.contains("not a DICOM file"))));
    assert_eq!(listener.store.index().stats().unwrap().instances, 1);
}

#[test]
fn ae_title_policies_and_error_paths_give_clear_errors() {
    let listener = Listener::start(ScpConfig {
        allowed_calling_ae_titles: Some(vec!["FRIEND".into()]),
        ..ScpConfig::default()
    });
    // Wrong called AE title.
    let wrong = AeAddress {
        ae_title: "NOTLIGHTBOX".into(),
        ..listener.address.clone()
    };
    let err = c_echo::echo(
        &wrong,
        &ScuOptions {
            calling_ae_title: "FRIEND".into(),
            ..options()
        },
    )
    .unwrap_err();
    assert!(matches!(err, DimseError::Rejected { .. }), "{err}");
    // Calling AE not on the allow-list.
    let err = c_echo::echo(
        &listener.address,
        &ScuOptions {
            calling_ae_title: "STRANGER".into(),
            ..options()
        },
    )
    .unwrap_err();
    assert!(matches!(err, DimseError::Rejected { .. }), "{err}");
    assert!(c_echo::echo(
        &listener.address,
        &ScuOptions {
            calling_ae_title: "FRIEND".into(),
            ..options()
        }
    )
    .is_ok());

    // Known nodes only: a node added while serving may associate at once; strangers may not.
    let known = Listener::start(ScpConfig {
        known_nodes_only: true,
        ..ScpConfig::default()
    });
    let stranger = ScuOptions {
        calling_ae_title: "PACS1".into(),
        ..options()
    };
    assert!(matches!(
        c_echo::echo(&known.address, &stranger),
        Err(DimseError::Rejected { .. })
    ));
    lightbox_core::nodes::Nodes::new(known.store.root())
        .add(lightbox_core::nodes::Node::new(
            "pacs1",
            &"PACS1@127.0.0.1:104".parse().unwrap(),
        ))
        .unwrap();
    assert!(c_echo::echo(&known.address, &stranger).is_ok());

    // Nobody listening: refused at once, and it counts as transient (worth a retry).
    let closed = AeAddress {
        ae_title: "X".into(),
        host: "127.0.0.1".into(),
        port: support::free_port(),
    };
    let err = c_echo::echo(&closed, &options()).unwrap_err();
    assert!(err.is_transient(), "{err}");

    // A peer that accepts the connection but never answers: a timeout, not a hang.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let err = c_echo::echo(
        &AeAddress {
            ae_title: "X".into(),
            host: "127.0.0.1".into(),
            port,
        },
        &ScuOptions {
            timeout: Duration::from_secs(1),
            ..options()
        },
    )
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    eprintln!("silent peer: {err}");
    drop(silent);
}

#[test]
fn dcmtk_scus_store_into_lightbox() {
    let (Some(data), Some(storescu), Some(echoscu), Some(dcmsend)) = (
        support::pydicom_data(),
        support::peer_tool("storescu"),
        support::peer_tool("echoscu"),
        support::peer_tool("dcmsend"),
    ) else {
        return;
    };
    let listener = Listener::start(ScpConfig::default());
    let port = listener.address.port.to_string();
    let status = Command::new(&echoscu)
        .args(["-aec", "LIGHTBOX", "-aet", "DCMTK", "127.0.0.1", &port])
        .env("TCP_NODELAY", "1")
        .status()
        .unwrap();
    assert!(status.success(), "echoscu");
    // A wrong called AE title is refused.
    let status = Command::new(&echoscu)
        .args(["-aec", "WRONG", "127.0.0.1", &port])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "echoscu with a wrong called AE title must be refused"
    );

    // dcmsend negotiates each file's own transfer syntax: every instance, compressed or not
    // (it refuses files without file meta, which Lightbox itself reads).
    let files: Vec<_> = instance_files(&data).into_iter().filter(|f| f.2).collect();
    let out = Command::new(&dcmsend)
        .args([
            "-aec",
            "LIGHTBOX",
            "-aet",
            "DCMSEND",
            "-nh",
            "127.0.0.1",
            &port,
        ])
        .args(paths(&files))
        .env("TCP_NODELAY", "1")
        .output()
        .unwrap();
    let stored = listener.store.index().stats().unwrap().instances as usize;
    assert_eq!(
        stored,
        distinct_uids(files.iter()),
        "dcmsend: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // storescu (uncompressed syntaxes only) into a second listener.
    let second = Listener::start(ScpConfig::default());
    let uncompressed: Vec<PathBuf> = paths(&files)
        .into_iter()
        .filter(|f| {
            [
                "CT_small.dcm",
                "MR_small.dcm",
                "rtplan.dcm",
                "ExplVR_BigEnd.dcm",
            ]
            .iter()
            .any(|n| f.ends_with(n))
        })
        .collect();
    let status = Command::new(&storescu)
        .args([
            "-aec",
            "LIGHTBOX",
            "127.0.0.1",
            &second.address.port.to_string(),
        ])
        .args(&uncompressed)
        .env("TCP_NODELAY", "1")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        second.store.index().stats().unwrap().instances as usize,
        uncompressed.len()
    );
}

#[test]
fn lightbox_sends_to_dcmtk_storescp() {
    let (Some(data), Some(storescp)) = (support::pydicom_data(), support::peer_tool("storescp"))
    else {
        return;
    };
    if !support::isolated_network() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let _peer = Peer(
        Command::new(&storescp)
            .args(["-aet", "STORESCP", "-od"])
            .arg(out.path())
            .args([
                "-xf",
                "/etc/dcmtk/storescp.cfg",
                "AllDICOM",
                &port.to_string(),
            ])
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
    c_echo::echo(&target, &options()).unwrap();
    let files = instance_files(&data);
    let report = c_store::send_files(&target, &options(), &paths(&files), &mut |_| {}).unwrap();
    let received = std::fs::read_dir(out.path()).unwrap().count();
    eprintln!(
        "sent {} failed {}; storescp wrote {received} files",
        report.sent, report.failed
    );
    for i in report.instances.iter().filter(|i| i.error.is_some()) {
        eprintln!("  {}: {}", i.path, i.error.as_deref().unwrap());
    }
    // storescp.cfg's AllDICOM profile takes RT Dose only uncompressed or deflated: those RLE
    // files are decoded and sent uncompressed; everything else goes in its own syntax.
    assert_eq!(report.failed, 0);
    let transcoded: Vec<&str> = report
        .instances
        .iter()
        .filter(|i| i.transcoded)
        .map(|i| i.path.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(transcoded, ["rtdose_rle.dcm", "rtdose_rle_1frame.dcm"]);
    assert_eq!(report.transcoded, 2);
    for i in &report.instances {
        let sent = i.transfer_syntax.as_deref().unwrap();
        let own = lightbox_dicom::read_file(Path::new(&i.path), lightbox_dicom::ReadMode::Header)
            .unwrap()
            .transfer_syntax;
        if i.transcoded {
            assert!(UNCOMPRESSED.contains(&sent), "{}: sent in {sent}", i.path);
        } else {
            assert_eq!(sent, own, "{}", i.path);
        }
    }
    // storescp names files by SOP Instance UID: instances sharing one UID land in one file.
    let distinct: std::collections::HashSet<_> = report
        .instances
        .iter()
        .filter(|i| i.error.is_none())
        .map(|i| i.sop_instance_uid.clone())
        .collect();
    assert_eq!(received, distinct.len());

    // The RLE files share their UID with the other RT Dose files: sent alone, what storescp
    // wrote for each decodes (pydicom) to the original's pixels, exactly.
    let Some(python) = support::python() else {
        return;
    };
    let rle: Vec<PathBuf> = ["rtdose_rle.dcm", "rtdose_rle_1frame.dcm"]
        .iter()
        .map(|n| data.join("test_files").join(n))
        .collect();
    for old in std::fs::read_dir(out.path()).unwrap().flatten() {
        std::fs::remove_file(old.path()).unwrap();
    }
    let keep = tempfile::tempdir().unwrap();
    let sent = send_one_by_one(&target, out.path(), keep.path(), &rle);
    for (sent, stored) in &sent {
        assert!(sent.transcoded && sent.error.is_none(), "{sent:?}");
        assert!(stored.is_some(), "{}: storescp wrote nothing", sent.path);
    }
    let rows = compare_pixels(&python, &sent);
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["compressed"], false, "{row}");
        assert_eq!(row["shape"], row["original_shape"], "{row}");
        assert_eq!(row["max_abs_diff"], 0, "{row}");
    }
}

const UNCOMPRESSED: [&str; 2] = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"];

/// Sends each file on an association of its own to a storescp writing into `out`, and returns
/// each report entry with the file storescp wrote, moved to `keep` as `NAME.received`. storescp
/// names files by SOP Instance UID and pydicom's test files share some, so one at a time.
fn send_one_by_one(
    target: &AeAddress,
    out: &Path,
    keep: &Path,
    files: &[PathBuf],
) -> Vec<(SentInstance, Option<PathBuf>)> {
    files
        .iter()
        .map(|file| {
            let report =
                c_store::send_files(target, &options(), std::slice::from_ref(file), &mut |_| {})
                    .unwrap();
            let written: Vec<PathBuf> = std::fs::read_dir(out)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect();
            assert!(written.len() <= 1, "{written:?}");
            let sent = report.instances.into_iter().next().unwrap();
            let kept = written.first().map(|w| {
                let kept = keep.join(format!(
                    "{}.received",
                    file.file_name().unwrap().to_string_lossy()
                ));
                std::fs::rename(w, &kept).unwrap();
                kept
            });
            (sent, kept)
        })
        .collect()
}

/// Files pydicom cannot decode, and the file holding the same image that it can.
const SAME_IMAGE: &[(&str, &str)] = &[
    // The same 12-bit stream but for a scan header field libjpeg rejects (render_reference.rs).
    ("JPEG-lossy.dcm", "JPGExtended.dcm"),
];

/// pydicom's decoding of each received file against its decoding of the original
/// (`tests/reference/transcode_reference.py pixels`), one JSON object per stored instance.
fn compare_pixels(
    python: &Path,
    sent: &[(SentInstance, Option<PathBuf>)],
) -> Vec<serde_json::Value> {
    let mut args: Vec<std::ffi::OsString> = vec!["pixels".into()];
    for (instance, stored) in sent {
        let Some(stored) = stored else { continue };
        let original = PathBuf::from(&instance.path);
        let name = original.file_name().unwrap().to_string_lossy().to_string();
        let reference = match SAME_IMAGE.iter().find(|(n, _)| *n == name) {
            Some((_, same)) => original.with_file_name(same),
            None => original,
        };
        args.push(reference.into());
        args.push(stored.into());
    }
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    support::run_reference_script(python, "transcode_reference.py", &refs)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Lossy JPEG decoders differ in IDCT and chroma upsampling (render_reference.rs's bound).
const DCT_MAX_MEAN_ABS_DIFF: f64 = 2.0;

#[test]
fn lightbox_decodes_for_a_peer_that_takes_only_uncompressed() {
    let (Some(data), Some(storescp), Some(python)) = (
        support::pydicom_data(),
        support::peer_tool("storescp"),
        support::python(),
    ) else {
        return;
    };
    if !support::isolated_network() {
        return;
    }
    // pydicom's compressed instances: RLE, JPEG baseline, extended, lossless, JPEG-LS, JPEG 2000.
    let compressed: Vec<(PathBuf, String)> = instance_files(&data)
        .into_iter()
        .filter_map(|(path, ..)| {
            let ts = lightbox_dicom::read_file(&path, lightbox_dicom::ReadMode::Header)
                .unwrap()
                .transfer_syntax;
            let encoding = lightbox_dicom::transfer_syntax::pixel_encoding(&ts);
            (encoding != lightbox_dicom::transfer_syntax::PixelEncoding::Native)
                .then_some((path, ts))
        })
        .collect();
    assert!(
        compressed.len() >= 30,
        "{} compressed files",
        compressed.len()
    );
    // Without a configuration file storescp accepts only uncompressed syntaxes: by default
    // explicit VR (little or big endian) or implicit; with +xi implicit VR only.
    for (option, expected_ts) in [("+xe", "1.2.840.10008.1.2.1"), ("+xi", "1.2.840.10008.1.2")] {
        let out = tempfile::tempdir().unwrap();
        let received = out.path().join("received");
        std::fs::create_dir(&received).unwrap();
        let port = support::free_port();
        let _peer = Peer(
            Command::new(&storescp)
                .args(["-aet", "STORESCP", option, "-od"])
                .arg(&received)
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
        let files: Vec<PathBuf> = compressed.iter().map(|c| c.0.clone()).collect();
        let sent = send_one_by_one(&target, &received, out.path(), &files);
        let mut failures = Vec::new();
        for (instance, stored) in &sent {
            let name = instance.path.rsplit('/').next().unwrap();
            match &instance.error {
                // JPEG2000.dcm with its codestream's size overwritten: refused before OpenJPEG
                // allocates for it, with the reason.
                Some(e) if name == "JPEG2000-embedded-sequence-delimiter.dcm" => {
                    assert!(
                        e.contains("only uncompressed")
                            && e.contains("decoding JPEG 2000")
                            && e.contains("codestream declares 3722445056×1024 pixels"),
                        "{e}"
                    );
                    assert!(stored.is_none());
                }
                Some(e) => failures.push(format!("{name}: {e}")),
                None => {
                    if !instance.transcoded
                        || instance.transfer_syntax.as_deref() != Some(expected_ts)
                        || instance.status != Some(0)
                        || stored.is_none()
                    {
                        failures.push(format!("{name}: {instance:?}, stored {stored:?}"));
                    }
                }
            }
        }
        assert_eq!(
            sent.iter().filter(|s| s.0.error.is_some()).count(),
            1,
            "{failures:#?}"
        );
        let rows = compare_pixels(&python, &sent);
        assert_eq!(rows.len(), sent.len() - 1);
        for row in rows {
            if let Some(error) = row.get("error") {
                failures.push(format!("{}: pydicom: {error}", row["original"]));
                continue;
            }
            let stored = row["converted"].as_str().unwrap();
            let (_, ts) = compressed
                .iter()
                .find(|(p, _)| {
                    stored.ends_with(&format!(
                        "/{}.received",
                        p.file_name().unwrap().to_string_lossy()
                    ))
                })
                .unwrap();
            let what = format!("{stored} (from {ts})");
            if row["transfer_syntax"] != expected_ts || row["compressed"] != false {
                failures.push(format!("{what}: stored in {}", row["transfer_syntax"]));
            }
            if row["shape"] != row["original_shape"] {
                failures.push(format!(
                    "{what}: {} vs {}",
                    row["shape"], row["original_shape"]
                ));
                continue;
            }
            let dct = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"].contains(&ts.as_str());
            let (max, mean) = (
                row["max_abs_diff"].as_u64().unwrap(),
                row["mean_abs_diff"].as_f64().unwrap(),
            );
            if (dct && mean > DCT_MAX_MEAN_ABS_DIFF) || (!dct && max != 0) {
                failures.push(format!("{what}: pixels differ, max {max} mean {mean:.3}"));
            }
            if row["samples"] == 3 && (row["planar"] != 0 || row["photometric"] == "YBR_FULL_422") {
                failures.push(format!(
                    "{what}: {} planar {}",
                    row["photometric"], row["planar"]
                ));
            }
            let lossy_ts = dct || ts == "1.2.840.10008.1.2.4.81";
            if lossy_ts && row["lossy"] != "01" {
                failures.push(format!("{what}: Lossy Image Compression {}", row["lossy"]));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));

        // A syntax nothing decodes: that instance is reported, the others on the association go on.
        let unknown = out.path().join("mpeg2.dcm");
        let source = data.join("test_files/MR_small_RLE.dcm");
        let file = lightbox_dicom::read_file(&source, lightbox_dicom::ReadMode::Header).unwrap();
        let mut bytes = lightbox_dicom::meta::part10_header(
            &file
                .dataset
                .first_text(lightbox_dicom::tag::SOP_CLASS_UID)
                .unwrap(),
            &file
                .dataset
                .first_text(lightbox_dicom::tag::SOP_INSTANCE_UID)
                .unwrap(),
            "1.2.840.10008.1.2.4.100",
            None,
        );
        bytes.extend_from_slice(&std::fs::read(&source).unwrap()[file.dataset_offset as usize..]);
        std::fs::write(&unknown, bytes).unwrap();
        let batch = [
            data.join("test_files/SC_rgb_rle.dcm"),
            unknown.clone(),
            data.join("test_files/examples_jpeg2k.dcm"),
        ];
        let report = c_store::send_files(&target, &options(), &batch, &mut |_| {}).unwrap();
        assert_eq!((report.sent, report.failed, report.transcoded), (2, 1, 2));
        let error = report.instances[1].error.as_deref().unwrap();
        assert!(
            error.contains("only uncompressed")
                && error.contains("no decoder for MPEG2 (1.2.840.10008.1.2.4.100)"),
            "{error}"
        );
    }
}

fn synthetic_listener() -> Listener {
    let listener = Listener::start(ScpConfig::default());
    let data = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        patients: 6,
        studies_per_patient: 2,
        series_per_study: 2,
        instances_per_series: 3,
        rows: 16,
        columns: 16,
        seed: 11,
        modality: None,
        ..Default::default()
    };
    lightbox_synth::generate(&spec, data.path()).unwrap();
    let report = lightbox_core::import::import(
        &listener.store,
        &[data.path().to_path_buf()],
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(report.imported, 72);
    listener
}

fn query(
    level: &str,
    keys: &[(lightbox_dicom::Tag, &str)],
) -> lightbox_dicom::write::DataSetBuilder {
    use lightbox_net::query::Level;
    let mut b = lightbox_dicom::write::DataSetBuilder::default();
    let level = Level::parse(level).unwrap();
    b.text(lightbox_net::query::QUERY_RETRIEVE_LEVEL, level.as_str());
    for key in lightbox_net::query::default_return_keys(level) {
        b.text(*key, "");
    }
    for (tag, value) in keys {
        b.text(*tag, value);
    }
    b
}

#[test]
fn c_find_at_every_level_answers_what_the_index_holds() {
    use lightbox_dicom::tag;
    use lightbox_net::query::QueryModel;
    let listener = synthetic_listener();
    let index = listener.store.index();
    let all = index
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    let uid = |ds: &lightbox_dicom::DataSet, t| ds.text(t).unwrap_or_default();

    // Study level, universal: every study, with counts and modalities.
    let studies = c_find::find(
        &listener.address,
        &options(),
        QueryModel::StudyRoot,
        &query("STUDY", &[]),
    )
    .unwrap();
    assert_eq!(studies.len(), all.len());
    let first = studies
        .iter()
        .find(|s| uid(s, tag::STUDY_INSTANCE_UID) == all[0].study_uid)
        .unwrap();
    assert_eq!(first.text(tag::PATIENT_NAME).unwrap(), all[0].patient_name);
    assert_eq!(
        first.text(lightbox_dicom::Tag(0x0020, 0x1208)).unwrap(),
        all[0].instance_count.to_string()
    );
    // SOP Classes in Study, as the instances hold them; and matching on it.
    for study in &all {
        let mut expected: Vec<String> = index
            .series_of_study(&study.study_uid)
            .unwrap()
            .iter()
            .flat_map(|s| index.instances_of_series(&s.series_uid).unwrap())
            .filter_map(|i| i.sop_class_uid)
            .collect();
        expected.sort();
        expected.dedup();
        let found = c_find::find(
            &listener.address,
            &options(),
            QueryModel::StudyRoot,
            &query(
                "STUDY",
                &[
                    (tag::STUDY_INSTANCE_UID, &study.study_uid),
                    (lightbox_net::query::SOP_CLASSES_IN_STUDY, ""),
                ],
            ),
        )
        .unwrap();
        assert_eq!(found.len(), 1);
        let mut classes = found[0].texts(lightbox_net::query::SOP_CLASSES_IN_STUDY);
        classes.sort();
        assert_eq!(classes, expected);
    }
    let ct = "1.2.840.10008.5.1.4.1.1.2";
    let with_ct = c_find::find(
        &listener.address,
        &options(),
        QueryModel::StudyRoot,
        &query("STUDY", &[(lightbox_net::query::SOP_CLASSES_IN_STUDY, ct)]),
    )
    .unwrap();
    let expected_ct = all
        .iter()
        .filter(|s| {
            index
                .sop_classes_of_study(&s.study_uid)
                .unwrap()
                .iter()
                .any(|c| c == ct)
        })
        .count();
    assert!(
        expected_ct > 0 && expected_ct < all.len(),
        "{expected_ct} of {}",
        all.len()
    );
    assert_eq!(with_ct.len(), expected_ct);
    // Wildcard on the name (case-insensitive), date range, UID list.
    let family = all[0]
        .patient_name
        .split('^')
        .next()
        .unwrap()
        .to_lowercase();
    let by_name = c_find::find(
        &listener.address,
        &options(),
        QueryModel::StudyRoot,
        &query("STUDY", &[(tag::PATIENT_NAME, &format!("{family}*"))]),
    )
    .unwrap();
    let expected = all
        .iter()
        .filter(|s| s.patient_name.to_lowercase().starts_with(&family))
        .count();
    assert_eq!(by_name.len(), expected);
    let date = all[3].study_date.clone().unwrap();
    let by_date = c_find::find(
        &listener.address,
        &options(),
        QueryModel::StudyRoot,
        &query("STUDY", &[(tag::STUDY_DATE, &format!("{date}-"))]),
    )
    .unwrap();
    assert_eq!(
        by_date.len(),
        all.iter()
            .filter(|s| s.study_date.as_deref().unwrap() >= date.as_str())
            .count()
    );
    let list = format!("{}\\{}", all[1].study_uid, all[2].study_uid);
    let by_uids = c_find::find(
        &listener.address,
        &options(),
        QueryModel::StudyRoot,
        &query("STUDY", &[(tag::STUDY_INSTANCE_UID, &list)]),
    )
    .unwrap();
    assert_eq!(by_uids.len(), 2);

    // Patient level, patient root: one per patient with a study count.
    let patients = c_find::find(
        &listener.address,
        &options(),
        QueryModel::PatientRoot,
        &query("PATIENT", &[]),
    )
    .unwrap();
    assert_eq!(patients.len(), 6);
    assert!(patients
        .iter()
        .all(|p| p.text(lightbox_dicom::Tag(0x0020, 0x1200)).as_deref() == Some("2")));

    // Series of one study; instances of one series.
    let series = c_find::find(
        &listener.address,
        &options(),
        QueryModel::StudyRoot,
        &query("SERIES", &[(tag::STUDY_INSTANCE_UID, &all[0].study_uid)]),
    )
    .unwrap();
    assert_eq!(series.len(), 2);
    let series_uid = uid(&series[0], tag::SERIES_INSTANCE_UID);
    let instances = c_find::find(
        &listener.address,
        &options(),
        QueryModel::StudyRoot,
        &query(
            "IMAGE",
            &[
                (tag::STUDY_INSTANCE_UID, &all[0].study_uid),
                (tag::SERIES_INSTANCE_UID, &series_uid),
            ],
        ),
    )
    .unwrap();
    assert_eq!(instances.len(), 3);
    let local: Vec<String> = index
        .instances_of_series(&series_uid)
        .unwrap()
        .into_iter()
        .map(|i| i.sop_instance_uid)
        .collect();
    let mut remote: Vec<String> = instances
        .iter()
        .map(|i| uid(i, tag::SOP_INSTANCE_UID))
        .collect();
    remote.sort();
    let mut local_sorted = local.clone();
    local_sorted.sort();
    assert_eq!(remote, local_sorted);
    // A query without a level is refused with a clear error.
    let mut no_level = lightbox_dicom::write::DataSetBuilder::default();
    no_level.text(tag::PATIENT_NAME, "");
    let err = c_find::find(
        &listener.address,
        &options(),
        QueryModel::StudyRoot,
        &no_level,
    )
    .unwrap_err();
    assert!(err.to_string().contains("Query/Retrieve Level"), "{err}");
}

#[test]
fn dcmtk_findscu_queries_lightbox() {
    let Some(findscu) = support::peer_tool("findscu") else {
        return;
    };
    let listener = synthetic_listener();
    let all = listener
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(&findscu)
        .args(["-S", "-aec", "LIGHTBOX", "-aet", "FINDSCU", "-X", "-od"])
        .arg(out.path())
        .args([
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            &format!("PatientID={}", all[0].patient_id),
            "-k",
            "StudyInstanceUID",
            "-k",
            "PatientName",
            "-k",
            "ModalitiesInStudy",
        ])
        .args(["127.0.0.1", &listener.address.port.to_string()])
        .env("TCP_NODELAY", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut found: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| {
            let f = lightbox_dicom::read_file(&e.path(), lightbox_dicom::ReadMode::Full).unwrap();
            assert_eq!(
                f.dataset.text(lightbox_dicom::tag::PATIENT_NAME).unwrap(),
                all[0].patient_name
            );
            f.dataset
                .text(lightbox_dicom::tag::STUDY_INSTANCE_UID)
                .unwrap()
        })
        .collect();
    found.sort();
    let mut expected: Vec<String> = all
        .iter()
        .filter(|s| s.patient_id == all[0].patient_id)
        .map(|s| s.study_uid.clone())
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn dcmtk_getscu_retrieves_from_lightbox() {
    let Some(getscu) = support::peer_tool("getscu") else {
        return;
    };
    let listener = synthetic_listener();
    let all = listener
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(&getscu)
        .args(["-S", "-aec", "LIGHTBOX", "-aet", "GETSCU", "-od"])
        .arg(out.path())
        .args([
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            &format!("StudyInstanceUID={}", all[0].study_uid),
        ])
        .args(["127.0.0.1", &listener.address.port.to_string()])
        .env("TCP_NODELAY", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut received: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| {
            lightbox_dicom::read_file(&e.path(), lightbox_dicom::ReadMode::Header)
                .unwrap()
                .dataset
                .text(lightbox_dicom::tag::SOP_INSTANCE_UID)
                .unwrap()
        })
        .collect();
    received.sort();
    let mut expected = Vec::new();
    for series in listener
        .store
        .index()
        .series_of_study(&all[0].study_uid)
        .unwrap()
    {
        expected.extend(
            listener
                .store
                .index()
                .instances_of_series(&series.series_uid)
                .unwrap()
                .into_iter()
                .map(|i| i.sop_instance_uid),
        );
    }
    expected.sort();
    assert_eq!(received, expected);
    assert_eq!(received.len(), 6);
}

#[test]
fn c_get_retrieves_a_study_and_a_series_into_the_store() {
    use lightbox_net::report::RetrieveTarget;
    let source = synthetic_listener();
    let all = source
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    let dir = tempfile::tempdir().unwrap();
    let local = Store::open(dir.path()).unwrap();
    let target = RetrieveTarget {
        study_uid: all[0].study_uid.clone(),
        series_uid: None,
        instances: Vec::new(),
    };
    let mut progress = Vec::new();
    let report = c_get::get(&source.address, &options(), &target, &local, &mut |p| {
        progress.push((p.done, p.expected))
    })
    .unwrap();
    assert_eq!(
        (report.expected, report.stored, report.failed, report.status),
        (6, 6, 0, 0),
        "{report:?}"
    );
    assert_eq!(progress.last(), Some(&(6, 6)));
    assert_eq!(
        local
            .index()
            .study(&all[0].study_uid)
            .unwrap()
            .unwrap()
            .instance_count,
        6
    );
    // Again: nothing new, every instance reported as a duplicate.
    let again = c_get::get(&source.address, &options(), &target, &local, &mut |_| {}).unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 6));
    // One series of another study.
    let series = source
        .store
        .index()
        .series_of_study(&all[1].study_uid)
        .unwrap();
    let one = RetrieveTarget {
        study_uid: all[1].study_uid.clone(),
        series_uid: Some(series[1].series_uid.clone()),
        instances: Vec::new(),
    };
    let report = c_get::get(&source.address, &options(), &one, &local, &mut |_| {}).unwrap();
    assert_eq!(report.stored, 3);
    assert_eq!(
        local
            .index()
            .series_of_study(&all[1].study_uid)
            .unwrap()
            .len(),
        1
    );
    // Nothing matches: an empty retrieval, not an error.
    let none = RetrieveTarget {
        study_uid: "1.2.3.4".into(),
        series_uid: None,
        instances: Vec::new(),
    };
    assert_eq!(
        c_get::get(&source.address, &options(), &none, &local, &mut |_| {})
            .unwrap()
            .expected,
        0
    );
}

#[test]
fn orthanc_send_find_and_get() {
    use lightbox_dicom::tag;
    use lightbox_net::query::QueryModel;
    use lightbox_net::report::RetrieveTarget;
    let Some(orthanc) = start_orthanc() else {
        return;
    };
    let source = synthetic_listener();
    let mut files = Vec::new();
    for study in source
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
        .iter()
        .take(3)
    {
        for series in source
            .store
            .index()
            .series_of_study(&study.study_uid)
            .unwrap()
        {
            files.extend(
                source
                    .store
                    .index()
                    .instances_of_series(&series.series_uid)
                    .unwrap()
                    .into_iter()
                    .map(|i| source.store.local_path(&i.file_path).unwrap()),
            );
        }
    }
    c_echo::echo(&orthanc.address, &options()).unwrap();
    let sent = c_store::send_files(&orthanc.address, &options(), &files, &mut |_| {}).unwrap();
    assert_eq!((sent.sent, sent.failed), (18, 0));

    let studies = c_find::find(
        &orthanc.address,
        &options(),
        QueryModel::StudyRoot,
        &query("STUDY", &[]),
    )
    .unwrap();
    assert_eq!(studies.len(), 3);
    let study_uid = studies[0].text(tag::STUDY_INSTANCE_UID).unwrap();
    let local_study = source.store.index().study(&study_uid).unwrap().unwrap();
    assert_eq!(
        studies[0].text(tag::PATIENT_NAME).unwrap(),
        local_study.patient_name,
        "Orthanc's padded values are trimmed"
    );
    let series = c_find::find(
        &orthanc.address,
        &options(),
        QueryModel::StudyRoot,
        &query("SERIES", &[(tag::STUDY_INSTANCE_UID, &study_uid)]),
    )
    .unwrap();
    assert_eq!(series.len(), 2);
    let patients = c_find::find(
        &orthanc.address,
        &options(),
        QueryModel::PatientRoot,
        &query("PATIENT", &[]),
    )
    .unwrap();
    assert!(!patients.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let local = Store::open(dir.path()).unwrap();
    let report = c_get::get(
        &orthanc.address,
        &options(),
        &RetrieveTarget {
            study_uid: study_uid.clone(),
            series_uid: None,
            instances: Vec::new(),
        },
        &local,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        (report.expected, report.stored, report.failed),
        (6, 6, 0),
        "{report:?}"
    );
    let other = studies[1].text(tag::STUDY_INSTANCE_UID).unwrap();
    let other_series = c_find::find(
        &orthanc.address,
        &options(),
        QueryModel::StudyRoot,
        &query("SERIES", &[(tag::STUDY_INSTANCE_UID, &other)]),
    )
    .unwrap();
    let one = RetrieveTarget {
        study_uid: other.clone(),
        series_uid: Some(other_series[0].text(tag::SERIES_INSTANCE_UID).unwrap()),
        instances: Vec::new(),
    };
    let report = c_get::get(&orthanc.address, &options(), &one, &local, &mut |_| {}).unwrap();
    assert_eq!(report.stored, 3, "{report:?}");
    assert_eq!(local.index().stats().unwrap().instances, 9);
}

#[test]
fn c_move_sends_to_known_nodes_only() {
    use lightbox_core::nodes::{Node, Nodes};
    use lightbox_net::report::RetrieveTarget;
    let source = synthetic_listener();
    let destination = Listener::start(ScpConfig {
        ae_title: "DEST".into(),
        ..ScpConfig::default()
    });
    let nodes = Nodes::new(source.store.root());
    nodes.add(Node::new("dest", &destination.address)).unwrap();
    let down = AeAddress {
        ae_title: "DOWN".into(),
        host: "127.0.0.1".into(),
        port: support::free_port(),
    };
    nodes
        .add(Node {
            timeout_seconds: 2,
            ..Node::new("down", &down)
        })
        .unwrap();
    let all = source
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    let target = RetrieveTarget {
        study_uid: all[0].study_uid.clone(),
        series_uid: None,
        instances: Vec::new(),
    };

    let mut progress = Vec::new();
    let report = c_move::move_to(&source.address, &options(), &target, "DEST", &mut |p| {
        progress.push(p.done)
    })
    .unwrap();
    assert_eq!(
        (report.expected, report.stored, report.failed, report.status),
        (6, 6, 0, 0),
        "{report:?}"
    );
    assert_eq!(progress, [1, 2, 3, 4, 5]);
    assert_eq!(destination.store.index().stats().unwrap().instances, 6);

    let unknown = c_move::move_to(
        &source.address,
        &options(),
        &target,
        "STRANGER",
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(unknown.status, 0xA801);
    assert!(
        unknown.errors[0].contains("move destination unknown"),
        "{:?}",
        unknown.errors
    );

    let unreachable =
        c_move::move_to(&source.address, &options(), &target, "DOWN", &mut |_| {}).unwrap();
    assert_eq!(
        (unreachable.status, unreachable.failed),
        (0xA702, 6),
        "{unreachable:?}"
    );
}

#[test]
fn c_move_with_orthanc_both_ways() {
    use lightbox_core::nodes::{Node, Nodes};
    use lightbox_dicom::tag;
    use lightbox_net::query::QueryModel;
    use lightbox_net::report::RetrieveTarget;
    let Some(curl) = support::peer_tool("curl") else {
        return;
    };
    let lightbox = synthetic_listener();
    let modalities =
        serde_json::json!({ "lightbox": ["LIGHTBOX", "127.0.0.1", lightbox.address.port] });
    let Some(orthanc) = start_orthanc_knowing(modalities) else {
        return;
    };
    Nodes::new(lightbox.store.root())
        .add(Node::new("orthanc", &orthanc.address))
        .unwrap();
    let all = lightbox
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;

    // Orthanc, as the C-MOVE SCU, asks Lightbox to send a study to Orthanc itself.
    let body = serde_json::json!({ "Level": "Study", "Resources": [{ "StudyInstanceUID": all[0].study_uid }], "TargetAet": "ORTHANC", "Synchronous": true });
    let out = Command::new(&curl)
        .args([
            "-sf",
            "-X",
            "POST",
            "--data-binary",
            &body.to_string(),
            &format!(
                "http://127.0.0.1:{}/modalities/lightbox/move",
                orthanc.http_port
            ),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Orthanc's C-MOVE from Lightbox failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let in_orthanc = c_find::find(
        &orthanc.address,
        &options(),
        QueryModel::StudyRoot,
        &query("STUDY", &[(tag::STUDY_INSTANCE_UID, &all[0].study_uid)]),
    )
    .unwrap();
    assert_eq!(in_orthanc.len(), 1);
    assert_eq!(
        in_orthanc[0].text(tag::STUDY_INSTANCE_UID).unwrap(),
        all[0].study_uid
    );

    // Lightbox, as the C-MOVE SCU, moves that study from Orthanc into a fresh Lightbox listener.
    let receiver = Listener::start(ScpConfig::default());
    let modalities =
        serde_json::json!({ "lightbox": ["LIGHTBOX", "127.0.0.1", receiver.address.port] });
    drop(orthanc);
    let Some(orthanc) = start_orthanc_knowing(modalities) else {
        return;
    };
    let files: Vec<PathBuf> = lightbox
        .store
        .index()
        .series_of_study(&all[0].study_uid)
        .unwrap()
        .iter()
        .flat_map(|s| {
            lightbox
                .store
                .index()
                .instances_of_series(&s.series_uid)
                .unwrap()
        })
        .map(|i| lightbox.store.local_path(&i.file_path).unwrap())
        .collect();
    assert_eq!(
        c_store::send_files(&orthanc.address, &options(), &files, &mut |_| {})
            .unwrap()
            .sent,
        6
    );
    let target = RetrieveTarget {
        study_uid: all[0].study_uid.clone(),
        series_uid: None,
        instances: Vec::new(),
    };
    let report = c_move::move_to(
        &orthanc.address,
        &options(),
        &target,
        "LIGHTBOX",
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        (report.stored, report.failed, report.status),
        (6, 0, 0),
        "{report:?}"
    );
    assert_eq!(receiver.store.index().stats().unwrap().instances, 6);
    // Orthanc answers an unknown destination with a refusal, reported as an error.
    let refused = c_move::move_to(
        &orthanc.address,
        &options(),
        &target,
        "NOWHERE",
        &mut |_| {},
    )
    .unwrap();
    assert!(!refused.errors.is_empty(), "{refused:?}");
}

/// Relays one connection to `upstream` and cuts both sides once `limit` bytes came from the
/// client: a peer that vanishes in the middle of a transfer.
fn cutting_relay(upstream: u16, limit: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut server = std::net::TcpStream::connect(("127.0.0.1", upstream)).unwrap();
        let (mut client_r, mut server_w) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        let back = std::thread::spawn(move || {
            let _ = std::io::copy(&mut server, &mut client);
        });
        let mut forwarded = 0;
        let mut buf = [0u8; 8192];
        while forwarded < limit {
            match client_r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if server_w.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    forwarded += n;
                }
            }
        }
        let _ = client_r.shutdown(std::net::Shutdown::Both);
        let _ = server_w.shutdown(std::net::Shutdown::Both);
        let _ = back.join();
    });
    port
}

#[test]
fn a_peer_vanishing_mid_transfer_gives_a_clear_error_and_no_partial_instance() {
    let listener = Listener::start(ScpConfig::default());
    let data = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 4,
        modality: Some("CT".into()),
        ..Default::default()
    };
    lightbox_synth::generate(&spec, data.path()).unwrap();
    let files: Vec<PathBuf> = walkdir::WalkDir::new(data.path())
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    // Each file is ~526 KB: the cut falls in the middle of the first instance's data set.
    let relay = cutting_relay(listener.address.port, 200_000);
    let target = AeAddress {
        port: relay,
        ..listener.address.clone()
    };
    let started = Instant::now();
    let err = c_store::send_files(
        &target,
        &ScuOptions {
            timeout: Duration::from_secs(5),
            ..options()
        },
        &files,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(err, DimseError::ConnectionLost { .. }), "{err}");
    assert!(err.is_transient());
    // The SCP notices the broken association: nothing half-received is stored or left behind.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(listener.store.tmp_dir()).unwrap().count() > 0 {
        assert!(
            Instant::now() < deadline,
            "a partial instance was left in the scratch space"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(listener.store.index().stats().unwrap().instances, 0);
}

#[test]
fn dcmtk_movescu_moves_from_lightbox() {
    use lightbox_core::nodes::{Node, Nodes};
    let Some(movescu) = support::peer_tool("movescu") else {
        return;
    };
    if !support::isolated_network() {
        return;
    }
    let listener = synthetic_listener();
    let port = support::free_port();
    let mover = AeAddress {
        ae_title: "MOVESCU".into(),
        host: "127.0.0.1".into(),
        port,
    };
    Nodes::new(listener.store.root())
        .add(Node::new("movescu", &mover))
        .unwrap();
    let all = listener
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(&movescu)
        .args([
            "-S",
            "-aec",
            "LIGHTBOX",
            "-aet",
            "MOVESCU",
            "-aem",
            "MOVESCU",
            "--port",
            &port.to_string(),
            "-od",
        ])
        .arg(out.path())
        .args([
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            &format!("StudyInstanceUID={}", all[0].study_uid),
        ])
        .args(["127.0.0.1", &listener.address.port.to_string()])
        .env("TCP_NODELAY", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 6);
    // An unknown destination is refused with the standard status.
    let refused = Command::new(&movescu)
        .args([
            "-S",
            "-aec",
            "LIGHTBOX",
            "-aem",
            "NOWHERE",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            &format!("StudyInstanceUID={}", all[0].study_uid),
        ])
        .args(["127.0.0.1", &listener.address.port.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&refused.stderr).to_string()
        + &String::from_utf8_lossy(&refused.stdout);
    assert!(
        text.contains("a801")
            || text.contains("A801")
            || text.contains("Move Destination Unknown")
            || text.contains("MoveDestinationUnknown"),
        "{text}"
    );
}

#[test]
fn lightbox_queries_and_retrieves_from_dcmtk_dcmqrscp() {
    use lightbox_dicom::tag;
    use lightbox_net::query::QueryModel;
    use lightbox_net::report::RetrieveTarget;
    let Some(dcmqrscp) = support::peer_tool("dcmqrscp") else {
        return;
    };
    if !support::isolated_network() {
        return;
    }
    let receiver = Listener::start(ScpConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    let port = support::free_port();
    let config = format!(
        "NetworkTCPPort = {port}\nMaxPDUSize = 131072\nMaxAssociations = 16\n\
         HostTable BEGIN\nlightbox = (LIGHTBOX, 127.0.0.1, {})\nHostTable END\n\
         VendorTable BEGIN\nVendorTable END\n\
         AETable BEGIN\nDCMQRSCP {} RW (200, 1024mb) ANY\nAETable END\n",
        receiver.address.port,
        db.display()
    );
    let config_path = dir.path().join("dcmqrscp.cfg");
    std::fs::write(&config_path, config).unwrap();
    let _peer = Peer(
        Command::new(dcmqrscp)
            .args(["-c"])
            .arg(&config_path)
            .env("TCP_NODELAY", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    let qr = AeAddress {
        ae_title: "DCMQRSCP".into(),
        host: "127.0.0.1".into(),
        port,
    };

    let source = synthetic_listener();
    let all = source
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies;
    let files: Vec<PathBuf> = all
        .iter()
        .take(2)
        .flat_map(|s| source.store.index().series_of_study(&s.study_uid).unwrap())
        .flat_map(|s| {
            source
                .store
                .index()
                .instances_of_series(&s.series_uid)
                .unwrap()
        })
        .map(|i| source.store.local_path(&i.file_path).unwrap())
        .collect();
    let sent = c_store::send_files(&qr, &options(), &files, &mut |_| {}).unwrap();
    assert_eq!((sent.sent, sent.failed), (12, 0));

    let studies = c_find::find(
        &qr,
        &options(),
        QueryModel::StudyRoot,
        &query("STUDY", &[(tag::STUDY_INSTANCE_UID, "")]),
    )
    .unwrap();
    assert_eq!(studies.len(), 2);
    let patients = c_find::find(
        &qr,
        &options(),
        QueryModel::PatientRoot,
        &query("PATIENT", &[(tag::PATIENT_ID, "")]),
    )
    .unwrap();
    assert!(!patients.is_empty());

    let local_dir = tempfile::tempdir().unwrap();
    let local = Store::open(local_dir.path()).unwrap();
    let target = RetrieveTarget {
        study_uid: all[0].study_uid.clone(),
        series_uid: None,
        instances: Vec::new(),
    };
    let got = c_get::get(&qr, &options(), &target, &local, &mut |_| {}).unwrap();
    assert_eq!((got.expected, got.stored, got.failed), (6, 6, 0), "{got:?}");

    let moved = c_move::move_to(
        &qr,
        &options(),
        &RetrieveTarget {
            study_uid: all[1].study_uid.clone(),
            ..target
        },
        "LIGHTBOX",
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        (moved.stored, moved.failed, moved.status),
        (6, 0, 0),
        "{moved:?}"
    );
    assert_eq!(receiver.store.index().stats().unwrap().instances, 6);
}

#[test]
fn c_get_and_c_move_can_be_canceled_midway() {
    use lightbox_core::nodes::{Node, Nodes};
    use lightbox_net::report::RetrieveTarget;
    let source = Listener::start(ScpConfig::default());
    let data = tempfile::tempdir().unwrap();
    let spec = lightbox_synth::SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 60,
        rows: 32,
        columns: 32,
        seed: 5,
        modality: Some("CT".into()),
        ..Default::default()
    };
    lightbox_synth::generate(&spec, data.path()).unwrap();
    lightbox_core::import::import(
        &source.store,
        &[data.path().to_path_buf()],
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    let study = source
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
        .remove(0);
    let target = RetrieveTarget {
        study_uid: study.study_uid.clone(),
        series_uid: None,
        instances: Vec::new(),
    };

    // C-GET: cancel after the third instance has arrived.
    let flag = Arc::new(AtomicBool::new(false));
    let canceling = ScuOptions {
        cancel: Some(flag.clone()),
        ..options()
    };
    let dir = tempfile::tempdir().unwrap();
    let local = Store::open(dir.path()).unwrap();
    let started = Instant::now();
    let report = c_get::get(&source.address, &canceling, &target, &local, &mut |p| {
        if p.done >= 3 {
            flag.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert_eq!(report.status, 0xFE00, "{report:?}");
    assert!(report.stored >= 3 && report.stored < 60, "{report:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        local.index().stats().unwrap().instances,
        report.stored,
        "what arrived is stored, nothing half-done"
    );

    // C-MOVE to a known node: cancel once three sub-operations are reported.
    let destination = Listener::start(ScpConfig {
        ae_title: "DEST".into(),
        ..ScpConfig::default()
    });
    Nodes::new(source.store.root())
        .add(Node::new("dest", &destination.address))
        .unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let canceling = ScuOptions {
        cancel: Some(flag.clone()),
        ..options()
    };
    let report = c_move::move_to(&source.address, &canceling, &target, "DEST", &mut |p| {
        if p.done >= 3 {
            flag.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert_eq!(report.status, 0xFE00, "{report:?}");
    let moved = destination.store.index().stats().unwrap().instances;
    assert!((3..60).contains(&moved), "{moved} moved");
}

#[test]
fn a_codestream_cut_short_is_refused_over_c_store() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let listener = Listener::start(ScpConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let cut_file = dir.path().join("cut_rle.dcm");
    let rle = std::fs::read(data.join("test_files/MR_small_RLE.dcm")).unwrap();
    std::fs::write(&cut_file, &rle[..2707]).unwrap();
    let short = dir.path().join("short_jpeg.dcm");
    support::with_truncated_codestream(&data.join("test_files/SC_rgb_jpeg_dcmtk.dcm"), &short, 200);
    let report = c_store::send_files(
        &listener.address,
        &options(),
        &[cut_file, short],
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((report.sent, report.failed), (0, 2), "{report:?}");
    for instance in &report.instances {
        assert_eq!(instance.status, Some(0xC000), "{instance:?}");
    }
    assert_eq!(listener.store.index().stats().unwrap().instances, 0);
    eprintln!(
        "figure: RLE cut at byte 2707 and a JPEG cut short, over C-STORE: both answered 0xC000, 0 stored"
    );
}
