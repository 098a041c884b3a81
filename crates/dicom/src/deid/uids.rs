//! New UIDs for old ones under a project key: `2.25.` and 127 bits of HMAC-SHA256 of the old
//! UID (PS3.5 B.2), so the mapping needs no table, cannot be reversed without the key, and gives
//! the same answer in every run with the same key.

use super::keyed_digest;

/// The UID `uid` becomes under `key` (surrounding spaces and NUL padding ignored).
pub fn derive(key: &[u8], uid: &str) -> String {
    let uid = uid.trim_matches(['\0', ' ']);
    let digest = keyed_digest(key, &[b"uid", uid.as_bytes()]);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // Below 2^127: at most 39 digits, 44 characters with the root, under UI's 64.
    bytes[15] &= 0x7F;
    format!("2.25.{}", u128::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_uid_under_the_same_key_is_the_same_new_uid() {
        let a = derive(b"project one", "1.2.840.113619.2.55.3.604688119");
        assert_eq!(
            a,
            derive(b"project one", "1.2.840.113619.2.55.3.604688119\0")
        );
        assert_ne!(a, derive(b"project two", "1.2.840.113619.2.55.3.604688119"));
        assert_ne!(a, derive(b"project one", "1.2.840.113619.2.55.3.604688120"));
        assert!(a.starts_with("2.25.") && a.len() <= 64, "{a}");
        assert!(a[5..].bytes().all(|b| b.is_ascii_digit()) && !a[5..].starts_with('0'));
    }
}
