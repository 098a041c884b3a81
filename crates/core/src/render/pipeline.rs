//! From decoded samples to 8 bits: Modality LUT, VOI, inversion, colour conversion.

use super::frame::RawFrame;
use super::{Image8, RenderError};
use crate::dicom::{tag, DataSet};

/// Stored sample values as numbers: masked to Bits Stored and sign-extended when signed.
fn sample_values(raw: &RawFrame) -> Result<Vec<f32>, RenderError> {
    let info = &raw.info;
    let bps = raw.bytes_per_sample;
    let be = raw.big_endian;
    let count = raw.bytes.len() / bps;
    if info.float {
        return Ok(raw
            .bytes
            .chunks_exact(4)
            .map(|c| {
                let b = [c[0], c[1], c[2], c[3]];
                if be {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                }
            })
            .collect());
    }
    let bits = (info.bits_stored.min(bps * 8)) as u32;
    let mask: u64 = if bits >= 32 {
        u32::MAX as u64
    } else {
        (1u64 << bits) - 1
    };
    let sign_bit = 1u64 << (bits.max(1) - 1);
    let mut out = Vec::with_capacity(count);
    for c in raw.bytes.chunks_exact(bps) {
        let v: u64 = match (bps, be) {
            (1, _) => c[0] as u64,
            (2, false) => u16::from_le_bytes([c[0], c[1]]) as u64,
            (2, true) => u16::from_be_bytes([c[0], c[1]]) as u64,
            (4, false) => u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as u64,
            (4, true) => u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64,
            _ => return Err(RenderError::Unsupported(format!("{bps}-byte samples"))),
        } & mask;
        let value = if info.signed && v & sign_bit != 0 {
            v as i64 - (1i64 << bits)
        } else {
            v as i64
        };
        out.push(value as f32);
    }
    Ok(out)
}

/// A lookup table from a LUT Descriptor and LUT Data (PS3.3 C.11.1.1).
struct Lut {
    first_mapped: f32,
    entries: Vec<f32>,
    bits: u32,
}

impl Lut {
    fn read(
        item: &DataSet,
        descriptor_tag: crate::dicom::Tag,
        data_tag: crate::dicom::Tag,
        signed_input: bool,
    ) -> Option<Lut> {
        let descriptor = item.ints(descriptor_tag);
        if descriptor.len() < 3 {
            return None;
        }
        let count = if descriptor[0] == 0 {
            65536
        } else {
            descriptor[0] as usize
        };
        let first = if signed_input {
            descriptor[1] as u16 as i16 as f32
        } else {
            descriptor[1] as f32
        };
        let bits = descriptor[2].clamp(1, 16) as u32;
        let data = item.bytes(data_tag)?;
        let entries: Vec<f32> = if data.len() == count && bits <= 8 {
            data.iter().map(|&b| b as f32).collect()
        } else {
            data.chunks_exact(2)
                .map(|c| if item.big_endian { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) } as f32)
                .collect()
        };
        if entries.is_empty() {
            return None;
        }
        Some(Lut {
            first_mapped: first,
            entries,
            bits,
        })
    }

    fn apply(&self, x: f32) -> f32 {
        let i = (x - self.first_mapped).clamp(0.0, (self.entries.len() - 1) as f32) as usize;
        self.entries[i]
    }

    /// The largest value the table can hold, for scaling to 8 bits (some writers declare fewer
    /// bits than their data uses, so the data wins).
    fn max_output(&self) -> f32 {
        let declared = ((1u32 << self.bits) - 1) as f32;
        let actual = self.entries.iter().cloned().fold(0.0f32, f32::max);
        if actual > declared {
            65535.0
        } else {
            declared
        }
    }
}

fn to_byte(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

pub fn to_8bit(ds: &DataSet, raw: RawFrame) -> Result<Image8, RenderError> {
    let (width, height) = (raw.info.columns as u32, raw.info.rows as u32);
    let photometric = raw.info.photometric.clone();
    if raw.info.samples == 1 {
        let values = sample_values(&raw)?;
        let pixels = raw.info.pixels();
        if values.len() < pixels {
            return Err(RenderError::Invalid("fewer samples than pixels".into()));
        }
        let values = &values[..pixels];
        if photometric == "PALETTE COLOR" {
            return palette(ds, &raw, values, width, height);
        }
        let data = grey(ds, &raw, values);
        return Ok(Image8 {
            width,
            height,
            channels: 1,
            data,
        });
    }
    if raw.info.samples != 3 {
        return Err(RenderError::Unsupported(format!(
            "{} samples per pixel",
            raw.info.samples
        )));
    }
    colour(&raw, width, height)
}

fn grey(ds: &DataSet, raw: &RawFrame, values: &[f32]) -> Vec<u8> {
    let signed = raw.info.signed;
    // Modality LUT: a LUT sequence replaces the rescale.
    let modality_lut = ds
        .items(tag::MODALITY_LUT_SEQUENCE)
        .first()
        .and_then(|item| Lut::read(item, tag::LUT_DESCRIPTOR, tag::LUT_DATA, signed));
    let modality: Vec<f32> = match &modality_lut {
        Some(lut) => values.iter().map(|&v| lut.apply(v)).collect(),
        None => {
            let slope = ds
                .float(tag::RESCALE_SLOPE)
                .filter(|s| s.is_finite() && *s != 0.0)
                .unwrap_or(1.0) as f32;
            let intercept = ds
                .float(tag::RESCALE_INTERCEPT)
                .filter(|s| s.is_finite())
                .unwrap_or(0.0) as f32;
            if slope == 1.0 && intercept == 0.0 {
                values.to_vec()
            } else {
                values.iter().map(|&v| v * slope + intercept).collect()
            }
        }
    };

    let voi_lut = ds.items(tag::VOI_LUT_SEQUENCE).first().and_then(|item| {
        // After a modality transform the input is signed only if the LUT input was.
        Lut::read(
            item,
            tag::LUT_DESCRIPTOR,
            tag::LUT_DATA,
            signed && modality_lut.is_none(),
        )
    });
    let mut out: Vec<u8> = if let Some(lut) = voi_lut {
        let scale = 255.0 / lut.max_output();
        modality
            .iter()
            .map(|&v| to_byte(lut.apply(v) * scale))
            .collect()
    } else if let Some((center, width)) = window(ds) {
        let function = ds
            .first_text(tag::VOI_LUT_FUNCTION)
            .unwrap_or_default()
            .to_uppercase();
        match function.as_str() {
            "SIGMOID" => modality
                .iter()
                .map(|&x| to_byte(255.0 / (1.0 + (-4.0 * (x - center) / width).exp())))
                .collect(),
            // LINEAR_EXACT and LINEAR (PS3.3 C.11.2.1.2/3) differ only in their bounds and slope.
            "LINEAR_EXACT" => {
                linear_window(&modality, center - width / 2.0, center + width / 2.0, |x| {
                    (x - center) / width + 0.5
                })
            }
            _ => linear_window(
                &modality,
                center - 0.5 - (width - 1.0) / 2.0,
                center - 0.5 + (width - 1.0) / 2.0,
                |x| (x - (center - 0.5)) / (width - 1.0) + 0.5,
            ),
        }
    } else {
        let (lo, hi) = robust_range(&modality);
        let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
        modality
            .iter()
            .map(|&v| to_byte((v - lo) * scale))
            .collect()
    };
    if raw.info.photometric == "MONOCHROME1" {
        for v in &mut out {
            *v = 255 - *v;
        }
    }
    out
}

/// Black at or below `lo`, white above `hi`, `fraction(x)` of white in between.
fn linear_window(values: &[f32], lo: f32, hi: f32, fraction: impl Fn(f32) -> f32) -> Vec<u8> {
    values
        .iter()
        .map(|&x| {
            if x <= lo {
                0
            } else if x > hi {
                255
            } else {
                to_byte(fraction(x) * 255.0)
            }
        })
        .collect()
}

/// The first window, if usable (LINEAR needs a width of at least 1).
fn window(ds: &DataSet) -> Option<(f32, f32)> {
    let center = ds.float(tag::WINDOW_CENTER)? as f32;
    let width = ds.float(tag::WINDOW_WIDTH)? as f32;
    (center.is_finite() && width.is_finite() && width >= 1.0).then_some((center, width))
}

/// The 0.5th and 99.5th percentiles (linear interpolation, as numpy's default), falling back to
/// the true extremes when they coincide: a few outliers then do not flatten the image.
fn robust_range(values: &[f32]) -> (f32, f32) {
    let finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return (0.0, 0.0);
    }
    let mut scratch = finite.clone();
    let lo = percentile(&mut scratch, 0.5);
    let hi = percentile(&mut scratch, 99.5);
    if hi > lo {
        return (lo, hi);
    }
    let min = finite.iter().cloned().fold(f32::INFINITY, f32::min);
    let max = finite.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    (min, max)
}

fn percentile(values: &mut [f32], p: f64) -> f32 {
    let n = values.len();
    let rank = p / 100.0 * (n - 1) as f64;
    let below = rank.floor() as usize;
    let frac = (rank - below as f64) as f32;
    let cmp = |a: &f32, b: &f32| a.total_cmp(b);
    let (_, &mut low, upper) = values.select_nth_unstable_by(below, cmp);
    if frac == 0.0 || upper.is_empty() {
        return low;
    }
    let next = upper.iter().cloned().fold(f32::INFINITY, f32::min);
    low + (next - low) * frac
}

fn palette(
    ds: &DataSet,
    raw: &RawFrame,
    values: &[f32],
    width: u32,
    height: u32,
) -> Result<Image8, RenderError> {
    let read = |d, t| Lut::read(ds, d, t, raw.info.signed);
    let (Some(r), Some(g), Some(b)) = (
        read(tag::RED_PALETTE_LUT_DESCRIPTOR, tag::RED_PALETTE_LUT_DATA),
        read(
            tag::GREEN_PALETTE_LUT_DESCRIPTOR,
            tag::GREEN_PALETTE_LUT_DATA,
        ),
        read(tag::BLUE_PALETTE_LUT_DESCRIPTOR, tag::BLUE_PALETTE_LUT_DATA),
    ) else {
        let segmented = ds.get(tag::SEGMENTED_RED_PALETTE_LUT_DATA).is_some();
        return Err(RenderError::Unsupported(if segmented {
            "segmented palette colour lookup tables".into()
        } else {
            "PALETTE COLOR without usable lookup tables".into()
        }));
    };
    let scale = 255.0 / r.max_output().max(g.max_output()).max(b.max_output());
    let mut data = Vec::with_capacity(values.len() * 3);
    for &v in values {
        data.push(to_byte(r.apply(v) * scale));
        data.push(to_byte(g.apply(v) * scale));
        data.push(to_byte(b.apply(v) * scale));
    }
    Ok(Image8 {
        width,
        height,
        channels: 3,
        data,
    })
}

fn colour(raw: &RawFrame, width: u32, height: u32) -> Result<Image8, RenderError> {
    let pixels = raw.info.pixels();
    let values = if raw.subsampled_422 {
        expand_422(&raw.bytes, pixels)
    } else {
        sample_values(raw)?
    };
    if values.len() < pixels * 3 {
        return Err(RenderError::Invalid("fewer samples than pixels".into()));
    }
    let at = |p: usize, c: usize| -> f32 {
        if raw.interleaved {
            values[p * 3 + c]
        } else {
            values[c * pixels + p]
        }
    };
    let max = if raw.info.float {
        values.iter().cloned().fold(1.0f32, f32::max)
    } else {
        ((1u64 << raw.info.bits_stored.min(32)) - 1) as f32
    };
    let scale = 255.0 / max;
    let ybr = !raw.rgb && raw.info.photometric.starts_with("YBR_FULL");
    let half = (max + 1.0) / 2.0;
    let mut data = Vec::with_capacity(pixels * 3);
    for p in 0..pixels {
        let (a, b, c) = (at(p, 0), at(p, 1), at(p, 2));
        let rgb = if ybr {
            let (cb, cr) = (b - half, c - half);
            [
                a + 1.402 * cr,
                a - 0.344136 * cb - 0.714136 * cr,
                a + 1.772 * cb,
            ]
        } else {
            [a, b, c]
        };
        data.extend(rgb.iter().map(|v| to_byte(v * scale)));
    }
    Ok(Image8 {
        width,
        height,
        channels: 3,
        data,
    })
}

/// Uncompressed YBR_FULL_422: `Y0 Y1 Cb Cr` per pair of pixels, expanded to full YBR triples.
fn expand_422(bytes: &[u8], pixels: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(pixels * 3);
    for group in bytes.chunks_exact(4) {
        let (y0, y1, cb, cr) = (
            group[0] as f32,
            group[1] as f32,
            group[2] as f32,
            group[3] as f32,
        );
        out.extend_from_slice(&[y0, cb, cr, y1, cb, cr]);
    }
    out.truncate(pixels * 3);
    out
}
