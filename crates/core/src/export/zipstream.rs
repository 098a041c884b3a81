//! Zip archives written front to back, never seeking, so a download starts at once and needs no
//! scratch copy. Entries are stored as they are (DICOM files rarely shrink much); each entry's
//! CRC and sizes follow its data (a data descriptor), and ZIP64 records are written where sizes,
//! offsets or the entry count outgrow the classic fields.

use std::io::{self, Read, Write};

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const ZIP64_END: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const END: u32 = 0x0605_4b50;
/// General purpose flags: sizes and CRC in a data descriptor; names in UTF-8.
const FLAGS: u16 = (1 << 3) | (1 << 11);
const STORED: u16 = 0;
const ZIP64_EXTRA: u16 = 0x0001;
/// Field values that say "see the ZIP64 record".
const MAX_32: u64 = 0xFFFF_FFFF;
const MAX_16: u64 = 0xFFFF;

struct Entry {
    name: String,
    crc: u32,
    size: u64,
    offset: u64,
    zip64: bool,
}

/// Counts what goes through, for the offsets the central directory needs.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub struct ZipStream<W: Write> {
    out: Counting<W>,
    entries: Vec<Entry>,
    /// MS-DOS time and date of every entry (the archive's creation).
    dos_time: u16,
    dos_date: u16,
    /// Writes ZIP64 records even where the classic fields would do (for tests).
    always_zip64: bool,
}

fn le16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn le32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn le64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// MS-DOS time and date of a Unix time (UTC), as zip stores them.
fn dos_time_date(unix_seconds: u64) -> (u16, u16) {
    let days = unix_seconds / 86_400;
    let seconds = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u16;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u16;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    let time = ((seconds / 3600) as u16) << 11
        | ((seconds % 3600 / 60) as u16) << 5
        | (seconds % 60 / 2) as u16;
    let date = (year.saturating_sub(1980)) << 9 | month << 5 | day;
    (time, date)
}

impl<W: Write> ZipStream<W> {
    pub fn new(out: W) -> ZipStream<W> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (dos_time, dos_date) = dos_time_date(now);
        ZipStream {
            out: Counting {
                inner: out,
                written: 0,
            },
            entries: Vec::new(),
            dos_time,
            dos_date,
            always_zip64: false,
        }
    }

    /// Adds `name` with the bytes of `data`; `size_hint` (the file's length) decides whether the
    /// entry needs ZIP64 sizes, and must not be smaller than what `data` gives.
    pub fn add(&mut self, name: &str, size_hint: u64, data: &mut impl Read) -> io::Result<()> {
        let offset = self.out.written;
        let zip64 = self.always_zip64 || size_hint >= MAX_32;
        let mut header = Vec::with_capacity(30 + name.len() + 20);
        le32(&mut header, LOCAL_HEADER);
        le16(&mut header, if zip64 { 45 } else { 20 });
        le16(&mut header, FLAGS);
        le16(&mut header, STORED);
        le16(&mut header, self.dos_time);
        le16(&mut header, self.dos_date);
        le32(&mut header, 0); // CRC, in the data descriptor
        le32(&mut header, if zip64 { MAX_32 as u32 } else { 0 });
        le32(&mut header, if zip64 { MAX_32 as u32 } else { 0 });
        le16(&mut header, name.len() as u16);
        le16(&mut header, if zip64 { 20 } else { 0 });
        header.extend_from_slice(name.as_bytes());
        if zip64 {
            // Sizes follow in the descriptor; the extra field says they are 8 bytes there.
            le16(&mut header, ZIP64_EXTRA);
            le16(&mut header, 16);
            le64(&mut header, 0);
            le64(&mut header, 0);
        }
        self.out.write_all(&header)?;
        let mut crc = crc32fast::Hasher::new();
        let mut size = 0u64;
        let mut buffer = vec![0u8; 256 << 10];
        loop {
            let n = data.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            crc.update(&buffer[..n]);
            self.out.write_all(&buffer[..n])?;
            size += n as u64;
        }
        if !zip64 && size >= MAX_32 {
            return Err(io::Error::other(format!(
                "{name} grew past 4 GiB while zipped"
            )));
        }
        let crc = crc.finalize();
        let mut descriptor = Vec::with_capacity(24);
        le32(&mut descriptor, DATA_DESCRIPTOR);
        le32(&mut descriptor, crc);
        if zip64 {
            le64(&mut descriptor, size);
            le64(&mut descriptor, size);
        } else {
            le32(&mut descriptor, size as u32);
            le32(&mut descriptor, size as u32);
        }
        self.out.write_all(&descriptor)?;
        self.entries.push(Entry {
            name: name.to_string(),
            crc,
            size,
            offset,
            zip64: zip64 || offset >= MAX_32,
        });
        Ok(())
    }

    /// Writes the central directory and the end records; returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        let directory_offset = self.out.written;
        for entry in &self.entries {
            let mut extra = Vec::new();
            if entry.zip64 {
                le16(&mut extra, ZIP64_EXTRA);
                le16(&mut extra, 24);
                le64(&mut extra, entry.size);
                le64(&mut extra, entry.size);
                le64(&mut extra, entry.offset);
            }
            let (size, offset) = if entry.zip64 {
                (MAX_32 as u32, MAX_32 as u32)
            } else {
                (entry.size as u32, entry.offset as u32)
            };
            let mut header = Vec::with_capacity(46 + entry.name.len() + extra.len());
            le32(&mut header, CENTRAL_HEADER);
            le16(&mut header, 45); // made by: version 4.5, MS-DOS attributes
            le16(&mut header, if entry.zip64 { 45 } else { 20 });
            le16(&mut header, FLAGS);
            le16(&mut header, STORED);
            le16(&mut header, self.dos_time);
            le16(&mut header, self.dos_date);
            le32(&mut header, entry.crc);
            le32(&mut header, size);
            le32(&mut header, size);
            le16(&mut header, entry.name.len() as u16);
            le16(&mut header, extra.len() as u16);
            le16(&mut header, 0); // comment
            le16(&mut header, 0); // disk
            le16(&mut header, 0); // internal attributes
            le32(&mut header, 0); // external attributes
            le32(&mut header, offset);
            header.extend_from_slice(entry.name.as_bytes());
            header.extend_from_slice(&extra);
            self.out.write_all(&header)?;
        }
        let directory_size = self.out.written - directory_offset;
        let count = self.entries.len() as u64;
        let zip64 = self.always_zip64
            || count >= MAX_16
            || directory_offset >= MAX_32
            || directory_size >= MAX_32;
        let mut end = Vec::with_capacity(98);
        if zip64 {
            let record_offset = self.out.written;
            le32(&mut end, ZIP64_END);
            le64(&mut end, 44); // size of the rest of this record
            le16(&mut end, 45);
            le16(&mut end, 45);
            le32(&mut end, 0);
            le32(&mut end, 0);
            le64(&mut end, count);
            le64(&mut end, count);
            le64(&mut end, directory_size);
            le64(&mut end, directory_offset);
            le32(&mut end, ZIP64_LOCATOR);
            le32(&mut end, 0);
            le64(&mut end, record_offset);
            le32(&mut end, 1);
        }
        let clamp16 = |v: u64| if zip64 { MAX_16 as u16 } else { v as u16 };
        let clamp32 = |v: u64| if zip64 { MAX_32 as u32 } else { v as u32 };
        le32(&mut end, END);
        le16(&mut end, 0);
        le16(&mut end, 0);
        le16(&mut end, clamp16(count));
        le16(&mut end, clamp16(count));
        le32(&mut end, clamp32(directory_size));
        le32(&mut end, clamp32(directory_offset));
        le16(&mut end, 0);
        self.out.write_all(&end)?;
        self.out.flush()?;
        Ok(self.out.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(always_zip64: bool) -> Vec<u8> {
        let mut zip = ZipStream::new(Vec::new());
        zip.always_zip64 = always_zip64;
        zip.add("a/one.dcm", 5, &mut &b"hello"[..]).unwrap();
        zip.add("a/b/two.dcm", 0, &mut &b""[..]).unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        zip.add("three.dcm", big.len() as u64, &mut &big[..])
            .unwrap();
        zip.finish().unwrap()
    }

    #[test]
    fn archives_read_back_with_the_zip_crate() {
        for always_zip64 in [false, true] {
            let bytes = archive(always_zip64);
            let mut read = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
            assert_eq!(read.len(), 3);
            let mut names = Vec::new();
            for i in 0..read.len() {
                let mut entry = read.by_index(i).unwrap();
                names.push(entry.name().to_string());
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                // The zip crate checks each entry's CRC as it reads it to the end.
                assert_eq!(data.len() as u64, entry.size());
                if i == 2 {
                    assert_eq!(data.len(), 300_000);
                    assert_eq!(data[1000], (1000 % 251) as u8);
                }
            }
            assert_eq!(names, ["a/one.dcm", "a/b/two.dcm", "three.dcm"]);
        }
    }

    #[test]
    fn dos_dates() {
        // 2026-11-25 13:10:42 UTC.
        let (time, date) = dos_time_date(1_795_612_242);
        assert_eq!(date >> 9, 2026 - 1980);
        assert_eq!((date >> 5) & 0xF, 11);
        assert_eq!(date & 0x1F, 25);
        assert_eq!(time >> 11, 13);
        assert_eq!((time >> 5) & 0x3F, 10);
        assert_eq!((time & 0x1F) * 2, 42);
    }
}
