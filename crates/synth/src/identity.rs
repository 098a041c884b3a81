//! Identities, dates and UIDs: patients and studies, derived from the seed and indices only.

use crate::rng::{key, Rng, K_IDS, K_PATIENT, K_SPEC, K_STUDY};
use crate::spec::SynthSpec;
use crate::vocabulary::{
    Modality, StudyTemplate, FAMILY_NAMES, FEMALE_NAMES, INSTITUTIONS, MALE_NAMES, MODALITY_MIX,
    NON_ASCII_NAMES, REFERRING,
};
use crate::UID_ROOT;

/// The number of days from 1970-01-01 to a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A DICOM DA string (YYYYMMDD) for a day number from 1970-01-01.
pub(crate) fn date_string(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}{m:02}{d:02}")
}

pub(crate) fn time_string(secs: u32) -> String {
    let secs = secs.min(86_399);
    format!("{:02}{:02}{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Maps `index` to a distinct number below `10^digits` (a bijection on `0..10^digits`, shuffled by
/// `salt`), or to a longer number at or above `10^digits` when `index` does not fit.
fn scrambled_number(index: u64, digits: u32, multiplier: u64, salt: u64) -> u64 {
    let modulus = 10u64.pow(digits);
    if index < modulus {
        // `multiplier` is coprime with 10, so this is a permutation of 0..modulus.
        ((index as u128 * multiplier as u128 + (salt % modulus) as u128) % modulus as u128) as u64
    } else {
        index + modulus
    }
}

pub(crate) fn patient_id(seed: u64, p: u32) -> String {
    format!(
        "LB{:06}",
        scrambled_number(p as u64, 6, 738_457, key(&[seed, K_IDS, 1]))
    )
}

pub(crate) fn accession_number(seed: u64, study_flat: u64) -> String {
    format!(
        "ACC{:07}",
        scrambled_number(study_flat, 7, 3_141_593, key(&[seed, K_IDS, 2]))
    )
}

/// `<root>.<kind>.<10-digit spec hash>.<1-based flat index>`: at most 27 + 2 + 11 + 21 = 61 characters.
pub(crate) fn uid(spec_hash: u64, kind: u32, flat: u64) -> String {
    format!("{UID_ROOT}.{kind}.{spec_hash}.{}", flat + 1)
}

pub(crate) const UID_STUDY: u32 = 1;
pub(crate) const UID_SERIES: u32 = 2;
pub(crate) const UID_INSTANCE: u32 = 3;
pub(crate) const UID_FRAME_OF_REFERENCE: u32 = 4;

fn normalized_modality(spec: &SynthSpec) -> Option<String> {
    spec.modality
        .as_deref()
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
}

/// A 10-digit number (no leading zero) identifying the spec, shared by all its UIDs.
pub(crate) fn spec_hash(spec: &SynthSpec) -> u64 {
    let modality = normalized_modality(spec)
        .map(|m| {
            m.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01B3)
            })
        })
        .unwrap_or(0);
    let mut parts = vec![
        K_SPEC,
        spec.seed,
        spec.patients as u64,
        spec.studies_per_patient as u64,
        spec.series_per_study as u64,
        spec.instances_per_series as u64,
        spec.rows as u64,
        spec.columns as u64,
        modality,
    ];
    // Enhanced instances are other objects than the same slices as instances of their own.
    if spec.enhanced {
        parts.push(1);
    }
    let h = key(&parts);
    1_000_000_000 + h % 9_000_000_000
}

pub(crate) struct Patient {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) utf8: bool,
    pub(crate) birth_date: String,
    pub(crate) sex: &'static str,
}

impl Patient {
    pub(crate) fn new(seed: u64, p: u32) -> Patient {
        let mut rng = Rng::new(key(&[seed, K_PATIENT, p as u64]));
        let birth = days_from_civil(1930, 1, 1) + rng.below(86 * 365) as i64;
        // Every tenth patient, starting with the third, has a name that needs UTF-8.
        let (name, sex, utf8) = if p % 10 == 2 {
            let (name, sex) = rng.pick(NON_ASCII_NAMES);
            (name.to_string(), sex, true)
        } else {
            let roll = rng.below(100);
            let sex = if roll < 48 {
                "M"
            } else if roll < 96 {
                "F"
            } else {
                "O"
            };
            let given_pool = match sex {
                "M" => MALE_NAMES,
                "F" => FEMALE_NAMES,
                _ if rng.below(2) == 0 => MALE_NAMES,
                _ => FEMALE_NAMES,
            };
            let family = rng.pick(FAMILY_NAMES);
            let given = rng.pick(given_pool);
            (format!("{family}^{given}"), sex, false)
        };
        Patient {
            id: patient_id(seed, p),
            name,
            utf8,
            birth_date: date_string(birth),
            sex,
        }
    }
}

pub(crate) struct Study {
    pub(crate) modality: Modality,
    pub(crate) code: String,
    pub(crate) template: &'static StudyTemplate,
    pub(crate) uid: String,
    pub(crate) date: String,
    pub(crate) time: u32,
    pub(crate) accession: String,
    pub(crate) id: String,
    pub(crate) institution: &'static str,
    pub(crate) referring: &'static str,
}

impl Study {
    pub(crate) fn new(spec: &SynthSpec, hash: u64, p: u32, st: u32) -> Study {
        let mut rng = Rng::new(key(&[spec.seed, K_STUDY, p as u64, st as u64]));
        let roll = rng.below(100);
        let (modality, code) = match normalized_modality(spec) {
            Some(code) => (Modality::parse(&code), code),
            None => {
                let mut acc = 0;
                let mut chosen = Modality::Ct;
                for &(m, share) in &MODALITY_MIX {
                    acc += share;
                    if roll < acc {
                        chosen = m;
                        break;
                    }
                }
                (chosen, chosen.code().to_string())
            }
        };
        let template = &modality.studies()[rng.below(modality.studies().len() as u64) as usize];
        let end = days_from_civil(2026, 11, 1);
        let date = end - 1 - rng.below(3652) as i64;
        let time = 7 * 3600 + rng.below(13 * 3600) as u32;
        let flat = p as u64 * spec.studies_per_patient as u64 + st as u64;
        Study {
            modality,
            code,
            template,
            uid: uid(hash, UID_STUDY, flat),
            date: date_string(date),
            time,
            accession: accession_number(spec.seed, flat),
            id: (st + 1).to_string(),
            institution: rng.pick(INSTITUTIONS),
            referring: rng.pick(REFERRING),
        }
    }
}
