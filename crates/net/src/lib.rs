//! Lightbox networking, on the DICOM-data crate only:
//!
//! - [`dimse`]: associations, the DIMSE message layer, one module per service (echo, store,
//!   find, get, move) with its SCU verb and its SCP side, and the server that hands requests to
//!   service handlers;
//! - [`dicomweb`]: the DICOMweb client (QIDO-RS, WADO-RS, STOW-RS) and `multipart/related`;
//! - [`remote`]: one interface to a remote node (echo, find, retrieve, send, with progress and
//!   cancellation), implemented for DIMSE and for DICOMweb;
//! - protocol-neutral types: [`query`] (what is asked, what matches), [`report`] (what a
//!   retrieval or a send did), [`sink`] (where received instances go).

pub mod dicomweb;
pub mod dimse;
pub mod query;
pub mod remote;
pub mod report;
pub mod sink;
pub mod tls;
