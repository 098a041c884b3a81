"""Seeds the fuzz targets' corpora from pydicom's test files (never committed: made each run).

Usage: seed.py TEST_FILES_DIR OUT_DIR

  parse_file  every test file up to 256 KiB, as it is;
  codecs      the first frame of every compressed test file, after the byte that picks its
              codec (see fuzz_targets/codecs.rs);
  multipart   a few test files in a multipart/related body (boundary "fuzzboundary"), after
              the byte that sets the feeding step;
  pdu         an A-ASSOCIATE-RQ, and P-DATA PDUs carrying C-ECHO and C-FIND requests.
"""

import os
import struct
import sys

import pydicom
from pydicom.encaps import generate_frames

CODEC_OF = {  # transfer syntax → the codecs target's selector (low three bits)
    "1.2.840.10008.1.2.4.50": 3, "1.2.840.10008.1.2.4.51": 0, "1.2.840.10008.1.2.4.57": 4,
    "1.2.840.10008.1.2.4.70": 4, "1.2.840.10008.1.2.4.80": 1, "1.2.840.10008.1.2.4.81": 1,
    "1.2.840.10008.1.2.4.90": 5, "1.2.840.10008.1.2.4.91": 5, "1.2.840.10008.1.2.5": 6,
}


def save(out, target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


def command(elements):
    """An implicit VR little endian command set with its group length first."""
    body = b""
    for element, value in elements:
        if isinstance(value, int):
            value = struct.pack("<H", value)
        elif len(value) % 2:
            value += b"\x00"
        body += struct.pack("<HHI", 0x0000, element, len(value)) + value
    return struct.pack("<HHII", 0x0000, 0x0000, 4, len(body)) + body


def pdata(context, value, last=True, is_command=True):
    header = (0x01 if is_command else 0x00) | (0x02 if last else 0x00)
    item = struct.pack(">IB", len(value) + 2, context) + bytes([header]) + value
    return struct.pack(">BBI", 0x04, 0, len(item)) + item


def associate_rq():
    def item(kind, body):
        return struct.pack(">BBH", kind, 0, len(body)) + body
    context = item(0x20, bytes([1, 0, 0, 0]) + item(0x30, b"1.2.840.10008.1.1") + item(0x40, b"1.2.840.10008.1.2"))
    user = item(0x50, item(0x51, struct.pack(">I", 16384)))
    body = struct.pack(">HH", 1, 0) + b"LIGHTBOX".ljust(16) + b"FUZZ".ljust(16) + b"\x00" * 32
    body += item(0x10, b"1.2.840.10008.3.1.1.1") + context + user
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def main():
    test_files, out = sys.argv[1], sys.argv[2]
    multipart = []
    for name in sorted(os.listdir(test_files)):
        path = os.path.join(test_files, name)
        if not os.path.isfile(path) or os.path.getsize(path) > 256 << 10:
            continue
        with open(path, "rb") as f:
            data = f.read()
        save(out, "parse_file", name, data)
        if len(multipart) < 3 and data[128:132] == b"DICM":
            multipart.append(data)
        try:
            ds = pydicom.dcmread(path)
            syntax = str(ds.file_meta.TransferSyntaxUID)
            if syntax in CODEC_OF and "PixelData" in ds:
                frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
                frame = next(generate_frames(ds.PixelData, number_of_frames=frames))
                selector = CODEC_OF[syntax] | (0x10 if ds.SamplesPerPixel == 3 else 0)
                selector |= 0x20 if ds.BitsAllocated > 8 else 0
                save(out, "codecs", name, bytes([selector]) + frame)
        except Exception:
            pass
    body = b"".join(b"--fuzzboundary\r\nContent-Type: application/dicom\r\n\r\n" + d + b"\r\n" for d in multipart)
    body += b"--fuzzboundary--\r\n"
    for step in (1, 7, 255):
        save(out, "multipart", f"body-{step}", bytes([step]) + body)
    echo = command([(0x0002, b"1.2.840.10008.1.1"), (0x0100, 0x0030), (0x0110, 1), (0x0800, 0x0101)])
    find = command([(0x0002, b"1.2.840.10008.5.1.4.1.2.2.1"), (0x0100, 0x0020), (0x0110, 2), (0x0700, 0), (0x0800, 0)])
    save(out, "pdu", "associate-rq", associate_rq())
    save(out, "pdu", "echo", pdata(1, echo))
    save(out, "pdu", "find-split", pdata(1, find[:20], last=False) + pdata(1, find[20:]))
    save(out, "pdu", "command", echo)


if __name__ == "__main__":
    main()
