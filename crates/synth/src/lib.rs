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

use rayon::prelude::*;
use std::io;
use std::path::Path;

/// Every UID the generator makes is `<root>.<kind>.<spec hash>.<index>` under Lightbox's root;
/// the files carry Lightbox's implementation UID and name.
pub use lightbox_dicom::meta::{IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, UID_ROOT};
/// Explicit VR Little Endian, the transfer syntax of every generated file.
pub use lightbox_dicom::transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN;

/// What to generate. Indices passed to [`instance_bytes`] are 0-based; the numbers written to the
/// files (SeriesNumber, InstanceNumber) are 1-based.
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
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynthReport {
    pub files: u64,
    pub bytes: u64,
}

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
            (0..spec.instances_per_series)
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

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of a sequence of numbers (order matters).
fn key(parts: &[u64]) -> u64 {
    parts.iter().fold(0x243F_6A88_85A3_08D3, |h, &x| {
        mix64(h.wrapping_add(GOLDEN) ^ x)
    })
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

// Domain tags for `key`, so patient, study, series and instance streams never coincide.
const K_PATIENT: u64 = 1;
const K_STUDY: u64 = 2;
const K_SERIES: u64 = 3;
const K_INSTANCE: u64 = 4;
const K_SPEC: u64 = 5;
const K_IDS: u64 = 6;

// ---------------------------------------------------------------------------------------------
// Vocabulary

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Modality {
    Ct,
    Mr,
    Cr,
    Dx,
    Us,
    Pt,
    /// Anything else, written as Secondary Capture.
    Other,
}

impl Modality {
    fn parse(code: &str) -> Modality {
        match code {
            "CT" => Modality::Ct,
            "MR" => Modality::Mr,
            "CR" => Modality::Cr,
            "DX" => Modality::Dx,
            "US" => Modality::Us,
            "PT" => Modality::Pt,
            _ => Modality::Other,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Modality::Ct => "CT",
            Modality::Mr => "MR",
            Modality::Cr => "CR",
            Modality::Dx => "DX",
            Modality::Us => "US",
            Modality::Pt => "PT",
            Modality::Other => "OT",
        }
    }

    fn sop_class(self) -> &'static str {
        match self {
            Modality::Ct => "1.2.840.10008.5.1.4.1.1.2",
            Modality::Mr => "1.2.840.10008.5.1.4.1.1.4",
            Modality::Cr => "1.2.840.10008.5.1.4.1.1.1",
            Modality::Dx => "1.2.840.10008.5.1.4.1.1.1.1",
            Modality::Us => "1.2.840.10008.5.1.4.1.1.6.1",
            Modality::Pt => "1.2.840.10008.5.1.4.1.1.128",
            Modality::Other => "1.2.840.10008.5.1.4.1.1.7",
        }
    }

    fn studies(self) -> &'static [StudyTemplate] {
        match self {
            Modality::Ct => CT_STUDIES,
            Modality::Mr => MR_STUDIES,
            Modality::Cr => CR_STUDIES,
            Modality::Dx => DX_STUDIES,
            Modality::Us => US_STUDIES,
            Modality::Pt => PT_STUDIES,
            Modality::Other => OT_STUDIES,
        }
    }

    fn params(self) -> &'static ModalityParams {
        match self {
            Modality::Ct => &CT_PARAMS,
            Modality::Mr | Modality::Other => &MR_PARAMS,
            Modality::Cr | Modality::Dx => &XR_PARAMS,
            Modality::Us => &US_PARAMS,
            Modality::Pt => &PT_PARAMS,
        }
    }
}

/// Share of each modality, in percent, when the spec mixes them.
const MODALITY_MIX: [(Modality, u64); 6] = [
    (Modality::Ct, 30),
    (Modality::Mr, 25),
    (Modality::Cr, 12),
    (Modality::Dx, 13),
    (Modality::Us, 10),
    (Modality::Pt, 10),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Plane {
    Axial,
    Sagittal,
    Coronal,
    /// A projection or ultrasound image: no patient geometry.
    Projection,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    Torso,
    Head,
}

struct SeriesTemplate {
    desc: &'static str,
    plane: Plane,
    thickness: f64,
}

struct StudyTemplate {
    desc: &'static str,
    body_part: &'static str,
    shape: Shape,
    /// Field of view across the larger image dimension, in mm.
    fov: f64,
    series: &'static [SeriesTemplate],
}

const fn ax(desc: &'static str, thickness: f64) -> SeriesTemplate {
    SeriesTemplate {
        desc,
        plane: Plane::Axial,
        thickness,
    }
}
const fn sag(desc: &'static str, thickness: f64) -> SeriesTemplate {
    SeriesTemplate {
        desc,
        plane: Plane::Sagittal,
        thickness,
    }
}
const fn cor(desc: &'static str, thickness: f64) -> SeriesTemplate {
    SeriesTemplate {
        desc,
        plane: Plane::Coronal,
        thickness,
    }
}
const fn proj(desc: &'static str) -> SeriesTemplate {
    SeriesTemplate {
        desc,
        plane: Plane::Projection,
        thickness: 0.0,
    }
}

const CT_STUDIES: &[StudyTemplate] = &[
    StudyTemplate {
        desc: "CT CHEST W CONTRAST",
        body_part: "CHEST",
        shape: Shape::Torso,
        fov: 350.0,
        series: &[
            ax("AXIAL 2.5MM", 2.5),
            ax("AXIAL 5MM", 5.0),
            ax("AXIAL LUNG 1.25MM", 1.25),
            cor("CORONAL MPR 3MM", 3.0),
        ],
    },
    StudyTemplate {
        desc: "CT ABDOMEN PELVIS W CONTRAST",
        body_part: "ABDOMEN",
        shape: Shape::Torso,
        fov: 380.0,
        series: &[
            ax("AXIAL 5MM PORTAL VENOUS", 5.0),
            ax("AXIAL 2.5MM ARTERIAL", 2.5),
            cor("CORONAL MPR 3MM", 3.0),
            sag("SAGITTAL MPR 3MM", 3.0),
        ],
    },
    StudyTemplate {
        desc: "CT HEAD WO CONTRAST",
        body_part: "HEAD",
        shape: Shape::Head,
        fov: 230.0,
        series: &[
            ax("AXIAL 5MM BRAIN", 5.0),
            ax("AXIAL 2.5MM BONE", 2.5),
            cor("CORONAL 3MM", 3.0),
        ],
    },
    StudyTemplate {
        desc: "CT CHEST WO CONTRAST LOW DOSE",
        body_part: "CHEST",
        shape: Shape::Torso,
        fov: 340.0,
        series: &[
            ax("AXIAL 1.25MM LUNG", 1.25),
            ax("AXIAL 2.5MM SOFT TISSUE", 2.5),
        ],
    },
    StudyTemplate {
        desc: "CTA PULMONARY ARTERIES",
        body_part: "CHEST",
        shape: Shape::Torso,
        fov: 340.0,
        series: &[
            ax("AXIAL 1MM ANGIO", 1.0),
            ax("AXIAL 3MM", 3.0),
            cor("CORONAL MIP 5MM", 5.0),
        ],
    },
];

const MR_STUDIES: &[StudyTemplate] = &[
    StudyTemplate {
        desc: "MR BRAIN WO",
        body_part: "HEAD",
        shape: Shape::Head,
        fov: 240.0,
        series: &[
            sag("T1 SAG", 5.0),
            ax("T2 AX", 5.0),
            ax("T2 AX FLAIR", 5.0),
            ax("DWI AX", 5.0),
            ax("T1 AX", 5.0),
        ],
    },
    StudyTemplate {
        desc: "MR BRAIN W WO CONTRAST",
        body_part: "HEAD",
        shape: Shape::Head,
        fov: 240.0,
        series: &[
            sag("T1 SAG", 5.0),
            ax("T2 AX FLAIR", 5.0),
            ax("T1 AX POST", 5.0),
            cor("T1 COR POST", 4.0),
        ],
    },
    StudyTemplate {
        desc: "MR LUMBAR SPINE WO",
        body_part: "LSPINE",
        shape: Shape::Torso,
        fov: 300.0,
        series: &[sag("T1 SAG", 4.0), sag("T2 SAG", 4.0), ax("T2 AX", 4.0)],
    },
    StudyTemplate {
        desc: "MR KNEE WO",
        body_part: "KNEE",
        shape: Shape::Torso,
        fov: 160.0,
        series: &[
            cor("PD COR FS", 3.0),
            sag("PD SAG", 3.0),
            ax("T2 AX FS", 3.5),
        ],
    },
    StudyTemplate {
        desc: "MR ABDOMEN W WO CONTRAST",
        body_part: "ABDOMEN",
        shape: Shape::Torso,
        fov: 400.0,
        series: &[
            ax("T2 AX HASTE", 6.0),
            ax("T1 AX IN OPP", 6.0),
            ax("T1 AX POST", 3.0),
            cor("T2 COR", 6.0),
        ],
    },
];

const CR_STUDIES: &[StudyTemplate] = &[
    StudyTemplate {
        desc: "CR CHEST 2 VIEWS",
        body_part: "CHEST",
        shape: Shape::Torso,
        fov: 430.0,
        series: &[proj("PA"), proj("LATERAL")],
    },
    StudyTemplate {
        desc: "CR KNEE 3 VIEWS",
        body_part: "KNEE",
        shape: Shape::Torso,
        fov: 240.0,
        series: &[proj("AP"), proj("LATERAL"), proj("SUNRISE")],
    },
    StudyTemplate {
        desc: "CR HAND 3 VIEWS",
        body_part: "HAND",
        shape: Shape::Torso,
        fov: 240.0,
        series: &[proj("PA"), proj("OBLIQUE"), proj("LATERAL")],
    },
];

const DX_STUDIES: &[StudyTemplate] = &[
    StudyTemplate {
        desc: "DX CHEST PA AND LATERAL",
        body_part: "CHEST",
        shape: Shape::Torso,
        fov: 430.0,
        series: &[proj("PA"), proj("LATERAL")],
    },
    StudyTemplate {
        desc: "DX PELVIS AP",
        body_part: "PELVIS",
        shape: Shape::Torso,
        fov: 430.0,
        series: &[proj("AP"), proj("AP INLET")],
    },
    StudyTemplate {
        desc: "DX LUMBAR SPINE 2 VIEWS",
        body_part: "LSPINE",
        shape: Shape::Torso,
        fov: 350.0,
        series: &[proj("AP"), proj("LATERAL")],
    },
];

const US_STUDIES: &[StudyTemplate] = &[
    StudyTemplate {
        desc: "US ABDOMEN COMPLETE",
        body_part: "ABDOMEN",
        shape: Shape::Torso,
        fov: 160.0,
        series: &[
            proj("LIVER"),
            proj("GALLBLADDER"),
            proj("KIDNEYS"),
            proj("SPLEEN"),
        ],
    },
    StudyTemplate {
        desc: "US THYROID",
        body_part: "NECK",
        shape: Shape::Torso,
        fov: 60.0,
        series: &[proj("RIGHT LOBE"), proj("LEFT LOBE"), proj("ISTHMUS")],
    },
    StudyTemplate {
        desc: "US PELVIS TRANSABDOMINAL",
        body_part: "PELVIS",
        shape: Shape::Torso,
        fov: 160.0,
        series: &[proj("UTERUS"), proj("OVARIES"), proj("BLADDER")],
    },
];

const PT_STUDIES: &[StudyTemplate] = &[
    StudyTemplate {
        desc: "PET CT WHOLE BODY FDG",
        body_part: "WHOLEBODY",
        shape: Shape::Torso,
        fov: 600.0,
        series: &[ax("PET WB AC", 3.0), ax("PET WB NAC", 3.0)],
    },
    StudyTemplate {
        desc: "PET BRAIN FDG",
        body_part: "HEAD",
        shape: Shape::Head,
        fov: 300.0,
        series: &[ax("PET BRAIN AC 3D", 2.0), ax("PET BRAIN NAC", 2.0)],
    },
];

const OT_STUDIES: &[StudyTemplate] = &[StudyTemplate {
    desc: "SYNTHETIC SECONDARY CAPTURE",
    body_part: "CHEST",
    shape: Shape::Torso,
    fov: 350.0,
    series: &[proj("CAPTURE"), proj("SCREENSHOT")],
}];

const INSTITUTIONS: &[&str] = &[
    "Lightbox General Hospital",
    "St. Synthetic Medical Center",
    "Riverside Imaging Institute",
    "Northfield University Hospital",
    "Lakeview Radiology Clinic",
    "Mercy Synthetic Hospital",
];

/// Referring physicians; the empty one is an empty (type 2) ReferringPhysicianName.
const REFERRING: &[&str] = &[
    "Hartmann^Lena",
    "Okafor^Chidi",
    "Lindqvist^Erik",
    "Moreau^Claire",
    "Patel^Anjali",
    "Kowalski^Tomasz",
    "Rossi^Marco",
    "Nakamura^Yuki",
    "Brennan^Siobhan",
    "",
];

#[rustfmt::skip]
const FAMILY_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch",
    "Richter", "Klein", "Wolf", "Schroeder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krueger", "Hofmann",
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
    "Dubois", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Michel", "Lefebvre", "Garnier", "Fontaine",
    "De Jong", "Jansen", "De Vries", "Van den Berg", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos",
    "Johansson", "Andersson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson",
    "Hansen", "Nielsen", "Pedersen", "Kristensen", "Jensen", "Nowak", "Kowalczyk", "Wisniewski", "Wojcik", "Kaminski",
    "Novak", "Svoboda", "Dvorak", "Cerny", "Prochazka", "Horvath", "Szabo", "Toth", "Kovacs", "Nagy",
    "Popescu", "Ionescu", "Popa", "Papadopoulos", "Georgiou", "Ivanov", "Petrov", "Smirnov", "Volkov", "Yilmaz",
    "Kaya", "Demir", "Celik", "Cohen", "Levi", "Mizrahi", "Khan", "Ali", "Ahmed", "Hussain",
    "Patel", "Sharma", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Wang", "Li",
    "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Kim", "Park",
    "Choi", "Jung", "Kang", "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Nakamura",
    "Kobayashi", "Tran", "Pham", "Le", "Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa",
    "Ferreira", "Okafor", "Adeyemi", "Mensah", "Mwangi", "Diallo", "O'Brien", "Murphy", "Kelly", "Walsh",
];

#[rustfmt::skip]
const MALE_NAMES: &[&str] = &[
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
    "Daniel", "Matthew", "Anthony", "Mark", "Paul", "Steven", "Andrew", "Kenneth", "Joshua", "Kevin",
    "Brian", "George", "Edward", "Ronald", "Timothy", "Jason", "Jeffrey", "Ryan", "Jacob", "Gary",
    "Lukas", "Felix", "Jonas", "Luca", "Matteo", "Pierre", "Louis", "Lars", "Erik", "Sven",
    "Piotr", "Tomasz", "Wei", "Hiroshi", "Kenji", "Ravi", "Arjun", "Ahmed", "Omar", "Carlos",
];

#[rustfmt::skip]
const FEMALE_NAMES: &[&str] = &[
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Nancy", "Lisa", "Betty", "Margaret", "Sandra", "Ashley", "Emily", "Donna", "Michelle", "Carol",
    "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Laura", "Sharon", "Cynthia", "Kathleen", "Anna",
    "Sophie", "Marie", "Julia", "Lena", "Giulia", "Chiara", "Camille", "Ingrid", "Astrid", "Agnieszka",
    "Katarzyna", "Mei", "Yuki", "Sakura", "Priya", "Ananya", "Fatima", "Aisha", "Maria", "Lucia",
];

/// Names that need ISO_IR 192 (UTF-8), with the patient's sex.
const NON_ASCII_NAMES: &[(&str, &str)] = &[
    ("Müller^Jürgen", "M"),
    ("Ångström^Åsa", "F"),
    ("Dvořák^Antonín", "M"),
    ("Yamada^Tarou=山田^太郎=やまだ^たろう", "M"),
    ("Øvergård^Søren", "M"),
    ("Núñez^José", "M"),
    ("Łukasiewicz^Paweł", "M"),
    ("Şahin^Gökçe", "F"),
    ("Παπαδοπούλου^Ελένη", "F"),
    ("Иванова^Мария", "F"),
    ("Lefèvre^Françoise", "F"),
    ("Gonçalves^Inês", "F"),
];

// ---------------------------------------------------------------------------------------------
// Pixel values

const OUTSIDE: usize = 0;
const AIR: usize = 1;
const FAT: usize = 2;
const SOFT: usize = 3;
const LUNG: usize = 4;
const BONE: usize = 5;
const VESSEL: usize = 6;
const LESION: usize = 7;
const BRAIN: usize = 8;
const CSF: usize = 9;
const TISSUES: usize = 10;

struct ModalityParams {
    bits_stored: u16,
    signed: bool,
    window_center: &'static str,
    window_width: &'static str,
    /// Stored value of each tissue (indexed by the constants above).
    values: [i32; TISSUES],
    /// Noise half-amplitude in stored units (none outside the field of view).
    noise: i32,
}

impl ModalityParams {
    fn clamp(&self, v: i32) -> i32 {
        if self.signed {
            let half = 1i32 << (self.bits_stored - 1);
            v.clamp(-half, half - 1)
        } else {
            v.clamp(0, (1i32 << self.bits_stored) - 1)
        }
    }
}

/// CT: stored = HU + 1024; outside the reconstruction circle HU -2024.
const CT_PARAMS: ModalityParams = ModalityParams {
    bits_stored: 12,
    signed: true,
    window_center: "40",
    window_width: "400",
    values: [-1000, 24, 924, 1064, 174, 1824, 1274, 1114, 1059, 1032],
    noise: 12,
};

const MR_PARAMS: ModalityParams = ModalityParams {
    bits_stored: 16,
    signed: false,
    window_center: "700",
    window_width: "1400",
    values: [0, 8, 1400, 600, 40, 150, 900, 1100, 750, 300],
    noise: 20,
};

/// CR and DX: collimated border bright, direct exposure dark, bone bright.
const XR_PARAMS: ModalityParams = ModalityParams {
    bits_stored: 16,
    signed: false,
    window_center: "2000",
    window_width: "4000",
    values: [3800, 300, 1500, 1800, 900, 3200, 1900, 2300, 2000, 1900],
    noise: 30,
};

const US_PARAMS: ModalityParams = ModalityParams {
    bits_stored: 16,
    signed: false,
    window_center: "128",
    window_width: "256",
    values: [0, 0, 90, 120, 30, 230, 8, 60, 110, 5],
    noise: 25,
};

const PT_PARAMS: ModalityParams = ModalityParams {
    bits_stored: 16,
    signed: false,
    window_center: "2500",
    window_width: "5000",
    values: [0, 0, 150, 400, 120, 500, 700, 5000, 2500, 100],
    noise: 60,
};

/// Extra samples in each noise row beyond the image width: a row's random offset is in
/// `0..columns + NOISE_EXTRA`.
const NOISE_EXTRA: usize = 61;

/// A phantom region: an ellipse in normalised coordinates (units of half the smaller image
/// dimension, origin at the image centre, y down), optionally the cross-section of an ellipsoid
/// centred at slice position `cz` with half-length `hz` (slice positions run from -1 to 1), drifting
/// by `(dx, dy)` per unit of slice position. `rect` regions are image-relative rectangles.
#[derive(Clone, Copy, Debug)]
struct Region {
    tissue: usize,
    cx: f64,
    cy: f64,
    rx: f64,
    ry: f64,
    dx: f64,
    dy: f64,
    z: Option<(f64, f64)>,
    rect: bool,
}

impl Region {
    const fn cylinder(tissue: usize, cx: f64, cy: f64, rx: f64, ry: f64) -> Region {
        Region {
            tissue,
            cx,
            cy,
            rx,
            ry,
            dx: 0.0,
            dy: 0.0,
            z: None,
            rect: false,
        }
    }
    const fn ellipsoid(
        tissue: usize,
        cx: f64,
        cy: f64,
        rx: f64,
        ry: f64,
        cz: f64,
        hz: f64,
    ) -> Region {
        Region {
            tissue,
            cx,
            cy,
            rx,
            ry,
            dx: 0.0,
            dy: 0.0,
            z: Some((cz, hz)),
            rect: false,
        }
    }
    const fn drift(self, dx: f64, dy: f64) -> Region {
        Region { dx, dy, ..self }
    }
}

const TORSO: &[Region] = &[
    Region::cylinder(FAT, 0.0, 0.02, 0.84, 0.62),
    Region::cylinder(SOFT, 0.0, 0.02, 0.78, 0.56),
    Region::ellipsoid(LUNG, -0.38, -0.06, 0.28, 0.36, 0.2, 1.5),
    Region::ellipsoid(LUNG, 0.38, -0.06, 0.27, 0.35, 0.25, 1.45),
    Region::ellipsoid(SOFT, 0.08, -0.08, 0.2, 0.18, -0.3, 0.9).drift(0.04, 0.02),
    Region::cylinder(BONE, 0.0, 0.4, 0.09, 0.09),
    Region::cylinder(VESSEL, 0.09, 0.2, 0.055, 0.055).drift(0.05, 0.0),
    Region::ellipsoid(BONE, -0.02, -0.5, 0.05, 0.03, 0.5, 0.8),
];

const HEAD: &[Region] = &[
    Region::ellipsoid(BONE, 0.0, 0.0, 0.72, 0.86, 0.0, 1.7),
    Region::ellipsoid(BRAIN, 0.0, 0.0, 0.65, 0.79, 0.0, 1.6),
    Region::ellipsoid(CSF, -0.13, -0.04, 0.07, 0.24, 0.1, 0.6).drift(-0.02, 0.0),
    Region::ellipsoid(CSF, 0.13, -0.04, 0.07, 0.24, 0.1, 0.6).drift(0.02, 0.0),
    Region::ellipsoid(CSF, 0.0, 0.35, 0.05, 0.05, -0.4, 0.4),
];

/// A region resolved for one slice, in pixel units.
struct Ellipse {
    tissue: usize,
    cx: f64,
    cy: f64,
    rx: f64,
    ry: f64,
    rect: bool,
}

impl Ellipse {
    /// The columns `x0..x1` of row `y` inside the region.
    fn span(&self, y: usize, columns: usize) -> Option<(usize, usize)> {
        let d = (y as f64 + 0.5 - self.cy) / self.ry;
        if !(d > -1.0 && d < 1.0) {
            return None;
        }
        let half = if self.rect {
            self.rx
        } else {
            self.rx * (1.0 - d * d).sqrt()
        };
        let x0 = (self.cx - half - 0.5).ceil().max(0.0);
        let x1 = ((self.cx + half - 0.5).floor() + 1.0).min(columns as f64);
        if x0 < x1 {
            Some((x0 as usize, x1 as usize))
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Identities, dates and UIDs

/// The number of days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A DICOM DA string (YYYYMMDD) for a day number from 1970-01-01.
fn date_string(days: i64) -> String {
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

fn time_string(secs: u32) -> String {
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

fn patient_id(seed: u64, p: u32) -> String {
    format!(
        "LB{:06}",
        scrambled_number(p as u64, 6, 738_457, key(&[seed, K_IDS, 1]))
    )
}

fn accession_number(seed: u64, study_flat: u64) -> String {
    format!(
        "ACC{:07}",
        scrambled_number(study_flat, 7, 3_141_593, key(&[seed, K_IDS, 2]))
    )
}

/// `<root>.<kind>.<10-digit spec hash>.<1-based flat index>`: at most 27 + 2 + 11 + 21 = 61 characters.
fn uid(spec_hash: u64, kind: u32, flat: u64) -> String {
    format!("{UID_ROOT}.{kind}.{spec_hash}.{}", flat + 1)
}

const UID_STUDY: u32 = 1;
const UID_SERIES: u32 = 2;
const UID_INSTANCE: u32 = 3;
const UID_FRAME_OF_REFERENCE: u32 = 4;

fn normalized_modality(spec: &SynthSpec) -> Option<String> {
    spec.modality
        .as_deref()
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
}

/// A 10-digit number (no leading zero) identifying the spec, shared by all its UIDs.
fn spec_hash(spec: &SynthSpec) -> u64 {
    let modality = normalized_modality(spec)
        .map(|m| {
            m.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01B3)
            })
        })
        .unwrap_or(0);
    let h = key(&[
        K_SPEC,
        spec.seed,
        spec.patients as u64,
        spec.studies_per_patient as u64,
        spec.series_per_study as u64,
        spec.instances_per_series as u64,
        spec.rows as u64,
        spec.columns as u64,
        modality,
    ]);
    1_000_000_000 + h % 9_000_000_000
}

struct Patient {
    id: String,
    name: String,
    utf8: bool,
    birth_date: String,
    sex: &'static str,
}

impl Patient {
    fn new(seed: u64, p: u32) -> Patient {
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

struct Study {
    modality: Modality,
    code: String,
    template: &'static StudyTemplate,
    uid: String,
    date: String,
    time: u32,
    accession: String,
    id: String,
    institution: &'static str,
    referring: &'static str,
}

impl Study {
    fn new(spec: &SynthSpec, hash: u64, p: u32, st: u32) -> Study {
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

/// Everything shared by the instances of one series.
struct SeriesPlan<'s> {
    spec: &'s SynthSpec,
    hash: u64,
    key: u64,
    flat: u64,
    patient: Patient,
    study: Study,
    template: &'static SeriesTemplate,
    uid: String,
    frame_of_reference: String,
    number: u32,
    time: String,
    params: &'static ModalityParams,
    /// Per tissue, `2 * columns + NOISE_EXTRA` noisy samples as little-endian bytes.
    noise_rows: Vec<Vec<u8>>,
    regions: Vec<Region>,
    /// Pixel spacing in mm (square pixels).
    spacing: f64,
    /// Slice position (mm along the normal) of the first instance.
    first_slice: f64,
}

impl<'s> SeriesPlan<'s> {
    fn new(spec: &'s SynthSpec, p: u32, st: u32, se: u32) -> SeriesPlan<'s> {
        let hash = spec_hash(spec);
        let patient = Patient::new(spec.seed, p);
        let study = Study::new(spec, hash, p, st);
        let series_key = key(&[spec.seed, K_SERIES, p as u64, st as u64, se as u64]);
        let mut rng = Rng::new(series_key);
        let templates = study.template.series;
        let template = &templates[se as usize % templates.len()];
        let flat = (p as u64 * spec.studies_per_patient as u64 + st as u64)
            * spec.series_per_study as u64
            + se as u64;
        let time = study.time + se * 420 + rng.below(300) as u32;
        let params = study.modality.params();

        let columns = spec.columns as usize;
        let noise_len = 2 * columns + NOISE_EXTRA;
        let noise_rows = (0..TISSUES)
            .map(|tissue| {
                let base = params.values[tissue];
                let amp = if tissue == OUTSIDE { 0 } else { params.noise };
                let mut row = Vec::with_capacity(noise_len * 2);
                for _ in 0..noise_len {
                    let n = if amp == 0 {
                        0
                    } else {
                        // Triangular distribution on -amp..=amp.
                        let span = 2 * amp as u64 + 1;
                        (rng.below(span) + rng.below(span)) as i32 / 2 - amp
                    };
                    row.extend_from_slice(&(params.clamp(base + n) as i16 as u16).to_le_bytes());
                }
                row
            })
            .collect();

        let mut regions = Vec::new();
        // The field of view: a reconstruction circle for tomography, a collimated rectangle for
        // projections and ultrasound.
        if template.plane == Plane::Projection {
            regions.push(Region {
                rect: true,
                ..Region::cylinder(AIR, 0.0, 0.0, 0.94, 0.94)
            });
        } else {
            regions.push(Region::cylinder(AIR, 0.0, 0.0, 1.0, 1.0));
        }
        regions.extend_from_slice(match study.template.shape {
            Shape::Torso => TORSO,
            Shape::Head => HEAD,
        });
        // One or two lesions per series, somewhere inside the body.
        for _ in 0..1 + rng.below(2) {
            let r = rng.range(0.04, 0.11);
            regions.push(Region::ellipsoid(
                LESION,
                rng.range(-0.45, 0.45),
                rng.range(-0.3, 0.3),
                r,
                r * rng.range(0.8, 1.2),
                rng.range(-0.6, 0.6),
                rng.range(0.3, 0.7),
            ));
        }

        let larger = spec.rows.max(spec.columns).max(1) as f64;
        let spacing = study.template.fov / larger;
        let n = spec.instances_per_series as f64;
        let table = rng.below(81) as f64 * 0.5 - 20.0;
        let first_slice = table - (n - 1.0) / 2.0 * template.thickness;

        SeriesPlan {
            spec,
            hash,
            key: series_key,
            flat,
            patient,
            study,
            template,
            uid: uid(hash, UID_SERIES, flat),
            frame_of_reference: uid(hash, UID_FRAME_OF_REFERENCE, flat),
            number: se + 1,
            time: time_string(time),
            params,
            noise_rows,
            regions,
            spacing,
            first_slice,
        }
    }

    /// Row and column direction cosines and the normal (row × column).
    fn orientation(&self) -> ([f64; 3], [f64; 3], [f64; 3]) {
        match self.template.plane {
            Plane::Sagittal => ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]),
            Plane::Coronal => ([1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]),
            Plane::Axial | Plane::Projection => ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]),
        }
    }

    fn instance(&self, i: u32) -> Vec<u8> {
        let spec = self.spec;
        let rows = spec.rows as usize;
        let columns = spec.columns as usize;
        let pixel_bytes = rows * columns * 2;
        let modality = self.study.modality;
        let ct = modality == Modality::Ct;
        let tomographic = self.template.plane != Plane::Projection;
        let sop_uid = uid(
            self.hash,
            UID_INSTANCE,
            self.flat * spec.instances_per_series as u64 + i as u64,
        );
        let sop_class = modality.sop_class();

        let mut e = Encoder::with_capacity(2048 + pixel_bytes);
        e.buf.extend_from_slice(&[0u8; 128]);
        e.buf.extend_from_slice(b"DICM");

        // File meta information, preceded by its group length.
        let mut meta = Encoder::with_capacity(256);
        meta.bytes(0x0002_0001, b"OB", &[0, 1]);
        meta.text(0x0002_0002, b"UI", sop_class);
        meta.text(0x0002_0003, b"UI", &sop_uid);
        meta.text(0x0002_0010, b"UI", EXPLICIT_VR_LITTLE_ENDIAN);
        meta.text(0x0002_0012, b"UI", IMPLEMENTATION_CLASS_UID);
        meta.text(0x0002_0013, b"SH", IMPLEMENTATION_VERSION_NAME);
        e.bytes(0x0002_0000, b"UL", &(meta.buf.len() as u32).to_le_bytes());
        e.buf.extend_from_slice(&meta.buf);
        e.last = meta.last;

        let image_type = match (modality, self.template.plane) {
            (Modality::Ct, Plane::Axial) => "ORIGINAL\\PRIMARY\\AXIAL",
            (Modality::Ct, _) => "DERIVED\\SECONDARY\\REFORMATTED",
            _ => "ORIGINAL\\PRIMARY",
        };
        if self.patient.utf8 {
            e.text(0x0008_0005, b"CS", "ISO_IR 192");
        }
        e.text(0x0008_0008, b"CS", image_type);
        e.text(0x0008_0016, b"UI", sop_class);
        e.text(0x0008_0018, b"UI", &sop_uid);
        e.text(0x0008_0020, b"DA", &self.study.date);
        e.text(0x0008_0021, b"DA", &self.study.date);
        e.text(0x0008_0023, b"DA", &self.study.date);
        e.text(0x0008_0030, b"TM", &time_string(self.study.time));
        e.text(0x0008_0031, b"TM", &self.time);
        e.text(0x0008_0033, b"TM", &self.time);
        e.text(0x0008_0050, b"SH", &self.study.accession);
        e.text(0x0008_0060, b"CS", &self.study.code);
        if modality == Modality::Other {
            e.text(0x0008_0064, b"CS", "WSD");
        }
        if modality == Modality::Dx {
            e.text(0x0008_0068, b"CS", "FOR PRESENTATION");
        }
        e.text(0x0008_0070, b"LO", "Lightbox Synthetic");
        e.text(0x0008_0080, b"LO", self.study.institution);
        e.text(0x0008_0090, b"PN", self.study.referring);
        e.text(0x0008_1030, b"LO", self.study.template.desc);
        e.text(0x0008_103E, b"LO", self.template.desc);
        e.text(0x0008_1090, b"LO", "Synthetic Phantom 1");
        e.text(0x0010_0010, b"PN", &self.patient.name);
        e.text(0x0010_0020, b"LO", &self.patient.id);
        e.text(0x0010_0030, b"DA", &self.patient.birth_date);
        e.text(0x0010_0040, b"CS", self.patient.sex);
        e.text(0x0018_0015, b"CS", self.study.template.body_part);

        let (row_dir, col_dir, normal) = self.orientation();
        let slice = self.first_slice + i as f64 * self.template.thickness;
        if tomographic {
            e.text(0x0018_0050, b"DS", &ds(self.template.thickness));
        }
        if matches!(modality, Modality::Cr | Modality::Dx) {
            let s = ds(self.spacing);
            e.text(0x0018_1164, b"DS", &format!("{s}\\{s}"));
        }
        e.text(0x0020_000D, b"UI", &self.study.uid);
        e.text(0x0020_000E, b"UI", &self.uid);
        e.text(0x0020_0010, b"SH", &self.study.id);
        e.text(0x0020_0011, b"IS", &self.number.to_string());
        e.text(0x0020_0013, b"IS", &(i + 1).to_string());
        if tomographic {
            // The centre of the image lies on the normal through the origin; pixel (0, 0) is half
            // the image away along the row and column directions.
            let half_c = (columns as f64 - 1.0) / 2.0 * self.spacing;
            let half_r = (rows as f64 - 1.0) / 2.0 * self.spacing;
            let pos: Vec<String> = (0..3)
                .map(|k| ds(normal[k] * slice - row_dir[k] * half_c - col_dir[k] * half_r))
                .collect();
            e.text(0x0020_0032, b"DS", &pos.join("\\"));
            let orient: Vec<String> = row_dir
                .iter()
                .chain(col_dir.iter())
                .map(|&v| ds(v))
                .collect();
            e.text(0x0020_0037, b"DS", &orient.join("\\"));
            e.text(0x0020_0052, b"UI", &self.frame_of_reference);
            e.text(0x0020_1041, b"DS", &ds(slice));
        }
        e.bytes(0x0028_0002, b"US", &1u16.to_le_bytes());
        e.text(0x0028_0004, b"CS", "MONOCHROME2");
        e.bytes(0x0028_0010, b"US", &spec.rows.to_le_bytes());
        e.bytes(0x0028_0011, b"US", &spec.columns.to_le_bytes());
        if tomographic {
            let s = ds(self.spacing);
            e.text(0x0028_0030, b"DS", &format!("{s}\\{s}"));
        }
        let params = self.params;
        e.bytes(0x0028_0100, b"US", &16u16.to_le_bytes());
        e.bytes(0x0028_0101, b"US", &params.bits_stored.to_le_bytes());
        e.bytes(0x0028_0102, b"US", &(params.bits_stored - 1).to_le_bytes());
        e.bytes(0x0028_0103, b"US", &(params.signed as u16).to_le_bytes());
        e.text(0x0028_1050, b"DS", params.window_center);
        e.text(0x0028_1051, b"DS", params.window_width);
        if ct {
            e.text(0x0028_1052, b"DS", "-1024");
            e.text(0x0028_1053, b"DS", "1");
            e.text(0x0028_1054, b"LO", "HU");
        }

        e.header(0x7FE0_0010, b"OW", pixel_bytes);
        self.paint(i, &mut e.buf);
        e.buf
    }

    /// Appends the phantom for instance `i` to `out`: `rows * columns` little-endian 16-bit samples.
    /// Each row is appended whole (background) and then overwritten span by span, so no byte is
    /// written twice by a zero fill (`Vec::resize` is a per-byte loop in unoptimised builds).
    fn paint(&self, i: u32, out: &mut Vec<u8>) {
        let rows = self.spec.rows as usize;
        let columns = self.spec.columns as usize;
        if rows == 0 || columns == 0 {
            return;
        }
        let n = self.spec.instances_per_series.max(1) as f64;
        let t = (i as f64 + 0.5) / n * 2.0 - 1.0;
        let scale = rows.min(columns) as f64 / 2.0;
        let (mid_x, mid_y) = (columns as f64 / 2.0, rows as f64 / 2.0);
        let shapes: Vec<Ellipse> = self
            .regions
            .iter()
            .filter_map(|r| {
                if r.rect {
                    return Some(Ellipse {
                        tissue: r.tissue,
                        cx: mid_x,
                        cy: mid_y,
                        rx: r.rx * mid_x,
                        ry: r.ry * mid_y,
                        rect: true,
                    });
                }
                let size = match r.z {
                    None => 1.0,
                    Some((cz, hz)) => {
                        let d = (t - cz) / hz;
                        if d * d >= 1.0 {
                            return None;
                        }
                        (1.0 - d * d).sqrt()
                    }
                };
                Some(Ellipse {
                    tissue: r.tissue,
                    cx: mid_x + (r.cx + r.dx * t) * scale,
                    cy: mid_y + (r.cy + r.dy * t) * scale,
                    rx: r.rx * size * scale,
                    ry: r.ry * size * scale,
                    rect: false,
                })
            })
            .collect();
        let mut rng = Rng::new(key(&[self.key, K_INSTANCE, i as u64]));
        let row_bytes = columns * 2;
        for y in 0..rows {
            let off = rng.below((columns + NOISE_EXTRA) as u64) as usize * 2;
            let start = out.len();
            out.extend_from_slice(&self.noise_rows[OUTSIDE][off..off + row_bytes]);
            let row = &mut out[start..];
            for shape in &shapes {
                if let Some((x0, x1)) = shape.span(y, columns) {
                    row[x0 * 2..x1 * 2].copy_from_slice(
                        &self.noise_rows[shape.tissue][off + x0 * 2..off + x1 * 2],
                    );
                }
            }
        }
    }
}

/// A decimal string (DS) of at most 16 characters: six decimals, trailing zeros removed.
fn ds(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Explicit VR Little Endian encoding

struct Encoder {
    buf: Vec<u8>,
    /// The last tag written, to keep elements in ascending order.
    last: u32,
}

impl Encoder {
    fn with_capacity(capacity: usize) -> Encoder {
        Encoder {
            buf: Vec::with_capacity(capacity),
            last: 0,
        }
    }

    /// Writes an element header for a value of `len` bytes (`len` even).
    fn header(&mut self, tag: u32, vr: &[u8; 2], len: usize) {
        assert!(
            tag > self.last || self.last == 0,
            "tag ({tag:08X}) out of order"
        );
        debug_assert!(len.is_multiple_of(2));
        self.last = tag;
        self.buf
            .extend_from_slice(&((tag >> 16) as u16).to_le_bytes());
        self.buf.extend_from_slice(&(tag as u16).to_le_bytes());
        self.buf.extend_from_slice(vr);
        if matches!(
            vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        ) {
            self.buf.extend_from_slice(&[0, 0]);
            self.buf
                .extend_from_slice(&u32::try_from(len).expect("value too long").to_le_bytes());
        } else {
            self.buf
                .extend_from_slice(&u16::try_from(len).expect("value too long").to_le_bytes());
        }
    }

    /// A binary value, padded with a zero byte to even length.
    fn bytes(&mut self, tag: u32, vr: &[u8; 2], value: &[u8]) {
        let pad = value.len() % 2;
        self.header(tag, vr, value.len() + pad);
        self.buf.extend_from_slice(value);
        if pad == 1 {
            self.buf.push(0);
        }
    }

    /// A string value, padded to even length with NUL (UI) or a space.
    fn text(&mut self, tag: u32, vr: &[u8; 2], value: &str) {
        let pad = value.len() % 2;
        self.header(tag, vr, value.len() + pad);
        self.buf.extend_from_slice(value.as_bytes());
        if pad == 1 {
            self.buf.push(if vr == b"UI" { 0 } else { b' ' });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SynthSpec {
        SynthSpec {
            rows: 64,
            columns: 48,
            ..SynthSpec::default()
        }
    }

    fn valid_uid(uid: &str) -> bool {
        uid.len() <= 64
            && uid.split('.').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| b.is_ascii_digit())
                    && (c == "0" || !c.starts_with('0'))
            })
    }

    /// The value of the first element with `tag` in an Explicit VR Little Endian Part 10 file.
    fn element(file: &[u8], tag: u32) -> Option<&[u8]> {
        let mut pos = 132;
        while pos + 8 <= file.len() {
            let t = (u16::from_le_bytes([file[pos], file[pos + 1]]) as u32) << 16
                | u16::from_le_bytes([file[pos + 2], file[pos + 3]]) as u32;
            let vr = &file[pos + 4..pos + 6];
            let (len, head) = if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT" | b"UC" | b"UR")
            {
                (
                    u32::from_le_bytes(file[pos + 8..pos + 12].try_into().unwrap()) as usize,
                    12,
                )
            } else {
                (
                    u16::from_le_bytes([file[pos + 6], file[pos + 7]]) as usize,
                    8,
                )
            };
            if t == tag {
                return Some(&file[pos + head..pos + head + len]);
            }
            pos += head + len;
        }
        None
    }

    fn text(file: &[u8], tag: u32) -> String {
        let v = element(file, tag).unwrap_or_else(|| panic!("no ({tag:08X})"));
        String::from_utf8(v.to_vec())
            .unwrap()
            .trim_end_matches(['\0', ' '])
            .to_string()
    }

    #[test]
    fn deterministic() {
        let spec = small();
        for (p, st, se, i) in [(0, 0, 0, 0), (1, 1, 1, 4), (0, 1, 0, 2)] {
            let a = instance_bytes(&spec, p, st, se, i);
            let b = instance_bytes(&spec, p, st, se, i);
            assert_eq!(a, b);
        }
        // Different instances and seeds differ.
        assert_ne!(
            instance_bytes(&spec, 0, 0, 0, 0),
            instance_bytes(&spec, 0, 0, 0, 1)
        );
        let other = SynthSpec { seed: 2, ..small() };
        assert_ne!(
            instance_bytes(&spec, 0, 0, 0, 0),
            instance_bytes(&other, 0, 0, 0, 0)
        );
    }

    #[test]
    fn structure() {
        let spec = SynthSpec {
            modality: Some("CT".into()),
            ..small()
        };
        let f = instance_bytes(&spec, 0, 0, 0, 1);
        assert!(f[..128].iter().all(|&b| b == 0));
        assert_eq!(&f[128..132], b"DICM");
        // The group length covers exactly the rest of group 2.
        let group_len =
            u32::from_le_bytes(element(&f, 0x0002_0000).unwrap().try_into().unwrap()) as usize;
        let data_start = 132 + 12 + group_len;
        assert_eq!(&f[data_start..data_start + 2], &[0x08, 0x00]);
        assert_eq!(text(&f, 0x0002_0010), EXPLICIT_VR_LITTLE_ENDIAN);
        assert_eq!(text(&f, 0x0002_0003), text(&f, 0x0008_0018));
        assert_eq!(text(&f, 0x0008_0016), "1.2.840.10008.5.1.4.1.1.2");
        assert_eq!(text(&f, 0x0008_0060), "CT");
        assert_eq!(text(&f, 0x0020_0013), "2");
        assert_eq!(text(&f, 0x0028_1052), "-1024");
        let pixels = element(&f, 0x7FE0_0010).unwrap();
        assert_eq!(pixels.len(), 64 * 48 * 2);
        assert_eq!(data_start + (f.len() - data_start), f.len());
        // Stored values stay within signed 12 bits and include air, soft tissue and padding.
        let values: Vec<i16> = pixels
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert!(values.iter().all(|&v| (-2048..2048).contains(&v)));
        assert!(values.contains(&-1000));
        assert!(values.iter().any(|&v| (1000..1120).contains(&v)));
        let id = text(&f, 0x0010_0020);
        assert!(
            id.len() == 8 && id.starts_with("LB") && id[2..].bytes().all(|b| b.is_ascii_digit())
        );
        let acc = text(&f, 0x0008_0050);
        assert!(acc.len() == 10 && acc.starts_with("ACC"));
    }

    #[test]
    fn uids_are_valid() {
        let spec = SynthSpec {
            seed: u64::MAX,
            ..small()
        };
        let f = instance_bytes(&spec, 1, 1, 1, 4);
        for tag in [
            0x0002_0002,
            0x0002_0003,
            0x0002_0012,
            0x0008_0016,
            0x0008_0018,
            0x0020_000D,
            0x0020_000E,
        ] {
            let u = text(&f, tag);
            assert!(valid_uid(&u), "{u}");
        }
        assert!(text(&f, 0x0008_0018).starts_with(&format!("{UID_ROOT}.")));
        // The longest possible UID still fits.
        let longest = uid(9_999_999_999, UID_INSTANCE, u64::MAX - 1);
        assert!(valid_uid(&longest) && longest.len() == 61, "{longest}");
        assert!(valid_uid(&uid(spec_hash(&spec), UID_STUDY, 0)));
        assert!(valid_uid(IMPLEMENTATION_CLASS_UID));
        // Every UID of a spec is distinct.
        let spec = SynthSpec {
            patients: 3,
            studies_per_patient: 2,
            series_per_study: 2,
            instances_per_series: 3,
            ..small()
        };
        let mut seen = std::collections::HashSet::new();
        for p in 0..3 {
            for st in 0..2 {
                for se in 0..2 {
                    for i in 0..3 {
                        let f = instance_bytes(&spec, p, st, se, i);
                        assert!(seen.insert(text(&f, 0x0008_0018)));
                        if i == 0 {
                            assert!(seen.insert(text(&f, 0x0020_000E)));
                            if se == 0 {
                                assert!(seen.insert(text(&f, 0x0020_000D)));
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(seen.len(), 36 + 12 + 6);
    }

    #[test]
    fn ct_512_is_about_526_kb() {
        let spec = SynthSpec {
            modality: Some("CT".into()),
            ..SynthSpec::default()
        };
        let f = instance_bytes(&spec, 0, 0, 0, 0);
        assert!((525_000..527_000).contains(&f.len()), "{} bytes", f.len());
    }

    #[test]
    fn patient_ids_and_accessions_are_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..20_000).map(|p| patient_id(7, p)).collect();
        assert_eq!(ids.len(), 20_000);
        assert!(ids.iter().all(|id| id.len() == 8));
        let acc: std::collections::HashSet<String> =
            (0..20_000).map(|s| accession_number(7, s)).collect();
        assert_eq!(acc.len(), 20_000);
    }

    #[test]
    fn dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(date_string(0), "19700101");
        assert_eq!(date_string(days_from_civil(2026, 11, 1) - 1), "20261031");
        assert_eq!(date_string(days_from_civil(2024, 2, 29)), "20240229");
        assert_eq!(time_string(7 * 3600 + 61), "070101");
        assert_eq!(ds(-0.0000001), "0");
        assert_eq!(ds(0.68359375), "0.683594");
        assert_eq!(ds(-174.658203125), "-174.658203");
        assert_eq!(ds(2.5), "2.5");
        assert_eq!(ds(40.0), "40");
    }

    #[test]
    fn utf8_names_carry_a_charset() {
        let spec = SynthSpec {
            patients: 3,
            ..small()
        };
        let f = instance_bytes(&spec, 2, 0, 0, 0);
        assert_eq!(text(&f, 0x0008_0005), "ISO_IR 192");
        assert!(!text(&f, 0x0010_0010).is_ascii());
        let f = instance_bytes(&spec, 0, 0, 0, 0);
        assert!(element(&f, 0x0008_0005).is_none());
        assert!(text(&f, 0x0010_0010).is_ascii());
    }

    #[test]
    fn every_modality_encodes() {
        for m in ["CT", "MR", "CR", "DX", "US", "PT", "XA"] {
            let spec = SynthSpec {
                modality: Some(m.into()),
                instances_per_series: 2,
                ..small()
            };
            let f = instance_bytes(&spec, 0, 0, 1, 1);
            assert_eq!(text(&f, 0x0008_0060), m);
            assert_eq!(element(&f, 0x7FE0_0010).unwrap().len(), 64 * 48 * 2);
        }
    }
}
