"""The files a DICOMDIR references, as pydicom resolves them: one path per line."""
import sys
import warnings

import pydicom
from pydicom.fileset import FileSet

warnings.simplefilter("ignore")

fs = FileSet(pydicom.dcmread(sys.argv[1]))
for instance in fs:
    print(instance.path)
