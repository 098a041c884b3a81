"""Reference decodes for the character set decoder (crates/core/src/dicom/charset.rs).

Usage: charset_reference.py CHARSET_FILES_DIR

For every .dcm file in CHARSET_FILES_DIR (pydicom's `charset_files`), prints one JSON line per text
element whose VR is PN, SH, LO, ST, LT, UT or UC, sequences included:

    {"file": "chrH31.dcm", "path": "(0008,1110)[0]/(0010,0010)", "vr": "PN",
     "terms": ["", "ISO 2022 IR 87"], "hex": "59616d...", "value": "Yamada^Tarou=山田^太郎=..."}

- `terms`: the values of (0008,0005) in effect for the element: the item's own if it has one,
  otherwise the nearest enclosing data set's (PS3.5 7.5.3; `chrSQEncoding*.dcm` exercise this).
- `hex`: the element's undecoded value bytes, taken from pydicom's raw (not yet converted) element.
- `value`: what pydicom decodes. Multi-valued elements are joined with a backslash; person names
  are `str(PersonName)`, i.e. `alphabetic=ideographic=phonetic` without trailing empty groups.
"""

import json
import os
import sys
import warnings

import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag

TEXT_VRS = {"PN", "SH", "LO", "ST", "LT", "UT", "UC"}
SPECIFIC_CHARACTER_SET = Tag(0x0008, 0x0005)


def terms_of(ds: Dataset, inherited: list[str]) -> list[str]:
    """The (0008,0005) values of `ds`, read from the raw bytes, or `inherited` when absent."""
    if SPECIFIC_CHARACTER_SET not in ds:
        return inherited
    raw = ds.get_item(SPECIFIC_CHARACTER_SET).value
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", errors="replace")
    if not raw:
        return inherited
    if isinstance(raw, str):
        values = raw.split("\\")
    else:  # already converted (a MultiValue of str)
        values = list(raw)
    return [v.strip(" \0") for v in values]


def as_text(value) -> str:
    """pydicom's decoded value as one string (backslash-joined when multi-valued)."""
    if value is None:
        return ""
    if isinstance(value, (MultiValue, list, tuple)):
        return "\\".join(str(v) for v in value)
    return str(value)


def walk(ds: Dataset, file: str, prefix: str, inherited: list[str], out) -> None:
    terms = terms_of(ds, inherited)
    for tag in list(ds.keys()):
        # Take the raw element before anything converts it: its value is the undecoded bytes.
        raw = ds.get_item(tag)
        raw_bytes = getattr(raw, "value", None)
        elem = ds[tag]  # converts with the data set's effective character set
        path = f"{prefix}({tag.group:04X},{tag.element:04X})"
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or []):
                walk(item, file, f"{path}[{i}]/", terms, out)
            continue
        if elem.VR not in TEXT_VRS:
            continue
        if not isinstance(raw_bytes, bytes):
            # Should not happen for elements read from a file; fail loudly rather than skip.
            raise RuntimeError(f"{file} {path}: no raw bytes ({type(raw_bytes).__name__})")
        line = {
            "file": file,
            "path": path,
            "vr": elem.VR,
            "terms": terms,
            "hex": raw_bytes.hex(),
            "value": as_text(elem.value),
        }
        out.write(json.dumps(line) + "\n")


def main() -> None:
    directory = sys.argv[1]
    # pydicom warns about odd values (e.g. undeclared escape sequences); we compare what it returns.
    warnings.simplefilter("ignore")
    for name in sorted(os.listdir(directory)):
        if not name.lower().endswith(".dcm"):
            continue
        ds = pydicom.dcmread(os.path.join(directory, name), force=True)
        walk(ds, name, "", [""], sys.stdout)


if __name__ == "__main__":
    main()
