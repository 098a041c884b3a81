//! DICOMweb against a real client: python dicomweb-client searches, retrieves (as stored and
//! decoded to the default Explicit VR Little Endian), reads metadata and follows bulk data URIs.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::Server;

use lightbox_core::import::{self, ImportOptions, ImportProgress};
use lightbox_core::index::StudyQuery;
use lightbox_core::store::Store;
use serde_json::Value;
use std::sync::Arc;

/// The DICOMweb server over `store`, at `url` (`…/dicom-web`).
fn dicomweb(
    store: Arc<Store>,
    credentials: Option<lightbox_server::Credentials>,
) -> (Server, String) {
    let server = Server::start(store, None, credentials);
    let url = format!("{}/dicom-web", server.origin);
    (server, url)
}

/// A store holding pydicom test files (native, RLE, JPEG 2000, JPEG baseline), and the JSON file
/// listing them for the reference scripts.
fn pydicom_store(
    data: &std::path::Path,
) -> (
    tempfile::TempDir,
    Arc<Store>,
    Vec<Value>,
    std::path::PathBuf,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    // A native file and lossless compressed ones (RLE, JPEG 2000, JPEG lossless), each a
    // distinct instance.
    let names = [
        "CT_small.dcm",
        "MR_small_RLE.dcm",
        "GDCMJ2K_TextGBR.dcm",
        "SC_rgb_jpeg_gdcm.dcm",
    ];
    let paths: Vec<_> = names
        .iter()
        .map(|n| data.join("test_files").join(n))
        .collect();
    let report = import::import(
        &store,
        &paths,
        &ImportOptions::default(),
        &ImportProgress::default(),
    )
    .unwrap();
    assert_eq!(report.imported as usize, names.len(), "{report:?}");
    let mut wanted = Vec::new();
    for path in &paths {
        let file = lightbox_dicom::read_file(path, lightbox_dicom::ReadMode::Header).unwrap();
        let text = |t| file.dataset.first_text(t).unwrap();
        use lightbox_dicom::tag;
        wanted.push(serde_json::json!({
            "study": text(tag::STUDY_INSTANCE_UID),
            "series": text(tag::SERIES_INSTANCE_UID),
            "sop": text(tag::SOP_INSTANCE_UID),
            "path": path,
        }));
    }
    let wanted_file = dir.path().join("wanted.json");
    std::fs::write(&wanted_file, serde_json::to_vec(&wanted).unwrap()).unwrap();

    (dir, store, wanted, wanted_file)
}

#[test]
fn dicomweb_client_searches_retrieves_and_follows_bulk_data() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let (_dir, store, wanted, wanted_file) = pydicom_store(&data);
    let (_server, url) = dicomweb(store.clone(), None);
    let out: Value = serde_json::from_str(&support::run_reference_script(
        &python,
        "dicomweb_client_check.py",
        &[url.as_ref(), wanted_file.as_os_str()],
    ))
    .unwrap();

    let index = store.index();
    let all = index.search_studies(&StudyQuery::default()).unwrap();
    let mut expected: Vec<String> = all.studies.iter().map(|s| s.study_uid.clone()).collect();
    let mut got: Vec<String> = serde_json::from_value(out["studies"].clone()).unwrap();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    // Paging: two disjoint pages of three.
    let page = |k: &str| -> Vec<String> { serde_json::from_value(out[k].clone()).unwrap() };
    let (page1, page2) = (page("page1"), page("page2"));
    assert_eq!(page1.len(), 3.min(expected.len()));
    assert!(page1.iter().all(|u| !page2.contains(u)));
    assert_eq!(page1.len() + page2.len(), 6.min(expected.len()));
    // Series of the study and instances of the series, as the index holds them.
    let first = &wanted[0];
    let study = first["study"].as_str().unwrap();
    let series = first["series"].as_str().unwrap();
    let mut series_expected: Vec<String> = index
        .series_of_study(study)
        .unwrap()
        .into_iter()
        .map(|s| s.series_uid)
        .collect();
    let mut series_got = page("series_of_study");
    series_expected.sort();
    series_got.sort();
    assert_eq!(series_got, series_expected);
    let instances_expected: Vec<String> = index
        .instances_of_series(series)
        .unwrap()
        .into_iter()
        .map(|i| i.sop_instance_uid)
        .collect();
    let mut instances_got = page("instances_of_series");
    instances_got.sort();
    let mut instances_expected = instances_expected;
    instances_expected.sort();
    assert_eq!(instances_got, instances_expected);
    // includefield by keyword and by tag.
    let fields = page("included_fields");
    assert!(fields.contains(&"00081030".to_string()) && fields.contains(&"00100020".to_string()));
    // Fuzzy matching: a lower-case prefix of the family name finds the study.
    if let Some(fuzzy) = out["fuzzy"].as_array() {
        assert!(fuzzy.iter().any(|u| u == study), "{}", out["fuzzy_prefix"]);
    }
    // Retrieval as stored keeps the syntax and the pixel data bytes; the default decodes to
    // Explicit VR Little Endian with the same pixels (lossless sources: exactly).
    for entry in out["retrieved"].as_array().unwrap() {
        assert_eq!(entry["stored_ts"], entry["source_ts"], "{entry}");
        assert_eq!(entry["stored_pixel_bytes_equal"], true, "{entry}");
        assert_eq!(entry["default_ts"], "1.2.840.10008.1.2.1", "{entry}");
        assert_eq!(entry["default_pixels_max_difference"], 0, "{entry}");
    }
    // Frames come decoded, equal to pydicom's pixel data.
    for frame in out["frames"].as_array().unwrap() {
        assert_eq!(frame["equal"], true, "{frame}");
    }
    // Compressed frames as stored, when asked for by media type or with any transfer syntax.
    let as_stored = out["frames_as_stored"].as_array().unwrap();
    assert_eq!(as_stored.len(), 3, "{as_stored:?}");
    for frame in as_stored {
        assert_eq!(frame["equal"], true, "{frame}");
        assert_eq!(frame["any_syntax_contains_frame"], true, "{frame}");
        assert!(
            frame["any_syntax_content_type"]
                .as_str()
                .unwrap()
                .contains("application/octet-stream"),
            "{frame}"
        );
    }
    // Rendered at full size as PNG; JPEG within a viewport; the series thumbnail (256 px).
    let size = &out["source_size"];
    assert_eq!(
        out["rendered_png"],
        serde_json::json!(["PNG", size[0], size[1]])
    );
    assert_eq!(
        out["rendered_jpeg_viewport"],
        serde_json::json!(["JPEG", 64])
    );
    assert_eq!(out["series_thumbnail"][0], 200);
    assert_eq!(out["series_thumbnail"][1], "PNG");
    assert!(out["series_thumbnail"][2].as_u64().unwrap() <= 256);
    // Metadata of the series, with a bulk data URI for the pixels that resolves to them.
    assert_eq!(
        out["metadata_count"].as_u64().unwrap() as usize,
        instances_got.len()
    );
    assert!(out["metadata_patient_id"].is_string());
    assert_eq!(out["pixel_bulk_uri"], true);
    assert_eq!(out["bulk_equal"], true);
}

#[test]
fn ohif_request_sequence_is_answered() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let (_dir, store, wanted, wanted_file) = pydicom_store(&data);
    let (_server, url) = dicomweb(store.clone(), None);
    let out: Value = serde_json::from_str(&support::run_reference_script(
        &python,
        "ohif_requests.py",
        &[url.as_ref(), wanted_file.as_os_str()],
    ))
    .unwrap();
    let studies = store.index().stats().unwrap().studies;
    assert_eq!(out["worklist_status"], 200);
    assert_eq!(out["worklist_count"], studies);
    // Modalities in Study, as the index knows them (a file without Modality gives none).
    let mut got: Vec<Vec<String>> =
        serde_json::from_value(out["worklist_modalities"].clone()).unwrap();
    let mut expected: Vec<Vec<String>> = store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap()
        .studies
        .into_iter()
        .map(|s| s.modalities)
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(out["filtered_status"], 200);
    assert!(out["filtered_uids"]
        .as_array()
        .unwrap()
        .contains(&wanted[0]["study"]));
    assert_eq!(out["study_lookup"], serde_json::json!([wanted[0]["study"]]));
    assert_eq!(out["series_status"], 200);
    assert_eq!(out["metadata_status"], 200);
    assert!(out["metadata_content_type"]
        .as_str()
        .unwrap()
        .starts_with("application/dicom+json"));
    assert_eq!(out["metadata_pixel_bulk"], true);
    assert_eq!(out["metadata_has_rows"], true);
    let frames = out["frames"].as_array().unwrap();
    assert_eq!(frames.len(), wanted.len());
    for frame in frames {
        assert_eq!(frame["status"], 200, "{frame}");
        assert_eq!(frame["equal"], true, "{frame}");
        // Compressed frames come as stored and say in which syntax; native ones decoded.
        let part_type = frame["part_type"].as_str().unwrap();
        assert!(
            part_type.contains(frame["syntax"].as_str().unwrap())
                || part_type.contains("1.2.840.10008.1.2.1"),
            "{frame}"
        );
    }
    assert_eq!(
        out["thumbnail"],
        serde_json::json!([200, "image/jpeg", true])
    );
    assert_eq!(
        out["rendered"],
        serde_json::json!([200, "image/jpeg", true])
    );
}

#[test]
fn searches_refuse_unknown_attributes_and_credentials_guard_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let credentials: lightbox_server::Credentials = "reader:correct horse".parse().unwrap();
    // Exposing the server beyond loopback needs credentials.
    let public: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
    assert!(lightbox_server::check_bind(&public, None).is_err());
    assert!(lightbox_server::check_bind(&public, Some(&credentials)).is_ok());
    let (_server, url) = dicomweb(store, Some(credentials));
    // A raw HTTP/1.1 exchange, so nothing adds credentials on its own.
    let address = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let status = |auth: Option<&str>, path: &str| {
        let mut request =
            format!("GET /dicom-web{path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
        if let Some(auth) = auth {
            request.push_str(&format!("Authorization: Basic {auth}\r\n"));
        }
        request.push_str("\r\n");
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
        let mut response = String::new();
        std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
        response
    };
    use base64::Engine;
    let good = base64::engine::general_purpose::STANDARD.encode("reader:correct horse");
    let bad = base64::engine::general_purpose::STANDARD.encode("reader:wrong");
    assert!(status(None, "/studies").starts_with("HTTP/1.1 401"));
    assert!(status(Some(&bad), "/studies").starts_with("HTTP/1.1 401"));
    assert!(status(Some(&good), "/studies").starts_with("HTTP/1.1 200"));
    let unknown = status(Some(&good), "/studies?NoSuchKeyword=1");
    assert!(unknown.starts_with("HTTP/1.1 400"), "{unknown}");
    assert!(unknown.contains("NoSuchKeyword"));
    let missing = status(Some(&good), "/studies/1.2.3/metadata");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

#[test]
fn dicomweb_client_stores_through_stow_rs() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (_server, url) = dicomweb(store.clone(), None);
    let names = ["CT_small.dcm", "MR_small_RLE.dcm", "SC_rgb_jpeg_gdcm.dcm"];
    let paths: Vec<_> = names
        .iter()
        .map(|n| data.join("test_files").join(n))
        .collect();
    let mut args: Vec<&std::ffi::OsStr> = vec![url.as_ref()];
    args.extend(paths.iter().map(|p| p.as_os_str()));
    let out: Value = serde_json::from_str(&support::run_reference_script(
        &python,
        "dicomweb_client_store.py",
        &args,
    ))
    .unwrap();
    let mut expected = Vec::new();
    for path in &paths {
        let file = lightbox_dicom::read_file(path, lightbox_dicom::ReadMode::Header).unwrap();
        let uid = file
            .dataset
            .first_text(lightbox_dicom::tag::SOP_INSTANCE_UID)
            .unwrap();
        // Stored, indexed, and byte for byte the data set that was sent.
        let stored = store.index().instance(&uid).unwrap().expect("indexed");
        let original = lightbox_dicom::read_file(path, lightbox_dicom::ReadMode::Full).unwrap();
        let copy = lightbox_dicom::read_file(
            &store.local_path(&stored.file_path).unwrap(),
            lightbox_dicom::ReadMode::Full,
        )
        .unwrap();
        assert_eq!(copy.dataset.elements.len(), original.dataset.elements.len());
        expected.push(uid);
    }
    let referenced: Vec<String> = serde_json::from_value(out["referenced"].clone()).unwrap();
    assert_eq!(referenced, expected);
    assert_eq!(out["failed"], 0);
    // Each RetrieveURL resolves to the instance it names.
    for retrieve_url in out["retrieve_urls"].as_array().unwrap() {
        assert!(
            retrieve_url.as_str().unwrap().starts_with(&url),
            "{retrieve_url}"
        );
    }
    assert_eq!(store.index().stats().unwrap().instances, 3);
    // Into a study it does not belong to: refused, with the reason.
    assert_eq!(out["wrong_study_status"], 409);
    assert_eq!(out["wrong_study_reason"], 0xA900);
}

#[test]
fn stow_refuses_a_codestream_cut_short_and_stores_nothing() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let (_server, url) = dicomweb(store.clone(), None);
    let short = dir.path().join("short.dcm");
    support::with_truncated_codestream(&data.join("test_files/SC_rgb_jpeg_dcmtk.dcm"), &short, 200);
    let mut body = b"--cut\r\nContent-Type: application/dicom\r\n\r\n".to_vec();
    body.extend(std::fs::read(&short).unwrap());
    body.extend_from_slice(b"\r\n--cut--\r\n");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(format!("{url}/studies"))
        .header(
            "Content-Type",
            "multipart/related; type=\"application/dicom\"; boundary=cut",
        )
        .header("Accept", "application/dicom+json")
        .send(&body[..])
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    let answer: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    let failed = &answer["00081198"]["Value"];
    assert_eq!(failed.as_array().map(Vec::len), Some(1), "{answer}");
    assert_eq!(store.index().stats().unwrap().instances, 0);
}

#[test]
fn a_study_is_imported_the_way_3d_slicer_imports_it() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    // A stored-compressed instance too: Slicer asks for the default (uncompressed) syntax.
    let (dir, store, wanted, _) = pydicom_store(&data);
    let (_server, url) = dicomweb(store, None);
    let out = dir.path().join("slicer");
    std::fs::create_dir_all(&out).unwrap();
    for study in ["CT_small.dcm", "MR_small_RLE.dcm"].iter().map(|name| {
        wanted
            .iter()
            .find(|w| w["path"].as_str().unwrap().ends_with(name))
            .unwrap()["study"]
            .as_str()
            .unwrap()
            .to_string()
    }) {
        let report: Value = serde_json::from_str(&support::run_reference_script(
            &python,
            "slicer_import.py",
            &[url.as_ref(), study.as_ref(), out.as_os_str()],
        ))
        .unwrap();
        let series = report.as_array().unwrap();
        assert!(!series.is_empty(), "{report}");
        for s in series {
            assert!(!s["metadata_sops"].as_array().unwrap().is_empty(), "{s}");
            assert_eq!(s["saved_sops"], s["metadata_sops"], "{s}");
            assert_eq!(s["pixels_readable"], true, "{s}");
        }
    }
}
