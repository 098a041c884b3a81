//! Managed files in an S3 object store (SeaweedFS started by the test on loopback), the index
//! in PostgreSQL: two nodes (two data directories) sharing both. What one imports, the other
//! lists and reads byte for byte; uploads are whole or absent; ranged reads, multipart uploads,
//! the shared thumbnail cache, deletes and de-duplication across nodes. The bucket is read back
//! with curl's own S3 signing, not through the client under test.

mod support;

use lightbox_core::import::{self, ImportOptions, ImportProgress, ImportReport};
use lightbox_core::index::{IndexLocation, StudyQuery};
use lightbox_core::store::{ObjectLocation, Store, StoreError};
use lightbox_synth::SynthSpec;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use support::seaweedfs::{self, SeaweedFs};

fn bucket_keys(s3: &SeaweedFs, prefix: &str) -> BTreeSet<String> {
    s3.keys(prefix).into_iter().collect()
}

fn generated(dir: &Path, seed: u64, rows: u16) -> PathBuf {
    let out = dir.join(format!("generated-{seed}"));
    lightbox_synth::generate(
        &SynthSpec {
            patients: 2,
            studies_per_patient: 1,
            series_per_study: 2,
            instances_per_series: 4,
            rows,
            columns: rows,
            seed,
            ..SynthSpec::default()
        },
        &out,
    )
    .unwrap();
    out
}

fn import_into(store: &Store, path: &Path) -> ImportReport {
    import::import(
        store,
        &[path.to_path_buf()],
        &ImportOptions { link: false },
        &ImportProgress::default(),
    )
    .unwrap()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SOP Instance UID → hash of the file's bytes, for every DICOM file under `dir`.
fn hashes_of_files(dir: &Path) -> HashMap<String, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let file =
                lightbox_dicom::read_file(e.path(), lightbox_dicom::ReadMode::Header).ok()?;
            let uid = file.dataset.text(lightbox_dicom::tag::SOP_INSTANCE_UID)?;
            Some((uid, sha(&std::fs::read(e.path()).unwrap())))
        })
        .collect()
}

struct Node {
    dir: tempfile::TempDir,
    store: Store,
}

fn node(index_url: &str, prefix: &str, s3: &SeaweedFs) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path(),
        &IndexLocation::Postgres(index_url.into()),
        &s3.location(prefix),
    )
    .unwrap();
    Node { dir, store }
}

#[test]
fn two_nodes_share_one_bucket_and_one_index() {
    let Some((pg, s3)) = support::start_cluster_servers() else {
        return;
    };
    let s3 = &s3;
    let url = pg.database();
    let a = node(&url, "cluster-1", s3);
    let b = node(&url, "cluster-1", s3);
    let work = tempfile::tempdir().unwrap();
    let source = generated(work.path(), 7, 32);
    let expected = hashes_of_files(&source);
    assert_eq!(expected.len(), 16);

    let report = import_into(&a.store, &source);
    assert_eq!(report.imported, 16, "{:?}", report.skipped);
    // Nothing managed stays in A's data directory: the objects are in the bucket, one per
    // instance, under the prefix, named as the index names them.
    let local_files = walkdir::WalkDir::new(a.dir.path().join("files"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(local_files, 0);
    let keys = bucket_keys(s3, "cluster-1/files/");
    assert_eq!(keys.len(), 16, "{keys:?}");

    // Node B lists what A stored and reads every instance byte for byte.
    let page = b
        .store
        .index()
        .search_studies(&StudyQuery::default())
        .unwrap();
    assert_eq!(page.total, 2);
    for (uid, hash) in &expected {
        let instance = b.store.index().instance(uid).unwrap().expect("indexed");
        assert!(keys.contains(&format!("cluster-1/{}", instance.file_path)));
        // A ranged read first, from the bucket (B has no copy yet): the preamble and magic.
        let head = b.store.read_range(&instance.file_path, 0..132).unwrap();
        assert_eq!(head.len(), 132);
        assert_eq!(&head[128..], b"DICM");
        let path = b.store.local_path(&instance.file_path).unwrap();
        assert!(
            path.starts_with(b.dir.path().join("cache")),
            "{}",
            path.display()
        );
        assert_eq!(&sha(&std::fs::read(&path).unwrap()), hash, "instance {uid}");
        // Then from the cached copy: the same bytes.
        let again = b.store.read_range(&instance.file_path, 128..132).unwrap();
        assert_eq!(again, b"DICM");
    }

    // The thumbnail one node renders, the other finds in the bucket.
    let series = a.store.index().instances_of_series(
        &a.store
            .index()
            .instance(expected.keys().next().unwrap())
            .unwrap()
            .unwrap()
            .series_uid,
    );
    let series_uid = series.unwrap()[0].series_uid.clone();
    let png =
        lightbox_core::render::thumbnail::series_thumbnail(&a.store, &series_uid, 64).unwrap();
    let thumbnails = bucket_keys(s3, "cluster-1/thumbnails/");
    assert_eq!(thumbnails.len(), 1, "{thumbnails:?}");
    let from_b =
        lightbox_core::render::thumbnail::series_thumbnail(&b.store, &series_uid, 64).unwrap();
    assert_eq!(from_b, png);
    let cached_on_b = walkdir::WalkDir::new(b.dir.path().join("thumbnails"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(cached_on_b, 1, "B keeps the shared thumbnail it read");

    // A delete on B removes the object for everyone; A's cached copy is not A's business to
    // keep serving once the index no longer names it.
    let gone = b
        .store
        .index()
        .instance(expected.keys().next().unwrap())
        .unwrap()
        .unwrap();
    b.store.delete_managed(&gone.file_path).unwrap();
    let keys_after = bucket_keys(s3, "cluster-1/files/");
    assert_eq!(keys_after.len(), 15);
    assert!(!keys_after.contains(&format!("cluster-1/{}", gone.file_path)));
    // Deleting again is no error (another node may have been first).
    b.store.delete_managed(&gone.file_path).unwrap();
}

#[test]
fn the_same_instances_stored_by_two_nodes_at_once_are_kept_once() {
    let Some((pg, s3)) = support::start_cluster_servers() else {
        return;
    };
    let s3 = &s3;
    let url = pg.database();
    let a = node(&url, "race", s3);
    let b = node(&url, "race", s3);
    let work = tempfile::tempdir().unwrap();
    let source = generated(work.path(), 11, 16);
    let (ra, rb) = std::thread::scope(|scope| {
        let ta = scope.spawn(|| import_into(&a.store, &source));
        let tb = scope.spawn(|| import_into(&b.store, &source));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert_eq!(ra.imported + rb.imported, 16, "{ra:?} {rb:?}");
    assert_eq!(ra.duplicates + rb.duplicates, 16);
    assert_eq!(bucket_keys(s3, "race/files/").len(), 16);
    let stats = a.store.index().stats().unwrap();
    assert_eq!(stats.instances, 16);
}

#[test]
fn a_large_instance_goes_up_in_parts_and_comes_back_whole() {
    let Some((pg, s3)) = support::start_cluster_servers() else {
        return;
    };
    let s3 = &s3;
    let url = pg.database();
    let a = node(&url, "large", s3);
    let b = node(&url, "large", s3);
    let work = tempfile::tempdir().unwrap();
    // 2,560 × 2,560 16-bit: 12.5 MiB a file, more than one upload part (8 MiB).
    let out = work.path().join("large");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 2,
            rows: 2560,
            columns: 2560,
            seed: 3,
            ..SynthSpec::default()
        },
        &out,
    )
    .unwrap();
    let expected = hashes_of_files(&out);
    assert_eq!(import_into(&a.store, &out).imported, 2);
    for (uid, hash) in &expected {
        let instance = b.store.index().instance(uid).unwrap().unwrap();
        assert!(instance.file_size > 12 << 20, "{}", instance.file_size);
        let tail = b
            .store
            .read_range(
                &instance.file_path,
                instance.file_size as u64 - 4096..u64::MAX,
            )
            .unwrap();
        assert_eq!(tail.len(), 4096);
        let bytes = std::fs::read(b.store.local_path(&instance.file_path).unwrap()).unwrap();
        assert_eq!(&sha(&bytes), hash);
        assert_eq!(&bytes[bytes.len() - 4096..], &tail[..]);
    }
    // No multipart upload is left open.
    let out = s3
        .curl()
        .arg(s3.bucket_url("?prefix=large%2F&uploads="))
        .output()
        .unwrap();
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{xml}");
    assert!(!xml.contains("<Upload>"), "{xml}");
}

/// `url` with the client settings (endpoint, credentials) of `s3`.
fn with_settings_of(s3: &SeaweedFs, url: &str) -> ObjectLocation {
    let (ObjectLocation::S3(mut location), ObjectLocation::S3(settings)) =
        (ObjectLocation::parse(url).unwrap(), s3.location(""))
    else {
        unreachable!("s3:// addresses")
    };
    location.options = settings.options;
    ObjectLocation::S3(location)
}

#[test]
fn an_object_store_that_does_not_answer_is_said_at_start() {
    let Some(s3) = seaweedfs::start_seaweedfs("lightbox") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A bucket name S3 does not allow, then a bucket nobody made.
    let invalid = ObjectLocation::parse("s3://Not_A_Bucket").unwrap_err();
    assert!(matches!(invalid, StoreError::Location { .. }), "{invalid}");
    let missing = Store::open_with(
        dir.path(),
        &IndexLocation::DataDir,
        &with_settings_of(&s3, "s3://no-such-bucket/x"),
    );
    match missing {
        Err(StoreError::ObjectStore { location, .. }) => {
            assert_eq!(location, "s3://no-such-bucket/x")
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a bucket that does not exist was opened"),
    }
    // An endpoint where nothing listens: an error within the open timeout, not minutes of
    // retries.
    let ObjectLocation::S3(mut nowhere) = with_settings_of(&s3, "s3://lightbox/x") else {
        unreachable!()
    };
    let port = support::free_port();
    for (name, value) in nowhere.options.iter_mut() {
        if name == "aws_endpoint_url" {
            *value = format!("http://127.0.0.1:{port}");
        }
    }
    let started = std::time::Instant::now();
    let refused = Store::open_with(
        dir.path(),
        &IndexLocation::DataDir,
        &ObjectLocation::S3(nowhere),
    );
    assert!(
        matches!(refused, Err(StoreError::ObjectStore { .. })),
        "{:?}",
        refused.err()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn one_frame_of_an_object_not_cached_is_read_by_ranges() {
    let Some((pg, s3)) = support::start_cluster_servers() else {
        return;
    };
    let url = pg.database();
    let a = node(&url, "frames", &s3);
    let work = tempfile::tempdir().unwrap();
    // One enhanced CT of 20 frames of 512 × 512 × 16 bits: 10 MiB.
    let out = work.path().join("enhanced");
    lightbox_synth::generate(
        &SynthSpec {
            patients: 1,
            studies_per_patient: 1,
            series_per_study: 1,
            instances_per_series: 20,
            rows: 512,
            columns: 512,
            seed: 4,
            enhanced: true,
            ..SynthSpec::default()
        },
        &out,
    )
    .unwrap();
    assert_eq!(import_into(&a.store, &out).imported, 1);
    let original = walkdir::WalkDir::new(&out)
        .into_iter()
        .flatten()
        .find(|e| e.file_type().is_file())
        .unwrap()
        .into_path();
    let uid = lightbox_dicom::read_file(&original, lightbox_dicom::ReadMode::Header)
        .unwrap()
        .dataset
        .text(lightbox_dicom::tag::SOP_INSTANCE_UID)
        .unwrap();

    // A second node, which has fetched nothing yet.
    let b_dir = tempfile::tempdir().unwrap();
    let b = std::sync::Arc::new(
        Store::open_with(
            b_dir.path(),
            &IndexLocation::Postgres(url.clone()),
            &s3.location("frames"),
        )
        .unwrap(),
    );
    let instance = b.index().instance(&uid).unwrap().unwrap();
    assert!(instance.file_size > 10 << 20);
    let size = instance.file_size as u64;
    let header = lightbox_dicom::parse::parse(
        &mut b.byte_source(&instance.file_path, size).unwrap(),
        lightbox_dicom::ReadMode::Header,
    )
    .unwrap();
    let expected_header =
        lightbox_dicom::read_file(&original, lightbox_dicom::ReadMode::Header).unwrap();
    use lightbox_dicom::pixel::{read_frame, read_frame_from, FrameChoice, Resolution};
    for frame in [0, 13, 19] {
        let ranged = read_frame_from(
            &header,
            b.byte_source(&instance.file_path, size).unwrap(),
            FrameChoice::Index(frame),
            Resolution::Full,
        )
        .unwrap();
        let whole = read_frame(&expected_header, &original, FrameChoice::Index(frame)).unwrap();
        assert_eq!(ranged.bytes, whole.bytes, "frame {frame}");
    }
    let cached = walkdir::WalkDir::new(b_dir.path().join("cache"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(cached, 0, "the object was fetched whole");
}

/// Objects no index entry names (written past the client under test, with curl) are orphans
/// once older than the grace period, wherever they fall among the indexed ones: before, among
/// and after them, in folders of their own. A dry run deletes nothing; the sweep deletes only
/// them; an index entry whose object went is counted as missing.
#[test]
fn the_sweep_deletes_unindexed_objects_past_their_grace_period_and_nothing_else() {
    let Some((pg, s3)) = support::start_cluster_servers() else {
        return;
    };
    let a = node(&pg.database(), "sweep", &s3);
    let work = tempfile::tempdir().unwrap();
    assert_eq!(
        import_into(&a.store, &generated(work.path(), 41, 8)).imported,
        16
    );
    let indexed: BTreeSet<String> = bucket_keys(&s3, "sweep/files/");
    assert_eq!(indexed.len(), 16);
    let among = indexed
        .iter()
        .nth(3)
        .unwrap()
        .replace(".dcm", "-orphan.dcm");
    let orphans = [
        "sweep/files/00/first.dcm".to_string(),
        among,
        "sweep/files/zz/last.dcm".to_string(),
    ];
    let body = work.path().join("orphan");
    std::fs::write(&body, b"not indexed").unwrap();
    for key in &orphans {
        let put = s3
            .curl()
            .arg("-T")
            .arg(&body)
            .arg(s3.bucket_url(key))
            .status()
            .unwrap();
        assert!(put.success(), "PUT {key}");
    }
    let gone = indexed.iter().next().unwrap().clone();
    let deleted = s3
        .curl()
        .args(["-X", "DELETE"])
        .arg(s3.bucket_url(&gone))
        .status()
        .unwrap();
    assert!(deleted.success());

    let sweep = |grace_secs: u64, delete: bool| {
        a.store
            .sweep_objects(lightbox_core::store::SweepOptions {
                grace: std::time::Duration::from_secs(grace_secs),
                delete,
            })
            .unwrap()
    };
    let young = sweep(3600, true);
    assert_eq!(
        (young.objects, young.indexed, young.recent, young.orphans),
        (18, 15, 3, 0),
        "{young:?}"
    );
    assert_eq!(young.missing, 1);
    assert_eq!(young.missing_examples, [gone.trim_start_matches("sweep/")]);

    let dry = sweep(0, false);
    assert_eq!(
        (dry.orphans, dry.orphan_bytes, dry.deleted),
        (3, 33, 0),
        "{dry:?}"
    );
    assert_eq!(bucket_keys(&s3, "sweep/files/").len(), 18);

    let swept = sweep(0, true);
    assert_eq!(
        (swept.orphans, swept.deleted, swept.indexed),
        (3, 3, 15),
        "{swept:?}"
    );
    let mut left = indexed.clone();
    left.remove(&gone);
    assert_eq!(bucket_keys(&s3, "sweep/files/"), left);
    let again = sweep(0, true);
    assert_eq!(
        (again.objects, again.orphans, again.missing),
        (15, 0, 1),
        "{again:?}"
    );

    // A store in the data directory has nothing to sweep, and says so.
    let local = Store::open(&work.path().join("local")).unwrap();
    assert!(matches!(
        local.sweep_objects(lightbox_core::store::SweepOptions {
            grace: std::time::Duration::ZERO,
            delete: true,
        }),
        Err(StoreError::NotInObjectStore)
    ));
}
