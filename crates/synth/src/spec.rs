//! The public description of a data set to generate, and the report of what was written.

/// What to generate. Indices passed to [`instance_bytes`](crate::instance_bytes) are 0-based; the
/// numbers written to the files (SeriesNumber, InstanceNumber) are 1-based.
#[derive(Clone, Debug)]
pub struct SynthSpec {
    pub patients: u32,
    pub studies_per_patient: u32,
    pub series_per_study: u32,
    pub instances_per_series: u32,
    pub rows: u16,
    pub columns: u16,
    pub seed: u64,
    /// One modality for every study (`CT`, `MR`, `CR`, `DX`, `US`, `PT`; anything else is written as
    /// Secondary Capture with that Modality value); `None` (or empty) picks one per study.
    pub modality: Option<String>,
    /// Each tomographic series starts with a localizer: its first instance is a scout across the
    /// others (coronal for an axial series, axial otherwise) with Image Type `LOCALIZER`, as a
    /// CT's planning image is; the rest are the stack.
    pub localizer: bool,
    /// Each CT or MR series is one enhanced multi-frame instance (Enhanced CT / MR Image
    /// Storage) whose `instances_per_series` frames carry their geometry in functional groups
    /// (orientation, spacing, rescale and window shared; each frame's position its own), the
    /// frames written from the last slice to the first, as a feet-first acquisition stores them.
    pub enhanced: bool,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            patients: 2,
            studies_per_patient: 2,
            series_per_study: 2,
            instances_per_series: 5,
            rows: 512,
            columns: 512,
            seed: 1,
            modality: None,
            localizer: false,
            enhanced: false,
        }
    }
}

/// What [`generate`](crate::generate) wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynthReport {
    pub files: u64,
    pub bytes: u64,
}
