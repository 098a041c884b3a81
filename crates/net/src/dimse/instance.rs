//! Sending and receiving one instance on an association, whichever side we are: a C-STORE of
//! ours (a send, a C-GET or C-MOVE sub-operation) streams a stored file from disk; a C-STORE we
//! receive (the storage SCP, a C-GET retrieval) streams into a scratch file of the sink.

use super::command::{element, field, Command};
use super::message::{Link, Messenger};
use super::{status, DimseError};
use crate::sink::{Accepted, InstanceSink, Origin};
use lightbox_dicom::meta::part10_header;
use lightbox_dicom::{self as dicom, tag, transfer_syntax, ReadMode};
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A stored file about to be sent: what its C-STORE request says, and where its data set starts.
pub(crate) struct Outgoing {
    pub path: PathBuf,
    pub sop_class: String,
    pub sop_instance: String,
    pub transfer_syntax: String,
    pub dataset_offset: u64,
}

/// Reads what a C-STORE of `path` needs from its header, or says why it cannot be sent.
pub(crate) fn describe_file(path: &Path) -> Result<Outgoing, String> {
    let file = dicom::read_file(path, ReadMode::Header).map_err(|e| e.to_string())?;
    if file.encoding != transfer_syntax::Encoding::of(&file.transfer_syntax) {
        // Sent as is, the peer would parse the data set with the wrong encoding.
        return Err(format!(
            "its data set is encoded differently from its transfer syntax ({}); it cannot be sent as is",
            transfer_syntax::name(&file.transfer_syntax)
        ));
    }
    // The data set is authoritative (some files' meta disagrees with it, and peers check the
    // command against the data set); the meta is the fallback.
    let sop_class = file
        .dataset
        .first_text(tag::SOP_CLASS_UID)
        .or_else(|| file.meta.first_text(tag::MEDIA_STORAGE_SOP_CLASS_UID))
        .ok_or("no SOP Class UID")?;
    let sop_instance = file
        .dataset
        .first_text(tag::SOP_INSTANCE_UID)
        .or_else(|| file.meta.first_text(tag::MEDIA_STORAGE_SOP_INSTANCE_UID))
        .ok_or("no SOP Instance UID")?;
    Ok(Outgoing {
        path: path.to_path_buf(),
        sop_class,
        sop_instance,
        transfer_syntax: file.transfer_syntax,
        dataset_offset: file.dataset_offset,
    })
}

pub(crate) fn store_command(o: &Outgoing, message_id: u16) -> Command {
    let mut command = Command::new(field::C_STORE_RQ, true);
    command
        .set_str(element::AFFECTED_SOP_CLASS_UID, &o.sop_class)
        .set_str(element::AFFECTED_SOP_INSTANCE_UID, &o.sop_instance)
        .set_u16(element::MESSAGE_ID, message_id)
        .set_u16(element::PRIORITY, 0);
    command
}

/// Sends the C-STORE request of a stored file, its data set streamed from disk as it is.
pub(crate) fn send_store_request<L: Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    o: &Outgoing,
    message_id: u16,
) -> Result<(), DimseError> {
    let mut file = File::open(&o.path).map_err(DimseError::Io)?;
    file.seek(SeekFrom::Start(o.dataset_offset))
        .map_err(DimseError::Io)?;
    let mut reader = BufReader::with_capacity(256 << 10, file);
    messenger.send(context_id, &store_command(o, message_id), Some(&mut reader))
}

/// What became of a received instance: the status to answer with, an error comment, the
/// instance (when stored or a duplicate), and the data set bytes received.
pub(crate) struct Received {
    pub status: u16,
    pub comment: Option<String>,
    pub accepted: Option<Accepted>,
    pub bytes: u64,
}

/// Receives the data set of a C-STORE into a scratch file of the sink (streamed, never whole in
/// memory), behind a Part 10 header made from the command, and hands it to the sink.
pub(crate) fn receive_instance<L: Link>(
    sink: &dyn InstanceSink,
    messenger: &mut Messenger<L>,
    command: &Command,
    transfer_syntax: &str,
    origin: &Origin,
) -> Result<Received, DimseError> {
    let sop_class = command
        .str(element::AFFECTED_SOP_CLASS_UID)
        .unwrap_or_default();
    let sop_instance = command
        .str(element::AFFECTED_SOP_INSTANCE_UID)
        .unwrap_or_default();
    let mut tmp = match tempfile::NamedTempFile::new_in(sink.scratch_dir()) {
        Ok(t) => t,
        Err(e) => {
            messenger.receive_data(&mut std::io::sink())?;
            tracing::warn!(error = %e, "no scratch file for a received instance");
            return Ok(Received {
                status: status::OUT_OF_RESOURCES,
                comment: Some(format!("cannot write: {e}")),
                accepted: None,
                bytes: 0,
            });
        }
    };
    let written = {
        let mut writer = BufWriter::with_capacity(256 << 10, tmp.as_file_mut());
        let header = part10_header(
            &sop_class,
            &sop_instance,
            transfer_syntax,
            origin.calling_ae_title,
        );
        writer.write_all(&header).map_err(DimseError::Io)?;
        let received = messenger.receive_data(&mut writer)?;
        writer.flush().map_err(DimseError::Io)?;
        received
    };
    let (status, comment, accepted) = match sink.ingest(tmp, origin) {
        // Duplicate policy: the first copy is kept and a repeat is acknowledged as a success.
        Ok(accepted) => (status::SUCCESS, None, Some(accepted)),
        Err(refused) => {
            let status = if refused.out_of_resources {
                status::OUT_OF_RESOURCES
            } else if written == 0 {
                status::DATA_SET_DOES_NOT_MATCH_SOP_CLASS
            } else {
                status::CANNOT_UNDERSTAND
            };
            (status, Some(refused.reason), None)
        }
    };
    Ok(Received {
        status,
        comment,
        accepted,
        bytes: written,
    })
}

/// Answers `request` with a response carrying `status` (and an error comment, cut to the 64
/// characters of LO).
pub(crate) fn respond<L: Link>(
    messenger: &mut Messenger<L>,
    context_id: u8,
    request: &Command,
    response_field: u16,
    status: u16,
    comment: Option<&str>,
) -> Result<(), DimseError> {
    let mut response = Command::new(response_field, false);
    response
        .set_u16(element::MESSAGE_ID_BEING_RESPONDED_TO, request.message_id())
        .set_u16(element::STATUS, status);
    if let Some(class) = request.str(element::AFFECTED_SOP_CLASS_UID) {
        response.set_str(element::AFFECTED_SOP_CLASS_UID, &class);
    }
    if let Some(instance) = request.str(element::AFFECTED_SOP_INSTANCE_UID) {
        response.set_str(element::AFFECTED_SOP_INSTANCE_UID, &instance);
    }
    if let Some(comment) = comment {
        response.set_str(
            element::ERROR_COMMENT,
            &comment.chars().take(64).collect::<String>(),
        );
    }
    messenger.send(context_id, &response, None)
}
