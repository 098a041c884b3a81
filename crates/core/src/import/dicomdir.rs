//! DICOMDIR media: the files a media directory references.

use lightbox_dicom::{self as dicom, tag, ReadMode, Value};
use std::path::{Path, PathBuf};

pub const MEDIA_STORAGE_DIRECTORY: &str = "1.2.840.10008.1.3.10";

/// Referenced files of a DICOMDIR, resolved against its folder. Media written on case-insensitive
/// file systems often disagree in case with the IDs, so each component is matched ignoring case
/// when the exact name is missing.
pub fn referenced_files(dicomdir: &Path) -> Result<Vec<PathBuf>, dicom::ParseError> {
    let file = dicom::read_file(dicomdir, ReadMode::Full)?;
    let base = dicomdir.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    collect(&file.dataset, base, &mut out);
    Ok(out)
}

fn collect(ds: &dicom::DataSet, base: &Path, out: &mut Vec<PathBuf>) {
    for element in &ds.elements {
        if let Value::Sequence(items) = &element.value {
            for item in items {
                let components = item.texts(tag::REFERENCED_FILE_ID);
                if !components.is_empty() {
                    out.push(resolve(base, &components));
                }
                collect(item, base, out);
            }
        }
    }
}

fn resolve(base: &Path, components: &[String]) -> PathBuf {
    let mut path = base.to_path_buf();
    for component in components {
        // IDs never climb out of the media: ignore anything that would.
        if component.is_empty() || component == "." || component == ".." || component.contains('/')
        {
            continue;
        }
        let exact = path.join(component);
        path = if exact.exists() {
            exact
        } else {
            std::fs::read_dir(&path)
                .ok()
                .and_then(|entries| {
                    entries
                        .flatten()
                        .find(|e| {
                            e.file_name()
                                .to_string_lossy()
                                .eq_ignore_ascii_case(component)
                        })
                        .map(|e| e.path())
                })
                .unwrap_or(exact)
        };
    }
    path
}
