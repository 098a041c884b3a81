"""PS3.15 Table E.1-1 as two independent packages print it, read from their wheels in
test-data/wheels (downloaded by scripts/test-setup.sh, never installed):

- dicom-anonymizer 2.1.0: the Basic Profile's actions of the 2026c edition;
- dicom-standard 0.1.0: every option column, of an older edition.

`expected(tag, options)` is the action an attribute should get: the basic one of 2026c,
changed by the chosen options as the older edition's columns say, except where the standard
changed a column since (EDITION_CHANGES, each checked against the 2024e text)."""

import glob
import json
import os
import re
import zipfile

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
WHEELS = os.path.join(ROOT, "test-data", "wheels")

COLUMNS = {
    "retain-safe-private": "rtnSafePrivOpt",
    "retain-uids": "rtnUIDsOpt",
    "retain-device-identity": "rtnDevIdOpt",
    "retain-institution-identity": "rtnInstIdOpt",
    "retain-patient-characteristics": "rtnPatCharsOpt",
    "retain-full-dates": "rtnLongFullDatesOpt",
    "retain-dates": "rtnLongModifDatesOpt",
    "clean-descriptors": "cleanDescOpt",
    "clean-structured-content": "cleanStructContOpt",
    "clean-graphics": "cleanGraphOpt",
}

# Option columns the standard changed after the dicom-standard package's edition (2024e).
EDITION_CHANGES = {
    (0x0020, 0x3401): {"rtnDevIdOpt": "K"},  # Modifying Device ID
    (0x0040, 0x0241): {"rtnDevIdOpt": "C"},  # Performed Station AE Title
    (0x0008, 0x1120): {"rtnUIDsOpt": "K"},  # Referenced Patient Sequence
    (0x0040, 0x0001): {"rtnDevIdOpt": "C"},  # Scheduled Station AE Title
    (0x0032, 0x1021): {"rtnDevIdOpt": "C"},  # Scheduled Study Location AE Title
}

GROUP_CODES = {
    "D": "D", "Z": "Z", "X": "X", "U": "U", "Z_D": "Z/D", "X_Z": "X/Z", "X_D": "X/D",
    "X_Z_D": "X/Z/D", "X_Z_U_STAR": "X/Z/U*",
}


def _wheel(prefix):
    found = sorted(glob.glob(os.path.join(WHEELS, prefix + "-*.whl")))
    if not found:
        raise SystemExit(f"{prefix} wheel missing from {WHEELS}: run scripts/test-setup.sh")
    return zipfile.ZipFile(found[-1])


def basic_2026c():
    """(group, element) → basic profile code, and the repeating groups' patterns
    ([group, element, group mask, element mask], code)."""
    with _wheel("dicom_anonymizer") as z:
        name = next(n for n in z.namelist() if n.endswith("dicomfields_2026c.py"))
        text = z.read(name).decode()
    table, patterns, group = {}, [], None
    for line in text.splitlines():
        m = re.match(r"^(\w+)_TAGS = \[", line)
        if m:
            group = GROUP_CODES.get(m.group(1))
            continue
        m = re.match(r"\s*\(0x([0-9A-Fa-f]{4}), 0x([0-9A-Fa-f]{4})(?:, 0x([0-9A-Fa-f]{4}), 0x([0-9A-Fa-f]{4}))?\)", line)
        if m and group:
            numbers = [int(n, 16) for n in m.groups() if n is not None]
            if len(numbers) == 4:
                patterns.append((numbers, group))
            else:
                table[tuple(numbers)] = group
    return table, patterns


def columns_old():
    """(group, element) → the older edition's row (every option column)."""
    with _wheel("dicom_standard") as z:
        name = next(n for n in z.namelist() if n.endswith("confidentiality_profile_attributes.json"))
        rows = json.loads(z.read(name))
    table = {}
    for row in rows:
        tag = row["id"].lower()
        if re.fullmatch(r"[0-9a-f]{8}", tag):
            table[(int(tag[:4], 16), int(tag[4:], 16))] = row
        else:
            table[tag] = row  # a repeating group: 50xxxxxx, 60xx3000
    for tag, change in EDITION_CHANGES.items():
        if tag in table:
            table[tag] = {**table[tag], **change}
    return table


def resolve(code):
    """The action a combination resolves to, as Lightbox documents it (README): a dummy, else
    a new UID, else empty, else removed."""
    parts = [p.rstrip("*") for p in code.split("/")]
    for choice in ("D", "U", "Z", "X"):
        if choice in parts:
            return choice
    return parts[0]


class Oracle:
    def __init__(self):
        self.basic, self.patterns = basic_2026c()
        self.old = columns_old()

    def expected(self, tag, options, vr=None):
        """The action (one letter) of a standard attribute, or None when the table has no row.
        A row the older edition lacks has no option columns here; for dates and times the
        dates options' definitions (PS3.15 E.3.6) still say what to do with it."""
        group, element = tag
        basic, row = self.basic.get(tag), self.old.get(tag, {})
        if basic is None:
            for (g, e, gm, em), code in self.patterns:
                if group & gm == g and element & em == e:
                    basic = code
                    key = f"{g >> 8:02x}xx" + ("xxxx" if em == 0 else f"{e:04x}")
                    row = self.old.get(key, {})
                    break
        if basic is None:
            return None
        chosen = []
        if not row and vr in ("DA", "DT", "TM"):
            if "retain-full-dates" in options:
                chosen.append("K")
            elif "retain-dates" in options:
                chosen.append("C")
        for option in options:
            code = row.get(COLUMNS[option])
            if code:
                chosen.append(code)
        if "K" in chosen:
            return "K"
        if "C" in chosen:
            return "C"
        if chosen:
            return resolve(chosen[0])
        if not row and options:
            return "?"  # the older edition lacks the row: its option columns are unknown here
        return resolve(basic)
