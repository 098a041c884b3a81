"""Replays 3D Slicer's import of a study from DICOMweb, with the same client library and calls
as its DICOMUtils.importFromDICOMWeb (what a slicer://viewer/?studyUID=…&dicomweb_endpoint=…
link runs): search the study's series, read each series' metadata, retrieve the series with
iter_series and save every instance as a file. Reports what it saved, as JSON.

Usage: slicer_import.py ENDPOINT STUDY_UID OUTPUT_DIR
"""
import json
import os
import sys

import pydicom
from dicomweb_client.api import DICOMwebClient

endpoint, study, output = sys.argv[1], sys.argv[2], sys.argv[3]
client = DICOMwebClient(url=endpoint)
series_list = client.search_for_series(study_instance_uid=study)
saved = []
for series in series_list:
    uid = series["0020000E"]["Value"][0]
    metadata = client.retrieve_series_metadata(study_instance_uid=study, series_instance_uid=uid)
    sops = sorted(m["00080018"]["Value"][0] for m in metadata)
    names = []
    for n, instance in enumerate(client.iter_series(study_instance_uid=study, series_instance_uid=uid)):
        path = os.path.join(output, f"{uid}-{n}.dcm")
        instance.save_as(path)
        names.append(path)
    read = [pydicom.dcmread(p) for p in names]
    saved.append({
        "series": uid,
        "metadata_sops": sops,
        "saved_sops": sorted(str(d.SOPInstanceUID) for d in read),
        "pixels_readable": all(d.pixel_array.size > 0 for d in read),
    })
print(json.dumps(saved))
