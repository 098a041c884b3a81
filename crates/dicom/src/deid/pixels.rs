//! Burned-in text: which images may carry identifying text in their pixels (PS3.15 E.3.1:
//! Burned In Annotation YES, or, when an image does not say, the kinds that often do), and
//! blanking the rectangles a user gives, frame by frame, in black of the image's own kind.

use crate::dataset::DataSet;
use crate::tag::{self, Tag};

const BURNED_IN_ANNOTATION: Tag = Tag(0x0028, 0x0301);

/// Whether an image's pixels may show identifying text.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "risk", content = "why", rename_all = "snake_case")]
pub enum BurnedIn {
    /// The image says it has (Burned In Annotation YES).
    Yes,
    /// It does not say, and it is of a kind that often has (ultrasound, secondary capture…).
    Likely(String),
    No,
}

/// Ultrasound, secondary capture and the other kinds that carry screen text: what PS3.15 tells
/// users to check when Burned In Annotation is absent.
const TEXT_PRONE_SOP_CLASSES: &[(&str, &str)] = &[
    ("1.2.840.10008.5.1.4.1.1.6.1", "ultrasound"),
    ("1.2.840.10008.5.1.4.1.1.3.1", "ultrasound multi-frame"),
    ("1.2.840.10008.5.1.4.1.1.7", "secondary capture"),
    (
        "1.2.840.10008.5.1.4.1.1.7.1",
        "multi-frame single bit secondary capture",
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.2",
        "multi-frame grayscale byte secondary capture",
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.3",
        "multi-frame grayscale word secondary capture",
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.4",
        "multi-frame true color secondary capture",
    ),
    ("1.2.840.10008.5.1.4.1.1.77.1.1", "video endoscopic"),
    ("1.2.840.10008.5.1.4.1.1.77.1.4", "video photographic"),
];

pub fn burned_in(ds: &DataSet) -> BurnedIn {
    match ds.text(BURNED_IN_ANNOTATION).as_deref().map(str::trim) {
        Some("YES") => return BurnedIn::Yes,
        Some("NO") => return BurnedIn::No,
        _ => {}
    }
    if ds.get(tag::PIXEL_DATA).is_none() {
        return BurnedIn::No;
    }
    let class = ds.text(tag::SOP_CLASS_UID).unwrap_or_default();
    if let Some((_, kind)) = TEXT_PRONE_SOP_CLASSES.iter().find(|(uid, _)| *uid == class) {
        return BurnedIn::Likely(format!("{kind}, and Burned In Annotation is not given"));
    }
    if ds.text(tag::MODALITY).as_deref() == Some("US") {
        return BurnedIn::Likely("ultrasound, and Burned In Annotation is not given".into());
    }
    BurnedIn::No
}

/// A rectangle of a frame, in pixels from its top left corner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// What a native little endian frame looks like.
#[derive(Clone, Debug)]
pub struct Geometry {
    pub rows: usize,
    pub columns: usize,
    pub samples: usize,
    pub bytes_per_sample: usize,
    /// Colour planes one after the other (Planar Configuration 1), else interleaved.
    pub planar: bool,
    pub photometric: String,
    pub signed: bool,
    pub bits_stored: usize,
}

impl Geometry {
    pub fn frame_len(&self) -> usize {
        self.rows * self.columns * self.samples * self.bytes_per_sample
    }

    /// Black in this image's terms, per sample: the darkest grey (the highest value for
    /// MONOCHROME1), no colour (Y 0 with neutral chroma for YBR), palette index 0.
    fn black(&self) -> Vec<u64> {
        let bits = self.bits_stored.clamp(1, 64);
        let max = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let lowest = if self.signed { 1u64 << (bits - 1) } else { 0 };
        let highest = if self.signed {
            (1u64 << (bits - 1)) - 1
        } else {
            max
        };
        let middle = 1u64 << (bits - 1);
        match self.photometric.as_str() {
            "MONOCHROME1" => vec![highest],
            p if p.starts_with("YBR") => vec![0, middle, middle],
            _ => vec![lowest; self.samples],
        }
    }
}

/// Blanks the rectangles (clipped to the frame) in one native little endian frame.
pub fn blank_frame(frame: &mut [u8], g: &Geometry, rects: &[Rect]) {
    if frame.len() < g.frame_len() || g.bytes_per_sample == 0 {
        return;
    }
    let black = g.black();
    let sample_at = |s: usize| black.get(s).or(black.first()).copied().unwrap_or(0);
    let b = g.bytes_per_sample;
    for r in rects {
        let (x0, y0) = (r.x as usize, r.y as usize);
        let x1 = (x0 + r.width as usize).min(g.columns);
        let y1 = (y0 + r.height as usize).min(g.rows);
        for y in y0..y1 {
            for x in x0..x1 {
                for s in 0..g.samples {
                    let index = if g.planar {
                        (s * g.rows + y) * g.columns + x
                    } else {
                        (y * g.columns + x) * g.samples + s
                    };
                    let value = sample_at(s).to_le_bytes();
                    frame[index * b..index * b + b].copy_from_slice(&value[..b]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(photometric: &str, samples: usize, bytes: usize, signed: bool) -> Geometry {
        Geometry {
            rows: 4,
            columns: 4,
            samples,
            bytes_per_sample: bytes,
            planar: false,
            photometric: photometric.into(),
            signed,
            bits_stored: bytes * 8,
        }
    }

    #[test]
    fn images_that_may_show_text_are_told_apart() {
        use crate::dataset::{Element, Value};
        use crate::edit::set_text;
        use crate::vr::Vr;
        let image = |class: &str| {
            let mut ds = DataSet::new(std::sync::Arc::default(), false);
            set_text(&mut ds, tag::SOP_CLASS_UID, class).unwrap();
            ds.elements.push(Element {
                tag: tag::PIXEL_DATA,
                vr: Vr::OW,
                value: Value::Bytes(vec![0; 4]),
            });
            ds
        };
        let mut us = image("1.2.840.10008.5.1.4.1.1.6.1");
        assert!(matches!(burned_in(&us), BurnedIn::Likely(why) if why.starts_with("ultrasound")));
        set_text(&mut us, BURNED_IN_ANNOTATION, "NO").unwrap();
        assert_eq!(burned_in(&us), BurnedIn::No);
        let mut ct = image("1.2.840.10008.5.1.4.1.1.2");
        assert_eq!(burned_in(&ct), BurnedIn::No);
        set_text(&mut ct, BURNED_IN_ANNOTATION, "YES").unwrap();
        assert_eq!(burned_in(&ct), BurnedIn::Yes);
        assert!(matches!(
            burned_in(&image("1.2.840.10008.5.1.4.1.1.7")),
            BurnedIn::Likely(_)
        ));
    }

    #[test]
    fn rectangles_are_black_in_the_images_own_terms_and_clipped() {
        let g = geometry("MONOCHROME2", 1, 2, true);
        let mut frame = vec![0x11u8; g.frame_len()];
        blank_frame(
            &mut frame,
            &g,
            &[Rect {
                x: 2,
                y: 3,
                width: 10,
                height: 10,
            }],
        );
        let sample = |f: &[u8], x: usize, y: usize| {
            i16::from_le_bytes([f[(y * 4 + x) * 2], f[(y * 4 + x) * 2 + 1]])
        };
        assert_eq!(sample(&frame, 2, 3), i16::MIN);
        assert_eq!(sample(&frame, 3, 3), i16::MIN);
        assert_eq!(sample(&frame, 1, 3), 0x1111);
        assert_eq!(sample(&frame, 2, 2), 0x1111);
        let g = geometry("MONOCHROME1", 1, 1, false);
        let mut frame = vec![7u8; g.frame_len()];
        blank_frame(
            &mut frame,
            &g,
            &[Rect {
                x: 0,
                y: 0,
                width: 1,
                height: 1,
            }],
        );
        assert_eq!(&frame[..2], &[255, 7]);
        let g = geometry("YBR_FULL", 3, 1, false);
        let mut frame = vec![9u8; g.frame_len()];
        blank_frame(
            &mut frame,
            &g,
            &[Rect {
                x: 0,
                y: 0,
                width: 1,
                height: 1,
            }],
        );
        assert_eq!(&frame[..4], &[0, 128, 128, 9]);
    }
}
