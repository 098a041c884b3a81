//! The SCU side: C-ECHO and C-STORE (send) against a remote application entity.

use super::command::{element, field, Command};
use super::message::{Incoming, Messenger};
use super::qr::SOP_CLASSES_IN_STUDY;
use super::status::{self, Category};
use super::{AeAddress, DimseError, DEFAULT_AE_TITLE, DEFAULT_TIMEOUT, MAX_PDU, VERIFICATION};
use crate::dicom::{self, tag, transfer_syntax, ReadMode};
use dicom_ul::pdu::PresentationContextResultReason;
use dicom_ul::{ClientAssociation, ClientAssociationOptions};
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct ScuOptions {
    pub calling_ae_title: String,
    /// Connect, association and DIMSE timeout.
    pub timeout: Duration,
    /// Set by the caller to cancel a C-FIND, C-GET or C-MOVE in progress (C-CANCEL).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for ScuOptions {
    fn default() -> ScuOptions {
        ScuOptions {
            calling_ae_title: DEFAULT_AE_TITLE.into(),
            timeout: DEFAULT_TIMEOUT,
            cancel: None,
        }
    }
}

/// "C-GET answered refused: … (0xA702): comment" — a peer's final failure, as users read it.
fn peer_failure(operation: &str, response: &Command, code: u16) -> String {
    let comment = response
        .str(element::ERROR_COMMENT)
        .map(|c| format!(": {c}"))
        .unwrap_or_default();
    format!("{operation} answered {}{comment}", status::describe(code))
}

/// How long a peer gets to confirm a C-CANCEL before the association is aborted: short enough
/// that a cancel takes effect within a second even when the peer ignores it.
const CANCEL_GRACE: Duration = Duration::from_millis(500);

/// Sends one C-CANCEL-RQ once the caller's flag is set; from then on the peer has
/// [`CANCEL_GRACE`] to send its final response.
struct Canceller {
    flag: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    context_id: u8,
    sent: bool,
}

impl Canceller {
    fn new(options: &ScuOptions, context_id: u8) -> Canceller {
        Canceller {
            flag: options.cancel.clone(),
            context_id,
            sent: false,
        }
    }

    fn check<L: super::message::Link>(
        &mut self,
        messenger: &mut Messenger<L>,
    ) -> Result<(), DimseError> {
        let requested = self
            .flag
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst));
        if requested && !self.sent {
            let mut cancel = Command::new(field::C_CANCEL_RQ, false);
            cancel.set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, 1);
            messenger.send(self.context_id, &cancel, None)?;
            messenger
                .link
                .socket()
                .set_read_timeout(Some(CANCEL_GRACE))
                .map_err(DimseError::Io)?;
            self.sent = true;
        }
        Ok(())
    }

    /// After a cancel, a peer that does not confirm in time is cut off: the operation ends
    /// canceled rather than waiting.
    fn unconfirmed(&self, error: &DimseError) -> bool {
        self.sent && matches!(error, DimseError::Timeout)
    }
}

/// Opens an association proposing `contexts` (abstract syntax, transfer syntaxes).
fn associate(
    peer: &AeAddress,
    options: &ScuOptions,
    contexts: &[(String, Vec<String>)],
) -> Result<ClientAssociation<TcpStream>, DimseError> {
    let mut builder = ClientAssociationOptions::new()
        .calling_ae_title(options.calling_ae_title.clone())
        .called_ae_title(peer.ae_title.clone())
        .max_pdu_length(MAX_PDU)
        .connection_timeout(options.timeout)
        .read_timeout(options.timeout)
        .write_timeout(options.timeout);
    for (abstract_syntax, transfer_syntaxes) in contexts {
        builder =
            builder.with_presentation_context(abstract_syntax.clone(), transfer_syntaxes.clone());
    }
    let address = format!("{}:{}", peer.host, peer.port);
    let mut association = builder.establish(address.as_str()).map_err(|e| {
        let text = e.to_string();
        let lower = text.to_lowercase();
        if lower.contains("reject") {
            DimseError::Rejected {
                peer: peer.to_string(),
                reason: text,
            }
        } else if lower.contains("connect")
            || lower.contains("refused")
            || lower.contains("timed out")
        {
            DimseError::Connect {
                address: address.clone(),
                reason: text,
            }
        } else {
            DimseError::Association(format!("{peer}: {text}"))
        }
    })?;
    // Without TCP_NODELAY every request/response exchange can stall ~40 ms in Nagle's algorithm.
    association
        .inner_stream()
        .set_nodelay(true)
        .map_err(DimseError::Io)?;
    Ok(association)
}

fn accepted(
    association: &ClientAssociation<TcpStream>,
) -> impl Iterator<Item = &dicom_ul::pdu::PresentationContextNegotiated> {
    association
        .presentation_contexts()
        .iter()
        .filter(|pc| pc.reason == PresentationContextResultReason::Acceptance)
}

fn expect_response<L: super::message::Link>(
    messenger: &mut Messenger<L>,
    expected: u16,
) -> Result<Command, DimseError> {
    match messenger.receive_command()? {
        Incoming::Command { command, .. } if command.field() == expected => Ok(command),
        Incoming::Command { command, .. } => Err(DimseError::Protocol(format!(
            "expected response 0x{expected:04X}, got 0x{:04X}",
            command.field()
        ))),
        Incoming::Released => Err(DimseError::Protocol(
            "the peer released the association mid-operation".into(),
        )),
        Incoming::Aborted => Err(DimseError::Aborted),
    }
}

/// C-ECHO: returns the round-trip time of the echo (association set-up excluded).
pub fn echo(peer: &AeAddress, options: &ScuOptions) -> Result<Duration, DimseError> {
    let contexts = [(
        VERIFICATION.to_string(),
        vec![transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN.to_string()],
    )];
    let association = associate(peer, options, &contexts)?;
    let context_id = accepted(&association)
        .next()
        .map(|pc| pc.id)
        .ok_or_else(|| DimseError::NoPresentationContext("Verification".into()))?;
    let mut messenger = Messenger::new(association);
    let started = Instant::now();
    let mut command = Command::new(field::C_ECHO_RQ, false);
    command
        .set_str(element::AFFECTED_SOP_CLASS_UID, VERIFICATION)
        .set_u16(element::MESSAGE_ID, 1);
    messenger.send(context_id, &command, None)?;
    let response = expect_response(&mut messenger, field::C_ECHO_RSP)?;
    let elapsed = started.elapsed();
    let _ = messenger.link.release();
    match response.status() {
        Some(status::SUCCESS) => Ok(elapsed),
        other => Err(DimseError::Protocol(format!(
            "C-ECHO answered {}",
            status::describe(other.unwrap_or(0xFFFF))
        ))),
    }
}

/// The outcome of sending one file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SentInstance {
    pub path: String,
    pub sop_instance_uid: Option<String>,
    /// The peer's status, when it answered.
    pub status: Option<u16>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The transfer syntax it was sent in, when it was sent.
    pub transfer_syntax: Option<String>,
    /// Whether it was converted (decoded) because the peer does not accept its own syntax.
    pub transcoded: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SendReport {
    pub sent: u64,
    pub warnings: u64,
    pub failed: u64,
    /// Instances sent after conversion to an uncompressed syntax.
    pub transcoded: u64,
    pub instances: Vec<SentInstance>,
}

struct Outgoing {
    path: PathBuf,
    sop_class: String,
    sop_instance: String,
    transfer_syntax: String,
    dataset_offset: u64,
}

fn describe_file(path: &Path) -> Result<Outgoing, String> {
    let file = dicom::read_file(path, ReadMode::Header).map_err(|e| e.to_string())?;
    if file.encoding != transfer_syntax::Encoding::of(&file.transfer_syntax) {
        // Sent as is, the peer would parse the data set with the wrong encoding.
        return Err(format!(
            "its data set is encoded differently from its transfer syntax ({}); it cannot be sent as is",
            transfer_syntax::name(&file.transfer_syntax)
        ));
    }
    // The data set is authoritative (some files' meta disagrees with it, and peers check the
    // command against the data set); the meta is the fallback.
    let sop_class = file
        .dataset
        .first_text(tag::SOP_CLASS_UID)
        .or_else(|| file.meta.first_text(tag::MEDIA_STORAGE_SOP_CLASS_UID))
        .ok_or("no SOP Class UID")?;
    let sop_instance = file
        .dataset
        .first_text(tag::SOP_INSTANCE_UID)
        .or_else(|| file.meta.first_text(tag::MEDIA_STORAGE_SOP_INSTANCE_UID))
        .ok_or("no SOP Instance UID")?;
    Ok(Outgoing {
        path: path.to_path_buf(),
        sop_class,
        sop_instance,
        transfer_syntax: file.transfer_syntax,
        dataset_offset: file.dataset_offset,
    })
}

/// C-STORE of each file, on one association, proposing each SOP class with the files' own
/// transfer syntaxes. A file that cannot be read or is refused is reported, and the others go on.
pub fn send_files(
    peer: &AeAddress,
    options: &ScuOptions,
    files: &[PathBuf],
    on_each: &mut dyn FnMut(&SentInstance),
) -> Result<SendReport, DimseError> {
    send_files_until(peer, options, files, &mut |sent| {
        on_each(sent);
        true
    })
}

/// As [`send_files`], stopping before the next file when `on_each` returns false.
pub fn send_files_until(
    peer: &AeAddress,
    options: &ScuOptions,
    files: &[PathBuf],
    on_each: &mut dyn FnMut(&SentInstance) -> bool,
) -> Result<SendReport, DimseError> {
    let mut report = SendReport::default();
    let mut outgoing = Vec::new();
    for path in files {
        match describe_file(path) {
            Ok(o) => outgoing.push(o),
            Err(error) => {
                let entry = SentInstance {
                    path: path.display().to_string(),
                    sop_instance_uid: None,
                    status: None,
                    error: Some(error),
                    transfer_syntax: None,
                    transcoded: false,
                };
                let go_on = on_each(&entry);
                report.failed += 1;
                report.instances.push(entry);
                if !go_on {
                    return Ok(report);
                }
            }
        }
    }
    if outgoing.is_empty() {
        return Ok(report);
    }
    let contexts = proposed_contexts(&outgoing);
    if contexts.len() > 128 {
        return Err(DimseError::Protocol(format!(
            "{} presentation contexts (SOP class / transfer syntax combinations, and uncompressed \
             fallbacks) exceed one association's 128",
            contexts.len()
        )));
    }
    let association = associate(peer, options, &contexts)?;
    let accepted: Vec<(u8, String, String)> = accepted(&association)
        .map(|pc| {
            (
                pc.id,
                pc.abstract_syntax.clone(),
                pc.transfer_syntax.clone(),
            )
        })
        .collect();
    let mut messenger = Messenger::new(association);
    for (i, o) in outgoing.iter().enumerate() {
        let mut entry = SentInstance {
            path: o.path.display().to_string(),
            sop_instance_uid: Some(o.sop_instance.clone()),
            status: None,
            error: None,
            transfer_syntax: None,
            transcoded: false,
        };
        let message_id = (i + 1) as u16;
        match choose_context(&accepted, o) {
            None => {
                entry.error = Some(format!(
                    "the peer does not accept SOP class {} in {} ({}){}",
                    o.sop_class,
                    transfer_syntax::name(&o.transfer_syntax),
                    o.transfer_syntax,
                    if is_native_le(&o.transfer_syntax) {
                        ""
                    } else {
                        " nor uncompressed"
                    }
                ))
            }
            Some((context_id, ts)) if ts == o.transfer_syntax => {
                match store_outgoing(&mut messenger, context_id, o, message_id) {
                    Ok(status) => {
                        entry.status = Some(status);
                        entry.transfer_syntax = Some(ts);
                    }
                    // Reading this file failed: report it and go on with the next one.
                    Err(DimseError::Io(e)) => entry.error = Some(format!("reading the file: {e}")),
                    Err(e) => return Err(e),
                }
            }
            Some((context_id, ts)) => match transcode_outgoing(o, &ts) {
                Err(reason) => entry.error = Some(reason),
                Ok(mut data) => {
                    let command = store_command(o, message_id);
                    messenger.send(context_id, &command, Some(&mut data))?;
                    let response = expect_response(&mut messenger, field::C_STORE_RSP)?;
                    entry.status = Some(response.status().unwrap_or(status::PROCESSING_FAILURE));
                    entry.transfer_syntax = Some(ts);
                    entry.transcoded = true;
                }
            },
        }
        match (&entry.error, entry.status.map(status::category)) {
            (None, Some(Category::Success)) => report.sent += 1,
            (None, Some(Category::Warning)) => {
                report.sent += 1;
                report.warnings += 1
            }
            (None, Some(_)) => {
                entry.error = Some(format!(
                    "refused: {}",
                    status::describe(entry.status.unwrap_or(0))
                ));
                report.failed += 1
            }
            _ => report.failed += 1,
        }
        if entry.transcoded && entry.error.is_none() {
            report.transcoded += 1;
        }
        let go_on = on_each(&entry);
        report.instances.push(entry);
        if !go_on {
            break;
        }
    }
    let _ = messenger.link.release();
    Ok(report)
}

/// Syntaxes a file can be converted to when the peer does not take its own, in order of
/// preference (explicit VR keeps the VRs).
const UNCOMPRESSED: [&str; 2] = [
    transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN,
    transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN,
];

fn is_native_le(ts: &str) -> bool {
    UNCOMPRESSED.contains(&ts)
}

/// One context per (SOP class, transfer syntax), so that the peer tells exactly which
/// combinations it takes; and for each SOP class with files in any other syntax (compressed,
/// deflated, big endian), one more with both little endian syntaxes, to decode to when the
/// peer takes that class only uncompressed.
fn proposed_contexts(outgoing: &[Outgoing]) -> Vec<(String, Vec<String>)> {
    let mut contexts: Vec<(String, Vec<String>)> = Vec::new();
    for o in outgoing {
        let own = (o.sop_class.clone(), vec![o.transfer_syntax.clone()]);
        if !contexts.contains(&own) {
            contexts.push(own);
        }
    }
    for o in outgoing
        .iter()
        .filter(|o| !is_native_le(&o.transfer_syntax))
    {
        let fallback = (
            o.sop_class.clone(),
            UNCOMPRESSED.iter().map(|ts| ts.to_string()).collect(),
        );
        if !contexts.contains(&fallback) {
            contexts.push(fallback);
        }
    }
    contexts
}

/// The accepted context to send `o` on, and its transfer syntax: its own syntax when accepted
/// (sent as is), else an uncompressed one (the file is converted).
fn choose_context(accepted: &[(u8, String, String)], o: &Outgoing) -> Option<(u8, String)> {
    let with = |ts: &str| {
        accepted
            .iter()
            .find(|(_, class, t)| *class == o.sop_class && t == ts)
            .map(|(id, _, t)| (*id, t.clone()))
    };
    with(&o.transfer_syntax).or_else(|| UNCOMPRESSED.iter().find_map(|ts| with(ts)))
}

/// Converts `o` to `ts` in a temporary file (decoding its pixel data), rewound for sending; or
/// says why it cannot be sent. Converting before the request is sent means a failure costs
/// only this instance, never the association.
fn transcode_outgoing(o: &Outgoing, ts: &str) -> Result<BufReader<File>, String> {
    let why = |e: &dyn std::fmt::Display| {
        let source = transfer_syntax::name(&o.transfer_syntax);
        if transfer_syntax::pixel_encoding(&o.transfer_syntax)
            == transfer_syntax::PixelEncoding::Native
        {
            format!(
                "the peer does not accept SOP class {} in {source}, and converting it to {} failed: {e}",
                o.sop_class,
                transfer_syntax::name(ts)
            )
        } else {
            format!(
                "the peer accepts SOP class {} only uncompressed, and decoding {source} ({}) failed: {e}",
                o.sop_class, o.transfer_syntax
            )
        }
    };
    use dicom::transcode::TranscodeError;
    let run = || -> Result<File, TranscodeError> {
        let mut temp = tempfile::tempfile()?;
        let mut out = BufWriter::with_capacity(256 << 10, &mut temp);
        dicom::transcode::to_native(&o.path, ts, &mut out)?;
        out.flush()?;
        drop(out);
        temp.seek(SeekFrom::Start(0))?;
        Ok(temp)
    };
    match run() {
        Ok(file) => Ok(BufReader::with_capacity(256 << 10, file)),
        Err(e @ TranscodeError::NoDecoder { .. }) => Err(format!(
            "the peer accepts SOP class {} only uncompressed, and {e}",
            o.sop_class
        )),
        Err(e) => Err(why(&e)),
    }
}

fn store_outgoing<L: super::message::Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    o: &Outgoing,
    message_id: u16,
) -> Result<u16, DimseError> {
    send_store_request(messenger, context_id, o, message_id)?;
    let response = expect_response(messenger, field::C_STORE_RSP)?;
    Ok(response.status().unwrap_or(status::PROCESSING_FAILURE))
}

fn store_command(o: &Outgoing, message_id: u16) -> Command {
    let mut command = Command::new(field::C_STORE_RQ, true);
    command
        .set_str(element::AFFECTED_SOP_CLASS_UID, &o.sop_class)
        .set_str(element::AFFECTED_SOP_INSTANCE_UID, &o.sop_instance)
        .set_u16(element::MESSAGE_ID, message_id)
        .set_u16(element::PRIORITY, 0);
    command
}

fn send_store_request<L: super::message::Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    o: &Outgoing,
    message_id: u16,
) -> Result<(), DimseError> {
    let mut file = File::open(&o.path).map_err(DimseError::Io)?;
    file.seek(SeekFrom::Start(o.dataset_offset))
        .map_err(DimseError::Io)?;
    let mut reader = BufReader::with_capacity(256 << 10, file);
    messenger.send(context_id, &store_command(o, message_id), Some(&mut reader))
}

/// The information model of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryModel {
    StudyRoot,
    PatientRoot,
}

impl QueryModel {
    fn find_uid(self) -> &'static str {
        match self {
            QueryModel::StudyRoot => super::qr::STUDY_ROOT_FIND,
            QueryModel::PatientRoot => super::qr::PATIENT_ROOT_FIND,
        }
    }
}

/// Each match is at most this large: a hostile peer cannot make us buffer more.
const MAX_MATCH: usize = 16 << 20;

/// C-FIND: sends the identifier, collects every pending match.
pub fn find(
    peer: &AeAddress,
    options: &ScuOptions,
    model: QueryModel,
    identifier: &crate::dicom::write::DataSetBuilder,
) -> Result<Vec<crate::dicom::DataSet>, DimseError> {
    let proposed = vec![
        transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN.to_string(),
        transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN.to_string(),
    ];
    let association = associate(peer, options, &[(model.find_uid().to_string(), proposed)])?;
    let (context_id, ts) = accepted(&association)
        .next()
        .map(|pc| (pc.id, pc.transfer_syntax.clone()))
        .ok_or_else(|| DimseError::NoPresentationContext("C-FIND".into()))?;
    let encoding = transfer_syntax::Encoding::of(&ts);
    let mut messenger = Messenger::new(association);
    let mut command = Command::new(field::C_FIND_RQ, true);
    command
        .set_str(element::AFFECTED_SOP_CLASS_UID, model.find_uid())
        .set_u16(element::MESSAGE_ID, 1)
        .set_u16(element::PRIORITY, 0);
    let bytes = identifier.encode(encoding);
    messenger.send(context_id, &command, Some(&mut bytes.as_slice()))?;
    let mut matches = Vec::new();
    let mut canceller = Canceller::new(options, context_id);
    loop {
        canceller.check(&mut messenger)?;
        let response = match expect_response(&mut messenger, field::C_FIND_RSP) {
            // Canceled and unconfirmed: the matches so far are what the caller gets.
            Err(e) if canceller.unconfirmed(&e) => {
                let _ = messenger.link.abort();
                return Ok(matches);
            }
            other => other?,
        };
        let code = response.status().unwrap_or(status::PROCESSING_FAILURE);
        match status::category(code) {
            Category::Pending => {
                let mut data = Vec::new();
                if response.has_data_set() {
                    messenger.receive_data(&mut super::scp::Bounded {
                        buf: &mut data,
                        limit: MAX_MATCH,
                    })?;
                }
                let ds = crate::dicom::parse::read_dataset(&data, encoding)
                    .map_err(|e| DimseError::Protocol(format!("unreadable match: {e}")))?;
                matches.push(ds);
            }
            Category::Success | Category::Warning => break,
            _ => {
                let _ = messenger.link.abort();
                return Err(DimseError::Protocol(peer_failure(
                    "C-FIND", &response, code,
                )));
            }
        }
    }
    let _ = messenger.link.release();
    Ok(matches)
}

/// One C-STORE of a stored file on an existing association (a send, or a C-GET sub-operation),
/// generic over which side of the association we are.
/// A C-STORE sub-operation of a C-GET on the requestor's own association. The requestor may
/// send its C-CANCEL-RQ before it sees this sub-operation, so one arriving ahead of the
/// C-STORE-RSP is noted (the returned flag) rather than taken for a protocol error.
pub(crate) fn store_sub_operation<L: super::message::Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    path: &Path,
    message_id: u16,
) -> Result<(u16, bool), DimseError> {
    let outgoing = describe_file(path).map_err(|e| DimseError::Io(std::io::Error::other(e)))?;
    send_store_request(messenger, context_id, &outgoing, message_id)?;
    let mut cancel_requested = false;
    loop {
        match messenger.receive_command()? {
            Incoming::Command { command, .. } if command.field() == field::C_CANCEL_RQ => {
                cancel_requested = true
            }
            Incoming::Command { command, .. } if command.field() == field::C_STORE_RSP => {
                return Ok((
                    command.status().unwrap_or(status::PROCESSING_FAILURE),
                    cancel_requested,
                ))
            }
            Incoming::Command { command, .. } => {
                return Err(DimseError::Protocol(format!(
                    "expected C-STORE-RSP, got 0x{:04X}",
                    command.field()
                )))
            }
            Incoming::Released => {
                return Err(DimseError::Protocol(
                    "the peer released the association mid-operation".into(),
                ))
            }
            Incoming::Aborted => return Err(DimseError::Aborted),
        }
    }
}

/// What to retrieve: a study, one of its series, or one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrieveTarget {
    pub study_uid: String,
    pub series_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
}

impl RetrieveTarget {
    fn level(&self) -> super::qr::Level {
        match (&self.series_uid, &self.sop_instance_uid) {
            (_, Some(_)) => super::qr::Level::Image,
            (Some(_), None) => super::qr::Level::Series,
            (None, None) => super::qr::Level::Study,
        }
    }

    fn identifier(&self, level: super::qr::Level) -> crate::dicom::write::DataSetBuilder {
        let mut b = crate::dicom::write::DataSetBuilder::default();
        b.text(super::qr::QUERY_RETRIEVE_LEVEL, level.as_str())
            .text(tag::STUDY_INSTANCE_UID, &self.study_uid);
        if let Some(series) = &self.series_uid {
            b.text(tag::SERIES_INSTANCE_UID, series);
        }
        if let Some(instance) = &self.sop_instance_uid {
            b.text(tag::SOP_INSTANCE_UID, instance);
        }
        b
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetrieveReport {
    /// Instances the peer said the retrieval covers (from the C-FIND before it).
    pub expected: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub failed: u64,
    pub warnings: u64,
    /// The final status of the retrieval.
    pub status: u16,
    pub errors: Vec<String>,
}

/// Per-instance progress of a retrieval.
#[derive(Clone, Debug)]
pub struct RetrieveProgress {
    pub done: u64,
    pub expected: u64,
    pub sop_instance_uid: String,
    /// Data set bytes received so far (C-GET; a C-MOVE's instances arrive at the listener).
    pub bytes: u64,
}

/// Storage SOP classes proposed for a retrieval when the peer does not tell which it will send.
const COMMON_STORAGE_CLASSES: &[&str] = &[
    "1.2.840.10008.5.1.4.1.1.1",        // CR
    "1.2.840.10008.5.1.4.1.1.1.1",      // DX for presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",    // DX for processing
    "1.2.840.10008.5.1.4.1.1.1.2",      // MG for presentation
    "1.2.840.10008.5.1.4.1.1.1.2.1",    // MG for processing
    "1.2.840.10008.5.1.4.1.1.1.3",      // intra-oral X-ray
    "1.2.840.10008.5.1.4.1.1.2",        // CT
    "1.2.840.10008.5.1.4.1.1.2.1",      // enhanced CT
    "1.2.840.10008.5.1.4.1.1.3.1",      // US multi-frame
    "1.2.840.10008.5.1.4.1.1.4",        // MR
    "1.2.840.10008.5.1.4.1.1.4.1",      // enhanced MR
    "1.2.840.10008.5.1.4.1.1.4.2",      // MR spectroscopy
    "1.2.840.10008.5.1.4.1.1.6.1",      // US
    "1.2.840.10008.5.1.4.1.1.7",        // secondary capture
    "1.2.840.10008.5.1.4.1.1.7.1",      // multi-frame single bit SC
    "1.2.840.10008.5.1.4.1.1.7.2",      // multi-frame grayscale byte SC
    "1.2.840.10008.5.1.4.1.1.7.3",      // multi-frame grayscale word SC
    "1.2.840.10008.5.1.4.1.1.7.4",      // multi-frame true colour SC
    "1.2.840.10008.5.1.4.1.1.9.1.1",    // 12-lead ECG
    "1.2.840.10008.5.1.4.1.1.9.1.2",    // general ECG
    "1.2.840.10008.5.1.4.1.1.11.1",     // grayscale softcopy presentation state
    "1.2.840.10008.5.1.4.1.1.12.1",     // XA
    "1.2.840.10008.5.1.4.1.1.12.1.1",   // enhanced XA
    "1.2.840.10008.5.1.4.1.1.12.2",     // XRF
    "1.2.840.10008.5.1.4.1.1.13.1.3",   // breast tomosynthesis
    "1.2.840.10008.5.1.4.1.1.20",       // NM
    "1.2.840.10008.5.1.4.1.1.66",       // raw data
    "1.2.840.10008.5.1.4.1.1.66.1",     // spatial registration
    "1.2.840.10008.5.1.4.1.1.66.4",     // segmentation
    "1.2.840.10008.5.1.4.1.1.77.1.1",   // VL endoscopic
    "1.2.840.10008.5.1.4.1.1.77.1.4",   // VL photographic
    "1.2.840.10008.5.1.4.1.1.77.1.5.1", // ophthalmic photography 8 bit
    "1.2.840.10008.5.1.4.1.1.77.1.6",   // VL whole slide microscopy
    "1.2.840.10008.5.1.4.1.1.88.11",    // basic text SR
    "1.2.840.10008.5.1.4.1.1.88.22",    // enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",    // comprehensive SR
    "1.2.840.10008.5.1.4.1.1.88.59",    // key object selection
    "1.2.840.10008.5.1.4.1.1.104.1",    // encapsulated PDF
    "1.2.840.10008.5.1.4.1.1.128",      // PET
    "1.2.840.10008.5.1.4.1.1.130",      // enhanced PET
    "1.2.840.10008.5.1.4.1.1.481.1",    // RT image
    "1.2.840.10008.5.1.4.1.1.481.2",    // RT dose
    "1.2.840.10008.5.1.4.1.1.481.3",    // RT structure set
    "1.2.840.10008.5.1.4.1.1.481.5",    // RT plan
    "1.2.840.10008.5.1.4.1.1.481.8",    // RT ion plan
];

/// Transfer syntaxes offered for retrieved instances: the peer can send each as it stores it.
const RECEIVABLE: &[&str] = &[
    transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN,
    transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN,
    transfer_syntax::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    transfer_syntax::EXPLICIT_VR_BIG_ENDIAN,
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.5",
];

const STUDY_INSTANCES: crate::dicom::Tag = crate::dicom::Tag(0x0020, 0x1208);
const SERIES_INSTANCES: crate::dicom::Tag = crate::dicom::Tag(0x0020, 0x1209);

/// Which storage SOP classes a retrieval will bring, and how many instances. One small query
/// where the peer supports SOP Classes in Study (a study, or a series with its count); otherwise
/// an instance-level listing (one response per instance).
fn plan_retrieval(
    peer: &AeAddress,
    options: &ScuOptions,
    target: &RetrieveTarget,
) -> Result<(Vec<String>, u64), DimseError> {
    use super::qr::Level;
    if target.sop_instance_uid.is_none() {
        let mut study = crate::dicom::write::DataSetBuilder::default();
        study
            .text(super::qr::QUERY_RETRIEVE_LEVEL, "STUDY")
            .text(tag::STUDY_INSTANCE_UID, &target.study_uid)
            .text(SOP_CLASSES_IN_STUDY, "")
            .text(STUDY_INSTANCES, "");
        // A strict SCP may refuse a key it does not support: then list the instances instead.
        let studies = find(peer, options, QueryModel::StudyRoot, &study).unwrap_or_default();
        if let Some(found) = studies.first() {
            let classes: Vec<String> = found
                .texts(SOP_CLASSES_IN_STUDY)
                .into_iter()
                .filter(|c| !c.is_empty())
                .collect();
            if !classes.is_empty() {
                let count = match &target.series_uid {
                    None => found.int(STUDY_INSTANCES),
                    Some(series) => {
                        let mut q = crate::dicom::write::DataSetBuilder::default();
                        q.text(super::qr::QUERY_RETRIEVE_LEVEL, "SERIES")
                            .text(tag::STUDY_INSTANCE_UID, &target.study_uid)
                            .text(tag::SERIES_INSTANCE_UID, series)
                            .text(SERIES_INSTANCES, "");
                        find(peer, options, QueryModel::StudyRoot, &q)
                            .ok()
                            .and_then(|m| m.first().and_then(|s| s.int(SERIES_INSTANCES)))
                    }
                };
                if let Some(count) = count {
                    return Ok((classes, count.max(0) as u64));
                }
            }
        }
    }
    let mut query = target.identifier(Level::Image);
    // Hierarchical SCPs need every higher level's unique key at IMAGE level (universal if unknown).
    query
        .text(
            tag::SERIES_INSTANCE_UID,
            target.series_uid.as_deref().unwrap_or(""),
        )
        .text(tag::SOP_CLASS_UID, "")
        .text(
            tag::SOP_INSTANCE_UID,
            target.sop_instance_uid.as_deref().unwrap_or(""),
        );
    let listing = find(peer, options, QueryModel::StudyRoot, &query)?;
    let classes = listing
        .iter()
        .filter_map(|m| m.first_text(tag::SOP_CLASS_UID))
        .collect();
    Ok((classes, listing.len() as u64))
}

/// C-GET into the store: a C-FIND first (it tells which storage SOP classes to propose, and how
/// many instances to expect), then the retrieval on one association, each
/// instance entering the store and the index as it arrives.
pub fn get(
    peer: &AeAddress,
    options: &ScuOptions,
    target: &RetrieveTarget,
    store: &crate::store::Store,
    on_instance: &mut dyn FnMut(&RetrieveProgress),
) -> Result<RetrieveReport, DimseError> {
    let (mut classes, expected) = plan_retrieval(peer, options, target)?;
    // Some SCPs (dcmqrscp) name no SOP classes: then propose the common ones.
    if classes.is_empty() {
        classes = COMMON_STORAGE_CLASSES
            .iter()
            .map(|c| c.to_string())
            .collect();
    }
    classes.sort();
    classes.dedup();
    let mut report = RetrieveReport {
        expected,
        ..RetrieveReport::default()
    };
    if expected == 0 {
        return Ok(report);
    }
    // One context per (class, transfer syntax) lets the peer send each instance as stored;
    // with too many classes, one context per class with every syntax must do.
    let mut contexts = vec![(
        super::qr::STUDY_ROOT_GET.to_string(),
        vec![
            transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN.to_string(),
            transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN.to_string(),
        ],
    )];
    let all: Vec<String> = RECEIVABLE.iter().map(|t| t.to_string()).collect();
    if classes.len() * RECEIVABLE.len() < 127 {
        for class in &classes {
            contexts.extend(
                RECEIVABLE
                    .iter()
                    .map(|ts| (class.clone(), vec![ts.to_string()])),
            );
        }
    } else {
        contexts.extend(
            classes
                .iter()
                .take(126)
                .map(|class| (class.clone(), all.clone())),
        );
    }
    let mut builder = ClientAssociationOptions::new()
        .calling_ae_title(options.calling_ae_title.clone())
        .called_ae_title(peer.ae_title.clone())
        .max_pdu_length(MAX_PDU)
        .connection_timeout(options.timeout)
        .read_timeout(options.timeout)
        .write_timeout(options.timeout);
    for (abstract_syntax, transfer_syntaxes) in &contexts {
        builder =
            builder.with_presentation_context(abstract_syntax.clone(), transfer_syntaxes.clone());
    }
    for class in &classes {
        // We take the SCP role for the storage sub-operations the peer sends back.
        builder = builder.with_role_selection(class.clone(), false, true);
    }
    let address = format!("{}:{}", peer.host, peer.port);
    let mut association = builder
        .establish(address.as_str())
        .map_err(|e| DimseError::Association(format!("{peer}: {e}")))?;
    association
        .inner_stream()
        .set_nodelay(true)
        .map_err(DimseError::Io)?;
    let negotiated: Vec<(u8, String, String)> = accepted(&association)
        .map(|pc| {
            (
                pc.id,
                pc.abstract_syntax.clone(),
                pc.transfer_syntax.clone(),
            )
        })
        .collect();
    let get_context = negotiated
        .iter()
        .find(|c| c.1 == super::qr::STUDY_ROOT_GET)
        .map(|c| (c.0, c.2.clone()))
        .ok_or_else(|| DimseError::NoPresentationContext("Study Root C-GET".into()))?;
    let mut messenger = Messenger::new(association);
    let mut received_bytes = 0u64;
    let mut command = Command::new(field::C_GET_RQ, true);
    command
        .set_str(element::AFFECTED_SOP_CLASS_UID, super::qr::STUDY_ROOT_GET)
        .set_u16(element::MESSAGE_ID, 1)
        .set_u16(element::PRIORITY, 0);
    let identifier = target
        .identifier(target.level())
        .encode(transfer_syntax::Encoding::of(&get_context.1));
    messenger.send(get_context.0, &command, Some(&mut identifier.as_slice()))?;
    let mut canceller = Canceller::new(options, get_context.0);
    let source = format!("{}@{}", peer.ae_title, peer.host);
    loop {
        canceller.check(&mut messenger)?;
        let received = match messenger.receive_command() {
            Err(e) if canceller.unconfirmed(&e) => {
                let _ = messenger.link.abort();
                report.status = status::CANCEL;
                report
                    .errors
                    .push("canceled; the peer did not confirm within a second".into());
                return Ok(report);
            }
            other => other?,
        };
        let (context_id, incoming) = match received {
            Incoming::Command {
                context_id,
                command,
            } => (context_id, command),
            Incoming::Released => {
                return Err(DimseError::Protocol(
                    "the peer released the association mid-retrieval".into(),
                ))
            }
            Incoming::Aborted => return Err(DimseError::Aborted),
        };
        match incoming.field() {
            field::C_STORE_RQ => {
                let ts = negotiated
                    .iter()
                    .find(|c| c.0 == context_id)
                    .map(|c| c.2.clone())
                    .unwrap_or_default();
                let super::scp::Received {
                    status: code,
                    comment,
                    placed,
                    bytes,
                } = super::scp::receive_instance(
                    store,
                    super::scp::IngestVia::Now,
                    &mut messenger,
                    &incoming,
                    &ts,
                    &peer.ae_title,
                    &source,
                )?;
                match placed.map(|p| p.outcome) {
                    Some(crate::import::Ingested::Stored) => report.stored += 1,
                    Some(crate::import::Ingested::Duplicate) => report.duplicates += 1,
                    None => report.errors.push(comment.clone().unwrap_or_default()),
                }
                super::scp::respond(
                    &mut messenger,
                    context_id,
                    &incoming,
                    field::C_STORE_RSP,
                    code,
                    comment.as_deref(),
                )?;
                received_bytes += bytes;
                on_instance(&RetrieveProgress {
                    bytes: received_bytes,
                    done: report.stored + report.duplicates + report.errors.len() as u64,
                    expected: report.expected,
                    sop_instance_uid: incoming
                        .str(element::AFFECTED_SOP_INSTANCE_UID)
                        .unwrap_or_default(),
                });
            }
            field::C_GET_RSP => {
                let code = incoming.status().unwrap_or(status::PROCESSING_FAILURE);
                if status::category(code) == Category::Pending {
                    continue;
                }
                report.status = code;
                report.failed = incoming.u16(element::FAILED_SUBOPERATIONS).unwrap_or(0) as u64;
                report.warnings = incoming.u16(element::WARNING_SUBOPERATIONS).unwrap_or(0) as u64;
                if matches!(status::category(code), Category::Failure) {
                    report.errors.push(peer_failure("C-GET", &incoming, code));
                }
                break;
            }
            other => {
                return Err(DimseError::Protocol(format!(
                    "unexpected command 0x{other:04X} during C-GET"
                )))
            }
        }
    }
    let _ = messenger.link.release();
    Ok(report)
}

/// C-MOVE: asks the peer to send the target to `destination_ae` (normally our own storage
/// listener, which must be running and known to the peer), following the sub-operation counts.
pub fn move_to(
    peer: &AeAddress,
    options: &ScuOptions,
    target: &RetrieveTarget,
    destination_ae: &str,
    on_progress: &mut dyn FnMut(&RetrieveProgress),
) -> Result<RetrieveReport, DimseError> {
    let proposed = vec![
        transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN.to_string(),
        transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN.to_string(),
    ];
    let association = associate(
        peer,
        options,
        &[(super::qr::STUDY_ROOT_MOVE.to_string(), proposed)],
    )?;
    let (context_id, ts) = accepted(&association)
        .next()
        .map(|pc| (pc.id, pc.transfer_syntax.clone()))
        .ok_or_else(|| DimseError::NoPresentationContext("Study Root C-MOVE".into()))?;
    let mut messenger = Messenger::new(association);
    let mut command = Command::new(field::C_MOVE_RQ, true);
    command
        .set_str(element::AFFECTED_SOP_CLASS_UID, super::qr::STUDY_ROOT_MOVE)
        .set_u16(element::MESSAGE_ID, 1)
        .set_u16(element::PRIORITY, 0)
        .set_str(element::MOVE_DESTINATION, destination_ae);
    let identifier = target
        .identifier(target.level())
        .encode(transfer_syntax::Encoding::of(&ts));
    messenger.send(context_id, &command, Some(&mut identifier.as_slice()))?;
    let mut report = RetrieveReport::default();
    let mut canceller = Canceller::new(options, context_id);
    loop {
        canceller.check(&mut messenger)?;
        let response = match expect_response(&mut messenger, field::C_MOVE_RSP) {
            Err(e) if canceller.unconfirmed(&e) => {
                let _ = messenger.link.abort();
                report.status = status::CANCEL;
                report
                    .errors
                    .push("canceled; the peer did not confirm within a second".into());
                return Ok(report);
            }
            other => other?,
        };
        if response.has_data_set() {
            messenger.receive_data(&mut std::io::sink())?;
        }
        let code = response.status().unwrap_or(status::PROCESSING_FAILURE);
        let count = |e| response.u16(e).unwrap_or(0) as u64;
        let (remaining, completed, failed, warnings) = (
            count(element::REMAINING_SUBOPERATIONS),
            count(element::COMPLETED_SUBOPERATIONS),
            count(element::FAILED_SUBOPERATIONS),
            count(element::WARNING_SUBOPERATIONS),
        );
        report.expected = report
            .expected
            .max(remaining + completed + failed + warnings);
        report.stored = completed;
        report.failed = failed;
        report.warnings = warnings;
        if status::category(code) == Category::Pending {
            on_progress(&RetrieveProgress {
                bytes: 0,
                done: completed + failed + warnings,
                expected: report.expected,
                sop_instance_uid: String::new(),
            });
            continue;
        }
        report.status = code;
        if status::category(code) == Category::Failure {
            report.errors.push(peer_failure("C-MOVE", &response, code));
        }
        break;
    }
    let _ = messenger.link.release();
    Ok(report)
}
