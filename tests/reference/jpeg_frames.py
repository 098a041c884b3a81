"""Reference decodes for the sequential DCT JPEG decoder (crates/core/src/render/codec/jpeg_dct.rs).

Usage: jpeg_frames.py TEST_FILES_DIR OUT_DIR

For every DICOM file in TEST_FILES_DIR whose transfer syntax is JPEG Baseline (1.2.840.10008.1.2.4.50)
or JPEG Extended (…4.51), writes the first frame's JPEG bitstream to OUT_DIR/<name>.jpg and the samples
decoded by libjpeg (Thomas Richter's reference implementation, via pylibjpeg-libjpeg) to
OUT_DIR/<name>.u16: little-endian u16, components interleaved, rows top to bottom. One JSON line per
file goes to stdout: name, width, height, components, precision, and the dataset's
PhotometricInterpretation (to check the decoder's YCbCr flag against).

libjpeg is called with colour_transform=0 so it returns the raw component samples (Y, Cb, Cr as coded,
chroma upsampled to full size), which is exactly what our decoder returns: no colour conversion on
either side, so the comparison needs no RGB formulas.
"""

import json
import os
import sys

import numpy as np
import pydicom
from pydicom.encaps import generate_frames
from libjpeg import decode as libjpeg_decode

JPEG_SYNTAXES = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"}


def segments(jpeg: bytes):
    """Yields (marker, offset of the marker's 0xFF, segment length) for the length-prefixed
    marker segments of the stream, skipping entropy-coded data and standalone markers."""
    i = 2
    while i + 4 <= len(jpeg):
        marker = jpeg[i + 1]
        if jpeg[i] != 0xFF or marker in (0x00, 0xFF) or 0xD0 <= marker <= 0xD9:
            i += 1
            continue
        length = int.from_bytes(jpeg[i + 2 : i + 4], "big")
        yield marker, i, length
        i += 2 + length


def sof_params(jpeg: bytes):
    """(precision, height, width, components) from the first SOFn marker segment."""
    for marker, i, length in segments(jpeg):
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            seg = jpeg[i + 4 : i + 2 + length]
            return seg[0], int.from_bytes(seg[1:3], "big"), int.from_bytes(seg[3:5], "big"), seg[5]
    raise ValueError("no SOF marker")


def sequential_scan_fix(jpeg: bytes) -> bytes:
    """Sets Ss=0, Se=63, Ah=Al=0 in every SOS of a sequential (SOF0/SOF1) stream.

    Those fields mean nothing for the sequential processes (ITU T.81 B.2.3 fixes them), and IJG libjpeg
    ignores wrong values, but Richter's libjpeg rejects them: JPEG-lossy.dcm has Se=0. Rewriting them
    gives libjpeg the stream every tolerant decoder sees; the .jpg we hand to our decoder is untouched.
    """
    out = bytearray(jpeg)
    sequential = False
    for marker, i, length in segments(jpeg):
        if marker in (0xC0, 0xC1):
            sequential = True
        if marker == 0xDA and sequential:
            end = i + 2 + length  # Ss, Se, Ah/Al are the last three bytes of the segment
            out[end - 3 : end] = b"\x00\x3f\x00"
    return bytes(out)


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if not os.path.isfile(path):
            continue
        try:
            ds = pydicom.dcmread(path)
            syntax = ds.file_meta.TransferSyntaxUID
        except Exception:
            continue
        if syntax not in JPEG_SYNTAXES or "PixelData" not in ds:
            continue
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        jpeg = next(generate_frames(ds.PixelData, number_of_frames=frames))
        stem = os.path.splitext(name)[0]
        with open(os.path.join(out, stem + ".jpg"), "wb") as f:
            f.write(jpeg)

        precision, height, width, components = sof_params(jpeg)
        arr = libjpeg_decode(sequential_scan_fix(jpeg), colour_transform=0)
        arr = np.ascontiguousarray(arr).astype("<u2")
        if arr.size != height * width * components:
            raise SystemExit(f"{name}: libjpeg gave {arr.shape}, header says {height}x{width}x{components}")
        arr.tofile(os.path.join(out, stem + ".u16"))
        print(
            json.dumps(
                {
                    "name": stem,
                    "width": width,
                    "height": height,
                    "components": components,
                    "precision": precision,
                    "photometric": str(ds.get("PhotometricInterpretation", "")),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
