//! The runner: the one place where a job specification meets the store, the index and the
//! nodes. It hands each kind of job to its own module ([`kinds`](super::kinds)) and turns the
//! typed output into the JSON the queue keeps. The engine runs it in `lightbox serve`; the CLI
//! runs it in-process when no server is running.

use super::kinds::{delete, echo, import, query, retrieve, send, thumbnail};
use super::spec::AssociationSettings;
use super::{FailureCategory, JobContext, JobFailure, JobRecord, JobSpec, Runner};
use crate::nodes::{Node, Nodes};
use crate::store::Store;
use lightbox_net::remote::{Control, Event, RemoteError, RemoteNode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub use super::kinds::thumbnail::THUMBNAIL_SIZE;
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
    ) -> Box<dyn RemoteNode>;
}

/// Nodes as they are: [`Node::remote`] with the job's association settings.
pub struct NodeConnector;

impl Connector for NodeConnector {
    fn connect(
        &self,
        node: &Node,
        settings: &AssociationSettings,
        move_listener: &MoveListener,
    ) -> Box<dyn RemoteNode> {
        node.remote(
            settings.calling_ae_title.as_deref(),
            settings
                .timeout_seconds
                .map(|t| Duration::from_secs(t.max(1))),
            move_listener,
        )
    }
}

type Outcome = Result<Option<Value>, JobFailure>;

impl Runner for LocalRunner {
    fn run(&self, job: &JobRecord, ctx: &JobContext) -> Outcome {
        self.run_spec(&job.spec, ctx)
    }
}

/// A typed output as the JSON the queue keeps.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn output<T: serde::Serialize>(result: Result<T, JobFailure>) -> Outcome {
    result.map(|output| Some(to_json(&output)))
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

    pub fn run_spec(&self, spec: &JobSpec, ctx: &JobContext) -> Outcome {
        match spec {
            JobSpec::Import { paths, link } => output(import::run(self, paths, *link, ctx)),
            JobSpec::Query {
                node,
                query,
                association,
            } => output(query::run(self, node, query, association, ctx)),
            JobSpec::Retrieve {
                node,
                study_uid,
                series_uid,
                sop_instance_uid,
                preview_first,
                preview_only,
                association,
            } => output(retrieve::run(
                self,
                &retrieve::Request {
                    node,
                    study_uid,
                    series_uid: series_uid.as_deref(),
                    sop_instance_uid: sop_instance_uid.as_deref(),
                    preview_first: *preview_first,
                    preview_only: *preview_only,
                    association,
                },
                ctx,
            )),
            JobSpec::Send {
                node,
                study_uid,
                series_uid,
                paths,
                association,
            } => output(send::run(
                self,
                node,
                &send::What {
                    study_uid: study_uid.as_deref(),
                    series_uid: series_uid.as_deref(),
                    paths,
                },
                association,
                ctx,
            )),
            JobSpec::Thumbnail { series_uid, size } => {
                output(thumbnail::run(self, series_uid, *size))
            }
            JobSpec::Echo { node, association } => output(echo::run(self, node, association)),
            JobSpec::Delete { target } => output(delete::run(self, target)),
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
    ) -> Box<dyn RemoteNode> {
        self.connector.connect(node, settings, &self.move_listener)
    }
}

/// A control whose cancel flag is the job's, reporting each event to `on_event`.
pub(crate) fn control<'a>(ctx: &JobContext, on_event: impl FnMut(Event<'_>) + 'a) -> Control<'a> {
    Control::new(ctx.cancel_flag(), on_event)
}

pub(crate) fn input(message: impl Into<String>) -> JobFailure {
    JobFailure::new(FailureCategory::Input, message)
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
