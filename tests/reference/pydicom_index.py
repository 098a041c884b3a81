"""What pydicom makes of each file under a folder: one JSON line per file.

Used by the import tests as the independent reference: a file pydicom reads fully and that has
the three UIDs must be imported by Lightbox, with the same identifiers and decoded names.
"""
import json
import os
import sys
import warnings

import pydicom

warnings.simplefilter("ignore")


def text(ds, keyword):
    value = ds.get(keyword)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def truncated(path):
    """Whether a top-level element claims more bytes than the file holds (pydicom reads such files
    silently, stopping at the end of the file)."""
    try:
        ds = pydicom.dcmread(path, force=True)
        size = os.path.getsize(path)
        for raw in ds._dict.values():
            tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", None)
            if tell is not None and length not in (None, 0xFFFFFFFF) and tell + length > size:
                return True
    except Exception:  # noqa: BLE001
        return False
    return False


def describe(path):
    try:
        ds = pydicom.dcmread(path, force=True)
        for _ in ds.iterall():  # converts every raw element, so parse errors surface here
            pass
    except Exception as e:  # noqa: BLE001 - any failure is a "pydicom cannot read it"
        return {"file": path, "error": f"{type(e).__name__}: {e}"}
    meta = getattr(ds, "file_meta", None)
    sop = text(ds, "SOPInstanceUID") or (text(meta, "MediaStorageSOPInstanceUID") if meta else None)
    study = text(ds, "StudyInstanceUID")
    series = text(ds, "SeriesInstanceUID")
    if meta is not None and text(meta, "MediaStorageSOPClassUID") == "1.2.840.10008.1.3.10":
        return {"file": path, "dicomdir": True}
    if not (sop and study and series):
        return {"file": path, "indexable": False}
    return {
        "file": path,
        "indexable": True,
        "truncated": truncated(path),
        "sop": sop,
        "study": study,
        "series": series,
        "patient_name": text(ds, "PatientName") or "",
        "patient_id": text(ds, "PatientID") or "",
        "modality": text(ds, "Modality"),
        "study_date": text(ds, "StudyDate"),
        "study_description": text(ds, "StudyDescription"),
    }


def main():
    for root in sys.argv[1:]:
        if os.path.isfile(root):
            print(json.dumps(describe(root), ensure_ascii=False))
            continue
        for folder, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                print(json.dumps(describe(os.path.join(folder, name)), ensure_ascii=False))


if __name__ == "__main__":
    main()
