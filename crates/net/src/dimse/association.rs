//! Opening an association as the SCU: the proposal, the timeouts, the accepted contexts, and the
//! C-CANCEL / abort that ends an operation early.

use super::command::{element, field, Command};
use super::message::{Incoming, Link, Messenger};
use super::{AeAddress, DimseError, DEFAULT_AE_TITLE, DEFAULT_TIMEOUT, MAX_PDU};
use dicom_ul::pdu::PresentationContextResultReason;
use dicom_ul::{ClientAssociation, ClientAssociationOptions};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ScuOptions {
    pub calling_ae_title: String,
    /// Connect, association and DIMSE timeout.
    pub timeout: Duration,
    /// Set by the caller to cancel an operation in progress (C-CANCEL, or the next instance
    /// not sent).
    pub cancel: Option<Arc<AtomicBool>>,
    /// Associate over TLS (PS3.15 B.1), the peer's certificate checked against this
    /// configuration's roots and its host name.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for ScuOptions {
    fn default() -> ScuOptions {
        ScuOptions {
            calling_ae_title: DEFAULT_AE_TITLE.into(),
            timeout: DEFAULT_TIMEOUT,
            cancel: None,
            tls: None,
        }
    }
}

/// A presentation context the other side accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedContext {
    pub id: u8,
    pub abstract_syntax: String,
    pub transfer_syntax: String,
}

/// The transfer syntax negotiated for a context ("" if the peer used an unknown one).
pub(crate) fn context_transfer_syntax(contexts: &[AcceptedContext], context_id: u8) -> String {
    contexts
        .iter()
        .find(|c| c.id == context_id)
        .map(|c| c.transfer_syntax.clone())
        .unwrap_or_default()
}

/// What an association proposes: contexts (abstract syntax, transfer syntaxes), and the SOP
/// classes for which we ask for the SCP role (the storage sub-operations of a C-GET).
#[derive(Default)]
pub(crate) struct Proposal {
    pub contexts: Vec<(String, Vec<String>)>,
    pub scp_roles: Vec<String>,
}

impl Proposal {
    pub fn single(abstract_syntax: &str, transfer_syntaxes: &[&str]) -> Proposal {
        Proposal {
            contexts: vec![(
                abstract_syntax.to_string(),
                transfer_syntaxes.iter().map(|t| t.to_string()).collect(),
            )],
            scp_roles: Vec::new(),
        }
    }
}

/// An open association (plain or TLS) and the contexts the peer accepted.
pub(crate) struct Opened {
    pub messenger: Messenger<ClientAssociation<TcpStream>>,
    pub accepted: Vec<AcceptedContext>,
}

impl Opened {
    /// The first accepted context for `abstract_syntax`, or why there is none.
    pub fn context_for(
        &self,
        abstract_syntax: &str,
        what: &str,
    ) -> Result<AcceptedContext, DimseError> {
        self.accepted
            .iter()
            .find(|c| c.abstract_syntax == abstract_syntax)
            .cloned()
            .ok_or_else(|| DimseError::NoPresentationContext(what.into()))
    }
}

/// Opens an association with `peer`. Every verb goes through here, so that the same failure
/// (refused, rejected, timed out) is the same error whatever the service.
pub(crate) fn associate(
    peer: &AeAddress,
    options: &ScuOptions,
    proposal: &Proposal,
) -> Result<Opened, DimseError> {
    let mut builder = ClientAssociationOptions::new()
        .calling_ae_title(options.calling_ae_title.clone())
        .called_ae_title(peer.ae_title.clone())
        .max_pdu_length(MAX_PDU)
        .connection_timeout(options.timeout)
        .read_timeout(options.timeout)
        .write_timeout(options.timeout);
    for (abstract_syntax, transfer_syntaxes) in &proposal.contexts {
        builder =
            builder.with_presentation_context(abstract_syntax.clone(), transfer_syntaxes.clone());
    }
    for class in &proposal.scp_roles {
        builder = builder.with_role_selection(class.clone(), false, true);
    }
    let address = format!("{}:{}", peer.host, peer.port);
    // Over TLS, the association runs on a loopback connection whose other end is encrypted
    // to the peer (see `tls::bridge`).
    let (target, tls_failure) = match &options.tls {
        None => (address, None),
        Some(tls) => {
            let (local, failure) =
                crate::tls::bridge::connect(&address, &peer.host, tls.clone(), options.timeout)
                    .map_err(|e| DimseError::from_tls(e, peer))?;
            (local.to_string(), Some(failure))
        }
    };
    let mut association = builder.establish(target.as_str()).map_err(|e| {
        match tls_failure.as_ref().and_then(|failure| failure.take()) {
            Some(tls) => DimseError::from_tls(tls, peer),
            None => DimseError::from_establish(e, peer),
        }
    })?;
    // Without TCP_NODELAY every request/response exchange can stall ~40 ms in Nagle's algorithm.
    association
        .inner_stream()
        .set_nodelay(true)
        .map_err(DimseError::from_socket)?;
    let accepted = association
        .presentation_contexts()
        .iter()
        .filter(|pc| pc.reason == PresentationContextResultReason::Acceptance)
        .map(|pc| AcceptedContext {
            id: pc.id,
            abstract_syntax: pc.abstract_syntax.clone(),
            transfer_syntax: pc.transfer_syntax.clone(),
        })
        .collect();
    tracing::debug!(peer = %peer, "association established");
    Ok(Opened {
        messenger: Messenger::watched(association, options.timeout, options.cancel.clone())?,
        accepted,
    })
}

/// Waits for the response `expected` to our request.
pub(crate) fn expect_response<L: Link>(
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

/// A final response with a failure status, as an error naming the operation.
pub(crate) fn refused(operation: &'static str, response: &Command, status: u16) -> DimseError {
    DimseError::Refused {
        operation,
        status,
        comment: response.str(element::ERROR_COMMENT),
    }
}

/// How long a peer gets to confirm a C-CANCEL before the association is aborted: short enough
/// that a cancel takes effect within a second even when the peer ignores it.
const CANCEL_GRACE: Duration = Duration::from_millis(500);

/// Sends one C-CANCEL-RQ once the caller's flag is set; from then on the peer has
/// [`CANCEL_GRACE`] to send its final response.
pub(crate) struct Canceller {
    flag: Option<Arc<AtomicBool>>,
    context_id: u8,
    sent: bool,
}

impl Canceller {
    pub fn new(options: &ScuOptions, context_id: u8) -> Canceller {
        Canceller {
            flag: options.cancel.clone(),
            context_id,
            sent: false,
        }
    }

    pub fn check<L: Link>(&mut self, messenger: &mut Messenger<L>) -> Result<(), DimseError> {
        let requested = self.flag.as_ref().is_some_and(|f| f.load(Ordering::SeqCst));
        if requested && !self.sent {
            let mut cancel = Command::new(field::C_CANCEL_RQ, false);
            cancel.set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, 1);
            messenger.send(self.context_id, &cancel, None)?;
            messenger
                .link
                .socket()
                .set_read_timeout(Some(CANCEL_GRACE))
                .map_err(DimseError::from_socket)?;
            self.sent = true;
        }
        Ok(())
    }

    /// After a cancel, a peer that does not confirm in time is cut off (by the read timeout
    /// set when the C-CANCEL went, or by the watchdog when the peer said nothing at all): the
    /// operation ends canceled rather than failed.
    pub fn unconfirmed(&self, error: &DimseError) -> bool {
        matches!(error, DimseError::Canceled) || self.sent && matches!(error, DimseError::Timeout)
    }
}
