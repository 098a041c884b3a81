//! The viewer page end to end in a real headless Chromium against `lightbox serve`: a generated
//! CT series opened by its link, scrolled with the keys, probed, windowed by dragging, measured
//! and inverted, each checked against the DICOM file read independently here; and a series of a
//! localizer and an axial stack shown as two image sets. Screenshots go to
//! `target/ui-screenshots/`.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::browser::{keys, Browser};
use lightbox_dicom::parse::{read_file, ReadMode};
use lightbox_dicom::pixel::{read_frame, FrameChoice};
use lightbox_dicom::tag;
use lightbox_synth::SynthSpec;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A generated CT series of `instances` 256×256 slices, imported into `data_dir`; its files.
fn ct_series(data_dir: &Path, source: &Path, instances: u32) -> Vec<PathBuf> {
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: instances,
        rows: 256,
        columns: 256,
        modality: Some("CT".into()),
        ..SynthSpec::default()
    };
    lightbox_synth::generate(&spec, source).unwrap();
    let imported = common::ok_json(data_dir, &["import", source.to_str().unwrap(), "--json"]);
    assert_eq!(imported["imported"], instances, "{imported}");
    walkdir::WalkDir::new(source)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect()
}

/// The study and series UIDs of the only series in the store.
fn only_series(url: &str) -> (String, String) {
    let studies = common::get_json(&format!("{url}/api/studies"));
    let study = studies["studies"][0]["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    let detail = common::get_json(&format!("{url}/api/studies/{study}"));
    let series = detail["series"][0]["SeriesInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    (study, series)
}

/// The modality value of pixel (column, row) of the file whose SOP Instance UID is `sop`.
fn modality_value(files: &[PathBuf], sop: &str, column: usize, row: usize) -> f64 {
    for path in files {
        let file = read_file(path, ReadMode::Full).unwrap();
        if file.dataset.text(tag::SOP_INSTANCE_UID).as_deref() != Some(sop) {
            continue;
        }
        let frame = read_frame(&file, path, FrameChoice::Index(0)).unwrap();
        let info = &frame.info;
        assert_eq!(frame.bytes_per_sample, 2);
        let at = (row * info.columns + column) * 2;
        let raw = u16::from_le_bytes([frame.bytes[at], frame.bytes[at + 1]]);
        let stored = info.bits_stored as u32;
        let value = if info.signed {
            let shift = 32 - stored;
            (((raw as u32) << shift) as i32 >> shift) as f64
        } else {
            (raw as u32 & ((1u32 << stored) - 1)) as f64
        };
        let slope = file.dataset.float(tag::RESCALE_SLOPE).unwrap_or(1.0);
        let intercept = file.dataset.float(tag::RESCALE_INTERCEPT).unwrap_or(0.0);
        return value * slope + intercept;
    }
    panic!("no file with SOP Instance UID {sop}");
}

/// The display grey of `x` in window (center, width): PS3.3 C.11.2.1.2.1.
fn linear_window(x: f64, center: f64, width: f64) -> u8 {
    if x <= center - 0.5 - (width - 1.0) / 2.0 {
        0
    } else if x > center - 0.5 + (width - 1.0) / 2.0 {
        255
    } else {
        (((x - (center - 0.5)) / (width - 1.0) + 0.5) * 255.0).round() as u8
    }
}

/// The grey the active viewport shows for stored pixel (column, row) of its 256×256 slice,
/// drawn at 1:1 and centred (red channel; greys are grey).
fn canvas_grey(browser: &Browser, (column, row): (usize, usize)) -> u8 {
    let value = browser.execute(
        "const c = document.querySelector('.viewport.active canvas');
         const x = Math.round(c.width / 2) - 128 + arguments[0];
         const y = Math.round(c.height / 2) - 128 + arguments[1];
         const d = c.getContext('2d').getImageData(x, y, 1, 1).data;
         return [d[0], d[1], d[2]];",
        &[json!(column), json!(row)],
    );
    assert_eq!(value[0], value[1], "a grey pixel: {value}");
    value[0].as_u64().unwrap() as u8
}

/// The probe's "(column, row) value HU".
fn probe(browser: &Browser) -> (usize, usize, f64) {
    parse_probe(&browser.find("[data-testid=probe]").text())
}

fn parse_probe(text: &str) -> (usize, usize, f64) {
    let (coords, rest) = text
        .trim_start_matches('(')
        .split_once(") ")
        .unwrap_or_else(|| panic!("probe: {text:?}"));
    let (c, r) = coords.split_once(", ").unwrap();
    let value = rest.trim_end_matches(" HU").parse().unwrap();
    (c.parse().unwrap(), r.parse().unwrap(), value)
}

fn attr(browser: &Browser, name: &str) -> String {
    browser
        .find("[data-testid=viewer]")
        .attr(name)
        .unwrap_or_default()
}

fn assert_no_page_errors(browser: &Browser) {
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors: {console:?}");
    let caught = browser.execute("return window.lightboxErrors || []", &[]);
    assert_eq!(caught, json!([]), "errors the page caught");
}

#[test]
fn a_ct_series_is_scrolled_probed_windowed_measured_and_inverted() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    browser.set_window_size(1100, 800);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let files = ct_series(&data, &dir.path().join("source"), 24);
    let serve = common::serve::Serve::start(&data, &[]);
    let (study, series) = only_series(&serve.url);
    let metadata = common::get_json(&format!(
        "{}/dicom-web/studies/{study}/series/{series}/metadata",
        serve.url
    ));
    let first = |ds: &Value, tag: &str| ds[tag]["Value"][0].clone();
    // The expected order: along the normal of the slices' orientation.
    let mut by_position: Vec<(f64, String)> = metadata
        .as_array()
        .unwrap()
        .iter()
        .map(|ds| {
            let iop: Vec<f64> = (0..6)
                .map(|i| ds["00200037"]["Value"][i].as_f64().unwrap())
                .collect();
            let ipp: Vec<f64> = (0..3)
                .map(|i| ds["00200032"]["Value"][i].as_f64().unwrap())
                .collect();
            let normal = [
                iop[1] * iop[5] - iop[2] * iop[4],
                iop[2] * iop[3] - iop[0] * iop[5],
                iop[0] * iop[4] - iop[1] * iop[3],
            ];
            let along = normal.iter().zip(&ipp).map(|(n, p)| n * p).sum();
            (along, first(ds, "00080018").as_str().unwrap().to_string())
        })
        .collect();
    by_position.sort_by(|a, b| a.0.total_cmp(&b.0));
    let spacing = first(&metadata[0], "00280030").as_f64().unwrap();
    let center = first(&metadata[0], "00281050").as_f64().unwrap();
    let width = first(&metadata[0], "00281051").as_f64().unwrap();

    // The page comes with the server's rendering of its first slice (the first along the
    // normal), for the browser to show while the page's modules load.
    let page_url = format!("{}/view/{study}/{series}", serve.url);
    let page = common::http()
        .get(&page_url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let rendering = format!(
        "src=\"/api/instances/{}/rendered?size=512\"",
        by_position[0].1
    );
    assert!(page.contains(&rendering), "{page}");
    let streamed_page = common::http()
        .get(&format!("{page_url}?node=elsewhere"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        !streamed_page.contains("first-slice\""),
        "no rendering of a series on its way"
    );

    browser.goto(&page_url);
    browser.wait_until("every slice loaded", Duration::from_secs(30), || {
        attr(&browser, "data-total") == "24" && attr(&browser, "data-loaded") == "24"
    });
    assert_eq!(attr(&browser, "data-slice"), "0");
    assert_eq!(
        browser.execute("return !!document.getElementById('first-slice')", &[]),
        json!(false),
        "the rendering gives way once the slice is drawn"
    );
    assert!(browser.find("[data-testid=viewer] canvas").is_displayed());
    // The hand-off to 3D Slicer, in the form its DICOM module reads (study level only).
    let endpoint = format!("{}/dicom-web", serve.url)
        .replace(':', "%3A")
        .replace('/', "%2F");
    assert_eq!(
        browser
            .find("[data-testid=open-slicer]")
            .attr("href")
            .unwrap(),
        format!("slicer://viewer/?studyUID={study}&dicomweb_endpoint={endpoint}")
    );
    let viewport = browser.find("[data-testid=viewport]");

    // Scrolling with the keys.
    viewport.send_keys(keys::DOWN);
    browser.wait_until("the next slice", Duration::from_secs(5), || {
        attr(&browser, "data-slice") == "1"
    });
    viewport.send_keys(keys::END);
    assert_eq!(attr(&browser, "data-slice"), "23");
    viewport.send_keys(keys::HOME);
    assert_eq!(attr(&browser, "data-slice"), "0");
    viewport.send_keys(keys::PAGE_DOWN);
    assert_eq!(attr(&browser, "data-slice"), "2");
    browser.wait_for_text("[data-testid=slice-label]", "Slice 3/24");
    let shown_sop = &by_position[2].1;

    // At one stored pixel per screen pixel, the value under the pointer is the file's, and its
    // grey is the instance's own window applied to it.
    viewport.send_keys("1");
    let canvas = browser.find(".viewport.active canvas");
    let (w, h) = canvas.size();
    let spot = (w / 2.0 + 10.0, h / 2.0 - 20.0);
    canvas.hover(spot);
    browser.wait_until("the probe", Duration::from_secs(5), || {
        !browser.find("[data-testid=probe]").text().is_empty()
    });
    let (column, row, value) = probe(&browser);
    assert_eq!(value, modality_value(&files, shown_sop, column, row));
    assert_eq!(
        browser.find("[data-testid=window-label]").text(),
        format!("W {} L {}", width.round(), center.round())
    );
    assert_eq!(
        canvas_grey(&browser, (column, row)),
        linear_window(value, center, width)
    );

    // Dragging: 60 px right widens the window, 30 px down raises its level, by width/256 a
    // pixel.
    let sensitivity = width / 256.0;
    canvas.drag(0, (200.0, 200.0), (260.0, 230.0), 6);
    let (new_center, new_width) = (center + 30.0 * sensitivity, width + 60.0 * sensitivity);
    browser.wait_for_text(
        "[data-testid=window-label]",
        &format!("W {} L {}", new_width.round(), new_center.round()),
    );
    canvas.hover(spot);
    assert_eq!(
        canvas_grey(&browser, (column, row)),
        linear_window(value, new_center, new_width)
    );

    // A distance: 100 screen pixels across, at 1:1, is 100 pixels of Pixel Spacing.
    viewport.send_keys("m");
    canvas.drag(0, (150.0, 300.0), (250.0, 300.0), 5);
    let measured = browser.find("[data-testid=measurement]").text();
    assert_eq!(measured, format!("{:.1} mm", 100.0 * spacing));
    browser.screenshot("viewer-ct-measured");

    // Invert flips the grey.
    viewport.send_keys("i");
    browser.wait_for_text("[data-testid=window-label]", "inv");
    canvas.hover(spot);
    assert_eq!(
        canvas_grey(&browser, (column, row)),
        255 - linear_window(value, new_center, new_width)
    );

    // MPR: the stack with its coronal and sagittal reformats, whose values are the stack's.
    browser.execute(
        "const s = document.querySelector('[data-testid=layout]');
         s.value = 'mpr'; s.dispatchEvent(new Event('change'));",
        &[],
    );
    browser.wait_until("three planes", Duration::from_secs(10), || {
        browser.find_all("[data-testid=viewport][data-plane]").len() == 3
    });
    let last = by_position.len() - 1;
    for (plane, fixed) in [("coronal", "row"), ("sagittal", "column")] {
        let view = browser.find(&format!("[data-testid=viewport][data-plane={plane}]"));
        assert_eq!(view.attr("data-total").as_deref(), Some("256"), "{plane}");
        assert_eq!(view.attr("data-slice").as_deref(), Some("128"), "{plane}");
        let canvas = view.find("canvas");
        let (w, h) = canvas.size();
        canvas.hover((w / 2.0 + 7.0, h / 2.0 + 5.0));
        browser.wait_until("the probe", Duration::from_secs(5), || {
            !view.find("[data-testid=probe]").text().is_empty()
        });
        let (across, up, value) = parse_probe(&view.find("[data-testid=probe]").text());
        // Its rows run down the stack from its far end; its columns along the fixed row or column.
        let sop = &by_position[last - up].1;
        let expected = if fixed == "row" {
            modality_value(&files, sop, across, 128)
        } else {
            modality_value(&files, sop, 128, across)
        };
        assert_eq!(value, expected, "{plane} at ({across}, {up})");
    }
    // The crosshair tool: a click in the stack moves the other planes through that point.
    let axial = browser.find("[data-testid=viewport][data-plane=axial]");
    axial.send_keys("c");
    let canvas = axial.find("canvas");
    let (w, h) = canvas.size();
    let spot = (w / 2.0 - 15.0, h / 2.0 + 9.0);
    canvas.hover(spot);
    let (column, row, _) = parse_probe(&axial.find("[data-testid=probe]").text());
    canvas.drag(0, spot, spot, 1);
    let plane_slice = |plane: &str| {
        browser
            .find(&format!("[data-testid=viewport][data-plane={plane}]"))
            .attr("data-slice")
            .unwrap_or_default()
    };
    browser.wait_until("the planes follow", Duration::from_secs(5), || {
        plane_slice("coronal") == row.to_string() && plane_slice("sagittal") == column.to_string()
    });
    browser.screenshot("viewer-mpr");
    assert_no_page_errors(&browser);
}

/// The first study of a patient and its series' UIDs, from the API.
fn study_and_series(url: &str, patient_id: &str) -> (String, Vec<String>) {
    let studies = common::get_json(&format!("{url}/api/studies?patient_id={patient_id}"));
    let study = studies["studies"][0]["StudyInstanceUID"]
        .as_str()
        .unwrap_or_else(|| panic!("no study of {patient_id}: {studies}"))
        .to_string();
    let detail = common::get_json(&format!("{url}/api/studies/{study}"));
    let series = detail["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["SeriesInstanceUID"].as_str().unwrap().to_string())
        .collect();
    (study, series)
}

fn wait_loaded(browser: &Browser, total: &str) {
    browser.wait_until(
        &format!("{total} slices loaded"),
        Duration::from_secs(30),
        || attr(browser, "data-total") == total && attr(browser, "data-loaded") == total,
    );
}

#[test]
fn image_sets_layouts_cine_and_colour() {
    let (Some(browser), Some(pydicom)) = (Browser::start_or_skip(), support::pydicom_data()) else {
        return;
    };
    let test_files = pydicom.join("test_files");
    browser.set_window_size(1200, 800);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let source = dir.path().join("source");
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 3,
        instances_per_series: 12,
        rows: 128,
        columns: 128,
        modality: Some("CT".into()),
        localizer: true,
        ..SynthSpec::default()
    };
    lightbox_synth::generate(&spec, &source).unwrap();
    let us = test_files.join("examples_ybr_color.dcm");
    let palette = test_files.join("examples_palette.dcm");
    for path in [&source, &us, &palette] {
        common::ok_json(&data, &["import", path.to_str().unwrap(), "--json"]);
    }
    let serve = common::serve::Serve::start(&data, &[]);
    let patient = common::get_json(&format!("{}/api/studies?modality=CT", serve.url))["studies"][0]
        ["PatientID"]
        .as_str()
        .unwrap()
        .to_string();
    let (study, series) = study_and_series(&serve.url, &patient);
    assert_eq!(series.len(), 3);

    // In the browser, the series' tile shows a thumbnail for each of its two image sets.
    browser.goto(&serve.url);
    browser
        .find("[data-testid=filter-patient-id]")
        .send_keys(&patient);
    let tile = format!("[data-testid=series][data-series-uid='{}']", series[0]);
    let set_thumbs = format!("{tile} [data-testid=image-set-thumbnail]");
    browser.wait_until(
        "the tile's image-set thumbnails drawn",
        Duration::from_secs(20),
        || {
            browser.execute(
                "const imgs = [...document.querySelectorAll(arguments[0] + ' img')];
                 return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);",
                &[json!(set_thumbs)],
            ) == json!(true)
        },
    );
    browser.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
        &[json!(tile)],
    );
    browser.screenshot("browser-image-sets");
    // Labels: the study's date in the browser's locale; the ultrasound loop counted by frames.
    let study_row =
        common::get_json(&format!("{}/api/studies/{study}", serve.url))["study"].clone();
    let date = study_row["StudyDate"].as_str().unwrap();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months[date[4..6].parse::<usize>().unwrap() - 1];
    let day: u32 = date[6..8].parse().unwrap();
    let shown = format!("{month} {day}, {}", &date[..4]);
    browser.wait_for_text(
        &format!("[data-testid=study][data-study-uid='{study}'] [data-testid=study-date]"),
        &shown,
    );
    let server_labels: Vec<String> = common::get_json(&format!(
        "{}/api/series/{}/image-sets",
        serve.url, series[0]
    ))["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap().to_string())
        .collect();
    // The localizer's thumbnail opens the viewer at the localizer.
    browser.find(&format!("{set_thumbs}[data-set='1']")).click();
    wait_loaded(&browser, "1");
    assert_eq!(
        browser.execute(
            "return document.querySelector('[data-testid=image-set]').value",
            &[]
        ),
        json!("1")
    );

    // A localizer and an axial stack: two image sets, the stack first, ordered along its normal.
    browser.goto(&format!("{}/view/{study}/{}", serve.url, series[0]));
    wait_loaded(&browser, "11");
    let sets = browser.find_all("[data-testid=image-set] option");
    let labels: Vec<String> = sets.iter().map(|o| o.text()).collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert!(labels[0].starts_with("11 images · axial"), "{labels:?}");
    assert!(labels[1].starts_with("1 image · localizer"), "{labels:?}");
    assert_eq!(
        labels, server_labels,
        "the browser and the viewer split alike"
    );
    let position = |browser: &Browser| -> f64 {
        let text = browser.find("[data-testid=corner-bl]").text();
        let pos = text
            .split("Pos ")
            .nth(1)
            .unwrap_or_else(|| panic!("{text}"));
        pos.split(" mm").next().unwrap().parse().unwrap()
    };
    let viewport = browser.find("[data-testid=viewport]");
    let first = position(&browser);
    viewport.send_keys(keys::END);
    browser.wait_for_text("[data-testid=slice-label]", "Slice 11/11");
    assert!(position(&browser) > first, "ordered along the normal");
    browser.execute(
        "const s = document.querySelector('[data-testid=image-set]');
         s.value = '1'; s.dispatchEvent(new Event('change'));",
        &[],
    );
    wait_loaded(&browser, "1");
    browser.screenshot("viewer-localizer");
    // One image is no volume: MPR says so and the layout stays.
    browser.execute(
        "const s = document.querySelector('[data-testid=layout]');
         s.value = 'mpr'; s.dispatchEvent(new Event('change'));",
        &[],
    );
    browser.wait_for_text("[data-testid=toast]", "MPR needs a stack");
    assert_eq!(browser.find_all("[data-testid=viewport]").len(), 1);

    // Four viewports, each on another series of the study (the fourth repeats one).
    browser.execute(
        "const s = document.querySelector('[data-testid=layout]');
         s.value = '4'; s.dispatchEvent(new Event('change'));",
        &[],
    );
    browser.wait_until("four viewports loaded", Duration::from_secs(30), || {
        let shown = browser.find_all("[data-testid=viewport]");
        shown.len() == 4
            && shown.iter().all(|v| {
                let total = v.attr("data-total").unwrap_or_default();
                total != "0" && v.attr("data-loaded") == Some(total)
            })
    });
    let shown: Vec<String> = browser
        .find_all("[data-testid=viewport]")
        .iter()
        .map(|v| v.attr("data-series").unwrap_or_default())
        .collect();
    assert_eq!(&shown[..3], &series[..], "{shown:?}");
    browser.screenshot("viewer-2x2");

    // A 30-frame ultrasound loop plays at its own frame rate (Frame Time 33.3 ms).
    let (us_study, us_series) = study_and_series(&serve.url, &patient_of(&us));
    // In the browser, the loop is counted by its frames.
    browser.goto(&serve.url);
    browser
        .find("[data-testid=filter-patient-id]")
        .send_keys(&patient_of(&us));
    browser.wait_for_text(
        &format!(
            "[data-testid=series][data-series-uid='{}'] [data-testid=series-count]",
            us_series[0]
        ),
        "30 frames",
    );
    browser.goto(&format!("{}/view/{us_study}/{}", serve.url, us_series[0]));
    wait_loaded(&browser, "30");
    assert_eq!(
        browser.find("[data-testid=cine-rate]").property("value"),
        json!("30")
    );
    browser
        .find("[data-testid=viewport]")
        .send_keys(keys::SPACE);
    // Which slices the page showed over 1.5 s, sampled in the page at every animation frame (a
    // WebDriver poll is too slow to see them).
    let seen = browser.execute_async(
        "const done = arguments[arguments.length - 1];
         const root = document.querySelector('[data-testid=viewer]');
         const seen = new Set();
         const start = performance.now();
         const tick = () => {
           seen.add(root.dataset.slice);
           if (performance.now() - start < 1500) requestAnimationFrame(tick); else done([...seen]);
         };
         requestAnimationFrame(tick);",
        &[],
    );
    let seen = seen.as_array().unwrap();
    assert!(seen.len() >= 5, "cine showed {seen:?}");
    browser.screenshot("viewer-us-cine");
    browser
        .find("[data-testid=viewport]")
        .send_keys(keys::SPACE);

    // A palette colour image is shown in colour.
    let (pal_study, pal_series) = study_and_series(&serve.url, &patient_of(&palette));
    browser.goto(&format!("{}/view/{pal_study}/{}", serve.url, pal_series[0]));
    wait_loaded(&browser, "1");
    // Loaded is not drawn yet: the slice is painted at the next frame.
    let coloured = || {
        browser.execute(
            "const c = document.querySelector('.viewport.active canvas');
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let n = 0;
             for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2]) n++;
             return n;",
            &[],
        )
        .as_u64()
        .unwrap()
    };
    browser.wait_until(
        "the palette image drawn in colour",
        Duration::from_secs(10),
        || coloured() > 1000,
    );
    browser.screenshot("viewer-palette");
    assert_no_page_errors(&browser);
}

/// The Patient ID of a file.
fn patient_of(path: &Path) -> String {
    read_file(path, ReadMode::Header)
        .unwrap()
        .dataset
        .text(tag::PATIENT_ID)
        .unwrap_or_default()
}

#[test]
fn a_series_on_orthanc_is_shown_while_it_is_retrieved_over_dimse_and_dicomweb() {
    let (Some(browser), Some(orthanc)) =
        (Browser::start_or_skip(), support::start_orthanc_dicomweb())
    else {
        return;
    };
    browser.set_window_size(1100, 800);
    let dir = tempfile::tempdir().unwrap();
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 200,
        rows: 256,
        columns: 256,
        modality: Some("CT".into()),
        ..SynthSpec::default()
    };
    let files = support::synthetic_in_peer(&orthanc.address, &dir.path().join("source"), &spec);
    let header = read_file(&files[0], ReadMode::Header).unwrap();
    let study = header.dataset.text(tag::STUDY_INSTANCE_UID).unwrap();
    let series = header.dataset.text(tag::SERIES_INSTANCE_UID).unwrap();
    let dimse = format!("ORTHANC@127.0.0.1:{}", orthanc.address.port);
    let web = format!("http://127.0.0.1:{}/dicom-web", orthanc.http_port);
    for (name, node) in [
        ("dimse", vec!["orthanc", dimse.as_str()]),
        ("dicomweb", vec!["orthanc", "--dicomweb", web.as_str()]),
    ] {
        // Each protocol into an empty store of its own.
        let data = dir.path().join(name);
        let added = common::lightbox(&data, &[&["nodes", "add"], &node[..]].concat());
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
        let serve = common::serve::Serve::start(&data, &[]);
        browser.goto(&format!("{}/view/{study}/{series}?node=orthanc", serve.url));
        browser.wait_until(
            &format!("{name}: the first slice shown"),
            Duration::from_secs(60),
            || browser.performance_mark("lightbox:first-slice").is_some(),
        );
        browser.wait_until(
            &format!("{name}: the whole series"),
            Duration::from_secs(120),
            || {
                attr(&browser, "data-retrieval") == "completed"
                    && attr(&browser, "data-total") == "200"
                    && attr(&browser, "data-loaded") == "200"
            },
        );
        let first = browser.performance_mark("lightbox:first-slice").unwrap();
        let retrieved = browser.performance_mark("lightbox:retrieved").unwrap();
        eprintln!("{name}: first slice at {first:.0} ms, retrieved at {retrieved:.0} ms");
        assert!(
            first < retrieved,
            "{name}: the first slice came at {first} ms, the retrieval ended at {retrieved} ms"
        );
        assert_eq!(attr(&browser, "data-expected"), "200");
        browser.screenshot(&format!("viewer-streamed-{name}"));
        assert_no_page_errors(&browser);
    }
}

/// The corner's "Pos … mm" of the slice shown.
fn corner_position(browser: &Browser) -> f64 {
    let text = browser.find("[data-testid=corner-bl]").text();
    let pos = text
        .split("Pos ")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    pos.split(" mm").next().unwrap().parse().unwrap()
}

#[test]
fn an_enhanced_ct_is_a_stack_of_its_frames_in_position_order() {
    let (Some(browser), Some(python)) = (Browser::start_or_skip(), support::python()) else {
        return;
    };
    browser.set_window_size(1100, 800);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let source = dir.path().join("source");
    let frames = 12;
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: frames,
        rows: 96,
        columns: 96,
        modality: Some("CT".into()),
        enhanced: true,
        ..SynthSpec::default()
    };
    lightbox_synth::generate(&spec, &source).unwrap();
    let file = walkdir::WalkDir::new(&source)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.extension().is_some_and(|x| x == "dcm"))
        .unwrap();
    common::ok_json(&data, &["import", file.to_str().unwrap(), "--json"]);
    // pydicom's reading: each frame's place along the normal and its HU around the image's
    // centre (columns and rows 46 to 50), from the per-frame and shared functional groups.
    let out = support::run_python_code(
        &python,
        "import sys, json, numpy as np, pydicom
ds = pydicom.dcmread(sys.argv[1])
shared = ds.SharedFunctionalGroupsSequence[0]
o = np.array([float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient])
n = np.cross(o[:3], o[3:])
t = shared.PixelValueTransformationSequence[0]
arr = ds.pixel_array
frames = [(float(np.array(f.PlanePositionSequence[0].ImagePositionPatient, float) @ n),
           (arr[i][46:51, 46:51].astype(float) * float(t.RescaleSlope) + float(t.RescaleIntercept)).tolist())
          for i, f in enumerate(ds.PerFrameFunctionalGroupsSequence)]
print(json.dumps(frames))",
        &[file.as_os_str()],
    );
    let mut expected: Vec<(f64, Vec<Vec<f64>>)> = serde_json::from_str(&out).unwrap();
    assert!(
        expected.windows(2).all(|w| w[0].0 > w[1].0),
        "the frames are stored from the last slice to the first"
    );
    expected.sort_by(|a, b| a.0.total_cmp(&b.0));

    let serve = common::serve::Serve::start(&data, &[]);
    let (study, series) = only_series(&serve.url);
    let sets = common::get_json(&format!("{}/api/series/{series}/image-sets", serve.url));
    assert_eq!(
        sets["sets"][0]["label"], "12 images · axial · 96×96",
        "one set of its frames: {sets}"
    );
    assert_eq!(sets["sets"].as_array().unwrap().len(), 1);

    browser.goto(&format!("{}/view/{study}/{series}", serve.url));
    wait_loaded(&browser, "12");
    let viewport = browser.find("[data-testid=viewport]");
    let canvas = viewport.find("canvas");
    let (w, h) = canvas.size();
    // Each slice in turn: its place is the next frame's along the normal, its values that frame's.
    for (i, (along, hu)) in expected.iter().enumerate() {
        browser.wait_until(&format!("slice {i}"), Duration::from_secs(5), || {
            attr(&browser, "data-slice") == i.to_string()
        });
        assert!(
            (corner_position(&browser) - along).abs() < 0.05,
            "slice {i}"
        );
        canvas.hover((w / 2.0, h / 2.0));
        let (column, row, value) = probe(&browser);
        assert!(
            (46..=50).contains(&column) && (46..=50).contains(&row),
            "({column}, {row})"
        );
        assert_eq!(
            value,
            hu[row - 46][column - 46],
            "slice {i} at ({column}, {row})"
        );
        viewport.send_keys(keys::DOWN);
    }
    browser.screenshot("viewer-enhanced");
    // A regular volume: MPR reformats it.
    browser.execute(
        "const s = document.querySelector('[data-testid=layout]');
         s.value = 'mpr'; s.dispatchEvent(new Event('change'));",
        &[],
    );
    browser.wait_until("three planes", Duration::from_secs(10), || {
        browser.find_all("[data-testid=viewport][data-plane]").len() == 3
    });
    let sagittal = browser.find("[data-testid=viewport][data-plane=sagittal]");
    assert_eq!(sagittal.attr("data-total").as_deref(), Some("96"));
    browser.screenshot("viewer-enhanced-mpr");
    assert_no_page_errors(&browser);
}
