//! C-GET: retrieving from a peer on our own association (the SCU: the instances come back as
//! C-STORE sub-operations and go into the sink as they arrive), and answering a C-GET (the SCP:
//! the instances a [`RetrieveHandler`] designates go back the same way).

use super::association::{associate, refused, Canceller, Proposal};
use super::c_find::{find, MAX_IDENTIFIER};
use super::command::{element, field, Command};
use super::instance::{describe_file, receive_instance, respond, send_store_request, Received};
use super::message::{receive_bounded, Incoming, Link, Messenger};
use super::status::{self, Category};
use super::{AeAddress, DimseError, ScuOptions};
use crate::query::{
    Level, QueryModel, QUERY_RETRIEVE_LEVEL, SERIES_INSTANCES, SOP_CLASSES_IN_STUDY,
    STUDY_INSTANCES, STUDY_ROOT_GET,
};
use crate::report::{RetrieveReport, RetrieveTarget, TransferProgress};
use crate::sink::{InstanceSink, Origin};
use lightbox_dicom::transfer_syntax::{
    self, Encoding, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
};
use lightbox_dicom::write::DataSetBuilder;
use lightbox_dicom::{tag, DataSet};
use std::path::PathBuf;

/// A stored instance a C-GET or C-MOVE request designates.
#[derive(Clone, Debug)]
pub struct StoredInstance {
    pub path: PathBuf,
    pub sop_class_uid: Option<String>,
    pub transfer_syntax: String,
}

/// Answers the C-GET and C-MOVE requests a server receives: which stored instances an
/// identifier designates.
pub trait RetrieveHandler: Send + Sync {
    /// The instances, or why the identifier cannot be answered (sent to the peer as the error
    /// comment of a "cannot understand" status).
    fn designate(&self, identifier: &DataSet) -> Result<Vec<StoredInstance>, String>;
}

/// The level of a retrieval target, and its identifier at that level.
pub(crate) fn target_identifier(target: &RetrieveTarget) -> DataSetBuilder {
    let level = match (&target.series_uid, target.instances.is_empty()) {
        (_, false) => Level::Image,
        (Some(_), true) => Level::Series,
        (None, true) => Level::Study,
    };
    let mut b = DataSetBuilder::default();
    b.text(QUERY_RETRIEVE_LEVEL, level.as_str())
        .text(tag::STUDY_INSTANCE_UID, &target.study_uid);
    if let Some(series) = &target.series_uid {
        b.text(tag::SERIES_INSTANCE_UID, series);
    }
    if !target.instances.is_empty() {
        b.text(tag::SOP_INSTANCE_UID, &target.instances.join("\\"));
    }
    b
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

/// Which storage SOP classes a retrieval will bring, and how many instances. One small query
/// where the peer supports SOP Classes in Study (a study, or a series with its count); otherwise
/// an instance-level listing (one response per instance).
fn plan_retrieval(
    peer: &AeAddress,
    options: &ScuOptions,
    target: &RetrieveTarget,
) -> Result<(Vec<String>, u64), DimseError> {
    if target.instances.is_empty() {
        let mut study = DataSetBuilder::default();
        study
            .text(QUERY_RETRIEVE_LEVEL, "STUDY")
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
                        let mut q = DataSetBuilder::default();
                        q.text(QUERY_RETRIEVE_LEVEL, "SERIES")
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
    let mut query = target_identifier(target);
    // Hierarchical SCPs need every higher level's unique key at IMAGE level (universal if unknown).
    query
        .text(QUERY_RETRIEVE_LEVEL, "IMAGE")
        .text(
            tag::SERIES_INSTANCE_UID,
            target.series_uid.as_deref().unwrap_or(""),
        )
        .text(tag::SOP_CLASS_UID, "")
        .text(tag::SOP_INSTANCE_UID, &target.instances.join("\\"));
    let listing = find(peer, options, QueryModel::StudyRoot, &query)?;
    let classes = listing
        .iter()
        .filter_map(|m| m.first_text(tag::SOP_CLASS_UID))
        .collect();
    Ok((classes, listing.len() as u64))
}

/// The contexts of a C-GET: the Q/R class, and the storage classes it brings in every syntax we
/// take. One context per (class, syntax) lets the peer send each instance as stored; with too
/// many classes, one context per class with every syntax must do.
fn get_proposal(mut classes: Vec<String>) -> Proposal {
    // Some SCPs (dcmqrscp) name no SOP classes: then propose the common ones.
    if classes.is_empty() {
        classes = COMMON_STORAGE_CLASSES
            .iter()
            .map(|c| c.to_string())
            .collect();
    }
    classes.sort();
    classes.dedup();
    let receivable: Vec<String> = transfer_syntax::proposed_for_retrieval()
        .map(str::to_string)
        .collect();
    let mut contexts = vec![(
        STUDY_ROOT_GET.to_string(),
        vec![
            EXPLICIT_VR_LITTLE_ENDIAN.to_string(),
            IMPLICIT_VR_LITTLE_ENDIAN.to_string(),
        ],
    )];
    if classes.len() * receivable.len() < 127 {
        for class in &classes {
            contexts.extend(
                receivable
                    .iter()
                    .map(|ts| (class.clone(), vec![ts.clone()])),
            );
        }
    } else {
        contexts.extend(
            classes
                .iter()
                .take(126)
                .map(|class| (class.clone(), receivable.clone())),
        );
    }
    Proposal {
        contexts,
        // We take the SCP role for the storage sub-operations the peer sends back.
        scp_roles: classes,
    }
}

/// C-GET into the sink: a C-FIND first (it tells which storage SOP classes to propose, and how
/// many instances to expect), then the retrieval on one association, each instance handed to
/// the sink as it arrives.
pub fn get(
    peer: &AeAddress,
    options: &ScuOptions,
    target: &RetrieveTarget,
    sink: &dyn InstanceSink,
    on_progress: &mut dyn FnMut(&TransferProgress),
) -> Result<RetrieveReport, DimseError> {
    let (classes, expected) = plan_retrieval(peer, options, target)?;
    let mut report = RetrieveReport {
        expected,
        ..RetrieveReport::default()
    };
    if expected == 0 {
        return Ok(report);
    }
    let opened = associate(peer, options, &get_proposal(classes))?;
    let get_context = opened.context_for(STUDY_ROOT_GET, "Study Root C-GET")?;
    let negotiated = opened.accepted;
    let mut messenger = opened.messenger;
    let mut received_bytes = 0u64;
    let mut command = Command::new(field::C_GET_RQ, true);
    command
        .set_str(element::AFFECTED_SOP_CLASS_UID, STUDY_ROOT_GET)
        .set_u16(element::MESSAGE_ID, 1)
        .set_u16(element::PRIORITY, 0);
    let identifier = target_identifier(target).encode(Encoding::of(&get_context.transfer_syntax));
    messenger.send(get_context.id, &command, Some(&mut identifier.as_slice()))?;
    let mut canceller = Canceller::new(options, get_context.id);
    let source = format!("{}@{}", peer.ae_title, peer.host);
    let origin = Origin {
        calling_ae_title: Some(&peer.ae_title),
        source: &source,
    };
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
                let ts = super::association::context_transfer_syntax(&negotiated, context_id);
                let Received {
                    status: code,
                    comment,
                    accepted,
                    bytes,
                } = receive_instance(sink, &mut messenger, &incoming, &ts, &origin)?;
                match &accepted {
                    Some(a) if a.duplicate => report.duplicates += 1,
                    Some(_) => report.stored += 1,
                    None => report.errors.push(comment.clone().unwrap_or_default()),
                }
                respond(
                    &mut messenger,
                    context_id,
                    &incoming,
                    field::C_STORE_RSP,
                    code,
                    comment.as_deref(),
                )?;
                received_bytes += bytes;
                on_progress(&TransferProgress {
                    bytes: received_bytes,
                    done: report.stored + report.duplicates + report.errors.len() as u64,
                    expected: report.expected,
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
                    report
                        .errors
                        .push(refused("C-GET", &incoming, code).to_string());
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

/// Sub-operation counters of a C-GET or C-MOVE.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SubOperations {
    pub remaining: u16,
    pub completed: u16,
    pub failed: u16,
    pub warning: u16,
}

impl SubOperations {
    pub fn new(total: usize) -> SubOperations {
        SubOperations {
            remaining: total.min(u16::MAX as usize) as u16,
            ..SubOperations::default()
        }
    }

    /// Counts one finished sub-operation by its status (None: it could not be attempted).
    pub fn count(&mut self, outcome: Option<u16>) {
        self.remaining = self.remaining.saturating_sub(1);
        match outcome.map(status::category) {
            Some(Category::Success) => self.completed += 1,
            Some(Category::Warning) => self.warning += 1,
            _ => self.failed += 1,
        }
    }

    /// The final status of a retrieval that ran to its end (or was canceled).
    pub fn final_status(&self, canceled: bool) -> u16 {
        if canceled {
            status::CANCEL
        } else if self.failed + self.warning > 0 {
            status::SUBOPERATIONS_WARNING
        } else {
            status::SUCCESS
        }
    }

    /// A C-GET or C-MOVE response with these counts.
    pub fn response(&self, response_field: u16, request: &Command, status: u16) -> Command {
        let mut response = Command::new(response_field, false);
        response
            .set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, request.message_id())
            .set_u16(element::STATUS, status)
            .set_u16(element::REMAINING_SUBOPERATIONS, self.remaining)
            .set_u16(element::COMPLETED_SUBOPERATIONS, self.completed)
            .set_u16(element::FAILED_SUBOPERATIONS, self.failed)
            .set_u16(element::WARNING_SUBOPERATIONS, self.warning);
        if let Some(class) = request.str(element::AFFECTED_SOP_CLASS_UID) {
            response.set_str(element::AFFECTED_SOP_CLASS_UID, &class);
        }
        response
    }
}

/// The instances a C-GET or C-MOVE identifier designates, or the response that refuses it.
pub(crate) fn designated<L: Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    command: &Command,
    transfer_syntax: &str,
    handler: Option<&dyn RetrieveHandler>,
    response_field: u16,
) -> Result<Option<Vec<StoredInstance>>, DimseError> {
    let identifier = receive_bounded(messenger, MAX_IDENTIFIER)?;
    let Some(handler) = handler else {
        respond(
            messenger,
            context_id,
            command,
            response_field,
            status::SOP_CLASS_NOT_SUPPORTED,
            None,
        )?;
        return Ok(None);
    };
    let designated =
        lightbox_dicom::parse::read_dataset(&identifier, Encoding::of(transfer_syntax))
            .map_err(|e| e.to_string())
            .and_then(|ds| handler.designate(&ds));
    match designated {
        Ok(instances) => Ok(Some(instances)),
        Err(reason) => {
            respond(
                messenger,
                context_id,
                command,
                response_field,
                status::CANNOT_UNDERSTAND,
                Some(&reason),
            )?;
            Ok(None)
        }
    }
}

/// The SCP side: each designated instance goes back on this association as a C-STORE
/// sub-operation, with a pending response after each.
pub(crate) fn serve<L: Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    command: &Command,
    contexts: &[super::association::AcceptedContext],
    handler: Option<&dyn RetrieveHandler>,
) -> Result<(), DimseError> {
    let transfer_syntax = super::association::context_transfer_syntax(contexts, context_id);
    let Some(instances) = designated(
        messenger,
        context_id,
        command,
        &transfer_syntax,
        handler,
        field::C_GET_RSP,
    )?
    else {
        return Ok(());
    };
    let mut counts = SubOperations::new(instances.len());
    let mut canceled = false;
    for (i, instance) in instances.iter().enumerate() {
        if messenger.cancel_requested()? {
            canceled = true;
            break;
        }
        let context = contexts.iter().find(|c| {
            Some(&c.abstract_syntax) == instance.sop_class_uid.as_ref()
                && c.transfer_syntax == instance.transfer_syntax
        });
        let outcome = match context {
            Some(c) => store_sub_operation(messenger, c.id, &instance.path, (i + 2) as u16),
            None => Err(DimseError::NoPresentationContext(format!(
                "{} in {}",
                instance.sop_class_uid.clone().unwrap_or_default(),
                instance.transfer_syntax
            ))),
        };
        match outcome {
            Ok((code, cancel)) => {
                canceled |= cancel;
                counts.count(Some(code));
            }
            // This instance could not be offered or read: it fails, the others go on.
            Err(DimseError::NoPresentationContext(_)) | Err(DimseError::Io(_)) => {
                counts.count(None)
            }
            Err(e) => return Err(e),
        }
        if canceled {
            break;
        }
        if counts.remaining > 0 {
            let pending = counts.response(field::C_GET_RSP, command, status::PENDING);
            messenger.send(context_id, &pending, None)?;
        }
    }
    let last = counts.response(field::C_GET_RSP, command, counts.final_status(canceled));
    messenger.send(context_id, &last, None)
}

/// A C-STORE sub-operation of a C-GET on the requestor's own association. The requestor may
/// send its C-CANCEL-RQ before it sees this sub-operation, so one arriving ahead of the
/// C-STORE-RSP is noted (the returned flag) rather than taken for a protocol error.
fn store_sub_operation<L: Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    path: &std::path::Path,
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
