//! Scan decoding: the MCU loop, from Huffman-coded blocks to samples in the component planes.

use super::decoder::{Component, Frame};
use super::huffman::{BitReader, HuffmanTable};
use super::idct::idct_block;
use super::{JpegError, ZIGZAG};

/// A component of the current scan, with its tables and DC predictor.
pub(super) struct ScanComponent<'t> {
    pub(super) index: usize,
    pub(super) dc: &'t HuffmanTable,
    pub(super) ac: &'t HuffmanTable,
    pub(super) quant: [u16; 64],
    pub(super) pred: i32,
}

pub(super) struct ScanGeometry {
    pub(super) mcus_x: usize,
    pub(super) total_mcus: usize,
    pub(super) interleaved: bool,
}

/// The MCU loop (T.81 F.2.2, figure E.6): decodes, dequantizes and inverse-transforms every block of
/// the scan straight into the component planes.
pub(super) fn decode_mcus(
    frame: &mut Frame,
    scan: &mut [ScanComponent],
    reader: &mut BitReader,
    geometry: &ScanGeometry,
    restart_interval: usize,
) -> Result<(), JpegError> {
    let mut coef = [0i32; 64];
    let mut pixels = [[0u16; 8]; 8];
    for mcu in 0..geometry.total_mcus {
        if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
            reader.restart()?;
            scan.iter_mut().for_each(|s| s.pred = 0);
        } else if reader.overrun() {
            // Padding zeros may complete the last MCU of an interval or scan, nothing before it.
            return Err(JpegError::Truncated(
                "the entropy-coded segment ends before its last MCU",
            ));
        }
        let (mx, my) = (mcu % geometry.mcus_x, mcu / geometry.mcus_x);
        for s in scan.iter_mut() {
            let component = &mut frame.components[s.index];
            let (bh, bv) = if geometry.interleaved {
                (component.h, component.v)
            } else {
                (1, 1)
            };
            for v in 0..bv {
                for h in 0..bh {
                    decode_block(reader, s.dc, s.ac, &mut s.pred, &mut coef)?;
                    idct_block(&coef, &s.quant, frame.precision, &mut pixels);
                    store_block(component, mx * bh + h, my * bv + v, &pixels)?;
                }
            }
        }
    }
    Ok(())
}

/// Decodes one block's Huffman-coded coefficients (T.81 F.2.2.1 and F.2.2.2) into `coef`, in
/// natural order.
fn decode_block(
    reader: &mut BitReader,
    dc: &HuffmanTable,
    ac: &HuffmanTable,
    pred: &mut i32,
    coef: &mut [i32; 64],
) -> Result<(), JpegError> {
    *coef = [0; 64];
    let size = dc.decode(reader)?;
    if size > 15 {
        return Err(JpegError::CorruptData("DC difference category above 15"));
    }
    // Hostile data can drive the predictor anywhere; wrap rather than overflow.
    *pred = pred.wrapping_add(reader.receive_extend(size));
    coef[0] = *pred;
    let mut k = 1;
    while k < 64 {
        let rs = ac.decode(reader)?;
        let (run, size) = (usize::from(rs >> 4), rs & 15);
        if size == 0 {
            if run != 15 {
                break; // EOB
            }
            k += 16; // ZRL: sixteen zeros
            continue;
        }
        k += run;
        let natural = ZIGZAG.get(k).ok_or(JpegError::CorruptData(
            "AC coefficient past the end of a block",
        ))?;
        coef[usize::from(*natural)] = reader.receive_extend(size);
        k += 1;
    }
    Ok(())
}

fn store_block(
    component: &mut Component,
    bx: usize,
    by: usize,
    pixels: &[[u16; 8]; 8],
) -> Result<(), JpegError> {
    let stride = component.blocks_w * 8;
    for (y, row) in pixels.iter().enumerate() {
        let start = (by * 8 + y) * stride + bx * 8;
        // Always inside: block indices stay below blocks_w × blocks_h by construction of the scan.
        let target = component
            .plane
            .get_mut(start..start + 8)
            .ok_or(JpegError::CorruptData("block outside its component"))?;
        target.copy_from_slice(row);
    }
    Ok(())
}
