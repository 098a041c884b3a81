//! Lightbox core: everything that is not HTTP or UI.
//!
//! - [`dicom`]: a bounded DICOM parser (untrusted lengths never drive allocations), character sets,
//!   the data dictionary, the DICOM JSON model and text dumps;
//! - [`dimse`]: the DIMSE message layer on dicom-ul, the SCU verbs and the storage SCP;
//! - [`model`]: patient, study, series and instance records;
//! - [`index`]: the index trait and its SQLite implementation;
//! - [`nodes`]: remote DICOM nodes, persisted in the data directory;
//! - [`store`]: the data directory and its managed files;
//! - [`import`]: files, folders, DICOMDIR media and zip archives into the store;
//! - [`render`]: pixel decoding, the LUT pipeline and thumbnails;
//! - [`synth`]: the deterministic synthetic data set generator.

pub mod dicom;
pub mod dicomweb;
pub mod dimse;
pub mod import;
pub mod index;
pub mod jobs;
pub mod model;
pub mod nodes;
pub mod render;
pub mod store;
pub mod synth;
