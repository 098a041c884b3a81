//! De-identification building blocks (PS3.15 Annex E): what the confidentiality profile's
//! actions need that does not depend on the attribute table.
//!
//! - [`uids`]: new UIDs derived from the old ones under a project key, so that the same source
//!   UID becomes the same new UID across a batch and across runs with that key (references
//!   inside sequences then follow without a lookup table);
//! - [`dates`]: dates and date-times moved by a whole number of days, for the "Retain
//!   Longitudinal Temporal Information with Modified Dates" option, and the per-patient shift.

pub mod dates;
pub mod uids;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 of `parts` (each length-prefixed, so that no two lists collide) under `key`.
pub(crate) fn keyed_digest(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(&(part.len() as u64).to_le_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}
