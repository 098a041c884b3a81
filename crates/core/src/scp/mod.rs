//! This node's own DIMSE services, over the store and the index: C-STORE into the store
//! (answered once the file is in place, indexed in the background), C-FIND over the index,
//! C-GET and C-MOVE of stored instances (to known nodes only). The networking crate's
//! [`DimseServer`] runs them.

pub mod find;
mod retrieve;

use crate::import::BackgroundIndexer;
use crate::nodes::Nodes;
use crate::store::Store;
use lightbox_net::dimse::server::{DimseServer, ServerConfig, Services};
use lightbox_net::sink::{Accepted, InstanceSink, Origin, Refused};
use std::path::PathBuf;
use std::sync::Arc;

pub use retrieve::{KnownNodes, StoredInstances};

/// Called with the Series Instance UID of each newly stored instance, after its response (so it
/// must be quick: the job engine's thumbnail follow-ups hang off it).
pub type OnStored = Arc<dyn Fn(&str) + Send + Sync>;

/// The storage service: received instances through the background indexer.
struct Storage {
    indexer: BackgroundIndexer,
    scratch: PathBuf,
    on_stored: Option<OnStored>,
}

impl InstanceSink for Storage {
    fn scratch_dir(&self) -> PathBuf {
        self.scratch.clone()
    }

    fn ingest(&self, file: tempfile::NamedTempFile, origin: &Origin) -> Result<Accepted, Refused> {
        self.indexer.accept(file, origin)
    }

    fn flush(&self) {
        self.indexer.flush();
    }

    fn acknowledged(&self, accepted: &Accepted) {
        if let (Some(series_uid), Some(hook), false) =
            (&accepted.series_uid, &self.on_stored, accepted.duplicate)
        {
            hook(series_uid);
        }
    }
}

/// This node's DIMSE listener at `address`, storing into `store`; `on_stored` hears of each
/// newly stored instance.
pub fn listener(
    address: &str,
    store: Arc<Store>,
    config: ServerConfig,
    on_stored: Option<OnStored>,
) -> std::io::Result<DimseServer> {
    DimseServer::bind(address, config, services(store, on_stored)?)
}

/// This node's services over `store`, for listeners of its own making (the plain and the TLS
/// port share one set, and so one indexer).
pub fn services(store: Arc<Store>, on_stored: Option<OnStored>) -> std::io::Result<Services> {
    let storage = Storage {
        indexer: BackgroundIndexer::start(store.clone())?,
        scratch: store.tmp_dir(),
        on_stored,
    };
    let services = Services {
        storage: Arc::new(storage),
        find: Some(Arc::new(find::IndexFind(store.index().clone()))),
        retrieve: Some(Arc::new(StoredInstances(store.clone()))),
        nodes: Some(Arc::new(KnownNodes(Nodes::new(store.root())))),
    };
    Ok(services)
}
