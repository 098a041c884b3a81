//! Lightbox core: everything that is not HTTP or UI.
//!
//! - [`dicom`]: a bounded DICOM parser (untrusted lengths never drive allocations), character sets,
//!   the data dictionary, text dumps and the DICOM JSON model;
//! - [`model`]: patient, study, series and instance records;
//! - [`index`]: the index trait and its SQLite implementation;
//! - [`store`]: the data directory and its managed files;
//! - [`import`]: files, folders, DICOMDIR media and zip archives into the store;
//! - [`render`]: pixel decoding, LUT pipeline and thumbnails;
//! - [`synth`]: the deterministic synthetic data set generator.

pub mod dicom;
pub mod render;
pub mod synth;
