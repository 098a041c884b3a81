//! One interface to a remote node, whatever its protocol: echo, find, retrieve into a sink, and
//! send stored files, each with progress and cancellation through a [`Control`]. A DIMSE node
//! ([`DimseNode`]) and a DICOMweb node ([`DicomWebNode`]) implement it, so that what runs jobs
//! never asks which protocol a node speaks.

use crate::dicomweb::{DicomWebClient, DicomWebEndpoint, DicomWebError};
use crate::dimse::c_find::find as c_find;
use crate::dimse::server::{DimseServer, ServerConfig, Services};
use crate::dimse::{c_echo, c_get, c_move, c_store, AeAddress, DimseError, ScuOptions};
use crate::query::{find_identifier, match_json, Match, QuerySpec, QuerySpecError};
use crate::report::{RetrieveReport, RetrieveTarget, SendReport, SentInstance, TransferProgress};
use crate::sink::InstanceSink;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What happened so far in an operation on a remote node.
pub enum Event<'a> {
    Progress(TransferProgress),
    /// One file of a send is done (sent, or failed with a reason).
    Sent(&'a SentInstance),
}

/// Cancellation and progress of one operation: the caller sets the flag to stop it (it stops
/// within about a second, mid-transfer included), and hears [`Event`]s as it goes.
pub struct Control<'a> {
    cancel: Arc<AtomicBool>,
    on_event: Box<dyn FnMut(Event<'_>) + 'a>,
}

impl<'a> Control<'a> {
    pub fn new(cancel: Arc<AtomicBool>, on_event: impl FnMut(Event<'_>) + 'a) -> Control<'a> {
        Control {
            cancel,
            on_event: Box::new(on_event),
        }
    }

    /// A control nobody watches and nobody cancels.
    pub fn unobserved() -> Control<'static> {
        Control::new(Arc::new(AtomicBool::new(false)), |_| {})
    }

    pub fn is_canceled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Reports how far the operation has come (for implementations of [`RemoteNode`]).
    pub fn progress(&mut self, progress: TransferProgress) {
        (self.on_event)(Event::Progress(progress));
    }

    /// Reports one file of a send as done.
    pub fn sent(&mut self, instance: &SentInstance) {
        (self.on_event)(Event::Sent(instance));
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    #[error(transparent)]
    Dimse(#[from] DimseError),
    #[error(transparent)]
    DicomWeb(#[from] DicomWebError),
    #[error(transparent)]
    Query(#[from] QuerySpecError),
    /// The storage listener a C-MOVE needs could not be opened.
    #[error("listening on {address} for the C-MOVE: {source}")]
    Listener {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("canceled")]
    Canceled,
}

impl RemoteError {
    /// Worth an automatic retry: the node could not be reached, timed out, or dropped the
    /// connection — the same rule for every protocol and every operation.
    pub fn is_transient(&self) -> bool {
        match self {
            RemoteError::Dimse(e) => e.is_transient(),
            RemoteError::DicomWeb(e) => e.is_transient(),
            RemoteError::Query(_) | RemoteError::Listener { .. } | RemoteError::Canceled => false,
        }
    }

    pub fn is_canceled(&self) -> bool {
        matches!(
            self,
            RemoteError::Canceled
                | RemoteError::DicomWeb(DicomWebError::Canceled)
                | RemoteError::Dimse(DimseError::Canceled)
        )
    }

    /// The job's own input is at fault (a query the protocol cannot express).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            RemoteError::Query(_) | RemoteError::DicomWeb(DicomWebError::Unsupported(_))
        )
    }
}

/// A remote node: the operations every job that talks to one needs.
pub trait RemoteNode: Send + Sync {
    /// Where the node is (`AET@host:port`, a URL), for reports.
    fn address(&self) -> String;

    /// Whether the node answers, and its round trip.
    fn echo(&self) -> Result<Duration, RemoteError>;

    /// The matches of a query.
    fn find(&self, query: &QuerySpec, control: &mut Control) -> Result<Vec<Match>, RemoteError>;

    /// Retrieves a study, a series or instances of a series into `sink`.
    fn retrieve(
        &self,
        target: &RetrieveTarget,
        sink: &Arc<dyn InstanceSink>,
        control: &mut Control,
    ) -> Result<RetrieveReport, RemoteError>;

    /// Sends stored files; a file that cannot be read or is refused is reported, the others go
    /// on.
    fn send(&self, files: &[PathBuf], control: &mut Control) -> Result<SendReport, RemoteError>;

    /// Whether a retrieval says from its start how many instances are coming (C-GET and C-MOVE
    /// responses count the sub-operations). When it does not (WADO-RS answers one multipart
    /// part after another), a job lists the instances first so that its progress has a total.
    fn counts_ahead(&self) -> bool {
        true
    }
}

/// How a DIMSE node is retrieved from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DimseRetrieval {
    /// C-GET: the instances come back on our own association.
    Get,
    /// C-MOVE to `destination_ae` (our storage listener's AE title, as the node knows it).
    Move {
        destination_ae: String,
        listener: MoveListener,
    },
}

/// Where the instances of a C-MOVE arrive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MoveListener {
    /// A storage listener runs already (`lightbox serve`), storing into the same place.
    Running,
    /// Listen at this address for the duration of each C-MOVE (unless something listens
    /// there already).
    Temporary(String),
}

/// UIDs in one C-GET or C-MOVE request at most (list matching on the unique key).
const UIDS_PER_REQUEST: usize = 200;

pub struct DimseNode {
    pub address: AeAddress,
    pub options: ScuOptions,
    pub retrieval: DimseRetrieval,
}

impl DimseNode {
    fn options(&self, control: &Control) -> ScuOptions {
        ScuOptions {
            cancel: Some(control.cancel_flag()),
            ..self.options.clone()
        }
    }

    /// One C-GET or C-MOVE request.
    fn retrieve_once(
        &self,
        target: &RetrieveTarget,
        sink: &Arc<dyn InstanceSink>,
        options: &ScuOptions,
        on_progress: &mut dyn FnMut(&TransferProgress),
    ) -> Result<RetrieveReport, RemoteError> {
        match &self.retrieval {
            DimseRetrieval::Get => Ok(c_get::get(
                &self.address,
                options,
                target,
                sink.as_ref(),
                on_progress,
            )?),
            DimseRetrieval::Move {
                destination_ae,
                listener,
            } => {
                let temporary = match listener {
                    MoveListener::Running => None,
                    MoveListener::Temporary(address) => {
                        temporary_listener(address, destination_ae, sink)?
                    }
                };
                let report =
                    c_move::move_to(&self.address, options, target, destination_ae, on_progress);
                if let Some((shutdown, thread)) = temporary {
                    shutdown.store(true, Ordering::SeqCst);
                    let _ = thread.join();
                }
                let report = report?;
                // The last counts come with the final response, which reports no progress.
                on_progress(&TransferProgress {
                    done: report.stored + report.failed + report.warnings,
                    expected: report.expected,
                    bytes: 0,
                });
                Ok(report)
            }
        }
    }
}

type Listening = (
    Arc<AtomicBool>,
    std::thread::JoinHandle<std::io::Result<()>>,
);

/// A storage listener of our own for the duration of one C-MOVE; none when another process (a
/// running `lightbox serve`) holds the address already.
fn temporary_listener(
    address: &str,
    ae_title: &str,
    sink: &Arc<dyn InstanceSink>,
) -> Result<Option<Listening>, RemoteError> {
    let config = ServerConfig {
        ae_title: ae_title.to_string(),
        ..ServerConfig::default()
    };
    let services = Services {
        storage: sink.clone(),
        find: None,
        retrieve: None,
        nodes: None,
        observer: None,
    };
    match DimseServer::bind(address, config, services) {
        Ok(listener) => {
            let shutdown = Arc::new(AtomicBool::new(false));
            let flag = shutdown.clone();
            Ok(Some((
                shutdown,
                std::thread::spawn(move || listener.serve(flag)),
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(None),
        Err(source) => Err(RemoteError::Listener {
            address: address.to_string(),
            source,
        }),
    }
}

/// A target's requests: the target itself, or its instances a few hundred at a time.
fn requests(target: &RetrieveTarget, per_request: usize) -> Vec<RetrieveTarget> {
    if target.instances.len() <= per_request {
        return vec![target.clone()];
    }
    target
        .instances
        .chunks(per_request)
        .map(|chunk| RetrieveTarget {
            instances: chunk.to_vec(),
            ..target.clone()
        })
        .collect()
}

impl RemoteNode for DimseNode {
    fn address(&self) -> String {
        self.address.to_string()
    }

    fn echo(&self) -> Result<Duration, RemoteError> {
        Ok(c_echo::echo(&self.address, &self.options)?)
    }

    fn find(&self, query: &QuerySpec, control: &mut Control) -> Result<Vec<Match>, RemoteError> {
        let (model, identifier) = find_identifier(query)?;
        let matches = c_find(&self.address, &self.options(control), model, &identifier)?;
        Ok(matches.iter().map(match_json).collect())
    }

    fn retrieve(
        &self,
        target: &RetrieveTarget,
        sink: &Arc<dyn InstanceSink>,
        control: &mut Control,
    ) -> Result<RetrieveReport, RemoteError> {
        let options = self.options(control);
        let requests = requests(target, UIDS_PER_REQUEST);
        let mut total = RetrieveReport::default();
        let mut bytes = 0u64;
        for request in &requests {
            if control.is_canceled() {
                break;
            }
            let (done_before, expected_before, bytes_before) = (
                total.stored + total.duplicates + total.failed,
                total.expected,
                bytes,
            );
            let mut last_bytes = 0;
            let report = self.retrieve_once(request, sink, &options, &mut |p| {
                last_bytes = p.bytes;
                control.progress(TransferProgress {
                    done: done_before + p.done,
                    expected: expected_before.max(done_before + p.expected),
                    bytes: bytes_before + p.bytes,
                });
            })?;
            bytes += last_bytes;
            total.expected += report.expected;
            total.absorb(report);
        }
        Ok(total)
    }

    fn send(&self, files: &[PathBuf], control: &mut Control) -> Result<SendReport, RemoteError> {
        let options = self.options(control);
        let cancel = control.cancel_flag();
        Ok(c_store::send_files_until(
            &self.address,
            &options,
            files,
            &mut |sent| {
                control.sent(sent);
                !cancel.load(Ordering::SeqCst)
            },
        )?)
    }
}

pub struct DicomWebNode {
    pub endpoint: DicomWebEndpoint,
    pub timeout: Duration,
}

impl DicomWebNode {
    fn client(&self, control: Option<&Control>) -> DicomWebClient {
        DicomWebClient::new(
            &self.endpoint,
            self.timeout,
            control.map(Control::cancel_flag),
        )
    }
}

impl RemoteNode for DicomWebNode {
    fn counts_ahead(&self) -> bool {
        false
    }

    fn address(&self) -> String {
        self.endpoint.url.clone()
    }

    fn echo(&self) -> Result<Duration, RemoteError> {
        let started = Instant::now();
        self.client(None).echo()?;
        Ok(started.elapsed())
    }

    fn find(&self, query: &QuerySpec, control: &mut Control) -> Result<Vec<Match>, RemoteError> {
        Ok(self.client(Some(control)).search(query)?)
    }

    /// One WADO-RS request for a whole study or series; one per instance otherwise.
    fn retrieve(
        &self,
        target: &RetrieveTarget,
        sink: &Arc<dyn InstanceSink>,
        control: &mut Control,
    ) -> Result<RetrieveReport, RemoteError> {
        let client = self.client(Some(control));
        let instances: Vec<Option<&str>> = if target.instances.is_empty() {
            vec![None]
        } else {
            target.instances.iter().map(|i| Some(i.as_str())).collect()
        };
        let expected = target.instances.len() as u64;
        let mut total = RetrieveReport::default();
        let mut bytes = 0u64;
        for instance in instances {
            if control.is_canceled() {
                return Err(RemoteError::Canceled);
            }
            let done_before = total.stored + total.duplicates + total.failed;
            let mut bytes_now = 0u64;
            let report = client.retrieve(
                &target.study_uid,
                target.series_uid.as_deref(),
                instance,
                sink.as_ref(),
                &mut |done, received| {
                    bytes_now = received;
                    control.progress(TransferProgress {
                        done: done_before + done,
                        expected: expected.max(done_before + done),
                        bytes: bytes + received,
                    })
                },
            )?;
            bytes += bytes_now;
            total.absorb(report);
        }
        total.expected = expected.max(total.stored + total.duplicates + total.failed);
        Ok(total)
    }

    fn send(&self, files: &[PathBuf], control: &mut Control) -> Result<SendReport, RemoteError> {
        let report = self.client(Some(control)).store(files)?;
        for instance in &report.instances {
            control.sent(instance);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_instance_lists_are_split_into_requests() {
        let mut target = RetrieveTarget::series("1.2", "1.2.3");
        assert_eq!(requests(&target, 2), vec![target.clone()]);
        target.instances = (0..5).map(|i| format!("1.2.3.{i}")).collect();
        let split = requests(&target, 2);
        assert_eq!(split.len(), 3);
        assert_eq!(split[2].instances, vec!["1.2.3.4".to_string()]);
        assert!(split
            .iter()
            .all(|r| r.series_uid.as_deref() == Some("1.2.3")));
    }

    #[test]
    fn the_same_failure_means_the_same_in_every_protocol() {
        let refused = RemoteError::Dimse(DimseError::Connect {
            address: "127.0.0.1:1".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        });
        assert!(refused.is_transient());
        let broken = RemoteError::DicomWeb(DicomWebError::Transfer {
            url: "http://127.0.0.1:1/studies/1".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        });
        assert!(broken.is_transient());
        let status = RemoteError::DicomWeb(DicomWebError::Status {
            url: "http://127.0.0.1:1".into(),
            status: 404,
            body: String::new(),
        });
        assert!(!status.is_transient());
        assert!(RemoteError::Canceled.is_canceled());
    }
}
