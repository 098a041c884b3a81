//! Managed files in an S3-compatible object store, shared by every node that names the same
//! bucket and prefix.
//!
//! Object keys are the data directory's relative paths under the prefix (`PREFIX/files/ab/….dcm`,
//! `PREFIX/thumbnails/…`), so the index stores the same `file_path` whichever backend holds the
//! bytes and `lightbox migrate` moves a store without rewriting a row.
//!
//! The rest of Lightbox reads instances from files (parsing, rendering, DIMSE sends), so an
//! object is read through a node-local cache (`DATA_DIR/cache/objects/`, bounded by
//! [`ObjectCacheLimit`]): fetched once, streamed to disk, renamed into place when complete.
//! Objects never change under a key (a SOP instance's bytes are fixed once stored, a thumbnail's
//! key carries the series revision), so a cached copy is never stale. Ranged reads of an object
//! not cached go to the store as ranged GETs.

use super::cache::ObjectCache;
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Objects up to this size go up in one PUT; larger ones as a multipart upload of parts this
/// big (S3's smallest part is 5 MiB), at most [`UPLOAD_CONCURRENCY`] parts in flight, so an
/// upload holds at most this times that in memory whatever the instance's size.
const PART_SIZE: usize = 8 * 1024 * 1024;
const UPLOAD_CONCURRENCY: usize = 4;
/// Reads from local files in chunks of this size while uploading.
const READ_CHUNK: usize = 1024 * 1024;

/// How long opening a store waits for the bucket's first answer.
const OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// `s3://BUCKET[/PREFIX]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing slashes; empty for the bucket's root.
    pub prefix: String,
    /// Client settings given here rather than in the `AWS_*` environment variables, which
    /// they win over: `(name, value)` with the variables' names in lower case
    /// (`aws_endpoint_url`, `aws_access_key_id`, …). Empty from the command line.
    pub options: Vec<(String, String)>,
}

impl S3Location {
    /// The same location with one more client setting (see [`S3Location::options`]).
    pub fn with_option(mut self, name: &str, value: &str) -> S3Location {
        self.options.push((name.to_string(), value.to_string()));
        self
    }

    /// Parses `s3://BUCKET[/PREFIX]`; `None` when `text` is not an `s3://` address.
    pub fn parse(text: &str) -> Option<Result<S3Location, String>> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Some(Err("no bucket name after s3://".into()));
        }
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
        if !bucket.chars().all(valid) {
            return Some(Err(format!(
                "bucket name {bucket:?} has characters S3 does not allow (a-z, 0-9, '-', '.')"
            )));
        }
        let prefix = prefix.trim_matches('/').to_string();
        if prefix.split('/').any(|part| part == "." || part == "..") {
            return Some(Err(format!("prefix {prefix:?} has a '.' or '..' part")));
        }
        Some(Ok(S3Location {
            bucket: bucket.to_string(),
            prefix,
            options: Vec::new(),
        }))
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// An object as a listing gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    /// Its data-directory relative path (its key without the store's prefix).
    pub relative: String,
    pub size: u64,
    /// When it was last written, in milliseconds since the Unix epoch.
    pub modified_ms: i64,
}

pub struct S3Objects {
    location: S3Location,
    client: Arc<dyn ObjectStore>,
    /// The object store client is async; the store's callers are threads (rayon, the job
    /// engine, `spawn_blocking`), some of them inside another runtime, so requests run on a
    /// runtime of this store's own and the caller waits on a channel, never on `block_on`.
    runtime: Option<tokio::runtime::Runtime>,
    cache: ObjectCache,
}

impl Drop for S3Objects {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics on an async thread: let it go in the
        // background instead (nothing is in flight once the store is dropped).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An object store failure as an `io::Error` of the matching kind: a missing object is
/// `NotFound`, so callers match it as they match a missing file.
fn io_error(error: object_store::Error) -> io::Error {
    match error {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, error),
        other => io::Error::other(other),
    }
}

impl S3Objects {
    /// Connects to the bucket (endpoint, region and credentials from the `AWS_*` environment
    /// variables) and checks that it answers, so a wrong address fails at start, not at the
    /// first instance.
    pub fn open(location: S3Location, cache: ObjectCache) -> io::Result<S3Objects> {
        // reqwest's TLS has no crypto provider of its own here: ring's, as DICOM TLS uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let invalid = |e: object_store::Error| io::Error::new(io::ErrorKind::InvalidInput, e);
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&location.bucket);
        for (name, value) in &location.options {
            let key: AmazonS3ConfigKey = name.parse().map_err(invalid)?;
            builder = builder.with_config(key, value);
        }
        let client: AmazonS3 = builder.build().map_err(invalid)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lightbox-s3")
            .enable_all()
            .build()?;
        let objects = S3Objects {
            location,
            client: Arc::new(client),
            runtime: Some(runtime),
            cache,
        };
        let client = objects.client.clone();
        let prefix = objects.prefix_path();
        // The client retries a store that does not answer for minutes: at start, a short wait
        // and a clear error are worth more.
        let answered = objects.wait(async move {
            let listing = client.list_with_delimiter(prefix.as_ref());
            tokio::time::timeout(OPEN_TIMEOUT, listing).await
        });
        match answered {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(io::Error::other(format!(
                    "the bucket does not answer as expected: {e}"
                )))
            }
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {} s", OPEN_TIMEOUT.as_secs()),
                ))
            }
        }
        Ok(objects)
    }

    pub fn location(&self) -> &S3Location {
        &self.location
    }

    fn prefix_path(&self) -> Option<ObjectPath> {
        (!self.location.prefix.is_empty()).then(|| ObjectPath::from(self.location.prefix.as_str()))
    }

    /// The key of a data-directory relative path.
    fn key(&self, relative: &str) -> ObjectPath {
        if self.location.prefix.is_empty() {
            ObjectPath::from(relative)
        } else {
            ObjectPath::from(format!("{}/{relative}", self.location.prefix))
        }
    }

    /// Runs `request` on the store's runtime and waits for its answer.
    fn wait<T: Send + 'static>(&self, request: impl Future<Output = T> + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the store");
        runtime.spawn(async move {
            let _ = tx.send(request.await);
        });
        rx.recv()
            .expect("a request on the store's runtime always answers")
    }

    /// Uploads the local file `source` as `relative`: one PUT when small, a multipart upload
    /// when large (streamed from the file, bounded memory). The object becomes visible only
    /// when complete, and the caller indexes it only after this returns.
    pub fn upload(&self, source: &Path, relative: &str) -> io::Result<u64> {
        let mut file = std::fs::File::open(source)?;
        let size = file.metadata()?.len();
        if size as usize <= PART_SIZE {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes)?;
            self.put(relative, bytes)?;
            return Ok(size);
        }
        let key = self.key(relative);
        let client = self.client.clone();
        self.wait(async move {
            let mut writer = BufWriter::with_capacity(client, key, PART_SIZE)
                .with_max_concurrency(UPLOAD_CONCURRENCY);
            let mut chunk = vec![0u8; READ_CHUNK];
            let result: io::Result<()> = async {
                loop {
                    // A local file read between parts: short, and the runtime has threads to spare.
                    let n = file.read(&mut chunk)?;
                    if n == 0 {
                        break;
                    }
                    writer.write_all(&chunk[..n]).await?;
                }
                writer.shutdown().await
            }
            .await;
            if result.is_err() {
                // Leaves no incomplete multipart upload behind.
                let _ = writer.abort().await;
            }
            result
        })?;
        Ok(size)
    }

    /// Stores `bytes` as `relative` in one PUT (thumbnails and other small shared files).
    pub fn put(&self, relative: &str, bytes: Vec<u8>) -> io::Result<()> {
        let client = self.client.clone();
        let key = self.key(relative);
        self.wait(async move { client.put(&key, PutPayload::from(bytes)).await })
            .map(|_| ())
            .map_err(io_error)
    }

    /// The whole object `relative`, or `None` when there is none.
    pub fn get(&self, relative: &str) -> io::Result<Option<Vec<u8>>> {
        let client = self.client.clone();
        let key = self.key(relative);
        let answer = self.wait(async move {
            match client.get(&key).await {
                Ok(result) => result.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        answer.map(|b| b.map(|b| b.to_vec())).map_err(io_error)
    }

    /// A local file holding object `relative`: the cached copy, fetched first if needed.
    pub fn local_path(&self, relative: &str) -> io::Result<PathBuf> {
        if let Some(path) = self.cache.lookup(relative) {
            return Ok(path);
        }
        let mut tmp = self.cache.new_part()?;
        let client = self.client.clone();
        let key = self.key(relative);
        let mut writer = tmp.reopen()?;
        let size = self.wait(async move {
            let mut stream = client.get(&key).await.map_err(io_error)?.into_stream();
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk: Bytes = chunk.map_err(io_error)?;
                writer.write_all(&chunk)?;
                size += chunk.len() as u64;
            }
            writer.flush()?;
            io::Result::Ok(size)
        })?;
        tmp.as_file_mut().sync_data().ok();
        self.cache.insert(relative, tmp, size)
    }

    /// Bytes `range` of object `relative`: from the cached copy when there is one, otherwise a
    /// ranged GET (a frame or bulk data element without fetching the whole instance).
    pub fn read_range(&self, relative: &str, range: Range<u64>) -> io::Result<Vec<u8>> {
        if let Some(path) = self.cache.lookup(relative) {
            return super::read_file_range(&path, range);
        }
        let client = self.client.clone();
        let key = self.key(relative);
        // An open end is asked as such: some servers refuse a last byte far past the object's.
        let range = if range.end == u64::MAX {
            GetRange::Offset(range.start)
        } else {
            GetRange::Bounded(range)
        };
        let options = GetOptions {
            range: Some(range),
            ..GetOptions::default()
        };
        self.wait(async move { client.get_opts(&key, options).await?.bytes().await })
            .map(|b| b.to_vec())
            .map_err(io_error)
    }

    /// Keeps a file this node just wrote (and uploaded) as the cached copy of `relative`.
    pub fn keep_cached(&self, relative: &str, file: tempfile::NamedTempFile, size: u64) {
        let _ = self.cache.insert(relative, file, size);
    }

    /// The SHA-256 of object `relative` as the store holds it (streamed, never cached).
    pub fn sha256(&self, relative: &str) -> io::Result<[u8; 32]> {
        let client = self.client.clone();
        let key = self.key(relative);
        self.wait(async move {
            let mut stream = client.get(&key).await.map_err(io_error)?.into_stream();
            let mut hasher = Sha256::new();
            while let Some(chunk) = stream.next().await {
                hasher.update(&chunk.map_err(io_error)?);
            }
            io::Result::Ok(hasher.finalize().into())
        })
    }

    /// Whether this node holds a copy of object `relative`.
    pub fn is_cached(&self, relative: &str) -> bool {
        self.cache.contains(relative)
    }

    pub fn forget_cached(&self, relative: &str) {
        self.cache.remove(relative);
    }

    /// Deletes object `relative` (a missing one is no error) and its cached copy.
    pub fn delete(&self, relative: &str) -> io::Result<()> {
        self.cache.remove(relative);
        let client = self.client.clone();
        let key = self.key(relative);
        match self.wait(async move { client.delete(&key).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    /// The folders directly under the folder `relative_dir`, as relative paths ending in `/`.
    pub fn folders(&self, relative_dir: &str) -> io::Result<Vec<String>> {
        let client = self.client.clone();
        let key = self.key(relative_dir);
        let listing = self.wait(async move { client.list_with_delimiter(Some(&key)).await });
        let strip = self.strip_prefix();
        Ok(listing
            .map_err(io_error)?
            .common_prefixes
            .into_iter()
            .filter_map(|p| p.as_ref().strip_prefix(&strip).map(|f| format!("{f}/")))
            .collect())
    }

    /// The objects under the folder `relative_dir` (at any depth), sorted by relative path.
    pub fn list_objects(&self, relative_dir: &str) -> io::Result<Vec<StoredObject>> {
        let client = self.client.clone();
        let key = self.key(relative_dir);
        let listed = self.wait(async move {
            let mut listing = client.list(Some(&key));
            let mut metas = Vec::new();
            while let Some(meta) = listing.next().await {
                metas.push(meta?);
            }
            Ok::<_, object_store::Error>(metas)
        });
        let strip = self.strip_prefix();
        let mut objects: Vec<StoredObject> = listed
            .map_err(io_error)?
            .into_iter()
            .filter_map(|meta| {
                let relative = meta.location.as_ref().strip_prefix(&strip)?.to_string();
                Some(StoredObject {
                    relative,
                    size: meta.size,
                    modified_ms: meta.last_modified.timestamp_millis(),
                })
            })
            .collect();
        objects.sort_by(|a, b| a.relative.cmp(&b.relative));
        Ok(objects)
    }

    /// Object `relative` as it is now, `None` when there is none.
    pub fn head(&self, relative: &str) -> io::Result<Option<StoredObject>> {
        let client = self.client.clone();
        let key = self.key(relative);
        match self.wait(async move { client.head(&key).await }) {
            Ok(meta) => Ok(Some(StoredObject {
                relative: relative.to_string(),
                size: meta.size,
                modified_ms: meta.last_modified.timestamp_millis(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    /// What keys start with before their data-directory relative path.
    fn strip_prefix(&self) -> String {
        match self.location.prefix.as_str() {
            "" => String::new(),
            prefix => format!("{prefix}/"),
        }
    }

    /// The relative paths of the objects under the folder `relative_dir`.
    pub fn list(&self, relative_dir: &str) -> io::Result<Vec<String>> {
        let client = self.client.clone();
        let key = self.key(relative_dir);
        let strip = match self.location.prefix.as_str() {
            "" => String::new(),
            prefix => format!("{prefix}/"),
        };
        let metas = self.wait(async move {
            let mut listing = client.list(Some(&key));
            let mut names = Vec::new();
            while let Some(meta) = listing.next().await {
                names.push(meta?.location.to_string());
            }
            Ok::<_, object_store::Error>(names)
        });
        let names = metas.map_err(io_error)?;
        Ok(names
            .into_iter()
            .filter_map(|n| n.strip_prefix(&strip).map(str::to_string))
            .collect())
    }
}
