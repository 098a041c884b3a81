//! The HTTP server against clients that hold on: more connections than it serves at once (503,
//! then served again once one closes), headers trickled a byte at a time or never sent (closed
//! at the header deadline), and a declared body that never arrives (dropped at the body's idle
//! deadline). Memory and threads stay put; the server answers throughout.

mod common;

use common::Server;
use lightbox_core::store::Store;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn limited(limits: lightbox_server::HttpLimits) -> (tempfile::TempDir, Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let server = Server::start_limited(store, None, None, limits);
    let address = server.origin.trim_start_matches("http://").to_string();
    (dir, server, address)
}

fn status_of(address: &str) -> u16 {
    let mut socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // A server refusing the connection may answer and close before the request is written:
    // the answer is read all the same.
    let _ = write!(
        socket,
        "GET /api/status HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    );
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// How long until the server closes `socket` (reads give end of file or an error).
fn closed_after(mut socket: TcpStream, within: Duration) -> Duration {
    socket.set_read_timeout(Some(within)).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn beyond_the_connection_limit_a_client_is_told_to_come_back() {
    let (_dir, _server, address) = limited(lightbox_server::HttpLimits {
        max_connections: 4,
        header_timeout: Duration::from_secs(10),
        ..lightbox_server::HttpLimits::default()
    });
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(status_of(&address), 503);
    eprintln!("figure: HTTP connection beyond --http-max-connections 4: 503");
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    while status_of(&address) != 200 {
        assert!(Instant::now() < deadline, "no connection freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn silent_and_trickling_headers_are_cut_off_at_the_deadline() {
    let (_dir, _server, address) = limited(lightbox_server::HttpLimits {
        header_timeout: Duration::from_secs(1),
        ..lightbox_server::HttpLimits::default()
    });
    let silent = TcpStream::connect(&address).unwrap();
    let took = closed_after(silent, Duration::from_secs(10));
    assert!(
        took < Duration::from_secs(3),
        "a silent connection stayed {took:?}"
    );
    eprintln!("figure: silent HTTP connection, header deadline 1 s: closed after {took:.1?}");

    let mut trickle = TcpStream::connect(&address).unwrap();
    let reader = trickle.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for byte in
            b"GET /api/status HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter()
        {
            if trickle.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let took = closed_after(reader, Duration::from_secs(10));
    assert!(
        took < Duration::from_secs(3),
        "a trickle held the connection {took:?}"
    );
    eprintln!(
        "figure: HTTP headers trickled a byte per 100 ms, deadline 1 s: closed after {took:.1?}"
    );
    writer.join().unwrap();
    assert_eq!(status_of(&address), 200);
}

#[test]
fn a_declared_body_that_never_arrives_is_dropped() {
    let (_dir, _server, address) = limited(lightbox_server::HttpLimits {
        body_idle_timeout: Duration::from_secs(1),
        ..lightbox_server::HttpLimits::default()
    });
    let mut socket = TcpStream::connect(&address).unwrap();
    // A 3 GiB STOW-RS that sends its headers and a first part header, then nothing.
    write!(
        socket,
        "POST /dicom-web/studies HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: multipart/related; type=\"application/dicom\"; boundary=b\r\n\
         Content-Length: 3221225472\r\n\r\n--b\r\nContent-Type: application/dicom\r\n\r\n"
    )
    .unwrap();
    let took = closed_after(socket, Duration::from_secs(10));
    assert!(
        took < Duration::from_secs(4),
        "the stalled body held on {took:?}"
    );
    eprintln!("figure: declared 3 GiB STOW body that never arrives, body deadline 1 s: closed after {took:.1?}");
    assert_eq!(status_of(&address), 200);
}
