//! Running the `lightbox` binary from the CLI tests.
#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

pub mod browser;
pub mod serve;

/// `lightbox --data-dir DATA`, on the index the tests run on (see [`index_env`]).
pub fn lightbox_command(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lightbox"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .envs(index_env(data_dir));
    command
}

/// `lightbox --data-dir DATA --index INDEX --store STORE`, a node of a cluster, with the object
/// store's `AWS_*` variables.
pub fn cluster_command<K, V>(
    data_dir: &Path,
    index: &str,
    store: &str,
    env: impl IntoIterator<Item = (K, V)>,
) -> Command
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let mut command = lightbox_command(data_dir);
    command.args(["--index", index, "--store", store]).envs(env);
    command
}

pub fn lightbox(data_dir: &Path, args: &[&str]) -> Output {
    lightbox_command(data_dir)
        .args(args)
        .output()
        .expect("run lightbox")
}

/// The store of a data directory, on the index the tests run on.
pub fn open_store(data_dir: &Path) -> lightbox_core::store::Store {
    let index = match index_env(data_dir).pop() {
        Some((_, url)) => lightbox_core::index::IndexLocation::Postgres(url),
        None => lightbox_core::index::IndexLocation::DataDir,
    };
    let objects = lightbox_core::store::ObjectLocation::DataDir;
    lightbox_core::store::Store::open_with(data_dir, &index, &objects).unwrap()
}

/// The index of every `lightbox` a test runs, as its environment: none (the data directory's
/// SQLite index), or, when `LIGHTBOX_TEST_POSTGRES` names a PostgreSQL server
/// (`postgres://USER@HOST:PORT`), `LIGHTBOX_INDEX` naming a database of the data directory's own
/// there, made on first use: the same tests, on the PostgreSQL index (`scripts/test.sh` runs
/// them so too). An `--index` a test gives itself wins over it.
pub fn index_env(data_dir: &Path) -> Vec<(String, String)> {
    let Ok(server) = std::env::var("LIGHTBOX_TEST_POSTGRES") else {
        return Vec::new();
    };
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::path::absolute(data_dir)
        .unwrap_or_else(|_| data_dir.to_path_buf())
        .hash(&mut hasher);
    let name = format!("lightbox_test_{:016x}", hasher.finish());
    let server = server.trim_end_matches('/');
    let mut admin = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)
        .unwrap_or_else(|e| panic!("LIGHTBOX_TEST_POSTGRES={server}: {e}"));
    if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name}")) {
        let exists = e.code() == Some(&postgres::error::SqlState::DUPLICATE_DATABASE);
        assert!(exists, "creating {name}: {e}");
    }
    vec![("LIGHTBOX_INDEX".into(), format!("{server}/{name}"))]
}

pub fn ok_json(data_dir: &Path, args: &[&str]) -> Value {
    let out = lightbox(data_dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// An HTTP client that hands error statuses back as responses and gives up after a minute.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// GET `url` and its body as JSON.
pub fn get_json(url: &str) -> Value {
    let mut response = http()
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let text = response.body_mut().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: {e}: {text}"))
}
