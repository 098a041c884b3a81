//! A STOW-RS request of 300,000 empty parts (13 MB of body): refused once it passes the parts
//! one request may carry, with a few blocking threads and a few megabytes at most, and one log
//! line rather than one per part. In its own process, so that its threads and peak memory are
//! its own.

mod common;

use common::Server;
use lightbox_core::store::Store;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn status_field(name: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
}

#[test]
fn a_stow_of_300000_empty_parts_is_refused_in_bounded_memory_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let server = Server::start(store.clone(), None, None);
    let part = b"--b\r\nContent-Type: application/dicom\r\n\r\n\r\n";
    let mut body = Vec::with_capacity(part.len() * 300_000 + 8);
    for _ in 0..300_000 {
        body.extend_from_slice(part);
    }
    body.extend_from_slice(b"--b--\r\n");
    let before_kb = status_field("VmHWM:");
    let threads_before = status_field("Threads:");

    // The most threads the process had while the request ran.
    let most_threads = Arc::new(AtomicU64::new(threads_before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (most, done) = (most_threads.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                most.fetch_max(status_field("Threads:"), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // Raw, written on a thread of its own: the server answers before the body has all gone.
    let address = server.origin.trim_start_matches("http://").to_string();
    let mut socket = std::net::TcpStream::connect(&address).unwrap();
    let head = format!(
        "POST /dicom-web/studies HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: multipart/related; type=\"application/dicom\"; boundary=b\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut writer = socket.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        use std::io::Write;
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&body);
    });
    let mut answer = String::new();
    use std::io::Read;
    socket
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let _ = socket.read_to_string(&mut answer);
    drop(socket);
    let _ = sending.join();
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let status: u16 = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("100000 parts"), "{answer}");
    let growth_mb = (status_field("VmHWM:") - before_kb) / 1024;
    let extra_threads = most_threads.load(Ordering::SeqCst) - threads_before;
    eprintln!(
        "figure: STOW-RS of 300,000 empty parts: {status}, peak memory +{growth_mb} MB, \
         at most {extra_threads} more threads"
    );
    // The body itself is 13 MB of this process (the client side) besides the server's share.
    assert!(growth_mb < 64, "+{growth_mb} MB");
    assert!(
        extra_threads <= lightbox_server::BLOCKING_THREADS as u64,
        "{extra_threads} more threads"
    );
    assert_eq!(store.index().stats().unwrap().instances, 0);
    assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
}
