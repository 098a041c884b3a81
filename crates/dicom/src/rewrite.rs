//! Writing an instance back once its data set was changed in memory (a modification, a
//! de-identification): a whole PS3.10 file, in Explicit VR Little Endian, or, when its pixel
//! data is compressed, in its own transfer syntax with every fragment copied byte for byte.
//! Values the reader left in the file (pixel data, large binary values) are copied from it a
//! chunk at a time, so the pixel data is never changed and never held whole.

use super::dataset::{DataSet, Span, Value};
use super::meta::part10_header;
use super::parse::DicomFile;
use super::tag::{self, Tag};
use super::transcode::{pixel_swap_unit, Source, TranscodeError, Writer};
use super::transfer_syntax;
use super::vr::Vr;
use std::io::Write;
use std::path::Path;

const UNDEFINED_LENGTH: u32 = 0xFFFF_FFFF;

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub transfer_syntax: String,
    /// The file's length in bytes.
    pub length: u64,
}

/// Writes `ds` — the data set of `file` (read from `path`), as changed — to `out` as a PS3.10
/// file, its file meta naming the data set's own SOP Class and Instance UIDs.
pub fn write_instance(
    path: &Path,
    file: &DicomFile,
    ds: &DataSet,
    out: &mut dyn Write,
) -> Result<Rewritten, TranscodeError> {
    let encapsulated = matches!(
        ds.get(tag::PIXEL_DATA).map(|e| &e.value),
        Some(Value::Encapsulated { .. })
    );
    // Compressed transfer syntaxes are all explicit VR little endian; only their pixel data
    // differs, and it is copied as it is.
    let transfer_syntax = if encapsulated {
        file.transfer_syntax.clone()
    } else {
        transfer_syntax::EXPLICIT_VR_LITTLE_ENDIAN.to_string()
    };
    let text = |t| ds.text(t).unwrap_or_default();
    let source_ae = file.meta.text(tag::SOURCE_APPLICATION_ENTITY_TITLE);
    let header = part10_header(
        &text(tag::SOP_CLASS_UID),
        &text(tag::SOP_INSTANCE_UID),
        &transfer_syntax,
        source_ae.as_deref(),
    );
    out.write_all(&header)?;
    let mut writer = Writer {
        out,
        explicit: true,
        source: Source::of(file, path)?,
        big_endian: file.encoding.big_endian,
        written: header.len() as u64,
    };
    let mut elements: Vec<_> = ds
        .elements
        .iter()
        // Group lengths would have to be recomputed (they are retired); group 2 is the header's.
        .filter(|e| e.tag.1 != 0x0000 && e.tag.0 != 0x0002)
        .collect();
    elements.sort_by_key(|e| e.tag);
    for e in elements {
        match &e.value {
            Value::Encapsulated {
                offset_table,
                fragments,
            } if e.tag == tag::PIXEL_DATA => {
                encapsulated_copy(&mut writer, e.tag, *offset_table, fragments)?
            }
            _ if e.tag == tag::PIXEL_DATA => writer.element(e, Some(pixel_swap_unit(ds, e.vr)))?,
            _ => writer.element(e, None)?,
        }
    }
    Ok(Rewritten {
        transfer_syntax,
        length: writer.written,
    })
}

/// Encapsulated pixel data as it was: the basic offset table item, then each fragment's item.
fn encapsulated_copy(
    writer: &mut Writer,
    tag: Tag,
    offset_table: Span,
    fragments: &[Span],
) -> Result<(), TranscodeError> {
    writer.header(tag, Vr::OB, UNDEFINED_LENGTH)?;
    for span in std::iter::once(&offset_table).chain(fragments) {
        let length = u32::try_from(span.length)
            .ok()
            .filter(|l| *l != UNDEFINED_LENGTH)
            .ok_or_else(|| TranscodeError::Invalid("a pixel data fragment is too long".into()))?;
        writer.item_header(tag::ITEM, length)?;
        let mut done = 0u64;
        while done < span.length {
            let n = (span.length - done).min(256 << 10) as usize;
            let chunk = writer.source.read(span.offset + done, n)?.to_vec();
            writer.put(&chunk)?;
            done += n as u64;
        }
    }
    writer.item_header(tag::SEQUENCE_DELIMITATION, 0)?;
    Ok(())
}
