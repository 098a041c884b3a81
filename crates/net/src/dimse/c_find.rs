//! C-FIND: querying a peer (the SCU, collecting every pending match) and answering queries (the
//! SCP, through a [`FindHandler`] that matches against whatever the server holds).

use super::association::{associate, expect_response, refused, Canceller, Proposal};
use super::command::{element, field, Command};
use super::instance::respond;
use super::message::{receive_bounded, Link, Messenger};
use super::status::{self, Category};
use super::{AeAddress, DimseError, ScuOptions};
use crate::query::{QueryModel, PATIENT_ROOT_FIND, STUDY_ROOT_FIND};
use lightbox_dicom::parse::read_dataset;
use lightbox_dicom::transfer_syntax::{
    Encoding, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
};
use lightbox_dicom::write::DataSetBuilder;
use lightbox_dicom::DataSet;

/// Answers the C-FIND requests a server receives.
pub trait FindHandler: Send + Sync {
    /// The matches of a query identifier, each a response identifier; or why the query cannot
    /// be answered (sent to the peer as the error comment of a "cannot understand" status).
    fn find(&self, model: QueryModel, identifier: &DataSet) -> Result<Vec<DataSetBuilder>, String>;
}

/// Each match is at most this large: a hostile peer cannot make us buffer more.
const MAX_MATCH: usize = 16 << 20;
/// A query identifier is small; a larger one is refused.
pub(crate) const MAX_IDENTIFIER: usize = 1 << 20;

/// C-FIND: sends the identifier, collects every pending match. Canceled through the options'
/// flag: the matches so far are returned.
pub fn find(
    peer: &AeAddress,
    options: &ScuOptions,
    model: QueryModel,
    identifier: &DataSetBuilder,
) -> Result<Vec<DataSet>, DimseError> {
    let opened = associate(
        peer,
        options,
        &Proposal::single(
            model.find_uid(),
            &[EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN],
        ),
    )?;
    let context = opened.context_for(model.find_uid(), "C-FIND")?;
    let encoding = Encoding::of(&context.transfer_syntax);
    let mut messenger = opened.messenger;
    let mut command = Command::new(field::C_FIND_RQ, true);
    command
        .set_str(element::AFFECTED_SOP_CLASS_UID, model.find_uid())
        .set_u16(element::MESSAGE_ID, 1)
        .set_u16(element::PRIORITY, 0);
    let bytes = identifier.encode(encoding);
    messenger.send(context.id, &command, Some(&mut bytes.as_slice()))?;
    let mut matches = Vec::new();
    let mut canceller = Canceller::new(options, context.id);
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
                let data = if response.has_data_set() {
                    receive_bounded(&mut messenger, MAX_MATCH)?
                } else {
                    Vec::new()
                };
                let ds = read_dataset(&data, encoding)
                    .map_err(|e| DimseError::Protocol(format!("unreadable match: {e}")))?;
                matches.push(ds);
            }
            Category::Success | Category::Warning | Category::Cancel => break,
            Category::Failure => {
                let _ = messenger.link.abort();
                return Err(refused("C-FIND", &response, code));
            }
        }
    }
    let _ = messenger.link.release();
    Ok(matches)
}

/// The SCP side: one pending response per match, then success. The peer may cancel between
/// matches.
pub(crate) fn serve<L: Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    command: &Command,
    transfer_syntax: &str,
    handler: Option<&dyn FindHandler>,
) -> Result<(), DimseError> {
    let identifier = receive_bounded(messenger, MAX_IDENTIFIER)?;
    let answer = |messenger: &mut Messenger<L>, status: u16, comment: Option<&str>| {
        respond(
            messenger,
            context_id,
            command,
            field::C_FIND_RSP,
            status,
            comment,
        )
    };
    let sop_class = command
        .str(element::AFFECTED_SOP_CLASS_UID)
        .unwrap_or_default();
    let model = match sop_class.as_str() {
        STUDY_ROOT_FIND => QueryModel::StudyRoot,
        PATIENT_ROOT_FIND => QueryModel::PatientRoot,
        _ => return answer(messenger, status::SOP_CLASS_NOT_SUPPORTED, None),
    };
    let Some(handler) = handler else {
        return answer(messenger, status::SOP_CLASS_NOT_SUPPORTED, None);
    };
    let encoding = Encoding::of(transfer_syntax);
    if encoding.big_endian || encoding.deflated {
        return answer(
            messenger,
            status::CANNOT_UNDERSTAND,
            Some("queries in little endian only"),
        );
    }
    let results = read_dataset(&identifier, encoding)
        .map_err(|e| e.to_string())
        .and_then(|ds| handler.find(model, &ds));
    let results = match results {
        Ok(r) => r,
        Err(reason) => return answer(messenger, status::CANNOT_UNDERSTAND, Some(&reason)),
    };
    for (i, result) in results.into_iter().enumerate() {
        // Looking for a C-CANCEL costs syscalls: every few matches is soon enough.
        if i % 32 == 0 && messenger.cancel_requested()? {
            return answer(messenger, status::CANCEL, None);
        }
        let mut pending = Command::new(field::C_FIND_RSP, true);
        pending
            .set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, command.message_id())
            .set_str(element::AFFECTED_SOP_CLASS_UID, &sop_class)
            .set_u16(element::STATUS, status::PENDING);
        messenger.send_batched(context_id, &pending, result.encode(encoding))?;
    }
    answer(messenger, status::SUCCESS, None)
}
