//! Line-by-line decoding of one scan: regular mode, run mode, restart intervals.

use super::bits::{segment_end, BitReader};
use super::coder::{predict, Coder, Params};
use super::header::{Frame, ScanHeader, MAX_COMPONENTS};
use super::{Error, Interleave};

/// Run-length order per RUNindex (T.87 A.7.1.2): segments of 2^J[i] samples.
const J: [u32; 32] = [
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13,
    14, 15,
];

/// Where decoded lines go: the caller's interleaved output image.
pub(crate) struct Output<'a> {
    pub buf: &'a mut [u8],
    pub width: usize,
    pub components: usize,
    pub two_bytes: bool,
}

impl Output<'_> {
    /// Stores samples `line[first + i * stride]` as component `comp` of image row `row`.
    fn put(&mut self, row: usize, comp: usize, line: &[u16], first: usize, stride: usize) {
        let nc = self.components;
        let base = row * self.width * nc + comp;
        let samples = line[first..].iter().step_by(stride).take(self.width);
        if self.two_bytes {
            let dst = &mut self.buf[2 * base..];
            for (i, &s) in samples.enumerate() {
                dst[2 * i * nc..2 * i * nc + 2].copy_from_slice(&s.to_le_bytes());
            }
        } else {
            let dst = &mut self.buf[base..];
            for (i, &s) in samples.enumerate() {
                dst[i * nc] = s as u8;
            }
        }
    }
}

/// Decodes the scan whose entropy-coded data starts at `start` and returns the position
/// of the marker that follows it.
pub(crate) fn decode_scan(
    data: &[u8],
    start: usize,
    frame: &Frame,
    scan: &ScanHeader,
    params: Params,
    restart_interval: u32,
    out: &mut Output,
) -> Result<usize, Error> {
    let width = frame.width as usize;
    let height = frame.height as usize;
    let ns = scan.count;
    // Two lines (previous, current) per component, each with one edge sample either side.
    // The output, whose size was checked, is at least one line; only the +2 can overflow.
    let line_len = width
        .checked_add(2)
        .ok_or(Error::Unsupported("image too wide"))?;
    let mut lines = vec![0u16; line_len.saturating_mul(2 * ns)];
    let mut coder = Coder::new(params);
    let mut run_index = [0usize; MAX_COMPONENTS];
    let interval = match restart_interval {
        0 => height,
        r => r as usize,
    };

    let mut pos = start;
    let mut row = 0usize;
    let mut next_rst = 0u8;
    loop {
        let end = segment_end(data, pos);
        let mut br = BitReader::new(&data[pos..end]);
        let last = height.min(row.saturating_add(interval));
        while row < last {
            let result = match scan.interleave {
                Interleave::Sample => {
                    let (prev, cur) = pair(&mut lines, ns * line_len, row);
                    let r = sample_line(&mut coder, &mut br, prev, cur, ns, &mut run_index[0]);
                    for c in 0..ns {
                        out.put(row, scan.comps[c], cur, ns + c, ns);
                    }
                    r
                }
                _ => (0..ns).try_for_each(|c| {
                    let block = &mut lines[2 * c * line_len..2 * (c + 1) * line_len];
                    let (prev, cur) = pair(block, line_len, row);
                    let r = single_line(&mut coder, &mut br, prev, cur, &mut run_index[c]);
                    out.put(row, scan.comps[c], cur, 1, 1);
                    r
                }),
            };
            // Errors caused by invented bits past the end of data mean truncation.
            if br.overrun() {
                return Err(Error::Truncated);
            }
            result?;
            row += 1;
        }
        if row == height {
            return Ok(end);
        }

        // A restart marker must follow; decoding restarts as at the top of the scan.
        let mut m = end;
        while data.get(m) == Some(&0xFF) {
            m += 1;
        }
        match data.get(m) {
            None => return Err(Error::Truncated),
            Some(&code) if code == 0xD0 + next_rst => {}
            Some(_) => return Err(Error::Invalid("missing or misnumbered restart marker")),
        }
        pos = m + 1;
        next_rst = (next_rst + 1) & 7;
        coder.reset();
        run_index = [0; MAX_COMPONENTS];
        lines.fill(0);
    }
}

/// Splits a two-line buffer into (previous, current), alternating by row so that no
/// copying is needed when moving to the next line.
fn pair(block: &mut [u16], len: usize, row: usize) -> (&mut [u16], &mut [u16]) {
    let (a, b) = block.split_at_mut(len);
    if row & 1 == 0 {
        (b, a)
    } else {
        (a, b)
    }
}

/// Reads the run length of a run starting at `x`, at most `remaining` samples. Returns
/// the length and whether the run was interrupted (by a sample that must be decoded next).
fn run_length(
    br: &mut BitReader,
    remaining: usize,
    ri: &mut usize,
) -> Result<(usize, bool), Error> {
    let mut n = 0usize;
    while br.read_bit() {
        let segment = 1usize << J[*ri];
        let count = segment.min(remaining - n);
        n += count;
        if count == segment && *ri < 31 {
            *ri += 1;
        }
        if n == remaining {
            return Ok((n, false));
        }
    }
    n += br.read_bits(J[*ri]) as usize;
    if n > remaining {
        return Err(Error::Invalid("run past the end of the line"));
    }
    // A zero bit with a remainder that exactly reaches the end is tolerated like CharLS.
    Ok((n, n < remaining))
}

/// One line of one component. `prev` and `cur` hold the line with an edge sample on each side.
fn single_line(
    coder: &mut Coder,
    br: &mut BitReader,
    prev: &mut [u16],
    cur: &mut [u16],
    ri: &mut usize,
) -> Result<(), Error> {
    let w = cur.len() - 2;
    // Ra of the first sample is the sample above it, Rd of the last one is its Rb; Rc of the
    // first sample is the previous line's left edge, which holds the line above that one.
    cur[0] = prev[1];
    prev[w + 1] = prev[w];
    let mut x = 1;
    while x <= w {
        let ra = i32::from(cur[x - 1]);
        let rb = i32::from(prev[x]);
        let rc = i32::from(prev[x - 1]);
        let rd = i32::from(prev[x + 1]);
        let qs = coder.context(rd - rb, rb - rc, rc - ra);
        if qs != 0 {
            cur[x] = coder.decode_regular(br, qs, predict(ra, rb, rc))?;
            x += 1;
            continue;
        }
        let (n, interrupted) = run_length(br, w + 1 - x, ri)?;
        cur[x..x + n].fill(ra as u16);
        x += n;
        if interrupted {
            cur[x] = coder.decode_ri_sample(br, ra, i32::from(prev[x]), J[*ri])?;
            *ri = ri.saturating_sub(1);
            x += 1;
        }
    }
    Ok(())
}

/// One line of a sample-interleaved scan: `nc` samples per pixel, sharing the contexts,
/// with run mode only where every component is flat.
fn sample_line(
    coder: &mut Coder,
    br: &mut BitReader,
    prev: &mut [u16],
    cur: &mut [u16],
    nc: usize,
    ri: &mut usize,
) -> Result<(), Error> {
    let w = cur.len() / nc - 2;
    cur[..nc].copy_from_slice(&prev[nc..2 * nc]);
    prev.copy_within(w * nc..(w + 1) * nc, (w + 1) * nc);
    let mut x = 1;
    while x <= w {
        let mut qs = [0i32; MAX_COMPONENTS];
        let mut pred = [0i32; MAX_COMPONENTS];
        for c in 0..nc {
            let ra = i32::from(cur[(x - 1) * nc + c]);
            let rb = i32::from(prev[x * nc + c]);
            let rc = i32::from(prev[(x - 1) * nc + c]);
            let rd = i32::from(prev[(x + 1) * nc + c]);
            qs[c] = coder.context(rd - rb, rb - rc, rc - ra);
            pred[c] = predict(ra, rb, rc);
        }
        if qs[..nc].iter().any(|&q| q != 0) {
            for c in 0..nc {
                cur[x * nc + c] = coder.decode_regular(br, qs[c], pred[c])?;
            }
            x += 1;
            continue;
        }
        let mut ra = [0u16; MAX_COMPONENTS];
        ra[..nc].copy_from_slice(&cur[(x - 1) * nc..x * nc]);
        let (n, interrupted) = run_length(br, w + 1 - x, ri)?;
        for px in cur[x * nc..(x + n) * nc].chunks_exact_mut(nc) {
            px.copy_from_slice(&ra[..nc]);
        }
        x += n;
        if interrupted {
            for c in 0..nc {
                let rb = i32::from(prev[x * nc + c]);
                let j = J[*ri];
                cur[x * nc + c] = coder.decode_ri_component(br, i32::from(ra[c]), rb, j)?;
            }
            *ri = ri.saturating_sub(1);
            x += 1;
        }
    }
    Ok(())
}
