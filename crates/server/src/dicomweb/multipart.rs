//! `multipart/related` responses streamed from files: a bounded channel between a producer task
//! and the body, so a large series leaves in 64 KiB chunks and never sits whole in memory.

use axum::body::{Body, Bytes};
use lightbox_core::store::Store;
use std::path::PathBuf;
use std::sync::Arc;

/// Files up to this size are read in one piece; larger ones in CHUNK pieces.
const WHOLE_FILE: u64 = 16 << 20;
const CHUNK: usize = 1 << 20;

/// The piece of `path` at `offset` before `end` (the file's end when `None`), and whether more
/// follows.
fn read_piece(
    path: &std::path::Path,
    offset: u64,
    end: Option<u64>,
) -> std::io::Result<(Vec<u8>, bool)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let end = match end {
        Some(end) => end,
        None => file.metadata()?.len(),
    };
    let whole = offset == 0 && end <= WHOLE_FILE;
    let size = if whole {
        end
    } else {
        (CHUNK as u64).min(end.saturating_sub(offset))
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut piece = Vec::with_capacity(size as usize);
    file.take(size).read_to_end(&mut piece)?;
    let more = offset + (piece.len() as u64) < end && !piece.is_empty();
    Ok((piece, more))
}

/// One part of a response.
pub enum Part {
    /// A file sent as is (`_keep` holds a temporary file alive until it has been sent).
    File {
        path: PathBuf,
        content_type: String,
        _keep: Option<tempfile::NamedTempFile>,
    },
    Bytes {
        content_type: String,
        bytes: Vec<u8>,
    },
    /// `length` bytes of a file from `offset` (bulk data inside a stored instance), sent in
    /// pieces as they are read.
    Span {
        path: PathBuf,
        offset: u64,
        length: u64,
        content_type: String,
    },
    /// `length` bytes from `offset` of an indexed instance this node holds no copy of (an
    /// object in the object store), fetched in CHUNK ranges as they are sent: bulk data of a
    /// large instance costs what is sent, not the whole object.
    StoredSpan {
        store: Arc<Store>,
        stored_path: String,
        offset: u64,
        length: u64,
        content_type: String,
    },
}

/// Sends `length` bytes of an indexed instance from `offset` in CHUNK ranges (see
/// [`Part::StoredSpan`]). False when the client went away or a read failed (the error was sent).
async fn send_stored_span(
    chunks: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    store: Arc<Store>,
    stored_path: String,
    mut offset: u64,
    length: u64,
) -> bool {
    let end = offset.saturating_add(length);
    while offset < end {
        let range = offset..end.min(offset + CHUNK as u64);
        let (store, path) = (store.clone(), stored_path.clone());
        let read = tokio::task::spawn_blocking(move || store.read_range(&path, range))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        match read {
            // The object ends before the span the index promised: a torn object.
            Ok(piece) if piece.is_empty() => {
                let short = std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{stored_path} ends at byte {offset}, before its bulk data does"),
                );
                let _ = chunks.send(Err(short)).await;
                return false;
            }
            Ok(piece) => {
                offset += piece.len() as u64;
                if chunks.send(Ok(Bytes::from(piece))).await.is_err() {
                    return false;
                }
            }
            Err(e) => {
                let _ = chunks.send(Err(e)).await;
                return false;
            }
        }
    }
    true
}

/// Sends `path` from `offset` to `end` (the file's end when `None`) on `chunks`: whole files up
/// to WHOLE_FILE in one read (an instance is usually well under a megabyte), the rest in CHUNK
/// pieces. Blocking reads on the blocking pool: tokio's file reads would hop threads for every
/// small piece. False when the client went away or a read failed (the error was sent).
async fn send_file(
    chunks: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    path: PathBuf,
    mut offset: u64,
    end: Option<u64>,
) -> bool {
    loop {
        let file = path.clone();
        let read = tokio::task::spawn_blocking(move || read_piece(&file, offset, end))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        match read {
            Ok((piece, more)) => {
                offset += piece.len() as u64;
                if !piece.is_empty() && chunks.send(Ok(Bytes::from(piece))).await.is_err() {
                    return false;
                }
                if !more {
                    return true;
                }
            }
            Err(e) => {
                let _ = chunks.send(Err(e)).await;
                return false;
            }
        }
    }
}

/// A boundary that does not occur in DICOM data by accident.
pub fn boundary() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("lightbox-{nanos:x}-{:x}", std::process::id())
}

/// The body of a multipart response whose parts `produce` sends, in order, on the channel it is
/// given (it stops early if the client goes away).
pub fn body<F, Fut>(boundary: String, produce: F) -> Body
where
    F: FnOnce(tokio::sync::mpsc::Sender<Part>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (parts_tx, mut parts_rx) = tokio::sync::mpsc::channel::<Part>(2);
    let (chunks_tx, chunks_rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(produce(parts_tx));
    tokio::spawn(async move {
        while let Some(part) = parts_rx.recv().await {
            let content_type = match &part {
                Part::File { content_type, .. }
                | Part::Bytes { content_type, .. }
                | Part::Span { content_type, .. }
                | Part::StoredSpan { content_type, .. } => content_type.clone(),
            };
            let head = format!("--{boundary}\r\nContent-Type: {content_type}\r\n\r\n");
            if chunks_tx.send(Ok(Bytes::from(head))).await.is_err() {
                return;
            }
            match part {
                Part::Bytes { bytes, .. } => {
                    if chunks_tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                        return;
                    }
                }
                Part::File { path, _keep, .. } => {
                    if !send_file(&chunks_tx, path, 0, None).await {
                        return;
                    }
                }
                Part::Span {
                    path,
                    offset,
                    length,
                    ..
                } => {
                    if !send_file(&chunks_tx, path, offset, Some(offset + length)).await {
                        return;
                    }
                }
                Part::StoredSpan {
                    store,
                    stored_path,
                    offset,
                    length,
                    ..
                } => {
                    if !send_stored_span(&chunks_tx, store, stored_path, offset, length).await {
                        return;
                    }
                }
            }
            if chunks_tx
                .send(Ok(Bytes::from_static(b"\r\n")))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = chunks_tx
            .send(Ok(Bytes::from(format!("--{boundary}--\r\n"))))
            .await;
    });
    let stream = futures_util::stream::unfold(chunks_rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Body::from_stream(stream)
}
