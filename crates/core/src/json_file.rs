//! Small lists kept as one JSON file in the data directory (the nodes, the routing rules): read
//! whole, written whole through a temporary file renamed into place, so that a reader never
//! sees half a file and a crash never leaves one.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// The list in `path`; empty when there is no such file. The error says why it cannot be read.
pub(crate) fn read_list<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

/// Replaces the list in `path`.
pub(crate) fn write_list<T: Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer_pretty(tmp.as_file(), items)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
