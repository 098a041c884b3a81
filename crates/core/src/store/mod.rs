//! The data directory: the index, managed files, thumbnails and scratch space, and where the
//! managed files live: in the data directory itself (the default) or in an S3-compatible object
//! store shared by every node ([`ObjectLocation`]).
//!
//! Layout (`DATA_DIR/`):
//! - `index.sqlite` (+ WAL files): the index (unless it is in PostgreSQL);
//! - `files/ab/<hash>.dcm`: managed instances, named by a hash of the SOP Instance UID, so a
//!   file's place is known from its UID alone (and a rescan can rebuild the index). One level of
//!   256 folders: a second level (65,536 folders) made nearly every new file create a folder
//!   too, which cost ingest about a fifth of its time; a million instances are still only about
//!   4,000 files per folder. (Stores written with the two-level layout keep working: the index
//!   holds each file's path.) In an object store, the same paths are the objects' keys;
//! - `thumbnails/`: the series thumbnail cache (in the object store too when there is one, so
//!   every node renders a series once);
//! - `cache/objects/`: with an object store, this node's bounded cache of fetched objects;
//! - `tmp/`: files being written, renamed into place once complete. Each open store writes in a
//!   scratch folder of its own (`tmp/session-*/`), locked for as long as it is open, so after a
//!   crash the next start knows exactly which partial files nobody owns any more.

mod cache;
mod ranges;
mod s3;
mod sweep;

pub use cache::ObjectCacheLimit;
pub use s3::S3Location;
pub use sweep::{SweepOptions, SweepReport, DEFAULT_GRACE as SWEEP_GRACE};

use crate::index::{Index, IndexError, IndexLocation};
use cache::ObjectCache;
use s3::S3Objects;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read, Seek};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("data directory {path}: {source}")]
    DataDir { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("object store address {given:?}: {reason}")]
    Location { given: String, reason: String },
    #[error("object store {location}: {source}")]
    ObjectStore { location: String, source: io::Error },
    #[error("the managed files are in the data directory, not in an object store")]
    NotInObjectStore,
}

/// Why an indexed instance could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadInstanceError {
    #[error("reading {stored_path}: {source}")]
    Unreadable {
        stored_path: String,
        source: io::Error,
    },
    #[error("{stored_path} is not a readable DICOM instance: {source}")]
    Invalid {
        stored_path: String,
        source: lightbox_dicom::ParseError,
    },
}

/// Where managed files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectLocation {
    /// `DATA_DIR/files/`.
    DataDir,
    /// A bucket (and prefix) of an S3-compatible object store.
    S3(S3Location),
}

impl ObjectLocation {
    /// `""` for the data directory, `s3://BUCKET[/PREFIX]` for an object store.
    pub fn parse(text: &str) -> Result<ObjectLocation, StoreError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(ObjectLocation::DataDir);
        }
        let invalid = |reason: String| StoreError::Location {
            given: text.into(),
            reason,
        };
        match S3Location::parse(text) {
            Some(Ok(location)) => Ok(ObjectLocation::S3(location)),
            Some(Err(reason)) => Err(invalid(reason)),
            None => Err(invalid(
                "expected s3://BUCKET[/PREFIX] (or nothing, for the data directory)".into(),
            )),
        }
    }
}

impl std::fmt::Display for ObjectLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectLocation::DataDir => f.write_str("the data directory"),
            ObjectLocation::S3(location) => location.fmt(f),
        }
    }
}

enum Objects {
    DataDir,
    S3(Box<S3Objects>),
}

pub struct Store {
    root: PathBuf,
    index: Arc<dyn Index>,
    /// The settings lists the index shares with other nodes, if it does.
    shared_lists: Option<crate::index::SharedListsRef>,
    /// Where the index is: the job queue goes with it.
    index_location: IndexLocation,
    objects: Objects,
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

/// Bytes `range` of a local file (fewer if the file ends first).
fn read_file_range(path: &Path, range: Range<u64>) -> io::Result<Vec<u8>> {
    let mut file = fs::File::open(path)?;
    file.seek(io::SeekFrom::Start(range.start))?;
    let mut bytes = Vec::new();
    file.take(range.end.saturating_sub(range.start))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

impl Store {
    /// Opens (creating if needed) the store in `root`, its index and files there too.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        Store::open_with(root, &IndexLocation::DataDir, &ObjectLocation::DataDir)
    }

    /// Opens (creating if needed) the store in `root` with the index at `index` and the managed
    /// files at `objects`.
    pub fn open_with(
        root: &Path,
        index: &IndexLocation,
        objects: &ObjectLocation,
    ) -> Result<Store, StoreError> {
        for dir in ["files", "thumbnails", "tmp"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(|source| StoreError::DataDir { path, source })?;
        }
        let objects = match objects {
            ObjectLocation::DataDir => Objects::DataDir,
            ObjectLocation::S3(location) => {
                let path = root.join("cache").join("objects");
                let cache = ObjectCache::open(path.clone(), ObjectCacheLimit::from_env())
                    .map_err(|source| StoreError::DataDir { path, source })?;
                let objects = S3Objects::open(location.clone(), cache).map_err(|source| {
                    StoreError::ObjectStore {
                        location: location.to_string(),
                        source,
                    }
                })?;
                Objects::S3(Box::new(objects))
            }
        };
        let index_location = index.clone();
        let (index, shared_lists) = index.open_with_lists(root)?;
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
            shared_lists,
            index_location,
            objects,
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

    /// The settings lists (remote nodes, routing rules) shared with every node of the
    /// cluster: `None` when the index is this node's own.
    pub fn shared_lists(&self) -> Option<crate::index::SharedListsRef> {
        self.shared_lists.clone()
    }

    /// Where the index is (the job queue goes with it).
    pub fn index_location(&self) -> &IndexLocation {
        &self.index_location
    }

    /// The job queue that goes with this store's index, for this data directory's node.
    pub fn job_queue(&self) -> Result<crate::jobs::JobQueue, crate::jobs::QueueError> {
        crate::jobs::JobQueue::open_beside(
            &self.root,
            &self.index_location,
            &crate::jobs::node_name(&self.root),
        )
    }

    /// Where the managed files live.
    pub fn object_location(&self) -> ObjectLocation {
        match &self.objects {
            Objects::DataDir => ObjectLocation::DataDir,
            Objects::S3(s3) => ObjectLocation::S3(s3.location().clone()),
        }
    }

    /// Where a managed instance lives, relative to the data directory (its key in an object
    /// store).
    pub fn managed_relative_path(sop_instance_uid: &str) -> String {
        let digest = hex::encode(Sha256::digest(sop_instance_uid.as_bytes()));
        format!("files/{}/{}.dcm", &digest[0..2], &digest[2..34])
    }

    /// The object store holding an indexed instance, when one does: linked files (absolute
    /// paths) stay where the user keeps them whatever the store.
    fn object_store_of(&self, stored_path: &str) -> Option<&S3Objects> {
        match &self.objects {
            Objects::S3(s3) if !Path::new(stored_path).is_absolute() => Some(s3),
            _ => None,
        }
    }

    /// A local file holding an indexed instance: a linked file where it is, a managed one in
    /// the data directory, or this node's cached copy of the object (fetched first if needed).
    pub fn local_path(&self, stored_path: &str) -> io::Result<PathBuf> {
        match self.object_store_of(stored_path) {
            Some(s3) => s3.local_path(stored_path),
            // Joining an absolute path gives that path.
            None => Ok(self.root.join(stored_path)),
        }
    }

    /// Bytes `range` of an indexed instance, without reading the rest of it: from the file, or
    /// a ranged request to the object store (fewer bytes if the instance ends first).
    pub fn read_range(&self, stored_path: &str, range: Range<u64>) -> io::Result<Vec<u8>> {
        match self.object_store_of(stored_path) {
            Some(s3) => s3.read_range(stored_path, range),
            None => read_file_range(&self.local_path(stored_path)?, range),
        }
    }

    /// The SHA-256 of an indexed instance's bytes where they are kept: the file, or the object
    /// itself (streamed from the object store, not from this node's cache, and not cached).
    pub fn content_sha256(&self, stored_path: &str) -> io::Result<[u8; 32]> {
        match self.object_store_of(stored_path) {
            Some(s3) => s3.sha256(stored_path),
            None => {
                let mut file = fs::File::open(self.local_path(stored_path)?)?;
                let mut hasher = Sha256::new();
                io::copy(&mut file, &mut hasher)?;
                Ok(hasher.finalize().into())
            }
        }
    }

    /// Drops this node's cached copy of an object, so that the next read fetches it again.
    pub fn forget_cached(&self, stored_path: &str) {
        if let Objects::S3(s3) = &self.objects {
            s3.forget_cached(stored_path);
        }
    }

    /// An indexed instance as a byte source for the parser and the pixel code (`size` as
    /// indexed): its file, or, for an object not cached on this node, ranged requests to the
    /// object store (a header, or one frame, without fetching the rest).
    pub fn byte_source(
        self: &Arc<Store>,
        stored_path: &str,
        size: u64,
    ) -> io::Result<lightbox_dicom::parse::SharedSource> {
        match self.object_store_of(stored_path) {
            Some(s3) if !s3.is_cached(stored_path) => Ok(Box::new(ranges::ObjectRanges {
                store: self.clone(),
                stored_path: stored_path.to_string(),
                len: size,
                window: Vec::new(),
                window_start: 0,
            })),
            _ => Ok(Box::new(lightbox_dicom::parse::FileSource::open(
                &self.local_path(stored_path)?,
            )?)),
        }
    }

    /// Finds (and with `options.delete` deletes) the objects in the object store that no index
    /// entry names, and counts the index entries whose object is missing; see [`sweep`].
    pub fn sweep_objects(&self, options: SweepOptions) -> Result<SweepReport, StoreError> {
        match &self.objects {
            Objects::S3(s3) => sweep::sweep(s3, self.index().as_ref(), options),
            Objects::DataDir => Err(StoreError::NotInObjectStore),
        }
    }

    /// Whether an indexed instance can be read from a file on this node without fetching it:
    /// a linked file, a managed file in the data directory, or a cached copy of the object.
    pub fn has_local_file(&self, stored_path: &str) -> bool {
        match self.object_store_of(stored_path) {
            Some(s3) => s3.is_cached(stored_path),
            None => true,
        }
    }

    /// Parses an indexed instance (`size` as indexed) where it is stored, through
    /// [`Store::byte_source`]: an object not cached on this node is read by ranges, and the
    /// large values the parser leaves in the source are not fetched at all.
    pub fn read_instance(
        self: &Arc<Store>,
        stored_path: &str,
        size: u64,
        mode: lightbox_dicom::ReadMode,
    ) -> Result<lightbox_dicom::DicomFile, ReadInstanceError> {
        let mut source = self.byte_source(stored_path, size).map_err(|source| {
            ReadInstanceError::Unreadable {
                stored_path: stored_path.to_string(),
                source,
            }
        })?;
        lightbox_dicom::parse::parse(&mut source, mode).map_err(|source| {
            ReadInstanceError::Invalid {
                stored_path: stored_path.to_string(),
                source,
            }
        })
    }

    pub fn thumbnails_dir(&self) -> PathBuf {
        self.root.join("thumbnails")
    }

    /// This store's scratch folder: files being written.
    pub fn tmp_dir(&self) -> PathBuf {
        self.scratch.path().to_path_buf()
    }

    /// Copies `source` into the store under `relative`, atomically: in the data directory a
    /// temporary file in `tmp/` renamed into place only once complete; in an object store an
    /// upload that becomes visible only once complete. Either way a crash never leaves a
    /// partial instance.
    pub fn copy_in(&self, source: &Path, relative: &str) -> io::Result<u64> {
        match &self.objects {
            Objects::DataDir => {
                let tmp = tempfile::NamedTempFile::new_in(self.tmp_dir())?;
                let size = fs::copy(source, tmp.path())?;
                self.persist(tmp, relative)?;
                Ok(size)
            }
            Objects::S3(s3) => s3.upload(source, relative),
        }
    }

    /// Moves a completed temporary file into place under `relative` (uploads it, and keeps it
    /// as the cached copy, with an object store).
    pub fn persist(&self, tmp: tempfile::NamedTempFile, relative: &str) -> io::Result<()> {
        match &self.objects {
            Objects::DataDir => {
                let target = self.root.join(relative);
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent)?;
                }
                tmp.persist(&target).map_err(|e| e.error)?;
            }
            Objects::S3(s3) => {
                let size = s3.upload(tmp.path(), relative)?;
                s3.keep_cached(relative, tmp, size);
            }
        }
        Ok(())
    }

    /// Deletes a managed file and any fan-out directories it leaves empty. Linked files are
    /// never touched: they belong to the user.
    pub fn delete_managed(&self, stored_path: &str) -> io::Result<()> {
        let path = Path::new(stored_path);
        if path.is_absolute() {
            return Ok(());
        }
        if let Some(s3) = self.object_store_of(stored_path) {
            return s3.delete(stored_path);
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

    /// A small shared file (a thumbnail), `relative` to the data directory: every node sees
    /// the same ones when the store is an object store. `None` when there is none.
    pub fn read_shared(&self, relative: &str) -> io::Result<Option<Vec<u8>>> {
        let local = self.root.join(relative);
        match fs::read(&local) {
            Ok(bytes) => return Ok(Some(bytes)),
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        match &self.objects {
            Objects::DataDir => Ok(None),
            Objects::S3(s3) => {
                let bytes = s3.get(relative)?;
                if let Some(bytes) = &bytes {
                    // Shared files never change under a name: keep a local copy.
                    let _ = write_atomically(&local, bytes);
                }
                Ok(bytes)
            }
        }
    }

    /// Writes a small shared file (see [`Store::read_shared`]) atomically.
    pub fn write_shared(&self, relative: &str, bytes: &[u8]) -> io::Result<()> {
        if let Objects::S3(s3) = &self.objects {
            s3.put(relative, bytes.to_vec())?;
        }
        write_atomically(&self.root.join(relative), bytes)
    }

    /// The shared files in the folder `relative_dir`, relative to the data directory.
    pub fn list_shared(&self, relative_dir: &str) -> io::Result<Vec<String>> {
        match &self.objects {
            Objects::S3(s3) => s3.list(relative_dir),
            Objects::DataDir => {
                let mut names = Vec::new();
                let dir = self.root.join(relative_dir);
                for entry in walkdir::WalkDir::new(&dir).into_iter().flatten() {
                    if entry.file_type().is_file() {
                        if let Ok(relative) = entry.path().strip_prefix(&self.root) {
                            names.push(relative.to_string_lossy().into_owned());
                        }
                    }
                }
                Ok(names)
            }
        }
    }

    /// Deletes a shared file (no error when it is gone already).
    pub fn delete_shared(&self, relative: &str) -> io::Result<()> {
        if let Objects::S3(s3) = &self.objects {
            s3.delete(relative)?;
        }
        match fs::remove_file(self.root.join(relative)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file beside it, renamed into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().expect("shared paths have a parent");
    fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    fs::write(tmp.path(), bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
