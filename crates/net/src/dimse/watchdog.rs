//! Cuts off connections that hang. A socket timeout bounds each read, so a peer that sends a
//! byte every few seconds would hold an association for ever, and a caller's cancel would wait
//! for the read to end. The watchdog bounds each whole PDU (and an association's negotiation)
//! by a deadline, and ends an operation whose caller canceled it when the peer does not end it
//! within [`CANCEL_GRACE`]: it shuts the socket down, and the blocked read or write returns.
//!
//! One thread watches every association of the process, waking every [`TICK`].

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(100);
/// How long a canceled operation may take to end by itself.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_millis(500);

/// Why the watchdog cut a connection off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// A PDU (or the negotiation) took longer than its deadline.
    Deadline = 1,
    /// The caller canceled and the peer did not end the operation in time.
    Canceled = 2,
}

/// What the watched side and the watchdog share: set and read without a lock, since it changes
/// with every PDU.
#[derive(Default)]
struct Shared {
    /// Milliseconds since the watchdog's epoch; 0 when disarmed.
    deadline: AtomicU64,
    /// 0: not cut off; 1: past a deadline; 2: canceled.
    cut: AtomicU8,
}

struct Entry {
    socket: TcpStream,
    shared: Arc<Shared>,
    cancel: Option<Arc<AtomicBool>>,
    cancel_seen: Option<Instant>,
}

struct Watchdog {
    entries: Mutex<HashMap<u64, Entry>>,
    work: Condvar,
    next_id: AtomicU64,
    epoch: Instant,
}

impl Watchdog {
    fn millis(&self, at: Instant) -> u64 {
        // Never 0, which means disarmed.
        at.duration_since(self.epoch).as_millis() as u64 + 1
    }
}

fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let dog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            entries: Mutex::default(),
            work: Condvar::new(),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
        }));
        std::thread::Builder::new()
            .name("dimse-watchdog".into())
            .spawn(move || dog.run())
            .expect("the DIMSE watchdog thread starts");
        dog
    })
}

impl Watchdog {
    fn run(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while entries.is_empty() {
                entries = self.work.wait(entries).unwrap_or_else(|e| e.into_inner());
            }
            let now = Instant::now();
            let now_ms = self.millis(now);
            for entry in entries
                .values_mut()
                .filter(|e| e.shared.cut.load(Ordering::SeqCst) == 0)
            {
                let canceled = entry
                    .cancel
                    .as_ref()
                    .is_some_and(|c| c.load(Ordering::SeqCst));
                if canceled && entry.cancel_seen.is_none() {
                    entry.cancel_seen = Some(now);
                }
                let deadline = entry.shared.deadline.load(Ordering::SeqCst);
                let cut = if deadline != 0 && now_ms >= deadline {
                    Some(Cut::Deadline)
                } else if entry
                    .cancel_seen
                    .is_some_and(|seen| now.duration_since(seen) >= CANCEL_GRACE)
                {
                    Some(Cut::Canceled)
                } else {
                    None
                };
                if let Some(cut) = cut {
                    tracing::debug!(?cut, peer = ?entry.socket.peer_addr().ok(), "cutting off a connection");
                    entry.shared.cut.store(cut as u8, Ordering::SeqCst);
                    let _ = entry.socket.shutdown(Shutdown::Both);
                }
            }
            entries = self
                .work
                .wait_timeout(entries, TICK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A connection under watch, until this is dropped.
pub(crate) struct Watch {
    id: u64,
    shared: Arc<Shared>,
}

impl Watch {
    /// Watches `socket` (a handle to it is kept until the watch ends); with `cancel`, the
    /// connection is cut off once the flag has been set for [`CANCEL_GRACE`].
    pub fn new(socket: &TcpStream, cancel: Option<Arc<AtomicBool>>) -> std::io::Result<Watch> {
        let dog = watchdog();
        let id = dog.next_id.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared::default());
        let entry = Entry {
            socket: socket.try_clone()?,
            shared: shared.clone(),
            cancel,
            cancel_seen: None,
        };
        dog.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, entry);
        dog.work.notify_one();
        Ok(Watch { id, shared })
    }

    /// What is to happen next (a PDU to arrive or leave) must be done within `within`.
    pub fn arm(&self, within: Duration) {
        let deadline = watchdog().millis(Instant::now() + within);
        self.shared.deadline.store(deadline, Ordering::SeqCst);
    }

    pub fn disarm(&self) {
        self.shared.deadline.store(0, Ordering::SeqCst);
    }

    /// Whether, and why, the connection was cut off.
    pub fn cut(&self) -> Option<Cut> {
        match self.shared.cut.load(Ordering::SeqCst) {
            1 => Some(Cut::Deadline),
            2 => Some(Cut::Canceled),
            _ => None,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        watchdog()
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_read_past_its_deadline_is_cut_off() {
        let (mut ours, _theirs) = pair();
        let watch = Watch::new(&ours, None).unwrap();
        watch.arm(Duration::from_millis(200));
        let started = Instant::now();
        let mut byte = [0u8; 1];
        assert_eq!(ours.read(&mut byte).unwrap_or(0), 0);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(watch.cut(), Some(Cut::Deadline));
    }

    #[test]
    fn a_canceled_read_is_cut_off_after_the_grace() {
        let (mut ours, _theirs) = pair();
        let cancel = Arc::new(AtomicBool::new(false));
        let watch = Watch::new(&ours, Some(cancel.clone())).unwrap();
        let flag = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            flag.store(true, Ordering::SeqCst);
        });
        let started = Instant::now();
        let mut byte = [0u8; 1];
        assert_eq!(ours.read(&mut byte).unwrap_or(0), 0);
        let took = started.elapsed();
        assert!(
            took >= CANCEL_GRACE && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert_eq!(watch.cut(), Some(Cut::Canceled));
    }

    #[test]
    fn a_disarmed_watch_leaves_the_connection_alone() {
        let (ours, _theirs) = pair();
        let watch = Watch::new(&ours, None).unwrap();
        watch.arm(Duration::from_millis(100));
        watch.disarm();
        std::thread::sleep(Duration::from_millis(350));
        assert_eq!(watch.cut(), None);
    }
}
