//! Upsampling of subsampled components to the frame size, with libjpeg's filter for factor two.

use super::decoder::{Component, Frame};

/// The two source samples (index, weight) an output coordinate is made of along one axis; weights
/// add up to 4.
type Taps = [(usize, u32); 2];

/// Taps for output coordinates `0..out_len` along one axis of a component sampled `factor` times for
/// every `max` samples of the image, with `src_len` meaningful samples in its plane.
fn axis_taps(out_len: usize, factor: usize, max: usize, src_len: usize) -> Vec<Taps> {
    let last = src_len.saturating_sub(1);
    (0..out_len)
        .map(|o| {
            if factor == max {
                [(o.min(last), 4), (0, 0)]
            } else if 2 * factor == max {
                // Centred samples: output o sits at source position o/2 - 1/4, so it takes 3/4 of the
                // nearer source sample and 1/4 of the next one on its side (libjpeg's "fancy"
                // triangle filter), repeating the edge samples.
                let near = (o / 2).min(last);
                let far = if o % 2 == 0 {
                    near.saturating_sub(1)
                } else {
                    (near + 1).min(last)
                };
                [(near, 3), (far, 1)]
            } else {
                // Other ratios, rare in practice: replicate the nearest sample.
                [((o * factor / max).min(last), 4), (0, 0)]
            }
        })
        .collect()
}

/// Writes component `index` of `count`, upsampled to the frame size, into the interleaved samples.
pub(super) fn upsample_into(
    samples: &mut [u16],
    count: usize,
    index: usize,
    component: &Component,
    frame: &Frame,
) {
    let (width, height) = (usize::from(frame.width), usize::from(frame.height));
    let stride = component.blocks_w * 8;
    let x_taps = axis_taps(width, component.h, frame.h_max, component.width);
    let y_taps = axis_taps(height, component.v, frame.v_max, component.height);
    let row_of = |y: usize| {
        component
            .plane
            .get(y * stride..(y + 1) * stride)
            .unwrap_or(&[])
    };
    let at = |row: &[u16], x: usize| u32::from(row.get(x).copied().unwrap_or(0));
    for (out_row, &[(y0, wy0), (y1, wy1)]) in samples.chunks_exact_mut(width * count).zip(&y_taps) {
        let (row0, row1) = (row_of(y0), row_of(y1));
        for (pixel, &[(x0, wx0), (x1, wx1)]) in out_row.chunks_exact_mut(count).zip(&x_taps) {
            let sum = wy0 * (wx0 * at(row0, x0) + wx1 * at(row0, x1))
                + wy1 * (wx0 * at(row1, x0) + wx1 * at(row1, x1));
            // Weights total 16: one rounding for both directions.
            if let Some(sample) = pixel.get_mut(index) {
                *sample = ((sum + 8) >> 4) as u16;
            }
        }
    }
}
