//! The DICOMweb server for other viewers: `serve --cors-origin` answers preflights and adds the
//! CORS headers for the origins given only (and only for DICOMweb), checked over HTTP and in a
//! real Chromium replaying OHIF's requests from a page on another origin; and WADO-URI answered
//! as pydicom (and Pillow) read it.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::browser::Browser;
use common::serve::Serve;
use lightbox_synth::SynthSpec;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A store with one generated CT series of three 64×64 instances; its study, series and
/// instance UIDs.
fn store_with_a_series(data: &Path, source: &Path) -> (String, String, Vec<String>) {
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: 3,
        rows: 64,
        columns: 64,
        modality: Some("CT".into()),
        ..SynthSpec::default()
    };
    lightbox_synth::generate(&spec, source).unwrap();
    common::ok_json(data, &["import", source.to_str().unwrap(), "--json"]);
    let studies = common::ok_json(data, &["studies", "--json"]);
    let study = studies["studies"][0]["StudyInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    let series = common::ok_json(data, &["series", &study, "--json"])[0]["SeriesInstanceUID"]
        .as_str()
        .unwrap()
        .to_string();
    let instances = common::ok_json(data, &["instances", &series, "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["SOPInstanceUID"].as_str().unwrap().to_string())
        .collect();
    (study, series, instances)
}

/// A request's status and the CORS header of its answer (a POST carries an empty STOW-RS body).
fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, Option<String>) {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body: &[u8] = if method == "POST" { b"--b--\r\n" } else { b"" };
    if method == "POST" {
        builder = builder.header(
            "Content-Type",
            "multipart/related; type=\"application/dicom\"; boundary=b",
        );
    }
    let response = common::http().run(builder.body(body).unwrap()).unwrap();
    let allowed = response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string());
    (response.status().as_u16(), allowed)
}

#[test]
fn cors_answers_the_given_origins_only_and_only_for_dicomweb() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (study, ..) = store_with_a_series(&data, &dir.path().join("source"));
    let viewer = "http://viewer.test:3000";
    let serve = Serve::start(&data, &["--cors-origin", "HTTP://Viewer.test:3000/"]);
    let studies = format!("{}/dicom-web/studies", serve.url);
    let preflight = |url: &str, origin: &str| {
        request(
            "OPTIONS",
            url,
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "accept"),
            ],
        )
    };
    // The origin given (normalized): preflight and answers carry its name.
    assert_eq!(preflight(&studies, viewer), (204, Some(viewer.into())));
    assert_eq!(
        request(
            "GET",
            &studies,
            &[("Origin", viewer), ("Accept", "application/dicom+json")]
        ),
        (200, Some(viewer.into()))
    );
    let wado = format!("{}/wado?requestType=WADO", serve.url);
    assert_eq!(preflight(&wado, viewer), (204, Some(viewer.into())));
    // Another origin: no preflight, no header on the answer (the browser keeps it from the page).
    let other = "http://elsewhere.test";
    assert_eq!(preflight(&studies, other), (403, None));
    assert_eq!(request("GET", &studies, &[("Origin", other)]), (200, None));
    // The UI's API stays same-origin, even for the origin given.
    let jobs = format!("{}/api/jobs", serve.url);
    assert_eq!(preflight(&jobs, viewer), (403, None));
    assert_eq!(request("GET", &jobs, &[("Origin", viewer)]).1, None);
    // STOW-RS from the origin given reaches the server (an empty upload: refused as such); from
    // any other origin it is a cross-site write, refused before anything runs.
    let stow = format!("{}/dicom-web/studies/{study}", serve.url);
    let (status, allowed) = request("POST", &stow, &[("Origin", viewer)]);
    assert_ne!(status, 403);
    assert_eq!(allowed.as_deref(), Some(viewer));
    assert_eq!(request("POST", &stow, &[("Origin", other)]).0, 403);

    // Without --cors-origin, no origin is answered.
    drop(serve);
    let plain = Serve::start(&data, &[]);
    let studies = format!("{}/dicom-web/studies", plain.url);
    assert_eq!(preflight(&studies, viewer), (403, None));
    assert_eq!(request("GET", &studies, &[("Origin", viewer)]).1, None);

    // A malformed origin is refused at start.
    let refused = common::lightbox(&data, &["serve", "--cors-origin", "*", "--no-browser"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--cors-origin *"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn wado_uri_answers_as_pydicom_expects() {
    let Some(python) = support::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (study, series, instances) = store_with_a_series(&data, &dir.path().join("source"));
    let serve = Serve::start(&data, &[]);
    let base = format!(
        "{}/wado?requestType=WADO&studyUID={study}&seriesUID={series}&objectUID={}",
        serve.url, instances[1]
    );
    // pydicom reads the instance; Pillow the renderings, at the size asked for.
    let script = r#"
import io, json, sys, urllib.request
import pydicom
from PIL import Image
base = sys.argv[1]
def get(url):
    with urllib.request.urlopen(url) as r:
        return r.headers.get("Content-Type"), r.read()
kind, body = get(base + "&contentType=application/dicom")
ds = pydicom.dcmread(io.BytesIO(body))
out = {"dicom": [kind, ds.SOPInstanceUID, ds.StudyInstanceUID, int(ds.pixel_array.shape[0])]}
for media in ["image/jpeg", "image/png"]:
    kind, body = get(base + "&contentType=" + media + "&rows=32&columns=40")
    image = Image.open(io.BytesIO(body))
    out[media] = [kind, image.format, image.size[0], image.size[1]]
kind, body = get(base)
out["default"] = [kind, Image.open(io.BytesIO(body)).format]
print(json.dumps(out))
"#;
    let out = support::run_python_code(&python, script, &[std::ffi::OsStr::new(&base)]);
    let answers: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        answers["dicom"],
        json!(["application/dicom", instances[1], study, 64])
    );
    assert_eq!(answers["image/jpeg"], json!(["image/jpeg", "JPEG", 32, 32]));
    assert_eq!(answers["image/png"], json!(["image/png", "PNG", 32, 32]));
    assert_eq!(answers["default"], json!(["image/jpeg", "JPEG"]));

    // What cannot be answered as asked is refused with the reason.
    let status = |query: &str| request("GET", &format!("{}/wado?{query}", serve.url), &[]).0;
    let object = format!(
        "studyUID={study}&seriesUID={series}&objectUID={}",
        instances[1]
    );
    assert_eq!(status(&object), 400, "no requestType");
    assert_eq!(
        status(&format!("requestType=WADO&{object}&anonymize=yes")),
        400
    );
    assert_eq!(
        status(&format!("requestType=WADO&{object}&contentType=text/html")),
        406
    );
    assert_eq!(
        status(&format!(
            "requestType=WADO&studyUID={study}&seriesUID=1.2.3&objectUID={}",
            instances[1]
        )),
        404,
        "an instance of another series"
    );
    assert_eq!(
        status(&format!("requestType=WADO&{object}&contentType=application/dicom&transferSyntax=1.2.840.10008.1.2.4.50")),
        406
    );
}

/// A page on another origin: Python's static file server on loopback.
struct OtherOrigin {
    child: Child,
    url: String,
}

impl OtherOrigin {
    fn start(dir: &Path) -> OtherOrigin {
        std::fs::write(
            dir.join("index.html"),
            "<!doctype html><title>another viewer</title>",
        )
        .unwrap();
        let port = support::free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        support::wait_for_port(port);
        OtherOrigin {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for OtherOrigin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// OHIF's requests for a study, from the page open in `browser`: the study search, the series
/// search, the series metadata and a frame; each one's status, or the browser's refusal.
fn ohif_sequence(browser: &Browser, server: &str, study: &str, series: &str, sop: &str) -> Value {
    browser.execute_async(
        "const [server, study, series, sop, done] = arguments;
         const dicomweb = server + '/dicom-web';
         const json = { Accept: 'application/dicom+json' };
         const steps = [
           [dicomweb + '/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060', json],
           [dicomweb + '/studies/' + study + '/series', json],
           [dicomweb + '/studies/' + study + '/series/' + series + '/metadata', json],
           [dicomweb + '/studies/' + study + '/series/' + series + '/instances/' + sop + '/frames/1',
            { Accept: 'multipart/related; type=application/octet-stream; transfer-syntax=*' }],
         ];
         (async () => {
           const out = [];
           for (const [url, headers] of steps) {
             try {
               const r = await fetch(url, { headers });
               const body = await r.arrayBuffer();
               out.push([r.status, body.byteLength]);
             } catch (e) { out.push(['refused', String(e)]); }
           }
           return out;
         })().then(done, (e) => done(String(e)));",
        &[json!(server), json!(study), json!(series), json!(sop)],
    )
}

#[test]
fn a_viewer_on_another_origin_reads_dicomweb_only_when_allowed() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (study, series, instances) = store_with_a_series(&data, &dir.path().join("source"));
    let page_dir = dir.path().join("page");
    std::fs::create_dir_all(&page_dir).unwrap();
    let other = OtherOrigin::start(&page_dir);

    let serve = Serve::start(&data, &["--cors-origin", &other.url]);
    browser.goto(&format!("{}/index.html", other.url));
    let answers = ohif_sequence(&browser, &serve.url, &study, &series, &instances[0]);
    let steps = answers.as_array().unwrap_or_else(|| panic!("{answers}"));
    assert_eq!(steps.len(), 4, "{answers}");
    for step in steps {
        assert_eq!(step[0], 200, "{answers}");
        assert!(step[1].as_u64().unwrap() > 0, "{answers}");
    }
    // The frame: 64×64 samples of 2 bytes, in one part.
    assert!(steps[3][1].as_u64().unwrap() > 64 * 64 * 2, "{answers}");
    drop(serve);

    // The same server without --cors-origin: the browser refuses the page every answer.
    let serve = Serve::start(&data, &[]);
    let answers = ohif_sequence(&browser, &serve.url, &study, &series, &instances[0]);
    let steps = answers.as_array().unwrap_or_else(|| panic!("{answers}"));
    assert!(
        steps.iter().all(|s| s[0] == "refused"),
        "every request refused by the browser: {answers}"
    );
}
