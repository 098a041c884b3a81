//! C-ECHO (Verification): the SCU verb that tells whether a peer answers, and the SCP's answer.

use super::association::{associate, expect_response, refused, Proposal};
use super::command::{element, field, Command};
use super::instance::respond;
use super::message::{Link, Messenger};
use super::{status, AeAddress, DimseError, ScuOptions, VERIFICATION};
use lightbox_dicom::transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN;
use std::time::{Duration, Instant};

/// C-ECHO: returns the round-trip time of the echo (association set-up excluded).
pub fn echo(peer: &AeAddress, options: &ScuOptions) -> Result<Duration, DimseError> {
    let opened = associate(
        peer,
        options,
        &Proposal::single(VERIFICATION, &[IMPLICIT_VR_LITTLE_ENDIAN]),
    )?;
    let context = opened.context_for(VERIFICATION, "Verification")?;
    let mut messenger = opened.messenger;
    let started = Instant::now();
    let mut command = Command::new(field::C_ECHO_RQ, false);
    command
        .set_str(element::AFFECTED_SOP_CLASS_UID, VERIFICATION)
        .set_u16(element::MESSAGE_ID, 1);
    messenger.send(context.id, &command, None)?;
    let response = expect_response(&mut messenger, field::C_ECHO_RSP)?;
    let elapsed = started.elapsed();
    let _ = messenger.link.release();
    match response.status().unwrap_or(status::PROCESSING_FAILURE) {
        status::SUCCESS => Ok(elapsed),
        code => Err(refused("C-ECHO", &response, code)),
    }
}

/// The SCP's answer to a C-ECHO: success.
pub(crate) fn answer<L: Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    request: &Command,
) -> Result<(), DimseError> {
    respond(
        messenger,
        context_id,
        request,
        field::C_ECHO_RSP,
        status::SUCCESS,
        None,
    )
}
