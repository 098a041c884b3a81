//! `lightbox serve` against a flood of idle connections with few file descriptors (`ulimit -n
//! 128`): its HTTP and DIMSE listeners run out of descriptors to accept with, and carry on —
//! once the flood ends, the same process answers C-ECHO and HTTP again.

mod common;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use common::serve::Serve;
use lightbox_net::dimse::{c_echo, AeAddress, ScuOptions};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn running_out_of_descriptors_leaves_the_server_alive_and_answering() {
    if !support::isolated_network() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Serve::start_with_open_files(dir.path(), &["--log-level", "warn"], 128);
    let dimse = serve.dimse_address();
    let http = serve.url.trim_start_matches("http://").to_string();
    let peer = AeAddress {
        ae_title: "LIGHTBOX".into(),
        host: "127.0.0.1".into(),
        port: dimse.rsplit(':').next().unwrap().parse().unwrap(),
    };
    let options = ScuOptions {
        calling_ae_title: "FLOODTEST".into(),
        timeout: Duration::from_secs(5),
        cancel: None,
        tls: None,
    };
    assert!(c_echo::echo(&peer, &options).is_ok());

    // More idle connections than the server has descriptors, to both listeners.
    let mut flood = Vec::new();
    for i in 0..300 {
        let target = if i % 2 == 0 { &http } else { &dimse };
        if let Ok(socket) = TcpStream::connect(target) {
            flood.push(socket);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        serve.is_running(),
        "serve ended under the flood: {:?}",
        serve.printed()
    );
    assert!(
        serve.printed().iter().any(|l| l.contains("accept failed")),
        "the flood did not exhaust the descriptors: {:?}",
        serve.printed()
    );
    let held = flood.len();
    drop(flood);

    let flood_ended = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(15);
    while c_echo::echo(&peer, &options).is_err() {
        assert!(Instant::now() < deadline, "no C-ECHO after the flood");
        std::thread::sleep(Duration::from_millis(100));
    }
    let answered = flood_ended.elapsed();
    let status = common::get_json(&format!("{}/api/status", serve.url));
    assert!(status["store"].is_object(), "{status}");
    assert!(serve.is_running());
    eprintln!(
        "figure: descriptor exhaustion (ulimit -n 128, {held} idle connections): serve alive, \
         C-ECHO and HTTP answered {answered:.1?} after the flood"
    );
}
