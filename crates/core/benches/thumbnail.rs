//! Thumbnail of a 512×512 16-bit CT: render + fit to 256 + PNG, and the series thumbnail cold
//! (cache miss) and warm (cache hit). `cargo bench -p lightbox-core --bench thumbnail`.

use lightbox_core::import::{self, ImportOptions, ImportProgress};
use lightbox_core::index::StudyQuery;
use lightbox_core::render::{render_file, series_thumbnail, thumbnail, FrameChoice};
use lightbox_core::store::Store;
use lightbox_dicom::{self as dicom, tag};
use lightbox_synth::{self as synth, SynthSpec};
use std::time::Instant;

fn report(label: &str, mut times: Vec<f64>) {
    times.sort_by(f64::total_cmp);
    let p = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "| {label} | {} | {:.2} | {:.2} | {:.2} |",
        times.len(),
        p(0.5),
        p(0.95),
        times[times.len() - 1]
    );
}

fn main() {
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load().trim());
    let dir = tempfile::tempdir().unwrap();
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 1,
        modality: Some("CT".into()),
        ..SynthSpec::default()
    };
    let file = dir.path().join("ct.dcm");
    std::fs::write(&file, synth::instance_bytes(&spec, 0, 0, 0, 0)).unwrap();
    let header = dicom::read_file(&file, dicom::ReadMode::Header).unwrap();
    let ds = &header.dataset;
    let attr = |t| ds.int(t).unwrap_or(0);
    assert_eq!(
        (
            attr(tag::ROWS),
            attr(tag::COLUMNS),
            attr(tag::BITS_ALLOCATED)
        ),
        (512, 512, 16),
        "the benchmark instance must be a 512×512 16-bit image"
    );
    println!(
        "instance: {} bytes, {}×{}, {} bits allocated, {} stored, modality {}\n",
        std::fs::metadata(&file).unwrap().len(),
        attr(tag::ROWS),
        attr(tag::COLUMNS),
        attr(tag::BITS_ALLOCATED),
        attr(tag::BITS_STORED),
        ds.text(tag::MODALITY).unwrap_or_default()
    );
    drop(header);

    println!("| 512×512 16-bit CT | runs | p50 ms | p95 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    let mut render_only = Vec::new();
    let mut full = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let image = render_file(&file, FrameChoice::Middle).unwrap();
        render_only.push(started.elapsed().as_secs_f64() * 1000.0);
        let small = thumbnail::fit(&image, 256);
        let png = thumbnail::encode_png(&small);
        full.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!((image.width, image.height), (512, 512));
        assert_eq!((small.width, small.height), (256, 256));
        assert!(png.len() > 1000);
    }
    report("read + decode + LUT (full resolution)", render_only);
    report("thumbnail: render + fit 256 + PNG", full);

    let store = Store::open(&dir.path().join("store")).unwrap();
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for i in 0..50u32 {
        // A new series each time: a cold cache miss through the index and the store.
        let single = SynthSpec {
            seed: 1000 + i as u64,
            ..spec.clone()
        };
        let path = dir.path().join(format!("s{i}.dcm"));
        std::fs::write(&path, synth::instance_bytes(&single, 0, 0, 0, 0)).unwrap();
        import::import(
            &store,
            &[path],
            &ImportOptions::default(),
            &ImportProgress::default(),
        )
        .unwrap();
    }
    for study in store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
    {
        let series = store
            .index()
            .series_of_study(&study.study_uid)
            .unwrap()
            .remove(0);
        let started = Instant::now();
        series_thumbnail(&store, &series.series_uid, 256).unwrap();
        cold.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        series_thumbnail(&store, &series.series_uid, 256).unwrap();
        warm.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    report(
        "series thumbnail, cold (index + render + cache write)",
        cold,
    );
    report("series thumbnail, warm (cache hit)", warm);
    println!("\nload average after: {}", load().trim());
}
