//! Small lists of settings (the remote nodes, the routing rules): a JSON file in the data
//! directory, read whole and written whole through a temporary file renamed into place (a
//! reader never sees half a file, a crash never leaves one); or, when the index is in
//! PostgreSQL, one row of the shared database, so that every node of a cluster has the same
//! ones and a change made on any node holds on all of them at once.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Lists kept where every node of a cluster reads them (a PostgreSQL index keeps them).
pub trait SharedLists: Send + Sync {
    /// List `name` as JSON text, `None` when it was never written.
    fn read_list(&self, name: &str) -> Result<Option<String>, String>;
    /// Replaces list `name` with what `change` makes of it (given the JSON text there, if
    /// any; `None` back leaves it as it is), atomically against every other writer.
    fn update_list(
        &self,
        name: &str,
        change: &mut (dyn FnMut(Option<String>) -> Option<String> + Send),
    ) -> Result<(), String>;
}

/// Where one list lives.
#[derive(Clone)]
pub(crate) enum ListHome {
    File(PathBuf),
    /// In the cluster's database, under `name`; `local` is the file a node kept before it
    /// joined a cluster, adopted as the shared list if there is none yet.
    Shared {
        lists: Arc<dyn SharedLists>,
        name: &'static str,
        local: PathBuf,
    },
}

/// A list could not be read or written.
#[derive(Debug)]
pub(crate) enum ListError<E> {
    Read {
        place: String,
        reason: String,
    },
    Write {
        place: String,
        reason: String,
    },
    /// What the change itself refused.
    Refused(E),
}

impl ListHome {
    /// `file` in the data directory.
    pub(crate) fn in_data_dir(data_dir: &Path, file: &'static str) -> ListHome {
        ListHome::File(data_dir.join(file))
    }

    /// `file` as the store keeps it: shared by the cluster when the store has shared lists.
    pub(crate) fn of_store(store: &crate::store::Store, file: &'static str) -> ListHome {
        match store.shared_lists() {
            Some(lists) => ListHome::Shared {
                lists,
                name: file,
                local: store.root().join(file),
            },
            None => ListHome::in_data_dir(store.root(), file),
        }
    }

    /// Where the list is, for messages.
    pub(crate) fn place(&self) -> String {
        match self {
            ListHome::File(path) => path.display().to_string(),
            ListHome::Shared { name, .. } => format!("{name} in the cluster's database"),
        }
    }

    /// The list; empty when there is none.
    pub(crate) fn read<T: DeserializeOwned, E>(&self) -> Result<Vec<T>, ListError<E>> {
        let failed = |reason: String| ListError::Read {
            place: self.place(),
            reason,
        };
        let text = match self {
            ListHome::File(path) => read_file(path).map_err(failed)?,
            ListHome::Shared { lists, name, local } => match lists.read_list(name) {
                Ok(Some(text)) => Some(text),
                Ok(None) => self.adopt(lists.as_ref(), name, local).map_err(failed)?,
                Err(reason) => return Err(failed(reason)),
            },
        };
        match text {
            Some(text) => serde_json::from_str(&text).map_err(|e| failed(e.to_string())),
            None => Ok(Vec::new()),
        }
    }

    /// A node's own file becomes the cluster's list when the cluster has none yet (the first
    /// node to start with one wins); the shared list as it then is.
    fn adopt(
        &self,
        lists: &dyn SharedLists,
        name: &str,
        local: &Path,
    ) -> Result<Option<String>, String> {
        let Some(mine) = read_file(local)? else {
            return Ok(None);
        };
        let mut now = None;
        lists.update_list(name, &mut |current| {
            now = Some(current.clone().unwrap_or_else(|| mine.clone()));
            match current {
                Some(_) => None,
                None => {
                    tracing::info!(list = name, file = %local.display(), "this node's list is the cluster's now");
                    Some(mine.clone())
                }
            }
        })?;
        Ok(now)
    }

    /// Changes the list with `change` (which may refuse, with its own error) and writes it.
    pub(crate) fn update<T, E>(
        &self,
        mut change: impl FnMut(&mut Vec<T>) -> Result<(), E> + Send,
    ) -> Result<(), ListError<E>>
    where
        T: Serialize + DeserializeOwned,
        E: Send,
    {
        match self {
            ListHome::File(path) => {
                let mut items = self.read()?;
                change(&mut items).map_err(ListError::Refused)?;
                write_file(path, &items).map_err(|e| ListError::Write {
                    place: self.place(),
                    reason: e.to_string(),
                })
            }
            ListHome::Shared { lists, name, local } => {
                let mut outcome: Result<(), ListError<E>> = Ok(());
                let written = lists.update_list(name, &mut |current| {
                    // With no list in the cluster yet, the change starts from this node's own
                    // file, which it adopts.
                    let text = match current {
                        Some(text) => Some(text),
                        None => match read_file(local) {
                            Ok(text) => text,
                            Err(reason) => {
                                outcome = Err(ListError::Read {
                                    place: local.display().to_string(),
                                    reason,
                                });
                                return None;
                            }
                        },
                    };
                    let parsed: Result<Vec<T>, _> = match &text {
                        Some(text) => serde_json::from_str(text),
                        None => Ok(Vec::new()),
                    };
                    let mut items = match parsed {
                        Ok(items) => items,
                        Err(e) => {
                            outcome = Err(ListError::Read {
                                place: self.place(),
                                reason: e.to_string(),
                            });
                            return None;
                        }
                    };
                    if let Err(refused) = change(&mut items) {
                        outcome = Err(ListError::Refused(refused));
                        return None;
                    }
                    match serde_json::to_string_pretty(&items) {
                        Ok(text) => Some(text),
                        Err(e) => {
                            outcome = Err(ListError::Write {
                                place: self.place(),
                                reason: e.to_string(),
                            });
                            None
                        }
                    }
                });
                written.map_err(|reason| ListError::Write {
                    place: self.place(),
                    reason,
                })?;
                outcome
            }
        }
    }
}

/// The file's text; `None` when there is no such file.
fn read_file(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Replaces the list in `path`.
fn write_file<T: Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer_pretty(tmp.as_file(), items)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
