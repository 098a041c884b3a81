//! The project's own decoders (12-bit DCT JPEG, RLE) on corrupted real streams: never a panic,
//! never an unbounded loop; each call returns a frame or an error.

mod support;

use lightbox_dicom::parse::{locate_fragments, ByteSource, FileSource};
use lightbox_dicom::pixel::codec::{self, jpeg_dct, rle, FrameGeometry};
use lightbox_dicom::transfer_syntax::PixelEncoding;
use lightbox_dicom::{self as dicom, tag, ReadMode, Value};

/// The first frame's bytes of an encapsulated test file.
fn first_frame(path: &std::path::Path) -> Vec<u8> {
    let file = dicom::read_file(path, ReadMode::Header).unwrap();
    let Some(Value::Deferred(span)) = file.dataset.get(tag::PIXEL_DATA).map(|e| e.value.clone())
    else {
        panic!("no pixel data")
    };
    let mut src = FileSource::open(path).unwrap();
    let len = src.len();
    let (_, fragments, _) = locate_fragments(&mut src, span.offset, len, false).unwrap();
    src.bytes(fragments[0].offset, fragments[0].length as usize)
        .unwrap()
        .to_vec()
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn mutations(original: &[u8], count: usize, mut run: impl FnMut(&[u8])) {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for cut in (0..original.len()).step_by((original.len() / 64).max(1)) {
        run(&original[..cut]);
    }
    for _ in 0..count {
        let mut bytes = original.to_vec();
        for _ in 0..(rng.next() % 8 + 1) {
            let at = (rng.next() as usize) % bytes.len();
            bytes[at] = rng.next() as u8;
        }
        run(&bytes);
    }
}

#[test]
fn corrupted_12_bit_jpeg_never_panics() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let stream = first_frame(&data.join("test_files/JPGExtended.dcm"));
    let decoded = jpeg_dct::decode(&stream).expect("the intact stream decodes");
    assert_eq!(
        (decoded.width, decoded.height, decoded.precision),
        (256, 1024, 12)
    );
    let (mut ok, mut err) = (0, 0);
    mutations(&stream, 300, |bytes| match jpeg_dct::decode(bytes) {
        Ok(d) => {
            assert_eq!(
                d.samples.len(),
                d.width as usize * d.height as usize * d.components as usize
            );
            ok += 1
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            err += 1
        }
    });
    eprintln!("12-bit JPEG mutations: {ok} decoded, {err} refused");
    assert!(err > 0);
}

#[test]
fn corrupted_rle_never_panics() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let stream = first_frame(&data.join("test_files/SC_rgb_rle_16bit.dcm"));
    assert!(rle::decode(&stream, 100 * 100, 3, 2).is_ok());
    mutations(&stream, 300, |bytes| {
        if let Ok(out) = rle::decode(bytes, 100 * 100, 3, 2) {
            assert_eq!(out.len(), 100 * 100 * 3 * 2);
        }
    });
}

/// A JPEG frame header that claims far more pixels than the data set is refused before any
/// decoding (fuzzing found one that kept the decoder busy for 48 s and 1.4 GB); the honest
/// stream still decodes.
#[test]
fn a_jpeg_larger_than_its_data_set_is_refused_before_decoding() {
    let Some(data) = support::pydicom_data() else {
        return;
    };
    let path = data.join("test_files/SC_rgb_jpeg_dcmtk.dcm");
    let header = dicom::read_file(&path, ReadMode::Header).unwrap();
    let number = |t| header.dataset.int(t).unwrap() as usize;
    let geometry = FrameGeometry {
        rows: number(tag::ROWS),
        columns: number(tag::COLUMNS),
        samples: 3,
        bits_allocated: 8,
        photometric: header
            .dataset
            .text(tag::PHOTOMETRIC_INTERPRETATION)
            .unwrap()
            .trim()
            .to_string(),
    };
    let stream = first_frame(&path);
    let frame = codec::decode(PixelEncoding::JpegDct, &stream, &geometry, 0).unwrap();
    assert_eq!(frame.bytes.len(), geometry.rows * geometry.columns * 3);

    let sof = stream
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    let mut huge = stream.clone();
    huge[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let Err(refused) = codec::decode(PixelEncoding::JpegDct, &huge, &geometry, 0) else {
        panic!("a 60000×60000 frame header was decoded");
    };
    assert!(refused.to_string().contains("60000×60000"), "{refused}");
}
