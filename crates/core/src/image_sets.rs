//! A series split into its image sets, by the rules the viewer follows (`ui/viewer/series.js`):
//! the same orientation, size, samples and spacing make a set; localizers are apart; a set
//! whose slices repeat positions at distinct temporal positions is one set per time point; and
//! each set is ordered along its normal rather than by instance number.
//!
//! Each instance's [`Placement`] is read once, when it is indexed, so that listing a study's
//! sets reads no file. Instances indexed before the index kept placements get theirs the first
//! time their series' sets are asked for.

use crate::index::{IndexError, SetMember};
use crate::store::Store;
use lightbox_dicom::{read_file, tag, DataSet, ReadMode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where one instance goes among its series' image sets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// What puts instances in one set: localizer or not, rows, columns, samples, orientation
    /// (to 2 decimals) and pixel spacing (to 3), as the viewer writes it.
    pub key: String,
    /// Temporal Position Identifier (or the first frame's Temporal Position Index).
    pub temporal: Option<f64>,
    /// The (first) image's position along the normal of its plane, in mm.
    pub position: Option<f64>,
}

impl Placement {
    /// The placement of an instance with pixels; `None` for one without rows and columns.
    pub fn of(ds: &DataSet) -> Option<Placement> {
        let rows = ds.int(tag::ROWS).filter(|&r| r > 0)?;
        let columns = ds.int(tag::COLUMNS).filter(|&c| c > 0)?;
        let samples = ds.int(tag::SAMPLES_PER_PIXEL).unwrap_or(1);
        // Enhanced multi-frame objects keep their geometry in functional groups: the shared
        // ones, else the first frame's.
        let shared = ds.items(tag::SHARED_FUNCTIONAL_GROUPS_SEQUENCE).first();
        let first_frame = ds.items(tag::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE).first();
        let grouped = |sequence, attribute, count| {
            [first_frame, shared]
                .into_iter()
                .flatten()
                .find_map(|group| {
                    let item = group.items(sequence).first()?;
                    values(item, attribute, count)
                })
        };
        let orientation = values(ds, tag::IMAGE_ORIENTATION_PATIENT, 6).or_else(|| {
            grouped(
                tag::PLANE_ORIENTATION_SEQUENCE,
                tag::IMAGE_ORIENTATION_PATIENT,
                6,
            )
        });
        let spacing = values(ds, tag::PIXEL_SPACING, 2)
            .or_else(|| grouped(tag::PIXEL_MEASURES_SEQUENCE, tag::PIXEL_SPACING, 2));
        let position = values(ds, tag::IMAGE_POSITION_PATIENT, 3)
            .or_else(|| grouped(tag::PLANE_POSITION_SEQUENCE, tag::IMAGE_POSITION_PATIENT, 3));
        let temporal = ds.float(tag::TEMPORAL_POSITION_IDENTIFIER).or_else(|| {
            let content = first_frame?.items(tag::FRAME_CONTENT_SEQUENCE).first()?;
            content.float(tag::TEMPORAL_POSITION_INDEX)
        });
        let localizer = ds
            .texts(tag::IMAGE_TYPE)
            .iter()
            .any(|t| t.trim() == "LOCALIZER");
        let key = [
            if localizer { "L" } else { "S" }.to_string(),
            rows.to_string(),
            columns.to_string(),
            samples.to_string(),
            rounded(orientation.as_deref(), 2),
            rounded(spacing.as_deref(), 3),
        ]
        .join("|");
        let normal = orientation.as_deref().map(normal_of);
        let position = match (position, normal) {
            (Some(p), Some(n)) => Some(dot(&p, &n)),
            _ => None,
        };
        Some(Placement {
            key,
            temporal,
            position,
        })
    }

    fn localizer(&self) -> bool {
        self.key.starts_with('L')
    }

    /// Columns × rows, from the key.
    fn size(&self) -> String {
        let mut parts = self.key.split('|').skip(1);
        let rows = parts.next().unwrap_or("?");
        let columns = parts.next().unwrap_or("?");
        format!("{columns}×{rows}")
    }

    /// The plane the orientation is closest to, from the key.
    fn plane(&self) -> Option<&'static str> {
        let orientation: Vec<f64> = self
            .key
            .split('|')
            .nth(4)?
            .split(',')
            .map(|v| v.parse().ok())
            .collect::<Option<_>>()?;
        (orientation.len() == 6).then(|| plane_name(&normal_of(&orientation)))
    }
}

/// `count` numbers of an attribute, when it has them all.
fn values(ds: &DataSet, attribute: lightbox_dicom::Tag, count: usize) -> Option<Vec<f64>> {
    let v = ds.floats(attribute);
    (v.len() >= count && v[..count].iter().all(|x| x.is_finite())).then(|| v[..count].to_vec())
}

fn rounded(values: Option<&[f64]>, digits: usize) -> String {
    match values {
        Some(v) => v
            .iter()
            .map(|x| format!("{x:.digits$}"))
            .collect::<Vec<_>>()
            .join(","),
        None => "-".to_string(),
    }
}

fn normal_of(orientation: &[f64]) -> [f64; 3] {
    let (r, c) = (&orientation[..3], &orientation[3..6]);
    [
        r[1] * c[2] - r[2] * c[1],
        r[2] * c[0] - r[0] * c[2],
        r[0] * c[1] - r[1] * c[0],
    ]
}

fn dot(a: &[f64], b: &[f64; 3]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn plane_name(normal: &[f64; 3]) -> &'static str {
    let [x, y, z] = normal.map(f64::abs);
    if z >= x && z >= y {
        "axial"
    } else if y >= x {
        "coronal"
    } else {
        "sagittal"
    }
}

/// One image set of a series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageSet {
    /// "120 images · axial · 512×512", as the viewer labels it.
    pub label: String,
    /// Frames in the set (a multi-frame instance counts each of its frames).
    pub images: u64,
    pub localizer: bool,
    /// Axial, coronal or sagittal (the closest), when the images have an orientation.
    pub plane: Option<&'static str>,
    /// The temporal position this set is, when a series is split by time.
    pub temporal: Option<f64>,
    /// Its instances, ordered along the normal (by instance number when positions are missing).
    pub instances: Vec<String>,
}

impl ImageSet {
    /// The instance in the middle of the set (its thumbnail's).
    pub fn middle(&self) -> &str {
        &self.instances[self.instances.len() / 2]
    }
}

/// A series' image sets, largest first and localizers last; reads (and keeps in the index)
/// the placements that instances indexed earlier do not have yet.
pub fn of_series(store: &Store, series_uid: &str) -> Result<Vec<ImageSet>, IndexError> {
    let index = store.index();
    let mut members = index.image_set_members(series_uid)?;
    for member in members.iter_mut().filter(|m| m.placement.is_none()) {
        // A file that cannot be read now has no place; it is read again next time.
        let Ok(path) = store.local_path(&member.file_path) else {
            continue;
        };
        let Ok(file) = read_file(&path, ReadMode::Header) else {
            continue;
        };
        let placement = Placement::of(&file.dataset);
        index.set_placement(&member.sop_instance_uid, placement.as_ref())?;
        member.placement = Some(placement);
    }
    Ok(group(&members))
}

/// An instance with its placement, while sets are formed.
type Placed<'a> = (&'a SetMember, &'a Placement);

/// The grouping itself, over what the index holds.
pub fn group(members: &[SetMember]) -> Vec<ImageSet> {
    let mut by_key: BTreeMap<&str, Vec<Placed>> = BTreeMap::new();
    for member in members {
        if let Some(Some(placement)) = &member.placement {
            by_key
                .entry(&placement.key)
                .or_default()
                .push((member, placement));
        }
    }
    let mut sets = Vec::new();
    for list in by_key.into_values() {
        let temporal: BTreeSet<Option<u64>> = list
            .iter()
            .map(|(_, p)| p.temporal.map(f64::to_bits))
            .collect();
        let positions: BTreeSet<Option<i64>> = list
            .iter()
            .map(|(_, p)| p.position.map(|x| (x * 100.0).round() as i64))
            .collect();
        // Several images at one position with distinct temporal positions: one set per time.
        let split = temporal.len() > 1 && positions.len() < list.len();
        let mut parts: Vec<(Option<f64>, Vec<Placed>)> = if split {
            let mut times: Vec<Option<f64>> =
                temporal.iter().map(|t| t.map(f64::from_bits)).collect();
            times.sort_by(|a, b| a.unwrap_or(0.0).total_cmp(&b.unwrap_or(0.0)));
            times
                .into_iter()
                .map(|t| {
                    let part = list
                        .iter()
                        .filter(|(_, p)| p.temporal == t)
                        .copied()
                        .collect();
                    (t, part)
                })
                .collect()
        } else {
            vec![(None, list)]
        };
        for (time, part) in &mut parts {
            sets.push(image_set(*time, part));
        }
    }
    sets.sort_by(|a, b| {
        a.localizer
            .cmp(&b.localizer)
            .then(b.images.cmp(&a.images))
            .then_with(|| a.instances.cmp(&b.instances))
    });
    sets
}

fn image_set(time: Option<f64>, part: &mut [Placed]) -> ImageSet {
    let by_number = |a: &Placed, b: &Placed| {
        let number = |m: &SetMember| m.instance_number.unwrap_or(i64::MAX);
        number(a.0).cmp(&number(b.0))
    };
    if part.iter().all(|(_, p)| p.position.is_some()) {
        part.sort_by(|a, b| {
            let along = |p: &Placement| p.position.unwrap_or_default();
            along(a.1)
                .total_cmp(&along(b.1))
                .then_with(|| by_number(a, b))
        });
    } else {
        part.sort_by(by_number);
    }
    let first = part[0].1;
    let images: u64 = part.iter().map(|(m, _)| m.frames.max(1)).sum();
    let (localizer, plane) = (first.localizer(), first.plane());
    let kind = if localizer { Some("localizer") } else { plane };
    let label = [
        Some(format!(
            "{images} {}",
            if images == 1 { "image" } else { "images" }
        )),
        kind.map(str::to_string),
        Some(first.size()),
        time.map(|t| format!("time {t}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    ImageSet {
        label,
        images,
        localizer,
        plane,
        temporal: time,
        instances: part
            .iter()
            .map(|(m, _)| m.sop_instance_uid.clone())
            .collect(),
    }
}
