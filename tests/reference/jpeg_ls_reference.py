"""Reference decodes for the JPEG-LS decoder (crates/dicom/src/pixel/codec/jpeg_ls/).

Usage: jpeg_ls_reference.py TEST_FILES_DIR OUT_DIR

Writes OUT_DIR/<name>.jls (a codestream) and OUT_DIR/<name>.raw (CharLS's decode of it, through
pyjpegls: samples interleaved per pixel, little endian, one byte per sample up to 8 bits, else
two), and prints one JSON line per case (name, width, height, components, bits, near,
interleave). The cases: the first frame of every JPEG-LS file of pydicom's test set, and
streams CharLS encodes here from synthetic images (random, smooth and with long runs) across
precisions, component counts, interleave modes and NEAR values.
"""

import json
import os
import sys

import jpeg_ls
import numpy as np
import pydicom
from pydicom.encaps import generate_frames

JPEG_LS = {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}


def charls_decode(stream):
    data, info = jpeg_ls.decode_buffer(bytes(stream))
    width, height, comps = info["width"], info["height"], info["components"]
    dtype = np.uint8 if info["bits_per_sample"] <= 8 else np.dtype("<u2")
    samples = np.frombuffer(bytes(data), dtype)
    if comps > 1 and info["interleave_mode"] == 0:
        samples = samples.reshape(comps, height, width).transpose(1, 2, 0)
    return np.ascontiguousarray(samples).tobytes(), info


def write(out, name, stream):
    raw, info = charls_decode(stream)
    with open(os.path.join(out, name + ".jls"), "wb") as f:
        f.write(bytes(stream))
    with open(os.path.join(out, name + ".raw"), "wb") as f:
        f.write(raw)
    print(json.dumps({
        "name": name,
        "width": info["width"],
        "height": info["height"],
        "components": info["components"],
        "bits": info["bits_per_sample"],
        "near": info["allowed_lossy_error"],
        "interleave": info["interleave_mode"],
    }))


def image(kind, height, width, comps, bits, rng):
    maxval = (1 << bits) - 1
    yy, xx = np.mgrid[0:height, 0:width]
    if kind == "random":
        plane = rng.integers(0, maxval + 1, size=(height, width))
    elif kind == "smooth":
        base = (np.sin(xx / 7.0) + np.cos(yy / 5.0) + 2) / 4 * maxval
        plane = np.clip(base + rng.normal(0, max(1.0, maxval / 200), size=(height, width)), 0, maxval)
    else:  # flat blocks with a few spikes: long runs, run interruptions, runs to the line end
        plane = ((xx // 13 + yy // 9) % 3) * (maxval // 3)
        spikes = rng.random((height, width)) < 0.01
        plane = np.where(spikes, rng.integers(0, maxval + 1, size=(height, width)), plane)
    plane = plane.astype(np.int64)
    if comps == 1:
        return plane
    return np.stack([np.clip(plane * (6 + i) // 8, 0, maxval) for i in range(comps)], axis=-1)


def encode(samples, bits, near, interleave):
    height, width = samples.shape[:2]
    comps = 1 if samples.ndim == 2 else samples.shape[2]
    if comps > 1 and interleave == 0:
        samples = samples.transpose(2, 0, 1)
    dtype = np.uint8 if bits <= 8 else np.dtype("<u2")
    src = np.ascontiguousarray(samples).astype(dtype).tobytes()
    return jpeg_ls.encode_buffer(src, height, width, comps, bits, near, interleave if comps > 1 else None)


def main():
    test_files, out = sys.argv[1], sys.argv[2]
    for name in sorted(os.listdir(test_files)):
        try:
            ds = pydicom.dcmread(os.path.join(test_files, name))
        except Exception:
            continue
        if str(getattr(ds.file_meta, "TransferSyntaxUID", "")) not in JPEG_LS:
            continue
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        write(out, "dicom_" + os.path.splitext(name)[0], next(generate_frames(ds.PixelData, number_of_frames=frames)))
    rng = np.random.default_rng(1588)
    for bits in (2, 5, 8, 12, 16):
        for comps, interleaves in ((1, (0,)), (3, (0, 1, 2))):
            for interleave in interleaves:
                for near in (0, 1 if bits == 2 else 3):
                    for kind in ("random", "smooth", "runs"):
                        for height, width in ((16, 24), (37, 29), (64, 80)):
                            samples = image(kind, height, width, comps, bits, rng)
                            stream = encode(samples, bits, near, interleave)
                            write(out, f"{kind}_{bits}b_{comps}c_ilv{interleave}_near{near}_{height}x{width}", stream)
    samples = image("smooth", 512, 512, 1, 16, rng)
    write(out, "smooth_16b_1c_512x512", encode(samples, 16, 0, 0))


if __name__ == "__main__":
    main()
