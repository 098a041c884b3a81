//! The cluster's shared settings lists (remote nodes, routing rules), one row each in
//! `lightbox_lists` beside the index, so every node reads the same ones.

use super::PostgresIndex;
use crate::lists::SharedLists;

/// The advisory lock key of list updates ("LBOXLIST"), with the list's name hashed in.
const LIST_LOCK: i32 = 0x4c42_4f58;

impl SharedLists for PostgresIndex {
    fn read_list(&self, name: &str) -> Result<Option<String>, String> {
        self.read(|c| {
            c.query_opt("SELECT items FROM lightbox_lists WHERE name = $1", &[&name])?
                .map(|row| row.try_get(0))
                .transpose()
        })
        .map_err(|e| e.to_string())
    }

    fn update_list(
        &self,
        name: &str,
        change: &mut (dyn FnMut(Option<String>) -> Option<String> + Send),
    ) -> Result<(), String> {
        self.read(|c| {
            let mut tx = c.transaction()?;
            // Writers of one list one at a time, the first of them too (no row to lock yet).
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&LIST_LOCK, &name],
            )?;
            let current: Option<String> = tx
                .query_opt("SELECT items FROM lightbox_lists WHERE name = $1", &[&name])?
                .map(|row| row.try_get(0))
                .transpose()?;
            if let Some(items) = change(current) {
                tx.execute(
                    "INSERT INTO lightbox_lists (name, items) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET items = EXCLUDED.items",
                    &[&name, &items],
                )?;
            }
            tx.commit()
        })
        .map_err(|e| e.to_string())
    }
}
