//! `multipart/related` bodies (PS3.18 8.6), split as they arrive: each part's body goes to a
//! temporary file, so neither a STOW-RS upload nor a WADO-RS download is ever held in memory.

use std::io::Write;
use std::path::PathBuf;

/// Headers of one part may not be longer than this.
const MAX_PART_HEADERS: usize = 16 << 10;

#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    #[error("malformed multipart body: {0}")]
    Malformed(&'static str),
    #[error("writing a part: {0}")]
    Io(#[from] std::io::Error),
}

/// The boundary parameter of a `multipart/related` content type, and its `type` parameter.
pub fn boundary_of(content_type: &str) -> Option<(String, Option<String>)> {
    let mut fields = content_type.split(';').map(str::trim);
    if !fields
        .next()
        .is_some_and(|m| m.eq_ignore_ascii_case("multipart/related"))
    {
        return None;
    }
    let (mut boundary, mut kind) = (None, None);
    for field in fields {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim().to_ascii_lowercase().as_str() {
            "boundary" => boundary = Some(value),
            "type" => kind = Some(value),
            _ => {}
        }
    }
    boundary
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .map(|b| (b, kind))
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Preamble,
    AfterDelimiter,
    Headers,
    Body,
    Done,
}

/// An incremental multipart parser writing each part's body to a temporary file.
pub struct Splitter {
    delimiter: Vec<u8>,
    buffer: Vec<u8>,
    state: Phase,
    scratch: PathBuf,
    current: Option<(tempfile::NamedTempFile, String)>,
    finished: Vec<(tempfile::NamedTempFile, String)>,
}

/// Where a part's headers end: (their length, the bytes to skip after them). A part without
/// headers starts with the blank line at once.
fn header_end(buffer: &[u8]) -> Option<(usize, usize)> {
    if buffer.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    find(buffer, b"\r\n\r\n").map(|at| (at, 4))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Splitter {
    pub fn new(boundary: &str, scratch: PathBuf) -> Splitter {
        Splitter {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            // The first delimiter has no line break before it: supply one.
            buffer: b"\r\n".to_vec(),
            state: Phase::Preamble,
            scratch,
            current: None,
            finished: Vec::new(),
        }
    }

    /// Takes the next bytes of the body; completed parts collect in [`Splitter::take_finished`].
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), MultipartError> {
        self.buffer.extend_from_slice(chunk);
        loop {
            match self.state {
                Phase::Preamble => match find(&self.buffer, &self.delimiter) {
                    Some(at) => {
                        self.buffer.drain(..at + self.delimiter.len());
                        self.state = Phase::AfterDelimiter;
                    }
                    None => {
                        let keep = self.delimiter.len().min(self.buffer.len());
                        self.buffer.drain(..self.buffer.len() - keep);
                        return Ok(());
                    }
                },
                Phase::AfterDelimiter => {
                    if self.buffer.len() < 2 {
                        return Ok(());
                    }
                    if self.buffer.starts_with(b"--") {
                        self.state = Phase::Done;
                    } else if self.buffer.starts_with(b"\r\n") {
                        self.buffer.drain(..2);
                        self.state = Phase::Headers;
                    } else {
                        return Err(MultipartError::Malformed(
                            "a delimiter followed by neither CRLF nor --",
                        ));
                    }
                }
                Phase::Headers => match header_end(&self.buffer) {
                    Some((at, skip)) => {
                        let head = String::from_utf8_lossy(&self.buffer[..at]).to_string();
                        self.buffer.drain(..at + skip);
                        let content_type = head
                            .lines()
                            .filter_map(|l| l.split_once(':'))
                            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
                            .map(|(_, v)| v.trim().to_string())
                            .unwrap_or_else(|| "application/dicom".into());
                        let file = tempfile::NamedTempFile::new_in(&self.scratch)?;
                        self.current = Some((file, content_type));
                        self.state = Phase::Body;
                    }
                    None if self.buffer.len() > MAX_PART_HEADERS => {
                        return Err(MultipartError::Malformed("part headers too long"))
                    }
                    None => return Ok(()),
                },
                Phase::Body => {
                    let (file, _) = self.current.as_mut().expect("a part is open in its body");
                    let write = |file: &mut tempfile::NamedTempFile, bytes: &[u8]| {
                        file.as_file_mut().write_all(bytes)
                    };
                    match find(&self.buffer, &self.delimiter) {
                        Some(at) => {
                            write(file, &self.buffer[..at])?;
                            self.buffer.drain(..at + self.delimiter.len());
                            let part = self.current.take().expect("an open part");
                            self.finished.push(part);
                            self.state = Phase::AfterDelimiter;
                        }
                        None => {
                            // Keep what could be the start of a delimiter.
                            let keep = (self.delimiter.len() - 1).min(self.buffer.len());
                            let upto = self.buffer.len() - keep;
                            write(file, &self.buffer[..upto])?;
                            self.buffer.drain(..upto);
                            return Ok(());
                        }
                    }
                }
                Phase::Done => {
                    self.buffer.clear();
                    return Ok(());
                }
            }
        }
    }
}

impl Splitter {
    /// The parts completed so far: each body in a temporary file, with its content type.
    pub fn take_finished(&mut self) -> Vec<(tempfile::NamedTempFile, String)> {
        std::mem::take(&mut self.finished)
    }

    /// Whether the closing delimiter has been seen.
    pub fn is_complete(&self) -> bool {
        self.state == Phase::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts split at every possible chunk boundary come out whole.
    #[test]
    fn parts_survive_any_chunking() {
        let body = b"preamble\r\n--XyZ\r\nContent-Type: application/dicom\r\n\r\nfirst\r\n--XyZ\r\n\r\nsec\r\n--Xy\r\n--XyZ--\r\nepilogue";
        for size in 1..body.len() {
            let dir = tempfile::tempdir().unwrap();
            let mut parts = Splitter::new("XyZ", dir.path().to_path_buf());
            for chunk in body.chunks(size) {
                parts.feed(chunk).unwrap();
            }
            assert!(parts.is_complete(), "chunk size {size}");
            let bodies: Vec<Vec<u8>> = parts
                .finished
                .iter()
                .map(|(f, _)| std::fs::read(f.path()).unwrap())
                .collect();
            assert_eq!(
                bodies,
                [b"first".to_vec(), b"sec\r\n--Xy".to_vec()],
                "chunk size {size}"
            );
            assert_eq!(parts.finished[0].1, "application/dicom");
        }
    }
}
