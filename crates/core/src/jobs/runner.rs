//! The runner: what every kind of job works with — the store, the nodes and how to reach them
//! ([`Connector`]) — and the failures they share. The `kinds` module carries out each kind
//! (its [`Runner`](super::Runner) implementation dispatches there). The engine runs it in
//! `lightbox serve`; the CLI runs it in-process when no server is running.

use super::spec::AssociationSettings;
use super::{FailureCategory, JobContext, JobFailure};
use crate::nodes::{Node, Nodes, NodesError};
use crate::store::Store;
use lightbox_net::remote::{Control, Event, RemoteError, RemoteNode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub use lightbox_net::remote::MoveListener;

pub struct LocalRunner {
    pub store: Arc<Store>,
    pub nodes: Nodes,
    pub move_listener: MoveListener,
    pub connector: Arc<dyn Connector>,
}

/// How jobs reach a node: its own [`RemoteNode`] (DIMSE or DICOMweb, [`NodeConnector`]), or,
/// in tests of the job kinds, a stand-in.
pub trait Connector: Send + Sync {
    fn connect(
        &self,
        node: &Node,
        settings: &AssociationSettings,
        move_listener: &MoveListener,
    ) -> Result<Box<dyn RemoteNode>, NodesError>;
}

/// Nodes as they are: [`Node::remote`] with the job's association settings.
pub struct NodeConnector;

impl Connector for NodeConnector {
    fn connect(
        &self,
        node: &Node,
        settings: &AssociationSettings,
        move_listener: &MoveListener,
    ) -> Result<Box<dyn RemoteNode>, NodesError> {
        node.remote(
            settings.calling_ae_title.as_deref(),
            settings
                .timeout_seconds
                .map(|t| Duration::from_secs(t.max(1))),
            move_listener,
        )
    }
}

/// A typed output as the JSON the queue keeps.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl LocalRunner {
    /// A runner that reaches nodes as they are.
    pub fn new(store: Arc<Store>, nodes: Nodes, move_listener: MoveListener) -> LocalRunner {
        LocalRunner {
            store,
            nodes,
            move_listener,
            connector: Arc::new(NodeConnector),
        }
    }

    pub(crate) fn node(&self, name: &str) -> Result<Node, JobFailure> {
        self.nodes.resolve(name).map_err(|e| input(e.to_string()))
    }

    /// A node that may be queried and retrieved from.
    pub(crate) fn query_retrieve_node(&self, name: &str) -> Result<Node, JobFailure> {
        let node = self.node(name)?;
        if !node.query_retrieve {
            return Err(input(format!(
                "node {} is not enabled for query/retrieve",
                node.name
            )));
        }
        Ok(node)
    }

    /// The node as a remote node, with the job's association settings.
    pub(crate) fn remote(
        &self,
        node: &Node,
        settings: &AssociationSettings,
    ) -> Result<Box<dyn RemoteNode>, JobFailure> {
        self.connector
            .connect(node, settings, &self.move_listener)
            .map_err(|e| input(explain(&e)))
    }
}

/// A control whose cancel flag is the job's, reporting each event to `on_event`.
pub(crate) fn control<'a>(ctx: &JobContext, on_event: impl FnMut(Event<'_>) + 'a) -> Control<'a> {
    Control::new(ctx.cancel_flag(), on_event)
}

pub(crate) fn input(message: impl Into<String>) -> JobFailure {
    JobFailure::new(FailureCategory::Input, message)
}

/// An error and its causes, as one line: "cannot render instance 1.2.3: decoding this frame
/// needs 1536 MB, more than …".
pub(crate) fn explain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

pub(crate) fn storage(message: impl std::fmt::Display) -> JobFailure {
    JobFailure::new(FailureCategory::Storage, message.to_string())
}

impl From<RemoteError> for JobFailure {
    /// The category follows what the error is, never its wording: transient failures are
    /// `network` (retried), the job's own input is `input`, any other answer is `peer`.
    fn from(e: RemoteError) -> JobFailure {
        let category = if e.is_canceled() {
            FailureCategory::Canceled
        } else if e.is_transient() {
            FailureCategory::Network
        } else if e.is_input() {
            FailureCategory::Input
        } else {
            FailureCategory::Peer
        };
        JobFailure::new(category, e.to_string())
    }
}
