//! DICOM data: a bounded parser, tags, VRs, character sets and the data dictionary.

pub mod charset;
pub mod dataset;
pub mod dictionary;
pub mod dump;
pub mod json;
pub mod meta;
pub mod parse;
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
