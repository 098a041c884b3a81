//! Unit tests of the encoding, the identities and the determinism of the generated files.

use super::identity::{
    accession_number, date_string, days_from_civil, patient_id, spec_hash, time_string, uid,
    UID_INSTANCE, UID_STUDY,
};
use super::series::ds;
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
        let (len, head) = if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT" | b"UC" | b"UR") {
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
    assert!(id.len() == 8 && id.starts_with("LB") && id[2..].bytes().all(|b| b.is_ascii_digit()));
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
    let ids: std::collections::HashSet<String> = (0..20_000).map(|p| patient_id(7, p)).collect();
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
