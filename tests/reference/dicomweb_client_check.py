"""Drives a DICOMweb server with python dicomweb-client and reports what it got, as JSON.

Usage: dicomweb_client_check.py BASE_URL INSTANCES_JSON
INSTANCES_JSON lists {"study", "series", "sop", "path"} of instances to retrieve; each is compared
with the original file at "path" (read with pydicom).
"""
import json
import sys

import numpy
import pydicom
from dicomweb_client.api import DICOMwebClient

base, instances_file = sys.argv[1], sys.argv[2]
wanted = json.load(open(instances_file))
client = DICOMwebClient(url=base)
out = {}


def uids(results, tag="0020000D"):
    return [r[tag]["Value"][0] for r in results]


studies = client.search_for_studies()
out["studies"] = uids(studies)
out["page1"] = uids(client.search_for_studies(limit=3, offset=0))
out["page2"] = uids(client.search_for_studies(limit=3, offset=3))
first = wanted[0]
out["series_of_study"] = uids(
    client.search_for_series(study_instance_uid=first["study"]), "0020000E"
)
out["instances_of_series"] = uids(
    client.search_for_instances(
        study_instance_uid=first["study"], series_instance_uid=first["series"]
    ),
    "00080018",
)
with_description = client.search_for_studies(
    search_filters={"StudyInstanceUID": first["study"]}, fields=["StudyDescription", "00100020"]
)
out["included_fields"] = sorted(with_description[0].keys())
original = pydicom.dcmread(first["path"], stop_before_pixels=True)
family = str(original.PatientName).split("^")[0]
if family:
    fuzzy = client.search_for_studies(
        search_filters={"PatientName": family[:3].lower()}, fuzzymatching=True
    )
    out["fuzzy_prefix"] = family[:3].lower()
    out["fuzzy"] = uids(fuzzy)

retrieved = []
for w in wanted:
    source = pydicom.dcmread(w["path"])
    entry = {"sop": w["sop"], "source_ts": str(source.file_meta.TransferSyntaxUID)}
    # As stored.
    ds = client.retrieve_instance(
        w["study"], w["series"], w["sop"], media_types=(("application/dicom", "*"),)
    )
    entry["stored_ts"] = str(ds.file_meta.TransferSyntaxUID)
    entry["stored_sop"] = str(ds.SOPInstanceUID)
    entry["stored_pixel_bytes_equal"] = bool(
        "PixelData" in source and ds.PixelData == source.PixelData
    )
    # Explicit VR Little Endian (the standard's default), decoded when stored compressed.
    ds = client.retrieve_instance(
        w["study"], w["series"], w["sop"],
        media_types=(("application/dicom", "1.2.840.10008.1.2.1"),),
    )
    entry["default_ts"] = str(ds.file_meta.TransferSyntaxUID)
    if "PixelData" in source:
        a, b = source.pixel_array, ds.pixel_array
        entry["default_pixels_max_difference"] = (
            int(numpy.abs(a.astype(numpy.int64) - b.astype(numpy.int64)).max())
            if a.shape == b.shape
            else None
        )
    retrieved.append(entry)
out["retrieved"] = retrieved

# Frames, decoded, compared with pydicom's pixel data; rendered images and thumbnails.
import io

import requests
from PIL import Image

frames = []
for w in wanted:
    source = pydicom.dcmread(w["path"])
    got = client.retrieve_instance_frames(
        w["study"], w["series"], w["sop"], frame_numbers=[1],
        media_types=("application/octet-stream",),
    )
    expected = source.pixel_array
    if int(getattr(source, "NumberOfFrames", 1) or 1) > 1:
        expected = expected[0]
    frames.append(
        {
            "sop": w["sop"],
            "equal": bytes(got[0]) == expected.astype(expected.dtype.newbyteorder("<")).tobytes(),
            "length": len(got[0]),
            "expected_length": expected.nbytes,
        }
    )
out["frames"] = frames

# Compressed frames as stored: asked for by their media type (and by transfer-syntax=*), they
# equal the codestream pydicom finds in the file.
from pydicom.encaps import generate_frames

MEDIA = {
    "1.2.840.10008.1.2.5": "image/dicom-rle",
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
}
as_stored = []
for w in wanted:
    source = pydicom.dcmread(w["path"])
    syntax = str(source.file_meta.TransferSyntaxUID)
    if syntax not in MEDIA:
        continue
    count = int(getattr(source, "NumberOfFrames", 1) or 1)
    expected = next(generate_frames(source.PixelData, number_of_frames=count))
    got = client.retrieve_instance_frames(
        w["study"], w["series"], w["sop"], frame_numbers=[1],
        media_types=((MEDIA[syntax], syntax),),
    )
    url = f"{base}/studies/{w['study']}/series/{w['series']}/instances/{w['sop']}/frames/1"
    raw = requests.get(
        url,
        headers={"Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'},
    )
    as_stored.append(
        {
            "sop": w["sop"],
            "syntax": syntax,
            "equal": bytes(got[0]) == bytes(expected),
            "any_syntax_content_type": raw.headers.get("Content-Type", ""),
            "any_syntax_contains_frame": bytes(expected) in raw.content,
        }
    )
out["frames_as_stored"] = as_stored
png = client.retrieve_instance_rendered(
    first["study"], first["series"], first["sop"], media_types=("image/png",)
)
image = Image.open(io.BytesIO(png))
out["rendered_png"] = [image.format, image.size[0], image.size[1]]
jpeg = client.retrieve_instance_rendered(
    first["study"], first["series"], first["sop"], media_types=("image/jpeg",),
    params={"viewport": "64,64"},
)
image = Image.open(io.BytesIO(jpeg))
out["rendered_jpeg_viewport"] = [image.format, max(image.size)]
response = requests.get(
    f"{base}/studies/{first['study']}/series/{first['series']}/thumbnail",
    headers={"Accept": "image/png"},
)
image = Image.open(io.BytesIO(response.content))
out["series_thumbnail"] = [response.status_code, image.format, max(image.size)]
out["source_size"] = [int(original.Columns), int(original.Rows)]

metadata = client.retrieve_series_metadata(first["study"], first["series"])
out["metadata_count"] = len(metadata)
mine = [m for m in metadata if m["00080018"]["Value"][0] == first["sop"]][0]
out["metadata_patient_id"] = mine.get("00100020", {}).get("Value", [None])[0]
pixel = mine.get("7FE00010", {})
out["pixel_bulk_uri"] = "BulkDataURI" in pixel
if "BulkDataURI" in pixel:
    parts = client.retrieve_bulkdata(pixel["BulkDataURI"])
    out["bulk_equal"] = bytes(parts[0]) == pydicom.dcmread(first["path"]).PixelData
print(json.dumps(out))
