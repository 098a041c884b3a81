//! Attribute tags and the constants the rest of the crate names.

use std::fmt;

/// A DICOM attribute tag: (group, element).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(pub u16, pub u16);

impl Tag {
    pub const fn as_u32(self) -> u32 {
        ((self.0 as u32) << 16) | self.1 as u32
    }

    pub const fn is_private(self) -> bool {
        self.0 % 2 == 1
    }

    /// `GGGGEEEE`, the form the DICOM JSON model uses as a key.
    pub fn hex(self) -> String {
        format!("{:04X}{:04X}", self.0, self.1)
    }

    /// The tag of a `GGGGEEEE` key (as [`Tag::hex`] writes it; either case).
    pub fn from_hex(text: &str) -> Option<Tag> {
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let group = u16::from_str_radix(&text[..4], 16).ok()?;
        let element = u16::from_str_radix(&text[4..], 16).ok()?;
        Some(Tag(group, element))
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:04X},{:04X})", self.0, self.1)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

macro_rules! tags {
    ($($name:ident = ($g:literal, $e:literal);)*) => {
        $(pub const $name: Tag = Tag($g, $e);)*
    };
}

tags! {
    FILE_META_GROUP_LENGTH = (0x0002, 0x0000);
    MEDIA_STORAGE_SOP_CLASS_UID = (0x0002, 0x0002);
    MEDIA_STORAGE_SOP_INSTANCE_UID = (0x0002, 0x0003);
    TRANSFER_SYNTAX_UID = (0x0002, 0x0010);
    SOURCE_APPLICATION_ENTITY_TITLE = (0x0002, 0x0016);
    DIRECTORY_RECORD_SEQUENCE = (0x0004, 0x1220);
    DIRECTORY_RECORD_TYPE = (0x0004, 0x1430);
    REFERENCED_FILE_ID = (0x0004, 0x1500);
    SPECIFIC_CHARACTER_SET = (0x0008, 0x0005);
    IMAGE_TYPE = (0x0008, 0x0008);
    SOP_CLASS_UID = (0x0008, 0x0016);
    SOP_INSTANCE_UID = (0x0008, 0x0018);
    STUDY_DATE = (0x0008, 0x0020);
    SERIES_DATE = (0x0008, 0x0021);
    STUDY_TIME = (0x0008, 0x0030);
    SERIES_TIME = (0x0008, 0x0031);
    ACCESSION_NUMBER = (0x0008, 0x0050);
    MODALITY = (0x0008, 0x0060);
    INSTITUTION_NAME = (0x0008, 0x0080);
    REFERRING_PHYSICIAN_NAME = (0x0008, 0x0090);
    STUDY_DESCRIPTION = (0x0008, 0x1030);
    SERIES_DESCRIPTION = (0x0008, 0x103E);
    PATIENT_NAME = (0x0010, 0x0010);
    PATIENT_ID = (0x0010, 0x0020);
    PATIENT_BIRTH_DATE = (0x0010, 0x0030);
    PATIENT_SEX = (0x0010, 0x0040);
    BODY_PART_EXAMINED = (0x0018, 0x0015);
    STUDY_INSTANCE_UID = (0x0020, 0x000D);
    SERIES_INSTANCE_UID = (0x0020, 0x000E);
    STUDY_ID = (0x0020, 0x0010);
    SERIES_NUMBER = (0x0020, 0x0011);
    INSTANCE_NUMBER = (0x0020, 0x0013);
    IMAGE_POSITION_PATIENT = (0x0020, 0x0032);
    IMAGE_ORIENTATION_PATIENT = (0x0020, 0x0037);
    TEMPORAL_POSITION_IDENTIFIER = (0x0020, 0x0100);
    PLANE_POSITION_SEQUENCE = (0x0020, 0x9113);
    PLANE_ORIENTATION_SEQUENCE = (0x0020, 0x9116);
    FRAME_CONTENT_SEQUENCE = (0x0020, 0x9111);
    TEMPORAL_POSITION_INDEX = (0x0020, 0x9128);
    SAMPLES_PER_PIXEL = (0x0028, 0x0002);
    PHOTOMETRIC_INTERPRETATION = (0x0028, 0x0004);
    PLANAR_CONFIGURATION = (0x0028, 0x0006);
    NUMBER_OF_FRAMES = (0x0028, 0x0008);
    ROWS = (0x0028, 0x0010);
    COLUMNS = (0x0028, 0x0011);
    PIXEL_SPACING = (0x0028, 0x0030);
    BITS_ALLOCATED = (0x0028, 0x0100);
    BITS_STORED = (0x0028, 0x0101);
    HIGH_BIT = (0x0028, 0x0102);
    PIXEL_REPRESENTATION = (0x0028, 0x0103);
    WINDOW_CENTER = (0x0028, 0x1050);
    WINDOW_WIDTH = (0x0028, 0x1051);
    RESCALE_INTERCEPT = (0x0028, 0x1052);
    RESCALE_SLOPE = (0x0028, 0x1053);
    VOI_LUT_FUNCTION = (0x0028, 0x1056);
    RED_PALETTE_LUT_DESCRIPTOR = (0x0028, 0x1101);
    GREEN_PALETTE_LUT_DESCRIPTOR = (0x0028, 0x1102);
    BLUE_PALETTE_LUT_DESCRIPTOR = (0x0028, 0x1103);
    RED_PALETTE_LUT_DATA = (0x0028, 0x1201);
    GREEN_PALETTE_LUT_DATA = (0x0028, 0x1202);
    BLUE_PALETTE_LUT_DATA = (0x0028, 0x1203);
    SEGMENTED_RED_PALETTE_LUT_DATA = (0x0028, 0x1221);
    SEGMENTED_GREEN_PALETTE_LUT_DATA = (0x0028, 0x1222);
    SEGMENTED_BLUE_PALETTE_LUT_DATA = (0x0028, 0x1223);
    MODALITY_LUT_SEQUENCE = (0x0028, 0x3000);
    LUT_DESCRIPTOR = (0x0028, 0x3002);
    LUT_DATA = (0x0028, 0x3006);
    VOI_LUT_SEQUENCE = (0x0028, 0x3010);
    PIXEL_MEASURES_SEQUENCE = (0x0028, 0x9110);
    SHARED_FUNCTIONAL_GROUPS_SEQUENCE = (0x5200, 0x9229);
    PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE = (0x5200, 0x9230);
    FLOAT_PIXEL_DATA = (0x7FE0, 0x0008);
    DOUBLE_FLOAT_PIXEL_DATA = (0x7FE0, 0x0009);
    PIXEL_DATA = (0x7FE0, 0x0010);
    ITEM = (0xFFFE, 0xE000);
    ITEM_DELIMITATION = (0xFFFE, 0xE00D);
    SEQUENCE_DELIMITATION = (0xFFFE, 0xE0DD);
}
