//! De-identification building blocks (PS3.15 Annex E): what the confidentiality profile's
//! actions need that does not depend on the attribute table.
//!
//! - [`uids`]: new UIDs derived from the old ones under a project key, so that the same source
//!   UID becomes the same new UID across a batch and across runs with that key (references
//!   inside sequences then follow without a lookup table);
//! - [`dates`]: dates and date-times moved by a whole number of days, for the "Retain
//!   Longitudinal Temporal Information with Modified Dates" option, and the per-patient shift;
//! - [`pixels`]: which images may carry burned-in text, and blanking the rectangles given;
//! - [`profile`]: Table E.1-1 and its options; [`apply`]: the profile applied to a data set.

pub mod apply;
pub mod dates;
pub mod pixels;
pub mod profile;
pub mod uids;

/// A code for a patient under `key`: ten characters of `0-9A-Z`, the same in every run with that
/// key (pseudonyms are made of it).
pub fn patient_code(key: &[u8], patient_id: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let digest = keyed_digest(key, &[b"pseudonym", patient_id.trim().as_bytes()]);
    let mut n = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    (0..10)
        .map(|_| {
            let c = ALPHABET[(n % 36) as usize] as char;
            n /= 36;
            c
        })
        .collect()
}

/// A name for the data a key belongs to, safe as a folder name, that does not reveal the key.
pub fn key_label(key: &[u8]) -> String {
    keyed_digest(key, &[b"project"])[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

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
