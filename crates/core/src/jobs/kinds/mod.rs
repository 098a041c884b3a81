//! One module per kind of job, each with its typed output: what `lightbox jobs show`, the API
//! and the CLI's verbs read as fields. Every kind that talks to a node does so through
//! [`RemoteNode`](lightbox_net::remote::RemoteNode), never through a protocol of its own.

pub mod delete;
pub mod echo;
pub mod import;
pub mod query;
pub mod retrieve;
pub mod send;
pub mod thumbnail;
