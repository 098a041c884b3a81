//! Pseudonyms: the Patient ID and Patient's Name a patient gets in de-identified copies. Given
//! by the user (a CSV: source Patient ID, new Patient ID, new Patient's Name), or generated from
//! the project key (`ANON` and a code the key derives from the source ID). Every pseudonym used
//! is kept in the data directory under the project (named by a label of the key, never the
//! key), so later studies of the same patient get the same one, even after the user's mapping
//! changes; in a cluster, they are kept in its database, for every node.

use crate::index::SharedListsRef;
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
    #[error("the cluster's pseudonyms: {0}")]
    Shared(String),
}

/// Where a project's pseudonyms are kept.
enum TableHome {
    File(PathBuf),
    /// In the cluster's lists under `name`, as rows of source Patient ID, Patient ID and
    /// Patient's Name.
    Shared {
        lists: SharedListsRef,
        name: String,
    },
}

type Row = [String; 3];

/// The pseudonyms of one project (one key).
pub struct Pseudonyms {
    key: Vec<u8>,
    home: TableHome,
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
    /// The pseudonyms kept for `key` in the data directory, or in the cluster's `shared`
    /// lists (which take in the data directory's, when they have none yet).
    pub fn open(
        data_dir: &Path,
        key: &[u8],
        shared: Option<SharedListsRef>,
    ) -> Result<Pseudonyms, PseudonymError> {
        let label = key_label(key);
        let path = data_dir.join("deid").join(&label).join("pseudonyms.csv");
        let read_file = || match std::fs::File::open(&path) {
            Ok(file) => Ok(read_table(file)?.into_iter().collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(source) => Err(PseudonymError::Io {
                path: path.clone(),
                source,
            }),
        };
        let (home, known) = match shared {
            None => (TableHome::File(path.clone()), read_file()?),
            Some(lists) => {
                let name = format!("deid-pseudonyms-{label}");
                let known = match lists.read_list(&name).map_err(PseudonymError::Shared)? {
                    Some(text) => from_rows(&text)?,
                    None => read_file()?,
                };
                (TableHome::Shared { lists, name }, known)
            }
        };
        Ok(Pseudonyms {
            key: key.to_vec(),
            home,
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

    /// Keeps every pseudonym used so far. In a cluster, a pseudonym another node kept for the
    /// same patient in the meantime stays.
    pub fn save(&self) -> Result<(), PseudonymError> {
        let (lists, name) = match &self.home {
            TableHome::File(path) => return self.save_file(path),
            TableHome::Shared { lists, name } => (lists, name),
        };
        let mut failure = None;
        lists
            .update_list(name, &mut |current| {
                let mut kept = match current.as_deref().map(from_rows).transpose() {
                    Ok(kept) => kept.unwrap_or_default(),
                    Err(e) => {
                        failure = Some(e);
                        return None;
                    }
                };
                for (source, pseudonym) in self.known.iter().filter(|(s, _)| !s.is_empty()) {
                    kept.entry(source.clone())
                        .or_insert_with(|| pseudonym.clone());
                }
                let rows: Vec<Row> = kept
                    .into_iter()
                    .map(|(source, p)| [source, p.patient_id, p.patient_name])
                    .collect();
                Some(serde_json::json!(rows).to_string())
            })
            .map_err(PseudonymError::Shared)?;
        failure.map_or(Ok(()), Err)
    }

    fn save_file(&self, path: &Path) -> Result<(), PseudonymError> {
        let io = |source| PseudonymError::Io {
            path: path.to_path_buf(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
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
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

/// The pseudonyms of the cluster's rows.
fn from_rows(text: &str) -> Result<BTreeMap<String, Pseudonym>, PseudonymError> {
    let rows: Vec<Row> =
        serde_json::from_str(text).map_err(|e| PseudonymError::Shared(e.to_string()))?;
    Ok(rows
        .into_iter()
        .map(|[source, patient_id, patient_name]| {
            (
                source,
                Pseudonym {
                    patient_id,
                    patient_name,
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_pseudonyms_are_used_others_made_and_all_kept_per_project() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Pseudonyms::open(dir.path(), b"study A", None).unwrap();
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
        let mut again = Pseudonyms::open(dir.path(), b"study A", None).unwrap();
        assert_eq!(again.import("P1,OTHER\n".as_bytes()).unwrap(), 0);
        assert_eq!(again.of("P1").patient_id, "SUBJ-001");
        assert_eq!(again.of("P3"), made);
        // Another project knows none of them.
        let mut other = Pseudonyms::open(dir.path(), b"study B", None).unwrap();
        assert_ne!(other.of("P3"), made);
        assert!(Pseudonyms::open(dir.path(), b"study A", None)
            .unwrap()
            .import("P9\n".as_bytes())
            .is_err());
        // The key itself is nowhere in the data directory.
        for entry in walkdir::WalkDir::new(dir.path()).into_iter().flatten() {
            assert!(!entry.path().to_string_lossy().contains("study"));
        }
    }
}
