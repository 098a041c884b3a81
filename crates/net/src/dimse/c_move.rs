//! C-MOVE: asking a peer to send instances to a destination (the SCU, following the
//! sub-operation counts), and answering one (the SCP: the instances a
//! [`RetrieveHandler`](super::c_get::RetrieveHandler) designates go to a known destination on
//! an association of their own).

use super::association::{
    associate, context_transfer_syntax, expect_response, refused, AcceptedContext, Canceller,
    Proposal,
};
use super::c_find::MAX_IDENTIFIER;
use super::c_get::{designated, target_identifier, RetrieveHandler, SubOperations};
use super::c_store::send_files_until;
use super::command::{element, field, Command};
use super::instance::respond;
use super::message::{receive_bounded, Link, Messenger};
use super::status::{self, Category};
use super::{AeAddress, DimseError, ScuOptions};
use crate::query::STUDY_ROOT_MOVE;
use crate::report::{RetrieveReport, RetrieveTarget, TransferProgress};
use lightbox_dicom::transfer_syntax::{
    Encoding, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
};
use std::path::PathBuf;

/// Where a C-MOVE sends instances: a known node's address, how long to wait for it, and its
/// TLS when it requires TLS.
#[derive(Clone, Debug)]
pub struct Destination {
    pub address: AeAddress,
    pub timeout: std::time::Duration,
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// The nodes a server knows: where a C-MOVE may send instances, and who may call.
pub trait NodeDirectory: Send + Sync {
    /// The node with this AE title.
    fn destination(&self, ae_title: &str) -> Option<Destination>;
    /// The AE titles of every known node (for servers that accept known callers only).
    fn known_ae_titles(&self) -> Vec<String>;
}

/// C-MOVE: asks the peer to send the target to `destination_ae` (normally our own storage
/// listener, which must be running and known to the peer), following the sub-operation counts.
pub fn move_to(
    peer: &AeAddress,
    options: &ScuOptions,
    target: &RetrieveTarget,
    destination_ae: &str,
    on_progress: &mut dyn FnMut(&TransferProgress),
) -> Result<RetrieveReport, DimseError> {
    let opened = associate(
        peer,
        options,
        &Proposal::single(
            STUDY_ROOT_MOVE,
            &[EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN],
        ),
    )?;
    let context = opened.context_for(STUDY_ROOT_MOVE, "Study Root C-MOVE")?;
    let mut messenger = opened.messenger;
    let mut command = Command::new(field::C_MOVE_RQ, true);
    command
        .set_str(element::AFFECTED_SOP_CLASS_UID, STUDY_ROOT_MOVE)
        .set_u16(element::MESSAGE_ID, 1)
        .set_u16(element::PRIORITY, 0)
        .set_str(element::MOVE_DESTINATION, destination_ae);
    let identifier = target_identifier(target).encode(Encoding::of(&context.transfer_syntax));
    messenger.send(context.id, &command, Some(&mut identifier.as_slice()))?;
    let mut report = RetrieveReport::default();
    let mut canceller = Canceller::new(options, context.id);
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
            on_progress(&TransferProgress {
                bytes: 0,
                done: completed + failed + warnings,
                expected: report.expected,
            });
            continue;
        }
        report.status = code;
        if status::category(code) == Category::Failure {
            report
                .errors
                .push(refused("C-MOVE", &response, code).to_string());
        }
        break;
    }
    let _ = messenger.link.release();
    Ok(report)
}

/// The SCP side: the designated instances go to the destination on a new association, calling
/// it as `our_ae_title`; the requestor gets a pending response with the counts after each,
/// then the final status.
pub(crate) fn serve<L: Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    command: &Command,
    contexts: &[AcceptedContext],
    handler: Option<&dyn RetrieveHandler>,
    nodes: &dyn NodeDirectory,
    our_ae_title: &str,
) -> Result<(), DimseError> {
    let destination_ae = command.str(element::MOVE_DESTINATION).unwrap_or_default();
    let destination = nodes.destination(destination_ae.trim());
    let Some(Destination {
        address,
        timeout,
        tls,
    }) = destination
    else {
        receive_bounded(messenger, MAX_IDENTIFIER)?;
        return respond(
            messenger,
            context_id,
            command,
            field::C_MOVE_RSP,
            status::MOVE_DESTINATION_UNKNOWN,
            Some(&format!("unknown destination {destination_ae}")),
        );
    };
    let transfer_syntax = context_transfer_syntax(contexts, context_id);
    let Some(instances) = designated(
        messenger,
        context_id,
        command,
        &transfer_syntax,
        handler,
        field::C_MOVE_RSP,
    )?
    else {
        return Ok(());
    };
    let paths: Vec<PathBuf> = instances.into_iter().map(|i| i.path).collect();
    let mut counts = SubOperations::new(paths.len());
    let options = ScuOptions {
        calling_ae_title: our_ae_title.to_string(),
        timeout,
        cancel: None,
        tls,
    };
    let mut pending_error = None;
    let mut canceled = false;
    let sent = if paths.is_empty() {
        Ok(Default::default())
    } else {
        send_files_until(&address, &options, &paths, &mut |instance| {
            counts.count(
                instance
                    .error
                    .is_none()
                    .then_some(instance.status)
                    .flatten(),
            );
            if counts.remaining > 0 && pending_error.is_none() {
                let pending = counts.response(field::C_MOVE_RSP, command, status::PENDING);
                if let Err(e) = messenger.send(context_id, &pending, None) {
                    pending_error = Some(e);
                }
            }
            match messenger.cancel_requested() {
                Ok(false) => true,
                Ok(true) => {
                    canceled = true;
                    false
                }
                Err(e) => {
                    pending_error = Some(e);
                    false
                }
            }
        })
    };
    if let Some(e) = pending_error {
        return Err(e);
    }
    let final_status = match &sent {
        // The destination could not be reached: every sub-operation failed.
        Err(_) => {
            counts.failed += counts.remaining;
            counts.remaining = 0;
            status::SUBOPERATIONS_IMPOSSIBLE
        }
        Ok(_) => counts.final_status(canceled),
    };
    let mut last = counts.response(field::C_MOVE_RSP, command, final_status);
    if let Err(e) = &sent {
        tracing::info!(destination = %address, error = %e, "C-MOVE destination unreachable");
        last.set_str(
            element::ERROR_COMMENT,
            &format!("destination: {e}")
                .chars()
                .take(64)
                .collect::<String>(),
        );
    }
    messenger.send(context_id, &last, None)
}
