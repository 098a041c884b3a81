//! From decoded samples to 8 bits: Modality LUT, VOI, inversion, colour conversion.

use super::{Image8, PixelError};
use lightbox_dicom::pixel::RawFrame;
use lightbox_dicom::{tag, DataSet};

/// Stored sample values as numbers: masked to Bits Stored and sign-extended when signed.
fn sample_values(raw: &RawFrame) -> Result<Vec<f32>, PixelError> {
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
            _ => return Err(PixelError::Unsupported(format!("{bps}-byte samples"))),
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
    first_mapped: f64,
    entries: Vec<f64>,
    bits: u32,
}

impl Lut {
    fn read(
        item: &DataSet,
        descriptor_tag: lightbox_dicom::Tag,
        data_tag: lightbox_dicom::Tag,
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
            descriptor[1] as u16 as i16 as f64
        } else {
            descriptor[1] as f64
        };
        let bits = descriptor[2].clamp(1, 16) as u32;
        let data = item.bytes(data_tag)?;
        let entries: Vec<f64> = if data.len() == count && bits <= 8 {
            data.iter().map(|&b| b as f64).collect()
        } else {
            data.chunks_exact(2)
                .map(|c| if item.big_endian { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) } as f64)
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

    /// A palette colour LUT whose data are segmented (PS3.3 C.7.9.2), expanded as pydicom's
    /// `_expand_segmented_lut` does: discrete, linear (rounded half to even) and indirect
    /// segments, the expansion cut at the descriptor's entry count.
    fn segmented(
        ds: &DataSet,
        descriptor_tag: lightbox_dicom::Tag,
        data_tag: lightbox_dicom::Tag,
        signed_input: bool,
    ) -> Result<Lut, String> {
        let descriptor = ds.ints(descriptor_tag);
        if descriptor.len() < 3 {
            return Err("segmented palette LUT without a usable descriptor".into());
        }
        let count = if descriptor[0] == 0 {
            65536
        } else {
            descriptor[0] as usize
        };
        let first = if signed_input {
            descriptor[1] as u16 as i16 as f64
        } else {
            descriptor[1] as f64
        };
        let bits = descriptor[2].clamp(1, 16) as u32;
        let data = ds
            .bytes(data_tag)
            .ok_or("segmented palette LUT without data")?;
        let eight_bit = bits <= 8;
        let words: Vec<u32> = if eight_bit {
            data.iter().map(|&b| b as u32).collect()
        } else {
            data.chunks_exact(2)
                .map(|c| {
                    let b = [c[0], c[1]];
                    if ds.big_endian {
                        u16::from_be_bytes(b)
                    } else {
                        u16::from_le_bytes(b)
                    }
                })
                .map(u32::from)
                .collect()
        };
        let mut entries = Vec::new();
        expand_segments(&words, eight_bit, !ds.big_endian, &mut entries, count)?;
        if entries.is_empty() {
            return Err("segmented palette LUT expands to nothing".into());
        }
        Ok(Lut {
            first_mapped: first,
            entries: entries.into_iter().map(|v| v as f64).collect(),
            bits,
        })
    }

    fn apply(&self, x: f64) -> f64 {
        let i = (x - self.first_mapped).clamp(0.0, (self.entries.len() - 1) as f64) as usize;
        self.entries[i]
    }

    /// The largest value the table can hold, for scaling to 8 bits (some writers declare fewer
    /// bits than their data uses, so the data wins).
    fn max_output(&self) -> f64 {
        let declared = ((1u32 << self.bits) - 1) as f64;
        let actual = self.entries.iter().cloned().fold(0.0f64, f64::max);
        if actual > declared {
            65535.0
        } else {
            declared
        }
    }
}

/// Expands segments of a segmented LUT from `data` into `out`, at most `segments` of them (all
/// when `None`); stops once `out` holds `limit` entries (the descriptor's count: later entries
/// could never be looked up). Indirect segments recurse at most a few levels.
fn expand_segments(
    data: &[u32],
    eight_bit: bool,
    little_endian: bool,
    out: &mut Vec<u32>,
    limit: usize,
) -> Result<(), String> {
    // Segments that add no entries (empty, or indirect ones re-reading the same data) could
    // otherwise multiply the work at each level of nesting.
    let mut budget = 1usize << 20;
    expand_level(
        data,
        eight_bit,
        little_endian,
        None,
        out,
        limit,
        0,
        &mut budget,
    )
}

#[allow(clippy::too_many_arguments)]
fn expand_level(
    data: &[u32],
    eight_bit: bool,
    little_endian: bool,
    segments: Option<usize>,
    out: &mut Vec<u32>,
    limit: usize,
    depth: usize,
    budget: &mut usize,
) -> Result<(), String> {
    const MAX_DEPTH: usize = 4;
    let start_len = out.len();
    let (mut at, mut read) = (0usize, 0usize);
    while at + 1 < data.len() && out.len() < limit {
        let (opcode, length) = (data[at], data[at + 1] as usize);
        at += 2;
        *budget = budget
            .checked_sub(1)
            .ok_or("segmented LUT: too many segments")?;
        match opcode {
            0 => {
                let values = data
                    .get(at..at + length)
                    .ok_or("segmented LUT: discrete segment past the data")?;
                out.extend_from_slice(&values[..length.min(limit - out.len())]);
                at += length;
            }
            1 => {
                let y0 = *out
                    .last()
                    .ok_or("segmented LUT: a linear segment cannot come first")?
                    as f64;
                let y1 = *data
                    .get(at)
                    .ok_or("segmented LUT: linear segment past the data")?
                    as f64;
                at += 1;
                let n = length.min(limit - out.len());
                if y0 == y1 {
                    out.extend(std::iter::repeat_n(y1 as u32, n));
                } else {
                    // numpy.around(numpy.linspace(y0 + step, y1, length))
                    let step = (y1 - y0) / length as f64;
                    let a = y0 + step;
                    let delta = if length > 1 {
                        (y1 - a) / (length - 1) as f64
                    } else {
                        0.0
                    };
                    for i in 0..n {
                        let v = if i + 1 == length {
                            y1
                        } else {
                            a + i as f64 * delta
                        };
                        out.push(v.round_ties_even().max(0.0) as u32);
                    }
                }
            }
            2 => {
                if out.len() == start_len && depth == 0 {
                    return Err("segmented LUT: an indirect segment cannot come first".into());
                }
                if depth >= MAX_DEPTH {
                    return Err("segmented LUT: indirect segments nest too deep".into());
                }
                let offset = if eight_bit {
                    let b = data
                        .get(at..at + 4)
                        .ok_or("segmented LUT: indirect segment past the data")?;
                    let ii: [usize; 4] = if little_endian {
                        [3, 2, 1, 0]
                    } else {
                        [2, 3, 0, 1]
                    };
                    let [a, b2, c, d] = ii.map(|i| b[i] as usize);
                    at += 4;
                    ((a << 8 | b2) << 16) | (c << 8 | d)
                } else {
                    let w = data
                        .get(at..at + 2)
                        .ok_or("segmented LUT: indirect segment past the data")?;
                    at += 2;
                    (w[1] as usize) << 16 | w[0] as usize
                };
                let rest = data
                    .get(offset..)
                    .ok_or("segmented LUT: indirect offset past the data")?;
                expand_level(
                    rest,
                    eight_bit,
                    little_endian,
                    Some(length),
                    out,
                    limit,
                    depth + 1,
                    budget,
                )?;
            }
            other => return Err(format!("segmented LUT: unknown segment type {other}")),
        }
        read += 1;
        if Some(read) == segments {
            break;
        }
    }
    Ok(())
}

fn to_byte(v: f64) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

/// A VOI window chosen by the viewer (DICOMweb's `window=center,width,function`), used instead
/// of the instance's own VOI LUT or window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub center: f64,
    pub width: f64,
    pub function: VoiFunction,
}

impl Window {
    /// `center,width[,linear|linear-exact|sigmoid]`, with the widths PS3.3 C.11.2.1.2 allows.
    pub fn parse(text: &str) -> Result<Window, String> {
        let mut parts = text.split(',').map(str::trim);
        let number = |p: Option<&str>| {
            p.and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        let (Some(center), Some(width)) = (number(parts.next()), number(parts.next())) else {
            return Err(format!("window {text:?}: expected center,width[,function]"));
        };
        let function = match parts.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("linear") => VoiFunction::Linear,
            Some("linear-exact") | Some("linear_exact") => VoiFunction::LinearExact,
            Some("sigmoid") => VoiFunction::Sigmoid,
            Some(other) => {
                return Err(format!(
                    "window function {other:?}: linear, linear-exact or sigmoid"
                ))
            }
        };
        let wide_enough = if function == VoiFunction::Linear {
            width >= 1.0
        } else {
            width > 0.0
        };
        if !wide_enough || parts.next().is_some() {
            return Err(format!(
                "window {text:?}: a width of at least 1 (above 0 for linear-exact and sigmoid)"
            ));
        }
        Ok(Window {
            center,
            width,
            function,
        })
    }
}

/// The frame in 8 bits; greyscale through `window` (when given) in place of the instance's VOI.
pub fn to_8bit_windowed(
    ds: &DataSet,
    raw: RawFrame,
    window: Option<Window>,
) -> Result<Image8, PixelError> {
    let (width, height) = (raw.info.columns as u32, raw.info.rows as u32);
    let photometric = raw.info.photometric.clone();
    if raw.info.samples == 1 {
        let values = sample_values(&raw)?;
        let pixels = raw.info.pixels();
        if values.len() < pixels {
            return Err(PixelError::Invalid("fewer samples than pixels".into()));
        }
        let values = &values[..pixels];
        if photometric == "PALETTE COLOR" {
            return palette(ds, &raw, values, width, height);
        }
        let data = grey(ds, &raw, values, window);
        return Ok(Image8 {
            width,
            height,
            channels: 1,
            data,
        });
    }
    if raw.info.samples != 3 {
        return Err(PixelError::Unsupported(format!(
            "{} samples per pixel",
            raw.info.samples
        )));
    }
    colour(&raw, width, height)
}

/// The Modality LUT stage: a LUT sequence's table, else Rescale Slope and Intercept. Applied per
/// value in f64 (as numpy does), so the stored samples need no second full-size buffer.
enum Modality {
    Lut(Lut),
    Rescale { slope: f64, intercept: f64 },
}

impl Modality {
    fn read(ds: &DataSet, signed: bool) -> Modality {
        if let Some(lut) = ds
            .items(tag::MODALITY_LUT_SEQUENCE)
            .first()
            .and_then(|item| Lut::read(item, tag::LUT_DESCRIPTOR, tag::LUT_DATA, signed))
        {
            return Modality::Lut(lut);
        }
        let slope = ds
            .float(tag::RESCALE_SLOPE)
            .filter(|s| s.is_finite() && *s != 0.0)
            .unwrap_or(1.0);
        let intercept = ds
            .float(tag::RESCALE_INTERCEPT)
            .filter(|s| s.is_finite())
            .unwrap_or(0.0);
        Modality::Rescale { slope, intercept }
    }

    fn apply(&self, v: f32) -> f64 {
        match self {
            Modality::Lut(lut) => lut.apply(v as f64),
            Modality::Rescale { slope, intercept } => v as f64 * slope + intercept,
        }
    }

    /// Whether the mapping keeps the order of values (so percentiles map through it).
    fn increasing(&self) -> bool {
        match self {
            Modality::Lut(_) => false,
            Modality::Rescale { slope, .. } => *slope > 0.0,
        }
    }
}

fn grey(ds: &DataSet, raw: &RawFrame, values: &[f32], chosen: Option<Window>) -> Vec<u8> {
    let signed = raw.info.signed;
    let modality = Modality::read(ds, signed);
    let voi_lut = chosen
        .is_none()
        .then_some(())
        .and_then(|()| ds.items(tag::VOI_LUT_SEQUENCE).first())
        .and_then(|item| {
            // After a modality transform the input is signed only if the LUT input was.
            Lut::read(
                item,
                tag::LUT_DESCRIPTOR,
                tag::LUT_DATA,
                signed && !matches!(modality, Modality::Lut(_)),
            )
        });
    let m = |v: f32| modality.apply(v);
    let mut out: Vec<u8> = if let Some(lut) = voi_lut {
        let scale = 255.0 / lut.max_output();
        values
            .iter()
            .map(|&v| to_byte(lut.apply(m(v)) * scale))
            .collect()
    } else if let Some((function, center, width)) = chosen
        .map(|w| (w.function, w.center, w.width))
        .or_else(|| window(ds))
    {
        match function {
            VoiFunction::Sigmoid => values
                .iter()
                .map(|&v| to_byte(255.0 / (1.0 + (-4.0 * (m(v) - center) / width).exp())))
                .collect(),
            // LINEAR_EXACT and LINEAR (PS3.3 C.11.2.1.2/3) differ only in their bounds and slope.
            VoiFunction::LinearExact => {
                linear_window(values, m, center - width / 2.0, center + width / 2.0, |x| {
                    (x - center) / width + 0.5
                })
            }
            VoiFunction::Linear => linear_window(
                values,
                m,
                center - 0.5 - (width - 1.0) / 2.0,
                center - 0.5 + (width - 1.0) / 2.0,
                |x| (x - (center - 0.5)) / (width - 1.0) + 0.5,
            ),
        }
    } else {
        let (lo, hi) = robust_range(values, &modality);
        let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
        values
            .iter()
            .map(|&v| to_byte((m(v) - lo) * scale))
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
fn linear_window(
    values: &[f32],
    modality: impl Fn(f32) -> f64,
    lo: f64,
    hi: f64,
    fraction: impl Fn(f64) -> f64,
) -> Vec<u8> {
    values
        .iter()
        .map(|&v| {
            let x = modality(v);
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoiFunction {
    Linear,
    LinearExact,
    Sigmoid,
}

/// The first window and its VOI LUT Function, if usable: LINEAR needs a width of at least 1,
/// LINEAR_EXACT and SIGMOID a positive one (PS3.3 C.11.2.1.2/3). An unknown function is LINEAR.
fn window(ds: &DataSet) -> Option<(VoiFunction, f64, f64)> {
    let center = ds.float(tag::WINDOW_CENTER)?;
    let width = ds.float(tag::WINDOW_WIDTH)?;
    let function = match ds
        .first_text(tag::VOI_LUT_FUNCTION)
        .unwrap_or_default()
        .to_uppercase()
        .as_str()
    {
        "SIGMOID" => VoiFunction::Sigmoid,
        "LINEAR_EXACT" => VoiFunction::LinearExact,
        _ => VoiFunction::Linear,
    };
    let min_width = if function == VoiFunction::Linear {
        width >= 1.0
    } else {
        width > 0.0
    };
    (center.is_finite() && width.is_finite() && min_width).then_some((function, center, width))
}

/// The 0.5th and 99.5th percentiles of the modality values (linear interpolation, as numpy's
/// default), falling back to the true extremes when they coincide: a few outliers then do not
/// flatten the image.
fn robust_range(values: &[f32], modality: &Modality) -> (f64, f64) {
    // A rescale with a positive slope keeps the order: select among the stored values (one f32
    // copy) and map the chosen ones. Otherwise select among the mapped values.
    let increasing = modality.increasing();
    let mut scratch: Vec<f64> = Vec::new();
    let mut stored: Vec<f32> = Vec::new();
    if increasing {
        stored = values.iter().copied().filter(|v| v.is_finite()).collect();
    } else {
        scratch = values
            .iter()
            .map(|&v| modality.apply(v))
            .filter(|v| v.is_finite())
            .collect();
    }
    let n = if increasing {
        stored.len()
    } else {
        scratch.len()
    };
    if n == 0 {
        return (0.0, 0.0);
    }
    // The k-th smallest modality value and the one after it (numpy's interpolation needs both).
    let mut pair = |k: usize| -> (f64, f64) {
        if increasing {
            let (_, &mut a, upper) = stored.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
            let b = upper.iter().copied().fold(f32::INFINITY, f32::min);
            let b = if upper.is_empty() { a } else { b };
            (modality.apply(a), modality.apply(b))
        } else {
            let (_, &mut a, upper) = scratch.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
            let b = upper.iter().copied().fold(f64::INFINITY, f64::min);
            (a, if upper.is_empty() { a } else { b })
        }
    };
    let lo = percentile(n, 0.5, &mut pair);
    let hi = percentile(n, 99.5, &mut pair);
    if hi > lo {
        return (lo, hi);
    }
    let (min, max) = if increasing {
        let min = stored.iter().copied().fold(f32::INFINITY, f32::min);
        let max = stored.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        (modality.apply(min), modality.apply(max))
    } else {
        let min = scratch.iter().copied().fold(f64::INFINITY, f64::min);
        let max = scratch.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (min, max)
    };
    (min, max)
}

/// numpy.percentile's default ("linear") method over `n` values, `pair(k)` giving the k-th
/// smallest and its successor: the same float64 arithmetic, so ties round alike.
fn percentile(n: usize, p: f64, pair: &mut impl FnMut(usize) -> (f64, f64)) -> f64 {
    let rank = p / 100.0 * (n - 1) as f64;
    let below = (rank.floor() as usize).min(n - 1);
    let t = rank - below as f64;
    let (a, b) = pair(below);
    if below + 1 >= n {
        return a;
    }
    let diff = b - a;
    // numpy's _lerp: a + diff·t, computed from b's side when t ≥ 0.5.
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

fn palette(
    ds: &DataSet,
    raw: &RawFrame,
    values: &[f32],
    width: u32,
    height: u32,
) -> Result<Image8, PixelError> {
    let signed = raw.info.signed;
    let read = |descriptor, data, segmented| -> Result<Lut, PixelError> {
        if let Some(lut) = Lut::read(ds, descriptor, data, signed) {
            return Ok(lut);
        }
        if ds.get(segmented).is_some() {
            return Lut::segmented(ds, descriptor, segmented, signed).map_err(PixelError::Invalid);
        }
        Err(PixelError::Invalid(
            "PALETTE COLOR without usable lookup tables".into(),
        ))
    };
    let r = read(
        tag::RED_PALETTE_LUT_DESCRIPTOR,
        tag::RED_PALETTE_LUT_DATA,
        tag::SEGMENTED_RED_PALETTE_LUT_DATA,
    )?;
    let g = read(
        tag::GREEN_PALETTE_LUT_DESCRIPTOR,
        tag::GREEN_PALETTE_LUT_DATA,
        tag::SEGMENTED_GREEN_PALETTE_LUT_DATA,
    )?;
    let b = read(
        tag::BLUE_PALETTE_LUT_DESCRIPTOR,
        tag::BLUE_PALETTE_LUT_DATA,
        tag::SEGMENTED_BLUE_PALETTE_LUT_DATA,
    )?;
    let scale = 255.0 / r.max_output().max(g.max_output()).max(b.max_output());
    let mut data = Vec::with_capacity(values.len() * 3);
    for &v in values {
        data.push(to_byte(r.apply(v as f64) * scale));
        data.push(to_byte(g.apply(v as f64) * scale));
        data.push(to_byte(b.apply(v as f64) * scale));
    }
    Ok(Image8 {
        width,
        height,
        channels: 3,
        data,
    })
}

fn colour(raw: &RawFrame, width: u32, height: u32) -> Result<Image8, PixelError> {
    let pixels = raw.info.pixels();
    let values = if raw.subsampled_422 {
        expand_422(&raw.bytes, pixels)
    } else {
        sample_values(raw)?
    };
    if values.len() < pixels * 3 {
        return Err(PixelError::Invalid("fewer samples than pixels".into()));
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
        data.extend(rgb.iter().map(|v| to_byte((v * scale) as f64)));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(data: &[u32], eight_bit: bool, little: bool, limit: usize) -> Vec<u32> {
        let mut out = Vec::new();
        expand_segments(data, eight_bit, little, &mut out, limit).unwrap();
        out
    }

    /// Expected values are pydicom 3.0.2's `_expand_segmented_lut` on the same input.
    #[test]
    fn windows_parse_as_dicomweb_writes_them() {
        let w = Window::parse("40,400").unwrap();
        assert_eq!(
            (w.center, w.width, w.function),
            (40.0, 400.0, VoiFunction::Linear)
        );
        let w = Window::parse("-600, 1500, SIGMOID").unwrap();
        assert_eq!((w.center, w.function), (-600.0, VoiFunction::Sigmoid));
        assert_eq!(
            Window::parse("0,0.5,linear-exact").unwrap().function,
            VoiFunction::LinearExact
        );
        for bad in [
            "40",
            "40,0",
            "a,b",
            "40,400,cubic",
            "40,400,linear,1",
            "NaN,1",
        ] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn segmented_luts_expand_as_pydicom() {
        let words = [0, 3, 10, 20, 30, 1, 4, 50, 2, 2, 0, 0, 1, 3, 0];
        assert_eq!(
            expand(&words, false, true, 65536),
            [10, 20, 30, 35, 40, 45, 50, 10, 20, 30, 35, 40, 45, 50, 33, 17, 0]
        );
        let bytes = [0, 2, 5, 9, 1, 3, 0, 2, 1, 0, 0, 0, 0, 1, 5, 255];
        let expected = [5, 9, 6, 3, 0, 5, 9, 58, 107, 157, 206, 255];
        assert_eq!(expand(&bytes, true, true, 65536), expected);
        assert_eq!(expand(&bytes, true, false, 65536), expected);
        assert_eq!(
            expand(&[0, 1, 0, 1, 7, 65535], false, true, 65536),
            [0, 9362, 18724, 28086, 37449, 46811, 56173, 65535]
        );
        // Cut at the descriptor's count.
        assert_eq!(expand(&words, false, true, 5), [10, 20, 30, 35, 40]);
    }

    #[test]
    fn hostile_segmented_luts_are_errors() {
        // Indirect segments re-reading segments that add nothing run out of budget, fast.
        // 2000 indirect segments, each re-reading 40000 empty discrete segments.
        let mut nested = vec![0, 1, 5];
        let empties = 3 + 2000 * 4;
        for _ in 0..2000 {
            nested.extend_from_slice(&[2, 0xFFFF, empties, 0]);
        }
        for _ in 0..40000 {
            nested.extend_from_slice(&[0, 0]);
        }
        let mut out = Vec::new();
        let started = std::time::Instant::now();
        assert!(expand_segments(&nested, false, true, &mut out, 65536).is_err());
        assert!(started.elapsed().as_secs() < 5);
        // A linear or indirect segment first, a segment past the data, an unknown opcode.
        for data in [
            &[1, 3, 9][..],
            &[2, 1, 0, 0],
            &[0, 9, 1, 2],
            &[0, 1, 5, 7, 1, 1],
            &[0, 1, 5, 2, 1, 0xFFFF, 0xFFFF],
        ] {
            out.clear();
            assert!(
                expand_segments(data, false, true, &mut out, 65536).is_err(),
                "{data:?}"
            );
        }
        // Indirect segments pointing at themselves stop at the nesting limit.
        out.clear();
        let selfish = [0, 1, 5, 2, 2, 0, 0];
        assert!(expand_segments(&selfish, false, true, &mut out, 65536).is_err());
    }

    #[test]
    fn percentiles_follow_numpy() {
        // numpy.percentile([1, 2, 3, 4], [0.5, 99.5]) == [1.015, 3.985]
        let values = [4.0f32, 1.0, 3.0, 2.0];
        let (lo, hi) = robust_range(
            &values,
            &Modality::Rescale {
                slope: 1.0,
                intercept: 0.0,
            },
        );
        assert!(
            (lo - 1.015).abs() < 1e-12 && (hi - 3.985).abs() < 1e-12,
            "{lo} {hi}"
        );
        // A negative slope reverses the order: percentiles of -2x + 1.
        let (lo, hi) = robust_range(
            &values,
            &Modality::Rescale {
                slope: -2.0,
                intercept: 1.0,
            },
        );
        assert!(
            (lo + 6.97).abs() < 1e-12 && (hi + 1.03).abs() < 1e-12,
            "{lo} {hi}"
        );
        // All equal: the extremes.
        assert_eq!(
            robust_range(
                &[7.0; 9],
                &Modality::Rescale {
                    slope: 1.0,
                    intercept: 0.0
                }
            ),
            (7.0, 7.0)
        );
    }
}
