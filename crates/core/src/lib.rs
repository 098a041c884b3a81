//! Lightbox core: everything that is neither HTTP nor UI, on the DICOM-data and networking
//! crates.
//!
//! - [`model`]: patient, study, series and instance records;
//! - [`index`]: the index trait and its SQLite implementation;
//! - [`store`]: the data directory and its managed files;
//! - [`import`]: the one ingest path, and files, folders, DICOMDIR media and zip archives
//!   through it;
//! - [`deid`]: de-identification in the store's terms (pseudonyms kept per project key);
//! - [`export`]: instances out to a folder or a streamed zip, readable or as media with a
//!   DICOMDIR;
//! - [`render`]: the LUT pipeline and thumbnails (on the DICOM-data crate's pixel decoding);
//! - [`nodes`]: remote nodes, persisted in the data directory, each one a
//!   [`RemoteNode`](lightbox_net::remote::RemoteNode);
//! - [`routes`]: routing rules, run on what the storage listener receives once it is stable;
//! - [`scp`]: this node's own services over the store and the index (storage, query,
//!   retrieve), served by the networking crate's DIMSE server;
//! - [`jobs`]: the job engine, and one module per kind of job.

pub mod deid;
pub mod export;
pub mod image_sets;
pub mod import;
pub mod index;
pub mod jobs;
pub mod lists;
pub mod migrate;
pub mod model;
pub mod nodes;
pub mod render;
pub mod routes;
pub mod scp;
pub mod store;
