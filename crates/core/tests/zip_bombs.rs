//! Zip archives that would unpack far beyond their size, or hold more entries than any study:
//! refused with the reason, the rest of the import going on, in bounded memory and scratch
//! space. One test in its own process, so that its peak memory is its own.

use lightbox_core::import::{import, zip_limits, ImportOptions, ImportProgress};
use lightbox_core::store::Store;
use std::io::Write;
use std::path::Path;

fn peak_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        / 1024
}

/// A zip of `entries` empty files.
fn many_entries(path: &Path, entries: u64) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..entries {
        zip.start_file(format!("{i}"), options).unwrap();
    }
    zip.finish().unwrap();
}

/// A zip of one entry of `bytes` zeros, deflated (a thousandfold smaller).
fn inflating(path: &Path, bytes: u64) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("zeros.dcm", options).unwrap();
    let block = vec![0u8; 1 << 20];
    for _ in 0..bytes >> 20 {
        zip.write_all(&block).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn zip_bombs_are_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let crowded = dir.path().join("crowded.zip");
    many_entries(&crowded, zip_limits::ENTRIES + 1);
    let bomb = dir.path().join("bomb.zip");
    inflating(&bomb, 512 << 20);
    assert!(std::fs::metadata(&bomb).unwrap().len() < 2 << 20);
    let before = peak_mb();

    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let report = import(
        &store,
        &[crowded.clone(), bomb.clone()],
        &ImportOptions::default(),
        &ImportProgress::default(),
    )
    .unwrap();
    let peak = peak_mb();
    eprintln!(
        "figure: zip of {} entries and a 512 MB-inflating entry (< 2 MB file): both refused, \
         peak {before} MB before, {peak} MB after; {:?}",
        zip_limits::ENTRIES + 1,
        report.skipped
    );
    assert_eq!(report.imported, 0);
    let reason = |name: &str| {
        report
            .skipped
            .iter()
            .find(|s| s.path.contains(name))
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| panic!("{name} not reported: {report:?}"))
    };
    assert!(reason("crowded.zip").contains("entries"), "{report:?}");
    assert!(reason("bomb.zip").contains("inflates"), "{report:?}");
    assert!(peak - before < 64, "{before} → {peak} MB");
    // Nothing is left in the scratch space.
    assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
}
