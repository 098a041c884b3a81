//! DIMSE status codes (PS3.7 C) and what they mean to a user.

pub const SUCCESS: u16 = 0x0000;
pub const PENDING: u16 = 0xFF00;
pub const PENDING_WARNING: u16 = 0xFF01;
pub const CANCEL: u16 = 0xFE00;
pub const OUT_OF_RESOURCES: u16 = 0xA700;
/// Refused: out of resources, unable to perform sub-operations (C-GET, C-MOVE).
pub const SUBOPERATIONS_IMPOSSIBLE: u16 = 0xA702;
pub const MOVE_DESTINATION_UNKNOWN: u16 = 0xA801;
pub const DATA_SET_DOES_NOT_MATCH_SOP_CLASS: u16 = 0xA900;
pub const CANNOT_UNDERSTAND: u16 = 0xC000;
pub const PROCESSING_FAILURE: u16 = 0x0110;
pub const SOP_CLASS_NOT_SUPPORTED: u16 = 0x0122;
pub const SUBOPERATIONS_WARNING: u16 = 0xB000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Success,
    Pending,
    Cancel,
    Warning,
    Failure,
}

pub fn category(status: u16) -> Category {
    match status {
        SUCCESS => Category::Success,
        PENDING | PENDING_WARNING => Category::Pending,
        CANCEL => Category::Cancel,
        0x0001 | 0x0107 | 0x0116 | 0xB000..=0xBFFF => Category::Warning,
        _ => Category::Failure,
    }
}

/// A short description for error messages.
// Specific codes come before the ranges of their class on purpose: the first arm wins.
#[allow(clippy::match_overlapping_arm)]
pub fn describe(status: u16) -> String {
    let text = match status {
        SUCCESS => "success",
        PENDING | PENDING_WARNING => "pending",
        CANCEL => "canceled",
        MOVE_DESTINATION_UNKNOWN => "refused: move destination unknown",
        DATA_SET_DOES_NOT_MATCH_SOP_CLASS => "error: data set does not match SOP class",
        SOP_CLASS_NOT_SUPPORTED => "refused: SOP class not supported",
        PROCESSING_FAILURE => "processing failure",
        SUBOPERATIONS_WARNING => {
            "warning: sub-operations complete, one or more failures or warnings"
        }
        0xC000..=0xCFFF => "error: cannot understand",
        0xA700..=0xA7FF => "refused: out of resources",
        0xB000..=0xBFFF => "warning",
        _ => "failure",
    };
    format!("{text} (0x{status:04X})")
}
