//! The project key: what new UIDs, pseudonyms and date shifts derive from. The same key gives
//! the same answers in every run, so a study de-identified twice, or a later study of the same
//! patient, fits with the first. A user shares a project by sharing its key file; without one,
//! the data directory keeps a key of its own, or, in a cluster, its database keeps one for
//! every node.

use crate::lists::SharedLists;
use std::path::{Path, PathBuf};

/// The cluster's own key, in its shared lists.
const CLUSTER_KEY: &str = "deid-project-key";

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
    #[error("the cluster's project key: {0}")]
    Shared(String),
}

/// The data directory's own key file.
pub fn default_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("deid").join("project.key")
}

/// The key in `file` (surrounding white space ignored); else the cluster's key when `shared`
/// lists are given; else the data directory's own key. Own keys are made on first use (32
/// random bytes, as hex; a file readable by the owner only).
pub fn project_key(
    data_dir: &Path,
    file: Option<&Path>,
    shared: Option<&dyn SharedLists>,
) -> Result<Vec<u8>, KeyError> {
    match (file, shared) {
        (Some(path), _) => read_key(path),
        (None, Some(lists)) => cluster_key(lists, &default_key_path(data_dir)),
        (None, None) => {
            let path = default_key_path(data_dir);
            if !path.exists() {
                create(&path)?;
            }
            read_key(&path)
        }
    }
}

fn read_key(path: &Path) -> Result<Vec<u8>, KeyError> {
    let bytes = std::fs::read(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let key = bytes.trim_ascii().to_vec();
    if key.is_empty() {
        return Err(KeyError::Empty(path.to_path_buf()));
    }
    Ok(key)
}

/// The cluster's key; the first node to need one brings the key of its own data directory
/// (`own`), if it has one, so that what it de-identified before fits, else makes one.
fn cluster_key(lists: &dyn SharedLists, own: &Path) -> Result<Vec<u8>, KeyError> {
    let mut chosen: Option<Result<String, KeyError>> = None;
    lists
        .update_list(CLUSTER_KEY, &mut |current| {
            if let Some(text) = current {
                chosen =
                    Some(serde_json::from_str(&text).map_err(|e| KeyError::Shared(e.to_string())));
                return None;
            }
            let brought = if own.exists() {
                read_key(own).map(|key| String::from_utf8_lossy(&key).into_owned())
            } else {
                random_secret().map_err(|source| KeyError::Io {
                    path: PathBuf::from("/dev/urandom"),
                    source,
                })
            };
            let text = brought
                .as_ref()
                .ok()
                .map(|key| serde_json::json!(key).to_string());
            chosen = Some(brought);
            text
        })
        .map_err(KeyError::Shared)?;
    let key = chosen.unwrap_or_else(|| Err(KeyError::Shared("no answer".into())))?;
    if key.trim().is_empty() {
        return Err(KeyError::Shared("the key is empty".into()));
    }
    Ok(key.trim().as_bytes().to_vec())
}

/// 32 random bytes, as hex.
fn random_secret() -> std::io::Result<String> {
    use std::io::Read;
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
    Ok(hex::encode(secret))
}

fn create(path: &Path) -> Result<(), KeyError> {
    use std::io::Write;
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let secret = random_secret().map_err(io)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => file.write_all(format!("{secret}\n").as_bytes()).map_err(io),
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
        let first = project_key(dir.path(), None, None).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(project_key(dir.path(), None, None).unwrap(), first);
        let given = dir.path().join("k");
        std::fs::write(&given, "  my project \n").unwrap();
        assert_eq!(
            project_key(dir.path(), Some(&given), None).unwrap(),
            b"my project"
        );
        std::fs::write(&given, "\n").unwrap();
        assert!(matches!(
            project_key(dir.path(), Some(&given), None),
            Err(KeyError::Empty(_))
        ));
    }
}
