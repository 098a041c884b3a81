//! Untrusted lengths never drive allocations: hostile files fail fast with a reason, and the
//! process's peak memory stays small. One test per binary so the peak is this test's own.

use lightbox_dicom::{self as dicom, ReadMode};
use std::path::Path;

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

fn explicit_le_file(body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    let ts = b"1.2.840.10008.1.2.1\0";
    out.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
    out.extend_from_slice(&(ts.len() as u16).to_le_bytes());
    out.extend_from_slice(ts);
    out.extend_from_slice(body);
    out
}

#[test]
fn hostile_inputs_fail_fast_with_a_reason_and_bounded_memory() {
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // A 4 GB OB value in a tiny file.
    let mut huge = vec![0x09, 0x00, 0x10, 0x00, b'O', b'B', 0, 0];
    huge.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    huge.extend_from_slice(&[1, 2, 3, 4]);
    cases.push(("huge OB length", explicit_le_file(&huge)));
    // A sequence item claiming more than the sequence holds.
    let mut item = vec![0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0];
    item.extend_from_slice(&16u32.to_le_bytes());
    item.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
    item.extend_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    item.extend_from_slice(&[0; 8]);
    cases.push(("item longer than its sequence", explicit_le_file(&item)));
    // Sequences nested thousands deep (undefined lengths, never closed).
    let mut deep = Vec::new();
    for _ in 0..5000 {
        deep.extend_from_slice(&[
            0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        deep.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    cases.push(("deep nesting", explicit_le_file(&deep)));
    // A deflated data set that inflates without bound (a deflate bomb: 300 MB of zeros).
    let mut bomb = vec![0u8; 128];
    bomb.extend_from_slice(b"DICM");
    let ts = b"1.2.840.10008.1.2.1.99";
    bomb.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
    bomb.extend_from_slice(&(ts.len() as u16).to_le_bytes());
    bomb.extend_from_slice(ts);
    {
        use std::io::Write;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let mut body = vec![0x10, 0x00, 0x10, 0x00, b'O', b'B', 0, 0];
        body.extend_from_slice(&(300u32 << 20).to_le_bytes());
        enc.write_all(&body).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..300 {
            enc.write_all(&zeros).unwrap();
        }
        bomb.extend_from_slice(&enc.finish().unwrap());
    }
    cases.push(("deflate bomb", bomb));

    let started = std::time::Instant::now();
    for (name, bytes) in &cases {
        let result = dicom::read_bytes(bytes, ReadMode::Full);
        let err = result.err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(!err.to_string().is_empty());
        eprintln!("{name}: {err}");
    }
    // pydicom's hostile sample: 674 bytes that made dicom-rs 0.10 allocate 3.6 GB.
    let data = std::env::var_os("LIGHTBOX_PYDICOM_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-data/pydicom"));
    let un_sequence = data.join("test_files/UN_sequence.dcm");
    if un_sequence.is_file() {
        for mode in [ReadMode::Header, ReadMode::Full] {
            match dicom::read_file(&un_sequence, mode) {
                Ok(f) => eprintln!(
                    "UN_sequence.dcm read: {} elements",
                    f.dataset.elements.len()
                ),
                Err(e) => eprintln!("UN_sequence.dcm rejected: {e}"),
            }
        }
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "pydicom test files missing"
        );
    }
    let elapsed = started.elapsed();
    let peak = peak_rss_mb();
    eprintln!("figure: hostile files (lengths of 4 GiB, a 300 MB deflate bomb, deep nesting, mutated headers): each refused with a reason, peak RSS {peak} MB, {elapsed:.1?}");
    // Inflating is capped at 64 MiB, so the peak stays near that cap plus the test binary, never
    // the 300 MB the bomb asks for or the gigabytes the hostile lengths claim.
    assert!(peak < 300, "peak RSS {peak} MB");
}
