"""Reference 8-bit renderings of DICOM test files, computed with pydicom's own functions.

Usage: render_reference.py TEST_FILES_DIR OUT_DIR

For every file below TEST_FILES_DIR (recursively, skipping `dicomdirtests`) that pydicom reads
and that has pixel data, renders the middle frame and writes OUT_DIR/<name>.raw (8-bit,
interleaved; <name> is the path relative to TEST_FILES_DIR) and prints one JSON line:
{name, width, height, channels, transfer_syntax, photometric, bits_allocated}; a file whose
pixel data pydicom cannot decode or render prints {name, transfer_syntax, error}.

The rules are Lightbox's renderer's (crates/core/src/render/pipeline.rs):
- frame: NumberOfFrames // 2, decoded by pydicom (`pydicom.pixels.pixel_array(ds, index=...)`,
  its default colour conversion of YBR_FULL / YBR_FULL_422 to RGB included);
- grey: `apply_modality_lut` (Modality LUT Sequence, else Rescale Slope/Intercept), then
  `apply_voi_lut(prefer_lut=True)`: a VOI LUT Sequence's first item, scaled to 8 bits by the
  LUT's largest output 2^bits - 1; else the first window (`apply_windowing`: LINEAR, LINEAR_EXACT
  or SIGMOID, PS3.3 C.11.2.1.2), scaled from pydicom's output range to 0..255; else a linear
  min-max between numpy.percentile 0.5 and 99.5, or the true extremes when those coincide;
  rounded to 0..255; MONOCHROME1 inverted (255 - v);
- colour: RGB (after pydicom's conversion) scaled by 2^BitsStored - 1; PALETTE COLOR through
  `apply_color_lut`, scaled by the LUTs' largest output.

A LUT whose data exceed its declared bits (writers that declare 8 and store 16) is scaled by
65535 instead, in both implementations.

pydicom's GDCM plugin is removed when present: the references come from the decoders that
`scripts/requirements-test.txt` installs, whatever else the machine has.

Where pydicom 3.0.2 itself is wrong, its functions are given corrected input (each case says why):
8-bit VOI LUTs (indices wrap at 256) and big endian palette LUT data (read as little endian).

`--derive TEST_FILES_DIR DIR` instead writes variants of the test files (see `_derive`).
"""
import copy
import json
import os
import sys
import warnings

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, convert_color_space
from pydicom.pixels.decoders.base import _PIXEL_DATA_DECODERS
from pydicom.pixels.processing import _expand_segmented_lut
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

warnings.simplefilter("ignore")

for _decoder, _ in _PIXEL_DATA_DECODERS.values():
    try:
        _decoder.remove_plugin("gdcm")
    except ValueError:
        pass


def to_byte(values):
    return np.clip(np.floor(np.asarray(values, dtype=np.float64) + 0.5), 0, 255).astype(np.uint8)


def declared_or_16(bits, entries):
    """The LUT's largest output: 2^bits - 1, or 65535 when its data exceed that."""
    declared = (1 << int(bits)) - 1
    return 65535.0 if len(entries) and int(np.max(entries)) > declared else float(declared)


def lut_entries(item, keyword, little_endian):
    elem = item[keyword]
    if isinstance(elem.value, (bytes, bytearray)):
        return np.frombuffer(elem.value, dtype="<u2" if little_endian else ">u2")
    value = elem.value
    return np.asarray(list(value) if isinstance(value, MultiValue) else [value])


def first(value):
    return value[0] if isinstance(value, MultiValue) else value


def window_range(ds):
    """The output range of pydicom's `apply_windowing` for this data set (its own formula)."""
    if ds.get("ModalityLUTSequence"):
        y_min, y_max = 0, 2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1
    elif int(ds.PixelRepresentation) == 0:
        y_min, y_max = 0, 2 ** int(ds.BitsStored) - 1
    else:
        y_min, y_max = -(2 ** (int(ds.BitsStored) - 1)), 2 ** (int(ds.BitsStored) - 1) - 1
    if ds.get("RescaleSlope") is not None and ds.get("RescaleIntercept") is not None:
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        y_min, y_max = y_min * slope + intercept, y_max * slope + intercept
    return float(y_min), float(y_max)


def usable_window(ds):
    """Lightbox uses the first window when pydicom's `apply_windowing` accepts it."""
    if ds.get("WindowCenter") is None or ds.get("WindowWidth") is None:
        return False
    width = float(first(ds.WindowWidth))
    function = str(ds.get("VOILUTFunction", "") or "LINEAR").upper()
    return np.isfinite(width) and (width >= 1 if function == "LINEAR" else width > 0)


def grey(ds, frame):
    # pydicom indexes a Modality LUT with the stored values, so they stay integers.
    values = apply_modality_lut(frame, ds)
    voi = ds.get("VOILUTSequence")
    if voi and "LUTDescriptor" in voi[0] and "LUTData" in voi[0]:
        item = voi[0]
        lut_ds = ds
        if int(item.LUTDescriptor[2]) == 8:
            # pydicom 3.0.2's apply_voi holds the LUT indices in the output's dtype, so with an
            # 8-bit LUT every index above 255 wraps. Declared as 16-bit (same entries) it indexes
            # correctly; the scaling below still uses the declared 8 bits.
            lut_ds = copy.deepcopy(ds)
            descriptor = list(lut_ds.VOILUTSequence[0].LUTDescriptor)
            lut_ds.VOILUTSequence[0].LUTDescriptor = descriptor[:2] + [16]
        out = apply_voi_lut(values, lut_ds, index=0, prefer_lut=True).astype(np.float64)
        entries = lut_entries(item, "LUTData", ds.original_encoding[1] is not False)
        return to_byte(out * 255.0 / declared_or_16(item.LUTDescriptor[2], entries))
    if usable_window(ds):
        # Rows 2+ of VOI attributes are ignored: index 0 is the first window.
        out = apply_voi_lut(values.astype(np.float64), ds, index=0, prefer_lut=True)
        y_min, y_max = window_range(ds)
        return to_byte((out - y_min) * 255.0 / (y_max - y_min))
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    lo, hi = np.percentile(finite, [0.5, 99.5])
    if not hi > lo:
        lo, hi = finite.min(), finite.max()
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return to_byte((values - lo) * scale)


def palette(ds, frame):
    little = ds.original_encoding[1] is not False
    if not little and "RedPaletteColorLookupTableData" in ds:
        # pydicom 3.0.2's apply_color_lut reads (non-segmented) LUT data as little endian
        # whatever the data set's byte order: give it the values in that order.
        ds = copy.deepcopy(ds)
        for colour in ("Red", "Green", "Blue"):
            elem = ds[f"{colour}PaletteColorLookupTableData"]
            count = int(ds[f"{colour}PaletteColorLookupTableDescriptor"].value[0]) or 65536
            if len(elem.value) != count:
                elem.value = np.frombuffer(elem.value, dtype=">u2").astype("<u2").tobytes()
    rgb = apply_color_lut(frame, ds)[..., :3].astype(np.float64)
    maxima = []
    for colour in ("Red", "Green", "Blue"):
        descriptor = ds[f"{colour}PaletteColorLookupTableDescriptor"].value
        count, bits = int(descriptor[0]) or 65536, int(descriptor[2])
        keyword = f"{colour}PaletteColorLookupTableData"
        if keyword in ds:
            raw = ds[keyword].value
            entries = np.frombuffer(raw, dtype="u1" if len(raw) == count else "<u2")
        else:
            raw = ds[f"Segmented{keyword}"].value
            fmt = ("<" if little else ">") + ("B" if bits == 8 else "H")
            words = np.frombuffer(raw, dtype=fmt.replace("H", "u2").replace("B", "u1"))
            entries = _expand_segmented_lut(tuple(int(w) for w in words), fmt)[:count]
        maxima.append(declared_or_16(bits, np.asarray(entries)))
    return to_byte(rgb * 255.0 / max(maxima))


def render(ds):
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    frame = pydicom.pixels.pixel_array(ds, index=frames // 2)
    photometric = str(ds.PhotometricInterpretation).upper()
    if photometric == "PALETTE COLOR":
        return palette(ds, frame)
    if frame.ndim == 3 and frame.shape[-1] == 3:
        bits = int(ds.get("BitsStored", ds.BitsAllocated))
        return to_byte(frame.astype(np.float64) * 255.0 / ((1 << bits) - 1))
    out = grey(ds, frame)
    if photometric == "MONOCHROME1":
        out = 255 - out
    return out


def image_files(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "dicomdirtests")
        for name in sorted(files):
            if name.lower().endswith(".dcm"):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, root).replace(os.sep, "/"), path


# --- Derived files -------------------------------------------------------------------------
# pydicom's bundled test files have no MONOCHROME1, Modality or VOI LUT Sequence, non-LINEAR VOI
# function, 16-bit palette, big endian 8-bit OW, float pixel data, odd-offset 1-bit frames or
# unused high bits. `--derive TEST_FILES DIR` writes such variants of real test files (pixel
# values and attributes changed with pydicom, so only the rule under test differs), which the
# main mode then renders like any other file.


def _derive(test_files, out_dir):
    from pydicom.pixels import pack_bits

    def load(name):
        return pydicom.dcmread(os.path.join(test_files, name))

    def save(ds, name, implicit=False, little=True):
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.save_as(os.path.join(out_dir, name), enforce_file_format=True)
            return
        ds.file_meta.TransferSyntaxUID = {
            (True, True): ImplicitVRLittleEndian,
            (False, True): ExplicitVRLittleEndian,
            (False, False): ExplicitVRBigEndian,
        }[(implicit, little)]
        for elem in ds.iterall():  # parse every raw element, so values re-encode as asked
            pass
        pydicom.dcmwrite(os.path.join(out_dir, name), ds, implicit_vr=implicit,
                         little_endian=little, force_encoding=True)

    def set_pixels(ds, arr):
        ds.PixelData = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()

    def ct():
        ds = load("CT_small.dcm")  # signed 16-bit, rescale -1024
        ds.WindowCenter, ds.WindowWidth = 40, 400
        return ds

    for function, width, name in [
        ("SIGMOID", 400, "CT_small_sigmoid.dcm"),
        ("LINEAR_EXACT", 400, "CT_small_linear_exact.dcm"),
        ("LINEAR_EXACT", 0.5, "CT_small_linear_exact_narrow.dcm"),
        ("LINEAR", 1, "CT_small_linear_width1.dcm"),
    ]:
        ds = ct()
        ds.VOILUTFunction, ds.WindowWidth = function, width
        ds.WindowCenter = 40.25
        save(ds, name)
    ds = ct()
    ds.WindowCenter, ds.WindowWidth = [900, 40], [1500, 400]  # the first window counts
    save(ds, "CT_small_two_windows.dcm")
    ds = ct()
    ds.RescaleSlope, ds.RescaleIntercept = -0.75, 20.5  # decreasing rescale, robust range
    del ds.WindowCenter, ds.WindowWidth
    save(ds, "CT_small_negative_slope.dcm")

    ds = load("MR_small.dcm")
    ds.PhotometricInterpretation = "MONOCHROME1"
    save(ds, "MR_small_monochrome1.dcm")
    ds = load("MR_small.dcm")
    ds.PhotometricInterpretation = "MONOCHROME1"
    del ds.WindowCenter, ds.WindowWidth
    save(ds, "MR_small_monochrome1_no_window.dcm", implicit=True)

    # Modality LUT Sequence (unsigned 12-bit stored values, a non-linear 16-bit table), then a
    # window, or not; and VOI LUT Sequences of 16 and 8 bits.
    base = load("examples_overlay.dcm")
    stored = base.pixel_array
    table = (np.sqrt(np.arange(4096) / 4095.0) * 60000).astype(np.uint16)

    def modality_item(first=0):
        item = Dataset()
        item.LUTDescriptor = [4096, first, 16]
        item.ModalityLUTType = "OD"
        item.LUTData = table.tolist()
        item["LUTData"].VR = "US"
        return item

    for window, name in [(True, "overlay_modality_lut_window.dcm"), (False, "overlay_modality_lut.dcm")]:
        ds = load("examples_overlay.dcm")
        ds.ModalityLUTSequence = [modality_item(first=16)]
        if window:
            ds.WindowCenter, ds.WindowWidth = 30000, 20000
        else:
            del ds.WindowCenter, ds.WindowWidth
        save(ds, name)
    for bits, first, vr, name in [
        (16, 0, "OW", "overlay_voi_lut_16.dcm"),
        (8, 50, "US", "overlay_voi_lut_8.dcm"),
    ]:
        ds = load("examples_overlay.dcm")
        item = Dataset()
        count = 2048
        curve = (np.arange(count) / (count - 1)) ** 0.5 * ((1 << bits) - 1)
        item.LUTDescriptor = [count, first, bits]
        if vr == "OW":
            item.LUTData = curve.astype("<u2").tobytes()
            item["LUTData"].VR = "OW"
        else:
            item.LUTData = curve.astype(np.uint16).tolist()
            item["LUTData"].VR = "US"
        ds.VOILUTSequence = [item]  # preferred over the window the file keeps
        save(ds, name)

    # Palette colour: 16-bit tables; and the 8-bit image written big endian as OW.
    ds = load("examples_palette.dcm")
    for colour in ("Red", "Green", "Blue"):
        desc = ds[f"{colour}PaletteColorLookupTableDescriptor"].value
        data = np.frombuffer(ds[f"{colour}PaletteColorLookupTableData"].value, dtype="<u2")
        ramp = (data.astype(np.uint32) * 181 + 977) % 65536  # uses all 16 bits
        ds[f"{colour}PaletteColorLookupTableDescriptor"].value = [desc[0], desc[1], 16]
        ds[f"{colour}PaletteColorLookupTableData"].value = ramp.astype("<u2").tobytes()
    save(ds, "palette_16bit.dcm")
    ds = load("image_dfl.dcm")  # 8-bit grey
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    raw = np.frombuffer(ds.PixelData, dtype=np.uint8)
    ds["PixelData"].VR = "OW"
    # Big endian OW: 8-bit samples in 16-bit words, so each pair of bytes is swapped.
    ds.PixelData = raw.reshape(-1, 2)[:, ::-1].tobytes()
    save(ds, "image_8bit_ow_big_endian.dcm", little=False)

    # Unused high bits: 12 of 16 bits stored, garbage above them (pydicom masks it off).
    ds = load("CT_small.dcm")
    arr = np.clip(ds.pixel_array, -2048, 2047).astype(np.int16)
    noisy = (arr.view(np.uint16) & 0x0FFF) | (np.arange(arr.size, dtype=np.uint16).reshape(arr.shape) << 12)
    ds.BitsStored, ds.HighBit = 12, 11
    set_pixels(ds, noisy)
    save(ds, "CT_small_12bit_dirty_high_bits.dcm")

    # Float Pixel Data, and an RGB image stored planar.
    ds = load("CT_small.dcm")
    values = ds.pixel_array.astype(np.float32) * 0.37 - 12.5
    del ds.PixelData, ds.PixelRepresentation, ds.BitsStored, ds.HighBit
    del ds.RescaleSlope, ds.RescaleIntercept
    ds.BitsAllocated = 32
    ds.FloatPixelData = values.astype("<f4").tobytes()
    save(ds, "CT_small_float.dcm")
    ds = load("SC_rgb_rle_16bit.dcm")
    ds.decompress()
    arr = ds.pixel_array
    ds.PlanarConfiguration = 1
    set_pixels(ds, np.moveaxis(arr, -1, 0))
    save(ds, "SC_rgb_16bit_planar.dcm")

    # 1-bit frames that start inside a byte: three 7×5 frames, the middle one at bit 35.
    ds = load("liver_1frame.dcm")
    bits = ds.pixel_array[200:205, 250:257]
    frames = np.stack([bits, 1 - bits, np.roll(bits, 1, axis=1)])
    ds.Rows, ds.Columns, ds.NumberOfFrames = 5, 7, 3
    ds.PixelData = pack_bits(frames.ravel())
    save(ds, "liver_1bit_3frames_odd.dcm")

    # A three-frame 16-bit RLE image, and YBR_FULL RLE (converted to RGB by pydicom).
    ds = load("MR_small.dcm")
    arr = ds.pixel_array
    ds.NumberOfFrames = 3
    set_pixels(ds, np.stack([arr, arr[::-1], arr[:, ::-1]]))
    ds.compress(RLELossless, encoding_plugin="pydicom")
    save(ds, "MR_small_rle_3frames.dcm")
    # Signed samples with negative values through the lossless JPEG 2000 and JPEG-LS encoders,
    # a three-frame JPEG 2000 image, and RGB JPEG-LS with planar configuration 1.
    for ts, name in [(JPEG2000Lossless, "CT_small_negative_j2k.dcm"),
                     (JPEGLSLossless, "CT_small_negative_jls.dcm")]:
        ds = load("CT_small.dcm")
        ds.RescaleIntercept = 176
        ds.compress(ts, (ds.pixel_array.astype(np.int16) - 1200))
        save(ds, name)
    ds = load("MR_small.dcm")
    arr = ds.pixel_array
    ds.NumberOfFrames = 3
    ds.compress(JPEG2000Lossless, np.stack([arr[::-1], arr, arr[:, ::-1]]))
    save(ds, "MR_small_j2k_3frames.dcm")
    ds = load("SC_rgb_rle.dcm")
    arr = ds.pixel_array
    ds.PlanarConfiguration = 1
    ds.compress(JPEGLSLossless, arr)
    save(ds, "SC_rgb_jls_planar.dcm")

    ds = load("SC_rgb_rle.dcm")
    ybr = convert_color_space(ds.pixel_array, "RGB", "YBR_FULL")
    ds.PhotometricInterpretation = "YBR_FULL"
    ds.compress(RLELossless, ybr, encoding_plugin="pydicom")
    save(ds, "SC_ybr_full_rle.dcm")


def main():
    if sys.argv[1] == "--derive":
        os.makedirs(sys.argv[3], exist_ok=True)
        _derive(sys.argv[2], sys.argv[3])
        return
    root, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    for name, path in image_files(root):
        try:
            ds = pydicom.dcmread(path, force=True)
        except Exception:  # noqa: BLE001 - not a readable file: nothing to render
            continue
        if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
            continue
        meta = getattr(ds, "file_meta", None)
        ts = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None
        if ts is None and ds.original_encoding[0] is not None:
            # No file meta (ACR-NEMA style): pydicom needs the transfer syntax its reader found.
            implicit, little = ds.original_encoding
            ts = {(True, True): ImplicitVRLittleEndian, (False, True): ExplicitVRLittleEndian,
                  (False, False): ExplicitVRBigEndian}.get((implicit, little))
            if ts is not None:
                ds.file_meta = getattr(ds, "file_meta", None) or FileMetaDataset()
                ds.file_meta.TransferSyntaxUID = ts
                ts = str(ts)
        try:
            image = render(ds)
        except Exception as e:  # noqa: BLE001 - reported to the test
            print(json.dumps({"name": name, "transfer_syntax": ts, "error": f"{type(e).__name__}: {e}"}))
            continue
        channels = 3 if image.ndim == 3 else 1
        target = os.path.join(out_dir, name + ".raw")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
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
