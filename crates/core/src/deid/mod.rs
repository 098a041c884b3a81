//! De-identification in the store's terms: the pseudonyms patients get, kept per project key so
//! that a later study of the same patient gets the same one. (The profile's rules on each data
//! set are the DICOM-data crate's [`lightbox_dicom::deid`].)

pub mod project;
pub mod pseudonyms;
