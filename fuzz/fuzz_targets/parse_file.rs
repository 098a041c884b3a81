//! A file of any bytes: parsed (header and in full), then rendered as the DICOM JSON model and
//! as a text dump, as `lightbox dump` and the metadata views do. Nothing may panic, whatever
//! the lengths the file claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lightbox_dicom::{dump, json, read_bytes, ReadMode};

fuzz_target!(|data: &[u8]| {
    let _ = read_bytes(data, ReadMode::Header);
    if let Ok(file) = read_bytes(data, ReadMode::Full) {
        let _ = json::to_json(&file, &|_| String::new());
        let _ = dump::dump(&file);
    }
});
