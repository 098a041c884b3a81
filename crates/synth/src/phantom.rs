//! The pixel phantom: tissue values per modality, noise, and the regions of the body outlines.

pub(crate) const OUTSIDE: usize = 0;
pub(crate) const AIR: usize = 1;
const FAT: usize = 2;
const SOFT: usize = 3;
const LUNG: usize = 4;
const BONE: usize = 5;
const VESSEL: usize = 6;
pub(crate) const LESION: usize = 7;
const BRAIN: usize = 8;
const CSF: usize = 9;
pub(crate) const TISSUES: usize = 10;

pub(crate) struct ModalityParams {
    pub(crate) bits_stored: u16,
    pub(crate) signed: bool,
    pub(crate) window_center: &'static str,
    pub(crate) window_width: &'static str,
    /// Stored value of each tissue (indexed by the constants above).
    pub(crate) values: [i32; TISSUES],
    /// Noise half-amplitude in stored units (none outside the field of view).
    pub(crate) noise: i32,
}

impl ModalityParams {
    pub(crate) fn clamp(&self, v: i32) -> i32 {
        if self.signed {
            let half = 1i32 << (self.bits_stored - 1);
            v.clamp(-half, half - 1)
        } else {
            v.clamp(0, (1i32 << self.bits_stored) - 1)
        }
    }
}

/// CT: stored = HU + 1024; outside the reconstruction circle HU -2024.
pub(crate) const CT_PARAMS: ModalityParams = ModalityParams {
    bits_stored: 12,
    signed: true,
    window_center: "40",
    window_width: "400",
    values: [-1000, 24, 924, 1064, 174, 1824, 1274, 1114, 1059, 1032],
    noise: 12,
};

pub(crate) const MR_PARAMS: ModalityParams = ModalityParams {
    bits_stored: 16,
    signed: false,
    window_center: "700",
    window_width: "1400",
    values: [0, 8, 1400, 600, 40, 150, 900, 1100, 750, 300],
    noise: 20,
};

/// CR and DX: collimated border bright, direct exposure dark, bone bright.
pub(crate) const XR_PARAMS: ModalityParams = ModalityParams {
    bits_stored: 16,
    signed: false,
    window_center: "2000",
    window_width: "4000",
    values: [3800, 300, 1500, 1800, 900, 3200, 1900, 2300, 2000, 1900],
    noise: 30,
};

pub(crate) const US_PARAMS: ModalityParams = ModalityParams {
    bits_stored: 16,
    signed: false,
    window_center: "128",
    window_width: "256",
    values: [0, 0, 90, 120, 30, 230, 8, 60, 110, 5],
    noise: 25,
};

pub(crate) const PT_PARAMS: ModalityParams = ModalityParams {
    bits_stored: 16,
    signed: false,
    window_center: "2500",
    window_width: "5000",
    values: [0, 0, 150, 400, 120, 500, 700, 5000, 2500, 100],
    noise: 60,
};

/// Extra samples in each noise row beyond the image width: a row's random offset is in
/// `0..columns + NOISE_EXTRA`.
pub(crate) const NOISE_EXTRA: usize = 61;

/// A phantom region: an ellipse in normalised coordinates (units of half the smaller image
/// dimension, origin at the image centre, y down), optionally the cross-section of an ellipsoid
/// centred at slice position `cz` with half-length `hz` (slice positions run from -1 to 1), drifting
/// by `(dx, dy)` per unit of slice position. `rect` regions are image-relative rectangles.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Region {
    pub(crate) tissue: usize,
    pub(crate) cx: f64,
    pub(crate) cy: f64,
    pub(crate) rx: f64,
    pub(crate) ry: f64,
    pub(crate) dx: f64,
    pub(crate) dy: f64,
    pub(crate) z: Option<(f64, f64)>,
    pub(crate) rect: bool,
}

impl Region {
    pub(crate) const fn cylinder(tissue: usize, cx: f64, cy: f64, rx: f64, ry: f64) -> Region {
        Region {
            tissue,
            cx,
            cy,
            rx,
            ry,
            dx: 0.0,
            dy: 0.0,
            z: None,
            rect: false,
        }
    }
    pub(crate) const fn ellipsoid(
        tissue: usize,
        cx: f64,
        cy: f64,
        rx: f64,
        ry: f64,
        cz: f64,
        hz: f64,
    ) -> Region {
        Region {
            tissue,
            cx,
            cy,
            rx,
            ry,
            dx: 0.0,
            dy: 0.0,
            z: Some((cz, hz)),
            rect: false,
        }
    }
    const fn drift(self, dx: f64, dy: f64) -> Region {
        Region { dx, dy, ..self }
    }
}

pub(crate) const TORSO: &[Region] = &[
    Region::cylinder(FAT, 0.0, 0.02, 0.84, 0.62),
    Region::cylinder(SOFT, 0.0, 0.02, 0.78, 0.56),
    Region::ellipsoid(LUNG, -0.38, -0.06, 0.28, 0.36, 0.2, 1.5),
    Region::ellipsoid(LUNG, 0.38, -0.06, 0.27, 0.35, 0.25, 1.45),
    Region::ellipsoid(SOFT, 0.08, -0.08, 0.2, 0.18, -0.3, 0.9).drift(0.04, 0.02),
    Region::cylinder(BONE, 0.0, 0.4, 0.09, 0.09),
    Region::cylinder(VESSEL, 0.09, 0.2, 0.055, 0.055).drift(0.05, 0.0),
    Region::ellipsoid(BONE, -0.02, -0.5, 0.05, 0.03, 0.5, 0.8),
];

pub(crate) const HEAD: &[Region] = &[
    Region::ellipsoid(BONE, 0.0, 0.0, 0.72, 0.86, 0.0, 1.7),
    Region::ellipsoid(BRAIN, 0.0, 0.0, 0.65, 0.79, 0.0, 1.6),
    Region::ellipsoid(CSF, -0.13, -0.04, 0.07, 0.24, 0.1, 0.6).drift(-0.02, 0.0),
    Region::ellipsoid(CSF, 0.13, -0.04, 0.07, 0.24, 0.1, 0.6).drift(0.02, 0.0),
    Region::ellipsoid(CSF, 0.0, 0.35, 0.05, 0.05, -0.4, 0.4),
];

/// A region resolved for one slice, in pixel units.
pub(crate) struct Ellipse {
    pub(crate) tissue: usize,
    pub(crate) cx: f64,
    pub(crate) cy: f64,
    pub(crate) rx: f64,
    pub(crate) ry: f64,
    pub(crate) rect: bool,
}

impl Ellipse {
    /// The columns `x0..x1` of row `y` inside the region.
    pub(crate) fn span(&self, y: usize, columns: usize) -> Option<(usize, usize)> {
        let d = (y as f64 + 0.5 - self.cy) / self.ry;
        if !(d > -1.0 && d < 1.0) {
            return None;
        }
        let half = if self.rect {
            self.rx
        } else {
            self.rx * (1.0 - d * d).sqrt()
        };
        let x0 = (self.cx - half - 0.5).ceil().max(0.0);
        let x1 = ((self.cx + half - 0.5).floor() + 1.0).min(columns as f64);
        if x0 < x1 {
            Some((x0 as usize, x1 as usize))
        } else {
            None
        }
    }
}
