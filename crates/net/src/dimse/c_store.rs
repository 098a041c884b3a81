//! C-STORE: sending stored files to a peer (the SCU, for `send` and C-MOVE's sub-operations),
//! converting an instance to an uncompressed syntax when the peer takes no other, and the SCP's
//! storage of what peers send (through the [`InstanceSink`]).

use super::association::{associate, expect_response, AcceptedContext, Proposal};
use super::command::{element, field, Command};
use super::instance::{
    describe_file, receive_instance, respond, send_store_request, store_command, Outgoing, Received,
};
use super::message::{Link, Messenger};
use super::status::{self, Category};
use super::{AeAddress, DimseError, ScuOptions};
use crate::report::{SendReport, SentInstance};
use crate::sink::{Accepted, InstanceSink, Origin};
use lightbox_dicom::{self as dicom, transfer_syntax};
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// C-STORE of each file, on one association, proposing each SOP class with the files' own
/// transfer syntaxes. A file that cannot be read or is refused is reported, and the others go on.
pub fn send_files(
    peer: &AeAddress,
    options: &ScuOptions,
    files: &[PathBuf],
    on_each: &mut dyn FnMut(&SentInstance),
) -> Result<SendReport, DimseError> {
    send_files_until(peer, options, files, &mut |sent| {
        on_each(sent);
        true
    })
}

/// As [`send_files`], stopping before the next file when `on_each` returns false.
pub fn send_files_until(
    peer: &AeAddress,
    options: &ScuOptions,
    files: &[PathBuf],
    on_each: &mut dyn FnMut(&SentInstance) -> bool,
) -> Result<SendReport, DimseError> {
    let mut report = SendReport::default();
    let mut outgoing = Vec::new();
    for path in files {
        match describe_file(path) {
            Ok(o) => outgoing.push(o),
            Err(error) => {
                let entry = SentInstance {
                    path: path.display().to_string(),
                    sop_instance_uid: None,
                    status: None,
                    error: Some(error),
                    transfer_syntax: None,
                    transcoded: false,
                };
                let go_on = on_each(&entry);
                report.failed += 1;
                report.instances.push(entry);
                if !go_on {
                    return Ok(report);
                }
            }
        }
    }
    if outgoing.is_empty() {
        return Ok(report);
    }
    let contexts = proposed_contexts(&outgoing);
    if contexts.len() > 128 {
        return Err(DimseError::Protocol(format!(
            "{} presentation contexts (SOP class / transfer syntax combinations, and uncompressed \
             fallbacks) exceed one association's 128",
            contexts.len()
        )));
    }
    let opened = associate(
        peer,
        options,
        &Proposal {
            contexts,
            scp_roles: Vec::new(),
        },
    )?;
    let accepted = opened.accepted;
    let mut messenger = opened.messenger;
    for (i, o) in outgoing.iter().enumerate() {
        let mut entry = SentInstance {
            path: o.path.display().to_string(),
            sop_instance_uid: Some(o.sop_instance.clone()),
            status: None,
            error: None,
            transfer_syntax: None,
            transcoded: false,
        };
        let message_id = (i + 1) as u16;
        match choose_context(&accepted, o) {
            None => {
                entry.error = Some(format!(
                    "the peer does not accept SOP class {} in {} ({}){}",
                    o.sop_class,
                    transfer_syntax::name(&o.transfer_syntax),
                    o.transfer_syntax,
                    if is_native_le(&o.transfer_syntax) {
                        ""
                    } else {
                        " nor uncompressed"
                    }
                ))
            }
            Some((context_id, ts)) if ts == o.transfer_syntax => {
                match store_outgoing(&mut messenger, context_id, o, message_id) {
                    Ok(status) => {
                        entry.status = Some(status);
                        entry.transfer_syntax = Some(ts);
                    }
                    // Reading this file failed: report it and go on with the next one.
                    Err(DimseError::Io(e)) => entry.error = Some(format!("reading the file: {e}")),
                    Err(e) => return Err(e),
                }
            }
            Some((context_id, ts)) => match transcode_outgoing(o, &ts) {
                Err(reason) => entry.error = Some(reason),
                Ok(mut data) => {
                    let command = store_command(o, message_id);
                    messenger.send(context_id, &command, Some(&mut data))?;
                    let response = expect_response(&mut messenger, field::C_STORE_RSP)?;
                    entry.status = Some(response.status().unwrap_or(status::PROCESSING_FAILURE));
                    entry.transfer_syntax = Some(ts);
                    entry.transcoded = true;
                }
            },
        }
        match (&entry.error, entry.status.map(status::category)) {
            (None, Some(Category::Success)) => report.sent += 1,
            (None, Some(Category::Warning)) => {
                report.sent += 1;
                report.warnings += 1
            }
            (None, Some(_)) => {
                entry.error = Some(format!(
                    "refused: {}",
                    status::describe(entry.status.unwrap_or(0))
                ));
                report.failed += 1
            }
            _ => report.failed += 1,
        }
        if entry.transcoded && entry.error.is_none() {
            report.transcoded += 1;
        }
        let go_on = on_each(&entry);
        report.instances.push(entry);
        if !go_on {
            break;
        }
    }
    let _ = messenger.link.release();
    Ok(report)
}

/// Syntaxes a file can be converted to when the peer does not take its own, in order of
/// preference (explicit VR keeps the VRs).
const UNCOMPRESSED: [&str; 2] = [
    transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN,
    transfer_syntax::IMPLICIT_VR_LITTLE_ENDIAN,
];

fn is_native_le(ts: &str) -> bool {
    UNCOMPRESSED.contains(&ts)
}

/// One context per (SOP class, transfer syntax), so that the peer tells exactly which
/// combinations it takes; and for each SOP class with files in any other syntax (compressed,
/// deflated, big endian), one more with both little endian syntaxes, to decode to when the
/// peer takes that class only uncompressed.
fn proposed_contexts(outgoing: &[Outgoing]) -> Vec<(String, Vec<String>)> {
    let mut contexts: Vec<(String, Vec<String>)> = Vec::new();
    for o in outgoing {
        let own = (o.sop_class.clone(), vec![o.transfer_syntax.clone()]);
        if !contexts.contains(&own) {
            contexts.push(own);
        }
    }
    for o in outgoing
        .iter()
        .filter(|o| !is_native_le(&o.transfer_syntax))
    {
        let fallback = (
            o.sop_class.clone(),
            UNCOMPRESSED.iter().map(|ts| ts.to_string()).collect(),
        );
        if !contexts.contains(&fallback) {
            contexts.push(fallback);
        }
    }
    contexts
}

/// The accepted context to send `o` on, and its transfer syntax: its own syntax when accepted
/// (sent as is), else an uncompressed one (the file is converted).
fn choose_context(accepted: &[AcceptedContext], o: &Outgoing) -> Option<(u8, String)> {
    let with = |ts: &str| {
        accepted
            .iter()
            .find(|c| c.abstract_syntax == o.sop_class && c.transfer_syntax == ts)
            .map(|c| (c.id, c.transfer_syntax.clone()))
    };
    with(&o.transfer_syntax).or_else(|| UNCOMPRESSED.iter().find_map(|ts| with(ts)))
}

/// Converts `o` to `ts` in a temporary file (decoding its pixel data), rewound for sending; or
/// says why it cannot be sent. Converting before the request is sent means a failure costs
/// only this instance, never the association.
fn transcode_outgoing(o: &Outgoing, ts: &str) -> Result<BufReader<File>, String> {
    let why = |e: &dyn std::fmt::Display| {
        let source = transfer_syntax::name(&o.transfer_syntax);
        if transfer_syntax::pixel_encoding(&o.transfer_syntax)
            == transfer_syntax::PixelEncoding::Native
        {
            format!(
                "the peer does not accept SOP class {} in {source}, and converting it to {} failed: {e}",
                o.sop_class,
                transfer_syntax::name(ts)
            )
        } else {
            format!(
                "the peer accepts SOP class {} only uncompressed, and decoding {source} ({}) failed: {e}",
                o.sop_class, o.transfer_syntax
            )
        }
    };
    use dicom::transcode::TranscodeError;
    let run = || -> Result<File, TranscodeError> {
        let mut temp = tempfile::tempfile()?;
        let mut out = BufWriter::with_capacity(256 << 10, &mut temp);
        dicom::transcode::to_native(&o.path, ts, &mut out)?;
        out.flush()?;
        drop(out);
        temp.seek(SeekFrom::Start(0))?;
        Ok(temp)
    };
    match run() {
        Ok(file) => Ok(BufReader::with_capacity(256 << 10, file)),
        Err(e @ TranscodeError::NoDecoder { .. }) => Err(format!(
            "the peer accepts SOP class {} only uncompressed, and {e}",
            o.sop_class
        )),
        Err(e) => Err(why(&e)),
    }
}

fn store_outgoing<L: super::message::Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    o: &Outgoing,
    message_id: u16,
) -> Result<u16, DimseError> {
    send_store_request(messenger, context_id, o, message_id)?;
    let response = expect_response(messenger, field::C_STORE_RSP)?;
    Ok(response.status().unwrap_or(status::PROCESSING_FAILURE))
}

/// What one served C-STORE did: the instance, what the sink made of it (or why it refused
/// it), and the data set bytes received.
pub(crate) struct Served {
    pub sop_instance_uid: String,
    pub accepted: Option<Accepted>,
    pub refusal: Option<String>,
    pub bytes: u64,
}

/// The SCP side: receives one C-STORE into the sink, then answers; success means the instance is
/// stored. Returns what became of it, once the peer has been told.
pub(crate) fn serve<L: Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    command: &Command,
    transfer_syntax: &str,
    sink: &dyn InstanceSink,
    origin: &Origin,
) -> Result<Served, DimseError> {
    let Received {
        status,
        comment,
        accepted,
        bytes,
    } = receive_instance(sink, messenger, command, transfer_syntax, origin)?;
    respond(
        messenger,
        context_id,
        command,
        field::C_STORE_RSP,
        status,
        comment.as_deref(),
    )?;
    if let Some(accepted) = &accepted {
        sink.acknowledged(accepted);
    }
    Ok(Served {
        sop_instance_uid: command
            .str(element::AFFECTED_SOP_INSTANCE_UID)
            .unwrap_or_default(),
        refusal: accepted.is_none().then(|| comment.unwrap_or_default()),
        accepted,
        bytes,
    })
}
