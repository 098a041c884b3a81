//! DICOMweb: the multipart format shared by the server and the client, and the client of
//! DICOMweb nodes (QIDO-RS search, WADO-RS retrieval into a sink, STOW-RS send).

pub mod client;
pub mod multipart;

pub use client::{DicomWebClient, DicomWebError};

use serde::{Deserialize, Serialize};

/// How a DICOMweb node wants us to authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WebAuth {
    #[default]
    None,
    Basic {
        user: String,
        password: String,
    },
    Bearer {
        token: String,
    },
}

/// A DICOMweb service: its base URL (up to and including the prefix, e.g.
/// `http://pacs:8042/dicom-web`) and authentication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DicomWebEndpoint {
    pub url: String,
    #[serde(default)]
    pub auth: WebAuth,
}
