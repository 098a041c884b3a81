//! The node-local cache of objects kept in an object store: whole instances fetched once and
//! read as files, bounded in size.
//!
//! Entries never go stale (an object's bytes never change under its key), so the only policy
//! is room: when the cache outgrows its limit, the least recently used entries go until it is
//! back under nine tenths of it. The limit is soft: entries used in the last [`IN_USE`] stay,
//! because a retrieval or a send resolves all its files before it starts sending and must find
//! them still there (a retrieval larger than the cache overfills it for that long). An entry
//! removed while open is still safe: unlinked files live on while open.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Entries used more recently than this are never evicted.
const IN_USE: Duration = Duration::from_secs(15 * 60);

/// How much the cache may hold, in bytes (`LIGHTBOX_OBJECT_CACHE_MB`, 2 GiB by default).
#[derive(Debug, Clone, Copy)]
pub struct ObjectCacheLimit(pub u64);

impl ObjectCacheLimit {
    pub fn from_env() -> ObjectCacheLimit {
        let megabytes = std::env::var("LIGHTBOX_OBJECT_CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(2048);
        ObjectCacheLimit(megabytes.saturating_mul(1024 * 1024))
    }
}

pub struct ObjectCache {
    dir: PathBuf,
    parts: PathBuf,
    limit: u64,
    used: AtomicU64,
    evicting: Mutex<()>,
}

impl ObjectCache {
    /// Opens the cache in `dir`, counting what an earlier run left there.
    pub fn open(dir: PathBuf, limit: ObjectCacheLimit) -> io::Result<ObjectCache> {
        let parts = dir.join(".parts");
        // Partial downloads of an earlier run are worth nothing.
        let _ = fs::remove_dir_all(&parts);
        fs::create_dir_all(&parts)?;
        let used = walkdir::WalkDir::new(&dir)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        Ok(ObjectCache {
            dir,
            parts,
            limit: limit.0,
            used: AtomicU64::new(used),
            evicting: Mutex::new(()),
        })
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// The cached copy of `relative`, if there is one; marks it as used now.
    pub fn lookup(&self, relative: &str) -> Option<PathBuf> {
        let path = self.path(relative);
        let file = fs::File::options().write(true).open(&path).ok()?;
        // The modification time is the recency: reads do not update it on their own.
        let _ = file.set_modified(SystemTime::now());
        Some(path)
    }

    /// Whether `relative` is cached (without marking it used).
    pub fn contains(&self, relative: &str) -> bool {
        self.path(relative).is_file()
    }

    /// A temporary file to download into, on the cache's file system so it can be renamed.
    pub fn new_part(&self) -> io::Result<tempfile::NamedTempFile> {
        tempfile::NamedTempFile::new_in(&self.parts)
    }

    /// Moves a complete file into the cache as `relative`; returns its path there.
    pub fn insert(
        &self,
        relative: &str,
        file: tempfile::NamedTempFile,
        size: u64,
    ) -> io::Result<PathBuf> {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        file.persist(&path).map_err(|e| e.error)?;
        let used = self.used.fetch_add(size, Ordering::Relaxed) + size;
        if used > self.limit {
            self.evict();
        }
        Ok(path)
    }

    pub fn remove(&self, relative: &str) {
        let path = self.path(relative);
        if let Ok(meta) = fs::metadata(&path) {
            if fs::remove_file(&path).is_ok() {
                self.used.fetch_sub(meta.len(), Ordering::Relaxed);
            }
        }
    }

    /// Removes the least recently used entries until the cache is under 90% of its limit.
    fn evict(&self) {
        let Ok(_one_at_a_time) = self.evicting.try_lock() else {
            return;
        };
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = walkdir::WalkDir::new(&self.dir)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file() && !e.path().starts_with(&self.parts))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.into_path()))
            })
            .collect();
        entries.sort();
        let recent = SystemTime::now() - IN_USE;
        let total: u64 = entries.iter().map(|e| e.1).sum();
        self.used.store(total, Ordering::Relaxed);
        let target = self.limit / 10 * 9;
        let mut used = total;
        for (used_at, size, path) in entries {
            if used <= target || used_at > recent {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                used -= size;
                self.used.fetch_sub(size, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cache: &ObjectCache, name: &str, size: usize, age: Duration) {
        let mut part = cache.new_part().unwrap();
        std::io::Write::write_all(&mut part, &vec![7u8; size]).unwrap();
        let path = cache.insert(name, part, size as u64).unwrap();
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(SystemTime::now() - age)
            .unwrap();
    }

    #[test]
    fn the_least_recently_used_go_first_and_entries_in_use_stay() {
        let dir = tempfile::tempdir().unwrap();
        let cache =
            ObjectCache::open(dir.path().join("objects"), ObjectCacheLimit(10_000)).unwrap();
        let hour = Duration::from_secs(3600);
        entry(&cache, "files/aa/oldest.dcm", 4_000, hour * 3);
        entry(&cache, "files/bb/older.dcm", 4_000, hour * 2);
        // Over the limit now (12,000): the oldest goes, leaving 8,000 (under 9,000).
        entry(&cache, "files/cc/old.dcm", 4_000, hour);
        assert!(cache.lookup("files/aa/oldest.dcm").is_none());
        assert!(cache.lookup("files/bb/older.dcm").is_some());
        assert!(cache.lookup("files/cc/old.dcm").is_some());
        // Looked up just now, both are in use: a new entry overfills the cache rather than
        // evict them.
        entry(&cache, "files/dd/new.dcm", 4_000, Duration::ZERO);
        for name in ["files/bb/older.dcm", "files/cc/old.dcm", "files/dd/new.dcm"] {
            assert!(cache.lookup(name).is_some(), "{name}");
        }
        // A cache reopened counts what it holds.
        drop(cache);
        let reopened =
            ObjectCache::open(dir.path().join("objects"), ObjectCacheLimit(10_000)).unwrap();
        assert_eq!(reopened.used.load(Ordering::Relaxed), 12_000);
    }
}
