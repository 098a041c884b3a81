//! `multipart/related` responses streamed from files: a bounded channel between a producer task
//! and the body, so a large series leaves in 64 KiB chunks and never sits whole in memory.

use axum::body::{Body, Bytes};
use std::path::PathBuf;
use tokio::io::AsyncReadExt;

const CHUNK: usize = 64 << 10;

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
                Part::File { content_type, .. } | Part::Bytes { content_type, .. } => {
                    content_type.clone()
                }
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
                    let mut file = match tokio::fs::File::open(&path).await {
                        Ok(f) => f,
                        Err(e) => {
                            let _ = chunks_tx.send(Err(e)).await;
                            return;
                        }
                    };
                    loop {
                        let mut buf = vec![0u8; CHUNK];
                        match file.read(&mut buf).await {
                            Ok(0) => break,
                            Ok(n) => {
                                buf.truncate(n);
                                if chunks_tx.send(Ok(Bytes::from(buf))).await.is_err() {
                                    return;
                                }
                            }
                            Err(e) => {
                                let _ = chunks_tx.send(Err(e)).await;
                                return;
                            }
                        }
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
