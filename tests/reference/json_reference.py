"""pydicom's DICOM JSON model of each file given: one JSON line per file."""
import json
import sys
import warnings

import pydicom

warnings.simplefilter("ignore")

for path in sys.argv[1:]:
    try:
        ds = pydicom.dcmread(path, force=True)
        model = ds.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=lambda el: "bulk")
        print(json.dumps({"file": path, "json": model}, ensure_ascii=False))
    except Exception as e:  # noqa: BLE001 - reported per file
        print(json.dumps({"file": path, "error": f"{type(e).__name__}: {e}"}))
