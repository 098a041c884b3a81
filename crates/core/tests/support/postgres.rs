//! A PostgreSQL server of the tests' own (Debian's `postgresql` package): a cluster initialised
//! in a temporary folder, listening on 127.0.0.1 and a private port only, stopped when dropped.
//! PostgreSQL refuses to run as root: as root, the server runs as the package's `postgres` user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Postgres {
    server: super::Peer,
    bin: PathBuf,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// The folder holding `initdb`, `postgres` and the client programs: where the `initdb` on
/// PATH really is (a link, often), else Debian's newest version.
fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("initdb"))
            .find(|p| p.is_file())
    });
    if let Some(dir) = on_path
        .and_then(|initdb| std::fs::canonicalize(initdb).ok())
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
        .filter(|dir| dir.join("postgres").is_file() && dir.join("createdb").is_file())
    {
        return Some(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// `program` as the user PostgreSQL runs as.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn chown_to_server_user(path: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success(), "chown postgres {}", path.display());
    }
}

/// Starts a server, or `None` (and a CI failure) when PostgreSQL is not installed.
pub fn start_postgres() -> Option<Postgres> {
    let Some(bin) = bin_dir() else {
        super::missing("PostgreSQL's server (the Debian package postgresql)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    let socket = dir.path().join("socket");
    std::fs::create_dir_all(&socket).unwrap();
    chown_to_server_user(dir.path());
    let init = as_server_user(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "lightbox",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ])
        .args(["--no-sync", "--no-instructions"])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let port = super::free_port();
    let log = std::fs::File::create(dir.path().join("postgres.log")).unwrap();
    let server = super::Peer(
        as_server_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .arg("-k")
            .arg(&socket)
            // A test's database is thrown away: no need to wait for the disk.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let postgres = Postgres {
        server,
        bin,
        port,
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !postgres.ready() {
        assert!(
            Instant::now() < deadline,
            "PostgreSQL did not start: {}",
            std::fs::read_to_string(postgres.dir.path().join("postgres.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(postgres)
}

impl Postgres {
    fn ready(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A new, empty database; its URL.
    pub fn database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("lightbox_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let made = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "lightbox",
            ])
            .arg(&name)
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "createdb: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        format!("postgres://lightbox@127.0.0.1:{}/{name}", self.port)
    }

    /// The server's process, to stop it the hard way.
    pub fn pid(&self) -> u32 {
        self.server.0.id()
    }
}

impl Drop for Postgres {
    /// A fast shutdown (SIGINT), so that no backend outlives the test; killed if it hangs.
    fn drop(&mut self) {
        self.server.interrupt(Duration::from_secs(10));
    }
}
