//! Image sets of a series, as the index keeps them: a localizer apart from its stack, the stack
//! ordered along its normal, placements read from enhanced objects' functional groups (checked
//! against pydicom), instances indexed before placements were kept read on first use, and 4D
//! series split by temporal position.

mod support;

use lightbox_core::image_sets::{self, Placement};
use lightbox_core::import::{self, ImportOptions, ImportProgress};
use lightbox_core::index::SetMember;
use lightbox_core::render::image_set_thumbnail;
use lightbox_core::store::Store;
use lightbox_dicom::{read_file, tag, ReadMode};
use lightbox_synth::SynthSpec;
use std::path::Path;

/// One generated CT series of a localizer and an axial stack of `slices`, imported; its UID.
fn localizer_and_stack(store: &Store, source: &Path, slices: u32) -> String {
    let spec = SynthSpec {
        patients: 1,
        studies_per_patient: 1,
        series_per_study: 1,
        instances_per_series: slices + 1,
        rows: 32,
        columns: 32,
        modality: Some("CT".into()),
        localizer: true,
        ..SynthSpec::default()
    };
    lightbox_synth::generate(&spec, source).unwrap();
    let report = import::import(
        store,
        &[source.to_path_buf()],
        &ImportOptions::default(),
        &ImportProgress::default(),
    )
    .unwrap();
    assert_eq!(report.imported, u64::from(slices + 1));
    let study = store.index().search_studies(&Default::default()).unwrap();
    let study_uid = &study.studies[0].study_uid;
    store.index().series_of_study(study_uid).unwrap()[0]
        .series_uid
        .clone()
}

/// Where an instance's image lies along the normal of its plane, read from its file.
fn along_normal(store: &Store, sop: &str) -> f64 {
    let path = store.index().instance_path(sop).unwrap().unwrap();
    let ds = read_file(&store.local_path(&path).unwrap(), ReadMode::Header)
        .unwrap()
        .dataset;
    let o = ds.floats(tag::IMAGE_ORIENTATION_PATIENT);
    let p = ds.floats(tag::IMAGE_POSITION_PATIENT);
    let n = [
        o[1] * o[5] - o[2] * o[4],
        o[2] * o[3] - o[0] * o[5],
        o[0] * o[4] - o[1] * o[3],
    ];
    p[0] * n[0] + p[1] * n[1] + p[2] * n[2]
}

#[test]
fn a_localizer_and_a_stack_are_two_sets_the_stack_ordered_along_its_normal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let series = localizer_and_stack(&store, &dir.path().join("source"), 9);
    let sets = image_sets::of_series(&store, &series).unwrap();
    assert_eq!(sets.len(), 2, "{sets:?}");
    let (stack, localizer) = (&sets[0], &sets[1]);
    assert_eq!(stack.label, "9 images · axial · 32×32");
    assert_eq!((stack.localizer, stack.plane), (false, Some("axial")));
    assert_eq!(stack.instances.len(), 9);
    let positions: Vec<f64> = stack
        .instances
        .iter()
        .map(|sop| along_normal(&store, sop))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "ordered along the normal: {positions:?}"
    );
    assert_eq!(localizer.label, "1 image · localizer · 32×32");
    assert!(localizer.localizer);
    // Each set has its own thumbnail; there is no third.
    let stack_png = image_set_thumbnail(&store, &series, 0, 64).unwrap();
    let localizer_png = image_set_thumbnail(&store, &series, 1, 64).unwrap();
    assert_ne!(stack_png, localizer_png);
    assert!(image_set_thumbnail(&store, &series, 2, 64).is_err());
}

#[test]
fn instances_indexed_without_placements_get_them_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::open(&root).unwrap();
    let series = localizer_and_stack(&store, &dir.path().join("source"), 4);
    let before = image_sets::of_series(&store, &series).unwrap();
    // As an index from before placements were kept has them.
    let db = rusqlite::Connection::open(root.join("index.sqlite")).unwrap();
    let forgotten = db
        .execute(
            "UPDATE instances SET image_set = NULL, temporal_position = NULL, slice_position = NULL",
            [],
        )
        .unwrap();
    assert_eq!(forgotten, 5);
    let unread = |db: &rusqlite::Connection| -> i64 {
        db.query_row(
            "SELECT count(*) FROM instances WHERE image_set IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(unread(&db), 5);
    assert_eq!(image_sets::of_series(&store, &series).unwrap(), before);
    assert_eq!(unread(&db), 0, "the placements read are kept");
}

#[test]
fn an_enhanced_objects_placement_comes_from_its_functional_groups() {
    let (Some(data), Some(python)) = (support::pydicom_data(), support::python()) else {
        return;
    };
    let path = data.join("test_files/liver_1frame.dcm");
    // pydicom's reading of the shared and first per-frame groups.
    let out = support::run_python_code(
        &python,
        "import sys, pydicom
ds = pydicom.dcmread(sys.argv[1])
shared = ds.SharedFunctionalGroupsSequence[0]
frame = ds.PerFrameFunctionalGroupsSequence[0]
o = [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient]
s = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]
p = [float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient]
print(ds.Rows, ds.Columns, ds.SamplesPerPixel, *o, *s, *p)",
        &[path.as_os_str()],
    );
    let v: Vec<f64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    let fixed = |values: &[f64], digits: usize| {
        values
            .iter()
            .map(|x| format!("{x:.digits$}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (o, s, p) = (&v[3..9], &v[9..11], &v[11..14]);
    let normal = [
        o[1] * o[5] - o[2] * o[4],
        o[2] * o[3] - o[0] * o[5],
        o[0] * o[4] - o[1] * o[3],
    ];
    let ds = read_file(&path, ReadMode::Header).unwrap().dataset;
    assert!(
        ds.get(tag::IMAGE_ORIENTATION_PATIENT).is_none(),
        "only in its groups"
    );
    let placement = Placement::of(&ds).unwrap();
    assert_eq!(
        placement.key,
        format!(
            "S|{}|{}|{}|{}|{}",
            v[0],
            v[1],
            v[2],
            fixed(o, 2),
            fixed(s, 3)
        )
    );
    let expected = p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2];
    assert!((placement.position.unwrap() - expected).abs() < 1e-9);
}

fn member(sop: &str, number: i64, key: &str, temporal: f64, position: f64) -> SetMember {
    SetMember {
        sop_instance_uid: sop.into(),
        instance_number: Some(number),
        frames: 1,
        file_path: String::new(),
        placement: Some(Some(Placement {
            key: key.into(),
            temporal: Some(temporal),
            position: Some(position),
        })),
    }
}

#[test]
fn a_4d_series_is_one_set_per_time_point_and_a_3d_one_is_not_split() {
    let key = "S|64|64|1|1.00,0.00,0.00,0.00,1.00,0.00|1.000,1.000";
    // Two time points of three slices each, numbered in acquisition order.
    let mut members = Vec::new();
    for (t, time) in [1.0, 2.0].iter().enumerate() {
        for (z, position) in [30.0, 10.0, 20.0].iter().enumerate() {
            let n = (t * 3 + z) as i64;
            members.push(member(
                &format!("{time}-{position}"),
                n,
                key,
                *time,
                *position,
            ));
        }
    }
    members.push(SetMember {
        placement: Some(None),
        ..member("report", 99, key, 0.0, 0.0)
    });
    let sets = image_sets::group(&members);
    let labels: Vec<&str> = sets.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "3 images · axial · 64×64 · time 1",
            "3 images · axial · 64×64 · time 2"
        ]
    );
    assert_eq!(sets[0].instances, ["1-10", "1-20", "1-30"]);
    assert_eq!(sets[1].middle(), "2-20");
    // Distinct temporal positions at distinct positions (one sweep): one set.
    let sweep: Vec<SetMember> = (0..4)
        .map(|i| member(&i.to_string(), i, key, i as f64, i as f64 * 5.0))
        .collect();
    assert_eq!(image_sets::group(&sweep).len(), 1);
}
