//! Query strings: percent-decoding, and repeated keys (`modality=CT&modality=MR`) that serde's
//! form decoding does not take.

use crate::ApiError;

/// Percent-decoding of a query string component (`+` is a space).
pub fn decode(component: &str) -> Result<String, ApiError> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::bad_request("malformed percent-encoding"))?;
                out.push(hex);
                i += 2;
            }
            b'%' => return Err(ApiError::bad_request("malformed percent-encoding")),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("query parameters must be UTF-8"))
}

/// The decoded `key=value` pairs of a query string, in order; a key alone has an empty value.
pub fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}
