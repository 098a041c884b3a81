//! The vocabulary the data sets draw from: modalities, study and series templates, institutions
//! and names.

use crate::phantom::{ModalityParams, CT_PARAMS, MR_PARAMS, PT_PARAMS, US_PARAMS, XR_PARAMS};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Modality {
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
    pub(crate) fn parse(code: &str) -> Modality {
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

    pub(crate) fn code(self) -> &'static str {
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

    pub(crate) fn sop_class(self) -> &'static str {
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

    /// Its enhanced multi-frame SOP class, for the modalities that have one here.
    pub(crate) fn enhanced_sop_class(self) -> Option<&'static str> {
        match self {
            Modality::Ct => Some("1.2.840.10008.5.1.4.1.1.2.1"),
            Modality::Mr => Some("1.2.840.10008.5.1.4.1.1.4.1"),
            _ => None,
        }
    }

    pub(crate) fn studies(self) -> &'static [StudyTemplate] {
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

    pub(crate) fn params(self) -> &'static ModalityParams {
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
pub(crate) const MODALITY_MIX: [(Modality, u64); 6] = [
    (Modality::Ct, 30),
    (Modality::Mr, 25),
    (Modality::Cr, 12),
    (Modality::Dx, 13),
    (Modality::Us, 10),
    (Modality::Pt, 10),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Plane {
    Axial,
    Sagittal,
    Coronal,
    /// A projection or ultrasound image: no patient geometry.
    Projection,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Shape {
    Torso,
    Head,
}

pub(crate) struct SeriesTemplate {
    pub(crate) desc: &'static str,
    pub(crate) plane: Plane,
    pub(crate) thickness: f64,
}

pub(crate) struct StudyTemplate {
    pub(crate) desc: &'static str,
    pub(crate) body_part: &'static str,
    pub(crate) shape: Shape,
    /// Field of view across the larger image dimension, in mm.
    pub(crate) fov: f64,
    pub(crate) series: &'static [SeriesTemplate],
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

pub(crate) const INSTITUTIONS: &[&str] = &[
    "Lightbox General Hospital",
    "St. Synthetic Medical Center",
    "Riverside Imaging Institute",
    "Northfield University Hospital",
    "Lakeview Radiology Clinic",
    "Mercy Synthetic Hospital",
];

/// Referring physicians; the empty one is an empty (type 2) ReferringPhysicianName.
pub(crate) const REFERRING: &[&str] = &[
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
pub(crate) const FAMILY_NAMES: &[&str] = &[
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
pub(crate) const MALE_NAMES: &[&str] = &[
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
    "Daniel", "Matthew", "Anthony", "Mark", "Paul", "Steven", "Andrew", "Kenneth", "Joshua", "Kevin",
    "Brian", "George", "Edward", "Ronald", "Timothy", "Jason", "Jeffrey", "Ryan", "Jacob", "Gary",
    "Lukas", "Felix", "Jonas", "Luca", "Matteo", "Pierre", "Louis", "Lars", "Erik", "Sven",
    "Piotr", "Tomasz", "Wei", "Hiroshi", "Kenji", "Ravi", "Arjun", "Ahmed", "Omar", "Carlos",
];

#[rustfmt::skip]
pub(crate) const FEMALE_NAMES: &[&str] = &[
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Nancy", "Lisa", "Betty", "Margaret", "Sandra", "Ashley", "Emily", "Donna", "Michelle", "Carol",
    "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Laura", "Sharon", "Cynthia", "Kathleen", "Anna",
    "Sophie", "Marie", "Julia", "Lena", "Giulia", "Chiara", "Camille", "Ingrid", "Astrid", "Agnieszka",
    "Katarzyna", "Mei", "Yuki", "Sakura", "Priya", "Ananya", "Fatima", "Aisha", "Maria", "Lucia",
];

/// Names that need ISO_IR 192 (UTF-8), with the patient's sex.
pub(crate) const NON_ASCII_NAMES: &[(&str, &str)] = &[
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
