//! The data directory: the index, managed files, thumbnails and scratch space.
//!
//! Layout (`DATA_DIR/`):
//! - `index.sqlite` (+ WAL files): the index;
//! - `files/ab/<hash>.dcm`: managed instances, named by a hash of the SOP Instance UID, so a
//!   file's place is known from its UID alone (and a rescan can rebuild the index). One level of
//!   256 folders: a second level (65,536 folders) made nearly every new file create a folder
//!   too, which cost ingest about a fifth of its time; a million instances are still only about
//!   4,000 files per folder. (Stores written with the two-level layout keep working: the index
//!   holds each file's path.);
//! - `thumbnails/`: the series thumbnail cache;
//! - `tmp/`: files being written, renamed into place once complete. Each open store writes in a
//!   scratch folder of its own (`tmp/session-*/`), locked for as long as it is open, so after a
//!   crash the next start knows exactly which partial files nobody owns any more.

use crate::index::{Index, IndexError, IndexLocation};
use sha2::{Digest, Sha256};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("data directory {path}: {source}")]
    DataDir { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Index(#[from] IndexError),
}

pub struct Store {
    root: PathBuf,
    index: Arc<dyn Index>,
    /// Removed when the store is dropped; left behind (unlocked) by a crash.
    scratch: tempfile::TempDir,
    _scratch_lock: fs::File,
}

impl Drop for Store {
    fn drop(&mut self) {
        // The folder itself goes with `scratch`, right after.
        let _ = fs::remove_file(scratch_lock_path(self.scratch.path()));
    }
}

/// The lock file that marks a scratch folder as owned by a live process.
fn scratch_lock_path(scratch: &Path) -> PathBuf {
    scratch.with_extension("lock")
}

impl Store {
    /// Opens (creating if needed) the store in `root`, its index there too.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        Store::open_with(root, &IndexLocation::DataDir)
    }

    /// Opens (creating if needed) the store in `root` with the index at `index`.
    pub fn open_with(root: &Path, index: &IndexLocation) -> Result<Store, StoreError> {
        for dir in ["files", "thumbnails", "tmp"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(|source| StoreError::DataDir { path, source })?;
        }
        let index = index.open(root)?;
        let tmp = root.join("tmp");
        let data_dir = |source| StoreError::DataDir {
            path: tmp.clone(),
            source,
        };
        let scratch = tempfile::Builder::new()
            .prefix("session-")
            .tempdir_in(&tmp)
            .map_err(data_dir)?;
        let lock = fs::File::create(scratch_lock_path(scratch.path())).map_err(data_dir)?;
        lock.lock().map_err(data_dir)?;
        Ok(Store {
            root: root.to_path_buf(),
            index,
            scratch,
            _scratch_lock: lock,
        })
    }

    /// Removes the scratch folders of stores no process holds open any more (a crash left them);
    /// returns how many partial files went with them.
    pub fn remove_abandoned_scratch(&self) -> io::Result<u64> {
        let mut removed = 0;
        for entry in fs::read_dir(self.root.join("tmp"))?.flatten() {
            let path = entry.path();
            if !entry.file_type()?.is_dir() || path == self.scratch.path() {
                continue;
            }
            let lock_path = scratch_lock_path(&path);
            let Ok(lock) = fs::File::options().write(true).open(&lock_path) else {
                continue;
            };
            if lock.try_lock().is_err() {
                // Its owner is alive.
                continue;
            }
            removed += fs::read_dir(&path)?.count() as u64;
            fs::remove_dir_all(&path)?;
            let _ = fs::remove_file(&lock_path);
        }
        Ok(removed)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn index(&self) -> &Arc<dyn Index> {
        &self.index
    }

    /// Where a managed instance lives, relative to the data directory.
    pub fn managed_relative_path(sop_instance_uid: &str) -> String {
        let digest = hex::encode(Sha256::digest(sop_instance_uid.as_bytes()));
        format!("files/{}/{}.dcm", &digest[0..2], &digest[2..34])
    }

    /// The absolute path of an indexed file (managed paths are stored relative to the data dir).
    pub fn resolve(&self, stored_path: &str) -> PathBuf {
        let path = Path::new(stored_path);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.join(path)
        }
    }

    pub fn thumbnails_dir(&self) -> PathBuf {
        self.root.join("thumbnails")
    }

    /// This store's scratch folder: files being written.
    pub fn tmp_dir(&self) -> PathBuf {
        self.scratch.path().to_path_buf()
    }

    /// Copies `source` into the store under `relative`, atomically: a temporary file in `tmp/`,
    /// renamed into place only once complete, so a crash never leaves a partial instance.
    pub fn copy_in(&self, source: &Path, relative: &str) -> io::Result<u64> {
        let tmp = tempfile::NamedTempFile::new_in(self.tmp_dir())?;
        let size = fs::copy(source, tmp.path())?;
        self.persist(tmp, relative)?;
        Ok(size)
    }

    /// Moves a completed temporary file into place under `relative`.
    pub fn persist(&self, tmp: tempfile::NamedTempFile, relative: &str) -> io::Result<()> {
        let target = self.root.join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        tmp.persist(&target).map_err(|e| e.error)?;
        Ok(())
    }

    /// Deletes a managed file and any fan-out directories it leaves empty. Linked files are
    /// never touched: they belong to the user.
    pub fn delete_managed(&self, stored_path: &str) -> io::Result<()> {
        let path = Path::new(stored_path);
        if path.is_absolute() {
            return Ok(());
        }
        let full = self.root.join(path);
        match fs::remove_file(&full) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let files_dir = self.root.join("files");
        let mut dir = full.parent();
        while let Some(d) = dir {
            if d == files_dir || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }
}
