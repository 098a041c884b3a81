"""Writes a CT image rich in identifiers: every attribute of PS3.15 Table E.1-1 that pydicom's
dictionary knows, each with a value of its own (so a leak names its source), at the top level
and again two sequence items deep, plus private blocks. Usage: identifier_rich.py SOURCE OUT"""

import sys

import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

import deid_oracle

HOLDER = Tag(0x0008, 0x2218)  # Anatomic Region Sequence: not in the table, so kept and walked
SKIPPED_GROUPS = {0x0000, 0x0002, 0x0004}


def value_for(tag, vr):
    code = f"{tag:08X}"
    if vr == "PN":
        return f"Leak^P{code}"
    if vr in ("LO", "LT", "ST", "UT", "UC"):
        return f"leak {code} of Jane Leakington"
    if vr == "SH":
        return f"S{code}"
    if vr == "CS":
        return f"C{code}"
    if vr == "AE":
        return f"AE{code}"
    if vr == "DA":
        return "20190315"
    if vr == "TM":
        return "101112"
    if vr == "DT":
        return "20190315101112"
    if vr == "AS":
        return "042Y"
    if vr == "DS":
        return "12.5"
    if vr == "IS":
        return "42"
    if vr == "UI":
        return f"1.2.826.0.1.3680043.9999.{int(tag)}"
    if vr == "UR":
        return f"http://leak.example/{code}"
    if vr in ("US", "SS", "UL", "SL", "UV", "SV"):
        return 7
    if vr in ("FL", "FD"):
        return 1.5
    if vr == "AT":
        return 0x00100010
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return b"LEAK" + code.encode()[:4]
    return None


def fill(ds, tags, nested_item):
    for tag in tags:
        if tag.group in SKIPPED_GROUPS or tag in ds or tag == HOLDER:
            continue
        try:
            vr = dictionary_VR(tag).split(" or ")[0]
        except KeyError:
            continue
        if vr == "SQ":
            item = Dataset()
            item.PatientName = f"Leak^Item{int(tag):08X}"
            item.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.9999.1.{int(tag)}"
            ds.add_new(tag, vr, Sequence([item]))
            continue
        value = value_for(tag, vr)
        if value is not None:
            ds.add_new(tag, vr, value)
    if nested_item is not None:
        ds.add_new(HOLDER, "SQ", Sequence([nested_item]))


def main():
    source, out = sys.argv[1], sys.argv[2]
    ds = pydicom.dcmread(source)
    oracle = deid_oracle.Oracle()
    tags = [Tag(g, e) for (g, e) in sorted(oracle.basic)] + [Tag(0x6000, 0x3000), Tag(0x6000, 0x4000)]
    tags = [t for t in tags if keyword_for_tag(t) or t.group & 0xFF00 == 0x6000]
    deepest = Dataset()
    fill(deepest, tags, None)
    middle = Dataset()
    fill(middle, tags, deepest)
    keep = {Tag(0x0010, 0x0010), Tag(0x0010, 0x0020)}
    fill(ds, [t for t in tags if t not in ds or t in keep], middle)
    for group, creator, text in ((0x0009, "ACME IDENT", "Leak^Private"), (0x0029, "OTHER VENDOR", "private leak 123456")):
        block = ds.private_block(group, creator, create=True)
        block.add_new(0x01, "LO", text)
        block.add_new(0x02, "DA", "20190315")
    ds.PatientName = "Leakington^Jane^Q"
    ds.PatientID = "LEAK-PID-4711"
    ds.StudyDescription = "CT of Jane Leakington LEAK-PID-4711"
    ds.save_as(out, enforce_file_format=True)
    print(len(ds))


if __name__ == "__main__":
    main()
