"""Small files that decode to huge images, for the decode-budget tests.

Usage: decode_bombs.py OUT_DIR

Writes three secondary-capture instances of 16384 x 16384 8-bit grey pixels (268 M samples,
which would need gigabytes decoded and rendered in full), each a few hundred bytes to a few
hundred kilobytes: JPEG 2000 lossless (a constant image encoded small by OpenJPEG, then given
the larger size in its SIZ marker: every code-block of a constant image is empty, so the
codestream stays valid at any size), RLE lossless (pylibjpeg-rle) and JPEG baseline (Pillow).
Prints one JSON line per file: name, transfer syntax, file size.
"""

import io
import json
import os
import struct
import sys

import numpy as np
import openjpeg
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, RLELossless

SIDE = 16384
ROOT = "1.2.826.0.1.3680043.10.1588.77."


def j2k():
    stream = bytearray(openjpeg.encode(np.full((2048, 2048), 128, dtype=np.uint8)))
    siz = stream.index(b"\xff\x51")
    for offset in (6, 10, 22, 26):  # Xsiz, Ysiz, XTsiz, YTsiz
        struct.pack_into(">I", stream, siz + offset, SIDE)
    return bytes(stream)


def rle():
    from rle import encode_pixel_data  # pylibjpeg-rle

    row = np.full((1, SIDE), 100, dtype=np.uint8).tobytes()
    # One row encoded, repeated: the segment is the same for every row of a constant image.
    encoded_row = encode_pixel_data(row, rows=1, columns=SIDE, samples_per_pixel=1, bits_allocated=8)
    segment = encoded_row[64:]
    header = struct.pack("<I", 1) + struct.pack("<I", 64) + b"\x00" * 56
    frame = header + segment * SIDE
    return frame + (b"\x00" if len(frame) % 2 else b"")


def jpeg():
    out = io.BytesIO()
    Image.new("L", (SIDE, SIDE), 90).save(out, format="JPEG", quality=90)
    return out.getvalue()


def write(out_dir, name, number, syntax, frame):
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = f"{ROOT}{number}.1"
    ds.StudyInstanceUID = f"{ROOT}{number}.2"
    ds.SeriesInstanceUID = f"{ROOT}{number}.3"
    ds.PatientName = "BOMB^" + name.upper()
    ds.PatientID = "BOMB-" + name
    ds.Modality = "OT"
    ds.Rows = SIDE
    ds.Columns = SIDE
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    ds.file_meta = meta
    path = os.path.join(out_dir, name + ".dcm")
    ds.save_as(path, enforce_file_format=True)
    print(json.dumps({"name": name, "path": path, "transfer_syntax": str(syntax), "bytes": os.path.getsize(path), "series": ds.SeriesInstanceUID, "study": ds.StudyInstanceUID, "sop": ds.SOPInstanceUID}))


def main():
    out_dir = sys.argv[1]
    write(out_dir, "j2k", 1, JPEG2000Lossless, j2k())
    write(out_dir, "rle", 2, RLELossless, rle())
    write(out_dir, "jpeg", 3, JPEGBaseline8Bit, jpeg())


if __name__ == "__main__":
    main()
