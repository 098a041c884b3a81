"""Checks de-identified files against PS3.15 Table E.1-1 as independent packages print it
(deid_oracle), attribute by attribute at every depth, with pydicom.

Usage: deid_check.py CONFIG.json, where CONFIG has "options" (Lightbox's option names), "key"
(the project key, as text) and "pairs" ([source, output] paths). Prints one JSON object:
{"checked": attributes checked, "violations": [...], "date_shifts": [...]}.

Besides each attribute's action: no value of the source that its row removes or replaces
(names, IDs, UIDs, dates) may appear anywhere in the output's bytes, unless the same value is
also held by an attribute that is kept; private elements are all gone; new UIDs are the
project key's (HMAC-SHA256, as the README describes), so they are the same in every run."""

import datetime
import hashlib
import hmac
import json
import struct
import sys

import pydicom
from pydicom.tag import Tag

import deid_oracle

PSEUDONYM_TAGS = {Tag(0x0010, 0x0010), Tag(0x0010, 0x0020)}
# Lightbox's dummy values (README): finding one is not finding the source's.
DUMMIES = {"ANONYMOUS", "000000", "19000101", "19000101000000"}
METHOD_TAGS = {Tag(0x0012, 0x0062), Tag(0x0012, 0x0063), Tag(0x0012, 0x0064), Tag(0x0028, 0x0303)}


def derive(key, uid):
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in (b"uid", uid.encode()):
        mac.update(struct.pack("<Q", len(part)))
        mac.update(part)
    digest = bytearray(mac.digest()[:16])
    digest[15] &= 0x7F
    return "2.25." + str(int.from_bytes(digest, "little"))


def is_empty(element):
    value = element.value
    return value is None or value == "" or value == b"" or (element.VR == "SQ" and len(value) == 0)


def values_of(element):
    value = element.value
    if isinstance(value, (list, pydicom.multival.MultiValue)):
        return [str(v) for v in value]
    if value is None:
        return []
    return [str(value)]


class Checker:
    def __init__(self, options, key):
        self.options = options
        self.key = key.encode()
        self.oracle = deid_oracle.Oracle()
        self.checked = 0
        self.violations = []
        self.shifts = set()
        self.unverified = 0

    def violation(self, where, text):
        if len(self.violations) < 200:
            self.violations.append(f"{where}: {text}")

    def data_set(self, source, output, where, top, leaks, kept):
        for element in source:
            tag = element.tag
            here = f"{where}{tag}"
            if tag.group == 0x0002 or tag.element == 0x0000:
                continue
            if tag.is_private:
                if tag in output:
                    self.violation(here, "a private element is still there")
                if element.VR != "SQ":
                    leaks.update(v for v in values_of(element) if len(v) >= 6)
                continue
            out = output.get(tag)
            if top and tag in PSEUDONYM_TAGS:
                self.checked += 1
                if out is None or is_empty(out) or (str(out.value) == str(element.value) and str(element.value)):
                    self.violation(here, f"not a pseudonym: {out!r}")
                leaks.update(v for v in values_of(element) if len(v) >= 3)
                continue
            if top and tag in METHOD_TAGS:
                continue
            action = self.oracle.expected((tag.group, tag.element), self.options, element.VR) or "K"
            self.checked += 1
            self.attribute(element, out, action, here, leaks, kept)

    def attribute(self, element, out, action, here, leaks, kept):
        sequence = element.VR == "SQ"
        if action == "?":
            # A row newer than the oracle's option columns: whatever an option does to it, the
            # leak check below still holds for what was removed or replaced.
            self.unverified += 1
            if sequence and out is not None and len(out.value) == len(element.value):
                for n, (a, b) in enumerate(zip(element.value, out.value)):
                    self.data_set(a, b, f"{here}[{n}]", False, leaks, kept)
            elif out is not None and not sequence:
                kept.update(values_of(out))
            return
        if action in ("X", "Z", "D", "U") and not sequence and action != "U":
            leaks.update(v for v in values_of(element) if len(v) >= 6)
        if action == "U" and not sequence:
            leaks.update(v for v in values_of(element) if not v.startswith("1.2.840.10008."))
        if action == "X":
            if out is not None:
                self.violation(here, f"should be removed, is {out.value!r}"[:200])
            return
        if out is None:
            if not (is_empty(element) and action in ("C",)):
                self.violation(here, f"missing (action {action})")
            return
        if action == "Z":
            if not is_empty(out):
                self.violation(here, f"should be empty, is {out.value!r}"[:200])
            return
        if sequence:
            if len(out.value) != len(element.value):
                self.violation(here, f"{len(element.value)} items became {len(out.value)}")
                return
            for n, (a, b) in enumerate(zip(element.value, out.value)):
                self.data_set(a, b, f"{here}[{n}]", False, leaks, kept)
            return
        if action == "D":
            if is_empty(out):
                self.violation(here, "should hold a dummy value, is empty")
            elif not is_empty(element) and out.value == element.value:
                self.violation(here, f"should be replaced, kept {out.value!r}"[:200])
            return
        if action == "U":
            expected = [v if v.startswith("1.2.840.10008.") or not v else derive(self.key, v)
                        for v in values_of(element)]
            if values_of(out) != expected:
                self.violation(here, f"UID {values_of(element)} became {values_of(out)}, not {expected}")
            return
        if action == "K" and element.tag == 0x7FE00010 and self.big_endian:
            # Written back little endian: the same pixels, the bytes of each word swapped.
            import numpy
            if not numpy.array_equal(self.source.pixel_array, self.output.pixel_array):
                self.violation(here, "the pixels of a big endian image changed")
            return
        if action == "K":
            if out.value != element.value:
                self.violation(here, f"should be kept, {element.value!r} became {out.value!r}"[:200])
            kept.update(values_of(element))
            return
        # C: cleaned.
        if element.VR in ("DA", "DT") and "retain-dates" in self.options:
            for a, b in zip(values_of(element), values_of(out)):
                try:
                    day_a = datetime.datetime.strptime(a[:8], "%Y%m%d")
                    day_b = datetime.datetime.strptime(b[:8], "%Y%m%d")
                except ValueError:
                    if b:
                        self.violation(here, f"{a!r} became {b!r}, neither shifted nor empty")
                    continue
                self.shifts.add((day_b - day_a).days)
                if a[8:] != b[8:]:
                    self.violation(here, f"the time of {a!r} changed: {b!r}")
            leaks.update(v[:8] for v in values_of(element) if len(v) >= 8)
        elif element.VR in ("DA", "DT"):
            if out.value != element.value:
                self.violation(here, f"a date changed without retain-dates: {out.value!r}")
        elif element.VR in pydicom.valuerep.STR_VR:
            kept.update(values_of(out))

    def pair(self, source_path, output_path):
        source = pydicom.dcmread(source_path, force=True)
        output = pydicom.dcmread(output_path)
        self.source, self.output = source, output
        self.big_endian = not source.original_encoding[1] if source.original_encoding[1] is not None else False
        leaks, kept = set(), set()
        self.data_set(source, output, "", True, leaks, kept)
        self.shifts_of_file = set()
        if output.get("PatientIdentityRemoved") != "YES":
            self.violation(output_path, "PatientIdentityRemoved is not YES")
        codes = [item.CodeValue for item in output.get("DeidentificationMethodCodeSequence", [])]
        if "113100" not in codes:
            self.violation(output_path, f"no basic profile code in {codes}")
        raw = open(output_path, "rb").read()
        # The UIDs the output was given are digits of a keyed hash: a short number of the
        # source (a time, an ID) may turn up inside one by chance, which is no leak. (Source
        # UIDs surviving are checked element by element.)
        source_uids = {v for e in source.iterall() if e.VR == "UI" for v in values_of(e)}
        for element in output.iterall():
            if element.VR == "UI":
                for uid in values_of(element):
                    if uid not in source_uids and len(uid) > 8:
                        raw = raw.replace(uid.encode(), b"\0")
        for value in sorted(leaks - kept):
            value = value.strip()
            if len(value) < 3 or not value.isascii() or value in DUMMIES:
                continue
            if any(value in k for k in kept):
                continue  # also part of a value that is kept (a private copy of the model name)
            if value.encode() in raw:
                self.violation(output_path, f"the source value {value!r} is still in the file")


OPTION_COLUMNS = {
    "safe": "rtnSafePrivOpt", "uids": "rtnUIDsOpt", "device": "rtnDevIdOpt",
    "institution": "rtnInstIdOpt", "patient": "rtnPatCharsOpt", "full-dates": "rtnLongFullDatesOpt",
    "modified-dates": "rtnLongModifDatesOpt", "descriptors": "cleanDescOpt",
    "structured": "cleanStructContOpt", "graphics": "cleanGraphOpt",
}


def compare_table(path):
    """Lightbox's table file against the oracles, row by row: the basic column against 2026c
    (both ways), the option columns against the older edition where it has the row."""
    oracle = deid_oracle.Oracle()
    ours, mismatches, extra = {}, [], []
    for line in open(path):
        if not line.strip() or line.startswith("#"):
            continue
        words = line.split()
        tag, basic = words[0], words[1]
        options = dict(w.split("=", 1) for w in words[2:] if "=" in w and not w.startswith("("))
        if "x" in tag:
            continue  # repeating groups: compared below by their patterns
        key = (int(tag[1:5], 16), int(tag[6:10], 16))
        ours[key] = (basic, options)
    for key, code in oracle.basic.items():
        if key not in ours:
            mismatches.append(f"{key}: in the 2026c basic profile ({code}), not in ours")
        elif ours[key][0] != code:
            mismatches.append(f"{key}: basic {ours[key][0]}, 2026c says {code}")
    for key, (basic, options) in ours.items():
        if key not in oracle.basic and key[0] not in (0x0000, 0x0002, 0x0004):
            # A row the table dropped later may stay if it only protects more (a UID replaced,
            # an attribute removed); anything else would keep what the standard changes.
            if basic in ("U", "X"):
                extra.append(f"{key}: {basic}")
            else:
                mismatches.append(f"{key}: ours ({basic}), not in 2026c")
        row = oracle.old.get(key)
        if row is None:
            continue
        theirs = {short: row[column] for short, column in OPTION_COLUMNS.items() if column in row}
        if theirs != options:
            mismatches.append(f"{key}: options {options}, the oracle says {theirs}")
    return {
        "rows": len(ours),
        "compared_options": sum(k in oracle.old for k in ours),
        "mismatches": mismatches,
        "extra": extra,
    }


def main():
    if sys.argv[1] == "--table":
        print(json.dumps(compare_table(sys.argv[2])))
        return
    config = json.load(open(sys.argv[1]))
    checker = Checker(config["options"], config["key"])
    for source, output in config["pairs"]:
        try:
            checker.pair(source, output)
        except Exception as error:  # a file pydicom cannot read is a finding too
            checker.violation(output, f"unreadable: {error}")
    print(json.dumps({
        "checked": checker.checked,
        "violations": checker.violations,
        "date_shifts": sorted(checker.shifts),
        "unverified": checker.unverified,
    }))


if __name__ == "__main__":
    main()
