"""Validates a synthetic data set written by lightbox_core::synth::generate (crates/core/src/synth.rs).

Usage: validate_synth.py DIR

Reads every file under DIR (laid out as <PatientID>/<StudyInstanceUID>/<SeriesInstanceUID>/<N>.dcm)
with pydicom.dcmread, without force, so each file must be a conformant Part 10 file; decodes pixel_array;
walks the raw bytes to check the encoding (ascending tags, even lengths, group length, padding); checks
the attributes the generator promises and their consistency across the hierarchy (one patient per study,
one study per series, patient/study/series-level values equal in every file, unique SOP instances,
instance numbers 1..n, slice positions advancing by SliceThickness along the normal). An enhanced
multi-frame instance (Enhanced CT / MR) has its geometry, rescale and window in its functional groups:
they are checked there, each frame's position along the normal, stored from the last slice to the first.

Prints one JSON object: counts per level, the distinct counts of children per parent, files per
modality, patients with non-ASCII names, and the errors found (at most 100 listed, all counted).
"""

import datetime
import json
import os
import re
import struct
import sys
from collections import Counter, defaultdict

import numpy as np
import pydicom

ROOT = "1.2.826.0.1.3680043.10.1588"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
}
ENHANCED_SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2.1",
    "MR": "1.2.840.10008.5.1.4.1.1.4.1",
}
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
GEOMETRY_MODALITIES = {"CT", "MR", "PT"}
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
TEXT_VRS = {b"AE", b"AS", b"CS", b"DA", b"DS", b"DT", b"IS", b"LO", b"LT", b"PN", b"SH", b"ST", b"TM", b"UC", b"UR", b"UT"}
REQUIRED = [
    "SOPClassUID", "SOPInstanceUID", "StudyDate", "StudyTime", "SeriesDate", "SeriesTime", "ContentDate",
    "AccessionNumber", "Modality", "Manufacturer", "InstitutionName", "ReferringPhysicianName",
    "StudyDescription", "SeriesDescription", "BodyPartExamined", "PatientName", "PatientID",
    "PatientBirthDate", "PatientSex", "StudyInstanceUID", "SeriesInstanceUID", "StudyID", "SeriesNumber",
    "InstanceNumber", "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "WindowCenter", "WindowWidth", "PixelData",
]
GEOMETRY = ["ImagePositionPatient", "ImageOrientationPatient", "SliceThickness", "PixelSpacing", "FrameOfReferenceUID"]
EARLIEST_STUDY = datetime.date(2016, 10, 1)
END = datetime.date(2026, 11, 1)

errors = []


def error(where, message):
    errors.append(f"{where}: {message}")


def check_raw(data, where):
    """Checks the encoding: preamble, ascending tags, even lengths, group length, padding."""
    if len(data) < 132 or data[128:132] != b"DICM":
        error(where, "no DICM prefix")
        return
    pos, last, meta_end = 132, -1, None
    while pos < len(data):
        if pos + 8 > len(data):
            error(where, f"truncated element header at {pos}")
            return
        group, elem = struct.unpack_from("<HH", data, pos)
        tag = group << 16 | elem
        vr = data[pos + 4 : pos + 6]
        if vr in LONG_VRS:
            if data[pos + 6 : pos + 8] != b"\0\0":
                error(where, f"({group:04X},{elem:04X}) reserved bytes not zero")
            (length,) = struct.unpack_from("<I", data, pos + 8)
            head = 12
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            head = 8
        value = data[pos + head : pos + head + length]
        name = f"({group:04X},{elem:04X}) {vr.decode('ascii', 'replace')}"
        if tag <= last:
            error(where, f"{name} out of order")
        last = tag
        if length % 2:
            error(where, f"{name} odd length {length}")
        if len(value) != length:
            error(where, f"{name} truncated")
            return
        if tag == 0x00020000:
            meta_end = pos + head + length + struct.unpack("<I", value)[0]
        if group != 2 and meta_end is not None:
            if pos != meta_end:
                error(where, f"group length {meta_end} but data set starts at {pos}")
            meta_end = None
        if vr == b"UI" and (b"\0" in value[:-1] or b" " in value):
            error(where, f"{name} bad UI padding {value!r}")
        if vr in TEXT_VRS and b"\0" in value:
            error(where, f"{name} NUL in text value")
        pos += head + length


def valid_uid(uid):
    return len(uid) <= 64 and UID_RE.match(uid) is not None and uid.startswith(ROOT + ".")


def parse_date(value, where, name):
    try:
        return datetime.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        error(where, f"{name} {value!r} is not a date")
        return None


def check_time(value, where, name):
    if not re.match(r"^([01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]$", value):
        error(where, f"{name} {value!r} is not a time")


def consistent(table, key, values, where, level):
    """Records the values of a hierarchy level the first time, then requires the same every time."""
    if key not in table:
        table[key] = values
    elif table[key] != values:
        error(where, f"{level} {key} inconsistent: {table[key]} vs {values}")


def check_enhanced(ds, where, modality):
    """An enhanced multi-frame instance: its frames, and the functional groups that describe them."""
    if ds.SOPClassUID != ENHANCED_SOP_CLASSES.get(modality):
        error(where, f"enhanced SOP class {ds.SOPClassUID} for {modality}")
    if list(ds.ImageType) != ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]:
        error(where, f"ImageType {list(ds.ImageType)}")
    top_level = [k for k in GEOMETRY[:4] + ["WindowCenter", "RescaleIntercept"] if k in ds]
    if top_level:
        error(where, f"{top_level} at the top level of an enhanced instance")
    frames = int(ds.NumberOfFrames)
    arr = ds.pixel_array
    if arr.shape != (frames, ds.Rows, ds.Columns):
        error(where, f"pixel_array shape {arr.shape} for {frames} frames")
    if any(arr[i].min() == arr[i].max() for i in range(frames)):
        error(where, "a constant frame")
    shared = ds.SharedFunctionalGroupsSequence[0]
    orientation = [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient]
    measures = shared.PixelMeasuresSequence[0]
    thickness = float(measures.SliceThickness)
    transform = shared.PixelValueTransformationSequence[0]
    voi = shared.FrameVOILUTSequence[0]
    if modality == "CT":
        if (float(transform.RescaleIntercept), float(transform.RescaleSlope), transform.RescaleType) != (-1024.0, 1.0, "HU"):
            error(where, "CT rescale is not -1024/1 HU")
        if (float(voi.WindowCenter), float(voi.WindowWidth)) != (40.0, 400.0):
            error(where, "CT window is not 40/400")
    row, col = np.array(orientation[:3]), np.array(orientation[3:])
    normal = np.cross(row, col)
    per_frame = ds.PerFrameFunctionalGroupsSequence
    if len(per_frame) != frames:
        error(where, f"{len(per_frame)} per-frame groups for {frames} frames")
        return
    along = [float(np.array(f.PlanePositionSequence[0].ImagePositionPatient, float) @ normal) for f in per_frame]
    stacks = [int(f.FrameContentSequence[0].InStackPositionNumber) for f in per_frame]
    if stacks != list(range(1, frames + 1)):
        error(where, f"in-stack positions {stacks}")
    for a, b in zip(along, along[1:]):
        if abs((a - b) - thickness) > 1e-3:
            error(where, f"frames advance {b - a:.4f} along the normal, not -{thickness}")


def main():
    root = sys.argv[1]
    patients, studies, series, sops = {}, {}, {}, set()
    series_instances = defaultdict(list)
    modalities = Counter()
    non_ascii, charset_patients = set(), set()
    files = 0
    for dirpath, _, names in os.walk(root):
        for fname in sorted(names):
            path = os.path.join(dirpath, fname)
            where = os.path.relpath(path, root)
            files += 1
            with open(path, "rb") as f:
                data = f.read()
            check_raw(data, where)
            try:
                ds = pydicom.dcmread(path)
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                error(where, f"dcmread failed: {e}")
                continue
            meta = ds.file_meta
            if meta.get("TransferSyntaxUID") != EXPLICIT_VR_LE:
                error(where, f"transfer syntax {meta.get('TransferSyntaxUID')}")
            if meta.get("FileMetaInformationVersion") != b"\x00\x01":
                error(where, "bad FileMetaInformationVersion")
            if meta.get("ImplementationVersionName") != "LIGHTBOX_01":
                error(where, "bad ImplementationVersionName")
            if not valid_uid(str(meta.get("ImplementationClassUID", ""))):
                error(where, "bad ImplementationClassUID")
            enhanced = "PerFrameFunctionalGroupsSequence" in ds
            required = [k for k in REQUIRED if not (enhanced and k in ("WindowCenter", "WindowWidth"))]
            missing = [k for k in required if k not in ds]
            if missing:
                error(where, f"missing {missing}")
                continue
            if meta.MediaStorageSOPClassUID != ds.SOPClassUID:
                error(where, "MediaStorageSOPClassUID differs from SOPClassUID")
            if meta.MediaStorageSOPInstanceUID != ds.SOPInstanceUID:
                error(where, "MediaStorageSOPInstanceUID differs from SOPInstanceUID")
            for name in ["SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"]:
                if name in ds and not valid_uid(str(ds[name].value)):
                    error(where, f"{name} {ds[name].value!r} is not a valid UID under our root")

            modality = ds.Modality
            modalities[modality] += 1
            if not enhanced and ds.SOPClassUID != SOP_CLASSES.get(modality, SECONDARY_CAPTURE):
                error(where, f"SOP class {ds.SOPClassUID} for {modality}")
            pid, study_uid, series_uid = ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID
            expected = [pid, study_uid, series_uid, f"{ds.InstanceNumber}.dcm"]
            if where.split(os.sep) != expected:
                error(where, f"path does not match {expected}")
            if not re.match(r"^LB[0-9]{6}$", pid):
                error(where, f"PatientID {pid!r}")
            if not re.match(r"^ACC[0-9]{7}$", ds.AccessionNumber):
                error(where, f"AccessionNumber {ds.AccessionNumber!r}")
            if ds.Manufacturer != "Lightbox Synthetic":
                error(where, f"Manufacturer {ds.Manufacturer!r}")
            if ds.PatientSex not in ("M", "F", "O"):
                error(where, f"PatientSex {ds.PatientSex!r}")
            if not str(ds.SeriesDescription) or not str(ds.StudyDescription) or not ds.BodyPartExamined:
                error(where, "empty description or body part")

            # Names and character set.
            name = str(ds.PatientName)
            raw_name = ds.PatientName.original_string
            charset = ds.get("SpecificCharacterSet")
            if charset is not None and charset != "ISO_IR 192":
                error(where, f"SpecificCharacterSet {charset!r}")
            if any(ord(c) > 127 for c in name):
                non_ascii.add(pid)
                if charset != "ISO_IR 192":
                    error(where, "non-ASCII name without ISO_IR 192")
                if raw_name.decode("utf-8") != name:
                    error(where, "PatientName is not UTF-8 encoded")
            elif charset is None and not raw_name.isascii():
                error(where, "non-ASCII bytes without a character set")
            if charset is not None:
                charset_patients.add(pid)
            if "^" not in name:
                error(where, f"PatientName {name!r} has no components")

            # Dates and times.
            study_date = parse_date(ds.StudyDate, where, "StudyDate")
            birth = parse_date(ds.PatientBirthDate, where, "PatientBirthDate")
            if study_date and not (EARLIEST_STUDY <= study_date < END):
                error(where, f"StudyDate {study_date} outside the ten years before {END}")
            if study_date and birth and birth >= study_date:
                error(where, "born after the study")
            if ds.SeriesDate != ds.StudyDate or ds.ContentDate != ds.StudyDate:
                error(where, "series/content date differs from study date")
            for t in ["StudyTime", "SeriesTime"]:
                check_time(ds[t].value, where, t)
            if ds.SeriesTime < ds.StudyTime:
                error(where, "series before study")

            # Hierarchy.
            consistent(patients, pid, (name, ds.PatientBirthDate, ds.PatientSex, charset), where, "patient")
            consistent(
                studies,
                study_uid,
                (pid, ds.StudyDate, ds.StudyTime, ds.AccessionNumber, str(ds.StudyDescription), ds.StudyID),
                where,
                "study",
            )
            consistent(
                series,
                series_uid,
                (study_uid, modality, int(ds.SeriesNumber), str(ds.SeriesDescription), ds.Rows, ds.Columns,
                 str(ds.get("FrameOfReferenceUID", ""))),
                where,
                "series",
            )
            if ds.SOPInstanceUID in sops:
                error(where, "duplicate SOPInstanceUID")
            sops.add(ds.SOPInstanceUID)

            if enhanced:
                try:
                    check_enhanced(ds, where, modality)
                except Exception as e:  # noqa: BLE001 - a missing group is a finding
                    error(where, f"enhanced instance: {e!r}")
                series_instances[series_uid].append((int(ds.InstanceNumber), None, None, None, False))
                continue

            # Image pixel module and pixels.
            if ds.SamplesPerPixel != 1 or ds.PhotometricInterpretation != "MONOCHROME2":
                error(where, "not single-sample MONOCHROME2")
            if ds.BitsAllocated != 16 or ds.HighBit != ds.BitsStored - 1:
                error(where, "bad BitsAllocated/HighBit")
            if len(ds.PixelData) != ds.Rows * ds.Columns * 2:
                error(where, f"PixelData is {len(ds.PixelData)} bytes")
            try:
                arr = ds.pixel_array
            except Exception as e:  # noqa: BLE001
                error(where, f"pixel_array failed: {e}")
                continue
            if arr.shape != (ds.Rows, ds.Columns):
                error(where, f"pixel_array shape {arr.shape}")
            if arr.size and arr.min() == arr.max():
                error(where, "constant image")
            if modality == "CT":
                if (ds.BitsStored, ds.PixelRepresentation) != (12, 1) or arr.dtype != np.int16:
                    error(where, f"CT pixels {ds.BitsStored} bits, representation {ds.PixelRepresentation}, {arr.dtype}")
                if (float(ds.RescaleIntercept), float(ds.RescaleSlope), ds.get("RescaleType")) != (-1024.0, 1.0, "HU"):
                    error(where, "CT rescale is not -1024/1 HU")
                if (float(ds.WindowCenter), float(ds.WindowWidth)) != (40.0, 400.0):
                    error(where, "CT window is not 40/400")
                hu = arr.astype(np.int32) + int(ds.RescaleIntercept)
                if hu.min() < -3072 or hu.max() > 3071:
                    error(where, f"HU range {hu.min()}..{hu.max()}")
                if arr.size and not ((hu > -200) & (hu < 200)).any():
                    error(where, "no soft tissue")
            else:
                if (ds.BitsStored, ds.PixelRepresentation) != (16, 0) or arr.dtype != np.uint16:
                    error(where, f"pixels {ds.BitsStored} bits, representation {ds.PixelRepresentation}, {arr.dtype}")

            # Geometry.
            if modality in GEOMETRY_MODALITIES:
                gmissing = [k for k in GEOMETRY if k not in ds]
                if gmissing:
                    error(where, f"missing {gmissing}")
                    continue
                row, col = np.array(ds.ImageOrientationPatient[:3], float), np.array(ds.ImageOrientationPatient[3:], float)
                if len(ds.ImageOrientationPatient) != 6 or abs(row @ col) > 1e-6 or abs(row @ row - 1) > 1e-6:
                    error(where, "bad ImageOrientationPatient")
                if len(ds.PixelSpacing) != 2 or min(float(v) for v in ds.PixelSpacing) <= 0:
                    error(where, "bad PixelSpacing")
                normal = np.cross(row, col)
                position = np.array(ds.ImagePositionPatient, float)
                localizer = "LOCALIZER" in [str(t) for t in ds.get("ImageType", [])]
                series_instances[series_uid].append(
                    (int(ds.InstanceNumber), float(position @ normal), float(ds.SliceThickness), tuple(normal), localizer)
                )
            else:
                series_instances[series_uid].append((int(ds.InstanceNumber), None, None, None, False))

    # Per-series ordering and geometry.
    for uid, items in series_instances.items():
        items.sort()
        numbers = [i[0] for i in items]
        if numbers != list(range(1, len(items) + 1)):
            error(uid, f"instance numbers {numbers}")
        # A localizer lies across the stack; the stack itself is evenly spaced.
        stack = [i for i in items if not i[4]]
        if stack and stack[0][1] is not None:
            if len({i[3] for i in stack}) != 1:
                error(uid, "orientation changes within the series")
            for a, b in zip(stack, stack[1:]):
                if abs((b[1] - a[1]) - a[2]) > 1e-3:
                    error(uid, f"slices {a[0]}->{b[0]} advance {b[1] - a[1]:.4f}, thickness {a[2]}")
            for scout in (i for i in items if i[4]):
                if abs(np.array(scout[3]) @ np.array(stack[0][3])) > 1e-6:
                    error(uid, f"localizer {scout[0]} is not across the stack")

    studies_per_patient = Counter(s[0] for s in studies.values())
    series_per_study = Counter(s[0] for s in series.values())
    numbers_per_study = defaultdict(list)
    for s in series.values():
        numbers_per_study[s[0]].append(s[2])
    for study_uid, numbers in numbers_per_study.items():
        if sorted(numbers) != list(range(1, len(numbers) + 1)):
            error(study_uid, f"series numbers {sorted(numbers)}")
    print(
        json.dumps(
            {
                "files": files,
                "patients": len(patients),
                "studies": len(studies),
                "series": len(series),
                "instances": len(sops),
                "studies_per_patient": sorted(set(studies_per_patient.values())),
                "series_per_study": sorted(set(series_per_study.values())),
                "instances_per_series": sorted({len(v) for v in series_instances.values()}),
                "modalities": dict(sorted(modalities.items())),
                "non_ascii_patients": len(non_ascii),
                "charset_patients": len(charset_patients),
                "error_count": len(errors),
                "errors": errors[:100],
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
