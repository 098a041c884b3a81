"""Stores files to a DICOMweb server with python dicomweb-client (STOW-RS) and reports the
responses as JSON. Usage: dicomweb_client_store.py BASE_URL FILE...
The first call stores every file; the second stores the first file into a study it is not
part of, which the server must refuse."""
import json
import sys

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient

base, files = sys.argv[1], sys.argv[2:]
client = DICOMwebClient(url=base)
datasets = [pydicom.dcmread(f) for f in files]
out = {}
response = client.store_instances(datasets)
out["referenced"] = [
    item.ReferencedSOPInstanceUID for item in response.get("ReferencedSOPSequence", [])
]
out["retrieve_urls"] = [item.RetrieveURL for item in response.get("ReferencedSOPSequence", [])]
out["failed"] = len(response.get("FailedSOPSequence", []))
try:
    client.store_instances(datasets[:1], study_instance_uid="1.2.3.4.5.6")
    out["wrong_study_status"] = 200
except requests.exceptions.HTTPError as e:
    out["wrong_study_status"] = e.response.status_code
    body = e.response.json()
    out["wrong_study_reason"] = body["00081198"]["Value"][0]["00081197"]["Value"][0]
print(json.dumps(out))
