//! The plan of one series, shared by its instances, and the encoding of each instance: its
//! attributes per modality and its painted pixel data.

use crate::encoder::Encoder;
use crate::identity::{
    spec_hash, time_string, uid, Patient, Study, UID_FRAME_OF_REFERENCE, UID_INSTANCE, UID_SERIES,
};
use crate::phantom::{
    Ellipse, ModalityParams, Region, AIR, HEAD, LESION, NOISE_EXTRA, OUTSIDE, TISSUES, TORSO,
};
use crate::rng::{key, Rng, K_INSTANCE, K_SERIES};
use crate::spec::SynthSpec;
use crate::vocabulary::{Modality, Plane, SeriesTemplate, Shape};
use crate::{EXPLICIT_VR_LITTLE_ENDIAN, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME};

/// Row and column direction cosines and the normal (row × column).
type Orientation = ([f64; 3], [f64; 3], [f64; 3]);

/// Everything shared by the instances of one series.
pub(crate) struct SeriesPlan<'s> {
    spec: &'s SynthSpec,
    hash: u64,
    key: u64,
    flat: u64,
    pub(crate) patient: Patient,
    pub(crate) study: Study,
    template: &'static SeriesTemplate,
    pub(crate) uid: String,
    frame_of_reference: String,
    number: u32,
    time: String,
    params: &'static ModalityParams,
    /// Per tissue, `2 * columns + NOISE_EXTRA` noisy samples as little-endian bytes.
    noise_rows: Vec<Vec<u8>>,
    regions: Vec<Region>,
    /// Pixel spacing in mm (square pixels).
    spacing: f64,
    /// Slice position (mm along the normal) of the first instance.
    first_slice: f64,
}

impl<'s> SeriesPlan<'s> {
    pub(crate) fn new(spec: &'s SynthSpec, p: u32, st: u32, se: u32) -> SeriesPlan<'s> {
        let hash = spec_hash(spec);
        let patient = Patient::new(spec.seed, p);
        let study = Study::new(spec, hash, p, st);
        let series_key = key(&[spec.seed, K_SERIES, p as u64, st as u64, se as u64]);
        let mut rng = Rng::new(series_key);
        let templates = study.template.series;
        let template = &templates[se as usize % templates.len()];
        let flat = (p as u64 * spec.studies_per_patient as u64 + st as u64)
            * spec.series_per_study as u64
            + se as u64;
        let time = study.time + se * 420 + rng.below(300) as u32;
        let params = study.modality.params();

        let columns = spec.columns as usize;
        let noise_len = 2 * columns + NOISE_EXTRA;
        let noise_rows = (0..TISSUES)
            .map(|tissue| {
                let base = params.values[tissue];
                let amp = if tissue == OUTSIDE { 0 } else { params.noise };
                let mut row = Vec::with_capacity(noise_len * 2);
                for _ in 0..noise_len {
                    let n = if amp == 0 {
                        0
                    } else {
                        // Triangular distribution on -amp..=amp.
                        let span = 2 * amp as u64 + 1;
                        (rng.below(span) + rng.below(span)) as i32 / 2 - amp
                    };
                    row.extend_from_slice(&(params.clamp(base + n) as i16 as u16).to_le_bytes());
                }
                row
            })
            .collect();

        let mut regions = Vec::new();
        // The field of view: a reconstruction circle for tomography, a collimated rectangle for
        // projections and ultrasound.
        if template.plane == Plane::Projection {
            regions.push(Region {
                rect: true,
                ..Region::cylinder(AIR, 0.0, 0.0, 0.94, 0.94)
            });
        } else {
            regions.push(Region::cylinder(AIR, 0.0, 0.0, 1.0, 1.0));
        }
        regions.extend_from_slice(match study.template.shape {
            Shape::Torso => TORSO,
            Shape::Head => HEAD,
        });
        // One or two lesions per series, somewhere inside the body.
        for _ in 0..1 + rng.below(2) {
            let r = rng.range(0.04, 0.11);
            regions.push(Region::ellipsoid(
                LESION,
                rng.range(-0.45, 0.45),
                rng.range(-0.3, 0.3),
                r,
                r * rng.range(0.8, 1.2),
                rng.range(-0.6, 0.6),
                rng.range(0.3, 0.7),
            ));
        }

        let larger = spec.rows.max(spec.columns).max(1) as f64;
        let spacing = study.template.fov / larger;
        let n = spec.instances_per_series as f64;
        let table = rng.below(81) as f64 * 0.5 - 20.0;
        let first_slice = table - (n - 1.0) / 2.0 * template.thickness;

        SeriesPlan {
            spec,
            hash,
            key: series_key,
            flat,
            patient,
            study,
            template,
            uid: uid(hash, UID_SERIES, flat),
            frame_of_reference: uid(hash, UID_FRAME_OF_REFERENCE, flat),
            number: se + 1,
            time: time_string(time),
            params,
            noise_rows,
            regions,
            spacing,
            first_slice,
        }
    }

    /// Row and column direction cosines and the normal (row × column); a localizer's plane lies
    /// across the series' own.
    fn orientation(&self, localizer: bool) -> Orientation {
        let plane = match (localizer, self.template.plane) {
            (true, Plane::Axial) => Plane::Coronal,
            (true, _) => Plane::Axial,
            (false, plane) => plane,
        };
        match plane {
            Plane::Sagittal => ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]),
            Plane::Coronal => ([1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]),
            Plane::Axial | Plane::Projection => ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]),
        }
    }

    /// Whether the series is one enhanced multi-frame instance (see [`SynthSpec::enhanced`]).
    pub(crate) fn enhanced(&self) -> bool {
        self.spec.enhanced
            && self.template.plane != Plane::Projection
            && self.study.modality.enhanced_sop_class().is_some()
    }

    /// How many files the series is: one per instance, or the one enhanced instance.
    pub(crate) fn files(&self) -> u32 {
        if self.enhanced() {
            1
        } else {
            self.spec.instances_per_series
        }
    }

    /// Image Position (Patient) of a slice `slice` mm along the normal: the centre of the image
    /// lies on the normal through the origin, pixel (0, 0) half the image away along the row and
    /// column directions.
    fn position(&self, slice: f64, (row_dir, col_dir, normal): Orientation) -> String {
        let half_c = (self.spec.columns as f64 - 1.0) / 2.0 * self.spacing;
        let half_r = (self.spec.rows as f64 - 1.0) / 2.0 * self.spacing;
        let pos: Vec<String> = (0..3)
            .map(|k| ds(normal[k] * slice - row_dir[k] * half_c - col_dir[k] * half_r))
            .collect();
        pos.join("\\")
    }

    pub(crate) fn instance(&self, i: u32) -> Vec<u8> {
        let spec = self.spec;
        let rows = spec.rows as usize;
        let columns = spec.columns as usize;
        let enhanced = self.enhanced();
        let frames = if enhanced {
            spec.instances_per_series
        } else {
            1
        };
        let pixel_bytes = rows * columns * 2 * frames as usize;
        let modality = self.study.modality;
        let ct = modality == Modality::Ct;
        let tomographic = self.template.plane != Plane::Projection;
        let sop_uid = uid(
            self.hash,
            UID_INSTANCE,
            self.flat * spec.instances_per_series as u64 + i as u64,
        );
        let sop_class = match modality.enhanced_sop_class() {
            Some(class) if enhanced => class,
            _ => modality.sop_class(),
        };

        let mut e = Encoder::with_capacity(2048 + pixel_bytes);
        e.buf.extend_from_slice(&[0u8; 128]);
        e.buf.extend_from_slice(b"DICM");

        // File meta information, preceded by its group length.
        let mut meta = Encoder::with_capacity(256);
        meta.bytes(0x0002_0001, b"OB", &[0, 1]);
        meta.text(0x0002_0002, b"UI", sop_class);
        meta.text(0x0002_0003, b"UI", &sop_uid);
        meta.text(0x0002_0010, b"UI", EXPLICIT_VR_LITTLE_ENDIAN);
        meta.text(0x0002_0012, b"UI", IMPLEMENTATION_CLASS_UID);
        meta.text(0x0002_0013, b"SH", IMPLEMENTATION_VERSION_NAME);
        e.bytes(0x0002_0000, b"UL", &(meta.buf.len() as u32).to_le_bytes());
        e.buf.extend_from_slice(&meta.buf);
        e.last = meta.last;

        let localizer = spec.localizer && tomographic && i == 0 && !enhanced;
        let image_type = match (modality, self.template.plane) {
            _ if enhanced => "ORIGINAL\\PRIMARY\\VOLUME\\NONE",
            _ if localizer => "ORIGINAL\\PRIMARY\\LOCALIZER",
            (Modality::Ct, Plane::Axial) => "ORIGINAL\\PRIMARY\\AXIAL",
            (Modality::Ct, _) => "DERIVED\\SECONDARY\\REFORMATTED",
            _ => "ORIGINAL\\PRIMARY",
        };
        if self.patient.utf8 {
            e.text(0x0008_0005, b"CS", "ISO_IR 192");
        }
        e.text(0x0008_0008, b"CS", image_type);
        e.text(0x0008_0016, b"UI", sop_class);
        e.text(0x0008_0018, b"UI", &sop_uid);
        e.text(0x0008_0020, b"DA", &self.study.date);
        e.text(0x0008_0021, b"DA", &self.study.date);
        e.text(0x0008_0023, b"DA", &self.study.date);
        e.text(0x0008_0030, b"TM", &time_string(self.study.time));
        e.text(0x0008_0031, b"TM", &self.time);
        e.text(0x0008_0033, b"TM", &self.time);
        e.text(0x0008_0050, b"SH", &self.study.accession);
        e.text(0x0008_0060, b"CS", &self.study.code);
        if modality == Modality::Other {
            e.text(0x0008_0064, b"CS", "WSD");
        }
        if modality == Modality::Dx {
            e.text(0x0008_0068, b"CS", "FOR PRESENTATION");
        }
        e.text(0x0008_0070, b"LO", "Lightbox Synthetic");
        e.text(0x0008_0080, b"LO", self.study.institution);
        e.text(0x0008_0090, b"PN", self.study.referring);
        e.text(0x0008_1030, b"LO", self.study.template.desc);
        e.text(0x0008_103E, b"LO", self.template.desc);
        e.text(0x0008_1090, b"LO", "Synthetic Phantom 1");
        e.text(0x0010_0010, b"PN", &self.patient.name);
        e.text(0x0010_0020, b"LO", &self.patient.id);
        e.text(0x0010_0030, b"DA", &self.patient.birth_date);
        e.text(0x0010_0040, b"CS", self.patient.sex);
        e.text(0x0018_0015, b"CS", self.study.template.body_part);

        let orientation = self.orientation(localizer);
        let (row_dir, col_dir, _) = orientation;
        let slice = if localizer {
            0.0
        } else {
            self.first_slice + i as f64 * self.template.thickness
        };
        // An enhanced instance keeps its geometry, rescale and windows in functional groups.
        let top_level_geometry = tomographic && !enhanced;
        if top_level_geometry {
            e.text(0x0018_0050, b"DS", &ds(self.template.thickness));
        }
        if matches!(modality, Modality::Cr | Modality::Dx) {
            let s = ds(self.spacing);
            e.text(0x0018_1164, b"DS", &format!("{s}\\{s}"));
        }
        e.text(0x0020_000D, b"UI", &self.study.uid);
        e.text(0x0020_000E, b"UI", &self.uid);
        e.text(0x0020_0010, b"SH", &self.study.id);
        e.text(0x0020_0011, b"IS", &self.number.to_string());
        e.text(0x0020_0013, b"IS", &(i + 1).to_string());
        let orient = row_dir
            .iter()
            .chain(col_dir.iter())
            .map(|&v| ds(v))
            .collect::<Vec<String>>()
            .join("\\");
        let spacing = format!("{0}\\{0}", ds(self.spacing));
        if top_level_geometry {
            e.text(0x0020_0032, b"DS", &self.position(slice, orientation));
            e.text(0x0020_0037, b"DS", &orient);
        }
        if tomographic {
            e.text(0x0020_0052, b"UI", &self.frame_of_reference);
        }
        if top_level_geometry {
            e.text(0x0020_1041, b"DS", &ds(slice));
        }
        e.bytes(0x0028_0002, b"US", &1u16.to_le_bytes());
        e.text(0x0028_0004, b"CS", "MONOCHROME2");
        if enhanced {
            e.text(0x0028_0008, b"IS", &frames.to_string());
        }
        e.bytes(0x0028_0010, b"US", &spec.rows.to_le_bytes());
        e.bytes(0x0028_0011, b"US", &spec.columns.to_le_bytes());
        if top_level_geometry {
            e.text(0x0028_0030, b"DS", &spacing);
        }
        let params = self.params;
        e.bytes(0x0028_0100, b"US", &16u16.to_le_bytes());
        e.bytes(0x0028_0101, b"US", &params.bits_stored.to_le_bytes());
        e.bytes(0x0028_0102, b"US", &(params.bits_stored - 1).to_le_bytes());
        e.bytes(0x0028_0103, b"US", &(params.signed as u16).to_le_bytes());
        if !enhanced {
            e.text(0x0028_1050, b"DS", params.window_center);
            e.text(0x0028_1051, b"DS", params.window_width);
            if ct {
                e.text(0x0028_1052, b"DS", "-1024");
                e.text(0x0028_1053, b"DS", "1");
                e.text(0x0028_1054, b"LO", "HU");
            }
            e.header(0x7FE0_0010, b"OW", pixel_bytes);
            self.paint(i, &mut e.buf);
            return e.buf;
        }

        // Shared: orientation, spacing and thickness, window, rescale. Per frame: its position.
        let shared = Encoder::item(|g| {
            g.sequence(
                0x0020_9116,
                &[Encoder::item(|o| o.text(0x0020_0037, b"DS", &orient))],
            );
            g.sequence(
                0x0028_9110,
                &[Encoder::item(|m| {
                    m.text(0x0018_0050, b"DS", &ds(self.template.thickness));
                    m.text(0x0028_0030, b"DS", &spacing);
                })],
            );
            g.sequence(
                0x0028_9132,
                &[Encoder::item(|w| {
                    w.text(0x0028_1050, b"DS", params.window_center);
                    w.text(0x0028_1051, b"DS", params.window_width);
                })],
            );
            g.sequence(
                0x0028_9145,
                &[Encoder::item(|t| {
                    let (intercept, units) = if ct { ("-1024", "HU") } else { ("0", "US") };
                    t.text(0x0028_1052, b"DS", intercept);
                    t.text(0x0028_1053, b"DS", "1");
                    t.text(0x0028_1054, b"LO", units);
                })],
            );
        });
        e.sequence(0x5200_9229, &[shared]);
        // The frames from the last slice to the first.
        let order: Vec<u32> = (0..frames).rev().collect();
        let per_frame: Vec<Vec<u8>> = order
            .iter()
            .enumerate()
            .map(|(stored, &slice_index)| {
                let slice = self.first_slice + slice_index as f64 * self.template.thickness;
                Encoder::item(|f| {
                    f.sequence(
                        0x0020_9111,
                        &[Encoder::item(|c| {
                            c.bytes(0x0020_9057, b"UL", &(stored as u32 + 1).to_le_bytes());
                        })],
                    );
                    f.sequence(
                        0x0020_9113,
                        &[Encoder::item(|p| {
                            p.text(0x0020_0032, b"DS", &self.position(slice, orientation));
                        })],
                    );
                })
            })
            .collect();
        e.sequence(0x5200_9230, &per_frame);
        e.header(0x7FE0_0010, b"OW", pixel_bytes);
        for slice_index in order {
            self.paint(slice_index, &mut e.buf);
        }
        e.buf
    }

    /// Appends the phantom for instance `i` to `out`: `rows * columns` little-endian 16-bit samples.
    /// Each row is appended whole (background) and then overwritten span by span, so no byte is
    /// written twice by a zero fill (`Vec::resize` is a per-byte loop in unoptimised builds).
    fn paint(&self, i: u32, out: &mut Vec<u8>) {
        let rows = self.spec.rows as usize;
        let columns = self.spec.columns as usize;
        if rows == 0 || columns == 0 {
            return;
        }
        let n = self.spec.instances_per_series.max(1) as f64;
        let t = (i as f64 + 0.5) / n * 2.0 - 1.0;
        let scale = rows.min(columns) as f64 / 2.0;
        let (mid_x, mid_y) = (columns as f64 / 2.0, rows as f64 / 2.0);
        let shapes: Vec<Ellipse> = self
            .regions
            .iter()
            .filter_map(|r| {
                if r.rect {
                    return Some(Ellipse {
                        tissue: r.tissue,
                        cx: mid_x,
                        cy: mid_y,
                        rx: r.rx * mid_x,
                        ry: r.ry * mid_y,
                        rect: true,
                    });
                }
                let size = match r.z {
                    None => 1.0,
                    Some((cz, hz)) => {
                        let d = (t - cz) / hz;
                        if d * d >= 1.0 {
                            return None;
                        }
                        (1.0 - d * d).sqrt()
                    }
                };
                Some(Ellipse {
                    tissue: r.tissue,
                    cx: mid_x + (r.cx + r.dx * t) * scale,
                    cy: mid_y + (r.cy + r.dy * t) * scale,
                    rx: r.rx * size * scale,
                    ry: r.ry * size * scale,
                    rect: false,
                })
            })
            .collect();
        let mut rng = Rng::new(key(&[self.key, K_INSTANCE, i as u64]));
        let row_bytes = columns * 2;
        for y in 0..rows {
            let off = rng.below((columns + NOISE_EXTRA) as u64) as usize * 2;
            let start = out.len();
            out.extend_from_slice(&self.noise_rows[OUTSIDE][off..off + row_bytes]);
            let row = &mut out[start..];
            for shape in &shapes {
                if let Some((x0, x1)) = shape.span(y, columns) {
                    row[x0 * 2..x1 * 2].copy_from_slice(
                        &self.noise_rows[shape.tissue][off + x0 * 2..off + x1 * 2],
                    );
                }
            }
        }
    }
}

/// A decimal string (DS) of at most 16 characters: six decimals, trailing zeros removed.
pub(crate) fn ds(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}
