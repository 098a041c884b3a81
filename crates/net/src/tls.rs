//! TLS for DICOM associations (PS3.15 Annex B, the secure transport connection profiles) and
//! for HTTPS: certificates and keys read from PEM files into rustls configurations, on the ring
//! provider (TLS 1.2 and 1.3, the BCP 195 cipher suites).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{0}: no certificate in it")]
    NoCertificate(PathBuf),
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("client certificate checks: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Pem {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| TlsError::Pem {
        path: path.to_path_buf(),
        source,
    })
}

fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path)? {
        roots.add(cert)?;
    }
    Ok(roots)
}

/// What a TLS server presents, and whom it lets in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTls {
    /// The certificate chain (PEM), this server's first.
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    /// When set, clients must present a certificate issued by one of these (PEM).
    pub client_ca: Option<PathBuf>,
}

impl ServerTls {
    pub fn config(&self, alpn: &[&[u8]]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let builder = match &self.client_ca {
            Some(ca) => builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                    .build()?,
            ),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(
            certificates(&self.certificate)?,
            private_key(&self.private_key)?,
        )?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// How we call a node that requires TLS: whom we trust, and what we present when it asks.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientTls {
    /// The certificates (PEM) that may vouch for the node: its own when self-signed, or its CA.
    pub ca: PathBuf,
    /// Our certificate and key (PEM), for nodes that check their clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PathBuf>,
}

impl ClientTls {
    pub fn config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots(&self.ca)?);
        let config = match (&self.certificate, &self.private_key) {
            (Some(cert), Some(key)) => {
                builder.with_client_auth_cert(certificates(cert)?, private_key(key)?)?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// TLS in front of associations: connections are encrypted here, and their plaintext reaches
/// the DIMSE code (which speaks to a plain socket) over a loopback connection of this process.
pub(crate) mod bridge {
    use std::io;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::Duration;

    fn runtime() -> &'static tokio::runtime::Runtime {
        static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("dicom-tls")
                .enable_all()
                .build()
                .expect("the TLS runtime starts")
        })
    }

    /// Two ends of one loopback connection (the accepted one checked to be the one we made).
    fn loopback_pair() -> io::Result<(TcpStream, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let ours = TcpStream::connect(listener.local_addr()?)?;
        let expected = ours.local_addr()?;
        loop {
            let (theirs, from) = listener.accept()?;
            if from == expected {
                let _ = ours.set_nodelay(true);
                let _ = theirs.set_nodelay(true);
                return Ok((ours, theirs));
            }
        }
    }

    /// How long one direction may go on after the other ended: long enough for a peer to
    /// answer our close, short enough that a silent peer does not hold the task.
    const HALF_CLOSED_GRACE: Duration = Duration::from_secs(5);

    /// What ended a TLS connection, when TLS itself did: the peer's alert (it refused our
    /// certificate, say) or a record that failed to decrypt.
    #[derive(Clone, Default)]
    pub(crate) struct Failure(Arc<Mutex<Option<io::Error>>>);

    impl Failure {
        fn record(&self, e: &io::Error) {
            if e.kind() == io::ErrorKind::InvalidData {
                if let Ok(mut failure) = self.0.lock() {
                    failure.get_or_insert_with(|| io::Error::new(e.kind(), e.to_string()));
                }
            }
        }

        pub(crate) fn take(&self) -> Option<io::Error> {
            self.0.lock().ok()?.take()
        }
    }

    /// Copies both ways until either side ends, then gives the other direction a short grace.
    /// A TLS failure is recorded in `failure` before the plaintext side learns of the end.
    async fn pump<T>(tls: T, plain: TcpStream, failure: Failure)
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let Ok(plain) = plain
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpStream::from_std(plain))
        else {
            return;
        };
        let (mut tls_read, mut tls_write) = tokio::io::split(tls);
        let (mut plain_read, mut plain_write) = plain.into_split();
        let outgoing = async {
            let copied = tokio::io::copy(&mut plain_read, &mut tls_write).await;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls_write).await;
            copied
        };
        let incoming = async {
            let copied = tokio::io::copy(&mut tls_read, &mut plain_write).await;
            if let Err(e) = &copied {
                failure.record(e);
            }
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut plain_write).await;
            copied
        };
        tokio::pin!(outgoing, incoming);
        let ended = tokio::select! {
            ended = &mut outgoing => {
                let _ = tokio::time::timeout(HALF_CLOSED_GRACE, incoming).await;
                ended
            }
            ended = &mut incoming => {
                let _ = tokio::time::timeout(HALF_CLOSED_GRACE, outgoing).await;
                ended
            }
        };
        if let Err(e) = ended {
            tracing::debug!(error = %e, "TLS connection ended");
        }
    }

    /// Runs `task` on the TLS runtime and waits for it on this thread, which may itself be a
    /// thread of another runtime (where `block_on` is not allowed).
    fn run<T: Send + 'static>(
        task: impl std::future::Future<Output = io::Result<T>> + Send + 'static,
    ) -> io::Result<T> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        runtime().spawn(async move {
            let _ = done.send(task.await);
        });
        result
            .recv()
            .map_err(|_| io::Error::other("the TLS runtime stopped"))?
    }

    /// The TLS handshake with a client that connected to `socket`, within `deadline`; then the
    /// plaintext, as a socket to serve like any plain association.
    pub(crate) fn accept(
        socket: TcpStream,
        config: Arc<rustls::ServerConfig>,
        deadline: Duration,
    ) -> io::Result<TcpStream> {
        socket.set_nonblocking(true)?;
        let (ours, plain) = loopback_pair()?;
        run(async move {
            let tcp = tokio::net::TcpStream::from_std(socket)?;
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            let tls = tokio::time::timeout(deadline, acceptor.accept(tcp))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
            tokio::spawn(pump(tls, ours, Failure::default()));
            Ok(())
        })?;
        Ok(plain)
    }

    /// A TLS connection to `address`, its certificate checked for `server_name`, within
    /// `deadline`; then a loopback address whose first connection carries its plaintext, and
    /// where the reason will be if TLS ends the connection later. (In TLS 1.3 a server
    /// refuses a client's certificate only after the client has finished its handshake.)
    pub(crate) fn connect(
        address: &str,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
        deadline: Duration,
    ) -> io::Result<(SocketAddr, Failure)> {
        let name = rustls::pki_types::ServerName::try_from(server_name.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let address = address.to_string();
        run(async move {
            let tcp = tokio::time::timeout(deadline, tokio::net::TcpStream::connect(&address))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
            let _ = tcp.set_nodelay(true);
            let connector = tokio_rustls::TlsConnector::from(config);
            let tls = tokio::time::timeout(deadline, connector.connect(name, tcp))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let local = listener.local_addr()?;
            let failure = Failure::default();
            let recorded = failure.clone();
            tokio::spawn(async move {
                let accepted = tokio::time::timeout(deadline, listener.accept()).await;
                if let Ok(Ok((plain, _))) = accepted {
                    if let Ok(plain) = plain.into_std() {
                        pump(tls, plain, failure).await;
                    }
                }
            });
            Ok((local, recorded))
        })
    }
}
