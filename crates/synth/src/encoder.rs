//! A minimal Explicit VR Little Endian element writer, enough for the files the generator makes.

pub(crate) struct Encoder {
    pub(crate) buf: Vec<u8>,
    /// The last tag written, to keep elements in ascending order.
    pub(crate) last: u32,
}

impl Encoder {
    pub(crate) fn with_capacity(capacity: usize) -> Encoder {
        Encoder {
            buf: Vec::with_capacity(capacity),
            last: 0,
        }
    }

    /// Writes an element header for a value of `len` bytes (`len` even).
    pub(crate) fn header(&mut self, tag: u32, vr: &[u8; 2], len: usize) {
        assert!(
            tag > self.last || self.last == 0,
            "tag ({tag:08X}) out of order"
        );
        debug_assert!(len.is_multiple_of(2));
        self.last = tag;
        self.buf
            .extend_from_slice(&((tag >> 16) as u16).to_le_bytes());
        self.buf.extend_from_slice(&(tag as u16).to_le_bytes());
        self.buf.extend_from_slice(vr);
        if matches!(
            vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        ) {
            self.buf.extend_from_slice(&[0, 0]);
            self.buf
                .extend_from_slice(&u32::try_from(len).expect("value too long").to_le_bytes());
        } else {
            self.buf
                .extend_from_slice(&u16::try_from(len).expect("value too long").to_le_bytes());
        }
    }

    /// A binary value, padded with a zero byte to even length.
    pub(crate) fn bytes(&mut self, tag: u32, vr: &[u8; 2], value: &[u8]) {
        let pad = value.len() % 2;
        self.header(tag, vr, value.len() + pad);
        self.buf.extend_from_slice(value);
        if pad == 1 {
            self.buf.push(0);
        }
    }

    /// A sequence of items, each given as its encoded elements, with explicit lengths.
    pub(crate) fn sequence(&mut self, tag: u32, items: &[Vec<u8>]) {
        let len: usize = items.iter().map(|item| 8 + item.len()).sum();
        self.header(tag, b"SQ", len);
        for item in items {
            self.buf.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            let item_len = u32::try_from(item.len()).expect("item too long");
            self.buf.extend_from_slice(&item_len.to_le_bytes());
            self.buf.extend_from_slice(item);
        }
    }

    /// The encoded elements of one item: a sequence of one item holding `build`'s elements.
    pub(crate) fn item(build: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut e = Encoder::with_capacity(128);
        build(&mut e);
        e.buf
    }

    /// A string value, padded to even length with NUL (UI) or a space.
    pub(crate) fn text(&mut self, tag: u32, vr: &[u8; 2], value: &str) {
        let pad = value.len() % 2;
        self.header(tag, vr, value.len() + pad);
        self.buf.extend_from_slice(value.as_bytes());
        if pad == 1 {
            self.buf.push(if vr == b"UI" { 0 } else { b' ' });
        }
    }
}
