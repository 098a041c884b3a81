//! The SCP side: a listener accepting many associations at once, answering C-ECHO and storing
//! every C-STORE through the same ingest path as an import.

use super::command::{element, field, Command};
use super::message::{Incoming, Messenger};
use super::qr;
use super::{status, DimseError, DEFAULT_TIMEOUT, MAX_PDU, VERIFICATION};
use crate::dicom::meta::part10_header;
use crate::dicom::parse::read_dataset;
use crate::dicom::transfer_syntax::Encoding;
use crate::import::{self, BackgroundIndexer, Ingested, Placed};
use crate::store::Store;
use dicom_ul::association::server::AccessControl;
use dicom_ul::association::Association;
use dicom_ul::pdu::{AssociationRJServiceUserReason, UserIdentity};
use dicom_ul::{ServerAssociation, ServerAssociationOptions};
use std::io::{BufWriter, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Every transfer syntax the store keeps as received (it never transcodes on the way in).
pub const STORABLE_TRANSFER_SYNTAXES: &[&str] = &[
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.101",
    "1.2.840.10008.1.2.4.102",
    "1.2.840.10008.1.2.4.103",
    "1.2.840.10008.1.2.4.104",
    "1.2.840.10008.1.2.4.105",
    "1.2.840.10008.1.2.4.106",
    "1.2.840.10008.1.2.4.107",
    "1.2.840.10008.1.2.4.108",
];

#[derive(Clone, Debug)]
pub struct ScpConfig {
    pub ae_title: String,
    /// Refuse associations whose called AE title is not ours.
    pub require_called_ae_title: bool,
    /// When set, only these calling AE titles may associate.
    pub allowed_calling_ae_titles: Option<Vec<String>>,
    /// Only the AE titles of known nodes (and the list above) may associate.
    pub known_nodes_only: bool,
    pub timeout: Duration,
}

impl Default for ScpConfig {
    fn default() -> ScpConfig {
        ScpConfig {
            ae_title: super::DEFAULT_AE_TITLE.into(),
            require_called_ae_title: true,
            allowed_calling_ae_titles: None,
            known_nodes_only: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }
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
pub struct ScpStats {
    pub associations: AtomicU64,
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
    pub failed: AtomicU64,
}

/// Called with the Series Instance UID of each newly stored instance, after its response (so it
/// must be quick: the job engine's thumbnail follow-ups hang off it).
pub type OnStored = Arc<dyn Fn(&str) + Send + Sync>;

pub struct StorageScp {
    listener: TcpListener,
    store: Arc<Store>,
    config: ScpConfig,
    pub stats: Arc<ScpStats>,
    on_stored: Option<OnStored>,
    indexer: Arc<BackgroundIndexer>,
}

impl StorageScp {
    /// Binds the listener (port 0 picks a free port: see [`local_addr`](Self::local_addr)).
    pub fn bind(
        address: &str,
        store: Arc<Store>,
        config: ScpConfig,
    ) -> std::io::Result<StorageScp> {
        let listener = TcpListener::bind(address)?;
        let indexer = Arc::new(BackgroundIndexer::start(store.clone())?);
        Ok(StorageScp {
            listener,
            indexer,
            store,
            config,
            stats: Arc::new(ScpStats::default()),
            on_stored: None,
        })
    }

    /// Tells `hook` about every instance stored from now on.
    pub fn on_stored(mut self, hook: OnStored) -> StorageScp {
        self.on_stored = Some(hook);
        self
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
        let this = Arc::new(self);
        let mut workers = Vec::new();
        loop {
            let accepted = this.listener.accept();
            if shutdown.load(Ordering::SeqCst) {
                break;
            }
            match accepted {
                Ok((socket, peer)) => {
                    let scp = this.clone();
                    workers.push(std::thread::spawn(move || scp.handle(socket, peer)));
                    workers.retain(|w| !w.is_finished());
                }
                // A connection that failed before we took it (reset by the peer): keep serving.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    shutdown.store(true, Ordering::SeqCst);
                    let _ = watcher.join();
                    return Err(e);
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
            let known = crate::nodes::Nodes::new(self.store.root())
                .list()
                .unwrap_or_default();
            allowed_calling
                .get_or_insert_with(Vec::new)
                .extend(known.into_iter().map(|n| n.ae_title));
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
        for ts in STORABLE_TRANSFER_SYNTAXES {
            options = options.with_transfer_syntax(*ts);
        }
        options
    }

    fn handle(&self, socket: TcpStream, peer: SocketAddr) {
        let _ = socket.set_nodelay(true);
        let association = match self.options().establish(socket) {
            Ok(a) => a,
            Err(_) => return, // rejected or broken during negotiation: nothing was received
        };
        self.stats.associations.fetch_add(1, Ordering::Relaxed);
        let calling = Association::peer_ae_title(&association).trim().to_string();
        let contexts: Vec<(u8, String, String)> = association
            .presentation_contexts()
            .iter()
            .map(|pc| {
                (
                    pc.id,
                    pc.abstract_syntax.clone(),
                    pc.transfer_syntax.clone(),
                )
            })
            .collect();
        let mut messenger = Messenger::new(association);
        let indexer = self.indexer.clone();
        messenger.before_release(Box::new(move || indexer.flush()));
        let source = format!("{calling}@{}", peer.ip());
        loop {
            let (context_id, command) = match messenger.receive_command() {
                Ok(Incoming::Command {
                    context_id,
                    command,
                }) => (context_id, command),
                Ok(Incoming::Released) => return,
                // What this association stored becomes searchable before the thread ends.
                Ok(Incoming::Aborted) | Err(_) => return self.indexer.flush(),
            };
            let result = match command.field() {
                field::C_ECHO_RQ => respond(
                    &mut messenger,
                    context_id,
                    &command,
                    field::C_ECHO_RSP,
                    status::SUCCESS,
                    None,
                ),
                field::C_FIND_RQ => {
                    let transfer_syntax = context_transfer_syntax(&contexts, context_id);
                    self.find(&mut messenger, context_id, &command, &transfer_syntax)
                }
                field::C_GET_RQ => self.get(&mut messenger, context_id, &command, &contexts),
                field::C_MOVE_RQ => self.move_to(&mut messenger, context_id, &command, &contexts),
                field::C_STORE_RQ => {
                    let transfer_syntax = context_transfer_syntax(&contexts, context_id);
                    self.store(
                        &mut messenger,
                        context_id,
                        &command,
                        &transfer_syntax,
                        &calling,
                        &source,
                    )
                }
                other => {
                    // Not a service this listener offers: refuse the message, keep the association.
                    if command.has_data_set() {
                        let _ = messenger.receive_data(&mut std::io::sink());
                    }
                    respond(
                        &mut messenger,
                        context_id,
                        &command,
                        other | 0x8000,
                        0x0211,
                        Some("unrecognized operation"),
                    )
                }
            };
            if result.is_err() {
                let _ = messenger.link.abort();
                return;
            }
        }
    }

    /// Receives and stores one C-STORE, then answers: success means the instance is stored.
    fn store(
        &self,
        messenger: &mut Messenger<ServerAssociation<TcpStream>>,
        context_id: u8,
        command: &Command,
        transfer_syntax: &str,
        calling: &str,
        source: &str,
    ) -> Result<(), DimseError> {
        let Received {
            status,
            comment,
            placed,
            ..
        } = receive_instance(
            &self.store,
            IngestVia::Background(&self.indexer),
            messenger,
            command,
            transfer_syntax,
            calling,
            source,
        )?;
        let counter = match placed.as_ref().map(|p| p.outcome) {
            Some(Ingested::Stored) => &self.stats.stored,
            Some(Ingested::Duplicate) => &self.stats.duplicates,
            None => &self.stats.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        respond(
            messenger,
            context_id,
            command,
            field::C_STORE_RSP,
            status,
            comment.as_deref(),
        )?;
        if let (Some(series_uid), Some(hook)) = (placed.and_then(|p| p.series_uid), &self.on_stored)
        {
            hook(&series_uid);
        }
        Ok(())
    }
}

/// The transfer syntax negotiated for a presentation context ("" if the peer used an unknown one).
fn context_transfer_syntax(contexts: &[(u8, String, String)], context_id: u8) -> String {
    contexts
        .iter()
        .find(|c| c.0 == context_id)
        .map(|c| c.2.clone())
        .unwrap_or_default()
}

/// A sink that refuses to grow beyond a limit (identifiers are small; a huge one is hostile).
pub(crate) struct Bounded<'a> {
    pub buf: &'a mut Vec<u8>,
    pub limit: usize,
}

impl Write for Bounded<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            return Err(std::io::Error::other(format!(
                "data set larger than {} bytes",
                self.limit
            )));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const MAX_IDENTIFIER: usize = 1 << 20;

/// The identifier data set of a C-FIND, C-GET or C-MOVE request, bounded in size.
fn receive_identifier(
    messenger: &mut Messenger<ServerAssociation<TcpStream>>,
) -> Result<Vec<u8>, DimseError> {
    let mut identifier = Vec::new();
    messenger.receive_data(&mut Bounded {
        buf: &mut identifier,
        limit: MAX_IDENTIFIER,
    })?;
    Ok(identifier)
}

impl StorageScp {
    /// C-FIND over the local index: one pending response per match, then success.
    fn find(
        &self,
        messenger: &mut Messenger<ServerAssociation<TcpStream>>,
        context_id: u8,
        command: &Command,
        transfer_syntax: &str,
    ) -> Result<(), DimseError> {
        let identifier = receive_identifier(messenger)?;
        let sop_class = command
            .str(element::AFFECTED_SOP_CLASS_UID)
            .unwrap_or_default();
        if sop_class != qr::STUDY_ROOT_FIND && sop_class != qr::PATIENT_ROOT_FIND {
            return respond(
                messenger,
                context_id,
                command,
                field::C_FIND_RSP,
                status::SOP_CLASS_NOT_SUPPORTED,
                None,
            );
        }
        let encoding = Encoding::of(transfer_syntax);
        if encoding.big_endian || encoding.deflated {
            return respond(
                messenger,
                context_id,
                command,
                field::C_FIND_RSP,
                status::CANNOT_UNDERSTAND,
                Some("queries in little endian only"),
            );
        }
        let results = read_dataset(&identifier, encoding)
            .map_err(|e| e.to_string())
            .and_then(|ds| qr::find(self.store.index().as_ref(), &ds).map_err(|e| e.to_string()));
        let results = match results {
            Ok(r) => r,
            Err(reason) => {
                return respond(
                    messenger,
                    context_id,
                    command,
                    field::C_FIND_RSP,
                    status::CANNOT_UNDERSTAND,
                    Some(&reason),
                )
            }
        };
        for (i, result) in results.into_iter().enumerate() {
            // Looking for a C-CANCEL costs syscalls: every few matches is soon enough.
            if i % 32 == 0 && messenger.cancel_requested()? {
                return respond(
                    messenger,
                    context_id,
                    command,
                    field::C_FIND_RSP,
                    status::CANCEL,
                    None,
                );
            }
            let mut pending = Command::new(field::C_FIND_RSP, true);
            pending
                .set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, command.message_id())
                .set_str(element::AFFECTED_SOP_CLASS_UID, &sop_class)
                .set_u16(element::STATUS, status::PENDING);
            messenger.send_batched(context_id, &pending, result.encode(encoding))?;
        }
        respond(
            messenger,
            context_id,
            command,
            field::C_FIND_RSP,
            status::SUCCESS,
            None,
        )
    }
}

/// Sub-operation counters of a C-GET or C-MOVE.
#[derive(Clone, Copy, Debug, Default)]
struct SubOperations {
    remaining: u16,
    completed: u16,
    failed: u16,
    warning: u16,
}

impl SubOperations {
    fn set_on(&self, command: &mut Command) {
        command
            .set_u16(element::REMAINING_SUBOPERATIONS, self.remaining)
            .set_u16(element::COMPLETED_SUBOPERATIONS, self.completed)
            .set_u16(element::FAILED_SUBOPERATIONS, self.failed)
            .set_u16(element::WARNING_SUBOPERATIONS, self.warning);
    }
}

impl StorageScp {
    /// The stored files an identifier designates (C-GET and C-MOVE), via an IMAGE-level match.
    fn designated_files(
        &self,
        identifier: &[u8],
        transfer_syntax: &str,
    ) -> Result<Vec<crate::model::InstanceSummary>, String> {
        let encoding = Encoding::of(transfer_syntax);
        let ds = read_dataset(identifier, encoding).map_err(|e| e.to_string())?;
        let mut image_level = crate::dicom::write::DataSetBuilder::default();
        image_level.text(qr::QUERY_RETRIEVE_LEVEL, "IMAGE");
        for element in &ds.elements {
            if element.tag != qr::QUERY_RETRIEVE_LEVEL
                && element.tag != crate::dicom::tag::SPECIFIC_CHARACTER_SET
            {
                image_level.text(element.tag, &ds.element_text(element).unwrap_or_default());
            }
        }
        image_level.text(
            crate::dicom::tag::SOP_INSTANCE_UID,
            &ds.text(crate::dicom::tag::SOP_INSTANCE_UID)
                .unwrap_or_default(),
        );
        let query = read_dataset(
            &image_level.encode(Encoding::EXPLICIT_LE),
            Encoding::EXPLICIT_LE,
        )
        .map_err(|e| e.to_string())?;
        if ds
            .first_text(qr::QUERY_RETRIEVE_LEVEL)
            .and_then(|l| qr::Level::parse(&l))
            .is_none()
        {
            return Err("missing or invalid Query/Retrieve Level".into());
        }
        let matches = qr::find(self.store.index().as_ref(), &query).map_err(|e| e.to_string())?;
        let mut files = Vec::new();
        for m in matches {
            let ds = read_dataset(&m.encode(Encoding::EXPLICIT_LE), Encoding::EXPLICIT_LE)
                .map_err(|e| e.to_string())?;
            if let Some(uid) = ds.text(crate::dicom::tag::SOP_INSTANCE_UID) {
                if let Some(instance) = self
                    .store
                    .index()
                    .instance(&uid)
                    .map_err(|e| e.to_string())?
                {
                    files.push(instance);
                }
            }
        }
        Ok(files)
    }

    /// C-GET: each designated instance goes back on this association as a C-STORE sub-operation,
    /// with a pending response after each.
    fn get(
        &self,
        messenger: &mut Messenger<ServerAssociation<TcpStream>>,
        context_id: u8,
        command: &Command,
        contexts: &[(u8, String, String)],
    ) -> Result<(), DimseError> {
        let identifier = receive_identifier(messenger)?;
        let transfer_syntax = context_transfer_syntax(contexts, context_id);
        let files = match self.designated_files(&identifier, &transfer_syntax) {
            Ok(files) => files,
            Err(reason) => {
                return respond(
                    messenger,
                    context_id,
                    command,
                    field::C_GET_RSP,
                    status::CANNOT_UNDERSTAND,
                    Some(&reason),
                )
            }
        };
        let mut counts = SubOperations {
            remaining: files.len().min(u16::MAX as usize) as u16,
            ..SubOperations::default()
        };
        let mut canceled = false;
        for (i, instance) in files.iter().enumerate() {
            if messenger.cancel_requested()? {
                canceled = true;
                break;
            }
            let context = contexts.iter().find(|(_, abstract_syntax, ts)| {
                Some(abstract_syntax) == instance.sop_class_uid.as_ref()
                    && *ts == instance.transfer_syntax
            });
            let outcome = match context {
                Some((sub_context, ..)) => super::scu::store_sub_operation(
                    messenger,
                    *sub_context,
                    &self.store.resolve(&instance.file_path),
                    (i + 2) as u16,
                ),
                None => Err(DimseError::NoPresentationContext(format!(
                    "{} in {}",
                    instance.sop_class_uid.clone().unwrap_or_default(),
                    instance.transfer_syntax
                ))),
            };
            counts.remaining = counts.remaining.saturating_sub(1);
            let outcome = outcome.map(|(code, cancel)| {
                canceled |= cancel;
                code
            });
            match outcome.map(status::category) {
                Ok(status::Category::Success) => counts.completed += 1,
                Ok(status::Category::Warning) => counts.warning += 1,
                Ok(_) | Err(DimseError::NoPresentationContext(_)) | Err(DimseError::Io(_)) => {
                    counts.failed += 1
                }
                Err(e) => return Err(e),
            }
            if canceled {
                break;
            }
            if counts.remaining > 0 {
                let mut pending = Command::new(field::C_GET_RSP, false);
                pending
                    .set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, command.message_id())
                    .set_u16(element::STATUS, status::PENDING);
                if let Some(class) = command.str(element::AFFECTED_SOP_CLASS_UID) {
                    pending.set_str(element::AFFECTED_SOP_CLASS_UID, &class);
                }
                counts.set_on(&mut pending);
                messenger.send(context_id, &pending, None)?;
            }
        }
        let final_status = if canceled {
            status::CANCEL
        } else if counts.failed + counts.warning > 0 {
            status::SUBOPERATIONS_WARNING
        } else {
            status::SUCCESS
        };
        let mut last = Command::new(field::C_GET_RSP, false);
        last.set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, command.message_id())
            .set_u16(element::STATUS, final_status);
        if let Some(class) = command.str(element::AFFECTED_SOP_CLASS_UID) {
            last.set_str(element::AFFECTED_SOP_CLASS_UID, &class);
        }
        counts.set_on(&mut last);
        messenger.send(context_id, &last, None)
    }
}

impl StorageScp {
    /// C-MOVE: the designated instances go to a known node on a new association; the requestor
    /// gets a pending response with the counts after each, then the final status.
    fn move_to(
        &self,
        messenger: &mut Messenger<ServerAssociation<TcpStream>>,
        context_id: u8,
        command: &Command,
        contexts: &[(u8, String, String)],
    ) -> Result<(), DimseError> {
        let identifier = receive_identifier(messenger)?;
        let destination_ae = command.str(element::MOVE_DESTINATION).unwrap_or_default();
        let nodes = crate::nodes::Nodes::new(self.store.root())
            .list()
            .unwrap_or_default();
        let Some(destination) = nodes
            .into_iter()
            .find(|n| n.ae_title.trim() == destination_ae.trim())
        else {
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
        let files = match self.designated_files(&identifier, &transfer_syntax) {
            Ok(files) => files,
            Err(reason) => {
                return respond(
                    messenger,
                    context_id,
                    command,
                    field::C_MOVE_RSP,
                    status::CANNOT_UNDERSTAND,
                    Some(&reason),
                )
            }
        };
        let paths: Vec<std::path::PathBuf> = files
            .iter()
            .map(|f| self.store.resolve(&f.file_path))
            .collect();
        let mut counts = SubOperations {
            remaining: paths.len().min(u16::MAX as usize) as u16,
            ..SubOperations::default()
        };
        let options = super::scu::ScuOptions {
            calling_ae_title: self.config.ae_title.clone(),
            timeout: destination.timeout(),
            cancel: None,
        };
        let sop_class = command
            .str(element::AFFECTED_SOP_CLASS_UID)
            .unwrap_or_default();
        let mut pending_error = None;
        let mut canceled = false;
        let sent = if paths.is_empty() {
            Ok(super::scu::SendReport::default())
        } else {
            super::scu::send_files_until(
                &destination.address(),
                &options,
                &paths,
                &mut |instance| {
                    counts.remaining = counts.remaining.saturating_sub(1);
                    match (&instance.error, instance.status.map(status::category)) {
                        (None, Some(status::Category::Success)) => counts.completed += 1,
                        (None, Some(status::Category::Warning)) => counts.warning += 1,
                        _ => counts.failed += 1,
                    }
                    if counts.remaining > 0 && pending_error.is_none() {
                        let mut pending = Command::new(field::C_MOVE_RSP, false);
                        pending
                            .set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, command.message_id())
                            .set_u16(element::STATUS, status::PENDING)
                            .set_str(element::AFFECTED_SOP_CLASS_UID, &sop_class);
                        counts.set_on(&mut pending);
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
                },
            )
        };
        if let Some(e) = pending_error {
            return Err(e);
        }
        let final_status = match sent {
            // The destination could not be reached: every sub-operation failed.
            Err(_) => {
                counts.failed += counts.remaining;
                counts.remaining = 0;
                status::SUBOPERATIONS_IMPOSSIBLE
            }
            Ok(_) if canceled => status::CANCEL,
            Ok(_) if counts.failed + counts.warning > 0 => status::SUBOPERATIONS_WARNING,
            Ok(_) => status::SUCCESS,
        };
        let mut last = Command::new(field::C_MOVE_RSP, false);
        last.set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, command.message_id())
            .set_u16(element::STATUS, final_status)
            .set_str(element::AFFECTED_SOP_CLASS_UID, &sop_class);
        if let Err(e) = &sent {
            last.set_str(
                element::ERROR_COMMENT,
                &format!("destination: {e}")
                    .chars()
                    .take(64)
                    .collect::<String>(),
            );
        }
        counts.set_on(&mut last);
        messenger.send(context_id, &last, None)
    }
}

/// Receives the data set of a C-STORE into a temporary file in the store (streamed, never whole
/// in memory) and ingests it. Returns the status to answer with, an error comment, and what
/// became of the instance. Used by the storage SCP and by C-GET/C-MOVE retrieval alike.
/// What became of a received instance: the status to answer with, an error comment, the
/// instance (when stored or a duplicate), and the data set bytes received.
pub(crate) struct Received {
    pub status: u16,
    pub comment: Option<String>,
    pub placed: Option<Placed>,
    pub bytes: u64,
}

/// How a received instance enters the store.
pub(crate) enum IngestVia<'a> {
    /// Stored and indexed before answering (a retrieval: when it ends, all is searchable).
    Now,
    /// Answered once stored; indexed in the background (the storage listener).
    Background(&'a BackgroundIndexer),
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn receive_instance<L: super::message::Link>(
    store: &Store,
    via: IngestVia,
    messenger: &mut Messenger<L>,
    command: &Command,
    transfer_syntax: &str,
    calling: &str,
    source: &str,
) -> Result<Received, DimseError> {
    let sop_class = command
        .str(element::AFFECTED_SOP_CLASS_UID)
        .unwrap_or_default();
    let sop_instance = command
        .str(element::AFFECTED_SOP_INSTANCE_UID)
        .unwrap_or_default();
    let mut tmp = match tempfile::NamedTempFile::new_in(store.tmp_dir()) {
        Ok(t) => t,
        Err(e) => {
            messenger.receive_data(&mut std::io::sink())?;
            return Ok(Received {
                status: status::OUT_OF_RESOURCES,
                comment: Some(format!("cannot write: {e}")),
                placed: None,
                bytes: 0,
            });
        }
    };
    let written = {
        let mut writer = BufWriter::with_capacity(256 << 10, tmp.as_file_mut());
        let header = part10_header(&sop_class, &sop_instance, transfer_syntax, Some(calling));
        writer.write_all(&header).map_err(DimseError::Io)?;
        let received = messenger.receive_data(&mut writer)?;
        writer.flush().map_err(DimseError::Io)?;
        received
    };
    let ingested = match via {
        IngestVia::Now => import::ingest(store, tmp, source).map(|outcome| Placed {
            outcome,
            series_uid: None,
        }),
        IngestVia::Background(indexer) => indexer.ingest(tmp, source),
    };
    let (status, comment, placed) = match ingested {
        // Duplicate policy: the first copy is kept and a repeat is acknowledged as a success.
        Ok(placed) => (status::SUCCESS, None, Some(placed)),
        Err(skipped) => {
            let status = if written == 0 {
                status::DATA_SET_DOES_NOT_MATCH_SOP_CLASS
            } else {
                status::CANNOT_UNDERSTAND
            };
            (status, Some(skipped.reason), None)
        }
    };
    Ok(Received {
        status,
        comment,
        placed,
        bytes: written,
    })
}

pub(crate) fn respond<L: super::message::Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    request: &Command,
    response_field: u16,
    status: u16,
    comment: Option<&str>,
) -> Result<(), DimseError> {
    let mut response = Command::new(response_field, false);
    response
        .set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, request.message_id())
        .set_u16(element::STATUS, status);
    if let Some(class) = request.str(element::AFFECTED_SOP_CLASS_UID) {
        response.set_str(element::AFFECTED_SOP_CLASS_UID, &class);
    }
    if let Some(instance) = request.str(element::AFFECTED_SOP_INSTANCE_UID) {
        response.set_str(element::AFFECTED_SOP_INSTANCE_UID, &instance);
    }
    if let Some(comment) = comment {
        // Error Comment is LO: at most 64 characters.
        response.set_str(
            element::ERROR_COMMENT,
            &comment.chars().take(64).collect::<String>(),
        );
    }
    messenger.send(context_id, &response, None)
}
