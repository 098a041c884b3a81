"""Replays the DICOMweb requests OHIF Viewer 3 makes (its DicomWebDataSource, with the
default configuration: qidoSupportsIncludeField, supportsFuzzyMatching, wadoUriRoot unused,
imageRendering 'wadors', thumbnailRendering 'wadors') and reports what came back, as JSON.

Usage: ohif_requests.py BASE_URL INSTANCES_JSON
INSTANCES_JSON lists {"study", "series", "sop", "path"}; frames are compared with pydicom's.
"""
import json
import sys
from email.parser import BytesParser
from email.policy import HTTP

import pydicom
import requests
from pydicom.encaps import generate_frames

base, instances_file = sys.argv[1], sys.argv[2]
wanted = json.load(open(instances_file))
out = {}
session = requests.Session()
# OHIF's default headers for JSON searches.
JSON = {"Accept": "application/dicom+json"}


def parts(response):
    """The parts of a multipart/related response: (content type, bytes)."""
    head = f"Content-Type: {response.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + response.content)
    return [(p.get_content_type(), p.get("Content-Type"), p.get_payload(decode=True)) for p in message.iter_parts()]


first = wanted[0]
source = pydicom.dcmread(first["path"], stop_before_pixels=True)
family = str(source.PatientName).split("^")[0]

# 1. The worklist: the first page, then a filtered page as typed in the patient name box.
worklist = session.get(
    f"{base}/studies",
    params={"limit": 101, "offset": 0, "fuzzymatching": "false", "includefield": "00081030,00080060"},
    headers=JSON,
)
out["worklist_status"] = worklist.status_code
out["worklist_count"] = len(worklist.json())
out["worklist_modalities"] = [s.get("00080061", {}).get("Value", []) for s in worklist.json()]
filtered = session.get(
    f"{base}/studies",
    params={
        "PatientName": f"*{family[:3]}*",
        "limit": 101,
        "offset": 0,
        "fuzzymatching": "false",
        "includefield": "00081030,00080060",
    },
    headers=JSON,
)
out["filtered_uids"] = [s["0020000D"]["Value"][0] for s in filtered.json()] if filtered.status_code == 200 else []
out["filtered_status"] = filtered.status_code

# 2. Opening a study: the study by UID, its series, each series' metadata.
study = session.get(f"{base}/studies", params={"StudyInstanceUID": first["study"]}, headers=JSON)
out["study_lookup"] = [s["0020000D"]["Value"][0] for s in study.json()]
series = session.get(f"{base}/studies/{first['study']}/series", headers=JSON)
out["series_status"] = series.status_code
metadata = session.get(
    f"{base}/studies/{first['study']}/series/{first['series']}/metadata", headers=JSON
)
out["metadata_status"] = metadata.status_code
out["metadata_content_type"] = metadata.headers.get("Content-Type", "")
instance = metadata.json()[0]
pixel = instance.get("7FE00010", {})
out["metadata_pixel_bulk"] = "BulkDataURI" in pixel
out["metadata_has_rows"] = "00280010" in instance

# 3. The images: frames with OHIF's Accept, each compared with pydicom's frame.
frames = []
for w in wanted:
    ds = pydicom.dcmread(w["path"])
    syntax = str(ds.file_meta.TransferSyntaxUID)
    response = session.get(
        f"{base}/studies/{w['study']}/series/{w['series']}/instances/{w['sop']}/frames/1",
        headers={"Accept": "multipart/related; type=application/octet-stream; transfer-syntax=*"},
    )
    content_type, full_type, data = parts(response)[0]
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        count = int(getattr(ds, "NumberOfFrames", 1) or 1)
        expected = next(generate_frames(ds.PixelData, number_of_frames=count))
        equal = data == bytes(expected)
    else:
        array = ds.pixel_array
        if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
            array = array[0]
        equal = data == array.astype(array.dtype.newbyteorder("<")).tobytes()
    frames.append(
        {
            "sop": w["sop"],
            "status": response.status_code,
            "syntax": syntax,
            "part_type": full_type,
            "equal": equal,
        }
    )
out["frames"] = frames

# 4. Thumbnails of each series in the study browser panel (JPEG).
thumbnail = session.get(
    f"{base}/studies/{first['study']}/series/{first['series']}/thumbnail",
    headers={"Accept": "image/jpeg"},
)
out["thumbnail"] = [thumbnail.status_code, thumbnail.headers.get("Content-Type", ""), thumbnail.content[:2] == b"\xff\xd8"]
rendered = session.get(
    f"{base}/studies/{first['study']}/series/{first['series']}/instances/{first['sop']}/rendered",
    headers={"Accept": "image/jpeg"},
)
out["rendered"] = [rendered.status_code, rendered.headers.get("Content-Type", ""), rendered.content[:2] == b"\xff\xd8"]
print(json.dumps(out))
