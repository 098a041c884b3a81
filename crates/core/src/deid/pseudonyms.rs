//! Pseudonyms: the Patient ID and Patient's Name a patient gets in de-identified copies. Given
//! by the user (a CSV: source Patient ID, new Patient ID, new Patient's Name), or generated from
//! the project key (`ANON` and a code the key derives from the source ID). Every pseudonym used
//! is kept in the data directory under the project (named by a label of the key, never the
//! key), so later studies of the same patient get the same one, even after the user's mapping
//! changes.

use lightbox_dicom::deid::{key_label, patient_code};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pseudonym {
    pub patient_id: String,
    pub patient_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PseudonymError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("pseudonym table, line {line}: {reason}")]
    Table { line: u64, reason: String },
    #[error("pseudonym table: {0}")]
    Csv(#[from] csv::Error),
}

/// The pseudonyms of one project (one key).
pub struct Pseudonyms {
    key: Vec<u8>,
    path: PathBuf,
    /// Source Patient ID → pseudonym.
    known: BTreeMap<String, Pseudonym>,
}

const HEADER: [&str; 3] = ["SourcePatientID", "PatientID", "PatientName"];

fn read_table(reader: impl Read) -> Result<Vec<(String, Pseudonym)>, PseudonymError> {
    let mut rows = Vec::new();
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    for (n, record) in csv.records().enumerate() {
        let record = record?;
        let line = n as u64 + 1;
        let field = |i: usize| record.get(i).unwrap_or("").to_string();
        if line == 1 && field(0).eq_ignore_ascii_case(HEADER[0]) {
            continue;
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        if field(0).is_empty() || field(1).is_empty() {
            return Err(PseudonymError::Table {
                line,
                reason: "a row needs the source Patient ID and the new Patient ID".into(),
            });
        }
        let name = match field(2) {
            name if name.is_empty() => field(1),
            name => name,
        };
        rows.push((
            field(0),
            Pseudonym {
                patient_id: field(1),
                patient_name: name,
            },
        ));
    }
    Ok(rows)
}

impl Pseudonyms {
    /// The pseudonyms kept for `key` in the data directory.
    pub fn open(data_dir: &Path, key: &[u8]) -> Result<Pseudonyms, PseudonymError> {
        let path = data_dir
            .join("deid")
            .join(key_label(key))
            .join("pseudonyms.csv");
        let known = match std::fs::File::open(&path) {
            Ok(file) => read_table(file)?.into_iter().collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(PseudonymError::Io { path, source }),
        };
        Ok(Pseudonyms {
            key: key.to_vec(),
            path,
            known,
        })
    }

    /// Takes the user's mapping (CSV rows of source Patient ID, new Patient ID and, optionally,
    /// new Patient's Name); a patient who has a pseudonym already keeps it. Returns how many
    /// rows were new.
    pub fn import(&mut self, table: impl Read) -> Result<usize, PseudonymError> {
        let mut added = 0;
        for (source, pseudonym) in read_table(table)? {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.known.entry(source) {
                slot.insert(pseudonym);
                added += 1;
            }
        }
        Ok(added)
    }

    /// Gives a patient a pseudonym (replacing the one kept): the user's choice, in the page.
    pub fn give(&mut self, source_patient_id: &str, pseudonym: Pseudonym) {
        self.known
            .insert(source_patient_id.trim().to_string(), pseudonym);
    }

    /// The pseudonym of a patient: the one kept or given, else one made from the key.
    pub fn of(&mut self, source_patient_id: &str) -> Pseudonym {
        let source = source_patient_id.trim().to_string();
        self.known
            .entry(source.clone())
            .or_insert_with(|| {
                let code = patient_code(&self.key, &source);
                Pseudonym {
                    patient_id: format!("ANON{code}"),
                    patient_name: format!("ANON^{code}"),
                }
            })
            .clone()
    }

    /// Keeps every pseudonym used so far.
    pub fn save(&self) -> Result<(), PseudonymError> {
        let io = |source| PseudonymError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        {
            let mut out = csv::Writer::from_writer(tmp.as_file());
            out.write_record(HEADER)?;
            // Patients without an ID share the pseudonym the key makes for them: nothing to keep.
            for (source, p) in self.known.iter().filter(|(s, _)| !s.is_empty()) {
                out.write_record([source, &p.patient_id, &p.patient_name])?;
            }
            out.flush().map_err(io)?;
        }
        tmp.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_pseudonyms_are_used_others_made_and_all_kept_per_project() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Pseudonyms::open(dir.path(), b"study A").unwrap();
        let table =
            "SourcePatientID,PatientID,PatientName\nP1,SUBJ-001,Subject^One\n\"P, 2\",SUBJ-002,\n";
        assert_eq!(p.import(table.as_bytes()).unwrap(), 2);
        assert_eq!(p.of("P1").patient_name, "Subject^One");
        assert_eq!(p.of("P, 2").patient_name, "SUBJ-002");
        let made = p.of("P3");
        assert!(
            made.patient_id.starts_with("ANON") && made.patient_id.len() == 14,
            "{made:?}"
        );
        p.save().unwrap();

        // A later run with the same key: the same pseudonyms, also the made one, even when the
        // user's table now says otherwise.
        let mut again = Pseudonyms::open(dir.path(), b"study A").unwrap();
        assert_eq!(again.import("P1,OTHER\n".as_bytes()).unwrap(), 0);
        assert_eq!(again.of("P1").patient_id, "SUBJ-001");
        assert_eq!(again.of("P3"), made);
        // Another project knows none of them.
        let mut other = Pseudonyms::open(dir.path(), b"study B").unwrap();
        assert_ne!(other.of("P3"), made);
        assert!(Pseudonyms::open(dir.path(), b"study A")
            .unwrap()
            .import("P9\n".as_bytes())
            .is_err());
        // The key itself is nowhere in the data directory.
        for entry in walkdir::WalkDir::new(dir.path()).into_iter().flatten() {
            assert!(!entry.path().to_string_lossy().contains("study"));
        }
    }
}
