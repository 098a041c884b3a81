//! The HTTP accept loop. Each connection is served by hyper with a deadline for a request's
//! headers (which is also how long an idle keep-alive connection stays open) and for each
//! stretch of a request body with no data; beyond a number of connections at once a new one is
//! answered 503 and closed; and an accept error (out of file descriptors included) pauses the
//! loop instead of ending it. With a TLS configuration every connection is HTTPS, its handshake
//! held to the header deadline.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The limits every connection is held to.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Connections served at once (the event streams of open pages included).
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long an idle
    /// keep-alive connection is kept.
    pub header_timeout: Duration,
    /// How long a request body may go without sending anything.
    pub body_idle_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            max_connections: 512,
            header_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Connections beyond the limit that are being told so at once; a flood beyond this is closed.
const MAX_REFUSING: usize = 64;
/// How long telling a connection beyond the limit may take (its TLS handshake included).
const REFUSAL_TIME: Duration = Duration::from_secs(2);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` completes, then
/// waits for the connections in progress to end.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.body_idle_timeout));
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff = Duration::from_millis(10);
                stream
            }
            Err(e) => {
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::Interrupted
                ) {
                    tracing::warn!(error = %e, pause = ?backoff, "HTTP listener: accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                }
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            if let Ok(refusal) = refusing.clone().try_acquire_owned() {
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => refuse_busy(stream).await,
                        Some(acceptor) => {
                            let handshake =
                                tokio::time::timeout(REFUSAL_TIME, acceptor.accept(stream));
                            if let Ok(Ok(stream)) = handshake.await {
                                refuse_busy(stream).await;
                            }
                        }
                    }
                    drop(refusal);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let http = http.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let handshake_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let ended = match tls {
                None => {
                    watcher
                        .watch(http.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(handshake_timeout, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            watcher
                                .watch(http.serve_connection(TokioIo::new(stream), service))
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::info!(error = %e, "HTTPS: TLS handshake failed");
                            Ok(())
                        }
                        Err(_) => {
                            tracing::debug!("HTTPS: TLS handshake timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "HTTP connection ended");
            }
            drop(permit);
        });
    }
    graceful.shutdown().await;
    Ok(())
}

/// Tells a connection beyond the limit to come back later, and closes it.
async fn refuse_busy(mut stream: impl AsyncWrite + Unpin) {
    const BODY: &str = "too many connections at once: try again in a moment\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         retry-after: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let write = async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REFUSAL_TIME, write).await;
}
