//! The client of a DICOMweb node: QIDO-RS searches (results in the shape of `lightbox find`),
//! WADO-RS retrieval into a sink (each part streamed to a scratch file as it arrives, then
//! handed over), and STOW-RS send (the files streamed in one request body, never loaded whole).

use super::multipart::{boundary_of, Splitter};
use super::{DicomWebEndpoint, WebAuth};
use crate::query::{default_return_keys, Level, Match, QuerySpec};
use crate::report::{RetrieveReport, SendReport, SentInstance};
use crate::sink::{InstanceSink, Origin};
use lightbox_dicom::{read_file, tag, ReadMode};
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DicomWebError {
    /// The request could not be made or answered (connection, timeout, TLS, a malformed URL).
    #[error("cannot reach {url}: {source}")]
    Request {
        url: String,
        #[source]
        source: ureq::Error,
    },
    /// The connection failed while the response body arrived.
    #[error("{url}: the transfer broke off: {source}")]
    Transfer {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// The node's answer is not what DICOMweb says it should be.
    #[error("{0}")]
    Invalid(String),
    /// The request cannot be expressed in DICOMweb.
    #[error("{0}")]
    Unsupported(String),
    #[error("canceled")]
    Canceled,
    /// A local failure (writing a scratch file).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl DicomWebError {
    /// Failures worth a retry: the node could not be reached or timed out, the transfer broke
    /// off, or the node answered 5xx / 429.
    pub fn is_transient(&self) -> bool {
        match self {
            DicomWebError::Request { source, .. } => matches!(
                source,
                ureq::Error::Io(_)
                    | ureq::Error::Timeout(_)
                    | ureq::Error::HostNotFound
                    | ureq::Error::ConnectionFailed
                    | ureq::Error::BodyStalled
            ),
            DicomWebError::Transfer { .. } => true,
            DicomWebError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

pub struct DicomWebClient {
    base: String,
    auth: WebAuth,
    agent: ureq::Agent,
    cancel: Option<Arc<AtomicBool>>,
}

const READ_CHUNK: usize = 64 << 10;

impl DicomWebClient {
    pub fn new(
        endpoint: &DicomWebEndpoint,
        timeout: Duration,
        cancel: Option<Arc<AtomicBool>>,
    ) -> DicomWebClient {
        // The timeout counts silence: every read and write must move bytes within it, however
        // long the whole body takes (100 MB at 3 MB/s is half a minute of steady progress).
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_per_read(Some(timeout))
            .timeout_per_write(Some(timeout))
            .timeout_recv_body(None)
            .timeout_send_body(None)
            .http_status_as_error(false)
            .build()
            .into();
        DicomWebClient {
            base: endpoint.url.trim_end_matches('/').to_string(),
            auth: endpoint.auth.clone(),
            agent,
            cancel,
        }
    }

    fn canceled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
    }

    fn authorize<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.auth {
            WebAuth::None => request,
            WebAuth::Basic { user, password } => {
                let token = lightbox_dicom::values::base64(format!("{user}:{password}").as_bytes());
                request.header("Authorization", format!("Basic {token}"))
            }
            WebAuth::Bearer { token } => request.header("Authorization", format!("Bearer {token}")),
        }
    }

    fn unreachable(&self, url: &str, source: ureq::Error) -> DicomWebError {
        DicomWebError::Request {
            url: url.to_string(),
            source,
        }
    }

    fn get(
        &self,
        url: &str,
        accept: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, DicomWebError> {
        let response = self
            .authorize(self.agent.get(url))
            .header("Accept", accept)
            .call()
            .map_err(|e| self.unreachable(url, e))?;
        check(url, response)
    }

    /// A cheap request that tells whether the node answers (the DICOMweb "echo").
    pub fn echo(&self) -> Result<Duration, DicomWebError> {
        let started = std::time::Instant::now();
        self.get(
            &format!("{}/studies?limit=1", self.base),
            "application/dicom+json",
        )?;
        Ok(started.elapsed())
    }

    /// QIDO-RS at the query's level, with its filters; each match as a map keyed by keyword.
    pub fn search(&self, query: &QuerySpec) -> Result<Vec<Match>, DicomWebError> {
        let level = Level::parse(&query.level)
            .ok_or_else(|| DicomWebError::Unsupported(format!("level {:?}", query.level)))?;
        let path = match (level, &query.study_uid, &query.series_uid) {
            (Level::Patient, ..) => {
                return Err(DicomWebError::Unsupported(
                    "DICOMweb has no patient level: search studies by patient instead".into(),
                ))
            }
            (Level::Study, ..) => "/studies".to_string(),
            (Level::Series, Some(study), _) => format!("/studies/{study}/series"),
            (Level::Series, None, _) => "/series".to_string(),
            (Level::Image, Some(study), Some(series)) => {
                format!("/studies/{study}/series/{series}/instances")
            }
            (Level::Image, Some(study), None) => format!("/studies/{study}/instances"),
            (Level::Image, None, _) => "/instances".to_string(),
        };
        let mut params: Vec<(String, String)> = Vec::new();
        let modality_key = if level == Level::Study {
            "ModalitiesInStudy"
        } else {
            "Modality"
        };
        let filters = [
            ("PatientName", query.patient_name.clone()),
            ("PatientID", query.patient_id.clone()),
            ("StudyDate", query.study_date.clone()),
            ("StudyDescription", query.study_description.clone()),
            ("AccessionNumber", query.accession_number.clone()),
            (
                modality_key,
                (!query.modalities.is_empty()).then(|| query.modalities.join(",")),
            ),
        ];
        for (key, value) in filters {
            if let Some(value) = value {
                params.push((key.into(), value));
            }
        }
        for key in default_return_keys(level) {
            params.push(("includefield".into(), key.hex()));
        }
        let query_string: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let url = format!("{}{path}?{}", self.base, query_string.join("&"));
        let mut response = self.get(&url, "application/dicom+json")?;
        if response.status() == 204 {
            return Ok(Vec::new());
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| self.unreachable(&url, e))?;
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let matches: Vec<Value> = serde_json::from_str(&text)
            .map_err(|e| DicomWebError::Invalid(format!("{url}: not DICOM JSON: {e}")))?;
        Ok(matches.iter().map(row).collect())
    }

    /// WADO-RS of a study, series or instance into the sink, as the node stores it.
    /// `on_instance` hears the instances and bytes received so far.
    pub fn retrieve(
        &self,
        study: &str,
        series: Option<&str>,
        instance: Option<&str>,
        sink: &dyn InstanceSink,
        on_instance: &mut dyn FnMut(u64, u64),
    ) -> Result<RetrieveReport, DicomWebError> {
        let mut url = format!("{}/studies/{study}", self.base);
        if let Some(series) = series {
            url.push_str(&format!("/series/{series}"));
            if let Some(instance) = instance {
                url.push_str(&format!("/instances/{instance}"));
            }
        }
        let mut response = self.get(
            &url,
            "multipart/related; type=\"application/dicom\"; transfer-syntax=*",
        )?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let (boundary, _) = boundary_of(&content_type).ok_or_else(|| {
            DicomWebError::Invalid(format!("{url}: not multipart/related ({content_type})"))
        })?;
        let mut splitter = Splitter::new(&boundary, sink.scratch_dir());
        let mut report = RetrieveReport::default();
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let mut buffer = vec![0u8; READ_CHUNK];
        let mut bytes = 0u64;
        let source = format!("DICOMweb {}", self.base);
        let origin = Origin {
            calling_ae_title: None,
            source: &source,
        };
        loop {
            if self.canceled() {
                return Err(DicomWebError::Canceled);
            }
            let n = reader
                .read(&mut buffer)
                .map_err(|source| DicomWebError::Transfer {
                    url: url.clone(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            splitter
                .feed(&buffer[..n])
                .map_err(|e| DicomWebError::Invalid(format!("{url}: {e}")))?;
            for (file, _) in splitter.take_finished() {
                match sink.ingest(file, &origin) {
                    Ok(accepted) if accepted.duplicate => report.duplicates += 1,
                    Ok(_) => report.stored += 1,
                    Err(refused) => {
                        report.failed += 1;
                        report.errors.push(refused.reason);
                    }
                }
                on_instance(report.stored + report.duplicates + report.failed, bytes);
            }
        }
        if !splitter.is_complete() {
            // The connection closed early (a body without a length ends where the link broke):
            // the transfer broke off, and a retry fetches what is missing.
            return Err(DicomWebError::Transfer {
                url,
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the response ended before its closing delimiter",
                ),
            });
        }
        report.expected = report.stored + report.duplicates + report.failed;
        Ok(report)
    }

    /// STOW-RS of `files` in one request, streamed from disk.
    pub fn store(&self, files: &[PathBuf]) -> Result<SendReport, DicomWebError> {
        let boundary = format!(
            "lightbox-stow-{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let mut body = MultipartReader::new(files.to_vec(), boundary.clone());
        let url = format!("{}/studies", self.base);
        let mut response = self
            .authorize(self.agent.post(&url))
            .header(
                "Content-Type",
                format!("multipart/related; type=\"application/dicom\"; boundary={boundary}"),
            )
            .header("Accept", "application/dicom+json")
            .send(ureq::SendBody::from_reader(&mut body))
            .map_err(|e| self.unreachable(&url, e))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) && status != 409 {
            return Err(DicomWebError::Status {
                url,
                status,
                body: text.chars().take(300).collect(),
            });
        }
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let sop = |item: &Value| item["00081155"]["Value"][0].as_str().map(str::to_string);
        let mut report = SendReport::default();
        for item in answer["00081199"]["Value"].as_array().into_iter().flatten() {
            report.sent += 1;
            report.instances.push(SentInstance {
                path: String::new(),
                sop_instance_uid: sop(item),
                status: Some(0),
                error: None,
                transfer_syntax: None,
                transcoded: false,
            });
        }
        for item in answer["00081198"]["Value"].as_array().into_iter().flatten() {
            report.failed += 1;
            let reason = item["00081197"]["Value"][0].as_u64().unwrap_or(0xC000);
            report.instances.push(SentInstance {
                path: String::new(),
                sop_instance_uid: sop(item),
                status: Some(reason as u16),
                error: Some(format!("refused by the node (reason 0x{reason:04X})")),
                transfer_syntax: None,
                transcoded: false,
            });
        }
        // Fill in the paths the node did not name: each file's header read once.
        if !report.instances.is_empty() {
            let paths: std::collections::HashMap<String, &PathBuf> = files
                .iter()
                .filter_map(|f| {
                    let header = read_file(f, ReadMode::Header).ok()?;
                    Some((header.dataset.first_text(tag::SOP_INSTANCE_UID)?, f))
                })
                .collect();
            for instance in &mut report.instances {
                if let Some(path) = instance
                    .sop_instance_uid
                    .as_ref()
                    .and_then(|u| paths.get(u))
                {
                    instance.path = path.display().to_string();
                }
            }
        }
        Ok(report)
    }
}

/// Errors for statuses other than 2xx, with the start of the body for the message.
fn check(
    url: &str,
    mut response: ureq::http::Response<ureq::Body>,
) -> Result<ureq::http::Response<ureq::Body>, DicomWebError> {
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_to_string()
        .unwrap_or_default();
    Err(DicomWebError::Status {
        url: url.to_string(),
        status,
        body: body.chars().take(300).collect(),
    })
}

/// Percent-encoding of a query component.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' | b',' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A DICOM JSON match as a map keyed by keyword, in the shape of the C-FIND results: numbers
/// for counts and integers, an array for Modalities in Study, strings otherwise.
fn row(item: &Value) -> Match {
    let mut out = Match::new();
    let Some(object) = item.as_object() else {
        return out;
    };
    for (hex, attribute) in object {
        let Some(t) = lightbox_dicom::Tag::from_hex(hex) else {
            continue;
        };
        let Some(keyword) = lightbox_dicom::dictionary::keyword(t) else {
            continue;
        };
        let values = attribute["Value"].as_array().cloned().unwrap_or_default();
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Object(pn) => pn
                .get("Alphabetic")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            other => other.to_string(),
        };
        let value = match (attribute["vr"].as_str(), values.as_slice()) {
            (_, []) => Value::Null,
            (_, _) if keyword == "ModalitiesInStudy" => {
                Value::from(values.iter().map(text).collect::<Vec<_>>())
            }
            (Some("IS") | Some("US") | Some("UL") | Some("SL") | Some("SS"), [first]) => first
                .as_i64()
                .map(Value::from)
                .or_else(|| {
                    first
                        .as_str()
                        .and_then(|s| s.trim().parse::<i64>().ok())
                        .map(Value::from)
                })
                .unwrap_or(Value::Null),
            (_, many) => Value::from(many.iter().map(text).collect::<Vec<_>>().join("\\")),
        };
        out.insert(keyword.to_string(), value);
    }
    out
}

/// A `multipart/related` request body read from files one after another.
struct MultipartReader {
    files: std::vec::IntoIter<PathBuf>,
    boundary: String,
    current: Option<Box<dyn Read + Send>>,
    finished: bool,
}

impl MultipartReader {
    fn new(files: Vec<PathBuf>, boundary: String) -> MultipartReader {
        MultipartReader {
            files: files.into_iter(),
            boundary,
            current: None,
            finished: false,
        }
    }

    fn next_part(&mut self) -> std::io::Result<bool> {
        let head = |first: bool, boundary: &str| {
            format!(
                "{}--{boundary}\r\nContent-Type: application/dicom\r\n\r\n",
                if first { "" } else { "\r\n" }
            )
        };
        let first = self.current.is_none();
        match self.files.next() {
            Some(path) => {
                let file = std::fs::File::open(&path)?;
                let header = std::io::Cursor::new(head(first, &self.boundary).into_bytes());
                self.current = Some(Box::new(header.chain(file)));
                Ok(true)
            }
            None if !self.finished => {
                self.finished = true;
                let tail = if first {
                    format!("--{}--\r\n", self.boundary)
                } else {
                    format!("\r\n--{}--\r\n", self.boundary)
                };
                self.current = Some(Box::new(std::io::Cursor::new(tail.into_bytes())));
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

impl Read for MultipartReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(current) = &mut self.current {
                let n = current.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
            }
            if !self.next_part()? {
                return Ok(0);
            }
        }
    }
}
