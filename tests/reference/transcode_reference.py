"""Checks transcoded DICOM files against their originals with pydicom.

Usage: transcode_reference.py pixels ORIGINAL CONVERTED [ORIGINAL CONVERTED ...]
       transcode_reference.py elements ORIGINAL CONVERTED [ORIGINAL CONVERTED ...]

`pixels`: for each pair, decodes both files' pixel data with pydicom (`ds.pixel_array`, every
frame, with pydicom's default conversion of YBR_FULL / YBR_FULL_422 to RGB) and prints one JSON
line: {original, converted, transfer_syntax, compressed, photometric, planar, samples,
bits_allocated, original_bits_allocated, pixel_representation, lossy, original_lossy, lossy_method,
shape, original_shape, max_abs_diff, mean_abs_diff}. When pydicom cannot decode the original, the line has {original, error}.

`elements`: for each pair, compares every element of the original with the converted file's,
sequences recursively, and prints {original, converted, transfer_syntax, differences: [...]}.
Values are compared as stored bytes: text as is (a value of odd length may have gained one byte
of padding), binary numbers (US, SS, UL, SL, FL, FD, AT, OW, OF, OD, OL, OV, SV, UV) unpacked in
each file's byte order; the VR is the explicit one where a file states it, else the
dictionary's. Left out: group lengths, the pixel data and extended offset tables, and the
attributes a decoding may set (Photometric Interpretation, Planar Configuration, Pixel
Representation, Lossy Image Compression and its method).

pydicom's GDCM plugin is removed when present, as in render_reference.py.
"""
import json
import sys
import warnings

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.pixels.decoders.base import _PIXEL_DATA_DECODERS

warnings.simplefilter("ignore")

for _decoder, _ in _PIXEL_DATA_DECODERS.values():
    try:
        _decoder.remove_plugin("gdcm")
    except ValueError:
        pass


def pixels(original, converted):
    try:
        src = pydicom.dcmread(original)
        expected = np.asarray(src.pixel_array).astype(np.int64)
    except Exception as e:  # noqa: BLE001 - any pydicom failure is reported, not raised
        return {"original": original, "error": f"{type(e).__name__}: {e}"}
    ds = pydicom.dcmread(converted)
    actual = np.asarray(ds.pixel_array).astype(np.int64)
    row = {
        "original": original,
        "converted": converted,
        "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
        "compressed": bool(ds.file_meta.TransferSyntaxUID.is_compressed),
        "photometric": str(ds.get("PhotometricInterpretation", "")),
        "planar": ds.get("PlanarConfiguration"),
        "samples": int(ds.get("SamplesPerPixel", 1)),
        "bits_allocated": int(ds.BitsAllocated),
        "original_bits_allocated": int(src.BitsAllocated),
        "pixel_representation": int(ds.get("PixelRepresentation", 0)),
        "lossy": ds.get("LossyImageCompression"),
        "original_lossy": src.get("LossyImageCompression"),
        "lossy_method": ds.get("LossyImageCompressionMethod"),
        "shape": list(actual.shape),
        "original_shape": list(expected.shape),
    }
    if actual.shape == expected.shape:
        diff = np.abs(actual - expected)
        row["max_abs_diff"] = int(diff.max()) if diff.size else 0
        row["mean_abs_diff"] = float(diff.mean()) if diff.size else 0.0
    return row


SKIPPED = {
    0x7FE00010,  # Pixel Data
    0x7FE00001,  # Extended Offset Table
    0x7FE00002,  # Extended Offset Table Lengths
    0x00280004,  # Photometric Interpretation
    0x00280006,  # Planar Configuration
    0x00280103,  # Pixel Representation
    0x00282110,  # Lossy Image Compression
    0x00282114,  # Lossy Image Compression Method
}

UNITS = {
    "US": "u2", "SS": "i2", "OW": "u2", "AT": "u2",
    "UL": "u4", "SL": "i4", "FL": "f4", "OF": "f4", "OL": "u4",
    "FD": "f8", "OD": "f8", "SV": "i8", "UV": "u8", "OV": "u8",
}


def vr_of(raw, tag):
    if raw.VR is not None and raw.VR != "UN":
        return raw.VR
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return raw.VR or "UN"


def stored(value, vr, little):
    """A comparable form of a raw value: numbers unpacked in the file's byte order, else bytes."""
    value = bytes(value or b"")
    unit = UNITS.get(vr)
    if unit and len(value) % int(unit[1]) == 0:
        dtype = ("<" if little else ">") + unit
        return ("numbers", np.frombuffer(value, dtype=dtype).tolist())
    return ("bytes", value)


def same(a, b):
    if a == b:
        return True
    # A value of odd length gains one byte of padding.
    return a[0] == b[0] == "bytes" and len(b[1]) == len(a[1]) + 1 and b[1][:-1] == a[1]


def compare(a, b, where, out, top, little_a, little_b):
    a_tags = [t for t in a.keys() if t.element != 0 and not (top and int(t) in SKIPPED)]
    b_tags = [t for t in b.keys() if t.element != 0 and not (top and int(t) in SKIPPED)]
    if a_tags != b_tags:
        out.append(f"{where}: tags differ: {sorted(set(a_tags) ^ set(b_tags))}")
        return
    for tag in a_tags:
        ra, rb = a.get_item(tag), b.get_item(tag)
        name = f"{where}{tag}"
        va, vb = vr_of(ra, tag), vr_of(rb, tag)
        if "SQ" in (va, vb):
            ea, eb = a[tag], b[tag]
            items_a = ea.value if ea.VR == "SQ" else None
            items_b = eb.value if eb.VR == "SQ" else None
            if items_a is None or items_b is None:
                out.append(f"{name}: sequence in one file only ({ea.VR} / {eb.VR})")
                continue
            if len(items_a) != len(items_b):
                out.append(f"{name}: {len(items_a)} items / {len(items_b)}")
                continue
            for i, (ia, ib) in enumerate(zip(items_a, items_b)):
                compare(ia, ib, f"{name}[{i}]", out, False, little_a, little_b)
            continue
        if not (isinstance(ra, RawDataElement) and isinstance(rb, RawDataElement)):
            # pydicom already converted it (a character set, say): compare the values it read.
            text_a, text_b = (str(x[tag].value or "") for x in (a, b))
            if text_a != text_b:
                out.append(f"{name}: {text_a[:80]} != {text_b[:80]}")
            continue
        sa = stored(ra.value, va, little_a)
        sb = stored(rb.value, va, little_b)
        if not same(sa, sb):
            out.append(f"{name} {va}/{vb}: {str(sa)[:80]} != {str(sb)[:80]}")


def elements(original, converted):
    a = pydicom.dcmread(original, force=True)
    b = pydicom.dcmread(converted)
    out = []
    # Items know no byte order of their own: the files' is passed down.
    compare(a, b, "", out, True, a.original_encoding[1], b.original_encoding[1])
    return {
        "original": original,
        "converted": converted,
        "transfer_syntax": str(b.file_meta.TransferSyntaxUID),
        "differences": out,
    }


def main():
    mode, paths = sys.argv[1], sys.argv[2:]
    check = {"pixels": pixels, "elements": elements}[mode]
    for original, converted in zip(paths[::2], paths[1::2]):
        print(json.dumps(check(original, converted)), flush=True)


if __name__ == "__main__":
    main()
