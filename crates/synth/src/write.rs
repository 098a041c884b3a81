//! The entry points: the whole data set written to disk in parallel, or one instance in memory.

use crate::series::SeriesPlan;
use crate::spec::{SynthReport, SynthSpec};
use rayon::prelude::*;
use std::io;
use std::path::Path;

/// Writes the data set under `out` as `out/<PatientID>/<StudyInstanceUID>/<SeriesInstanceUID>/<InstanceNumber>.dcm`
/// (creating the directories), in parallel with rayon, and returns the number of files and bytes
/// written. Deterministic: the same spec gives byte-identical files.
pub fn generate(spec: &SynthSpec, out: &Path) -> io::Result<SynthReport> {
    let mut all_series = Vec::new();
    for p in 0..spec.patients {
        for st in 0..spec.studies_per_patient {
            for se in 0..spec.series_per_study {
                all_series.push((p, st, se));
            }
        }
    }
    let (files, bytes) = all_series
        .par_iter()
        .map(|&(p, st, se)| -> io::Result<(u64, u64)> {
            let plan = SeriesPlan::new(spec, p, st, se);
            let dir = out
                .join(&plan.patient.id)
                .join(&plan.study.uid)
                .join(&plan.uid);
            std::fs::create_dir_all(&dir)?;
            (0..plan.files())
                .into_par_iter()
                .map(|i| -> io::Result<(u64, u64)> {
                    let bytes = plan.instance(i);
                    std::fs::write(dir.join(format!("{}.dcm", i + 1)), &bytes)?;
                    Ok((1, bytes.len() as u64))
                })
                .try_reduce(|| (0, 0), |a, b| Ok((a.0 + b.0, a.1 + b.1)))
        })
        .try_reduce(|| (0, 0), |a, b| Ok((a.0 + b.0, a.1 + b.1)))?;
    Ok(SynthReport { files, bytes })
}

/// Encodes one instance to DICOM Part 10 bytes, exactly as [`generate`] writes it. The indices are
/// 0-based.
///
/// # Panics
/// If an index is not below the corresponding count of `spec`.
pub fn instance_bytes(
    spec: &SynthSpec,
    patient: u32,
    study: u32,
    series: u32,
    instance: u32,
) -> Vec<u8> {
    assert!(
        patient < spec.patients
            && study < spec.studies_per_patient
            && series < spec.series_per_study
            && instance < spec.instances_per_series,
        "instance ({patient}, {study}, {series}, {instance}) is outside the spec"
    );
    SeriesPlan::new(spec, patient, study, series).instance(instance)
}
