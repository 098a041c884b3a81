//! A small sequential JPEG encoder lets the tests build valid streams for what pydicom's files
//! do not cover (restart intervals, several scans, 12-bit colour, 4 components, odd sampling).

use super::idct::idct_basis;
use super::*;

/// Canonical Huffman code: (code, length) per symbol.
fn encoding_table(counts: &[u8; 16], values: &[u8]) -> Vec<(u32, u32)> {
    let mut table = vec![(0, 0); 256];
    let (mut code, mut k) = (0u32, 0usize);
    for len in 1..=16u32 {
        for _ in 0..counts[len as usize - 1] {
            table[usize::from(values[k])] = (code, len);
            code += 1;
            k += 1;
        }
        code <<= 1;
    }
    table
}

/// Code counts giving the first four symbols 3-bit codes and the others 12-bit codes, so that
/// decoding takes both the look-up and the long-code path.
fn counts_for(symbols: usize) -> [u8; 16] {
    let mut counts = [0u8; 16];
    counts[2] = symbols.min(4) as u8;
    counts[11] = symbols.saturating_sub(4) as u8;
    counts
}

fn dc_values() -> Vec<u8> {
    (0..16).collect()
}

/// Every (run, size) symbol, the frequent ones first.
fn ac_values() -> Vec<u8> {
    let mut values = vec![0x00, 0x01, 0x11, 0x02];
    values.extend((0..=255u8).filter(|v| ![0x00, 0x01, 0x11, 0x02].contains(v)));
    values
}

struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    count: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, len: u32) {
        for i in (0..len).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.count += 1;
            if self.count == 8 {
                let byte = self.acc as u8;
                self.out.push(byte);
                if byte == 0xFF {
                    self.out.push(0);
                }
                self.acc = 0;
                self.count = 0;
            }
        }
    }

    fn flush(&mut self) {
        while self.count != 0 {
            self.put(1, 1);
        }
    }
}

/// Forward DCT (T.81 A.3.3), float.
fn fdct(block: &[f32; 64]) -> [f32; 64] {
    let basis = idct_basis();
    let mut out = [0f32; 64];
    for v in 0..8 {
        for u in 0..8 {
            let mut sum = 0f32;
            for y in 0..8 {
                for x in 0..8 {
                    sum += basis[x][u] * basis[y][v] * block[y * 8 + x];
                }
            }
            out[v * 8 + u] = sum;
        }
    }
    out
}

fn category(value: i32) -> u32 {
    32 - value.unsigned_abs().leading_zeros()
}

fn put_value(w: &mut BitWriter, value: i32, size: u32) {
    let bits = if value < 0 { value - 1 } else { value };
    w.put(bits as u32 & ((1 << size) - 1), size);
}

struct Spec {
    width: usize,
    height: usize,
    precision: u8,
    /// (id, h, v) per component.
    components: Vec<(u8, u8, u8)>,
    restart: u16,
    interleaved: bool,
    /// The same value in every quantization table entry.
    quant: u16,
    sof: u8,
    /// Segments (marker and payload) written after SOI.
    extra: Vec<(u8, Vec<u8>)>,
    /// Value written as Se (T.81 wants 63 for sequential streams).
    se: u8,
}

impl Spec {
    fn new(width: usize, height: usize, precision: u8, components: &[(u8, u8, u8)]) -> Self {
        Spec {
            width,
            height,
            precision,
            components: components.to_vec(),
            restart: 0,
            interleaved: true,
            quant: 1,
            sof: if precision == 8 { 0xC0 } else { 0xC1 },
            extra: Vec::new(),
            se: 63,
        }
    }

    fn component_size(&self, c: usize) -> (usize, usize) {
        let h_max = self.components.iter().map(|c| c.1).max().unwrap() as usize;
        let v_max = self.components.iter().map(|c| c.2).max().unwrap() as usize;
        let (_, h, v) = self.components[c];
        (
            (self.width * h as usize).div_ceil(h_max),
            (self.height * v as usize).div_ceil(v_max),
        )
    }
}

fn segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) {
    out.extend([0xFF, marker]);
    out.extend(((payload.len() + 2) as u16).to_be_bytes());
    out.extend(payload);
}

/// Encodes component samples `sample(c, x, y)` (component coordinates) as a JPEG stream.
fn encode(spec: &Spec, sample: &dyn Fn(usize, usize, usize) -> u16) -> Vec<u8> {
    let mut out = vec![0xFF, SOI];
    for (marker, payload) in &spec.extra {
        segment(&mut out, *marker, payload);
    }
    let mut dqt = vec![0x10];
    for _ in 0..64 {
        dqt.extend(spec.quant.to_be_bytes());
    }
    segment(&mut out, DQT, &dqt);
    let mut sof = vec![spec.precision];
    sof.extend((spec.height as u16).to_be_bytes());
    sof.extend((spec.width as u16).to_be_bytes());
    sof.push(spec.components.len() as u8);
    for &(id, h, v) in &spec.components {
        sof.extend([id, h << 4 | v, 0]);
    }
    segment(&mut out, spec.sof, &sof);
    let (dc_counts, ac_counts) = (counts_for(16), counts_for(256));
    let mut dht = vec![0x00];
    dht.extend(dc_counts);
    dht.extend(dc_values());
    dht.push(0x10);
    dht.extend(ac_counts);
    dht.extend(ac_values());
    segment(&mut out, DHT, &dht);
    if spec.restart > 0 {
        segment(&mut out, DRI, &spec.restart.to_be_bytes());
    }
    let dc = encoding_table(&dc_counts, &dc_values());
    let ac = encoding_table(&ac_counts, &ac_values());

    let h_max = spec.components.iter().map(|c| c.1).max().unwrap() as usize;
    let v_max = spec.components.iter().map(|c| c.2).max().unwrap() as usize;
    let scans: Vec<Vec<usize>> = if spec.interleaved {
        vec![(0..spec.components.len()).collect()]
    } else {
        (0..spec.components.len()).map(|c| vec![c]).collect()
    };
    let center = (1 << (spec.precision - 1)) as f32;
    for scan in scans {
        let mut sos = vec![scan.len() as u8];
        for &c in &scan {
            sos.extend([spec.components[c].0, 0x00]);
        }
        sos.extend([0, spec.se, 0]);
        segment(&mut out, SOS, &sos);
        let (mcus_x, mcus_y) = if scan.len() == 1 {
            let (w, h) = spec.component_size(scan[0]);
            (w.div_ceil(8), h.div_ceil(8))
        } else {
            (
                spec.width.div_ceil(8 * h_max),
                spec.height.div_ceil(8 * v_max),
            )
        };
        let mut w = BitWriter {
            out: Vec::new(),
            acc: 0,
            count: 0,
        };
        let mut preds = vec![0i32; scan.len()];
        for mcu in 0..mcus_x * mcus_y {
            if spec.restart > 0 && mcu > 0 && mcu % spec.restart as usize == 0 {
                w.flush();
                w.out
                    .extend([0xFF, 0xD0 + ((mcu / spec.restart as usize - 1) % 8) as u8]);
                preds.iter_mut().for_each(|p| *p = 0);
            }
            let (mx, my) = (mcu % mcus_x, mcu / mcus_x);
            for (si, &c) in scan.iter().enumerate() {
                let (_, h, v) = spec.components[c];
                let (bh, bv) = if scan.len() == 1 {
                    (1, 1)
                } else {
                    (h as usize, v as usize)
                };
                let (cw, ch) = spec.component_size(c);
                for by in 0..bv {
                    for bx in 0..bh {
                        let (x0, y0) = ((mx * bh + bx) * 8, (my * bv + by) * 8);
                        let mut block = [0f32; 64];
                        for y in 0..8 {
                            for x in 0..8 {
                                // Pad by repeating the edge, as encoders do.
                                let s = sample(c, (x0 + x).min(cw - 1), (y0 + y).min(ch - 1));
                                block[y * 8 + x] = s as f32 - center;
                            }
                        }
                        let f = fdct(&block);
                        let q: Vec<i32> = (0..64)
                            .map(|k| (f[ZIGZAG[k] as usize] / spec.quant as f32).round() as i32)
                            .collect();
                        let diff = q[0] - preds[si];
                        preds[si] = q[0];
                        let size = category(diff);
                        w.put(dc[size as usize].0, dc[size as usize].1);
                        put_value(&mut w, diff, size);
                        let mut run = 0;
                        for &value in &q[1..] {
                            if value == 0 {
                                run += 1;
                                continue;
                            }
                            while run > 15 {
                                w.put(ac[0xF0].0, ac[0xF0].1);
                                run -= 16;
                            }
                            let size = category(value);
                            let (code, len) = ac[(run << 4 | size) as usize];
                            w.put(code, len);
                            put_value(&mut w, value, size);
                            run = 0;
                        }
                        if run > 0 {
                            w.put(ac[0].0, ac[0].1);
                        }
                    }
                }
            }
        }
        w.flush();
        out.extend(w.out);
    }
    out.extend([0xFF, EOI]);
    out
}

/// Where along one axis an output coordinate samples the component: the position the decoder's
/// upsampling interpolates at.
fn source_position(o: usize, factor: usize, max: usize, len: usize) -> f32 {
    let p = if factor == max {
        o as f32
    } else if 2 * factor == max {
        o as f32 / 2.0 - 0.25
    } else {
        (o * factor / max) as f32
    };
    p.clamp(0.0, (len - 1) as f32)
}

/// Encodes linear ramps (plus a little texture for the first component), decodes, and checks
/// every upsampled sample against the ramp at the interpolated position, within `tolerance`.
fn round_trip(spec: &Spec, tolerance: f32) -> DecodedJpeg {
    let max = ((1u32 << spec.precision) - 1) as f32;
    let slope = max / 400.0;
    let ramp = move |c: usize, x: f32, y: f32| 20.0 + (c as f32 + 1.0) * slope * (x + 0.5 * y);
    let h_max = spec.components.iter().map(|c| c.1).max().unwrap() as usize;
    let v_max = spec.components.iter().map(|c| c.2).max().unwrap() as usize;
    let full = |c: usize| {
        let (_, h, v) = spec.components[c];
        h as usize == h_max && v as usize == v_max
    };
    // Texture only where no upsampling happens: the ramp alone is what interpolation preserves.
    let texture = |c: usize, x: usize, y: usize| {
        if c == 0 && full(c) && (x / 3 + y / 2).is_multiple_of(2) {
            9.0
        } else {
            0.0
        }
    };
    let jpeg = encode(spec, &|c, x, y| {
        (ramp(c, x as f32, y as f32) + texture(c, x, y)).round() as u16
    });
    let decoded = decode(&jpeg).expect("decode");
    assert_eq!(
        (
            decoded.width as usize,
            decoded.height as usize,
            decoded.precision
        ),
        (spec.width, spec.height, spec.precision)
    );
    assert_eq!(decoded.components as usize, spec.components.len());
    let n = spec.components.len();
    for c in 0..n {
        let (_, h, v) = spec.components[c];
        let (cw, ch) = spec.component_size(c);
        for y in 0..spec.height {
            for x in 0..spec.width {
                let got = decoded.samples[(y * spec.width + x) * n + c] as f32;
                let expected = if full(c) {
                    ramp(c, x as f32, y as f32) + texture(c, x, y)
                } else {
                    let sx = source_position(x, h as usize, h_max, cw);
                    let sy = source_position(y, v as usize, v_max, ch);
                    ramp(c, sx, sy)
                };
                assert!(
                    (got - expected).abs() <= tolerance,
                    "component {c} at ({x}, {y}): got {got}, expected {expected}"
                );
            }
        }
    }
    decoded
}

#[test]
fn grey_8_bit_odd_size() {
    round_trip(&Spec::new(37, 21, 8, &[(1, 1, 1)]), 1.5);
}

#[test]
fn grey_12_bit_with_restarts_and_odd_scan_header() {
    let mut spec = Spec::new(33, 17, 12, &[(1, 1, 1)]);
    spec.restart = 2;
    spec.se = 0; // as in pydicom's JPEG-lossy.dcm
    let decoded = round_trip(&spec, 1.5);
    assert!(
        decoded.samples.iter().any(|&s| s > 255),
        "12-bit range is used"
    );
}

#[test]
fn ycbcr_420_interleaved_with_restart_every_mcu() {
    let mut spec = Spec::new(30, 18, 8, &[(1, 2, 2), (2, 1, 1), (3, 1, 1)]);
    spec.restart = 1;
    round_trip(&spec, 1.5);
}

#[test]
fn ycbcr_422_odd_width_12_bit() {
    round_trip(
        &Spec::new(29, 11, 12, &[(1, 2, 1), (2, 1, 1), (3, 1, 1)]),
        1.5,
    );
}

#[test]
fn four_components_in_separate_scans() {
    let mut spec = Spec::new(27, 19, 12, &[(1, 2, 1), (2, 1, 1), (3, 1, 2), (4, 2, 2)]);
    spec.interleaved = false;
    spec.restart = 5;
    round_trip(&spec, 1.5);
}

#[test]
fn ratio_three_replicates() {
    round_trip(
        &Spec::new(25, 9, 8, &[(1, 3, 1), (2, 1, 1), (3, 1, 1)]),
        1.5,
    );
}

#[test]
fn quantized_stream_stays_close() {
    let mut spec = Spec::new(16, 16, 12, &[(1, 1, 1)]);
    spec.quant = 8;
    round_trip(&spec, 6.0);
}

fn ycbcr_of(ids: [u8; 3], extra: Vec<(u8, Vec<u8>)>) -> bool {
    let mut spec = Spec::new(8, 8, 8, &[(ids[0], 1, 1), (ids[1], 1, 1), (ids[2], 1, 1)]);
    spec.extra = extra;
    decode(&encode(&spec, &|_, _, _| 100)).unwrap().ycbcr
}

#[test]
fn colour_space_rule() {
    let jfif = (APP0, b"JFIF\0\x01\x02\x00\x00\x01\x00\x01\x00\x00".to_vec());
    let adobe = |t: u8| (APP14, [&b"Adobe"[..], &[0, 100, 0, 0, 0, 0, t]].concat());
    assert!(ycbcr_of([1, 2, 3], vec![]));
    assert!(!ycbcr_of([0, 1, 2], vec![]));
    assert!(!ycbcr_of([b'R', b'G', b'B'], vec![]));
    assert!(ycbcr_of([0, 1, 2], vec![jfif.clone()]));
    assert!(ycbcr_of([b'R', b'G', b'B'], vec![adobe(1)]));
    assert!(!ycbcr_of([1, 2, 3], vec![adobe(0)]));
    assert!(ycbcr_of([1, 2, 3], vec![jfif, adobe(0)]));
    // A 10-byte "Adobe" segment (pydicom's SC_rgb_jpeg.dcm) is not an Adobe marker to libjpeg.
    assert!(!ycbcr_of(
        [0, 1, 2],
        vec![(APP14, b"Adobe\0\0\0\0\0".to_vec())]
    ));
    let grey = encode(&Spec::new(8, 8, 8, &[(1, 1, 1)]), &|_, _, _| 7);
    assert!(!decode(&grey).unwrap().ycbcr);
}

fn frame_only(sof: u8, precision: u8, height: u16, width: u16, count: u8) -> Vec<u8> {
    let mut out = vec![0xFF, SOI];
    let mut payload = vec![precision];
    payload.extend(height.to_be_bytes());
    payload.extend(width.to_be_bytes());
    payload.push(count);
    for id in 0..count {
        payload.extend([id + 1, 0x11, 0]);
    }
    segment(&mut out, sof, &payload);
    out
}

#[test]
fn rejections_name_the_problem() {
    let message = |data: &[u8]| decode(data).unwrap_err().to_string();
    assert!(message(&frame_only(0xC2, 8, 8, 8, 1)).contains("progressive"));
    assert!(message(&frame_only(0xC9, 8, 8, 8, 1)).contains("arithmetic"));
    assert!(message(&frame_only(0xC3, 8, 8, 8, 1)).contains("lossless"));
    assert!(message(&frame_only(0xC1, 16, 8, 8, 1)).contains("16-bit"));
    assert!(message(&frame_only(0xC1, 12, 0, 8, 1)).contains("DNL"));
    assert!(matches!(
        decode(&frame_only(0xC0, 8, 65535, 65535, 3)),
        Err(JpegError::TooLarge { .. })
    ));
    assert!(matches!(decode(b"\x89PNG"), Err(JpegError::NotJpeg)));
    assert!(matches!(
        decode(&frame_only(0xC0, 8, 8, 8, 1)),
        Err(JpegError::Truncated(_))
    ));
}

#[test]
fn huge_declared_frame_with_little_data_is_refused_before_allocating() {
    // 16384 × 16384 is within the sample limit, but a few bytes cannot code 4 million blocks.
    let small = encode(&Spec::new(8, 8, 8, &[(1, 1, 1)]), &|_, _, _| 50);
    let mut data = small.clone();
    let sof = data.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    data[sof + 5..sof + 9].copy_from_slice(&[0x40, 0, 0x40, 0]);
    let start = std::time::Instant::now();
    assert!(matches!(decode(&data), Err(JpegError::Truncated(_))));
    assert!(start.elapsed().as_secs() < 2);
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Truncated and randomly mutated streams must decode or fail, never panic or hang.
#[test]
fn hostile_streams_never_panic() {
    let mut colour = Spec::new(24, 20, 8, &[(1, 2, 2), (2, 1, 1), (3, 1, 1)]);
    colour.restart = 2;
    colour.quant = 4;
    let mut grey = Spec::new(20, 12, 12, &[(1, 1, 1), (2, 1, 1)]);
    grey.interleaved = false;
    grey.restart = 3;
    let pattern = |c: usize, x: usize, y: usize| ((x * 7 + y * 13 + c * 50) % 200) as u16;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let (mut ok, mut failed) = (0, 0);
    for valid in [encode(&colour, &pattern), encode(&grey, &pattern)] {
        assert!(decode(&valid).is_ok());
        for len in 0..valid.len() {
            match decode(&valid[..len]) {
                Ok(_) => ok += 1,
                Err(_) => failed += 1,
            }
        }
        for _ in 0..400 {
            let mut data = valid.clone();
            for _ in 0..=xorshift(&mut state) % 4 {
                let at = (xorshift(&mut state) % data.len() as u64) as usize;
                let byte = xorshift(&mut state) as u8;
                match xorshift(&mut state) % 5 {
                    0 | 1 => data[at] = byte,
                    2 => data[at] ^= 1 << (byte % 8),
                    3 => data.splice(at..at, [0xFF, byte]).for_each(drop),
                    _ => {
                        let end = (at + usize::from(byte % 16)).min(data.len());
                        data.drain(at..end);
                    }
                }
                if data.is_empty() {
                    break;
                }
            }
            match decode(&data) {
                Ok(d) => {
                    assert_eq!(
                        d.samples.len(),
                        d.width as usize * d.height as usize * d.components as usize
                    );
                    ok += 1;
                }
                Err(_) => failed += 1,
            }
        }
    }
    eprintln!("hostile streams: {ok} decoded, {failed} refused");
}
