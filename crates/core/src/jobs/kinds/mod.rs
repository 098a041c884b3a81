//! One module per kind of job, each with its typed output: what `lightbox jobs show`, the API
//! and the CLI's verbs read as fields. Every kind that talks to a node does so through
//! [`RemoteNode`](lightbox_net::remote::RemoteNode), never through a protocol of its own.

use super::runner::{to_json, LocalRunner};
use super::{JobContext, JobFailure, JobRecord, JobSpec, Runner};
use serde_json::Value;

pub mod anonymize;
pub mod delete;
pub mod echo;
pub mod import;
pub mod modify;
pub mod query;
pub mod receive;
pub mod retrieve;
pub mod send;
pub mod thumbnail;

type Outcome = Result<Option<Value>, JobFailure>;

/// The typed output of a kind as the JSON the queue keeps.
fn output<T: serde::Serialize>(result: Result<T, JobFailure>) -> Outcome {
    result.map(|output| Some(to_json(&output)))
}

impl Runner for LocalRunner {
    fn run(&self, job: &JobRecord, ctx: &JobContext) -> Outcome {
        self.run_spec(&job.spec, ctx)
    }

    /// A node knows the remote nodes in its own list (or given as `AET@host:port`).
    fn can_run(&self, job: &JobRecord) -> bool {
        job.spec
            .node()
            .is_none_or(|node| self.nodes.resolve(node).is_ok())
    }
}

impl LocalRunner {
    /// Carries out `spec` in its kind's module.
    pub fn run_spec(&self, spec: &JobSpec, ctx: &JobContext) -> Outcome {
        match spec {
            JobSpec::Import { paths, link } => output(import::run(self, paths, *link, ctx)),
            JobSpec::Query {
                node,
                query,
                association,
            } => query::run(self, node, query, association, ctx).map(|o| Some(o.into_json())),
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
            JobSpec::Modify {
                target,
                set,
                remove,
                new_uids,
                keep_source,
            } => output(modify::run(
                self,
                &modify::Request {
                    target,
                    set,
                    remove,
                    new_uids: *new_uids,
                    keep_source: *keep_source,
                },
                ctx,
            )),
            JobSpec::Anonymize {
                target,
                options,
                destination,
                project_key,
                pseudonyms,
                pseudonym_rows,
                safe_private,
                blank,
            } => output(anonymize::run(
                self,
                &anonymize::Request {
                    target,
                    options,
                    destination,
                    project_key: project_key.as_deref(),
                    pseudonyms: pseudonyms.as_deref(),
                    pseudonym_rows,
                    safe_private: safe_private.as_deref(),
                    blank,
                },
                ctx,
            )),
            JobSpec::Receive { .. } => Err(super::runner::input(
                "a receive job records an association a peer opened: it cannot be run",
            )),
        }
    }
}
