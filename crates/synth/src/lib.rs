//! Deterministic synthetic DICOM data sets for tests and benchmarks.
//!
//! [`generate`] writes `patients × studies × series × instances` DICOM Part 10 files (Explicit VR
//! Little Endian, 16-bit MONOCHROME2 pixel data) with realistic patient, study and series attributes;
//! [`instance_bytes`] encodes a single instance in memory. Everything derives from the [`SynthSpec`]
//! through a seeded splitmix64 generator and integer or IEEE-exact float arithmetic (`+ - * / sqrt`,
//! no `sin`/`exp` whose results vary between math libraries), so the same spec gives byte-identical
//! files on every run and platform, whatever the thread scheduling.
//!
//! Patient, study and series attributes depend only on the seed and the indices, so a larger spec with
//! the same seed extends a smaller one with the same people and studies; UIDs also encode a hash of the
//! whole spec (counts, size, modality), so two different specs never share a UID for different content.
//!
//! The pixel data is a phantom: a body (torso or head, by body part) with organs drawn as ellipsoid
//! cross-sections that change size and drift with the slice position, plus noise. CT values are
//! Hounsfield units stored as `HU + 1024` (rescale intercept -1024, signed 12-bit), with padding
//! outside the circular reconstruction field. Each series precomputes short noisy rows per tissue;
//! an image is then assembled row by row from spans of those rows with a per-row random offset, so the
//! cost per image is a few thousand `memcpy`s rather than a random number per pixel.

mod encoder;
mod identity;
mod phantom;
mod rng;
mod series;
mod spec;
#[cfg(test)]
mod tests;
mod vocabulary;
mod write;

/// Every UID the generator makes is `<root>.<kind>.<spec hash>.<index>` under Lightbox's root;
/// the files carry Lightbox's implementation UID and name.
pub use lightbox_dicom::meta::{IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, UID_ROOT};
/// Explicit VR Little Endian, the transfer syntax of every generated file.
pub use lightbox_dicom::transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN;

pub use spec::{SynthReport, SynthSpec};
pub use write::{generate, instance_bytes};
