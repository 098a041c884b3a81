//! Remote DICOM nodes, persisted in the data directory (`nodes.json`, replaced atomically), and
//! each one's [`RemoteNode`] — DIMSE or DICOMweb — for the jobs that talk to it.

use crate::lists::{ListError, ListHome};
pub use lightbox_net::dicomweb::{DicomWebEndpoint, WebAuth};
use lightbox_net::dimse::{AeAddress, ScuOptions, DEFAULT_AE_TITLE};
use lightbox_net::remote::{DicomWebNode, DimseNode, DimseRetrieval, MoveListener, RemoteNode};
pub use lightbox_net::tls::ClientTls;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetrieveMethod {
    #[default]
    CGet,
    CMove,
}

impl std::str::FromStr for RetrieveMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "get" | "c-get" | "cget" => Ok(RetrieveMethod::CGet),
            "move" | "c-move" | "cmove" => Ok(RetrieveMethod::CMove),
            _ => Err(format!("{s:?}: expected get or move")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    /// The AE title we call.
    pub ae_title: String,
    pub host: String,
    pub port: u16,
    /// Our AE title towards this node; Lightbox's own when absent.
    #[serde(default)]
    pub calling_ae_title: Option<String>,
    #[serde(default)]
    pub retrieve_method: RetrieveMethod,
    /// Where C-MOVE sends instances; our own storage listener's AE title when absent.
    #[serde(default)]
    pub move_destination: Option<String>,
    #[serde(default = "yes")]
    pub query_retrieve: bool,
    #[serde(default = "yes")]
    pub send_target: bool,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// The source to retrieve from when a study is on several nodes (the user can still pick
    /// another).
    #[serde(default)]
    pub preferred: bool,
    /// Set when the node takes associations over TLS only (its DICOM TLS port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    /// Set for a DICOMweb node: it is queried, retrieved from and sent to over HTTP, and the
    /// DIMSE fields are unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dicomweb: Option<DicomWebEndpoint>,
}

fn yes() -> bool {
    true
}

fn default_timeout() -> u64 {
    30
}

impl Node {
    pub fn new(name: &str, address: &AeAddress) -> Node {
        Node {
            name: name.to_string(),
            ae_title: address.ae_title.clone(),
            host: address.host.clone(),
            port: address.port,
            calling_ae_title: None,
            retrieve_method: RetrieveMethod::default(),
            move_destination: None,
            query_retrieve: true,
            send_target: true,
            timeout_seconds: default_timeout(),
            preferred: false,
            tls: None,
            dicomweb: None,
        }
    }

    /// A DICOMweb node.
    pub fn dicomweb(name: &str, endpoint: DicomWebEndpoint) -> Node {
        Node {
            dicomweb: Some(endpoint),
            ..Node::new(
                name,
                &AeAddress {
                    ae_title: "DICOMWEB".into(),
                    host: "-".into(),
                    port: 1,
                },
            )
        }
    }

    pub fn address(&self) -> AeAddress {
        AeAddress {
            ae_title: self.ae_title.clone(),
            host: self.host.clone(),
            port: self.port,
        }
    }

    pub fn calling_ae_title(&self) -> &str {
        self.calling_ae_title.as_deref().unwrap_or(DEFAULT_AE_TITLE)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.max(1))
    }

    /// The node as a [`RemoteNode`], calling it as `calling_ae_title` (this node's own unless
    /// given) with `timeout` (the node's own unless given); a C-MOVE's instances arrive at
    /// `move_listener`.
    pub fn remote(
        &self,
        calling_ae_title: Option<&str>,
        timeout: Option<Duration>,
        move_listener: &MoveListener,
    ) -> Result<Box<dyn RemoteNode>, NodesError> {
        let timeout = timeout.unwrap_or_else(|| self.timeout());
        if let Some(endpoint) = &self.dicomweb {
            return Ok(Box::new(DicomWebNode {
                endpoint: endpoint.clone(),
                timeout,
            }));
        }
        let tls = self
            .tls
            .as_ref()
            .map(|tls| tls.config())
            .transpose()
            .map_err(|e| NodesError::Tls {
                node: self.name.clone(),
                source: e,
            })?;
        let calling_ae_title = calling_ae_title
            .unwrap_or_else(|| self.calling_ae_title())
            .to_string();
        let retrieval = match self.retrieve_method {
            RetrieveMethod::CGet => DimseRetrieval::Get,
            RetrieveMethod::CMove => DimseRetrieval::Move {
                destination_ae: self
                    .move_destination
                    .clone()
                    .unwrap_or_else(|| calling_ae_title.clone()),
                listener: move_listener.clone(),
            },
        };
        Ok(Box::new(DimseNode {
            address: self.address(),
            options: ScuOptions {
                calling_ae_title,
                timeout,
                cancel: None,
                tls,
            },
            retrieval,
        }))
    }

    /// Checks what a user typed: clear messages, field by field.
    pub fn validate(&self) -> Result<(), String> {
        self.check_fields().map_err(|(_, message)| message)
    }

    /// Like `validate`, naming the field at fault (`name`, `url`, `ae_title`,
    /// `calling_ae_title`, `host`, `port`), for forms.
    pub fn check_fields(&self) -> Result<(), (&'static str, String)> {
        let ae_ok = |ae: &str| {
            !ae.trim().is_empty()
                && ae.len() <= 16
                && ae.chars().all(|c| c.is_ascii_graphic() || c == ' ')
                && !ae.contains('\\')
        };
        if self.name.trim().is_empty() || self.name.contains('@') || self.name.contains('/') {
            return Err((
                "name",
                "name: give a name without '@' or '/' (it must not look like an address)".into(),
            ));
        }
        if let Some(web) = &self.dicomweb {
            let url = web.url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
                return Err((
                    "url",
                    format!("URL {url:?}: an http:// or https:// base URL"),
                ));
            }
            return Ok(());
        }
        if !ae_ok(&self.ae_title) {
            return Err((
                "ae_title",
                format!(
                    "AE title {:?}: 1 to 16 printable ASCII characters, no backslash",
                    self.ae_title
                ),
            ));
        }
        if let Some(calling) = &self.calling_ae_title {
            if !ae_ok(calling) {
                return Err((
                    "calling_ae_title",
                    format!(
                        "calling AE title {calling:?}: 1 to 16 printable ASCII characters, no backslash"
                    ),
                ));
            }
        }
        if !is_host(&self.host) {
            return Err((
                "host",
                format!(
                    "host {:?}: a host name (letters, digits, '-' and '.') or an IP address",
                    self.host
                ),
            ));
        }
        if self.port == 0 {
            return Err(("port", "port: 1 to 65535".into()));
        }
        if let Some(tls) = &self.tls {
            if tls.certificate.is_some() != tls.private_key.is_some() {
                return Err((
                    "tls",
                    "TLS: a client certificate and its private key go together".into(),
                ));
            }
            // The files are read now, so a wrong path or a key that does not match is said
            // when the node is saved rather than at its first association.
            if let Err(e) = tls.config() {
                return Err(("tls", format!("TLS: {e}")));
            }
        }
        Ok(())
    }
}

/// A host name (RFC 1123 labels) or an IP address: nothing else can be connected to, and text
/// of any other shape is a mistake or worse.
fn is_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[derive(Debug, thiserror::Error)]
pub enum NodesError {
    #[error("reading {place}: {reason}")]
    Read { place: String, reason: String },
    #[error("writing {place}: {reason}")]
    Write { place: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("no node named {0:?} (and it is not an AET@host:port address)")]
    Unknown(String),
    #[error("a node named {0:?} exists already")]
    Exists(String),
    #[error("TLS of node {node}: {source}")]
    Tls {
        node: String,
        #[source]
        source: lightbox_net::tls::TlsError,
    },
}

/// The remote nodes: `DATA_DIR/nodes.json`, or the cluster's list when the index is shared.
pub struct Nodes {
    home: ListHome,
}

impl From<ListError<NodesError>> for NodesError {
    fn from(e: ListError<NodesError>) -> Self {
        match e {
            ListError::Read { place, reason } => NodesError::Read { place, reason },
            ListError::Write { place, reason } => NodesError::Write { place, reason },
            ListError::Refused(e) => e,
        }
    }
}

impl Nodes {
    /// The nodes of the data directory `data_dir` alone.
    pub fn new(data_dir: &Path) -> Nodes {
        Nodes {
            home: ListHome::in_data_dir(data_dir, "nodes.json"),
        }
    }

    /// The nodes of the store: the cluster's, when its index is in PostgreSQL.
    pub fn of_store(store: &crate::store::Store) -> Nodes {
        Nodes {
            home: ListHome::of_store(store, "nodes.json"),
        }
    }

    pub fn list(&self) -> Result<Vec<Node>, NodesError> {
        Ok(self.home.read::<Node, NodesError>()?)
    }

    pub fn add(&self, node: Node) -> Result<(), NodesError> {
        node.validate().map_err(NodesError::Invalid)?;
        Ok(self.home.update(|nodes: &mut Vec<Node>| {
            if nodes.iter().any(|n| n.name == node.name) {
                return Err(NodesError::Exists(node.name.clone()));
            }
            nodes.push(node.clone());
            Ok(())
        })?)
    }

    /// Adds the node, or replaces the one of the same name.
    pub fn put(&self, node: Node) -> Result<(), NodesError> {
        node.validate().map_err(NodesError::Invalid)?;
        Ok(self.home.update(|nodes: &mut Vec<Node>| {
            match nodes.iter_mut().find(|n| n.name == node.name) {
                Some(existing) => *existing = node.clone(),
                None => nodes.push(node.clone()),
            }
            Ok::<(), NodesError>(())
        })?)
    }

    pub fn remove(&self, name: &str) -> Result<(), NodesError> {
        Ok(self.home.update(|nodes: &mut Vec<Node>| {
            let before = nodes.len();
            nodes.retain(|n| n.name != name);
            if nodes.len() == before {
                return Err(NodesError::Unknown(name.to_string()));
            }
            Ok(())
        })?)
    }

    /// A node by name, or an ad-hoc one from `AET@host:port`.
    pub fn resolve(&self, target: &str) -> Result<Node, NodesError> {
        if let Some(node) = self.list()?.into_iter().find(|n| n.name == target) {
            return Ok(node);
        }
        match target.parse::<AeAddress>() {
            Ok(address) => Ok(Node::new(target, &address)),
            Err(_) if !target.contains('@') => Err(NodesError::Unknown(target.to_string())),
            Err(e) => Err(NodesError::Invalid(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_list_resolve_remove() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = Nodes::new(dir.path());
        let pacs = Node {
            retrieve_method: RetrieveMethod::CMove,
            ..Node::new("pacs", &"ORTHANC@127.0.0.1:4242".parse().unwrap())
        };
        nodes.add(pacs.clone()).unwrap();
        assert!(matches!(
            nodes.add(pacs.clone()),
            Err(NodesError::Exists(_))
        ));
        assert_eq!(nodes.list().unwrap(), vec![pacs.clone()]);
        assert_eq!(nodes.resolve("pacs").unwrap(), pacs);
        assert_eq!(nodes.resolve("X@h:1").unwrap().ae_title, "X");
        assert!(matches!(
            nodes.resolve("nobody"),
            Err(NodesError::Unknown(_))
        ));
        assert!(nodes
            .add(Node::new(
                "bad",
                &AeAddress {
                    ae_title: "A_TITLE_THAT_IS_TOO_LONG".into(),
                    host: "h".into(),
                    port: 1
                }
            ))
            .is_err());
        nodes.remove("pacs").unwrap();
        assert!(nodes.list().unwrap().is_empty());
    }

    #[test]
    fn a_host_is_a_name_or_an_address() {
        for ok in [
            "pacs",
            "pacs.example.org",
            "10.0.0.5",
            "::1",
            "my-pacs.local.",
        ] {
            assert!(is_host(ok), "{ok}");
        }
        for bad in [
            "",
            " ",
            "pacs example",
            "-pacs",
            "pacs/../x",
            "<script>",
            "a..b",
            "10.0.0.5:104",
        ] {
            assert!(!is_host(bad), "{bad}");
        }
    }
}
