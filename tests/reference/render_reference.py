"""Reference 8-bit renderings of pydicom's test files, computed with pydicom's own functions.

Rules (the same Lightbox's renderer implements): the middle frame (NumberOfFrames // 2);
grey: Modality LUT (sequence, else rescale) -> VOI (VOI LUT sequence first, else the first
window with its VOI LUT Function, else the 0.5-99.5 percentile range) -> 0..255 -> MONOCHROME1
inverted; colour: RGB after pydicom's colour conversion, or the palette, scaled by the maximum
value the samples (or the LUT) can hold.

Args: the folder of test files and an output folder; writes OUT/<name>.raw (8-bit, interleaved)
and prints one JSON line per image file.
"""
import json
import os
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

warnings.simplefilter("ignore")


def to_byte(values):
    return np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8)


def lut_max(item, data_keyword):
    bits = int(item.LUTDescriptor[2]) if "LUTDescriptor" in item else 16
    declared = (1 << bits) - 1
    data = np.asarray(item[data_keyword].value if data_keyword in item else [0])
    return 65535.0 if data.max() > declared else float(declared)


def grey(ds, frame):
    values = apply_modality_lut(frame.astype(np.float64), ds).astype(np.float64)
    if "VOILUTSequence" in ds and "LUTData" in ds.VOILUTSequence[0]:
        item = ds.VOILUTSequence[0]
        out = apply_voi_lut(values, ds, index=0, prefer_lut=True).astype(np.float64)
        return to_byte(out * 255.0 / lut_max(item, "LUTData"))
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is not None and width is not None:
        c = float(center[0] if isinstance(center, pydicom.multival.MultiValue) else center)
        w = float(width[0] if isinstance(width, pydicom.multival.MultiValue) else width)
        if w >= 1:
            function = str(ds.get("VOILUTFunction", "LINEAR")).upper()
            if function == "SIGMOID":
                return to_byte(255.0 / (1.0 + np.exp(-4.0 * (values - c) / w)))
            if function == "LINEAR_EXACT":
                lo, hi = c - w / 2, c + w / 2
                out = ((values - c) / w + 0.5) * 255.0
            else:
                lo, hi = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
                out = ((values - (c - 0.5)) / (w - 1) + 0.5) * 255.0
            out = np.where(values <= lo, 0, np.where(values > hi, 255, out))
            return to_byte(out)
    finite = values[np.isfinite(values)]
    lo, hi = np.percentile(finite, [0.5, 99.5])
    if not hi > lo:
        lo, hi = finite.min(), finite.max()
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return to_byte((values - lo) * scale)


def render(ds):
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    index = frames // 2
    frame = pydicom.pixels.pixel_array(ds, index=index) if frames > 1 else ds.pixel_array
    photometric = str(ds.PhotometricInterpretation).upper()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(frame, ds).astype(np.float64)
        maxima = [lut_max_palette(ds, c) for c in ("Red", "Green", "Blue")]
        return to_byte(rgb * 255.0 / max(maxima))
    if frame.ndim == 3 and frame.shape[-1] == 3:
        bits = int(ds.get("BitsStored", ds.BitsAllocated))
        return to_byte(frame.astype(np.float64) * 255.0 / ((1 << bits) - 1))
    out = grey(ds, frame)
    if photometric == "MONOCHROME1":
        out = 255 - out
    return out


def lut_max_palette(ds, colour):
    desc = ds[f"{colour}PaletteColorLookupTableDescriptor"].value
    bits = int(desc[2])
    declared = (1 << bits) - 1
    raw = ds[f"{colour}PaletteColorLookupTableData"].value
    entries = np.frombuffer(raw, dtype="<u2" if len(raw) != int(desc[0] or 65536) else "u1")
    return 65535.0 if entries.max() > declared else float(declared)


def main():
    root, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            continue
        try:
            ds = pydicom.dcmread(path, force=True)
        except Exception:  # noqa: BLE001 - not a readable file: nothing to render
            continue
        if "PixelData" not in ds:
            continue
        ts = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in getattr(ds, "file_meta", {}) else None
        try:
            image = render(ds)
        except Exception as e:  # noqa: BLE001 - reported to the test
            print(json.dumps({"name": name, "transfer_syntax": ts, "error": f"{type(e).__name__}: {e}"}))
            continue
        channels = 3 if image.ndim == 3 else 1
        with open(os.path.join(out_dir, name + ".raw"), "wb") as f:
            f.write(np.ascontiguousarray(image).tobytes())
        print(json.dumps({
            "name": name,
            "width": int(image.shape[1]),
            "height": int(image.shape[0]),
            "channels": channels,
            "transfer_syntax": ts,
            "photometric": str(ds.PhotometricInterpretation),
            "bits_allocated": int(ds.BitsAllocated),
        }))


if __name__ == "__main__":
    main()
