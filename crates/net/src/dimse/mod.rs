//! DIMSE: the DICOM message service over dicom-ul associations.
//!
//! - [`association`]: opening an association (negotiation, timeouts, cancellation) as the SCU;
//! - [`command`], [`status`], [`message`]: command sets, status codes and message framing;
//! - [`instance`]: sending and receiving one instance, shared by the SCU and the SCP sides;
//! - one module per service, each with its SCU verb and its SCP handling: [`c_echo`],
//!   [`c_store`], [`c_find`], [`c_get`], [`c_move`];
//! - [`server`]: the listener that accepts associations and hands each request to the
//!   service handlers it was given ([`server::Services`]);
//! - [`observer`]: what the listener tells of each association, for records of them.

pub mod association;
pub mod c_echo;
pub mod c_find;
pub mod c_get;
pub mod c_move;
pub mod c_store;
pub mod command;
pub mod instance;
pub mod message;
pub mod observer;
pub mod server;
pub mod status;
mod watchdog;

pub use association::ScuOptions;

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

/// The AE title Lightbox uses unless configured otherwise.
pub const DEFAULT_AE_TITLE: &str = "LIGHTBOX";
pub const VERIFICATION: &str = "1.2.840.10008.1.1";
/// We offer at least this maximum PDU (the DICOM default of 16 KiB makes bulk transfers slow).
pub const MAX_PDU: u32 = 131_072;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong talking to a peer. The variant says what it means (the same failure is the
/// same variant in every service); the cause, when there is one, is kept as the `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DimseError {
    /// The peer could not be reached: refused, unresolvable, unroutable or silent.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: String,
        #[source]
        source: io::Error,
    },
    #[error("association rejected by {peer}: {reason}")]
    Rejected { peer: String, reason: String },
    /// Negotiation failed for another reason (the peer is not a DICOM application, spoke
    /// another protocol version, accepted nothing).
    #[error("association with {peer}: {source}")]
    Association {
        peer: String,
        #[source]
        source: Box<dicom_ul::association::Error>,
    },
    #[error("the peer aborted the association")]
    Aborted,
    #[error("the connection to the peer was lost: {source}")]
    ConnectionLost {
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    #[error("timed out waiting for the peer")]
    Timeout,
    /// The caller canceled, and the peer did not end the operation in time: it was cut off.
    #[error("canceled")]
    Canceled,
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The peer answered a request with a failure status.
    #[error("{operation} answered {}{}", status::describe(*status), comment.as_ref().map(|c| format!(": {c}")).unwrap_or_default())]
    Refused {
        operation: &'static str,
        status: u16,
        comment: Option<String>,
    },
    /// Reading a local file (an instance to send) failed.
    #[error("{0}")]
    Io(io::Error),
    #[error("the peer accepted no presentation context for {0}")]
    NoPresentationContext(String),
    /// The TLS handshake failed: the peer's certificate was not trusted, or it refused ours.
    #[error("TLS with {peer}: {source}")]
    Tls {
        peer: String,
        #[source]
        source: io::Error,
    },
}

impl DimseError {
    /// Classifies a dicom-ul failure by its variant, and by the kind of the I/O error beneath
    /// it when the variant only says that reading or writing failed.
    pub(crate) fn from_ul(e: dicom_ul::association::Error) -> DimseError {
        use dicom_ul::association::Error as Ul;
        match &e {
            Ul::Aborted { .. } => DimseError::Aborted,
            Ul::ConnectionClosed { .. } => DimseError::ConnectionLost {
                source: Box::new(e),
            },
            Ul::Timeout { .. } => DimseError::Timeout,
            _ => match io_error_kind(&e) {
                Some(io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => DimseError::Timeout,
                Some(kind) if is_connection_loss(kind) => DimseError::ConnectionLost {
                    source: Box::new(e),
                },
                _ => DimseError::Association {
                    peer: String::new(),
                    source: Box::new(e),
                },
            },
        }
    }

    /// As [`from_ul`](Self::from_ul) for a failure while establishing an association with
    /// `peer`.
    pub(crate) fn from_establish(e: dicom_ul::association::Error, peer: &AeAddress) -> DimseError {
        use dicom_ul::association::Error as Ul;
        let address = format!("{}:{}", peer.host, peer.port);
        match e {
            Ul::Connect { source, .. } | Ul::ToAddress { source, .. } => {
                DimseError::Connect { address, source }
            }
            Ul::Rejected { association_rj, .. } => DimseError::Rejected {
                peer: peer.to_string(),
                reason: association_rj.source.to_string(),
            },
            other => match DimseError::from_ul(other) {
                DimseError::Association { source, .. } => DimseError::Association {
                    peer: peer.to_string(),
                    source,
                },
                classified => classified,
            },
        }
    }

    /// A failure reaching `peer` over TLS: the connection, or the handshake.
    pub(crate) fn from_tls(e: io::Error, peer: &AeAddress) -> DimseError {
        match e.kind() {
            io::ErrorKind::TimedOut => DimseError::Timeout,
            kind if is_connection_loss(kind) => DimseError::ConnectionLost {
                source: Box::new(e),
            },
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => DimseError::Tls {
                peer: peer.to_string(),
                source: e,
            },
            _ => DimseError::Connect {
                address: format!("{}:{}", peer.host, peer.port),
                source: e,
            },
        }
    }

    /// A failure writing to or reading from the association's socket directly.
    pub(crate) fn from_socket(e: io::Error) -> DimseError {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => DimseError::Timeout,
            _ => DimseError::ConnectionLost {
                source: Box::new(e),
            },
        }
    }

    /// Transient failures worth retrying: the peer could not be reached, timed out, or the
    /// association was aborted or lost.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DimseError::Connect { .. }
                | DimseError::Timeout
                | DimseError::Aborted
                | DimseError::ConnectionLost { .. }
        )
    }
}

fn is_connection_loss(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

/// The kind of the first I/O error in an error's chain of causes.
fn io_error_kind(error: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        current = e.source();
    }
    None
}

/// A remote application entity: `AET@host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AeAddress {
    pub ae_title: String,
    pub host: String,
    pub port: u16,
}

impl std::str::FromStr for AeAddress {
    type Err = String;
    fn from_str(s: &str) -> Result<AeAddress, String> {
        let (ae, rest) = s
            .split_once('@')
            .ok_or_else(|| format!("{s:?}: expected AET@host:port"))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("{s:?}: expected AET@host:port"))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("{s:?}: invalid port {port:?}"))?;
        if ae.is_empty() || ae.len() > 16 {
            return Err(format!("{s:?}: an AE title has 1 to 16 characters"));
        }
        Ok(AeAddress {
            ae_title: ae.to_string(),
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for AeAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.ae_title, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_refused_connection_is_a_transient_connect_failure() {
        // A port nobody listens on: bind one, note it, close it.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let peer = AeAddress {
            ae_title: "NOBODY".into(),
            host: "127.0.0.1".into(),
            port,
        };
        let error = c_echo::echo(&peer, &ScuOptions::default()).unwrap_err();
        assert!(matches!(error, DimseError::Connect { .. }), "{error:?}");
        assert!(error.is_transient());
        assert!(StdError::source(&error).is_some(), "the cause is kept");
    }

    #[test]
    fn a_peer_that_never_answers_times_out_transiently() {
        // Accepts the TCP connection, then says nothing: the A-ASSOCIATE-AC never comes.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            drop(socket);
        });
        let peer = AeAddress {
            ae_title: "SILENT".into(),
            host: "127.0.0.1".into(),
            port,
        };
        let options = ScuOptions {
            timeout: Duration::from_millis(300),
            ..ScuOptions::default()
        };
        let error = c_echo::echo(&peer, &options).unwrap_err();
        assert!(matches!(error, DimseError::Timeout), "{error:?}");
        assert!(error.is_transient());
        silent.join().unwrap();
    }

    #[test]
    fn a_peer_that_hangs_up_is_a_lost_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let rude = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            drop(socket);
        });
        let peer = AeAddress {
            ae_title: "RUDE".into(),
            host: "127.0.0.1".into(),
            port,
        };
        let error = c_echo::echo(&peer, &ScuOptions::default()).unwrap_err();
        assert!(
            matches!(error, DimseError::ConnectionLost { .. }),
            "{error:?}"
        );
        assert!(error.is_transient());
        rude.join().unwrap();
    }
}
