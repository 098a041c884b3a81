//! The project key: what new UIDs, pseudonyms and date shifts derive from. The same key gives
//! the same answers in every run, so a study de-identified twice, or a later study of the same
//! patient, fits with the first. A user shares a project by sharing its key file; without one,
//! the data directory keeps a key of its own.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: the project key file is empty")]
    Empty(PathBuf),
}

/// The data directory's own key file.
pub fn default_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("deid").join("project.key")
}

/// The key in `file` (surrounding white space ignored), or the data directory's own key,
/// made on first use (32 random bytes, as hex, readable by the owner only).
pub fn project_key(data_dir: &Path, file: Option<&Path>) -> Result<Vec<u8>, KeyError> {
    let path = match file {
        Some(path) => path.to_path_buf(),
        None => {
            let path = default_key_path(data_dir);
            if !path.exists() {
                create(&path)?;
            }
            path
        }
    };
    let io = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    let bytes = std::fs::read(&path).map_err(io)?;
    let key = bytes.trim_ascii().to_vec();
    if key.is_empty() {
        return Err(KeyError::Empty(path));
    }
    Ok(key)
}

fn create(path: &Path) -> Result<(), KeyError> {
    use std::io::{Read, Write};
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .map_err(io)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => file
            .write_all(format!("{}\n", hex::encode(secret)).as_bytes())
            .map_err(io),
        // Another process made it first: theirs is the key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_key_is_made_once_and_a_given_one_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let first = project_key(dir.path(), None).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(project_key(dir.path(), None).unwrap(), first);
        let given = dir.path().join("k");
        std::fs::write(&given, "  my project \n").unwrap();
        assert_eq!(
            project_key(dir.path(), Some(&given)).unwrap(),
            b"my project"
        );
        std::fs::write(&given, "\n").unwrap();
        assert!(matches!(
            project_key(dir.path(), Some(&given)),
            Err(KeyError::Empty(_))
        ));
    }
}
