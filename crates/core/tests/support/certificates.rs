//! Certificates for the TLS tests, made with the system's `openssl`: a CA, a server certificate
//! for 127.0.0.1 and localhost, and a client certificate, all issued by it; and a second,
//! unrelated CA that vouches for none of them.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Certificates {
    pub ca: PathBuf,
    pub server_certificate: PathBuf,
    pub server_key: PathBuf,
    pub client_certificate: PathBuf,
    pub client_key: PathBuf,
    /// A CA that issued none of the above.
    pub stranger_ca: PathBuf,
    _dir: tempfile::TempDir,
}

fn openssl(openssl: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(openssl)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA `name` (its `name.crt` and `name.key` in `dir`).
fn authority(tool: &Path, dir: &Path, name: &str) {
    openssl(
        tool,
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=Lightbox test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

/// A certificate `name` issued by the CA `ca`, with `extensions` (an openssl extension file).
fn issued(tool: &Path, dir: &Path, ca: &str, name: &str, subject: &str, extensions: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    openssl(
        tool,
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    openssl(
        tool,
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-days",
            "2",
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

impl Certificates {
    /// `None` (a failure under `CI=true`) when `openssl` is missing.
    pub fn generate() -> Option<Certificates> {
        let tool = super::peer_tool("openssl")?;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        authority(&tool, path, "ca");
        authority(&tool, path, "stranger");
        issued(
            &tool,
            path,
            "ca",
            "server",
            "/CN=localhost",
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        );
        issued(
            &tool,
            path,
            "ca",
            "client",
            "/CN=Lightbox test client",
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=clientAuth\n",
        );
        Some(Certificates {
            ca: path.join("ca.crt"),
            server_certificate: path.join("server.crt"),
            server_key: path.join("server.key"),
            client_certificate: path.join("client.crt"),
            client_key: path.join("client.key"),
            stranger_ca: path.join("stranger.crt"),
            _dir: dir,
        })
    }

    /// What a Lightbox listener presents, requiring clients issued by the CA when `mutual`.
    pub fn server(&self, mutual: bool) -> lightbox_net::tls::ServerTls {
        lightbox_net::tls::ServerTls {
            certificate: self.server_certificate.clone(),
            private_key: self.server_key.clone(),
            client_ca: mutual.then(|| self.ca.clone()),
        }
    }

    /// How Lightbox calls a TLS node: trusting `ca`, presenting the client certificate when
    /// `present`.
    pub fn client(&self, ca: &Path, present: bool) -> lightbox_net::tls::ClientTls {
        lightbox_net::tls::ClientTls {
            ca: ca.to_path_buf(),
            certificate: present.then(|| self.client_certificate.clone()),
            private_key: present.then(|| self.client_key.clone()),
        }
    }
}
