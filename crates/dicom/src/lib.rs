//! DICOM data: a bounded parser (no length read from a file ever drives an allocation beyond
//! what the file holds), tags, VRs, character sets, the data dictionary, the DICOM JSON model,
//! one element writer, the pixel data codecs and transcoding. It depends on no other crate of
//! Lightbox.

pub mod charset;
pub mod dataset;
pub mod deid;
pub mod dicomdir;
pub mod dictionary;
pub mod dump;
pub mod edit;
pub mod json;
pub mod matching;
pub mod meta;
pub mod parse;
pub mod pixel;
pub mod rewrite;
pub mod tag;
pub mod transcode;
pub mod transfer_syntax;
pub mod values;
pub mod vr;
pub mod write;

pub use dataset::{DataSet, Element, Span, Value};
pub use parse::{read_bytes, read_file, DicomFile, ParseError, ReadMode};
pub use tag::Tag;
pub use vr::Vr;
