"""Reads a DICOMDIR with pydicom's FileSet and prints, as JSON, every instance it lists: the
path of its file, the SOP Instance UID its record names and the one the file holds, and the
patient, study and series UIDs of its records."""
import json
import sys

from pydicom import dcmread
from pydicom.fileset import FileSet

fs = FileSet(dcmread(sys.argv[1]))
listed = []
for instance in fs:
    ds = instance.load()
    listed.append({
        "path": instance.path,
        "record_uid": instance.SOPInstanceUID,
        "file_uid": ds.SOPInstanceUID,
        "patient_id": instance.PatientID,
        "study_uid": instance.StudyInstanceUID,
        "series_uid": instance.SeriesInstanceUID,
    })
print(json.dumps({"file_set_id": fs.ID, "instances": listed}))
