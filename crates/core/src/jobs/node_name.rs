//! A node's name in a cluster: who runs a job, whose lease ran out.

use std::path::Path;

/// `LIGHTBOX_NODE_NAME`, else the host's name and a short ID kept in the data directory
/// (`node-id`), made on first use: the same across restarts (so a node that restarts takes its
/// own interrupted jobs back at once) and different for two data directories on one host.
pub fn node_name(data_dir: &Path) -> String {
    if let Some(name) = std::env::var("LIGHTBOX_NODE_NAME")
        .ok()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
    {
        return name;
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "lightbox".into());
    format!("{host}-{}", node_id(data_dir))
}

fn node_id(data_dir: &Path) -> String {
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return id.to_string();
        }
    }
    let made = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
        ^ ((std::process::id() as u128) << 64);
    let id = format!("{:08x}", (made as u64 ^ (made >> 64) as u64) as u32);
    // Written once, before any claim: a failure leaves a name that holds for this run.
    if let Err(e) = std::fs::write(&path, &id) {
        tracing::warn!(path = %path.display(), error = %e, "cannot keep this node's ID");
    }
    id
}
