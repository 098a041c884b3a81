//! The inverse DCT of one block, kept apart from the entropy decoding it follows.

use std::sync::OnceLock;

/// `BASIS[x][u] = C(u)/2 · cos((2x+1)uπ/16)`, with C(0) = 1/√2 and C(u) = 1 otherwise (T.81 A.3.3).
pub(super) fn idct_basis() -> &'static [[f32; 8]; 8] {
    static BASIS: OnceLock<[[f32; 8]; 8]> = OnceLock::new();
    BASIS.get_or_init(|| {
        let mut basis = [[0f32; 8]; 8];
        for (x, row) in basis.iter_mut().enumerate() {
            for (u, value) in row.iter_mut().enumerate() {
                let c = if u == 0 {
                    std::f64::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                let angle = ((2 * x + 1) * u) as f64 * std::f64::consts::PI / 16.0;
                *value = (c / 2.0 * angle.cos()) as f32;
            }
        }
        basis
    })
}

/// Dequantizes and inverse-transforms one block, then level-shifts it by 2^(P-1) and clamps it to
/// [0, 2^P - 1]. Floating point and separable (rows, then columns): exact enough to stay within one
/// level of libjpeg's integer transforms at 8 and 12 bits.
pub(super) fn idct_block(
    coef: &[i32; 64],
    quant: &[u16; 64],
    precision: u8,
    out: &mut [[u16; 8]; 8],
) {
    let basis = idct_basis();
    // rows[v][x]: the horizontal transform of coefficient row v.
    let mut rows = [[0f32; 8]; 8];
    for (v, row_out) in rows.iter_mut().enumerate() {
        let mut f = [0f32; 8];
        for (u, value) in f.iter_mut().enumerate() {
            *value = coef[v * 8 + u] as f32 * f32::from(quant[v * 8 + u]);
        }
        if f[1..].iter().all(|&c| c == 0.0) {
            // Most rows hold a DC term at most: a flat row.
            *row_out = [f[0] * basis[0][0]; 8];
            continue;
        }
        for (x, value) in row_out.iter_mut().enumerate() {
            let mut sum = 0f32;
            for u in 0..8 {
                sum += basis[x][u] * f[u];
            }
            *value = sum;
        }
    }
    let center = f32::from(1u16 << (precision - 1));
    let max = f32::from(((1u32 << precision) - 1) as u16);
    for (y, out_row) in out.iter_mut().enumerate() {
        for (x, sample) in out_row.iter_mut().enumerate() {
            let mut sum = 0f32;
            for v in 0..8 {
                sum += basis[y][v] * rows[v][x];
            }
            // Round half up, as libjpeg's descaling does; the float-to-int cast saturates.
            *sample = (sum + center + 0.5).floor().clamp(0.0, max) as u16;
        }
    }
}
