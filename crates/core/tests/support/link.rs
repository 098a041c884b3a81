//! A slow link on loopback: a TCP relay in front of a peer that moves at most a given number of
//! bytes per second (both directions together, as one shared line would) and can be cut once,
//! dropping the connection that carries the byte where the cut was asked for. Connections made
//! after the cut go through at the same rate, as a link that came back would.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const CHUNK: usize = 16 << 10;

struct Line {
    bytes_per_second: u64,
    /// When the line is free again for the next chunk.
    free_at: Mutex<Instant>,
    /// Bytes through the relay, both ways, over every connection.
    carried: AtomicU64,
    /// Cut the connection carrying this byte (u64::MAX: never).
    cut_at: AtomicU64,
    cuts: AtomicU64,
    stop: AtomicBool,
}

impl Line {
    /// Waits until `bytes` have had their time on the line.
    fn carry(&self, bytes: usize) {
        let wait = {
            let mut free_at = self.free_at.lock().unwrap();
            let now = Instant::now();
            let start = (*free_at).max(now);
            *free_at =
                start + Duration::from_micros(bytes as u64 * 1_000_000 / self.bytes_per_second);
            *free_at - now
        };
        std::thread::sleep(wait);
    }
}

pub struct SlowLink {
    pub port: u16,
    line: Arc<Line>,
    acceptor: Option<JoinHandle<()>>,
}

impl SlowLink {
    /// Relays 127.0.0.1:`port` (the returned link's) to 127.0.0.1:`target`.
    pub fn to(target: u16, bytes_per_second: u64) -> SlowLink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let line = Arc::new(Line {
            bytes_per_second,
            free_at: Mutex::new(Instant::now()),
            carried: AtomicU64::new(0),
            cut_at: AtomicU64::new(u64::MAX),
            cuts: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let shared = line.clone();
        let acceptor = std::thread::spawn(move || {
            for client in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                relay(&shared, client, server);
            }
        });
        SlowLink {
            port,
            line,
            acceptor: Some(acceptor),
        }
    }

    /// Cuts the link once, when it has carried `bytes` in all.
    pub fn cut_once_at(&self, bytes: u64) {
        self.line.cut_at.store(bytes, Ordering::SeqCst);
    }

    pub fn cuts(&self) -> u64 {
        self.line.cuts.load(Ordering::SeqCst)
    }

    /// Bytes through the link, both ways.
    pub fn carried(&self) -> u64 {
        self.line.carried.load(Ordering::SeqCst)
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.line.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Pumps both directions of one connection on threads of their own, which end with it.
fn relay(line: &Arc<Line>, client: TcpStream, server: TcpStream) {
    let ends = || (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (up_from, up_to) = ends();
    let up_line = line.clone();
    std::thread::spawn(move || pump(&up_line, up_from, up_to));
    let (down_to, down_from) = ends();
    let down_line = line.clone();
    std::thread::spawn(move || pump(&down_line, down_from, down_to));
}

fn pump(line: &Line, mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        line.carry(n);
        let before = line.carried.fetch_add(n as u64, Ordering::SeqCst);
        let cut_at = line.cut_at.load(Ordering::SeqCst);
        if before + n as u64 >= cut_at
            && line
                .cut_at
                .compare_exchange(cut_at, u64::MAX, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            line.cuts.fetch_add(1, Ordering::SeqCst);
            break;
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
