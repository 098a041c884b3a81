//! Keywords and implicit VRs from the standard data dictionary (dicom-dictionary-std).

use super::tag::Tag;
use super::vr::Vr;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_dictionary_std::StandardDataDictionary;

fn entry(tag: Tag) -> Option<&'static dicom_core::dictionary::DataDictionaryEntryRef<'static>> {
    StandardDataDictionary.by_tag(dicom_core::Tag(tag.0, tag.1))
}

/// The attribute's keyword, e.g. `PatientName`; `None` for private and unknown tags.
pub fn keyword(tag: Tag) -> Option<&'static str> {
    if tag.is_private() {
        return None;
    }
    entry(tag).map(|e| e.alias())
}

/// The tag of a keyword (`PatientName` → (0010,0010)), as DICOMweb query parameters name them.
pub fn tag_of(keyword: &str) -> Option<Tag> {
    StandardDataDictionary
        .by_name(keyword)
        .map(|e| Tag(e.tag.inner().group(), e.tag.inner().element()))
}

/// The VR an implicit-VR encoding implies for `tag`; `UN` when the dictionary does not know it.
pub fn implicit_vr(tag: Tag) -> Vr {
    if tag.1 == 0x0000 {
        return Vr::UL; // group lengths
    }
    if tag.is_private() {
        // Private creator elements are LO; everything else private is opaque.
        return if (0x0010..=0x00FF).contains(&tag.1) {
            Vr::LO
        } else {
            Vr::UN
        };
    }
    match entry(tag).map(|e| e.vr) {
        Some(VirtualVr::Exact(vr)) => Vr::from_bytes(vr.to_bytes()).unwrap_or(Vr::UN),
        Some(VirtualVr::Xs) => Vr::US,
        Some(VirtualVr::Ox) | Some(VirtualVr::Px) => Vr::OW,
        Some(VirtualVr::Lt) => Vr::OW,
        _ => Vr::UN,
    }
}
