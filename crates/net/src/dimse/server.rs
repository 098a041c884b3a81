//! The DIMSE server: a listener accepting many associations at once, each on its own thread,
//! handing every request to the service handlers it was given ([`Services`]), the way DCMTK and
//! Orthanc separate the network from what answers it.

use super::association::AcceptedContext;
use super::c_find::FindHandler;
use super::c_get::RetrieveHandler;
use super::c_move::NodeDirectory;
use super::command::field;
use super::instance::respond;
use super::message::{Incoming, Messenger};
use super::observer::{
    AssociationEnd, AssociationObserver, AssociationWatch, InstanceOutcome, Peer,
};
use super::watchdog::Watch;
use super::{
    c_echo, c_find, c_get, c_move, c_store, DimseError, DEFAULT_AE_TITLE, DEFAULT_TIMEOUT, MAX_PDU,
    VERIFICATION,
};
use crate::sink::{InstanceSink, Origin};
use crate::tls;
use dicom_ul::association::server::AccessControl;
use dicom_ul::association::Association;
use dicom_ul::pdu::{AssociationRJServiceUserReason, UserIdentity};
use dicom_ul::{ServerAssociation, ServerAssociationOptions};
use lightbox_dicom::transfer_syntax;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Associations served at once unless configured otherwise.
pub const DEFAULT_MAX_ASSOCIATIONS: usize = 64;
/// Requests rejected at once beyond the limit: a flood beyond this is simply closed.
const MAX_REJECTING: usize = 16;
/// How long an accept error makes the listener wait before it tries again, at most.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub ae_title: String,
    /// Refuse associations whose called AE title is not ours.
    pub require_called_ae_title: bool,
    /// When set, only these calling AE titles may associate.
    pub allowed_calling_ae_titles: Option<Vec<String>>,
    /// Only the AE titles of known nodes (and the list above) may associate.
    pub known_nodes_only: bool,
    /// How long the negotiation, and then each PDU, may take; an association with nothing to
    /// say for this long is released.
    pub timeout: Duration,
    /// Associations at once; beyond this, a request is rejected ("local limit exceeded").
    pub max_associations: usize,
    /// Accept associations over TLS only, with this configuration (PS3.15 B.1: the port of a
    /// listener with TLS is not that of the plain one).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            ae_title: DEFAULT_AE_TITLE.into(),
            require_called_ae_title: true,
            allowed_calling_ae_titles: None,
            known_nodes_only: false,
            timeout: DEFAULT_TIMEOUT,
            max_associations: DEFAULT_MAX_ASSOCIATIONS,
            tls: None,
        }
    }
}

/// What answers each service. C-ECHO is always answered; a service without a handler is
/// refused with "SOP class not supported".
#[derive(Clone)]
pub struct Services {
    /// C-STORE: where received instances go.
    pub storage: Arc<dyn InstanceSink>,
    /// C-FIND.
    pub find: Option<Arc<dyn FindHandler>>,
    /// C-GET and C-MOVE.
    pub retrieve: Option<Arc<dyn RetrieveHandler>>,
    /// C-MOVE destinations, and the callers `known_nodes_only` admits.
    pub nodes: Option<Arc<dyn NodeDirectory>>,
    /// Hears what each association does.
    pub observer: Option<Arc<dyn AssociationObserver>>,
}

/// The AE title policy, checked while the association is negotiated.
#[derive(Clone, Debug)]
struct Policy {
    require_called: bool,
    allowed_calling: Option<Vec<String>>,
}

impl AccessControl for Policy {
    fn check_access(
        &self,
        this: &str,
        calling: &str,
        called: &str,
        _user: Option<&UserIdentity>,
    ) -> Result<(), AssociationRJServiceUserReason> {
        if self.require_called && this.trim() != called.trim() {
            return Err(AssociationRJServiceUserReason::CalledAETitleNotRecognized);
        }
        if let Some(allowed) = &self.allowed_calling {
            if !allowed.iter().any(|a| a.trim() == calling.trim()) {
                return Err(AssociationRJServiceUserReason::CallingAETitleNotRecognized);
            }
        }
        Ok(())
    }
}

/// Grants the roles a requestor asks for: a C-GET requestor needs the SCP role for the storage
/// SOP classes it wants to receive (dicom-ul's default would silently deny it).
#[derive(Clone, Copy, Debug)]
pub struct AcceptRoles;

impl dicom_ul::association::server::Negotiation for AcceptRoles {
    fn negotiate_roles(
        &self,
        _sop_class: &str,
        scu: bool,
        scp: bool,
    ) -> Option<dicom_ul::pdu::RequestorRoles> {
        Some(dicom_ul::pdu::RequestorRoles { scu, scp })
    }
}

/// Counters for status displays and tests.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub associations: AtomicU64,
    /// Requests rejected because the limit of associations at once was reached.
    pub rejected_busy: AtomicU64,
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
    pub failed: AtomicU64,
}

pub struct DimseServer {
    listener: TcpListener,
    config: ServerConfig,
    services: Services,
    pub stats: Arc<ServerStats>,
}

impl DimseServer {
    /// Binds the listener (port 0 picks a free port: see [`local_addr`](Self::local_addr)).
    pub fn bind(
        address: &str,
        config: ServerConfig,
        services: Services,
    ) -> std::io::Result<DimseServer> {
        Ok(DimseServer {
            listener: TcpListener::bind(address)?,
            config,
            services,
            stats: Arc::new(ServerStats::default()),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts associations until `shutdown` is set, each on its own thread; returns once the
    /// associations in progress have ended.
    pub fn serve(self, shutdown: Arc<AtomicBool>) -> std::io::Result<()> {
        // A blocking accept answers a new association at once (polling would add its period to
        // every association); a watcher wakes it with a connection of its own to shut down.
        let local = self.listener.local_addr()?;
        let watcher_flag = shutdown.clone();
        let watcher = std::thread::spawn(move || {
            while !watcher_flag.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let wake = if local.ip().is_unspecified() {
                SocketAddr::from(([127, 0, 0, 1], local.port()))
            } else {
                local
            };
            let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        });
        tracing::info!(address = %local, ae_title = %self.config.ae_title, "DIMSE listener ready");
        let this = Arc::new(self);
        let active = Arc::new(AtomicU64::new(0));
        let rejecting = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        let mut backoff = Duration::from_millis(10);
        loop {
            let accepted = this.listener.accept();
            if shutdown.load(Ordering::SeqCst) {
                break;
            }
            let (socket, peer) = match accepted {
                Ok(accepted) => {
                    backoff = Duration::from_millis(10);
                    accepted
                }
                // Out of descriptors, a connection reset before we took it, anything: the
                // listener goes on (after a pause when the error may last).
                Err(e) => {
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::Interrupted
                    ) {
                        tracing::warn!(error = %e, pause = ?backoff, "DIMSE listener: accept failed");
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                    }
                    continue;
                }
            };
            workers.retain(|w: &std::thread::JoinHandle<()>| !w.is_finished());
            if active.load(Ordering::SeqCst) as usize >= this.config.max_associations {
                this.stats.rejected_busy.fetch_add(1, Ordering::Relaxed);
                if (rejecting.load(Ordering::SeqCst) as usize) < MAX_REJECTING {
                    rejecting.fetch_add(1, Ordering::SeqCst);
                    let count = rejecting.clone();
                    let spawned =
                        std::thread::Builder::new()
                            .name("dimse-busy".into())
                            .spawn(move || {
                                reject_busy(socket, peer);
                                count.fetch_sub(1, Ordering::SeqCst);
                            });
                    if spawned.is_err() {
                        rejecting.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                continue;
            }
            active.fetch_add(1, Ordering::SeqCst);
            let server = this.clone();
            let counter = active.clone();
            let spawned = std::thread::Builder::new()
                .name("dimse-association".into())
                .spawn(move || {
                    server.handle(socket, peer);
                    counter.fetch_sub(1, Ordering::SeqCst);
                });
            match spawned {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    active.fetch_sub(1, Ordering::SeqCst);
                    tracing::warn!(error = %e, "DIMSE listener: no thread for an association");
                }
            }
        }
        let _ = watcher.join();
        for worker in workers {
            let _ = worker.join();
        }
        Ok(())
    }

    fn options(&self) -> ServerAssociationOptions<'static, Policy, AcceptRoles> {
        // The allow-list is read per association, so nodes added while serving take effect.
        let mut allowed_calling = self.config.allowed_calling_ae_titles.clone();
        if self.config.known_nodes_only {
            let known = self
                .services
                .nodes
                .as_ref()
                .map(|n| n.known_ae_titles())
                .unwrap_or_default();
            allowed_calling.get_or_insert_with(Vec::new).extend(known);
        }
        let policy = Policy {
            require_called: self.config.require_called_ae_title,
            allowed_calling,
        };
        let mut options = ServerAssociationOptions::new()
            .ae_access_control(policy)
            .ae_title(self.config.ae_title.clone())
            .with_abstract_syntax(VERIFICATION)
            // Any storage SOP class, including private and future ones: the store keeps bytes.
            .promiscuous(true)
            .with_negotiation(AcceptRoles)
            .max_pdu_length(MAX_PDU)
            .read_timeout(self.config.timeout)
            .write_timeout(self.config.timeout);
        for ts in transfer_syntax::accepted() {
            options = options.with_transfer_syntax(ts);
        }
        options
    }

    fn handle(&self, socket: TcpStream, peer: SocketAddr) {
        let _ = socket.set_nodelay(true);
        // Over TLS the association runs on the plaintext end of a loopback connection; the
        // handshake has the same time limit as the negotiation that follows it.
        let socket = match &self.config.tls {
            None => socket,
            Some(tls) => match tls::bridge::accept(socket, tls.clone(), self.config.timeout) {
                Ok(plain) => plain,
                Err(e) => {
                    tracing::info!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            },
        };
        // The whole negotiation, not each read of it, has to fit in the timeout (ARTIM).
        let Ok(negotiation) = Watch::new(&socket, None) else {
            return;
        };
        negotiation.arm(self.config.timeout);
        let established = self.options().establish(socket);
        drop(negotiation);
        let association = match established {
            Ok(a) => a,
            Err(e) => {
                // Rejected or broken during negotiation: nothing was received.
                tracing::debug!(%peer, error = %e, "association not established");
                return;
            }
        };
        self.stats.associations.fetch_add(1, Ordering::Relaxed);
        let calling = Association::peer_ae_title(&association).trim().to_string();
        let contexts: Vec<AcceptedContext> = association
            .presentation_contexts()
            .iter()
            .map(|pc| AcceptedContext {
                id: pc.id,
                abstract_syntax: pc.abstract_syntax.clone(),
                transfer_syntax: pc.transfer_syntax.clone(),
            })
            .collect();
        let mut messenger = match Messenger::watched(association, self.config.timeout, None) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "association dropped");
                return;
            }
        };
        let storage = self.services.storage.clone();
        messenger.before_release(Box::new(move || storage.flush()));
        let source = format!("{calling}@{}", peer.ip());
        tracing::debug!(%peer, calling = %calling, "association accepted");
        let mut watch = self.services.observer.as_ref().map(|observer| {
            observer.established(&Peer {
                calling_ae_title: calling.clone(),
                called_ae_title: self.config.ae_title.clone(),
                address: peer,
            })
        });
        let end = loop {
            let (context_id, command) = match messenger.receive_command() {
                Ok(Incoming::Command {
                    context_id,
                    command,
                }) => (context_id, command),
                Ok(Incoming::Released) => break AssociationEnd::Released,
                // What this association stored becomes searchable before the thread ends.
                Ok(Incoming::Aborted) => {
                    self.services.storage.flush();
                    break AssociationEnd::Aborted;
                }
                Err(e) => {
                    self.services.storage.flush();
                    break AssociationEnd::Broken(e.to_string());
                }
            };
            let result = self.dispatch(
                &mut messenger,
                context_id,
                &command,
                &contexts,
                &Origin {
                    calling_ae_title: Some(&calling),
                    source: &source,
                },
                watch.as_deref_mut(),
            );
            if let Err(e) = result {
                tracing::info!(%peer, calling = %calling, error = %e, "association aborted");
                let _ = messenger.link.abort();
                self.services.storage.flush();
                break AssociationEnd::Broken(e.to_string());
            }
        };
        if let Some(watch) = watch {
            watch.ended(end);
        }
    }

    fn dispatch(
        &self,
        messenger: &mut Messenger<ServerAssociation<TcpStream>>,
        context_id: u8,
        command: &super::command::Command,
        contexts: &[AcceptedContext],
        origin: &Origin,
        watch: Option<&mut (dyn AssociationWatch + 'static)>,
    ) -> Result<(), DimseError> {
        let transfer_syntax = super::association::context_transfer_syntax(contexts, context_id);
        match command.field() {
            field::C_ECHO_RQ => c_echo::answer(messenger, context_id, command),
            field::C_STORE_RQ => {
                let served = c_store::serve(
                    messenger,
                    context_id,
                    command,
                    &transfer_syntax,
                    self.services.storage.as_ref(),
                    origin,
                )?;
                if let Some(watch) = watch {
                    let outcome = match (&served.accepted, &served.refusal) {
                        (Some(accepted), _) => InstanceOutcome::Accepted(accepted),
                        (None, refusal) => {
                            InstanceOutcome::Refused(refusal.as_deref().unwrap_or(""))
                        }
                    };
                    watch.instance(&served.sop_instance_uid, outcome, served.bytes);
                }
                let counter = match &served.accepted {
                    Some(a) if a.duplicate => &self.stats.duplicates,
                    Some(_) => &self.stats.stored,
                    None => &self.stats.failed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            field::C_FIND_RQ => c_find::serve(
                messenger,
                context_id,
                command,
                &transfer_syntax,
                self.services.find.as_deref(),
            ),
            field::C_GET_RQ => c_get::serve(
                messenger,
                context_id,
                command,
                contexts,
                self.services.retrieve.as_deref(),
            ),
            field::C_MOVE_RQ => c_move::serve(
                messenger,
                context_id,
                command,
                contexts,
                self.services.retrieve.as_deref(),
                self.services.nodes.as_deref().unwrap_or(&NoNodes),
                &self.config.ae_title,
            ),
            other => {
                // Not a service this listener offers: refuse the message, keep the association.
                if command.has_data_set() {
                    let _ = messenger.receive_data(&mut std::io::sink());
                }
                respond(
                    messenger,
                    context_id,
                    command,
                    other | 0x8000,
                    0x0211,
                    Some("unrecognized operation"),
                )
            }
        }
    }
}

/// Answers an association request beyond the limit with A-ASSOCIATE-RJ, transient, "local limit
/// exceeded" (PS3.8 9.3.4), so that the peer knows to try again later.
fn reject_busy(mut socket: TcpStream, peer: SocketAddr) {
    use dicom_ul::pdu::{
        AssociationRJ, AssociationRJResult, AssociationRJServiceProviderPresentationReason,
        AssociationRJSource, Pdu,
    };
    use std::io::Read;
    let Ok(watch) = Watch::new(&socket, None) else {
        return;
    };
    watch.arm(BUSY_REJECTION_DEADLINE);
    // Read the request first: the rejection answers it. Its header gives its length.
    let mut header = [0u8; 6];
    let request_read = socket.read_exact(&mut header).is_ok() && header[0] == 0x01 && {
        let length = u32::from_be_bytes([header[2], header[3], header[4], header[5]]) as u64;
        length <= 1 << 16
            && std::io::copy(&mut (&socket).take(length), &mut std::io::sink()).ok() == Some(length)
    };
    if request_read {
        let rejection = Pdu::AssociationRJ(AssociationRJ {
            result: AssociationRJResult::Transient,
            source: AssociationRJSource::ServiceProviderPresentation(
                AssociationRJServiceProviderPresentationReason::LocalLimitExceeded,
            ),
        });
        let mut bytes = Vec::new();
        if dicom_ul::pdu::write_pdu(&mut bytes, &rejection).is_ok() {
            let _ = std::io::Write::write_all(&mut socket, &bytes);
        }
        tracing::info!(%peer, "association rejected: local limit exceeded");
    }
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

/// How long a peer rejected for the limit may take to send its request.
const BUSY_REJECTION_DEADLINE: Duration = Duration::from_secs(2);

/// A server that knows no nodes: every C-MOVE destination is unknown.
struct NoNodes;

impl NodeDirectory for NoNodes {
    fn destination(&self, _ae_title: &str) -> Option<super::c_move::Destination> {
        None
    }
    fn known_ae_titles(&self) -> Vec<String> {
        Vec::new()
    }
}
