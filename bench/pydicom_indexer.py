"""Reference indexer for the import benchmark: what a straightforward Python tool does.

Walks a folder, reads each file's header with pydicom (stop_before_pixels=True) and inserts
patient, study, series and instance rows into SQLite, committing every 500 files.
Usage: pydicom_indexer.py FOLDER DATABASE
"""
import os
import sqlite3
import sys

import pydicom

SCHEMA = """
CREATE TABLE IF NOT EXISTS patients (patient_id TEXT PRIMARY KEY, patient_name TEXT, birth_date TEXT, sex TEXT);
CREATE TABLE IF NOT EXISTS studies (study_uid TEXT PRIMARY KEY, patient_id TEXT, study_date TEXT, study_time TEXT,
    description TEXT, accession TEXT);
CREATE TABLE IF NOT EXISTS series (series_uid TEXT PRIMARY KEY, study_uid TEXT, modality TEXT, series_number INTEGER,
    description TEXT);
CREATE TABLE IF NOT EXISTS instances (sop_uid TEXT PRIMARY KEY, series_uid TEXT, sop_class TEXT, instance_number INTEGER,
    rows INTEGER, columns INTEGER, path TEXT, size INTEGER);
"""


def value(ds, keyword):
    v = ds.get(keyword)
    return None if v is None else str(v)


def main():
    folder, database = sys.argv[1], sys.argv[2]
    db = sqlite3.connect(database)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + SCHEMA)
    count = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:  # noqa: BLE001 - skipped, as Lightbox skips it
                continue
            db.execute("INSERT OR IGNORE INTO patients VALUES (?,?,?,?)",
                       (value(ds, "PatientID"), value(ds, "PatientName"), value(ds, "PatientBirthDate"), value(ds, "PatientSex")))
            db.execute("INSERT OR IGNORE INTO studies VALUES (?,?,?,?,?,?)",
                       (value(ds, "StudyInstanceUID"), value(ds, "PatientID"), value(ds, "StudyDate"), value(ds, "StudyTime"),
                        value(ds, "StudyDescription"), value(ds, "AccessionNumber")))
            db.execute("INSERT OR IGNORE INTO series VALUES (?,?,?,?,?)",
                       (value(ds, "SeriesInstanceUID"), value(ds, "StudyInstanceUID"), value(ds, "Modality"),
                        value(ds, "SeriesNumber"), value(ds, "SeriesDescription")))
            db.execute("INSERT OR IGNORE INTO instances VALUES (?,?,?,?,?,?,?,?)",
                       (value(ds, "SOPInstanceUID"), value(ds, "SeriesInstanceUID"), value(ds, "SOPClassUID"),
                        value(ds, "InstanceNumber"), value(ds, "Rows"), value(ds, "Columns"), path, os.path.getsize(path)))
            count += 1
            if count % 500 == 0:
                db.commit()
    db.commit()
    print(count)


if __name__ == "__main__":
    main()
