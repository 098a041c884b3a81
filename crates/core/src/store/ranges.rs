//! An indexed instance read by byte ranges, for the DICOM parser and the pixel code: from its
//! file when there is one here, otherwise by ranged requests to the object store, so that a
//! header or one frame of a large instance costs a few small reads, not the whole object.

use super::Store;
use lightbox_dicom::parse::ByteSource;
use std::io;
use std::sync::Arc;

/// Bytes fetched at a time: a header usually fits in one request.
const WINDOW: u64 = 256 << 10;

pub(super) struct ObjectRanges {
    pub(super) store: Arc<Store>,
    pub(super) stored_path: String,
    /// The object's size (as indexed).
    pub(super) len: u64,
    pub(super) window: Vec<u8>,
    pub(super) window_start: u64,
}

impl ByteSource for ObjectRanges {
    fn len(&self) -> u64 {
        self.len
    }

    fn bytes(&mut self, pos: u64, n: usize) -> io::Result<&[u8]> {
        let end = pos.saturating_add(n as u64);
        let window_end = self.window_start + self.window.len() as u64;
        if pos < self.window_start || end > window_end {
            if end > self.len {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            // At least the window, never past the end: `n` itself is within `len` (checked).
            let fetch_end = end.max(pos.saturating_add(WINDOW)).min(self.len);
            self.window = self.store.read_range(&self.stored_path, pos..fetch_end)?;
            self.window_start = pos;
            if (self.window.len() as u64) < end - pos {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        let start = (pos - self.window_start) as usize;
        Ok(&self.window[start..start + n])
    }
}
