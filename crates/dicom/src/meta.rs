//! Writing the Part 10 header (preamble, "DICM" and the file meta group) for data sets that
//! arrive without one, such as instances received over the network.

/// Lightbox's UID root: every UID Lightbox makes starts with it.
pub const UID_ROOT: &str = "1.2.826.0.1.3680043.10.1588";
/// (0002,0012) Implementation Class UID of the files Lightbox writes.
pub const IMPLEMENTATION_CLASS_UID: &str = "1.2.826.0.1.3680043.10.1588.0.1";
/// (0002,0013) Implementation Version Name of the files Lightbox writes.
pub const IMPLEMENTATION_VERSION_NAME: &str = "LIGHTBOX_01";

/// A new UID under the `2.25` root (PS3.5 B.2: a 128-bit random number in decimal).
pub fn random_uid() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let from_system = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !from_system {
        // No system randomness: the time and the process, mixed (unique, if not secret).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mixed = nanos ^ ((std::process::id() as u128) << 64) ^ 0x9E37_79B9_7F4A_7C15;
        bytes = mixed.to_le_bytes();
    }
    // The top bit cleared keeps the number below 2^127: 39 digits at most, 44 characters.
    bytes[15] &= 0x7F;
    format!("2.25.{}", u128::from_le_bytes(bytes))
}

fn element(out: &mut Vec<u8>, element: u16, vr: &[u8; 2], value: &[u8], pad: u8) {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(pad);
    }
    out.extend_from_slice(&0x0002u16.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(vr);
    if vr == b"OB" {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(&value);
}

/// Preamble, magic and file meta information for a data set encoded in `transfer_syntax`.
pub fn part10_header(
    sop_class_uid: &str,
    sop_instance_uid: &str,
    transfer_syntax: &str,
    source_ae: Option<&str>,
) -> Vec<u8> {
    let mut group = Vec::new();
    element(&mut group, 0x0001, b"OB", &[0, 1], 0);
    element(&mut group, 0x0002, b"UI", sop_class_uid.as_bytes(), 0);
    element(&mut group, 0x0003, b"UI", sop_instance_uid.as_bytes(), 0);
    element(&mut group, 0x0010, b"UI", transfer_syntax.as_bytes(), 0);
    element(
        &mut group,
        0x0012,
        b"UI",
        IMPLEMENTATION_CLASS_UID.as_bytes(),
        0,
    );
    element(
        &mut group,
        0x0013,
        b"SH",
        IMPLEMENTATION_VERSION_NAME.as_bytes(),
        b' ',
    );
    if let Some(ae) = source_ae {
        element(&mut group, 0x0016, b"AE", ae.as_bytes(), b' ');
    }
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    out.extend_from_slice(&(group.len() as u32).to_le_bytes());
    out.extend_from_slice(&group);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read_bytes, tag, ReadMode};

    #[test]
    fn header_parses_back() {
        let mut bytes = part10_header(
            "1.2.840.10008.5.1.4.1.1.7",
            "1.2.3.4.5",
            "1.2.840.10008.1.2",
            Some("PEER"),
        );
        // One implicit VR element: (0008,0018) SOP Instance UID.
        bytes.extend_from_slice(&[0x08, 0x00, 0x18, 0x00, 10, 0, 0, 0]);
        bytes.extend_from_slice(b"1.2.3.4.5\0");
        let file = read_bytes(&bytes, ReadMode::Full).unwrap();
        assert_eq!(file.transfer_syntax, "1.2.840.10008.1.2");
        assert_eq!(
            file.meta.text(tag::MEDIA_STORAGE_SOP_INSTANCE_UID).unwrap(),
            "1.2.3.4.5"
        );
        assert_eq!(
            file.dataset.text(tag::SOP_INSTANCE_UID).unwrap(),
            "1.2.3.4.5"
        );
    }
}
