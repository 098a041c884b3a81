//! `lightbox serve` as a child process, for tests and benchmarks: ports it picks itself, its URL
//! taken from what it prints, killed when dropped (a panicking test included).
#![allow(dead_code)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    printed: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// `lightbox --data-dir DATA serve --port 0 --http-port 0 --no-browser EXTRA...`, once it has
    /// said it is ready.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Serve {
        Serve::spawn(super::lightbox_command(data_dir), extra)
    }

    /// As [`Serve::start`], with at most `files` open file descriptors (`ulimit -n`).
    pub fn start_with_open_files(data_dir: &Path, extra: &[&str], files: u32) -> Serve {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_lightbox"))
            .arg("--data-dir")
            .arg(data_dir)
            .envs(super::index_env(data_dir));
        Serve::spawn(command, extra)
    }

    /// `COMMAND serve --port 0 --http-port 0 --no-browser EXTRA...`, for a command made by the
    /// caller (its own options and environment).
    pub fn spawn(mut command: Command, extra: &[&str]) -> Serve {
        let mut child = command
            .args(["serve", "--port", "0", "--http-port", "0", "--no-browser"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lightbox serve");
        let printed = Arc::new(Mutex::new(Vec::new()));
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = printed.clone();
        // Drained to the end, so that serve never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(url) = line.strip_prefix("Lightbox is ready at ") {
                    let _ = url_tx.send(url.trim_end_matches('/').to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let url = match url_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("serve never got ready: {:?}", printed.lock().unwrap());
            }
        };
        Serve {
            child,
            url,
            printed,
        }
    }

    /// The storage listener's address, as serve printed it.
    pub fn dimse_address(&self) -> String {
        self.printed()
            .iter()
            .find_map(|l| {
                let rest = l.strip_prefix("storage listener ")?;
                let (_, after) = rest.split_once(" on ")?;
                Some(after.split(',').next()?.trim().to_string())
            })
            .expect("serve printed its storage listener")
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    /// What serve printed so far, line by line.
    pub fn printed(&self) -> Vec<String> {
        self.printed.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then its exit status; panics if it is still running after `within`.
    pub fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve still runs {within:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
