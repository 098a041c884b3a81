//! DIMSE: the DICOM message service over dicom-ul associations — command sets, status codes,
//! message framing, the SCU verbs and the SCP services.

pub mod command;
pub mod message;
pub mod qr;
pub mod scp;
pub mod scu;
pub mod status;

use std::time::Duration;

/// The AE title Lightbox uses unless configured otherwise.
pub const DEFAULT_AE_TITLE: &str = "LIGHTBOX";
pub const VERIFICATION: &str = "1.2.840.10008.1.1";
/// We offer at least this maximum PDU (the DICOM default of 16 KiB makes bulk transfers slow).
pub const MAX_PDU: u32 = 131_072;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DimseError {
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: String },
    #[error("association rejected by {peer}: {reason}")]
    Rejected { peer: String, reason: String },
    #[error("association: {0}")]
    Association(String),
    #[error("the peer aborted the association")]
    Aborted,
    #[error("the connection to the peer was lost ({0})")]
    ConnectionLost(String),
    #[error("timed out waiting for the peer")]
    Timeout,
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("the peer accepted no presentation context for {0}")]
    NoPresentationContext(String),
}

impl DimseError {
    pub(crate) fn from_ul(e: dicom_ul::association::Error) -> DimseError {
        let text = e.to_string();
        let lower = text.to_lowercase();
        if lower.contains("timed out")
            || lower.contains("would block")
            || lower.contains("resource temporarily unavailable")
        {
            DimseError::Timeout
        } else if lower.contains("abort") {
            DimseError::Aborted
        } else if [
            "on wire",
            "closed by peer",
            "broken pipe",
            "connection reset",
            "unexpected end",
            "eof",
        ]
        .iter()
        .any(|k| lower.contains(k))
        {
            DimseError::ConnectionLost(text)
        } else {
            DimseError::Association(text)
        }
    }

    /// Transient failures worth retrying (refused connection, timeout, aborted association).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DimseError::Connect { .. }
                | DimseError::Timeout
                | DimseError::Aborted
                | DimseError::ConnectionLost(_)
        )
    }
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
