//! DIMSE messages over an association: command and data set fragments in P-DATA PDUs.
//!
//! Data sets are streamed: sending reads from a `Read` one PDU at a time, receiving writes each
//! fragment to a `Write` as it arrives, so a large instance never has to be whole in memory.

use super::command::Command;
use super::watchdog::{Cut, Watch};
use super::DimseError;
use dicom_ul::pdu::{PDataValue, PDataValueType};
use dicom_ul::{ClientAssociation, Pdu, ServerAssociation};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpStream;

/// The two sides of an association, as the message layer needs them.
pub trait Link {
    fn send_pdu(&mut self, pdu: &Pdu) -> Result<(), DimseError>;
    fn receive_pdu(&mut self) -> Result<Pdu, DimseError>;
    /// The largest PDU the peer accepts (0: no limit).
    fn peer_max_pdu(&self) -> u32;
    /// The socket, to look for data without reading it and to adjust timeouts.
    fn socket(&mut self) -> &mut TcpStream;
}

/// Whether bytes are waiting on the socket (checked without blocking and without consuming).
fn data_waiting(socket: &mut TcpStream) -> bool {
    if socket.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let waiting = matches!(socket.peek(&mut byte), Ok(n) if n > 0);
    let _ = socket.set_nonblocking(false);
    waiting
}

impl Link for ClientAssociation<TcpStream> {
    fn send_pdu(&mut self, pdu: &Pdu) -> Result<(), DimseError> {
        self.send(pdu).map_err(DimseError::from_ul)
    }
    fn receive_pdu(&mut self) -> Result<Pdu, DimseError> {
        self.receive().map_err(DimseError::from_ul)
    }
    fn peer_max_pdu(&self) -> u32 {
        self.acceptor_max_pdu_length()
    }
    fn socket(&mut self) -> &mut TcpStream {
        self.inner_stream()
    }
}

impl Link for ServerAssociation<TcpStream> {
    fn send_pdu(&mut self, pdu: &Pdu) -> Result<(), DimseError> {
        self.send(pdu).map_err(DimseError::from_ul)
    }
    fn receive_pdu(&mut self) -> Result<Pdu, DimseError> {
        self.receive().map_err(DimseError::from_ul)
    }
    fn peer_max_pdu(&self) -> u32 {
        self.requestor_max_pdu_length()
    }
    fn socket(&mut self) -> &mut TcpStream {
        self.inner_stream()
    }
}

/// What arrived when a command was expected.
#[derive(Debug)]
pub enum Incoming {
    Command {
        context_id: u8,
        command: Command,
    },
    /// The peer asked to release; the release was answered.
    Released,
    Aborted,
}

/// Sends and receives messages on one association, holding P-DATA values that arrived in the
/// same PDU as the end of the previous message part.
pub struct Messenger<L: Link> {
    pub link: L,
    pending: VecDeque<PDataValue>,
    /// Runs before a release request is answered (the storage listener finishes indexing what
    /// the association sent, so a peer that has released can rely on it being searchable).
    before_release: Option<Box<dyn Fn() + Send>>,
    /// Encoded PDUs of small messages waiting to go out in one write (see
    /// [`Messenger::send_batched`]).
    batch: Vec<u8>,
    /// The watchdog's hold on the connection, and how long the link may stay silent.
    watch: Option<(Watch, std::time::Duration)>,
}

/// The slowest a PDU may move once it has started: slower is a trickle and is cut off. The
/// silence timeout itself is the socket's (each read and write must move bytes within it), so a
/// link of a few MB/s moves any amount of data under a timeout of a few seconds.
const TRICKLE_FLOOR_BYTES_PER_SECOND: u64 = 32 << 10;

/// How long a PDU of `bytes` may take: the silence allowed before it starts, plus its transfer
/// at the trickle floor.
fn pdu_deadline(silence: std::time::Duration, bytes: usize) -> std::time::Duration {
    silence + std::time::Duration::from_millis(bytes as u64 * 1000 / TRICKLE_FLOOR_BYTES_PER_SECOND)
}

/// PDV item length (4) + context id (1) + control header (1).
const PDV_OVERHEAD: u32 = 6;
const UNLIMITED_FRAGMENT: usize = 1 << 20;
/// Queued small messages are written once they add up to this much.
const BATCH_WRITE: usize = 64 << 10;

impl<L: Link> Messenger<L> {
    pub fn new(link: L) -> Messenger<L> {
        Messenger {
            link,
            pending: VecDeque::new(),
            before_release: None,
            batch: Vec::new(),
            watch: None,
        }
    }

    /// A messenger whose link may be silent for `silence` at most, whose PDUs must not trickle
    /// (see [`pdu_deadline`]), and whose operation ends within a second once `cancel` is set.
    pub(crate) fn watched(
        mut link: L,
        silence: std::time::Duration,
        cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ) -> Result<Messenger<L>, DimseError> {
        let watch = Watch::new(link.socket(), cancel).map_err(DimseError::from_socket)?;
        let mut messenger = Messenger::new(link);
        messenger.watch = Some((watch, silence));
        Ok(messenger)
    }

    /// Runs one transfer of up to `bytes` on the link under the watchdog's deadline; a
    /// connection it cut off is reported as what it was (a timeout, a cancel), not as a lost
    /// connection.
    fn watched_io<T>(
        &mut self,
        bytes: usize,
        io: impl FnOnce(&mut L) -> Result<T, DimseError>,
    ) -> Result<T, DimseError> {
        let Some((watch, silence)) = &self.watch else {
            return io(&mut self.link);
        };
        watch.arm(pdu_deadline(*silence, bytes));
        let result = io(&mut self.link);
        watch.disarm();
        match (result, watch.cut()) {
            (Err(_), Some(Cut::Deadline)) => Err(DimseError::Timeout),
            (Err(_), Some(Cut::Canceled)) => Err(DimseError::Canceled),
            (result, _) => result,
        }
    }

    /// Queues a small message (command and data set each within one fragment) to leave with
    /// others in one write: a C-FIND answering ten thousand matches then costs a system call
    /// per 64 KiB rather than two per match. Each message keeps its own PDUs (DCMTK does not
    /// take PDVs of several messages in one PDU). Whatever is sent next leaves after it, and
    /// nothing waits for the peer with messages still queued.
    pub fn send_batched(
        &mut self,
        context_id: u8,
        command: &Command,
        data: Vec<u8>,
    ) -> Result<(), DimseError> {
        let encoded = command.encode();
        let size = self.fragment_size();
        if encoded.len() > size || data.len() > size || data.len() % 2 == 1 {
            self.flush()?;
            return self.send(context_id, command, Some(&mut data.as_slice()));
        }
        for (value_type, bytes) in [
            (PDataValueType::Command, encoded),
            (PDataValueType::Data, data),
        ] {
            let pdu = Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: context_id,
                    value_type,
                    is_last: true,
                    data: bytes,
                }],
            };
            dicom_ul::pdu::write_pdu(&mut self.batch, &pdu)
                .map_err(|e| DimseError::Protocol(format!("encoding a PDU: {e}")))?;
        }
        if self.batch.len() >= BATCH_WRITE {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes what [`send_batched`](Self::send_batched) queued.
    pub fn flush(&mut self) -> Result<(), DimseError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.watched_io(batch.len(), |link| {
            std::io::Write::write_all(link.socket(), &batch).map_err(DimseError::from_socket)
        })
    }

    pub fn before_release(&mut self, hook: Box<dyn Fn() + Send>) {
        self.before_release = Some(hook);
    }

    /// Fragments are kept even: PS3.8 requires even-length PDVs (DCMTK aborts on odd ones).
    fn fragment_size(&self) -> usize {
        match self.link.peer_max_pdu() {
            0 => UNLIMITED_FRAGMENT,
            max => (max.saturating_sub(PDV_OVERHEAD) as usize & !1).max(2),
        }
    }

    fn send_fragment(
        &mut self,
        context_id: u8,
        kind: PDataValueType,
        is_last: bool,
        data: Vec<u8>,
    ) -> Result<(), DimseError> {
        let bytes = data.len();
        let pdu = Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: context_id,
                value_type: kind,
                is_last,
                data,
            }],
        };
        self.watched_io(bytes, |link| link.send_pdu(&pdu))
    }

    /// Sends a command and, if given, its data set read to the end.
    pub fn send(
        &mut self,
        context_id: u8,
        command: &Command,
        data: Option<&mut dyn Read>,
    ) -> Result<(), DimseError> {
        self.flush()?;
        let encoded = command.encode();
        let size = self.fragment_size();
        let chunks: Vec<&[u8]> = encoded.chunks(size).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            self.send_fragment(
                context_id,
                PDataValueType::Command,
                i + 1 == chunks.len(),
                chunk.to_vec(),
            )?;
        }
        let Some(reader) = data else { return Ok(()) };
        // Read one fragment ahead, so that the last one can be flagged as such.
        let mut current = read_up_to(reader, size)?;
        loop {
            let next = if current.len() == size {
                read_up_to(reader, size)?
            } else {
                Vec::new()
            };
            let last = next.is_empty();
            if last && current.len() % 2 == 1 {
                // A data set of odd length (a malformed file): one NUL of trailing padding keeps
                // the fragment even, and readers ignore it.
                current.push(0);
            }
            self.send_fragment(context_id, PDataValueType::Data, last, current)?;
            if last {
                return Ok(());
            }
            current = next;
        }
    }

    fn next_value(&mut self) -> Result<Option<PDataValue>, DimseError> {
        // Never wait for the peer with messages of ours still queued.
        self.flush()?;
        loop {
            if let Some(value) = self.pending.pop_front() {
                return Ok(Some(value));
            }
            match self.watched_io(super::MAX_PDU as usize, |link| link.receive_pdu())? {
                Pdu::PData { data } => self.pending.extend(data),
                Pdu::ReleaseRQ => {
                    if let Some(hook) = &self.before_release {
                        hook();
                    }
                    self.watched_io(0, |link| link.send_pdu(&Pdu::ReleaseRP))?;
                    return Ok(None);
                }
                Pdu::AbortRQ { .. } => return Err(DimseError::Aborted),
                other => return Err(DimseError::Protocol(format!("unexpected PDU {other:?}"))),
            }
        }
    }

    /// Whether the peer sent a C-CANCEL-RQ while we were answering a request (checked between
    /// responses without blocking; anything else the peer sent meanwhile is a protocol error).
    pub fn cancel_requested(&mut self) -> Result<bool, DimseError> {
        if self.pending.is_empty() && !data_waiting(self.link.socket()) {
            return Ok(false);
        }
        match self.receive_command()? {
            Incoming::Command { command, .. }
                if command.field() == super::command::field::C_CANCEL_RQ =>
            {
                Ok(true)
            }
            Incoming::Command { command, .. } => Err(DimseError::Protocol(format!(
                "request 0x{:04X} while another is in progress",
                command.field()
            ))),
            Incoming::Released => Err(DimseError::Protocol(
                "released while a request was in progress".into(),
            )),
            Incoming::Aborted => Err(DimseError::Aborted),
        }
    }

    /// Waits for the next command. A release request is answered and reported as `Released`.
    pub fn receive_command(&mut self) -> Result<Incoming, DimseError> {
        let mut bytes = Vec::new();
        loop {
            let value = match self.next_value() {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(Incoming::Released),
                Err(DimseError::Aborted) => return Ok(Incoming::Aborted),
                Err(e) => return Err(e),
            };
            if value.value_type != PDataValueType::Command {
                return Err(DimseError::Protocol(
                    "data set fragment where a command was expected".into(),
                ));
            }
            bytes.extend_from_slice(&value.data);
            if bytes.len() > 64 << 10 {
                return Err(DimseError::Protocol(
                    "command set larger than 64 KiB".into(),
                ));
            }
            if value.is_last {
                let command = Command::decode(&bytes)?;
                return Ok(Incoming::Command {
                    context_id: value.presentation_context_id,
                    command,
                });
            }
        }
    }

    /// Receives the data set that follows a command, writing each fragment to `sink` as it
    /// arrives. Returns the number of bytes.
    pub fn receive_data(&mut self, sink: &mut dyn Write) -> Result<u64, DimseError> {
        let mut total = 0u64;
        loop {
            let value = self.next_value()?.ok_or_else(|| {
                DimseError::Protocol("released in the middle of a data set".into())
            })?;
            if value.value_type != PDataValueType::Data {
                return Err(DimseError::Protocol(
                    "command fragment in the middle of a data set".into(),
                ));
            }
            sink.write_all(&value.data).map_err(DimseError::Io)?;
            total += value.data.len() as u64;
            if value.is_last {
                return Ok(total);
            }
        }
    }
}

/// A sink that refuses to grow beyond a limit (identifiers and matches are small; a huge one is
/// hostile).
pub(crate) struct Bounded<'a> {
    pub buf: &'a mut Vec<u8>,
    pub limit: usize,
}

impl Write for Bounded<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            return Err(std::io::Error::other(format!(
                "data set larger than {} bytes",
                self.limit
            )));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Receives a whole small data set (an identifier, a match) of at most `limit` bytes.
pub(crate) fn receive_bounded<L: Link>(
    messenger: &mut Messenger<L>,
    limit: usize,
) -> Result<Vec<u8>, DimseError> {
    let mut data = Vec::new();
    messenger.receive_data(&mut Bounded {
        buf: &mut data,
        limit,
    })?;
    Ok(data)
}

fn read_up_to(reader: &mut dyn Read, size: usize) -> Result<Vec<u8>, DimseError> {
    let mut buf = Vec::with_capacity(size);
    reader
        .take(size as u64)
        .read_to_end(&mut buf)
        .map_err(DimseError::Io)?;
    Ok(buf)
}
