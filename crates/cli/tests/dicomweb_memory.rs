//! DICOMweb streams both ways in bounded memory: `lightbox serve` sends a 300 MB series over
//! WADO-RS and takes a 300 MB STOW-RS upload while its peak resident memory (VmHWM) grows by
//! far less than the data.

mod common;

use common::serve::Serve;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Peak growth allowed while 300 MB pass through.
const MAX_GROWTH_KB: u64 = 64 * 1024;

/// Peak resident set size of a process so far, in KiB.
fn peak_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn generate(dir: &Path, seed: u64) -> Vec<PathBuf> {
    lightbox_synth::generate(
        &lightbox_synth::SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 600,
            rows: 512,
            columns: 512,
            seed,
            modality: Some("CT".into()),
            ..lightbox_synth::SynthSpec::default()
        },
        dir,
    )
    .unwrap();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

#[test]
fn wado_and_stow_of_300_mb_stay_in_bounded_memory() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stored = generate(&dir.path().join("stored"), 1);
    let out = common::lightbox(
        &data,
        &[
            "import",
            "--link",
            dir.path().join("stored").to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let serve = Serve::start(&data, &[]);
    let studies = common::get_json(&format!("{}/api/studies", serve.url));
    let study = studies["studies"][0]["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    let total: u64 = stored.iter().map(|f| f.metadata().unwrap().len()).sum();
    assert!(total > 300_000_000, "{total}");

    // WADO-RS of the whole study, read and counted as it streams.
    let before = peak_kb(serve.pid());
    let mut response = agent()
        .get(format!("{}/dicom-web/studies/{study}", serve.url))
        .header(
            "accept",
            "multipart/related; type=\"application/dicom\"; transfer-syntax=*",
        )
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut buffer = vec![0u8; 1 << 20];
    let mut received = 0u64;
    loop {
        let n = reader.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    assert!(
        received > total,
        "{received} bytes for {total} bytes of files"
    );
    let growth = peak_kb(serve.pid()).saturating_sub(before);
    eprintln!("figure: WADO-RS of {total} bytes: serve's peak RSS grew by {growth} KiB");
    assert!(
        growth < MAX_GROWTH_KB,
        "WADO-RS grew the peak RSS by {growth} KiB"
    );

    // STOW-RS of another 300 MB series, one request, streamed from a file.
    let upload = generate(&dir.path().join("upload"), 2);
    let body_path = dir.path().join("body");
    let boundary = "lightbox-memory-test-boundary";
    {
        let mut body = std::io::BufWriter::new(std::fs::File::create(&body_path).unwrap());
        for file in &upload {
            write!(
                body,
                "--{boundary}\r\nContent-Type: application/dicom\r\n\r\n"
            )
            .unwrap();
            body.write_all(&std::fs::read(file).unwrap()).unwrap();
            body.write_all(b"\r\n").unwrap();
        }
        write!(body, "--{boundary}--\r\n").unwrap();
    }
    let before = peak_kb(serve.pid());
    let mut response = agent()
        .post(format!("{}/dicom-web/studies", serve.url))
        .header(
            "content-type",
            format!("multipart/related; type=\"application/dicom\"; boundary={boundary}"),
        )
        .send(ureq::SendBody::from_reader(
            &mut std::fs::File::open(&body_path).unwrap(),
        ))
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.body_mut().read_to_string().unwrap()
    );
    let growth = peak_kb(serve.pid()).saturating_sub(before);
    eprintln!("figure: STOW-RS of 600 instances: serve's peak RSS grew by {growth} KiB");
    assert!(
        growth < MAX_GROWTH_KB,
        "STOW-RS grew the peak RSS by {growth} KiB"
    );
    let status = common::get_json(&format!("{}/api/status", serve.url));
    assert_eq!(status["store"]["instances"], 1200);
}

/// An Explicit VR Little Endian element header.
fn element_header(group: u16, element: u16, vr: &[u8; 2], length: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(vr);
    if matches!(vr, b"OB" | b"OW" | b"UN" | b"SQ" | b"UT") {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&length.to_le_bytes());
    } else {
        out.extend_from_slice(&(length as u16).to_le_bytes());
    }
    out
}

#[test]
fn a_bulk_data_element_of_300_mb_is_streamed() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (class, sop) = (
        "1.2.840.10008.5.1.4.1.1.104.1",
        "1.2.826.0.1.3680043.10.1588.88.1",
    );
    let (study, series) = (
        "1.2.826.0.1.3680043.10.1588.88.2",
        "1.2.826.0.1.3680043.10.1588.88.3",
    );
    let path = dir.path().join("document.dcm");
    const BULK: u32 = 300 << 20;
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        out.write_all(&lightbox_dicom::meta::part10_header(
            class,
            sop,
            "1.2.840.10008.1.2.1",
            None,
        ))
        .unwrap();
        let mut text = |group, element, vr: &[u8; 2], value: &str| {
            let mut bytes = value.as_bytes().to_vec();
            if bytes.len() % 2 == 1 {
                bytes.push(if vr == b"UI" { 0 } else { b' ' });
            }
            out.write_all(&element_header(group, element, vr, bytes.len() as u32))
                .unwrap();
            out.write_all(&bytes).unwrap();
        };
        text(0x0008, 0x0016, b"UI", class);
        text(0x0008, 0x0018, b"UI", sop);
        text(0x0008, 0x0060, b"CS", "DOC");
        text(0x0010, 0x0020, b"LO", "BULK-1");
        text(0x0020, 0x000D, b"UI", study);
        text(0x0020, 0x000E, b"UI", series);
        out.write_all(&element_header(0x0042, 0x0011, b"OB", BULK))
            .unwrap();
        let block = vec![0x5Au8; 1 << 20];
        for _ in 0..BULK >> 20 {
            out.write_all(&block).unwrap();
        }
    }
    let data = dir.path().join("data");
    assert!(
        common::lightbox(&data, &["import", "--link", path.to_str().unwrap()])
            .status
            .success()
    );
    let serve = Serve::start(&data, &[]);
    let metadata = common::get_json(&format!(
        "{}/dicom-web/studies/{study}/series/{series}/instances/{sop}/metadata",
        serve.url
    ));
    let uri = metadata[0]["00420011"]["BulkDataURI"]
        .as_str()
        .unwrap_or_else(|| panic!("no bulk data URI: {metadata}"))
        .to_string();
    let before = peak_kb(serve.pid());
    let mut response = agent().get(&uri).call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut buffer = vec![0u8; 1 << 20];
    let (mut received, mut marked) = (0u64, 0u64);
    loop {
        let n = reader.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        received += n as u64;
        marked += buffer[..n].iter().filter(|&&b| b == 0x5A).count() as u64;
    }
    assert!(received > BULK as u64, "{received}");
    assert_eq!(marked, BULK as u64, "the element's bytes, all of them");
    let growth = peak_kb(serve.pid()).saturating_sub(before);
    eprintln!("figure: bulk data element of {BULK} bytes: serve's peak RSS grew by {growth} KiB");
    assert!(
        growth < MAX_GROWTH_KB,
        "bulk data grew the peak RSS by {growth} KiB"
    );
}
