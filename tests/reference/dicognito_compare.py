"""Lightbox's basic profile side by side with dicognito (an independent anonymiser, PyPI) on
the same files: every attribute dicognito removes or changes, at any depth, should be removed
or changed by Lightbox too.

Usage: dicognito_compare.py CONFIG.json, CONFIG holding "pairs" ([source, Lightbox's output]).
Prints one JSON object: {"compared": attributes, "differences": {keyword: {"dicognito": what it
did, "count": n, "example": value}}}; the README lists each difference with its reason."""

import copy
import json
import sys
import warnings

import pydicom
from dicognito.anonymizer import Anonymizer
from pydicom.datadict import keyword_for_tag

warnings.simplefilter("ignore")


def fate(element, output):
    """What became of `element` in `output`: removed, changed or kept."""
    if output is None or element.tag not in output:
        return "removed"
    other = output[element.tag]
    if element.VR == "SQ":
        return "kept"  # its items are compared one by one
    return "kept" if other.value == element.value else "changed"


class Comparison:
    def __init__(self):
        self.compared = 0
        self.differences = {}

    def data_set(self, source, theirs, ours):
        for element in source:
            if element.tag.group == 0x0002 or element.tag.is_private:
                continue  # Lightbox removes every private element
            if element.VR != "SQ" and (element.value is None or str(element.value).strip() == ""):
                continue  # nothing to hide (dicognito fills some empty IDs in; Lightbox leaves them empty)
            self.compared += 1
            by_them = fate(element, theirs)
            by_us = fate(element, ours)
            if by_them != "kept" and by_us == "kept" and element.VR != "SQ":
                keyword = keyword_for_tag(element.tag) or str(element.tag)
                entry = self.differences.setdefault(
                    keyword, {"dicognito": by_them, "count": 0, "example": str(element.value)[:60]}
                )
                entry["count"] += 1
            if element.VR == "SQ" and by_them == "kept" and by_us == "kept":
                for a, b, c in zip(element.value, theirs[element.tag].value, ours[element.tag].value):
                    self.data_set(a, b, c)


def main():
    config = json.load(open(sys.argv[1]))
    comparison = Comparison()
    anonymizer = Anonymizer(seed="lightbox comparison")
    for source_path, ours_path in config["pairs"]:
        source = pydicom.dcmread(source_path, force=True)
        theirs = copy.deepcopy(source)
        anonymizer.anonymize(theirs)
        ours = pydicom.dcmread(ours_path)
        comparison.data_set(source, theirs, ours)
    print(json.dumps({"compared": comparison.compared, "differences": comparison.differences}))


if __name__ == "__main__":
    main()
