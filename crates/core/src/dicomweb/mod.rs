//! DICOMweb: the multipart format shared by the server and the client, and the client of
//! DICOMweb nodes (QIDO-RS search, WADO-RS retrieval into the store, STOW-RS send).

pub mod client;
pub mod multipart;
