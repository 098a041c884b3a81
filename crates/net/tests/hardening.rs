//! The DIMSE server against peers that hold on: more associations than it takes at once (the
//! next one is rejected, "local limit exceeded", and served again once a slot frees), a peer
//! that trickles its request a byte at a time (cut off at the negotiation's deadline, whatever
//! the trickle), and one that goes silent mid-association (released at the idle deadline).

use lightbox_net::dimse::server::{DimseServer, ServerConfig, Services};
use lightbox_net::dimse::{c_echo, AeAddress, DimseError, ScuOptions};
use lightbox_net::sink::{Accepted, InstanceSink, Origin, Refused};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Nowhere;

impl InstanceSink for Nowhere {
    fn scratch_dir(&self) -> PathBuf {
        std::env::temp_dir()
    }
    fn ingest(&self, _: tempfile::NamedTempFile, _: &Origin) -> Result<Accepted, Refused> {
        Err(Refused {
            reason: "not here".into(),
            out_of_resources: false,
        })
    }
}

struct Server {
    address: AeAddress,
    shutdown: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(config: ServerConfig) -> Server {
        let ae_title = config.ae_title.clone();
        let services = Services {
            storage: Arc::new(Nowhere),
            find: None,
            retrieve: None,
            nodes: None,
            observer: None,
        };
        let server = DimseServer::bind("127.0.0.1:0", config, services).unwrap();
        let port = server.local_addr().unwrap().port();
        let shutdown = Arc::new(AtomicBool::new(false));
        let flag = shutdown.clone();
        let thread = std::thread::spawn(move || server.serve(flag).unwrap());
        Server {
            address: AeAddress {
                ae_title,
                host: "127.0.0.1".into(),
                port,
            },
            shutdown,
            thread: Some(thread),
        }
    }

    fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.address.port)).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn options() -> ScuOptions {
    ScuOptions {
        calling_ae_title: "TESTSCU".into(),
        timeout: Duration::from_secs(5),
        cancel: None,
        tls: None,
    }
}

/// Waits until the server has closed `socket` (a read gives end of file or an error).
fn closed_within(mut socket: TcpStream, within: Duration) -> Duration {
    socket.set_read_timeout(Some(within)).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn beyond_the_limit_an_association_is_rejected_and_served_again_once_a_slot_frees() {
    let server = Server::start(ServerConfig {
        ae_title: "LIMITED".into(),
        max_associations: 2,
        timeout: Duration::from_secs(3),
        ..ServerConfig::default()
    });
    // Two connections that say nothing hold both slots.
    let holders = [server.connect(), server.connect()];
    std::thread::sleep(Duration::from_millis(200));
    let refused = c_echo::echo(&server.address, &options()).unwrap_err();
    match &refused {
        DimseError::Rejected { reason, .. } => {
            assert!(reason.contains("local limit exceeded"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    drop(holders);
    let freed = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(5);
    while c_echo::echo(&server.address, &options()).is_err() {
        assert!(Instant::now() < deadline, "no slot freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "figure: association beyond --max-associations 2: {refused}; served again {:.1?} after a slot freed",
        freed.elapsed()
    );
}

#[test]
fn a_request_trickled_a_byte_at_a_time_is_cut_off_at_the_deadline() {
    let server = Server::start(ServerConfig {
        ae_title: "PATIENT".into(),
        timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    });
    let mut socket = server.connect();
    let reader = socket.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        // An A-ASSOCIATE-RQ header claiming 200 bytes, then one byte every 150 ms: each read
        // arrives well within any socket timeout.
        let _ = socket.write_all(&[0x01, 0x00, 0x00, 0x00, 0x00, 0xC8]);
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(150));
            if socket.write_all(&[0x20]).is_err() {
                return;
            }
        }
    });
    let took = closed_within(reader, Duration::from_secs(10));
    assert!(took < Duration::from_secs(3), "held for {took:?}");
    eprintln!(
        "figure: A-ASSOCIATE-RQ trickled a byte per 150 ms, deadline 1 s: cut off after {took:.1?}"
    );
    trickle.join().unwrap();
    // And the server goes on.
    assert!(c_echo::echo(&server.address, &options()).is_ok());
}
