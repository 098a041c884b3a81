//! Coding parameters, context statistics and the decoding of one sample (T.87 annex A).

use super::bits::BitReader;
use super::header::Preset;
use super::Error;

/// Number of regular-mode contexts: (9 * 9 * 9 + 1) / 2 after sign merging.
const CONTEXTS: usize = 365;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub maxval: i32,
    pub near: i32,
    /// 2 * NEAR + 1, the quantisation step of prediction errors.
    step: i32,
    range: i32,
    qbpp: u32,
    limit: u32,
    t1: i32,
    t2: i32,
    t3: i32,
    reset: i64,
}

/// Default thresholds of T.87 C.2.4.1.1, computed from MAXVAL and NEAR.
fn default_thresholds(maxval: i32, near: i32) -> (i32, i32, i32) {
    let clamp = |i: i32, j: i32| if i > maxval || i < j { j } else { i };
    if maxval >= 128 {
        let factor = (maxval.min(4095) + 128) / 256;
        let t1 = clamp(factor + 2 + 3 * near, near + 1);
        let t2 = clamp(factor * 4 + 3 + 5 * near, t1);
        let t3 = clamp(factor * 17 + 4 + 7 * near, t2);
        (t1, t2, t3)
    } else {
        let factor = 256 / (maxval + 1);
        let t1 = clamp((3 / factor + 3 * near).max(2), near + 1);
        let t2 = clamp((7 / factor + 5 * near).max(3), t1);
        let t3 = clamp((21 / factor + 7 * near).max(4), t2);
        (t1, t2, t3)
    }
}

/// Bits needed for values 0..n-1 (ceil(log2 n)).
fn bits_for(n: i32) -> u32 {
    32 - (n.max(1) - 1).leading_zeros()
}

impl Params {
    /// Coding parameters for one scan from the frame precision, the LSE preset values
    /// in force and the scan's NEAR.
    ///
    /// An LSE MAXVAL below 2^P - 1 is handled the way CharLS 2.x handles it, which is what
    /// CharLS-written streams (most JPEG-LS data in DICOM) need: RANGE, qbpp and LIMIT stay
    /// those of 2^P - 1 and the lower MAXVAL only bounds the predicted and reconstructed
    /// samples (see [`Coder::bound`]), and only when RESET is not the default 64 (with
    /// RESET 64 CharLS ignores it altogether). T.87 would derive everything from the LSE
    /// MAXVAL; such streams are rare either way.
    pub(crate) fn new(bits: u8, preset: &Preset, near: u8) -> Result<Self, Error> {
        let full = (1i32 << bits) - 1;
        let given = |v: u16| (v != 0).then_some(i32::from(v));
        let lse_maxval = match given(preset.maxval) {
            Some(m) if m > full => {
                return Err(Error::Invalid("MAXVAL exceeds the sample precision"))
            }
            Some(m) => m,
            None => full,
        };
        let near = i32::from(near);
        if near > (lse_maxval / 2).min(255) {
            return Err(Error::Invalid("NEAR too large for MAXVAL"));
        }
        // Defaults follow MAXVAL; explicit values are checked against their predecessor
        // (given or default), as CharLS does.
        let (d1, d2, d3) = default_thresholds(lse_maxval, near);
        let t1 = given(preset.t1).unwrap_or(d1);
        let t2 = given(preset.t2).unwrap_or(d2);
        let t3 = given(preset.t3).unwrap_or(d3);
        let bad = |v: u16, low: i32| given(v).is_some_and(|v| v < low || v > lse_maxval);
        if bad(preset.t1, near + 1) || bad(preset.t2, t1) || bad(preset.t3, t2) {
            return Err(Error::Invalid("LSE thresholds out of range"));
        }
        let reset = given(preset.reset).unwrap_or(64);
        if reset < 3 || reset > lse_maxval.max(255) {
            return Err(Error::Invalid("LSE RESET out of range"));
        }
        let step = 2 * near + 1;
        let range = (full + 2 * near) / step + 1;
        let bpp = bits_for(full + 1).max(2);
        Ok(Params {
            maxval: if reset == 64 { full } else { lse_maxval },
            near,
            step,
            range,
            qbpp: bits_for(range),
            limit: 2 * (bpp + bpp.max(8)),
            t1,
            t2,
            t3,
            reset: i64::from(reset),
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Context {
    a: i64,
    b: i64,
    n: i64,
    c: i32,
}

#[derive(Debug, Clone, Copy)]
struct RunContext {
    a: i64,
    n: i64,
    nn: i64,
}

pub(crate) struct Coder {
    pub p: Params,
    ctx: [Context; CONTEXTS],
    run: [RunContext; 2],
    /// Quantised gradient for each difference in -T3..=T3 (beyond that it is -4 or 4):
    /// at most 128 KiB, usually a few hundred bytes.
    quant: Vec<i8>,
}

/// Golomb parameter: the smallest k with N * 2^k >= A, from the bit lengths instead of
/// the standard's loop (N >= 1 and A >= 0 always hold). A stays below 2^40 because
/// `read_value` bounds every error; the cap keeps reads within what the bit reader holds.
#[inline]
fn golomb_k(n: i64, a: i64) -> u32 {
    let k = n.leading_zeros().saturating_sub(a.leading_zeros());
    (k + u32::from((n << k) < a)).min(40)
}

/// Gradient quantisation of T.87 A.3.3, used to fill the lookup table.
fn quantize(p: &Params, d: i32) -> i8 {
    if d <= -p.t3 {
        -4
    } else if d <= -p.t2 {
        -3
    } else if d <= -p.t1 {
        -2
    } else if d < -p.near {
        -1
    } else if d <= p.near {
        0
    } else if d < p.t1 {
        1
    } else if d < p.t2 {
        2
    } else if d < p.t3 {
        3
    } else {
        4
    }
}

/// Median edge detector prediction.
#[inline]
pub(crate) fn predict(ra: i32, rb: i32, rc: i32) -> i32 {
    let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
    if rc >= hi {
        lo
    } else if rc <= lo {
        hi
    } else {
        ra + rb - rc
    }
}

impl Coder {
    pub(crate) fn new(p: Params) -> Self {
        let quant = (-p.t3..=p.t3).map(|d| quantize(&p, d)).collect();
        let (ctx, run) = Coder::initial(&p);
        Coder { p, ctx, run, quant }
    }

    fn initial(p: &Params) -> ([Context; CONTEXTS], [RunContext; 2]) {
        let a = i64::from(((p.range + 32) / 64).max(2));
        (
            [Context {
                a,
                b: 0,
                n: 1,
                c: 0,
            }; CONTEXTS],
            [RunContext { a, n: 1, nn: 0 }; 2],
        )
    }

    /// Start-of-scan state again, as required after a restart marker.
    pub(crate) fn reset(&mut self) {
        (self.ctx, self.run) = Coder::initial(&self.p);
    }

    #[inline]
    fn quantize(&self, d: i32) -> i32 {
        let t3 = self.p.t3;
        self.quant
            .get((d.clamp(-t3, t3) + t3) as usize)
            .map_or(0, |&q| i32::from(q))
    }

    /// Signed context number from the three local gradients; 0 selects run mode.
    #[inline]
    pub(crate) fn context(&self, d1: i32, d2: i32, d3: i32) -> i32 {
        (self.quantize(d1) * 9 + self.quantize(d2)) * 9 + self.quantize(d3)
    }

    /// Clamps to 0..=MAXVAL. Written as CharLS does it, with a mask, which is the same
    /// clamp when MAXVAL is 2^n - 1 and reproduces CharLS's output for any other MAXVAL.
    #[inline]
    fn bound(&self, v: i32) -> i32 {
        let m = self.p.maxval;
        if v & m == v {
            v
        } else {
            !(v >> 31) & m
        }
    }

    /// Undoes the modulo reduction of the error and clamps to the sample range.
    #[inline]
    fn reconstruct(&self, px: i32, err: i32) -> u16 {
        let p = &self.p;
        let mut rx = px + err * p.step;
        if rx < -p.near {
            rx += p.range * p.step;
        } else if rx > p.maxval + p.near {
            rx -= p.range * p.step;
        }
        self.bound(rx) as u16
    }

    /// Limited-length Golomb code. Values a conforming encoder cannot produce are refused,
    /// which also keeps every later sum far from overflow.
    #[inline]
    fn read_value(&self, br: &mut BitReader, k: u32, limit: u32) -> Result<i32, Error> {
        let escape = limit.saturating_sub(self.p.qbpp + 1);
        let zeros = br
            .read_unary(escape)
            .ok_or(Error::Invalid("Golomb code longer than LIMIT"))?;
        let v = if zeros < escape {
            (u64::from(zeros) << k) | br.read_bits(k)
        } else {
            br.read_bits(self.p.qbpp) + 1
        };
        if v > 2 * self.p.range as u64 {
            return Err(Error::Invalid("prediction error out of range"));
        }
        Ok(v as i32)
    }

    /// Regular mode: one sample from its signed context `qs` and MED prediction.
    #[inline]
    pub(crate) fn decode_regular(
        &mut self,
        br: &mut BitReader,
        qs: i32,
        pred: i32,
    ) -> Result<u16, Error> {
        let q = qs.unsigned_abs() as usize;
        let negative = qs < 0;
        let Context { a, n, c, b } = self.ctx[q];
        let px = self.bound(if negative { pred - c } else { pred + c });
        let k = golomb_k(n, a);
        let m = self.read_value(br, k, self.p.limit)?;
        // Even values map to non-negative errors, odd ones to negative.
        let mut err = (m >> 1) ^ -(m & 1);
        if k == 0 && self.p.near == 0 && 2 * b + n <= 0 {
            // The encoder used the inverted mapping for contexts biased negative.
            err = !err;
        }
        self.update(q, err);
        Ok(self.reconstruct(px, if negative { -err } else { err }))
    }

    fn update(&mut self, q: usize, err: i32) {
        let (reset, step) = (self.p.reset, i64::from(self.p.step));
        let ctx = &mut self.ctx[q];
        ctx.a += i64::from(err.unsigned_abs());
        ctx.b += i64::from(err) * step;
        if ctx.n == reset {
            ctx.a >>= 1;
            ctx.b >>= 1;
            ctx.n >>= 1;
        }
        ctx.n += 1;
        // Bias cancellation: keep B in (-N, 0] by moving the correction C.
        if ctx.b + ctx.n <= 0 {
            ctx.b += ctx.n;
            if ctx.b <= -ctx.n {
                ctx.b = 1 - ctx.n;
            }
            if ctx.c > -128 {
                ctx.c -= 1;
            }
        } else if ctx.b > 0 {
            ctx.b -= ctx.n;
            if ctx.b > 0 {
                ctx.b = 0;
            }
            if ctx.c < 127 {
                ctx.c += 1;
            }
        }
    }

    /// Error of a run-interruption sample; `j` is J[RUNindex] before the decrement.
    pub(crate) fn decode_ri_error(
        &mut self,
        br: &mut BitReader,
        ritype: usize,
        j: u32,
    ) -> Result<i32, Error> {
        let RunContext { a, n, nn } = self.run[ritype];
        let temp = if ritype == 1 { a + (n >> 1) } else { a };
        let k = golomb_k(n, temp);
        let limit = self.p.limit.saturating_sub(j + 1);
        let em = self.read_value(br, k, limit)?;
        let t = em + ritype as i32;
        let map = t & 1;
        let magnitude = (t + map) >> 1;
        let negative = (k != 0 || 2 * nn >= n) == (map == 1);
        let err = if negative { -magnitude } else { magnitude };

        let reset = self.p.reset;
        let ctx = &mut self.run[ritype];
        if err < 0 {
            ctx.nn += 1;
        }
        ctx.a += i64::from((em + 1 - ritype as i32) >> 1);
        if ctx.n == reset {
            ctx.a >>= 1;
            ctx.n >>= 1;
            ctx.nn >>= 1;
        }
        ctx.n += 1;
        Ok(err)
    }

    /// Run-interruption sample of a single-component line.
    pub(crate) fn decode_ri_sample(
        &mut self,
        br: &mut BitReader,
        ra: i32,
        rb: i32,
        j: u32,
    ) -> Result<u16, Error> {
        if (ra - rb).abs() <= self.p.near {
            let err = self.decode_ri_error(br, 1, j)?;
            Ok(self.reconstruct(ra, err))
        } else {
            self.decode_ri_component(br, ra, rb, j)
        }
    }

    /// Interruption with RItype 0: predicted from the sample above. In sample-interleaved
    /// scans every component is coded this way (as CharLS does).
    pub(crate) fn decode_ri_component(
        &mut self,
        br: &mut BitReader,
        ra: i32,
        rb: i32,
        j: u32,
    ) -> Result<u16, Error> {
        let err = self.decode_ri_error(br, 0, j)?;
        Ok(self.reconstruct(rb, if ra > rb { -err } else { err }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_thresholds_match_the_standard() {
        assert_eq!(default_thresholds(255, 0), (3, 7, 21));
        assert_eq!(default_thresholds(4095, 0), (18, 67, 276));
        assert_eq!(default_thresholds(65535, 0), (18, 67, 276));
        assert_eq!(default_thresholds(255, 3), (12, 22, 42));
        assert_eq!(default_thresholds(3, 0), (2, 3, 3));
    }

    #[test]
    fn golomb_k_matches_the_standard_loop() {
        for n in 1..300i64 {
            for a in (0..5000i64).chain([1 << 20, (1 << 33) + 7]) {
                let mut k = 0;
                while (n << k) < a {
                    k += 1;
                }
                assert_eq!(golomb_k(n, a), k, "n {n} a {a}");
            }
        }
    }

    #[test]
    fn derived_parameters() {
        let p = Params::new(8, &Preset::default(), 0).unwrap();
        assert_eq!((p.range, p.qbpp, p.limit), (256, 8, 32));
        let p = Params::new(16, &Preset::default(), 0).unwrap();
        assert_eq!((p.range, p.qbpp, p.limit), (65536, 16, 64));
        let p = Params::new(8, &Preset::default(), 2).unwrap();
        assert_eq!((p.range, p.qbpp), (52, 6));
    }
}
