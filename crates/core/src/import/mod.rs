//! Import: files, folders, DICOMDIR media and zip archives into the store.
//!
//! Inputs are walked on one thread and fed through a bounded channel to parsers on every core;
//! parsed records go through another bounded channel to a single index writer that commits in
//! batches. Memory therefore stays bounded whatever the number of files, and one bad file only
//! ever costs its own entry in the `skipped` list.

mod background;
mod dicomdir;

pub use background::{BackgroundIndexer, Placed};
mod sink;

use crate::index::InsertOutcome;
use crate::model::InstanceRecord;
use crate::store::Store;
use lightbox_dicom::{self as dicom, ReadMode};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use dicomdir::MEDIA_STORAGE_DIRECTORY;

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Index files where they are instead of copying them into the store.
    pub link: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
    /// The store failed (no room, an unwritable folder), not the file: a sender may try again.
    #[serde(skip)]
    pub store_failed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ImportReport {
    pub imported: u64,
    pub duplicates: u64,
    pub skipped: Vec<Skipped>,
}

/// Counters for a progress display; `discovered` grows while folders are walked.
#[derive(Debug, Default)]
pub struct ImportProgress {
    pub discovered: AtomicU64,
    pub processed: AtomicU64,
    pub bytes: AtomicU64,
    /// Set by the caller to stop the import: files not yet parsed are left alone, and what was
    /// already stored stays stored and indexed.
    pub cancel: AtomicBool,
}

impl ImportProgress {
    fn canceled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

const BATCH: usize = 512;
const BATCH_WAIT: Duration = Duration::from_millis(200);
/// What one zip archive may hold (zip bomb guards): beyond these, the archive or the rest of
/// its entries are refused with the reason, before anything is unpacked or the archive's
/// directory is read into memory.
pub mod zip_limits {
    /// Entries in the archive's central directory (the directory is held in memory while the
    /// archive is unpacked: about a kilobyte an entry).
    pub const ENTRIES: u64 = 100_000;
    /// The central directory's size.
    pub const DIRECTORY_BYTES: u64 = 64 << 20;
    /// One entry, unpacked.
    pub const ENTRY_BYTES: u64 = 4 << 30;
    /// Every entry together, unpacked.
    pub const TOTAL_BYTES: u64 = 64 << 30;
    /// How much an entry may inflate beyond [`RATIO_FREE_BYTES`]: DICOM rarely compresses more
    /// than tenfold; a bomb compresses a thousandfold.
    pub const RATIO: u64 = 200;
    pub const RATIO_FREE_BYTES: u64 = 16 << 20;
}

/// One unit of work for the parsers.
enum Input {
    File(PathBuf),
    /// A zip entry, already unpacked into a temporary file in the store; `label` names it for reports.
    Unpacked {
        tmp: tempfile::NamedTempFile,
        label: String,
    },
}

enum Parsed {
    Record(Box<InstanceRecord>),
    /// Stored already (its series, for the records of whoever sent it again).
    Duplicate {
        series_uid: String,
    },
    Skipped(Skipped),
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Whether the file starts like a zip archive.
pub fn is_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"PK\x03\x04"
}

fn is_named_dicomdir(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.eq_ignore_ascii_case("DICOMDIR"))
}

/// Imports `paths` into `store`. Never fails as a whole because of one input: unreadable inputs
/// are reported in `skipped`. Fails only when the store itself cannot be written.
pub fn import(
    store: &Store,
    paths: &[PathBuf],
    options: &ImportOptions,
    progress: &ImportProgress,
) -> Result<ImportReport, crate::index::IndexError> {
    let (input_tx, input_rx) = crossbeam_channel::bounded::<Input>(1024);
    let (parsed_tx, parsed_rx) = crossbeam_channel::bounded::<Parsed>(4096);
    // SOP Instance UIDs claimed by this import, so two copies of one instance racing through the
    // parallel parsers are counted as a duplicate instead of overwriting each other.
    let in_flight: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let walk_skips: Mutex<Vec<Skipped>> = Mutex::new(Vec::new());

    let mut report = std::thread::scope(|scope| {
        scope.spawn(|| {
            for path in paths {
                if progress.canceled() {
                    break;
                }
                walk_input(store, path, &input_tx, &walk_skips, progress);
            }
            drop(input_tx);
        });
        let parsers = scope.spawn(|| {
            input_rx.into_iter().par_bridge().for_each(|input| {
                if progress.canceled() {
                    return;
                }
                let parsed = parse_and_place(store, input, options, &in_flight, progress);
                let _ = parsed_tx.send(parsed);
            });
            drop(parsed_tx);
        });
        let result = write_index(store, parsed_rx, &in_flight, progress);
        let _ = parsers.join();
        result
    })?;
    let mut skipped = walk_skips.into_inner().unwrap_or_else(|e| e.into_inner());
    skipped.append(&mut report.skipped);
    report.skipped = skipped;
    Ok(report)
}

/// What became of one instance handed to [`ingest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingested {
    Stored,
    /// Its SOP Instance UID was already stored; the stored file is kept.
    Duplicate,
}

/// The ingest path for one instance that a network service (C-STORE, and later STOW-RS and
/// WADO-RS retrieval) has written completely to a temporary file in the store's scratch space:
/// the same parse, placement and indexing as an import. When this returns `Stored`, the
/// instance is in the store and the index.
pub fn ingest(
    store: &Store,
    tmp: tempfile::NamedTempFile,
    source: &str,
) -> Result<Ingested, Skipped> {
    ingest_into_series(store, tmp, source).map(|(outcome, _)| outcome)
}

/// [`ingest`], also saying which series a stored instance joined.
pub(crate) fn ingest_into_series(
    store: &Store,
    tmp: tempfile::NamedTempFile,
    source: &str,
) -> Result<(Ingested, Option<String>), Skipped> {
    let input = Input::Unpacked {
        tmp,
        label: source.to_string(),
    };
    let no_other_imports = Mutex::new(HashSet::new());
    match parse_and_place(
        store,
        input,
        &ImportOptions::default(),
        &no_other_imports,
        &ImportProgress::default(),
    ) {
        Parsed::Record(record) => match store.index().insert_batch(std::slice::from_ref(&record)) {
            Ok(outcomes) if outcomes.first() == Some(&InsertOutcome::Inserted) => {
                Ok((Ingested::Stored, Some(record.series_uid)))
            }
            Ok(_) => Ok((Ingested::Duplicate, Some(record.series_uid))),
            Err(e) => Err(skip(source, format!("indexing failed: {e}"))),
        },
        Parsed::Duplicate { series_uid } => Ok((Ingested::Duplicate, Some(series_uid))),
        Parsed::Skipped(skipped) => Err(skipped),
    }
}

/// What a reconciliation found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    /// Managed files that were in place but missing from the index, now indexed.
    pub indexed: u64,
    /// Managed files that cannot be read (reported, left in place).
    pub unreadable: Vec<Skipped>,
    /// Abandoned temporary files removed from the scratch space.
    pub scratch_removed: u64,
}

/// Loose temporary files older than this are abandoned; younger ones may belong to a running
/// import.
const ABANDONED_AFTER: Duration = Duration::from_secs(600);

/// Brings the index back in line with the managed files after a crash: a file renamed into
/// place whose index transaction never committed is indexed now, and abandoned temporary files
/// are removed. Safe to run while nothing else writes to the store.
pub fn reconcile(store: &Store) -> Result<Reconciled, crate::index::IndexError> {
    let mut report = Reconciled {
        scratch_removed: store.remove_abandoned_scratch().unwrap_or(0),
        ..Reconciled::default()
    };
    let now = SystemTime::now();
    // Loose files directly in tmp/ come from versions without per-process scratch folders.
    for entry in std::fs::read_dir(store.root().join("tmp"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
    {
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| now.duration_since(m).ok());
        if age.is_some_and(|a| a > ABANDONED_AFTER) && std::fs::remove_file(entry.path()).is_ok() {
            report.scratch_removed += 1;
        }
    }
    let files_dir = store.root().join("files");
    let mut batch = Vec::new();
    for entry in walkdir::WalkDir::new(&files_dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
    {
        let path = entry.path();
        let relative = match path.strip_prefix(store.root()) {
            Ok(r) => r.to_string_lossy().into_owned(),
            Err(_) => continue,
        };
        let record = dicom::read_file(path, ReadMode::Header)
            .map_err(|e| e.to_string())
            .and_then(|f| InstanceRecord::from_file(&f).map_err(|e| e.to_string()));
        let mut record = match record {
            Ok(r) => r,
            Err(reason) => {
                report
                    .unreadable
                    .push(skip(path.display().to_string(), reason));
                continue;
            }
        };
        if store
            .index()
            .instance_path(&record.sop_instance_uid)?
            .is_some()
        {
            continue;
        }
        let metadata = entry.metadata().ok();
        record.file_path = relative;
        record.file_size = metadata.as_ref().map(|m| m.len()).unwrap_or(0);
        record.received_at = metadata
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or_else(now_millis);
        record.source = Some("recovered at start-up".into());
        batch.push(record);
        if batch.len() >= BATCH {
            report.indexed += store
                .index()
                .insert_batch(&batch)?
                .iter()
                .filter(|o| **o == InsertOutcome::Inserted)
                .count() as u64;
            batch.clear();
        }
    }
    report.indexed += store
        .index()
        .insert_batch(&batch)?
        .iter()
        .filter(|o| **o == InsertOutcome::Inserted)
        .count() as u64;
    Ok(report)
}

fn skip(path: impl Into<String>, reason: impl Into<String>) -> Skipped {
    Skipped {
        path: path.into(),
        reason: reason.into(),
        store_failed: false,
    }
}

fn walk_input(
    store: &Store,
    path: &Path,
    tx: &crossbeam_channel::Sender<Input>,
    skips: &Mutex<Vec<Skipped>>,
    progress: &ImportProgress,
) {
    let send = |input: Input| {
        if progress.canceled() {
            return;
        }
        progress.discovered.fetch_add(1, Ordering::Relaxed);
        let _ = tx.send(input);
    };
    let record_skip = |s: Skipped| skips.lock().unwrap_or_else(|e| e.into_inner()).push(s);
    if path.is_file() && is_named_dicomdir(path) {
        match dicomdir::referenced_files(path) {
            Ok(files) => {
                for file in files {
                    if file.is_file() {
                        send(Input::File(file));
                    } else {
                        record_skip(skip(
                            file.display().to_string(),
                            "referenced by the DICOMDIR but missing",
                        ));
                    }
                }
            }
            Err(e) => record_skip(skip(
                path.display().to_string(),
                format!("unreadable DICOMDIR: {e}"),
            )),
        }
        return;
    }
    if path.is_file() {
        if is_zip(path) {
            unpack_zip(store, path, &send, &record_skip);
        } else {
            send(Input::File(path.to_path_buf()));
        }
        return;
    }
    if !path.is_dir() {
        record_skip(skip(path.display().to_string(), "no such file or folder"));
        return;
    }
    // Inside a folder a DICOMDIR's references are files of the same tree, found by the walk
    // itself, so the DICOMDIR is not expanded again (that would report every file twice).
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        match entry {
            Ok(e) if e.file_type().is_file() => {
                if is_named_dicomdir(e.path()) {
                    continue;
                }
                if is_zip(e.path()) {
                    unpack_zip(store, e.path(), &send, &record_skip);
                } else {
                    send(Input::File(e.into_path()));
                }
            }
            Ok(e) if e.file_type().is_dir() => {}
            // Links to files are followed; anything else is said, never passed over in silence.
            Ok(e) if e.path_is_symlink() => match std::fs::metadata(e.path()) {
                Ok(target) if target.is_file() => send(Input::File(e.into_path())),
                Ok(target) if target.is_dir() => record_skip(skip(
                    e.path().display().to_string(),
                    "a link to a folder: not followed (import the folder itself)",
                )),
                Ok(_) => record_skip(skip(
                    e.path().display().to_string(),
                    "a link to something that is not a file",
                )),
                Err(why) => record_skip(skip(
                    e.path().display().to_string(),
                    format!("a broken link: {why}"),
                )),
            },
            Ok(e) => record_skip(skip(
                e.path().display().to_string(),
                "not a regular file (a FIFO, socket or device)",
            )),
            Err(e) => {
                let where_ = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                record_skip(skip(where_, format!("cannot read: {e}")));
            }
        }
    }
}

/// The entry count and central directory size a zip archive's end record declares (its ZIP64
/// record when there is one).
fn zip_directory(path: &Path) -> io::Result<(u64, u64)> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    // The end record (22 bytes) plus a comment of at most 64 KiB, and a ZIP64 locator before it.
    let tail_len = len.min(22 + 65_535 + 20);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact(&mut tail)?;
    let end = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == [0x50, 0x4B, 0x05, 0x06])
        .ok_or_else(|| io::Error::other("no end of central directory record"))?;
    let u16_at = |i: usize| u16::from_le_bytes([tail[i], tail[i + 1]]) as u64;
    let u32_at =
        |i: usize| u32::from_le_bytes([tail[i], tail[i + 1], tail[i + 2], tail[i + 3]]) as u64;
    let (entries, size) = (u16_at(end + 10), u32_at(end + 12));
    if entries != 0xFFFF && size != 0xFFFF_FFFF {
        return Ok((entries, size));
    }
    // ZIP64: the locator just before the end record points at the ZIP64 end record.
    let locator = end
        .checked_sub(20)
        .filter(|&l| tail[l..l + 4] == [0x50, 0x4B, 0x06, 0x07])
        .ok_or_else(|| io::Error::other("a ZIP64 archive without its locator"))?;
    let record_at =
        u64::from_le_bytes(tail[locator + 8..locator + 16].try_into().expect("8 bytes"));
    file.seek(SeekFrom::Start(record_at))?;
    let mut record = [0u8; 56];
    file.read_exact(&mut record)?;
    if record[..4] != [0x50, 0x4B, 0x06, 0x06] {
        return Err(io::Error::other("no ZIP64 end of central directory record"));
    }
    let u64_at = |i: usize| u64::from_le_bytes(record[i..i + 8].try_into().expect("8 bytes"));
    Ok((u64_at(32), u64_at(40)))
}

fn unpack_zip(store: &Store, path: &Path, send: &dyn Fn(Input), record_skip: &dyn Fn(Skipped)) {
    let refuse = |reason: String| record_skip(skip(path.display().to_string(), reason));
    match zip_directory(path) {
        Err(e) => return refuse(format!("unreadable zip archive: {e}")),
        Ok((entries, _)) if entries > zip_limits::ENTRIES => {
            return refuse(format!(
                "a zip archive of {entries} entries, more than the {} one archive may hold",
                zip_limits::ENTRIES
            ))
        }
        Ok((_, size)) if size > zip_limits::DIRECTORY_BYTES => {
            return refuse(format!(
                "a zip archive whose directory takes {} MB, more than {} MB",
                size >> 20,
                zip_limits::DIRECTORY_BYTES >> 20
            ))
        }
        Ok(_) => {}
    }
    let archive = File::open(path)
        .map_err(zip::result::ZipError::Io)
        .and_then(zip::ZipArchive::new);
    let mut archive = match archive {
        Ok(a) => a,
        Err(e) => return refuse(format!("unreadable zip archive: {e}")),
    };
    let mut unpacked_total = 0u64;
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                record_skip(skip(
                    format!("{}!#{i}", path.display()),
                    format!("unreadable zip entry: {e}"),
                ));
                continue;
            }
        };
        if !entry.is_file() {
            continue;
        }
        let label = format!("{}!{}", path.display(), entry.name());
        if entry.size() > zip_limits::ENTRY_BYTES {
            record_skip(skip(
                label,
                format!(
                    "zip entry larger than {} GiB",
                    zip_limits::ENTRY_BYTES >> 30
                ),
            ));
            continue;
        }
        // Whatever the entry declares, it may inflate only so far: its own limit, its ratio to
        // its compressed size, and what is left of the archive's total.
        let by_ratio = entry
            .compressed_size()
            .saturating_mul(zip_limits::RATIO)
            .max(zip_limits::RATIO_FREE_BYTES);
        let left = zip_limits::TOTAL_BYTES.saturating_sub(unpacked_total);
        let allowed = zip_limits::ENTRY_BYTES.min(by_ratio).min(left);
        // Unpack to the store's scratch space: the parsers then treat it like any other file,
        // and in copy mode it is simply renamed into place.
        let unpacked = tempfile::NamedTempFile::new_in(store.tmp_dir()).and_then(|mut tmp| {
            let copied = io::copy(&mut (&mut entry).take(allowed + 1), tmp.as_file_mut())?;
            Ok((tmp, copied))
        });
        match unpacked {
            Ok((_, copied)) if copied > allowed => {
                let why = if allowed == left {
                    format!(
                        "the archive unpacks to more than {} GiB",
                        zip_limits::TOTAL_BYTES >> 30
                    )
                } else {
                    format!("zip entry inflates more than {}-fold", zip_limits::RATIO)
                };
                record_skip(skip(label, why));
                if allowed == left {
                    return;
                }
            }
            Ok((tmp, copied)) => {
                unpacked_total += copied;
                send(Input::Unpacked { tmp, label })
            }
            Err(e) => record_skip(skip(label, format!("cannot unpack zip entry: {e}"))),
        }
    }
}

fn parse_and_place(
    store: &Store,
    input: Input,
    options: &ImportOptions,
    in_flight: &Mutex<HashSet<String>>,
    progress: &ImportProgress,
) -> Parsed {
    let (path, label) = match &input {
        Input::File(p) => (p.clone(), p.display().to_string()),
        Input::Unpacked { tmp, label } => (tmp.path().to_path_buf(), label.clone()),
    };
    let file = match dicom::read_file(&path, ReadMode::Header) {
        Ok(f) => f,
        Err(e) => return Parsed::Skipped(skip(label, e.to_string())),
    };
    if file
        .meta
        .first_text(dicom::tag::MEDIA_STORAGE_SOP_CLASS_UID)
        .as_deref()
        == Some(MEDIA_STORAGE_DIRECTORY)
    {
        return Parsed::Skipped(skip(label, "a DICOMDIR media directory, not an instance (import it by name to import what it references)"));
    }
    let mut record = match InstanceRecord::from_file(&file) {
        Ok(r) => r,
        Err(e) => return Parsed::Skipped(skip(label, e.to_string())),
    };
    // Compressed frames cut short are refused here, not stored as good and found broken later.
    if let Err(e) = dicom::pixel::check_complete(&file, &path) {
        return Parsed::Skipped(skip(label, format!("pixel data: {e}")));
    }
    drop(file);

    let claimed = in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(record.sop_instance_uid.clone());
    if !claimed {
        return Parsed::Duplicate {
            series_uid: record.series_uid,
        };
    }
    // A copy that fails from here on must not make a later copy of the instance a duplicate.
    let unclaim = |uid: &str| {
        in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    };
    match store.index().instance_path(&record.sop_instance_uid) {
        Ok(Some(_)) => {
            return Parsed::Duplicate {
                series_uid: record.series_uid,
            }
        }
        Ok(None) => {}
        Err(e) => {
            unclaim(&record.sop_instance_uid);
            return Parsed::Skipped(skip(label, format!("index lookup failed: {e}")));
        }
    }

    let linkable = options.link && matches!(input, Input::File(_));
    let placed = if linkable {
        std::fs::canonicalize(&path).and_then(|abs| {
            let size = std::fs::metadata(&abs)?.len();
            Ok((abs.display().to_string(), size, true))
        })
    } else {
        let relative = Store::managed_relative_path(&record.sop_instance_uid);
        match input {
            Input::File(_) => store
                .copy_in(&path, &relative)
                .map(|size| (relative, size, false)),
            Input::Unpacked { tmp, .. } => {
                let size = tmp.as_file().metadata().map(|m| m.len()).unwrap_or(0);
                store
                    .persist(tmp, &relative)
                    .map(|()| (relative, size, false))
            }
        }
    };
    match placed {
        Ok((stored, size, linked)) => {
            progress.bytes.fetch_add(size, Ordering::Relaxed);
            record.file_path = stored;
            record.file_size = size;
            record.linked = linked;
            record.received_at = now_millis();
            record.source = Some(label);
            Parsed::Record(Box::new(record))
        }
        Err(e) => {
            unclaim(&record.sop_instance_uid);
            Parsed::Skipped(Skipped {
                store_failed: true,
                ..skip(label, format!("cannot store the file: {e}"))
            })
        }
    }
}

fn write_index(
    store: &Store,
    rx: crossbeam_channel::Receiver<Parsed>,
    in_flight: &Mutex<HashSet<String>>,
    progress: &ImportProgress,
) -> Result<ImportReport, crate::index::IndexError> {
    let mut report = ImportReport::default();
    let mut batch: Vec<InstanceRecord> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<InstanceRecord>, report: &mut ImportReport| {
        if batch.is_empty() {
            return Ok(());
        }
        let outcomes = store.index().insert_batch(batch)?;
        let mut claimed = in_flight.lock().unwrap_or_else(|e| e.into_inner());
        for (record, outcome) in batch.iter().zip(outcomes) {
            claimed.remove(&record.sop_instance_uid);
            match outcome {
                InsertOutcome::Inserted => report.imported += 1,
                InsertOutcome::Duplicate { .. } => report.duplicates += 1,
            }
        }
        batch.clear();
        Ok::<(), crate::index::IndexError>(())
    };
    let mut last_flush = Instant::now();
    loop {
        match rx.recv_timeout(BATCH_WAIT) {
            Ok(parsed) => {
                progress.processed.fetch_add(1, Ordering::Relaxed);
                match parsed {
                    Parsed::Record(r) => batch.push(*r),
                    Parsed::Duplicate { .. } => report.duplicates += 1,
                    Parsed::Skipped(s) => report.skipped.push(s),
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
        if batch.len() >= BATCH || (!batch.is_empty() && last_flush.elapsed() >= BATCH_WAIT) {
            flush(&mut batch, &mut report)?;
            last_flush = Instant::now();
        }
    }
    flush(&mut batch, &mut report)?;
    Ok(report)
}
